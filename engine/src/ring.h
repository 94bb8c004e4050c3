/*
 * ring.h - the engine's io_uring: setup with the best flags the kernel
 * takes, SQE reservation that never splits a chain, counted submits.
 */
#ifndef RP_RING_H
#define RP_RING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct rp__ring {
	struct io_uring ring;
	unsigned setup_flags;         /* flags the ring was created with */
	bool direct;                  /* socket/setsockopt/close in the ring */
	uint64_t sqes;                /* SQEs submitted */
	uint64_t enters;              /* io_uring_enter calls */
};

/*
 * Creates the ring: SQ of sq_entries, CQ of cq_entries, and (unless
 * no_direct) a sparse fixed-file table of nr_files for direct sockets, with
 * in-ring socket and setsockopt verified by a test op. Falls back to fd
 * mode when any of that is missing.
 * Returns 0 or -errno (-EMFILE: nr_files above RLIMIT_NOFILE).
 */
int rp__ring_init(struct rp__ring *r, unsigned sq_entries, unsigned cq_entries,
		  unsigned nr_files, bool no_direct);

void rp__ring_release(struct rp__ring *r);

/*
 * Returns n consecutive free SQEs' first one, submitting what is queued
 * first if fewer than n are free, so a chain of n never spans two submits.
 * The others are taken with io_uring_get_sqe(). Returns NULL only if the
 * ring is broken.
 */
struct io_uring_sqe *rp__ring_reserve(struct rp__ring *r, unsigned n);

/*
 * Submits everything queued and waits up to timeout_ns (UINT64_MAX:
 * forever) for at least wait_nr completions, running deferred task work.
 * Returns >= 0, or -errno other than -ETIME/-EINTR (those are normal).
 */
int rp__ring_submit_wait(struct rp__ring *r, unsigned wait_nr,
			 uint64_t timeout_ns);

#endif
