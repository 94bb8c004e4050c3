/*
 * ring.c - io_uring setup and submission for one engine.
 *
 * Setup tries the flags a single-threaded completion loop wants, newest
 * first: SINGLE_ISSUER|DEFER_TASKRUN (completions run only when we enter,
 * no IPIs, no task-work interruptions), then COOP_TASKRUN, then nothing,
 * always with SUBMIT_ALL and a CQ sized by the caller (CLAMPed) so it never
 * overflows. Direct descriptors are used only after a test op proves the
 * kernel can create a socket in the ring and set SO_LINGER on it there
 * (6.7+); otherwise the engine falls back to socket(2)/setsockopt(2) with
 * connect and close still in the ring.
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "ring.h"
#include "ud.h"
#include "uring_compat.h"

static const struct linger probe_linger = { .l_onoff = 1, .l_linger = 0 };

static int ring_setup(struct rp__ring *r, unsigned sq, unsigned cq)
{
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -EINVAL;

	for (unsigned i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | IORING_SETUP_SUBMIT_ALL |
			  IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
		p.cq_entries = cq;
		ret = io_uring_queue_init_params(sq, &r->ring, &p);
		if (ret == 0) {
			r->setup_flags = p.flags;
			return 0;
		}
		if (ret != -EINVAL)
			return ret;
	}
	return ret;
}

/* Runs socket_direct + SO_LINGER via URING_CMD + close on file slot 0 and
 * reports whether all three worked. */
static bool direct_works(struct rp__ring *r)
{
	struct io_uring *ring = &r->ring;
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	bool ok = probe && io_uring_opcode_supported(probe, IORING_OP_SOCKET) &&
		  io_uring_opcode_supported(probe, IORING_OP_URING_CMD);

	io_uring_free_probe(probe);
	if (!ok)
		return false;

	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	io_uring_prep_socket_direct(sqe, AF_INET, SOCK_STREAM, 0, 0, 0);
	sqe->user_data = rp__ud(0, RP__UD_NOSLOT, RP__OP_PROBE);
	sqe->flags |= IOSQE_IO_LINK;
	sqe = io_uring_get_sqe(ring);
	rp__prep_setsockopt_direct(sqe, 0, SOL_SOCKET, SO_LINGER, &probe_linger,
				   sizeof(probe_linger));
	sqe->user_data = rp__ud(0, RP__UD_NOSLOT, RP__OP_PROBE);
	sqe->flags |= IOSQE_IO_LINK; /* else the close runs first */
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_close_direct(sqe, 0);
	sqe->user_data = rp__ud(0, RP__UD_NOSLOT, RP__OP_PROBE);

	if (io_uring_submit_and_wait(ring, 3) < 0)
		return false;
	for (int i = 0; i < 3; i++) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(ring, &cqe) < 0)
			return false;
		if (cqe->res < 0)
			ok = false;
		io_uring_cqe_seen(ring, cqe);
	}
	return ok;
}

int rp__ring_init(struct rp__ring *r, unsigned sq_entries, unsigned cq_entries,
		  unsigned nr_files, bool no_direct)
{
	int ret;

	memset(r, 0, sizeof(*r));
	ret = ring_setup(r, sq_entries, cq_entries);
	if (ret < 0)
		return ret;
	/* One fget/fput less per enter. */
	(void)io_uring_register_ring_fd(&r->ring);

	if (!no_direct) {
		ret = io_uring_register_files_sparse(&r->ring, nr_files);
		if (ret == -EMFILE) {
			rp__ring_release(r);
			return ret;
		}
		r->direct = ret == 0 && direct_works(r);
		if (ret == 0 && !r->direct)
			(void)io_uring_unregister_files(&r->ring);
	}
	return 0;
}

void rp__ring_release(struct rp__ring *r)
{
	if (r->ring.ring_fd > 0)
		io_uring_queue_exit(&r->ring);
	r->ring.ring_fd = -1;
}

struct io_uring_sqe *rp__ring_reserve(struct rp__ring *r, unsigned n)
{
	if (io_uring_sq_space_left(&r->ring) < n) {
		unsigned ready = io_uring_sq_ready(&r->ring);
		int ret = io_uring_submit(&r->ring);

		r->enters++;
		if (ret > 0)
			r->sqes += (unsigned)ret;
		else if (ret < 0 && ready)
			return NULL;
	}
	return io_uring_get_sqe(&r->ring);
}

int rp__ring_submit_wait(struct rp__ring *r, unsigned wait_nr,
			 uint64_t timeout_ns)
{
	struct io_uring_cqe *cqe;
	unsigned ready = io_uring_sq_ready(&r->ring);
	int ret;

	if (wait_nr == 0) {
		ret = io_uring_submit_and_get_events(&r->ring);
	} else if (timeout_ns == UINT64_MAX) {
		ret = io_uring_submit_and_wait(&r->ring, wait_nr);
	} else {
		struct __kernel_timespec ts = {
			.tv_sec = (long long)(timeout_ns / 1000000000u),
			.tv_nsec = (long long)(timeout_ns % 1000000000u),
		};
		ret = io_uring_submit_and_wait_timeout(&r->ring, &cqe, wait_nr,
						       &ts, NULL);
	}
	r->enters++;
	/* What the SQ held went in unless the enter failed outright. */
	if (ret >= 0 || ret == -ETIME || ret == -EINTR)
		r->sqes += ready - io_uring_sq_ready(&r->ring);
	if (ret == -ETIME || ret == -EINTR || ret == -EBUSY || ret == -EAGAIN)
		return 0;
	return ret < 0 ? ret : 0;
}
