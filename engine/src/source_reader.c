/*
 * source_reader.c - the producing half of the target source: making
 * struct lines, and the reader thread that fills the bounded queue with
 * them.
 *
 * A line is parsed and counted when it is made, for an argument
 * (rp_source_add_arg) as for a line of a file. The reader cuts files into
 * lines, hands them to the queue in batches, waits while it is full, and
 * makes the notify call owed to a consumer that found it empty. The data
 * flow as a whole and the notify contract are described in source.c,
 * which holds the consumers' side.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source.h"

#define BATCH_MAX (64u << 10)	/* bytes the reader hands over at once */

/* Lines the reader has cut but not yet handed over. */
struct batch {
	struct line *head, **tail;
	size_t bytes;		/* sum of line.size */
	uint64_t count;		/* targets the lines expand to */
	uint64_t screened;	/* of them, excluded inside blocks */
};

/* ---- lines -------------------------------------------------------------- */

static struct line *line_alloc(const char *text, size_t len,
			       const char *reason)
{
	size_t rlen = reason ? strlen(reason) : 0;
	size_t size = sizeof(struct line) + len + 1 + rlen + 1;
	struct line *l = malloc(size);

	if (!l)
		return NULL;
	memset(l, 0, sizeof(*l));
	l->size = size;
	l->len = len;
	memcpy(l->text, text, len);
	l->text[len] = '\0';
	if (reason) {
		memcpy(l->text + len + 1, reason, rlen + 1);
		l->reason = l->text + len + 1;
	}
	return l;
}

#define NO_RESOLVE_REASON "a name, and -n (no_resolve) forbids resolving it"

int rp__line_make(const struct rp_source *s, const char *text,
		  size_t len, struct line **out, uint64_t *count)
{
	const struct rp__ports *ports = &s->ports;
	struct rp__spec spec;
	char reason[160];
	struct line *l;
	int r;

	*out = NULL;
	*count = 0;
	r = rp__target_parse(text, len, &spec, reason, sizeof(reason));
	if (!r && spec.kind == RP__SPEC_EMPTY)
		return 0;
	if (!r && s->no_resolve && !spec.family) {
		r = -EINVAL;
		snprintf(reason, sizeof(reason), "%s", NO_RESOLVE_REASON);
	}
	l = line_alloc(text + spec.off, spec.len, r ? reason : NULL);
	if (!l)
		return -ENOMEM;
	l->err = r;
	l->spec = spec;
	l->spec.off = 0;
	if (!r && spec.kind == RP__SPEC_URL) {
		/* offsets into the stored, trimmed text */
		l->spec.auth_off -= spec.off;
		l->spec.path_off -= spec.off;
	}
	*count = 1; /* bad line or no port: one result */
	if (!r && rp__spec_count(&spec, ports))
		*count = rp__spec_count(&spec, ports);
	l->count = *count;
	l->screened = *count > 1 ? rp__screen_skipped(s, l) : 0;
	*out = l;
	return 0;
}

struct line *rp__line_long(const char *prefix, size_t len,
			   const char *reason)
{
	struct line *l = line_alloc(prefix, len < QUOTE_MAX ? len : QUOTE_MAX,
				    reason);

	if (l) {
		l->too_long = true;
		l->err = -EINVAL;
		l->count = 1;
	}
	return l;
}

void rp__line_free_all(struct line *l)
{
	while (l) {
		struct line *next = l->next;

		free(l);
		l = next;
	}
}

/* ---- the reader thread -------------------------------------------------- */

static void set_error(struct rp_source *s, uint32_t file, int err)
{
	pthread_mutex_lock(&s->lock);
	if (!s->error) {
		s->error = err;
		s->error_file = file;
	}
	pthread_mutex_unlock(&s->lock);
}

/*
 * Makes the notify call owed to a waiting consumer, if any. Called with
 * the lock held; returns with it released. The call itself runs unlocked
 * but marked in progress, so that rp_source_set_notify() can wait for it.
 */
static void notify_unlock(struct rp_source *s)
{
	void (*fn)(void *) = s->notify;
	void *arg = s->notify_arg;

	if (!s->want_notify || !fn) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->want_notify = false;
	s->notifying = true;
	s->notify_calls++;
	s->notifier = pthread_self();
	pthread_mutex_unlock(&s->lock);
	fn(arg);
	pthread_mutex_lock(&s->lock);
	s->notifying = false;
	pthread_cond_broadcast(&s->notified);
	pthread_mutex_unlock(&s->lock);
}

/* Moves the batch to the queue, waiting for room. Returns 0, or -1 when
 * the source is being destroyed (the batch is freed). */
static int flush(struct rp_source *s, struct batch *b)
{
	if (!b->head)
		return 0;
	pthread_mutex_lock(&s->lock);
	while (!s->stop && s->queued && s->queued + b->bytes > QUEUE_MAX) {
		s->reader_waiting = true;
		pthread_cond_wait(&s->space, &s->lock);
	}
	s->reader_waiting = false;
	if (s->stop) {
		pthread_mutex_unlock(&s->lock);
		rp__line_free_all(b->head);
		return -1;
	}
	*s->tail = b->head;
	s->tail = b->tail;
	s->queued += b->bytes;
	add_count(&s->counted, b->count);
	add_count(&s->screened, b->screened);
	rp__source_fill(s);
	notify_unlock(s);
	b->head = NULL;
	b->tail = &b->head;
	b->bytes = 0;
	b->count = 0;
	b->screened = 0;
	return 0;
}

static int batch_add(struct batch *b, struct line *l, uint64_t count)
{
	if (!l)
		return -ENOMEM;
	*b->tail = l;
	b->tail = &l->next;
	b->bytes += l->size;
	b->count += count;
	b->screened += l->screened;
	return 0;
}

/* A complete line of len bytes in s->lbuf (its "\n" removed). A UTF-8
 * byte order mark before a file's first line (editors on Windows write
 * one) is not part of it. */
static int cut_line(struct rp_source *s, struct batch *b, uint32_t file,
		    uint64_t lineno, size_t len)
{
	const char *text = s->lbuf;
	struct line *l;
	uint64_t count;
	int r;

	if (lineno == 1 && len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		text += 3;
		len -= 3;
	}
	if (len && text[len - 1] == '\r')
		len--;
	if (len > RP__LINE_MAX) {
		l = rp__line_long(text, len, "line too long (max 1024 bytes)");
		count = 1;
		if (!l)
			return -ENOMEM;
	} else {
		r = rp__line_make(s, text, len, &l, &count);
		if (r || !l)
			return r;
	}
	l->file = file;
	l->lineno = lineno;
	return batch_add(b, l, count);
}

/*
 * Reads one file to its end, an error, or destroy. Lines go to the queue;
 * a partial line left by a read error is dropped. Returns -1 on destroy.
 */
static int read_file(struct rp_source *s, uint32_t file, int fd)
{
	struct pollfd pfd[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = s->stop_fd, .events = POLLIN },
	};
	struct batch b = { .tail = &b.head };
	uint64_t lineno = 0;
	size_t len = 0;
	bool skipping = false;	/* inside a line already reported long */
	int r = 0;

	for (;;) {
		const char *p, *end;
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (pfd[1].revents) {
			rp__line_free_all(b.head);
			return -1;
		}
		n = read(fd, s->rbuf, sizeof(s->rbuf));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = -errno;
			break;
		}
		if (!n) {
			if (len && !skipping)
				r = cut_line(s, &b, file, ++lineno, len);
			break;
		}
		for (p = s->rbuf, end = s->rbuf + n; p < end && !r;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t seg = (size_t)((nl ? nl : end) - p);

			if (!skipping && len + seg > sizeof(s->lbuf)) {
				/* report it now, keep no more of it */
				size_t more = len < QUOTE_MAX ? QUOTE_MAX - len
							      : 0;
				struct line *l;

				more = more < seg ? more : seg;
				memcpy(s->lbuf + len, p, more);
				l = rp__line_long(
				    s->lbuf, len + more,
				    "line too long (max 1024 bytes)");
				if (l) {
					l->file = file;
					l->lineno = ++lineno;
				}
				r = batch_add(&b, l, 1);
				skipping = true;
			} else if (!skipping) {
				memcpy(s->lbuf + len, p, seg);
				len += seg;
			}
			if (!nl)
				break;
			if (!skipping)
				r = cut_line(s, &b, file, ++lineno, len);
			len = 0;
			skipping = false;
			p = nl + 1;
			if (!r && b.bytes >= BATCH_MAX && flush(s, &b))
				return -1;
		}
		if (r)
			break;
		if (flush(s, &b))
			return -1;
	}
	if (r)
		set_error(s, file, r);
	return flush(s, &b);
}

static void *reader_main(void *arg)
{
	struct rp_source *s = arg;

	for (;;) {
		size_t i;
		int fd;

		pthread_mutex_lock(&s->lock);
		if (s->stop || s->next_file == s->nfiles)
			break;
		i = s->next_file++;
		fd = s->files[i].fd;
		pthread_mutex_unlock(&s->lock);

		if (read_file(s, (uint32_t)i, fd))
			return NULL; /* destroy closes what is left */
		close(fd);
		pthread_mutex_lock(&s->lock);
		s->files[i].fd = -1;
		pthread_mutex_unlock(&s->lock);
	}
	/* all input read: consumers waiting must learn it */
	s->reader_running = false;
	if (s->stop)
		pthread_mutex_unlock(&s->lock);
	else
		notify_unlock(s);
	return NULL;
}

int rp__reader_start(struct rp_source *s)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&s->reader, NULL, reader_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

