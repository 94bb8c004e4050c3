/*
 * resume.h - `--resume FILE`: what scan.c calls to keep a run's state in
 * FILE and to continue a run from it (resume.c), and what the parts of
 * resume share: the fingerprint of a run's options and inputs
 * (resume_fp.c) and the reading of the tail of -o (resume_tail.c).
 *
 * The state is a watermark in the source's sequence (every target
 * numbered below it has its result in -o, or was left out of -o by a
 * filter), the sequence numbers done above it, the size -o had when they
 * were, the seed, and the fingerprint. docs/DESIGN.md ("Resume") says why
 * a kill -9 at any moment loses and repeats nothing.
 */
#ifndef RP_CLI_RESUME_H
#define RP_CLI_RESUME_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan.h"

struct resume;

/* The order of the targets, which the state must keep: the seed (the
 * caller puts the seed it would use in seed, explicit says whether it came
 * from the command line) and the shard (shards 0: none). */
struct resume_order {
	bool explicit_seed;
	uint64_t seed;
	uint32_t shard, shards;
};

/*
 * Starts a run with --resume: refuses what cannot be resumed (no -o, a
 * format without the index, an input that cannot be read again,
 * --all-addrs), reads the state file if there is one and refuses a run
 * that differs from it (naming each difference), and opens -o: created
 * or emptied for a new run, or, to continue one, cut after its last whole
 * record and opened to append. ports is the port list the source gets.
 * With a state to continue, ord->seed becomes the state's seed.
 * Returns EXIT_OK with *out and *fd set, or an exit code after a message.
 */
int resume_open(struct resume **out, const struct cli *c, const char *ports,
		int nargs, char **args, struct resume_order *ord, int *fd);

/* True when continuing a run (-o is appended to: no CSV header). */
bool resume_appending(const struct resume *r);

/* True when the state says the run it was kept for is complete. */
bool resume_complete(const struct resume *r);

/* Targets done before this process started (the watermark plus those
 * above it the state or -o's tail have). */
uint64_t resume_before(const struct resume *r);

/* Sets skip_first, skip and skip_arg for the source. */
void resume_source_opts(struct resume *r, struct rp_source_opts *so);

/* Marks n sequence numbers done: their records are in -o (written with
 * out_lock held, the caller holding it still) or were filtered out. */
void resume_done(struct resume *r, const uint64_t *seq, size_t n);

/* Writes the state if a second has passed since the last write and
 * something changed. out_lock: the lock held around writes to -o. */
void resume_tick(struct resume *r, pthread_mutex_t *out_lock);

/* Writes the state now (at the end of a run; complete: every target is
 * done). Returns 0 or -errno after a message. */
int resume_save(struct resume *r, pthread_mutex_t *out_lock, bool complete);

/* Frees it (does not close -o: the caller does). */
void resume_close(struct resume *r);

/* ---- between resume*.c ------------------------------------------------- */

/* One fingerprint entry: what the user would call it, and its value. */
struct fp_item {
	char *key;
	char *val;
};

struct fp {
	struct fp_item *v;
	size_t n, cap;
};

/* Adds key = value (copied). Returns 0 or -ENOMEM. */
int fp_add(struct fp *f, const char *key, const char *val);

void fp_free(struct fp *f);

/* The fingerprint of the run c describes. Returns EXIT_OK, or an exit
 * code after a message (an input that is not a regular file). */
int fp_build(struct fp *f, const struct cli *c, const char *ports,
	     int nargs, char **args, const struct resume_order *ord);

/*
 * Reads -o (fd, at least from bytes on) for --resume: collects the index
 * of every whole record from offset from to the end into *idx (n in *nidx,
 * malloc'ed) and cuts a torn last record off the file.
 * Returns EXIT_OK, or an exit code after a message naming path.
 */
int tail_read(int fd, const char *path, bool csv, uint64_t from,
	      uint64_t **idx, size_t *nidx);

/* The version says which order of targets the state's numbers are in: 2
 * since one address's ports are drawn in runs (engine/src/source.c). */
#define STATE_MAGIC "ringprobe-resume 2"

/* Numbers done: all below w, and the bits set above (resume_track.c). */
struct track {
	uint64_t w;                   /* every number below is done */
	uint64_t base;                /* the number of bit 0 of word 0 */
	uint64_t top;                 /* 1 + the highest number done */
	uint64_t *bits;               /* a ring of nwords words ... */
	size_t nwords, head;          /* ... starting at bits[head] */
	uint64_t changes;
};

struct range {
	uint64_t lo, hi;              /* inclusive */
};

struct resume {
	char *path;
	int fd;                       /* -o */
	bool appending;
	bool complete;                /* the state loaded says so */
	char *head;                   /* the state's fingerprint lines */
	pthread_mutex_t lock;         /* guards track and before */
	struct track track;
	bool broken;                  /* out of memory: no more states */
	uint64_t before;              /* targets done before this run */
	uint64_t saved_changes;
	uint64_t last_save_ns;
	/* loaded: what to skip above the state's watermark */
	struct range *done;
	size_t ndone;
	uint64_t *tail;               /* indexes done, not yet skipped: read
	                               * from -o's tail, or kept by the state
	                               * from an earlier one (sorted) */
	size_t ntail;
	uint8_t *tail_used;           /* tail[i] was skipped: its number is
	                               * in track */
	uint64_t *kept;               /* the state's skip-index list */
	size_t nkept;
	uint64_t loaded_top;          /* 1 + the highest number loaded */
	uint64_t out_bytes, next;
};


/* A growing string; oom once an allocation failed. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};


__attribute__((format(printf, 2, 3)))
void sb_printf(struct sbuf *b, const char *fmt, ...);

/* The tracker (resume_track.c): starts with every number below w done;
 * track_set() returns 0 or -ENOMEM. */
int track_init(struct track *t, uint64_t w);
int track_set(struct track *t, uint64_t seq);
bool track_has(struct track *t, uint64_t seq);

/* The numbers done above t->w as "done A-B,C,..." lines. */
void track_lines(struct track *t, struct sbuf *b);

/* The state file (resume_state.c): the lines of the fingerprint and
 * seed (malloc'ed, NULL without memory); reading one into r (EXIT_OK,
 * r->appending set if there was one, or an exit code after a message);
 * writing text atomically to path (0 or -errno). */
char *state_head(const struct fp *f, const struct resume_order *ord);
int state_load(struct resume *r, const struct fp *f,
	       struct resume_order *ord);
int state_write(const char *path, const char *text, size_t len);

#endif
