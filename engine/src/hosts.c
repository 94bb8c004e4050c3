/*
 * hosts.c - per-host limits: at most max_per_host probes in flight to one
 * address, and at least host_delay_ns between the starts of two probes to
 * it (rp_engine_opts). Applied after name resolution, on the address a
 * connection goes to (the port does not count).
 *
 * A probe whose host is at its limit waits in its slot (PHASE_WAITING) on
 * that host's FIFO; nothing else waits for it. Admission goes on filling
 * free slots, so probes to other hosts keep flowing: the slot table is the
 * window in which the input is reordered. When a probe to the host ends,
 * or its delay passes, the host's next waiter starts (rp__hosts_tick, once
 * per turn). Waiting is not part of any timeout, like waiting for a slot:
 * the probe's clocks are moved on by the time it waited, so a probe is
 * never reported TIMEOUT for time it spent queued behind its neighbours.
 *
 * Memory is fixed at create: a pool of 2 x concurrency host entries (at
 * least HOSTS_DELAY_MIN with a delay) and an open-addressing index (linear probing, backward-shift deletion, so no
 * tombstones) of twice that. An entry lives only while its host has probes
 * in flight or waiting, or a delay pending: hosts with probes are at most
 * concurrency, so only entries kept for their delay can fill the pool. A
 * probe to a new host that finds it full waits on the engine's "no entry"
 * FIFO until an entry's delay ends (within host_delay_ns); it is never
 * started unchecked.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define HOST_NONE UINT32_MAX
/* With a delay, entries outlive their probes by up to host_delay_ns, so
 * the pool bounds the rate of probes to new hosts to entries / delay: at
 * least 65,536 entries (about 5 MB) keep that above 6.5 M/s at 10 ms and
 * 65,536/s at 1 s. */
#define HOSTS_DELAY_MIN 65536u

struct host {
	uint8_t key[16];              /* IPv6 address, or IPv4-mapped */
	uint32_t hash;
	uint32_t inflight;            /* probes started, not yet ended */
	uint32_t nwait;               /* probes on the FIFO */
	struct slot_fifo wait;
	uint64_t next_ns;             /* with a delay: the next start, not
	                               * before */
	uint32_t dprev, dnext;        /* delay list; dnext: free list */
	uint32_t rnext;               /* ready list */
	uint8_t in_delay, in_ready, used;
};

struct rp__hosts {
	uint32_t cap;                 /* max_per_host, 0: none */
	uint64_t delay_ns;
	uint32_t nent;
	uint32_t mask;                /* index size - 1 */
	uint32_t *index;              /* entry + 1, 0: empty */
	struct host *ent;
	uint32_t free_head;
	uint32_t dhead, dtail;        /* entries by last start: oldest first */
	uint32_t ready;               /* entries that may start a waiter */
	struct slot_fifo homeless;    /* probes that found the pool full */
	uint32_t nhomeless;
};

static void key_of(const struct slot *s, uint8_t key[16])
{
	if (s->addr.ss_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)&s->addr)->sin6_addr,
		       16);
		return;
	}
	memset(key, 0, 10);
	key[10] = key[11] = 0xff;
	memcpy(key + 12, &((const struct sockaddr_in *)&s->addr)->sin_addr, 4);
}

static uint32_t hash_key(const uint8_t key[16])
{
	uint64_t a, b;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	a ^= b * 0x9e3779b97f4a7c15ull;
	a ^= a >> 31;
	a *= 0xbf58476d1ce4e5b9ull;
	a ^= a >> 29;
	return (uint32_t)(a ^ (a >> 32));
}

int rp__hosts_init(struct rp_engine *e)
{
	struct rp__hosts *h;
	uint32_t size = 1;

	if (!e->o.max_per_host && !e->o.host_delay_ns)
		return 0;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	e->hosts = h;
	h->cap = e->o.max_per_host;
	h->delay_ns = e->o.host_delay_ns;
	h->nent = 2 * e->o.concurrency;
	if (h->delay_ns && h->nent < HOSTS_DELAY_MIN)
		h->nent = HOSTS_DELAY_MIN;
#ifdef RP_FAULT
	if (rp__fault.host_entries) /* tests: a pool that fills */
		h->nent = rp__fault.host_entries;
#endif
	while (size < 2 * h->nent)
		size <<= 1;
	h->mask = size - 1;
	h->index = calloc(size, sizeof(*h->index));
	h->ent = calloc(h->nent, sizeof(*h->ent));
	if (!h->index || !h->ent)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->nent; i++)
		h->ent[i].dnext = i + 1 < h->nent ? i + 1 : HOST_NONE;
	h->free_head = 0;
	h->dhead = h->dtail = h->ready = HOST_NONE;
	rp__fifo_init(&h->homeless);
	return 0;
}

void rp__hosts_release(struct rp_engine *e)
{
	if (!e->hosts)
		return;
	free(e->hosts->index);
	free(e->hosts->ent);
	free(e->hosts);
	e->hosts = NULL;
}

/* ---- the index ---------------------------------------------------------- */

static uint32_t find(const struct rp__hosts *h, const uint8_t key[16],
		     uint32_t hash)
{
	for (uint32_t i = hash & h->mask;; i = (i + 1) & h->mask) {
		uint32_t id = h->index[i];

		if (!id)
			return HOST_NONE;
		if (h->ent[id - 1].hash == hash &&
		    !memcmp(h->ent[id - 1].key, key, 16))
			return id - 1;
	}
}

static void index_remove(struct rp__hosts *h, uint32_t id)
{
	uint32_t i = h->ent[id].hash & h->mask, j;

	while (h->index[i] != id + 1)
		i = (i + 1) & h->mask;
	/* Backward shift: move up every later entry of the run that may
	 * live at i, so lookups never meet a hole inside their run. */
	for (j = (i + 1) & h->mask; h->index[j]; j = (j + 1) & h->mask) {
		uint32_t home = h->ent[h->index[j] - 1].hash & h->mask;

		if (((j - home) & h->mask) >= ((j - i) & h->mask)) {
			h->index[i] = h->index[j];
			i = j;
		}
	}
	h->index[i] = 0;
}

static void delay_unlink(struct rp__hosts *h, uint32_t id)
{
	struct host *x = &h->ent[id];

	if (!x->in_delay)
		return;
	if (x->dprev == HOST_NONE)
		h->dhead = x->dnext;
	else
		h->ent[x->dprev].dnext = x->dnext;
	if (x->dnext == HOST_NONE)
		h->dtail = x->dprev;
	else
		h->ent[x->dnext].dprev = x->dprev;
	x->in_delay = 0;
}

static void delay_push(struct rp__hosts *h, uint32_t id)
{
	struct host *x = &h->ent[id];

	delay_unlink(h, id);
	x->dprev = h->dtail;
	x->dnext = HOST_NONE;
	if (h->dtail == HOST_NONE)
		h->dhead = id;
	else
		h->ent[h->dtail].dnext = id;
	h->dtail = id;
	x->in_delay = 1;
}

/* Frees an entry nothing needs any more: no probe, no waiter, no delay
 * pending (the ready list is left by the tick that drains it). */
static void maybe_free(struct rp__hosts *h, uint32_t id, uint64_t now)
{
	struct host *x = &h->ent[id];

	if (!x->used || x->inflight || x->nwait || x->in_ready ||
	    (x->in_delay && x->next_ns > now))
		return;
	delay_unlink(h, id);
	index_remove(h, id);
	x->used = 0;
	x->dnext = h->free_head;
	h->free_head = id;
}

/* Makes room by freeing entries whose delay has passed. */
static void purge(struct rp__hosts *h, uint64_t now)
{
	uint32_t id = h->dhead;

	while (id != HOST_NONE && h->ent[id].next_ns <= now) {
		uint32_t next = h->ent[id].dnext;

		delay_unlink(h, id);
		maybe_free(h, id, now);
		id = next;
	}
}

static uint32_t find_or_add(struct rp__hosts *h, const uint8_t key[16],
			    uint64_t now)
{
	uint32_t hash = hash_key(key), id = find(h, key, hash), i;
	struct host *x;

	if (id != HOST_NONE)
		return id;
	if (h->free_head == HOST_NONE)
		purge(h, now);
	if (h->free_head == HOST_NONE)
		return HOST_NONE;
	id = h->free_head;
	x = &h->ent[id];
	h->free_head = x->dnext;
	memset(x, 0, sizeof(*x));
	memcpy(x->key, key, 16);
	x->hash = hash;
	x->used = 1;
	rp__fifo_init(&x->wait);
	for (i = hash & h->mask; h->index[i]; i = (i + 1) & h->mask)
		;
	h->index[i] = id + 1;
	return id;
}

/* ---- admission ---------------------------------------------------------- */

static bool can_start(const struct rp__hosts *h, const struct host *x,
		      uint64_t now)
{
	return (!h->cap || x->inflight < h->cap) &&
	       (!h->delay_ns || now >= x->next_ns);
}

static void mark_ready(struct rp__hosts *h, uint32_t id)
{
	struct host *x = &h->ent[id];

	if (x->in_ready)
		return;
	x->in_ready = 1;
	x->rnext = h->ready;
	h->ready = id;
}

/* s is now one of the host's probes in flight. */
static void count(struct rp__hosts *h, uint32_t id, struct slot *s,
		  uint64_t now)
{
	struct host *x = &h->ent[id];

	x->inflight++;
	s->host = id;
	if (h->delay_ns) {
		x->next_ns = now + h->delay_ns;
		delay_push(h, id);
	}
}

static void wait_on(struct rp_engine *e, struct slot_fifo *f, struct slot *s)
{
	if (s->phase != PHASE_WAITING)
		rp__set_phase(e, s, PHASE_WAITING);
	s->wait_ns = e->now_ns;
	rp__fifo_push(e, f, s);
	e->st.host_waiting++;
}

/* Ends s's share of its host: the next waiter may go. */
static void release(struct rp_engine *e, struct slot *s)
{
	struct rp__hosts *h = e->hosts;
	uint32_t id = s->host;
	struct host *x = &h->ent[id];

	s->host = HOST_NONE;
	x->inflight--;
	if (x->nwait)
		mark_ready(h, id);
	else
		maybe_free(h, id, e->now_ns);
}

bool rp__host_admit(struct rp_engine *e, struct slot *s)
{
	struct rp__hosts *h = e->hosts;
	uint8_t key[16];
	uint32_t id;

	if (!h)
		return true;
	key_of(s, key);
	if (s->host != HOST_NONE) {
		/* A redirect to the same address stays counted. */
		if (!memcmp(h->ent[s->host].key, key, 16))
			return true;
		release(e, s);
	}
	id = find_or_add(h, key, e->now_ns);
	if (id == HOST_NONE) {
		wait_on(e, &h->homeless, s);
		h->nhomeless++;
		return false;
	}
	if (!h->ent[id].nwait && can_start(h, &h->ent[id], e->now_ns)) {
		count(h, id, s, e->now_ns);
		return true;
	}
	s->host = id;
	wait_on(e, &h->ent[id].wait, s);
	h->ent[id].nwait++;
	if (can_start(h, &h->ent[id], e->now_ns))
		mark_ready(h, id);
	return false;
}

static bool fifo_remove(struct rp_engine *e, struct slot_fifo *f,
			struct slot *s)
{
	uint32_t i = slot_idx(e, s), prev = SLOT_NONE, cur;

	for (cur = f->head; cur != SLOT_NONE; prev = cur,
	     cur = e->slots[cur].next) {
		if (cur != i)
			continue;
		if (prev == SLOT_NONE)
			f->head = s->next;
		else
			e->slots[prev].next = s->next;
		if (f->tail == i)
			f->tail = prev;
		return true;
	}
	return false;
}

void rp__host_leave(struct rp_engine *e, struct slot *s)
{
	struct rp__hosts *h = e->hosts;

	if (!h)
		return;
	if (s->phase == PHASE_WAITING) {
		if (s->host == HOST_NONE) {
			if (fifo_remove(e, &h->homeless, s))
				h->nhomeless--;
		} else if (fifo_remove(e, &h->ent[s->host].wait, s)) {
			h->ent[s->host].nwait--;
			maybe_free(h, s->host, e->now_ns);
		}
		s->host = HOST_NONE;
		e->st.host_waiting--;
		return;
	}
	if (s->host != HOST_NONE)
		release(e, s);
}

void rp__hosts_cancel_all(struct rp_engine *e)
{
	if (!e->hosts)
		return;
	for (uint32_t i = 0; i < e->o.concurrency; i++) {
		struct slot *s = &e->slots[i];

		if (s->phase != PHASE_WAITING)
			continue;
		s->cancel = 1;
		rp__host_leave(e, s);
		rp__done(e, s, RP_STATUS_CANCELLED, 0);
	}
}

/* ---- the turn ----------------------------------------------------------- */

/* A waiter leaves the queue and starts: its clocks skip the wait. */
static void go(struct rp_engine *e, struct slot *s)
{
	uint64_t waited = e->now_ns - s->wait_ns;

	e->st.host_waiting--;
	s->start_ns += waited;
	s->deadline_ns += waited;
	rp__slot_start(e, s);
}

static void drain_host(struct rp_engine *e, uint32_t id)
{
	struct rp__hosts *h = e->hosts;
	struct host *x = &h->ent[id];

	while (x->nwait && can_start(h, x, e->now_ns)) {
		struct slot *s = rp__fifo_pop(e, &x->wait);

		x->nwait--;
		count(h, id, s, e->now_ns);
		go(e, s);
	}
}

void rp__hosts_tick(struct rp_engine *e)
{
	struct rp__hosts *h = e->hosts;
	uint64_t now = e->now_ns;

	if (!h || e->stopping)
		return;
	/* Delays that have passed: waiters go, idle entries are freed. */
	while (h->dhead != HOST_NONE && h->ent[h->dhead].next_ns <= now) {
		uint32_t id = h->dhead;

		delay_unlink(h, id);
		if (h->ent[id].nwait)
			mark_ready(h, id);
		else
			maybe_free(h, id, now);
	}
	while (h->ready != HOST_NONE) {
		uint32_t id = h->ready;

		h->ready = h->ent[id].rnext;
		h->ent[id].in_ready = 0;
		drain_host(e, id);
		maybe_free(h, id, now);
	}
	/* Probes that found the pool full try again, in order. */
	while (h->nhomeless && h->free_head != HOST_NONE) {
		struct slot *s = rp__fifo_pop(e, &h->homeless);

		h->nhomeless--;
		e->st.host_waiting--;
		s->start_ns += now - s->wait_ns;
		s->deadline_ns += now - s->wait_ns;
		if (rp__host_admit(e, s))
			rp__slot_start(e, s);
	}
}

uint64_t rp__hosts_wait_ns(const struct rp_engine *e, uint64_t now)
{
	const struct rp__hosts *h = e->hosts;

	if (!h || !e->st.host_waiting)
		return UINT64_MAX;
	if (h->ready != HOST_NONE ||
	    (h->nhomeless && h->free_head != HOST_NONE))
		return 0;
	if (h->dhead == HOST_NONE)
		return UINT64_MAX; /* waiters wait for probes to end */
	return h->ent[h->dhead].next_ns > now ? h->ent[h->dhead].next_ns - now
					      : 0;
}
