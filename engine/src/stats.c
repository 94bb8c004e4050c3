/*
 * stats.c - merging counters and reading percentiles from the RTT
 * histogram. Recording happens inline (stats.h) on the completion path.
 */
#include <string.h>

#include "abi.h"
#include "stats.h"

_Static_assert(RP_STATUS__COUNT <= RP_STATUS_SLOTS,
	       "rp_stats.by_status is full: a new status needs a new major");

uint64_t rp__hist_upper(unsigned b)
{
	if (b < 32)
		return b;
	unsigned e = (b - 32u) / 16u + 5u;
	uint64_t sub = (b - 32u) % 16u;
	return ((16u + sub + 1u) << (e - 4u)) - 1u;
}

static void merge(struct rp_stats *dst, const struct rp_stats *src)
{
	for (int i = 0; i < RP_STATUS__COUNT; i++)
		dst->by_status[i] += src->by_status[i];
	dst->submitted += src->submitted;
	dst->completed += src->completed;
	dst->attempts += src->attempts;
	dst->sqes += src->sqes;
	dst->enters += src->enters;
	dst->cqes += src->cqes;
	dst->stale_cqes += src->stale_cqes;
	dst->syscalls_other += src->syscalls_other;
	dst->inflight += src->inflight;
	dst->host_waiting += src->host_waiting;
	dst->tls_waiting += src->tls_waiting;
	dst->max_inflight += src->max_inflight; /* engines run side by side */
	dst->concurrency += src->concurrency;
	dst->direct = dst->direct || src->direct;
	dst->setup_flags |= src->setup_flags;
	if (src->rtt_count) {
		if (dst->rtt_count == 0 || src->rtt_min_us < dst->rtt_min_us)
			dst->rtt_min_us = src->rtt_min_us;
		if (src->rtt_max_us > dst->rtt_max_us)
			dst->rtt_max_us = src->rtt_max_us;
	}
	dst->rtt_count += src->rtt_count;
	for (int i = 0; i < RP_HIST_BUCKETS; i++)
		dst->rtt_hist[i] += src->rtt_hist[i];
}

void rp_stats_merge_ex(struct rp_stats *dst, const struct rp_stats *src,
		       size_t st_size)
{
	struct rp_stats d, sr;

	if (st_size == sizeof(d)) {
		merge(dst, src);
		return;
	}
	/* another version's struct: merge what both know */
	rp__struct_out(&d, sizeof(d), dst, st_size);
	rp__struct_out(&sr, sizeof(sr), src, st_size);
	merge(&d, &sr);
	rp__struct_out(dst, st_size, &d, sizeof(d));
}

void(rp_stats_merge)(struct rp_stats *dst, const struct rp_stats *src)
{
	rp_stats_merge_ex(dst, src, RP__STATS_V1);
}

uint64_t rp_stats_percentile(const struct rp_stats *st, double p)
{
	if (st->rtt_count == 0)
		return 0;
	if (p <= 0)
		return st->rtt_min_us;
	if (p >= 100)
		return st->rtt_max_us;
	uint64_t rank = (uint64_t)(p / 100.0 * (double)st->rtt_count);
	if (rank >= st->rtt_count)
		rank = st->rtt_count - 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < RP_HIST_BUCKETS; b++) {
		seen += st->rtt_hist[b];
		if (seen > rank) {
			uint64_t up = rp__hist_upper(b);
			return up > st->rtt_max_us ? st->rtt_max_us : up;
		}
	}
	return st->rtt_max_us;
}
