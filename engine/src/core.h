/*
 * core.h - what the core's own files (engine.c, slot.c, admit.c, loop.c)
 * share and no stage needs: the slot table, admission, the loop's pieces.
 */
#ifndef RP_CORE_H
#define RP_CORE_H

#include <time.h>

#include "stage.h"

static inline uint64_t rp__clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* slot.c: the table of slots and their per-slot areas. */
int rp__slots_init(struct rp_engine *e, size_t dns_priv);
void rp__slots_release(struct rp_engine *e);
/* Takes the free slot at the head of the free list (nfree > 0). */
struct slot *rp__slot_take(struct rp_engine *e);
/* Starts a taken probe: resolves name first, or runs its first stage. */
void rp__begin(struct rp_engine *e, struct slot *s, const char *name);
/* Reports every PHASE_DONE slot. */
void rp__deliver_done(struct rp_engine *e);

/* Starts a probe that waited for its host (its stages may still make it
 * wait: rp__stage_ops.admit). */
void rp__slot_start(struct rp_engine *e, struct slot *s);

/* hosts.c: per-host limits (all no-ops when none is set). */
int rp__hosts_init(struct rp_engine *e);
void rp__hosts_release(struct rp_engine *e);
/* May s connect to s->addr now? true: it is counted against its host;
 * false: it waits (PHASE_WAITING) and rp__hosts_tick() starts it. */
bool rp__host_admit(struct rp_engine *e, struct slot *s);
/* s ends (or stops waiting): its host's next waiter may go. */
void rp__host_leave(struct rp_engine *e, struct slot *s);
/* Stop: every waiting probe ends CANCELLED. */
void rp__hosts_cancel_all(struct rp_engine *e);
/* Once per turn: starts the waiters whose host allows them now. */
void rp__hosts_tick(struct rp_engine *e);
/* Time until a waiter may start (0: now; UINT64_MAX: none waits on a
 * timer). */
uint64_t rp__hosts_wait_ns(const struct rp_engine *e, uint64_t now);

/* admit.c */
bool rp__rate_ok(const struct rp_engine *e);
void rp__admit(struct rp_engine *e);

/* loop.c */
void rp__arm_wake(struct rp_engine *e);
int rp__turn(struct rp_engine *e, int timeout_ms);

#endif
