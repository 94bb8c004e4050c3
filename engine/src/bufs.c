/*
 * bufs.c - the engine's receive buffers: one provided-buffer ring shared
 * by every probe, from which the kernel picks a buffer when data arrives
 * (so memory follows the reads in progress, not the connections open),
 * and the list of probes whose receive found it empty.
 *
 * A buffer goes back to the ring as soon as its bytes are used: by the
 * stage that received it, or by the core for a completion it drops.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "stage.h"

#define BGID 0                     /* our only provided-buffer group */
#define BUFS_MAX 1024              /* buffers in the ring at most */

struct rp__bufs {
	struct io_uring_buf_ring *br;
	size_t br_size;
	char *mem;                    /* n * RP_BUF_SIZE, touched on use */
	unsigned n;
	unsigned mask;
	struct slot_fifo wait;        /* receives that found none */
};

void rp__bufs_release(struct rp_engine *e)
{
	struct rp__bufs *b = e->bufs;

	if (!b)
		return;
	if (b->br)
		munmap(b->br, b->br_size);
	if (b->mem)
		munmap(b->mem, (size_t)b->n * RP_BUF_SIZE);
	free(b);
	e->bufs = NULL;
}

/* Sets up the ring by hand: liburing 2.3 has no io_uring_setup_buf_ring().
 * As many buffers as slots, a power of two, at most BUFS_MAX. */
int rp__bufs_init(struct rp_engine *e)
{
	struct rp__bufs *b = calloc(1, sizeof(*b));
	unsigned n = 1;
	int ret;

	if (!b)
		return -ENOMEM;
	e->bufs = b;
	rp__fifo_init(&b->wait);
	while (n < e->o.concurrency && n < BUFS_MAX)
		n <<= 1;
#ifdef RP_FAULT
	if (rp__fault.http_bufs) /* tests: a ring that runs dry */
		n = rp__fault.http_bufs;
#endif
	b->n = n;
	b->mask = io_uring_buf_ring_mask(n);
	b->br_size = n * sizeof(struct io_uring_buf);
	b->br = mmap(NULL, b->br_size, PROT_READ | PROT_WRITE,
		     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	b->mem = mmap(NULL, (size_t)n * RP_BUF_SIZE, PROT_READ | PROT_WRITE,
		      MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (b->br == MAP_FAILED)
		b->br = NULL;
	if (b->mem == MAP_FAILED)
		b->mem = NULL;
	if (!b->br || !b->mem)
		return -ENOMEM;
	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)b->br,
		.ring_entries = n,
		.bgid = BGID,
	};
	ret = io_uring_register_buf_ring(&e->r.ring, &reg, 0);
	if (ret < 0)
		return ret; /* NEEDSWORK: per-probe buffers before 5.19 */
	io_uring_buf_ring_init(b->br);
	for (unsigned i = 0; i < n; i++)
		io_uring_buf_ring_add(b->br, b->mem + (size_t)i * RP_BUF_SIZE,
				      RP_BUF_SIZE, (unsigned short)i, b->mask,
				      (int)i);
	io_uring_buf_ring_advance(b->br, (int)n);
	return 0;
}

void rp__prep_recv_buf(struct rp_engine *e, struct slot *s,
		       struct io_uring_sqe *sqe)
{
	io_uring_prep_recv(sqe, slot_fd(e, s), NULL, RP_BUF_SIZE, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
}

static unsigned bid_of(const struct io_uring_cqe *cqe)
{
	return cqe->flags >> IORING_CQE_BUFFER_SHIFT;
}

const char *rp__buf_data(const struct rp_engine *e,
			 const struct io_uring_cqe *cqe)
{
	return e->bufs->mem + (size_t)bid_of(cqe) * RP_BUF_SIZE;
}

void rp__buf_put(struct rp_engine *e, const struct io_uring_cqe *cqe)
{
	struct rp__bufs *b = e->bufs;

	if (!b || !(cqe->flags & IORING_CQE_F_BUFFER))
		return;
	io_uring_buf_ring_add(b->br, b->mem + (size_t)bid_of(cqe) * RP_BUF_SIZE,
			      RP_BUF_SIZE, (unsigned short)bid_of(cqe), b->mask,
			      0);
	io_uring_buf_ring_advance(b->br, 1);
}

/* The slot is under way with no op in flight, so its `next` link (free
 * list, done list) is unused: it links the waiting list. */
void rp__buf_wait(struct rp_engine *e, struct slot *s)
{
	rp__fifo_push(e, &e->bufs->wait, s);
}

/* Gives the slots that found no buffer another receive, now that the
 * turn's completions gave buffers back. Only the slots waiting now: one
 * that finds none again waits for the next turn. */
void rp__bufs_end_turn(struct rp_engine *e)
{
	struct slot_fifo now;
	struct slot *s;

	if (!e->bufs || e->bufs->wait.head == SLOT_NONE)
		return;
	now = e->bufs->wait;
	rp__fifo_init(&e->bufs->wait);
	while ((s = rp__fifo_pop(e, &now))) {
		if (s->cancel)
			rp__finish(e, s, RP_STATUS_CANCELLED, 0);
		else if (e->now_ns >= s->deadline_ns)
			rp__finish(e, s, RP_STATUS_TIMEOUT, 0);
		else
			e->stages[rp__io_stage(s)].ops->resume(e, s);
	}
}
