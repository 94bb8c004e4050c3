/* stats.h - engine counters and the RTT histogram (internal). */
#ifndef RP_STATS_H
#define RP_STATS_H

#include <stdint.h>

#include "ringprobe.h"

/* Log-linear bucket of a microsecond value: exact below 32, then 16
 * sub-buckets per power of two (at most 1/16 relative width). */
static inline unsigned rp__hist_bucket(uint64_t v)
{
	if (v < 32)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v);
	unsigned sub = (unsigned)(v >> (e - 4)) & 15u;
	return 32u + (e - 5u) * 16u + sub;
}

/* Largest value that falls in bucket b. */
uint64_t rp__hist_upper(unsigned b);

static inline void rp__stats_rtt(struct rp_stats *st, uint64_t us)
{
	st->rtt_hist[rp__hist_bucket(us)]++;
	if (st->rtt_count == 0 || us < st->rtt_min_us)
		st->rtt_min_us = us;
	if (us > st->rtt_max_us)
		st->rtt_max_us = us;
	st->rtt_count++;
}

#endif
