/*
 * t_loop.h - the embedder's loop of ringprobe.h, taken literally from the
 * comment above rp_engine_fd():
 *
 *     submit targets until rp_engine_submit() returns -EAGAIN;
 *     wait until the fd is readable, at most rp_engine_timeout(e) ms;
 *     one rp_engine_run(e, 0) per wakeup (readable or timed out);
 *     stop when it returns 0 and every target is submitted.
 *
 * The fd is never read. The wait is also capped by cap_ms and by what is
 * left of bound_ms, so that a broken engine fails a test instead of hanging
 * it; a wait that ended at that cap rather than at the fd or at the
 * engine's own timeout is counted (cap_wakes): an engine that keeps the
 * contract never needs it.
 */
#ifndef T_LOOP_H
#define T_LOOP_H

#include <stdint.h>

#include "ringprobe.h"

enum t_wait {
	T_WAIT_EPOLL_LT = 0,          /* epoll, level-triggered */
	T_WAIT_EPOLL_ET,              /* epoll, edge-triggered */
	T_WAIT_POLL,                  /* poll(2) */
};

struct t_loop_stats {
	unsigned submitted;           /* targets accepted */
	unsigned again;               /* rp_engine_submit() said -EAGAIN */
	unsigned runs;                /* rp_engine_run() calls (= wakeups) */
	unsigned fd_wakes;            /* the fd was readable */
	unsigned timer_wakes;         /* the wait ended at rp_engine_timeout() */
	unsigned zero_waits;          /* rp_engine_timeout() said 0 */
	unsigned cap_wakes;           /* the wait ended at our cap: a stall */
	unsigned eintr;               /* a signal ended a wait: waited again */
	int last_run;                 /* the last rp_engine_run() result */
	uint64_t ms;                  /* wall clock of the whole loop */
};

/* Fills *t (zeroed before) for target i. */
typedef void (*t_make_fn)(void *arg, unsigned i, struct rp_target *t);

/*
 * Runs the loop for targets 0..count-1 built by make.
 * Returns 0 when rp_engine_run() returned 0 with every target submitted
 * (or refused with -ESHUTDOWN after rp_engine_stop()), -ETIMEDOUT when
 * bound_ms passed first, or the negative errno of a call that failed.
 * *st is filled in every case.
 */
int t_loop_run(struct rp_engine *e, unsigned count, t_make_fn make,
	       void *arg, enum t_wait how, int cap_ms, int bound_ms,
	       struct t_loop_stats *st);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t t_now_ms(void);

#endif /* T_LOOP_H */
