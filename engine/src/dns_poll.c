/*
 * dns_poll.c - c-ares's sockets polled through the ring: c-ares says
 * (sock_state_cb) what it wants of each socket, the engine arms a one-shot
 * POLL_ADD for it after the c-ares call returns, and a poll's completion
 * feeds ares_process_fd(). A poll on a socket c-ares has let go of is
 * cancelled, and its table entry reused only once that poll is back.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

/* c-ares runs callbacks from inside its own calls; this is how they find
 * the engine (one engine per thread, so a thread-local suffices). */
_Thread_local struct rp_engine *rp__dns_engine;

/* Doubles the socket table; the new half is free. */
int rp__dns_grow_fds(struct rp__dns *d)
{
	uint32_t n = d->nfds ? 2 * d->nfds : FDS_MIN;
	struct dns_fd *f;

	if (n > FDS_MAX)
		return -ENOSPC;
	f = realloc(d->fds, n * sizeof(*f));
	if (!f)
		return -ENOMEM;
	memset(f + d->nfds, 0, (n - d->nfds) * sizeof(*f));
	for (uint32_t i = d->nfds; i < n; i++)
		f[i].fd = -1;
	d->fds = f;
	d->nfds = n;
	return 0;
}

/* c-ares says what it wants of a socket: just remember it, the ring is
 * updated once the c-ares call returns (this runs inside it). */
void rp__dns_sock_state(void *data, ares_socket_t fd, int readable,
			int writable)
{
	struct rp__dns *d = data;
	struct dns_fd *free_slot = NULL, *f = NULL;
	uint8_t want = (uint8_t)((readable ? POLLIN : 0) |
				 (writable ? POLLOUT : 0));

	for (uint32_t i = 0; i < d->nfds; i++) {
		if (d->fds[i].fd == fd) {
			f = &d->fds[i];
			break;
		}
		if (d->fds[i].fd < 0 && !d->fds[i].armed && !free_slot)
			free_slot = &d->fds[i];
	}
	if (!f) {
		if (!want)
			return;
		if (!free_slot && rp__dns_grow_fds(d) == 0)
			free_slot = &d->fds[d->nfds / 2];
		if (!free_slot) {
			/* Never ignore a socket: its lookups would hang
			 * until their deadline. Fail them all instead. */
			d->fds_lost = true;
			d->dirty = true;
			return;
		}
		f = free_slot;
		f->fd = fd;
	}
	f->want = want;
	if (!want) {
		/* c-ares closes it next: any poll of ours is now stale. */
		f->fd = -1;
		f->gen++;
	}
	d->dirty = true;
}

/* Arms or refreshes the ring polls c-ares asked for. */
void rp__dns_sync(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;

	if (!d || !d->dirty)
		return;
	d->dirty = false;
	if (d->fds_lost) {
		/* The lookups of an untracked socket would never hear their
		 * answer: end them all as cancelled rather than let them
		 * wait for their deadline. */
		d->fds_lost = false;
		rp__dns_engine = e;
		ares_cancel(d->ch);
	}
	for (uint32_t i = 0; i < d->nfds; i++) {
		struct dns_fd *f = &d->fds[i];
		struct io_uring_sqe *sqe;

		if (f->fd < 0 ? !f->armed || f->cancelling
			      : !f->want || f->armed)
			continue;
		sqe = rp__ring_reserve(&e->r, 1);
		if (!sqe) {
			d->dirty = true;
			return;
		}
		if (f->fd < 0) { /* c-ares let go of it: stop polling */
			io_uring_prep_cancel64(sqe, f->armed_ud, 0);
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
			sqe->user_data = rp__ud(0, RP__UD_NOSLOT,
						RP__OP_CANCEL);
			f->cancelling = 1;
			continue;
		}
		io_uring_prep_poll_add(sqe, f->fd, f->want);
		f->armed_ud = rp__ud(f->gen, i, RP__OP_DNS_POLL);
		sqe->user_data = f->armed_ud;
		f->armed = 1;
	}
}

void rp__dns_on_poll(struct rp_engine *e, uint64_t ud, int res)
{
	struct rp__dns *d = e->dns;
	uint32_t i = rp__ud_slot(ud);
	struct dns_fd *f;

	if (!d || i >= d->nfds)
		return;
	f = &d->fds[i];
	f->armed = 0;
	f->cancelling = 0;
	d->dirty = true;
	if (f->gen != rp__ud_gen(ud) || f->fd < 0 || res < 0)
		return; /* stale, or cancelled: rp__dns_sync() re-arms */
	rp__dns_engine = e;
	ares_process_fd(d->ch,
			(res & (POLLIN | POLLERR | POLLHUP)) ? f->fd
							     : ARES_SOCKET_BAD,
			(res & POLLOUT) ? f->fd : ARES_SOCKET_BAD);
	/* Lookups it ended make room for queued ones: the name service's tick, later
	 * in the same turn, starts them. */
}
