/*
 * source.h - what the two halves of the target source share (internal to
 * libringprobe): struct rp_source, the parsed lines it queues, and the
 * calls between source.c (the public rp_source_* API and the consumers'
 * side) and source_reader.c (making lines, and the reader thread that
 * fills the queue with them).
 */
#ifndef RP_SOURCE_H
#define RP_SOURCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target.h"

#define QUEUE_MAX (1u << 20)	/* bytes of queued lines with headers */
#define READ_SIZE (64u << 10)	/* bytes per read(2) */
#define QUOTE_MAX 64		/* bytes of a bad line quoted in a detail */
#define ARG_FILE UINT32_MAX	/* struct line.file of an argument */

/* One non-empty line or argument, parsed, waiting to be produced. */
struct line {
	struct line *next;
	uint32_t file;		/* index in files[], or ARG_FILE */
	uint64_t lineno;	/* 1-based line, or argument number */
	int err;		/* 0, or -EINVAL with reason set */
	bool too_long;		/* over RP__LINE_MAX: text is a prefix */
	struct rp__spec spec;	/* spec.off is 0: text is trimmed */
	size_t size;		/* bytes charged to the queue */
	const char *reason;	/* why it is bad, or NULL */
	size_t len;		/* bytes in text */
	char text[];		/* text, NUL, reason, NUL */
};

struct file {
	char *name;		/* for diagnostics: the path, or "<stdin>" */
	int fd;			/* ours (stdin is dup'ed); -1 once read */
};


struct rp_source {
	pthread_mutex_t lock;		/* guards everything below except
					 * the reader-only part */
	struct rp__ports ports;		/* read-only after create */
	int scheme;			/* rp_source_opts.scheme */
	bool no_resolve;		/* rp_source_opts.no_resolve */

	struct line *args, **args_tail;	/* arguments not yet produced */
	uint64_t nargs;			/* arguments added */

	struct file *files;
	size_t nfiles, files_cap;
	size_t next_file;		/* first file no reader has taken */
	bool reader_running;		/* a reader exists, not done */
	bool reader_joinable;		/* s->reader is to be joined */
	pthread_t reader;
	int stop_fd;			/* eventfd: wakes the reader */
	bool stop;			/* destroy has begun */
	bool reader_waiting;		/* the reader waits for space */
	pthread_cond_t space;		/* the queue has drained */

	struct line *head, **tail;	/* lines read, not yet produced */
	size_t queued;			/* bytes in that queue */

	struct line *cur;		/* the line being expanded */
	struct rp__iter it;		/* its position */

	void (*notify)(void *);
	void *notify_arg;
	bool want_notify;		/* next returned 0 since last notify */
	bool notifying;			/* the reader is in a notify call */
	uint64_t notify_calls;		/* notify calls started */
	pthread_t notifier;		/* the thread making it */
	pthread_cond_t notified;	/* a notify call has returned */

	uint64_t produced;		/* targets produced */
	uint64_t invalid;		/* INVALID targets produced */
	uint64_t counted;		/* targets of every line parsed */
	int error;			/* first read error, or 0 */
	uint32_t error_file;		/* the file it was in (files[]) */

	/* reader-only (one reader at a time) */
	char rbuf[READ_SIZE];
	char lbuf[RP__LINE_MAX + 1];	/* the line, maybe with its CR */
};

static inline void add_count(uint64_t *counted, uint64_t n)
{
	*counted = *counted + n < *counted ? UINT64_MAX : *counted + n;
}

/*
 * Parses one line (text[0, len), at most RP__LINE_MAX bytes) into a new
 * struct line, and says how many targets it will produce. *out is NULL for
 * a blank or comment line. With no_resolve, a line naming a host (a
 * hostname, or a URL with one) is an invalid line. Returns 0 or -ENOMEM.
 */
int rp__line_make(const struct rp__ports *ports, bool no_resolve,
		  const char *text, size_t len, struct line **out,
		  uint64_t *count);

/* A line over the limit: keeps a prefix of it for the input text. */
struct line *rp__line_long(const char *prefix, size_t len,
			   const char *reason);

void rp__line_free_all(struct line *l);

/* Starts the reader with every signal blocked: signals are the
 * application's business, on its own threads. Returns 0 or -errno. */
int rp__reader_start(struct rp_source *s);

#endif /* RP_SOURCE_H */
