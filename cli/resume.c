/*
 * resume.c - `--resume FILE`: the state of a run, kept in FILE, and the
 * continuing of a run from it (the API is in resume.h).
 *
 * What is done. Every target the source makes has a sequence number
 * (rp_target.seq, echoed in rp_result.seq). A number is done once its
 * record is in -o (scan.c reports it from the writer's after-write hook,
 * with the output lock still held) or once its result was left out of -o
 * (--open, --match-status, ...). Cancelled results (Ctrl-C) are neither
 * written nor done: the resumed run probes them. The numbers done form a
 * watermark W (every number below is done) and a bitmap of those above
 * it, a ring of 64-bit words that moves up with W: memory follows the
 * spread of the numbers in flight, not the size of the scan.
 *
 * The state file, text, one item per line:
 *
 *     ringprobe-resume 2
 *     opt <key> TAB <value>          the fingerprint (resume_fp.c)
 *     seed <N>
 *     output-bytes <N>               the size of -o when this was taken
 *     next <W>
 *     done <A>-<B>,<C>,...           numbers above W that are done
 *     skip-index <I>,<J>,...         indexes done whose numbers are not
 *                                    known yet (records an earlier run
 *                                    wrote after its last state)
 *     complete 0|1
 *     end
 *
 * is written at most once a second (resume_tick(), from the main thread)
 * and at the end, as a new file that is fsync'ed and renamed over the old
 * one, so FILE is always one whole state. -o is fdatasync'ed first: the
 * records a state counts are on disk before it is.
 *
 * Why a kill -9 at any moment loses and repeats nothing: the size of -o
 * and the numbers done are read together with the output lock held, and
 * a number is marked done under that same lock as its record is written;
 * so every record before output-bytes is counted by the state, and every
 * record after it was written later. Continuing, resume_open() reads the
 * records after output-bytes (resume_tail.c: their indexes are done too,
 * and a torn last one is cut off), and the source skips everything below
 * W, the numbers listed in `done`, and the indexes read from the tail.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "resume.h"
#include "util.h"

#define TICK_NS 1000000000ull

static void mark(struct resume *r, uint64_t seq)
{
	if (!r->broken && track_set(&r->track, seq) < 0) {
		r->broken = true;
		fprintf(stderr, "%s: out of memory: the state in '%s' is no "
			"longer kept (its last one still holds)\n", prog,
			r->path);
	}
}

void resume_done(struct resume *r, const uint64_t *seq, size_t n)
{
	if (!n)
		return;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < n; i++)
		mark(r, seq[i]);
	pthread_mutex_unlock(&r->lock);
}

/* ---- skipping what was done -------------------------------------------- */

/* Where x is in the sorted v[n], or -1. */
static ssize_t find(const uint64_t *v, size_t n, uint64_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] == x)
			return (ssize_t)mid;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* rp_source_opts.skip: called with the source's lock held, for every
 * number from the state's watermark on. Done: the numbers the state
 * listed (already in track) and the indexes of the records after the
 * state's output-bytes (tail). */
static int skip(void *arg, const struct rp_target *t)
{
	struct resume *r = arg;
	bool done;
	ssize_t i;

	if (t->seq >= r->loaded_top && !r->ntail)
		return 0;
	pthread_mutex_lock(&r->lock);
	done = track_has(&r->track, t->seq);
	if (!done && (i = find(r->tail, r->ntail, t->index)) >= 0) {
		r->tail_used[i] = 1;
		mark(r, t->seq);
		done = true;
	}
	r->before += done;
	pthread_mutex_unlock(&r->lock);
	return done;
}

/* A position that gives this run no target (another shard's, or an
 * address excluded inside a block) is done as soon as it is drawn, or the
 * watermark would stop at it. */
static void gone(void *arg, uint64_t seq)
{
	struct resume *r = arg;

	pthread_mutex_lock(&r->lock);
	mark(r, seq);
	pthread_mutex_unlock(&r->lock);
}

void resume_source_opts(struct resume *r, struct rp_source_opts *so)
{
	so->skip_first = r->next;
	so->skip = skip;
	so->gone = gone;
	so->skip_arg = r;
}

/* ---- writing the state ------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The indexes of the tail not yet skipped: a state must keep them, as
 * their records are before its output-bytes. Caller holds r->lock. */
static void kept_lines(const struct resume *r, struct sbuf *b)
{
	int n = 0;

	for (size_t i = 0; i < r->ntail; i++) {
		if (r->tail_used[i])
			continue;
		sb_printf(b, "%s%" PRIu64, n ? "," : "skip-index ", r->tail[i]);
		if (++n == 256) {
			sb_printf(b, "\n");
			n = 0;
		}
	}
	if (n)
		sb_printf(b, "\n");
}

int resume_save(struct resume *r, pthread_mutex_t *out_lock, bool complete)
{
	struct sbuf b = { 0 };
	struct stat st;
	int ret = 0;

	pthread_mutex_lock(out_lock);
	if (fstat(r->fd, &st) < 0)
		ret = -errno;
	pthread_mutex_lock(&r->lock);
	if (!ret && !r->broken) {
		sb_printf(&b, "%soutput-bytes %" PRIu64 "\nnext %" PRIu64 "\n",
			  r->head, (uint64_t)st.st_size, r->track.w);
		track_lines(&r->track, &b);
		kept_lines(r, &b);
		sb_printf(&b, "complete %d\nend\n", complete);
		r->saved_changes = r->track.changes;
	}
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_unlock(out_lock);
	r->last_save_ns = mono_ns();
	if (r->broken)
		return 0;
	if (!ret && b.oom)
		ret = -ENOMEM;
	if (!ret && fdatasync(r->fd) < 0)
		ret = -errno;
	if (!ret)
		ret = state_write(r->path, b.s, b.len);
	free(b.s);
	if (ret < 0)
		fprintf(stderr, "%s: cannot write the state to '%s': %s\n",
			prog, r->path, strerror(-ret));
	return ret;
}

void resume_tick(struct resume *r, pthread_mutex_t *out_lock)
{
	uint64_t changes;

	if (mono_ns() - r->last_save_ns < TICK_NS)
		return;
	pthread_mutex_lock(&r->lock);
	changes = r->track.changes;
	pthread_mutex_unlock(&r->lock);
	if (changes != r->saved_changes)
		resume_save(r, out_lock, false);
	else
		r->last_save_ns = mono_ns();
}

/* ---- starting ---------------------------------------------------------- */

/* Opens -o: emptied for a new run, or its tail read to continue one. */
static int merge_kept(struct resume *r);

static int open_output(struct resume *r, const struct cli *c)
{
	struct stat st;
	int rc;

	r->fd = open(c->output, O_RDWR | O_APPEND | O_CLOEXEC |
					(r->appending ? 0 : O_CREAT), 0644);
	if (r->fd < 0) {
		fprintf(stderr, "%s: cannot %s '%s': %s\n", prog,
			r->appending ? "resume: cannot open" : "write",
			c->output, strerror(errno));
		return r->appending ? EXIT_USAGE : EXIT_RUNTIME;
	}
	if (flock(r->fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "%s: '%s' is in use by another run\n", prog,
			c->output);
		return EXIT_USAGE;
	}
	if (!r->appending)
		return ftruncate(r->fd, 0) < 0 ? EXIT_RUNTIME : EXIT_OK;
	if (fstat(r->fd, &st) < 0 || (uint64_t)st.st_size < r->out_bytes) {
		fprintf(stderr, "%s: cannot resume: '%s' is shorter than the "
			"state in '%s' says (%" PRIu64 " bytes): it was changed "
			"since\n", prog, c->output, r->path, r->out_bytes);
		return EXIT_USAGE;
	}
	rc = tail_read(r->fd, c->output, c->format == OUT_CSV, r->out_bytes,
		       &r->tail, &r->ntail);
	return rc == EXIT_OK ? merge_kept(r) : rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Adds the state's skip-index list to the tail's indexes (sorted, each
 * once), and marks the numbers the state listed as done. */
static int merge_kept(struct resume *r)
{
	size_t n = r->ntail + r->nkept, k = 0;
	uint64_t *v = realloc(r->tail, (n ? n : 1) * sizeof(*v));

	if (!v)
		return EXIT_RUNTIME;
	if (r->nkept)
		memcpy(v + r->ntail, r->kept, r->nkept * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < n; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	r->tail = v;
	r->ntail = k;
	r->tail_used = calloc(k ? k : 1, 1);
	return r->tail_used ? EXIT_OK : EXIT_RUNTIME;
}

/* The tracker, starting at the state's watermark with the numbers it
 * listed above it. */
static int load_track(struct resume *r)
{
	if (track_init(&r->track, r->next) < 0)
		return EXIT_RUNTIME;
	r->loaded_top = r->next;
	for (size_t i = 0; i < r->ndone; i++) {
		for (uint64_t s = r->done[i].lo; s <= r->done[i].hi; s++)
			if (track_set(&r->track, s) < 0)
				return EXIT_RUNTIME;
		r->loaded_top = r->done[i].hi + 1;
	}
	r->track.changes = 0;
	return EXIT_OK;
}

int resume_open(struct resume **out, const struct cli *c, const char *ports,
		int nargs, char **args, struct resume_order *ord, int *fd)
{
	struct fp f = { 0 };
	struct resume *r;
	int rc;

	*out = NULL;
	if (!c->output)
		return die_usage("--resume needs -o FILE: the results of a "
				 "resumed run are appended to it");
	if (c->format != OUT_JSONL && c->format != OUT_CSV)
		return die_usage("--resume needs -f jsonl or -f csv: the "
				 "records of other formats carry no index");
	if (c->eo.dns.all_addrs)
		return die_usage("--resume cannot be used with --all-addrs "
				 "(one target, several results)");
	r = calloc(1, sizeof(*r));
	if (!r)
		return EXIT_RUNTIME;
	r->fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	r->path = strdup(c->resume);
	rc = r->path ? fp_build(&f, c, ports, nargs, args, ord) : EXIT_RUNTIME;
	if (rc == EXIT_OK)
		rc = state_load(r, &f, ord);
	if (rc == EXIT_OK && !(r->head = state_head(&f, ord)))
		rc = EXIT_RUNTIME;
	fp_free(&f);
	if (rc == EXIT_OK && !r->complete)
		rc = open_output(r, c);
	if (rc == EXIT_OK)
		rc = load_track(r);
	if (rc != EXIT_OK) {
		if (r->fd >= 0)
			close(r->fd);
		resume_close(r);
		return rc;
	}
	r->before = r->next;
	r->last_save_ns = mono_ns();
	*fd = r->fd;
	*out = r;
	return EXIT_OK;
}

bool resume_appending(const struct resume *r)
{
	return r->appending;
}

bool resume_complete(const struct resume *r)
{
	return r->complete;
}

uint64_t resume_before(const struct resume *r)
{
	struct resume *m = (struct resume *)r;
	uint64_t v;

	pthread_mutex_lock(&m->lock);
	v = m->before;
	pthread_mutex_unlock(&m->lock);
	return v;
}

void resume_close(struct resume *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->track.bits);
	free(r->done);
	free(r->tail);
	free(r->tail_used);
	free(r->kept);
	free(r->head);
	free(r->path);
	free(r);
}

