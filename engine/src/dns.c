/*
 * dns.c - hostname resolution inside the engine's loop, with c-ares.
 *
 * No thread, no blocking call: c-ares tells us (sock_state_cb) which of its
 * sockets it wants to read or write, and we arm a one-shot POLL_ADD in the
 * ring for each; a poll completion feeds ares_process_fd(), and the loop's
 * wait is cut to c-ares's next timeout so its retries run on time.
 * getaddrinfo is called with ARES_AI_NOSORT: the RFC 6724 sort would do a
 * blocking UDP connect per address.
 *
 * Names live in a cache of entries, one per distinct name for the run, so
 * a name that comes with many ports is resolved once. An entry is EMPTY,
 * QUEUED (waiting for a lookup slot: --dns-concurrency caps lookups in
 * flight so names do not starve connects), ACTIVE (query in flight),
 * RESOLVED or FAILED. Probes waiting for an entry hang on its list of
 * waiters (slot indices, doubly linked through the slots); when the answer
 * comes each waiter starts its connect or fails with DNS_ERROR. Only
 * RESOLVED/FAILED entries are evicted, oldest first, when the cache is full.
 */
#include <ares.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "engine_int.h"
#include "trace.h"

#define NAME_MAX_ 254 /* 253 + NUL */
#define FDS_MAX 64    /* c-ares sockets at once */
#define NONE UINT32_MAX
#define RCVBUF (1 << 20) /* c-ares UDP socket receive buffer */

enum entry_state { E_EMPTY = 0, E_QUEUED, E_ACTIVE, E_RESOLVED, E_FAILED };

struct entry {
	char name[NAME_MAX_];
	uint8_t state;                /* enum entry_state */
	uint32_t gen;                 /* guards the c-ares callback */
	uint32_t hnext;               /* hash chain */
	uint32_t qnext;               /* queued-lookup FIFO */
	uint32_t waiters;             /* first waiting slot, or NONE */
	uint64_t start_ns;            /* lookup started */
	const char *reason;           /* FAILED: why */
	struct sockaddr_in6 addr;     /* RESOLVED: the address (port 0;
	                               * a sockaddr_in for IPv4) */
	socklen_t addrlen;
};

struct dns_fd {
	int fd;                       /* -1: unused */
	uint32_t gen;                 /* bumped when c-ares lets go of it */
	uint8_t want;                 /* POLLIN / POLLOUT wanted */
	uint8_t armed;                /* a POLL_ADD is in flight */
};

struct rp__dns {
	ares_channel ch;
	bool ok;                      /* channel usable */
	const char *init_error;       /* why not */
	int family;
	uint32_t max_active;          /* --dns-concurrency */
	uint32_t active;              /* lookups in flight */
	struct entry *entries;
	uint32_t nentries;
	uint32_t *buckets;            /* hash -> first entry */
	uint32_t nbuckets;            /* power of two */
	uint32_t used;                /* entries handed out so far */
	uint32_t evict;               /* next eviction candidate */
	uint32_t qhead, qtail;        /* QUEUED entries */
	struct dns_fd fds[FDS_MAX];
	bool dirty;                   /* poll interest changed */
};

/* c-ares runs callbacks from inside its own calls; this is how they find
 * the engine (one engine per thread, so a thread-local suffices). */
static _Thread_local struct rp_engine *rp__dns_engine;

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status;

static void ares_global_init(void)
{
	ares_init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) /* case-insensitive: DNS names are */
		h = (h ^ (uint8_t)(*s | 0x20)) * 16777619u;
	return h;
}

static const char *reason_of(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:
		return "NXDOMAIN";
	case ARES_ENODATA:
		return "no address";
	case ARES_ESERVFAIL:
		return "SERVFAIL";
	case ARES_EREFUSED:
		return "refused";
	case ARES_ETIMEOUT:
		return "timeout";
	case ARES_ECONNREFUSED:
		return "resolver unreachable";
	case ARES_EBADNAME:
		return "bad name";
	case ARES_EFORMERR:
	case ARES_EBADRESP:
		return "bad response";
	default:
		return ares_strerror(status);
	}
}

/* c-ares says what it wants of a socket: just remember it, the ring is
 * updated once the c-ares call returns (this runs inside it). */
static void sock_state(void *data, ares_socket_t fd, int readable,
		       int writable)
{
	struct rp__dns *d = data;
	struct dns_fd *free_slot = NULL, *f = NULL;
	uint8_t want = (uint8_t)((readable ? POLLIN : 0) |
				 (writable ? POLLOUT : 0));

	for (int i = 0; i < FDS_MAX; i++) {
		if (d->fds[i].fd == fd) {
			f = &d->fds[i];
			break;
		}
		if (d->fds[i].fd < 0 && !d->fds[i].armed && !free_slot)
			free_slot = &d->fds[i];
	}
	if (!f) {
		if (!want || !free_slot)
			return; /* NEEDSWORK: more than FDS_MAX sockets */
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

int rp__dns_init(struct rp_engine *e)
{
	const struct rp_dns_opts *o = &e->o.dns;
	struct rp__dns *d = calloc(1, sizeof(*d));
	struct ares_options ao;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
		   ARES_OPT_LOOKUPS | ARES_OPT_SOCK_RCVBUF;
	uint32_t n;

	if (!d)
		return -ENOMEM;
	e->dns = d;
	for (int i = 0; i < FDS_MAX; i++)
		d->fds[i].fd = -1;
	d->family = o->family;
	if (d->family != AF_UNSPEC && d->family != AF_INET &&
	    d->family != AF_INET6)
		return -EINVAL;
	d->max_active = o->concurrency ? o->concurrency : 64;
	n = o->cache_size ? o->cache_size : 16384;
	if (n < e->o.concurrency + 1)
		n = e->o.concurrency + 1; /* room for every waiting probe */
	d->nentries = n;
	d->nbuckets = 1;
	while (d->nbuckets < n)
		d->nbuckets <<= 1;
	/* calloc: pages are touched only as names arrive. */
	d->entries = calloc(n, sizeof(*d->entries));
	d->buckets = malloc(d->nbuckets * sizeof(*d->buckets));
	if (!d->entries || !d->buckets)
		return -ENOMEM;
	memset(d->buckets, 0xff, d->nbuckets * sizeof(*d->buckets));
	d->qhead = d->qtail = NONE;

	pthread_once(&ares_once, ares_global_init);
	if (ares_init_status != ARES_SUCCESS) {
		d->init_error = ares_strerror(ares_init_status);
		return 0;
	}
	memset(&ao, 0, sizeof(ao));
	ao.sock_state_cb = sock_state;
	ao.sock_state_cb_data = d;
	ao.timeout = (int)((o->timeout_ns ? o->timeout_ns : 2000000000ull) /
			   1000000u);
	if (ao.timeout <= 0)
		ao.timeout = 1;
	ao.tries = o->tries ? (int)o->tries : 2;
	ao.lookups = o->no_hosts ? "b" : "fb";
	/* All answers arrive on one UDP socket per server; a burst of them
	 * must not overflow its default buffer (each loss costs a retry
	 * after --dns-timeout). The kernel caps it at net.core.rmem_max. */
	ao.socket_receive_buffer_size = RCVBUF;
	int ret = ares_init_options(&d->ch, &ao, mask);
	if (ret != ARES_SUCCESS) {
		d->init_error = ares_strerror(ret);
		return 0;
	}
	if (o->servers) {
		ret = ares_set_servers_ports_csv(d->ch, o->servers);
		if (ret != ARES_SUCCESS) {
			ares_destroy(d->ch);
			return -EINVAL;
		}
	}
	d->ok = true;
	return 0;
}

void rp__dns_release(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;

	if (!d)
		return;
	rp__dns_engine = NULL; /* callbacks from ares_destroy() do nothing */
	if (d->ok)
		ares_destroy(d->ch);
	free(d->entries);
	free(d->buckets);
	free(d);
	e->dns = NULL;
}

/* ---- waiters ------------------------------------------------------------ */

static void waiter_add(struct rp_engine *e, struct entry *en, struct slot *s)
{
	uint32_t i = slot_idx(e, s);

	s->wprev = NONE;
	s->next = en->waiters;
	if (en->waiters != NONE)
		e->slots[en->waiters].wprev = i;
	en->waiters = i;
}

static void waiter_del(struct rp_engine *e, struct entry *en, struct slot *s)
{
	if (s->wprev != NONE)
		e->slots[s->wprev].next = s->next;
	else
		en->waiters = s->next;
	if (s->next != NONE)
		e->slots[s->next].wprev = s->wprev;
}

/* Starts the connect of a probe whose name resolved, or fails it. */
static void resolved(struct rp_engine *e, struct slot *s,
		     const struct entry *en)
{
	s->dns_us = (uint32_t)((e->now_ns - s->start_ns) / 1000u);
	s->dns_entry = NONE;
	if (s->cancel) {
		rp__done(e, s, RP_STATUS_CANCELLED, 0);
		return;
	}
	if (en->state == E_FAILED) {
		s->detail = en->reason;
		rp__done(e, s, RP_STATUS_DNS_ERROR, 0);
		return;
	}
	memcpy(&s->addr, &en->addr, en->addrlen);
	s->addrlen = en->addrlen;
	((struct sockaddr_in *)&s->addr)->sin_port = htons(s->port);
	rp__connect(e, s);
}

static void wake_waiters(struct rp_engine *e, struct entry *en)
{
	uint32_t i = en->waiters;

	en->waiters = NONE;
	while (i != NONE) {
		struct slot *s = &e->slots[i];

		i = s->next;
		resolved(e, s, en);
	}
}

/* ---- lookups ------------------------------------------------------------ */

static void on_addrinfo(void *arg, int status, int timeouts,
			struct ares_addrinfo *res);

static void start_lookup(struct rp_engine *e, uint32_t idx)
{
	struct rp__dns *d = e->dns;
	struct entry *en = &d->entries[idx];
	struct ares_addrinfo_hints hints = {
		.ai_flags = ARES_AI_NOSORT,
		.ai_family = d->family,
		.ai_socktype = SOCK_STREAM,
	};

	en->state = E_ACTIVE;
	en->start_ns = e->now_ns;
	d->active++;
	/* The callback may run right here (/etc/hosts, bad name). */
	ares_getaddrinfo(d->ch, en->name, NULL, &hints, on_addrinfo,
			 (void *)(uintptr_t)((uint64_t)en->gen << 32 | idx));
}

static void start_queued(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;

	while (d->qhead != NONE && d->active < d->max_active) {
		uint32_t idx = d->qhead;

		d->qhead = d->entries[idx].qnext;
		if (d->qhead == NONE)
			d->qtail = NONE;
		start_lookup(e, idx);
	}
}

static void on_addrinfo(void *arg, int status, int timeouts,
			struct ares_addrinfo *res)
{
	struct rp_engine *e;
	uint64_t key = (uint64_t)(uintptr_t)arg;
	uint32_t idx = (uint32_t)key;
	struct ares_addrinfo_node *pick = NULL;

	(void)timeouts;
	e = rp__dns_engine;
	if (!e || !e->dns || idx >= e->dns->nentries ||
	    e->dns->entries[idx].gen != (uint32_t)(key >> 32) ||
	    e->dns->entries[idx].state != E_ACTIVE) {
		if (res)
			ares_freeaddrinfo(res);
		return;
	}
	struct rp__dns *d = e->dns;
	struct entry *en = &d->entries[idx];

	d->active--;
	/* First IPv4 address, else the first IPv6 one. */
	for (struct ares_addrinfo_node *n = res ? res->nodes : NULL; n;
	     n = n->ai_next) {
		if (n->ai_family != AF_INET && n->ai_family != AF_INET6)
			continue;
		if (!pick || (pick->ai_family != AF_INET &&
			      n->ai_family == AF_INET))
			pick = n;
	}
	if (status == ARES_SUCCESS && pick &&
	    pick->ai_addrlen <= sizeof(en->addr)) {
		memcpy(&en->addr, pick->ai_addr, pick->ai_addrlen);
		en->addrlen = pick->ai_addrlen;
		en->state = E_RESOLVED;
	} else {
		en->state = E_FAILED;
		en->reason = status == ARES_ECANCELLED ||
					     status == ARES_EDESTRUCTION
				     ? "cancelled"
			     : status == ARES_SUCCESS ? "no address"
						      : reason_of(status);
	}
	if (res)
		ares_freeaddrinfo(res);
	wake_waiters(e, en);
}

static uint32_t find_or_add(struct rp__dns *d, const char *name, bool *fresh)
{
	uint32_t h = hash_name(name) & (d->nbuckets - 1);

	*fresh = false;
	for (uint32_t i = d->buckets[h]; i != NONE; i = d->entries[i].hnext)
		if (!strcasecmp(d->entries[i].name, name))
			return i;
	/* A new entry: a never-used one, else the oldest finished one. */
	uint32_t idx = NONE;
	if (d->used < d->nentries) {
		idx = d->used++;
	} else {
		for (uint32_t n = 0; n < d->nentries; n++) {
			uint32_t c = d->evict;

			d->evict = (d->evict + 1) % d->nentries;
			if (d->entries[c].state == E_RESOLVED ||
			    d->entries[c].state == E_FAILED) {
				idx = c;
				break;
			}
		}
		if (idx == NONE)
			return NONE;
		/* unhook from its old chain */
		struct entry *old = &d->entries[idx];
		uint32_t oh = hash_name(old->name) & (d->nbuckets - 1);
		uint32_t *pp = &d->buckets[oh];
		while (*pp != idx)
			pp = &d->entries[*pp].hnext;
		*pp = old->hnext;
	}
	struct entry *en = &d->entries[idx];
	snprintf(en->name, sizeof(en->name), "%s", name);
	en->gen++;
	en->state = E_EMPTY;
	en->waiters = NONE;
	en->hnext = d->buckets[h];
	d->buckets[h] = idx;
	*fresh = true;
	return idx;
}

void rp__dns_resolve(struct rp_engine *e, struct slot *s, const char *name)
{
	struct rp__dns *d = e->dns;
	struct entry *en;
	uint32_t idx;
	bool fresh;

	s->dns_entry = NONE;
	if (!d->ok) {
		s->detail = d->init_error ? d->init_error
					  : "resolver unavailable";
		rp__done(e, s, RP_STATUS_DNS_ERROR, 0);
		return;
	}
	idx = find_or_add(d, name, &fresh);
	if (idx == NONE) {
		s->detail = "name cache full";
		rp__done(e, s, RP_STATUS_DNS_ERROR, -ENOSPC);
		return;
	}
	en = &d->entries[idx];
	if (en->state == E_RESOLVED || en->state == E_FAILED) {
		resolved(e, s, en);
		s->dns_us = 0; /* from the cache */
		return;
	}
	s->dns_entry = idx;
	s->state = SLOT_RESOLVING;
	RP_TRACE_PHASE(s->index, SLOT_RESOLVING);
	waiter_add(e, en, s);
	if (!fresh)
		return; /* a lookup is queued or in flight already */
	en->state = E_QUEUED;
	en->qnext = NONE;
	if (d->qtail == NONE)
		d->qhead = idx;
	else
		d->entries[d->qtail].qnext = idx;
	d->qtail = idx;
	rp__dns_engine = e;
	start_queued(e);
}

/* Takes one waiting probe off its lookup (cancel of that probe). */
void rp__dns_forget(struct rp_engine *e, struct slot *s)
{
	if (s->dns_entry != NONE)
		waiter_del(e, &e->dns->entries[s->dns_entry], s);
	s->dns_entry = NONE;
}

/* Stop: every lookup, queued or in flight, ends now as cancelled. */
void rp__dns_cancel_all(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;

	if (!d || !d->ok)
		return;
	rp__dns_engine = e;
	ares_cancel(d->ch); /* ACTIVE entries: callbacks say cancelled */
	while (d->qhead != NONE) {
		struct entry *en = &d->entries[d->qhead];

		d->qhead = en->qnext;
		en->state = E_FAILED;
		en->reason = "cancelled";
		wake_waiters(e, en);
	}
	d->qtail = NONE;
	d->dirty = true;
}

/* Arms or refreshes the ring polls c-ares asked for. */
void rp__dns_sync(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;

	if (!d || !d->dirty)
		return;
	d->dirty = false;
	for (int i = 0; i < FDS_MAX; i++) {
		struct dns_fd *f = &d->fds[i];
		struct io_uring_sqe *sqe;

		if (f->fd < 0 || !f->want || f->armed)
			continue;
		sqe = rp__ring_reserve(&e->r, 1);
		if (!sqe) {
			d->dirty = true;
			return;
		}
		io_uring_prep_poll_add(sqe, f->fd, f->want);
		sqe->user_data = rp__ud(f->gen, (uint32_t)i, RP__OP_DNS_POLL);
		f->armed = 1;
	}
}

void rp__dns_on_poll(struct rp_engine *e, uint64_t ud, int res)
{
	struct rp__dns *d = e->dns;
	uint32_t i = rp__ud_slot(ud);
	struct dns_fd *f;

	if (!d || i >= FDS_MAX)
		return;
	f = &d->fds[i];
	f->armed = 0;
	d->dirty = true;
	if (f->gen != rp__ud_gen(ud) || f->fd < 0 || res < 0)
		return; /* stale, or cancelled: rp__dns_sync() re-arms */
	rp__dns_engine = e;
	ares_process_fd(d->ch,
			(res & (POLLIN | POLLERR | POLLHUP)) ? f->fd
							     : ARES_SOCKET_BAD,
			(res & POLLOUT) ? f->fd : ARES_SOCKET_BAD);
	start_queued(e);
}

uint64_t rp__dns_wait_ns(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;
	struct timeval tv, *tp;

	if (!d || !d->active)
		return UINT64_MAX;
	tp = ares_timeout(d->ch, NULL, &tv);
	if (!tp)
		return UINT64_MAX;
	return (uint64_t)tp->tv_sec * 1000000000ull +
	       (uint64_t)tp->tv_usec * 1000u;
}

void rp__dns_tick(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;

	if (!d || !d->active)
		return;
	rp__dns_engine = e;
	/* No socket: only timeouts and retries are processed. */
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	start_queued(e);
}
