/*
 * source.c - the target source: target text in, rp_targets out, lazily.
 *
 * This module owns the public rp_source_* API: the argument list, the
 * files, the one reader thread, the bounded queue of parsed lines between
 * that thread and the consumers, the expansion of the line being produced
 * (an rp__iter over the port set, so a /8 costs no memory), and the
 * counters. The grammar itself lives in target.c. Making lines and the
 * reader thread are in source_reader.c; the state both halves share is in
 * source.h.
 *
 * Data flow. Arguments are parsed when added and produced first, in order.
 * Files are read in order by a reader thread (started by the first
 * rp_source_add_file(), restarted if a file is added after it finished):
 * it poll()s the file and an eventfd (so destroy can always wake it, even
 * on a silent pipe), read()s 64 KiB at a time, cuts lines, parses and
 * counts them, and hands them over in batches to a queue bounded to
 * QUEUE_MAX bytes (headers included); when the queue is full the reader
 * waits on a condition variable that consumers signal once they have
 * drained it to half. rp_source_next() never does I/O: with the queue
 * empty it returns 0 and remembers that a consumer is waiting; the reader
 * calls the notify function (without the lock held) after its next hand
 * over, or when it runs out of input.
 *
 * The notify function typically wakes an engine, and the application
 * frees that engine once rp_source_set_notify(s, NULL, NULL) has returned.
 * So the reader marks the call as in progress under the lock and
 * set_notify waits for a call in progress to return: the lock is not held
 * across the call (the function may well call rp_source_next()), and the
 * wait costs nothing but a flag when no call is running, which is nearly
 * always (notify is rare).
 *
 * Because lines are parsed and counted as they are queued, the total is
 * known as soon as the reader has reached the end of the last file.
 *
 * A hostname line ("example.test", "example.test:8080") is not resolved
 * here: it gives one target per port (its own, else each port of the list
 * in ascending order, like an address; none at all is the usual "no port"
 * INVALID), each with status NONE, addrlen 0, name = the hostname as
 * written (case kept, a trailing "." kept, without ":port") and port =
 * the port; the engine resolves it. The one exception: a 253-byte name
 * written with its trailing dot loses the dot, so that name never exceeds
 * the 253 bytes rp_target.name allows (it is the same DNS name). port is
 * only meaningful with name: it is 0 whenever name is NULL (addresses,
 * INVALID and ERROR targets), and name is set only on targets to probe.
 *
 * A URL line ("http://192.0.2.1:8080/x") is one target whatever the port
 * list says; its target also carries host (the URL's authority, as
 * written) and path (path and query, "/" if none). These are set for every
 * target of a URL line that parsed, and are NULL for every other target;
 * an https:// URL's target has tls = 1. A URL naming a host
 * ("http://example.test:8080/x") is also a name target: name =
 * "example.test", port = 8080 (80 if none, 443 for https), no address.
 *
 * Strings handed out in an rp_target (input, detail, host, path, name)
 * point into thread-local buffers: they stay valid until the same thread
 * calls rp_source_next() again, whichever source it calls, which is what
 * rp_pull_fn promises even when several engines on several threads pull
 * from one source.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ringprobe.h"
#include "abi.h"
#include "source.h"

static _Thread_local char tl_input[RP__LINE_MAX + 8];
static _Thread_local char tl_detail[512];
static _Thread_local char tl_host[RP__LINE_MAX + 1];
static _Thread_local char tl_path[RP__LINE_MAX + 2];	/* maybe "/" + "?q" */
static _Thread_local char tl_name[256];	/* at most 253 bytes */

static void set_msg(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

/* ---- the public API ----------------------------------------------------- */

/* Takes the order and shard options. Returns 0 or -EINVAL. */
static int order_opts(struct rp_source *s, const struct rp_source_opts *o,
		      char *err, size_t errlen)
{
	char msg[96];

	if (o->shards > 1 && o->shard >= o->shards) {
		snprintf(msg, sizeof(msg),
			 "shard %" PRIu32 " of %" PRIu32 ": want 0 to %" PRIu32,
			 o->shard, o->shards, o->shards - 1);
		set_msg(err, errlen, msg);
		return -EINVAL;
	}
	if (o->shuffle_window > RP__WINDOW_MAX) {
		set_msg(err, errlen, "shuffle window too large (max 16777216)");
		return -EINVAL;
	}
	if (o->shards > 1) {
		s->shards = o->shards;
		s->shard = o->shard;
	}
	s->shuffle = o->shuffle != 0;
	s->seed = o->seed;
	s->rng = rp__mix64(o->seed ^ 0x5eed5eed5eed5eedull);
	if (s->shuffle)
		s->win_cap = o->shuffle_window ? o->shuffle_window
					       : RP_SHUFFLE_WINDOW;
	return 0;
}

/* rp_source_opts as the first version had it. */
#define SOURCE_OPTS_V1 RP__END(struct rp_source_opts, scheme)

int rp_source_create_ex(struct rp_source **out,
			const struct rp_source_opts *opts, size_t opts_size,
			char *err, size_t errlen)
{
	struct rp_source_opts o;
	struct rp_source *s;
	int r;

	set_msg(err, errlen, "");
	if (!out)
		return -EINVAL;
	if (opts) { /* another version's struct: what both know */
		r = rp__struct_in(&o, sizeof(o), opts, opts_size,
				  SOURCE_OPTS_V1);
		if (r < 0) {
			set_msg(err, errlen, r == -E2BIG
					     ? "options set a field this library "
					       "does not know"
					     : "not an rp_source_opts");
			return r;
		}
		opts = &o;
	}
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		set_msg(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->shards = 1;
	s->win_cap = 1;
	if (opts) {
		s->scheme = opts->scheme;
		s->skip_first = opts->skip_first;
		s->skip = opts->skip;
		s->skip_arg = opts->skip_arg;
		s->gone = opts->gone;
		s->no_resolve = opts->no_resolve;
		r = opts->ports ? rp__ports_parse(&s->ports, opts->ports, err,
						  errlen)
				: 0;
		if (!r)
			r = order_opts(s, opts, err, errlen);
		/* top ports and excluded ports change the port set: before
		 * its index is built */
		if (!r)
			r = rp__screen_setup(s, opts, err, errlen);
		if (r) {
			free(s);
			return r;
		}
	}
	rp__ports_index_init(&s->pidx, &s->ports);
	s->win = calloc(s->win_cap, sizeof(*s->win));
	s->stop_fd = s->win ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
	if (s->stop_fd < 0) {
		r = s->win ? -errno : -ENOMEM;
		set_msg(err, errlen, strerror(-r));
		free(s->win);
		free(s);
		return r;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->space, NULL);
	pthread_cond_init(&s->notified, NULL);
	s->args_tail = &s->args;
	s->tail = &s->head;
	*out = s;
	return 0;
}

int(rp_source_create)(struct rp_source **out, const struct rp_source_opts *opts,
		      char *err, size_t errlen)
{
	return rp_source_create_ex(out, opts, SOURCE_OPTS_V1, err, errlen);
}

void rp_source_destroy(struct rp_source *s)
{
	uint64_t one = 1;
	bool join;
	size_t i;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->space);
	join = s->reader_joinable;
	pthread_mutex_unlock(&s->lock);
	if (write(s->stop_fd, &one, sizeof(one)) < 0) {
		/* cannot fail: the counter is far from overflowing */
	}
	if (join)
		pthread_join(s->reader, NULL);

	for (i = 0; i < s->nfiles; i++) {
		if (s->files[i].fd >= 0)
			close(s->files[i].fd);
		free(s->files[i].name);
	}
	free(s->files);
	rp__line_free_all(s->args);
	rp__line_free_all(s->head);
	for (uint32_t w = 0; w < s->nwin; w++)
		free(s->win[w]);
	free(s->win);
	close(s->stop_fd);
	pthread_cond_destroy(&s->notified);
	pthread_cond_destroy(&s->space);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int rp_source_add_arg(struct rp_source *s, const char *text)
{
	size_t len;
	struct line *l;
	uint64_t count = 1;
	int r = 0;

	if (!s || !text)
		return -EINVAL;
	len = strlen(text);
	pthread_mutex_lock(&s->lock);
	if (len > RP__LINE_MAX) {
		l = rp__line_long(text, len,
				  "argument too long (max 1024 bytes)");
		if (!l)
			r = -ENOMEM;
	} else {
		r = rp__line_make(s, text, len, &l, &count);
	}
	if (!r) {
		s->nargs++; /* blank arguments are numbered too */
		if (l) {
			l->file = ARG_FILE;
			l->lineno = s->nargs;
			*s->args_tail = l;
			s->args_tail = &l->next;
			add_count(&s->counted, count);
			add_count(&s->screened, l->screened);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int rp_source_add_file(struct rp_source *s, const char *path)
{
	bool stdin_ = path && !strcmp(path, "-");
	bool start, join;
	char *name;
	int fd, r;

	if (!s || !path)
		return -EINVAL;
	/* stdin is dup'ed so that the source owns (and closes) its fd */
	fd = stdin_ ? fcntl(0, F_DUPFD_CLOEXEC, 3) :
		      open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	name = strdup(stdin_ ? "<stdin>" : path);
	if (!name) {
		close(fd);
		return -ENOMEM;
	}

	pthread_mutex_lock(&s->lock);
	if (s->nfiles == s->files_cap) {
		size_t cap = s->files_cap ? 2 * s->files_cap : 4;
		struct file *f = NULL;

		if (cap < UINT32_MAX)
			f = realloc(s->files, cap * sizeof(*f));
		if (!f) {
			pthread_mutex_unlock(&s->lock);
			free(name);
			close(fd);
			return -ENOMEM;
		}
		s->files = f;
		s->files_cap = cap;
	}
	s->files[s->nfiles].name = name;
	s->files[s->nfiles].fd = fd;
	s->nfiles++;
	/* a running reader takes the new file when it gets there */
	start = !s->reader_running;
	join = start && s->reader_joinable;
	if (start) {
		s->reader_running = true;
		s->reader_joinable = false;
	}
	pthread_mutex_unlock(&s->lock);
	if (!start)
		return 0;

	if (join)
		pthread_join(s->reader, NULL); /* it has finished */
	r = rp__reader_start(s);
	pthread_mutex_lock(&s->lock);
	if (r) {
		/* no reader took it: it is still the last, untaken file */
		s->nfiles--;
		s->reader_running = false;
	} else {
		s->reader_joinable = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (r) {
		free(name);
		close(fd);
	}
	return r;
}

void rp_source_set_notify(struct rp_source *s, void (*fn)(void *), void *arg)
{
	uint64_t call;

	pthread_mutex_lock(&s->lock);
	s->notify = fn;
	s->notify_arg = arg;
	/*
	 * Calls starting from now take fn. One that took the old function
	 * may still be running: wait until it returns (or another starts,
	 * which means it has returned). Not from inside that call, on the
	 * reader thread: it would wait for itself.
	 */
	call = s->notify_calls;
	while (s->notifying && s->notify_calls == call &&
	       !pthread_equal(s->notifier, pthread_self()))
		pthread_cond_wait(&s->notified, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

/* Where a line came from: "FILE:LINE" or "argument N". Lock held. */
static void where(const struct rp_source *s, const struct line *l, char *buf,
		  size_t n)
{
	if (l->file == ARG_FILE)
		snprintf(buf, n, "argument %" PRIu64, l->lineno);
	else
		snprintf(buf, n, "%.200s:%" PRIu64, s->files[l->file].name,
			 l->lineno);
}

/* Pops the next argument or queued line, or NULL. Lock held. */
static struct line *pop(struct rp_source *s)
{
	struct line *l = s->args;

	if (l) {
		s->args = l->next;
		if (!s->args)
			s->args_tail = &s->args;
		return l;
	}
	l = s->head;
	if (!l)
		return NULL;
	s->head = l->next;
	if (!s->head)
		s->tail = &s->head;
	s->queued -= l->size;
	if (s->reader_waiting && s->queued <= QUEUE_MAX / 2)
		pthread_cond_signal(&s->space);
	return l;
}

/* Input text, and host and path for a URL line, of a target from the
 * good line l. */
static void set_text(const struct line *l, struct rp_target *t)
{
	memcpy(tl_input, l->text, l->len + 1);
	t->input = tl_input;
	if (l->spec.kind != RP__SPEC_URL)
		return;
	memcpy(tl_host, l->text + l->spec.auth_off, l->spec.auth_len);
	tl_host[l->spec.auth_len] = '\0';
	t->host = tl_host;
	t->path = rp__spec_path(&l->spec, l->text, tl_path, sizeof(tl_path));
}

/* Name and port of a target from the good line l naming a host (a
 * hostname, or a URL with one), to be resolved by the engine. */
static void set_name(const struct line *l, struct rp_target *t, int port)
{
	size_t off = l->spec.kind == RP__SPEC_URL ? l->spec.auth_off : 0;
	size_t n = l->spec.host_len;

	/* 253 bytes plus a trailing dot: drop the dot to fit the limit */
	if (n > 253 && l->text[off + n - 1] == '.')
		n--;
	if (n > sizeof(tl_name) - 1)
		n = sizeof(tl_name) - 1; /* cannot happen: the parser caps it */
	memcpy(tl_name, l->text + off, n);
	tl_name[n] = '\0';
	t->name = tl_name;
	t->port = (uint16_t)port;
}

/* Fills t as an INVALID target for line l. Lock held. */
static void make_invalid(struct rp_source *s, const struct line *l,
			 const char *reason, struct rp_target *t)
{
	char at[232], quote[QUOTE_MAX * 4 + 4];

	where(s, l, at, sizeof(at));
	if (l->too_long) {
		rp__escape(tl_input, sizeof(tl_input) - 3, l->text, l->len);
		strcat(tl_input, "...");
		snprintf(tl_detail, sizeof(tl_detail), "%s: %s", at, reason);
	} else {
		rp__escape(tl_input, sizeof(tl_input), l->text, l->len);
		rp__escape(quote, QUOTE_MAX + 1, l->text, l->len);
		snprintf(tl_detail, sizeof(tl_detail), "%s: %s: '%s'", at,
			 reason, quote);
	}
	t->status = RP_STATUS_INVALID;
	t->err = -EINVAL;
	t->input = tl_input;
	t->detail = tl_detail;
	s->invalid++;
}

/*
 * The ports of a line that names one address, when it has more than
 * RP__PORT_RUNS_ABOVE of them, are shuffled in RP__PORT_RUNS runs of
 * neighbouring ports: the runs in random order, each run's ports in turn
 * (-p 1-65535: 16 runs of 4096). Every probe goes to that one host
 * whatever the order, so a finer shuffle spreads nothing, and the kernel
 * connects to neighbouring ports faster: a fully shuffled
 * -p 1-65535 127.0.0.1 took 1.27x the time of input order, in runs 1.004x
 * (perf/order/ab.sh). Sixteen runs keep the order random (16! of them)
 * for any port count. Lines of many addresses stay shuffled target by
 * target. See docs/DESIGN.md, "Runs of ports on one address".
 */
#define RP__PORT_RUNS_ABOVE 4096
#define RP__PORT_RUNS 16

void rp__source_fill(struct rp_source *s)
{
	struct line *l;

	while (s->nwin < s->win_cap && (l = pop(s))) {
		uint32_t nports = l->spec.port ? 1 : s->pidx.count;

		l->base = s->next_base;
		s->next_base += l->count;
		l->run = 1;
		l->span = l->count;
		if (s->shuffle && !l->err && l->count == nports &&
		    nports > RP__PORT_RUNS_ABOVE) {
			l->run = (uint32_t)((l->count + RP__PORT_RUNS - 1) /
					    RP__PORT_RUNS);
			l->span = (uint64_t)l->run * RP__PORT_RUNS;
		}
		if (s->shuffle && l->count > 1)
			rp__perm_init(&l->perm, l->span / l->run,
				      rp__mix64(s->seed ^ rp__mix64(l->base)));
		s->win[s->nwin++] = l;
	}
}

/* The target (in input order) at the next position of l, or l->count
 * for a position past the end of its last run. */
static uint64_t draw(const struct rp_source *s, struct line *l)
{
	uint64_t k = l->taken++;

	if (!s->shuffle || l->count <= 1)
		return k;
	k = rp__perm_at(&l->perm, k / l->run) * l->run + k % l->run;
	return k < l->count ? k : l->count;
}

/* Fills t with target k (in input order) of line l: returns false when
 * it is to be skipped (an excluded address or port inside a block;
 * counted by rp__screen()). Lock held. */
static bool make_target(struct rp_source *s, const struct line *l,
			uint64_t k, struct rp_target *t)
{
	struct rp__iter it;
	char reason[160];
	int port;

	t->index = l->base + k;
	if (l->err) {
		make_invalid(s, l, l->reason, t);
		return true;
	}
	if (rp__iter_init(&it, &l->spec, &s->ports, reason, sizeof(reason))) {
		/* no port, and the top ports could not be read */
		make_invalid(s, l, s->noport[0] && !l->spec.port &&
					   !s->ports.count
				   ? s->noport : reason, t);
		return true;
	}
	port = rp__spec_at(&l->spec, &s->ports, &s->pidx, k, &t->addr,
			   &t->addrlen);
	set_text(l, t);
	if (!l->spec.family)
		set_name(l, t, port);
	t->tls = l->spec.kind == RP__SPEC_URL
			 ? l->spec.scheme == RP__SCHEME_HTTPS
			 : rp__ports_tls(&s->ports, port, s->scheme);
	return !rp__screen(s, l, port, t);
}

/* Whether the target just made is left out (rp_source_opts.skip_first,
 * .skip: resuming). Lock held. */
static bool skipped(struct rp_source *s, const struct rp_target *t)
{
	if (t->seq >= s->skip_first &&
	    !(s->skip && s->skip(s->skip_arg, t)))
		return false;
	if (t->status == RP_STATUS_INVALID)
		s->invalid--; /* counted by make_invalid(): not produced */
	return true;
}

/*
 * The next target, into the library's own struct. Targets are drawn from
 * the window: a random line, and its next target in the line's own
 * permutation. Position pos in that sequence is the target's seq; shard I
 * of N takes the positions I, I + N, ...
 */
static int next_full(void *source, struct rp_target *t)
{
	struct rp_source *s = source;
	struct line *l;
	uint32_t j;
	uint64_t k, pos;
	bool keep;
	int r;

	if (!s || !t)
		return -1;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		bool more = s->reader_running || s->next_file < s->nfiles;

		rp__source_fill(s);
		/* a partial window would make the order depend on timing */
		if (!s->nwin || (s->nwin < s->win_cap && more)) {
			s->want_notify = more;
			r = more ? 0 : -1;
			break;
		}
		j = s->nwin > 1 ? rp__rand_below(&s->rng, s->nwin) : 0;
		l = s->win[j];
		k = draw(s, l);
		keep = k < l->count;
		if (keep) {
			pos = s->pos++;
			keep = pos % s->shards == s->shard;
			if (!keep && s->gone && pos >= s->skip_first)
				s->gone(s->skip_arg, pos); /* another shard's */
		}
		if (keep) {
			memset(t, 0, sizeof(*t));
			keep = make_target(s, l, k, t);
			t->seq = pos;
			if (!keep && s->gone && pos >= s->skip_first)
				s->gone(s->skip_arg, pos); /* screened */
			keep = keep && !skipped(s, t);
		}
		if (l->taken == l->span) {
			s->win[j] = s->win[--s->nwin];
			free(l);
		}
		if (keep) {
			s->produced++;
			r = 1;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int rp_source_next_ex(void *source, struct rp_target *t, size_t t_size)
{
	struct rp_target full;
	int r;

	if (!t || t_size < RP__TARGET_V1)
		return -1;
	if (t_size >= sizeof(full)) { /* ours, or a newer header's */
		memset(t, 0, t_size);
		return next_full(source, t);
	}
	r = next_full(source, &full);
	memcpy(t, &full, t_size); /* an older header's: what both know */
	return r;
}

int(rp_source_next)(void *source, struct rp_target *t)
{
	return rp_source_next_ex(source, t, RP__TARGET_V1);
}

/* The counters are read under the lock; the struct is never really const
 * (it is always allocated by rp_source_create). */
static struct rp_source *locked(const struct rp_source *s)
{
	struct rp_source *m = (struct rp_source *)s;

	pthread_mutex_lock(&m->lock);
	return m;
}

uint64_t rp_source_produced(const struct rp_source *s)
{
	struct rp_source *m = locked(s);
	uint64_t v = m->produced;

	pthread_mutex_unlock(&m->lock);
	return v;
}

int64_t rp_source_total(const struct rp_source *s)
{
	struct rp_source *m = locked(s);
	int64_t v = -1;

	uint64_t n = m->counted;

	/* this shard's: positions shard, shard + shards, ... below n */
	n = n > m->shard ? (n - m->shard - 1) / m->shards + 1 : 0;
	/* less what exclusion skips in blocks: exact for the whole (known
	 * as lines are parsed) and once every position is drawn (counted
	 * as skipped), a shard's share of it until then */
	if (m->shards == 1)
		n -= m->screened < n ? m->screened : n;
	else if (m->pos == m->counted)
		n -= m->excluded < n ? m->excluded : n;
	else
		n -= m->screened / m->shards < n ? m->screened / m->shards : n;
	if (!m->reader_running && m->next_file == m->nfiles)
		v = n > INT64_MAX ? INT64_MAX : (int64_t)n;
	pthread_mutex_unlock(&m->lock);
	return v;
}

uint64_t rp_source_invalid(const struct rp_source *s)
{
	struct rp_source *m = locked(s);
	uint64_t v = m->invalid;

	pthread_mutex_unlock(&m->lock);
	return v;
}

uint64_t rp_source_excluded(const struct rp_source *s)
{
	struct rp_source *m = locked(s);
	uint64_t v = m->excluded;

	pthread_mutex_unlock(&m->lock);
	return v;
}

int rp_source_error(const struct rp_source *s)
{
	struct rp_source *m = locked(s);
	int v = m->error;

	pthread_mutex_unlock(&m->lock);
	return v;
}

const char *rp_source_error_file(const struct rp_source *s)
{
	struct rp_source *m = locked(s);
	/* names are never freed before the source: safe to hand out */
	const char *v = m->error ? m->files[m->error_file].name : NULL;

	pthread_mutex_unlock(&m->lock);
	return v;
}
