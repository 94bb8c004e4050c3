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
/* The preset detail text area of s (RP_INPUT_MAX bytes). */
char *rp__slot_detail(struct rp_engine *e, struct slot *s);
/* Starts a taken probe: resolves name first, or runs its first stage. */
void rp__begin(struct rp_engine *e, struct slot *s, const char *name);
/* Reports every PHASE_DONE slot. */
void rp__deliver_done(struct rp_engine *e);

/* admit.c */
bool rp__rate_ok(const struct rp_engine *e);
void rp__admit(struct rp_engine *e);

/* loop.c */
void rp__arm_wake(struct rp_engine *e);
int rp__turn(struct rp_engine *e, int timeout_ms);

#endif
