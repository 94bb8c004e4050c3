/*
 * slot.c - the slot table and the services stages call on a slot: phases,
 * link timeouts, how an op ended, handing on to the next stage, restarts,
 * and the one place a result is emitted and a slot given back.
 *
 * The table is allocated at create: o.concurrency slots, and beside them
 * one block of per-slot areas each (the core's preset detail text, dns.c's
 * waiter links and spare addresses, each stage's declared state), so that
 * nothing is allocated per probe and a slot's state is found by its index.
 * The free list is LIFO (recently used slots are hot in cache) and is the
 * in-flight semaphore: a target is taken only when a slot is free.
 *
 * A slot is reused only when no CQE is expected for it any more: every
 * op's user_data carries the slot's generation, bumped at release, so a
 * late CQE is counted as stale and dropped, never applied.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "stats.h"
#include "trace.h"

#define ALIGN 16

static size_t align_up(size_t n)
{
	return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

void rp__fifo_init(struct slot_fifo *f)
{
	f->head = f->tail = SLOT_NONE;
}

void rp__fifo_push(struct rp_engine *e, struct slot_fifo *f, struct slot *s)
{
	uint32_t i = slot_idx(e, s);

	s->next = SLOT_NONE;
	if (f->tail == SLOT_NONE)
		f->head = i;
	else
		e->slots[f->tail].next = i;
	f->tail = i;
}

struct slot *rp__fifo_pop(struct rp_engine *e, struct slot_fifo *f)
{
	struct slot *s;

	if (f->head == SLOT_NONE)
		return NULL;
	s = &e->slots[f->head];
	f->head = s->next;
	if (f->head == SLOT_NONE)
		f->tail = SLOT_NONE;
	return s;
}

int rp__slots_init(struct rp_engine *e, size_t dns_priv)
{
	size_t off;

	/* The block of one slot: detail text, dns.c's area, the stages'. */
	e->detail_off = 0;
	off = align_up(RP_INPUT_MAX);
	if (dns_priv) {
		e->dns_off = off;
		off += align_up(dns_priv);
	}
	if (rp__stage_find(e, &rp__stage_tls) >= 0) {
		e->host_off = off;
		off += align_up(RP_HOST_MAX);
	}
	for (unsigned k = 0; k < e->nstages; k++) {
		e->stages[k].priv_off = off;
		off += align_up(e->stages[k].ops->priv_size);
	}
	e->priv_stride = off;
	e->slots = calloc(e->o.concurrency, sizeof(*e->slots));
	/* calloc: pages are touched only by the slots in use. */
	e->priv = calloc(e->o.concurrency, e->priv_stride);
	if (!e->slots || !e->priv)
		return -ENOMEM;
	for (uint32_t i = 0; i < e->o.concurrency; i++) {
		e->slots[i].next = i + 1 < e->o.concurrency ? i + 1 : SLOT_NONE;
		e->slots[i].fd = -1;
		e->slots[i].gen = 1;
	}
	e->free_head = 0;
	e->nfree = e->o.concurrency;
	rp__fifo_init(&e->done);
	return 0;
}

void rp__slots_release(struct rp_engine *e)
{
	if (e->slots)
		for (uint32_t i = 0; i < e->o.concurrency; i++)
			if (e->slots[i].fd >= 0)
				close(e->slots[i].fd);
	free(e->priv);
	free(e->slots);
}

struct slot *rp__slot_take(struct rp_engine *e)
{
	struct slot *s = &e->slots[e->free_head];

	e->free_head = s->next;
	e->nfree--;
	e->inflight++;
	if (e->inflight > e->st.max_inflight)
		e->st.max_inflight = e->inflight;
	return s;
}

static void slot_release(struct rp_engine *e, struct slot *s)
{
	for (unsigned k = 0; k < s->nstages; k++)
		if (e->stages[k].ops->end)
			e->stages[k].ops->end(e, s);
	s->gen++;
	s->phase = PHASE_FREE;
	s->next = e->free_head;
	e->free_head = slot_idx(e, s);
	e->nfree++;
	e->inflight--;
}

char *rp__slot_detail(struct rp_engine *e, struct slot *s)
{
	return rp__area(e, s, e->detail_off);
}

const char *rp__host(const struct rp_engine *e, const struct slot *s)
{
	return rp__area(e, s, e->host_off);
}

void rp__set_host(struct rp_engine *e, struct slot *s, const char *name,
		  size_t len)
{
	char *h = rp__area(e, s, e->host_off);

	if (!e->host_off)
		return;
	if (len >= RP_HOST_MAX)
		len = 0; /* (names are at most 253 bytes) */
	memcpy(h, name, len);
	h[len] = '\0';
}

/* ---- phases ------------------------------------------------------------ */

#ifndef NDEBUG
/* Which phase may follow which (bit p of legal[from]). */
#define B(p) (1u << (p))
static const unsigned legal[PHASE__COUNT] = {
	[PHASE_FREE] = B(PHASE_DONE) | B(PHASE_RESOLVING) |
		       B(PHASE_CONNECTING) | B(PHASE_WAITING),
	[PHASE_DONE] = B(PHASE_REPORTING),
	[PHASE_REPORTING] = B(PHASE_FREE) | B(PHASE_CONNECTING) |
			    B(PHASE_WAITING),
	[PHASE_RESOLVING] = B(PHASE_DONE) | B(PHASE_CONNECTING) |
			    B(PHASE_REPORTING) | B(PHASE_WAITING),
	[PHASE_CONNECTING] = B(PHASE_REPORTING) | B(PHASE_DONE) |
			     B(PHASE_VERIFYING) | B(PHASE_CONNECTING) |
			     B(PHASE_HANDSHAKING) | B(PHASE_SENDING) |
			     B(PHASE_RECEIVING),
	[PHASE_VERIFYING] = B(PHASE_REPORTING) | B(PHASE_CONNECTING) |
			    B(PHASE_HANDSHAKING) | B(PHASE_SENDING) |
			    B(PHASE_RECEIVING),
	[PHASE_HANDSHAKING] = B(PHASE_REPORTING) | B(PHASE_DONE) |
			      B(PHASE_SENDING),
	[PHASE_SENDING] = B(PHASE_REPORTING) | B(PHASE_SENDING) |
			  B(PHASE_RECEIVING),
	[PHASE_RECEIVING] = B(PHASE_REPORTING) | B(PHASE_RESOLVING) |
			    B(PHASE_CONNECTING) | B(PHASE_DONE) |
			    B(PHASE_WAITING),
	[PHASE_WAITING] = B(PHASE_CONNECTING) | B(PHASE_DONE) |
			  B(PHASE_REPORTING),
};
#undef B
#endif

void rp__set_phase(struct rp_engine *e, struct slot *s, enum rp__phase p)
{
	(void)e;
	assert(legal[s->phase] & (1u << p));
	s->phase = (uint8_t)p;
	RP_TRACE_PHASE(s->index, p);
}

/* ---- ops --------------------------------------------------------------- */

void rp__arm_expiry(struct rp_engine *e, struct slot *s, uint64_t ns)
{
	s->expire_ns = e->now_ns + ns;
	if (s->expire_ns > s->deadline_ns)
		s->expire_ns = s->deadline_ns;
	rp__ts_set(s, s->expire_ns);
}

void rp__link_op(struct rp_engine *e, struct slot *s, struct io_uring_sqe *sqe,
		 enum rp__op op, unsigned ts_flags)
{
	sqe->flags |= IOSQE_IO_LINK | (e->r.direct ? IOSQE_FIXED_FILE : 0);
	sqe->user_data = rp__ud(s->gen, slot_idx(e, s), op);
	sqe = io_uring_get_sqe(&e->r.ring);
	io_uring_prep_link_timeout(sqe, &s->ts, ts_flags);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	sqe->user_data = rp__ud(s->gen, slot_idx(e, s), RP__OP_TIMEOUT);
	s->op = (uint8_t)op;
	s->ops = 1;
}

enum rp__end rp__classify(const struct rp_engine *e, const struct slot *s,
			  int res)
{
	if (res >= 0)
		return END_OK;
	switch (res) {
	case -ECANCELED:
		/* Our link timeout fired, or we cancelled the op. The expiry
		 * is on the kernel's clock: not yet passed = not ours. A
		 * cancelled probe gets here only when its timer was due
		 * before the cancel was asked (loop.c): a timeout. */
		return e->now_ns < s->expire_ns ? END_CANCELLED : END_TIMEOUT;
	case -ETIMEDOUT:
		return END_TIMEOUT;
	case -ECONNREFUSED:
		return END_REFUSED;
	case -ECONNRESET:
	case -EPIPE:
		return END_RESET;
	case -ENETUNREACH:
	case -EHOSTUNREACH:
	case -ENETDOWN:
	case -EHOSTDOWN:
		return END_UNREACHABLE;
	default:
		return END_ERROR;
	}
}

/* Queues the socket's close: an RST, since SO_LINGER is {1, 0}. */
void rp__close_socket(struct rp_engine *e, struct slot *s)
{
	struct io_uring_sqe *sqe;

	for (unsigned k = 0; k < e->nstages; k++)
		if (e->stages[k].ops->disconnect)
			e->stages[k].ops->disconnect(e, s);
	/* Direct: the file slot holds a socket once SOCKET succeeded. */
	if (e->r.direct ? !s->has_socket : s->fd < 0)
		return;
	/* A stop leaves its sockets in the ring's file table (no slot is
	 * taken again after it): the kernel closes them all when the ring
	 * goes at rp_engine_destroy(), in the background, instead of one
	 * close op each before the stop's results come out (2048 closes
	 * took ~12 ms of a Ctrl-C at -c 4096). Fallback sockets are the
	 * process's descriptors: those are closed as ever. */
	if (e->stopping && e->r.direct) {
		s->has_socket = 0;
		return;
	}
	sqe = rp__ring_reserve(&e->r, 1);
	if (!sqe) {
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		return;
	}
	if (e->r.direct)
		io_uring_prep_close_direct(sqe, slot_idx(e, s));
	else
		io_uring_prep_close(sqe, s->fd);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	sqe->user_data = rp__ud(s->gen, slot_idx(e, s), RP__OP_CLOSE);
	s->fd = -1;
	s->has_socket = 0;
}

/* ---- the pipeline ------------------------------------------------------ */

static void start_stage(struct rp_engine *e, struct slot *s, unsigned k)
{
	if (k == 0)
		s->xport = 0; /* a new connection: on its socket */
	s->stage = (uint8_t)k;
	if (s->reached <= k)
		s->reached = (uint8_t)(k + 1);
	e->stages[k].ops->start(e, s);
}

/* May the probe connect now, as far as its stages are concerned (the
 * TLS stage's cap on handshakes)? false: a stage made it wait. */
static bool stages_admit(struct rp_engine *e, struct slot *s)
{
	for (unsigned k = 0; k < s->nstages; k++)
		if (e->stages[k].ops->admit && !e->stages[k].ops->admit(e, s))
			return false;
	return true;
}

void rp__slot_start(struct rp_engine *e, struct slot *s)
{
	if (stages_admit(e, s))
		start_stage(e, s, 0);
}

void rp__slot_go(struct rp_engine *e, struct slot *s)
{
	start_stage(e, s, 0);
}

/* A connection to s->addr begins, unless its host is at a per-host limit
 * or a stage makes it wait: hosts.c or the stage starts it later. */
static void connect_first(struct rp_engine *e, struct slot *s)
{
	if (rp__host_admit(e, s))
		rp__slot_start(e, s);
}

void rp__begin(struct rp_engine *e, struct slot *s, const char *name)
{
	s->stage = 0;
	if (name)
		e->names->resolve(e, s, name);
	else
		connect_first(e, s);
}

void rp__resolved(struct rp_engine *e, struct slot *s)
{
	connect_first(e, s);
}

void rp__stage_done(struct rp_engine *e, struct slot *s)
{
	if (s->stage + 1u < s->nstages)
		start_stage(e, s, s->stage + 1u);
	else
		rp__finish(e, s, RP_STATUS_OPEN, 0);
}

void rp__restart(struct rp_engine *e, struct slot *s, const char *name,
		 uint16_t port)
{
	rp__close_socket(e, s);
	s->attempts = 0;
	if (name) {
		s->port = port;
		rp__set_host(e, s, name, strlen(name));
	}
	rp__begin(e, s, name);
}

/* --all-addrs: the same target on the name's next address, as a new probe
 * in the same slot. Returns false when there is none. */
static bool next_addr(struct rp_engine *e, struct slot *s, int status)
{
	if (s->imore >= s->nmore || status == RP_STATUS_CANCELLED ||
	    s->cancel || e->stopping || !e->names->next_addr(e, s))
		return false;
	s->attempts = 0;
	s->rtt_us = 0;
	s->detail = NULL;
	s->start_ns = e->now_ns;
	s->deadline_ns = e->now_ns + s->timeout_ns;
	s->reached = 0;
	for (unsigned k = 0; k < e->nstages; k++)
		if (e->stages[k].ops->rewind)
			e->stages[k].ops->rewind(e, s);
	connect_first(e, s);
	return true;
}

/* The one place a result is emitted and a slot given back. */
void rp__finish(struct rp_engine *e, struct slot *s, enum rp_status status,
		int err)
{
	struct rp_result res = {
		.input = s->input,
		.index = s->index,
		.user = s->user,
		.seq = s->seq,
		.addr = s->addrlen ? (const struct sockaddr *)&s->addr : NULL,
		.addrlen = s->addrlen,
		.status = status,
		.err = err,
		.detail = s->detail,
		.attempts = s->attempts,
		.dns_us = s->dns_us,
		.kind = s->kind,
		.id = s->by_id ? rp__slot_id(e, s) : 0,
	};

	res.elapsed_us = (e->now_ns - s->start_ns) / 1000u;
	/* Each stage the probe reached adds its part (and may amend the
	 * outcome: see rp__stage_ops.info), before the connection goes: TLS
	 * reads its certificate. */
	for (unsigned k = 0; k < s->reached && k < e->nstages; k++)
		if (e->stages[k].ops->info)
			e->stages[k].ops->info(e, s, &res);
	rp__close_socket(e, s);
	rp__host_leave(e, s);
	e->st.by_status[res.status]++;
	e->st.completed++;
	RP_TRACE_DONE(s->index, (int)res.status, res.elapsed_us);
	/* The slot stays taken while the callback runs: a submit from inside
	 * it cannot reuse the slot and overwrite what res points to. */
	rp__set_phase(e, s, PHASE_REPORTING);
	e->in_callback++;
	e->o.on_result(&res, e->o.arg);
	e->in_callback--;
	if (!next_addr(e, s, res.status))
		slot_release(e, s);
}

void rp__done(struct rp_engine *e, struct slot *s, enum rp_status status,
	      int err)
{
	s->status = (uint8_t)status;
	s->err = err;
	rp__set_phase(e, s, PHASE_DONE);
	rp__fifo_push(e, &e->done, s);
}

void rp__deliver_done(struct rp_engine *e)
{
	struct slot *s;

	while ((s = rp__fifo_pop(e, &e->done)))
		rp__finish(e, s, (enum rp_status)s->status, s->err);
}
