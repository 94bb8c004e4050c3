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

#include "ringprobe.h"
#include "exclude.h"
#include "order.h"
#include "target.h"

#define QUEUE_MAX (1u << 20)	/* bytes of queued lines with headers */
#define READ_SIZE (64u << 10)	/* bytes per read(2) */
#define QUOTE_MAX 64		/* bytes of a bad line quoted in a detail */
#define ARG_FILE UINT32_MAX	/* struct line.file of an argument */
#define RP__WINDOW_MAX (1u << 24)	/* largest shuffle window, lines */

/* One non-empty line or argument, parsed, waiting to be produced. */
struct line {
	struct line *next;
	uint32_t file;		/* index in files[], or ARG_FILE */
	uint64_t lineno;	/* 1-based line, or argument number */
	int err;		/* 0, or -EINVAL with reason set */
	bool too_long;		/* over RP__LINE_MAX: text is a prefix */
	struct rp__spec spec;	/* spec.off is 0: text is trimmed */
	size_t size;		/* bytes charged to the queue */
	uint64_t count;		/* targets it gives (1 if bad) */
	uint64_t screened;	/* of them, excluded inside a block */
	uint64_t base;		/* index of its first target (set when it
				 * enters the window) */
	uint64_t taken;		/* positions of span drawn so far */
	uint64_t span;		/* positions to draw: count, or whole runs */
	uint32_t run;		/* targets per run drawn together (1: each
				 * alone); see rp__source_fill() */
	struct rp__perm perm;	/* the order the runs are taken in */
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
	/* read-only after create too (source_screen.c) */
	const struct rp_exclude *exclude; /* rp_source_opts.exclude */
	struct rp__ports xports;	/* rp_source_opts.exclude_ports */
	char noport[320];		/* why a target has no port, when the
					 * top ports could not be read; or "" */
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

	/* The window (source.c): lines taken from args and the queue in
	 * input order, each target drawn from a line picked at random. */
	struct line **win;
	uint32_t nwin, win_cap;		/* lines in it, lines it holds */
	bool shuffle;			/* rp_source_opts.shuffle */
	uint64_t seed;			/* rp_source_opts.seed */
	uint64_t rng;			/* the picks' generator state */
	uint64_t next_base;		/* index of the next line's first
					 * target */
	uint64_t pos;			/* targets drawn, every shard's */
	uint32_t shard, shards;		/* ours, of how many (>= 1) */
	struct rp__ports_index pidx;	/* random access to ports */

	void (*notify)(void *);
	void *notify_arg;
	bool want_notify;		/* next returned 0 since last notify */
	bool notifying;			/* the reader is in a notify call */
	uint64_t notify_calls;		/* notify calls started */
	pthread_t notifier;		/* the thread making it */
	pthread_cond_t notified;	/* a notify call has returned */

	uint64_t produced;		/* targets produced */
	uint64_t skip_first;		/* rp_source_opts: resuming */
	int (*skip)(void *, const struct rp_target *);
	void *skip_arg;
	void (*gone)(void *, uint64_t);
	uint64_t invalid;		/* INVALID targets produced */
	uint64_t excluded;		/* block targets skipped (excluded) */
	struct rp__exclude_cache xcache; /* the lookups of rp__screen() */
	uint64_t counted;		/* targets of every line parsed */
	uint64_t screened;		/* of them, excluded inside blocks
					 * (rp__screen_skipped()) */
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
int rp__line_make(const struct rp_source *s, const char *text,
		  size_t len, struct line **out, uint64_t *count);

/* A line over the limit: keeps a prefix of it for the input text. */
struct line *rp__line_long(const char *prefix, size_t len,
			   const char *reason);

void rp__line_free_all(struct line *l);

/* ---- exclusion and the port set (source_screen.c) ---- */

/* Sets up the port set's additions (top ports) and removals (exclude
 * ports), and the exclude list, from o. Returns 0 or -errno with a
 * message in err. */
int rp__screen_setup(struct rp_source *s, const struct rp_source_opts *o,
		     char *err, size_t errlen);

/* How many of the count targets of the good line l are skipped as
 * excluded (a block's excluded addresses, or its excluded own port). */
uint64_t rp__screen_skipped(const struct rp_source *s, const struct line *l);

/* The target t, just expanded from the good line l: returns true if it
 * is to be skipped (excluded, inside a block; counted), else false, with
 * t made EXCLUDED if it is a single target that is excluded. Lock held. */
bool rp__screen(struct rp_source *s, const struct line *l, int port,
		struct rp_target *t);
/* Takes lines into the window, in input order, until it is full or none
 * is queued: called by consumers, and by the reader as it queues lines so
 * that a window fills without waiting for consumers. Lock held. */
void rp__source_fill(struct rp_source *s);

/* Starts the reader with every signal blocked: signals are the
 * application's business, on its own threads. Returns 0 or -errno. */
int rp__reader_start(struct rp_source *s);

#endif /* RP_SOURCE_H */
