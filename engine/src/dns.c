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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "abi.h"
#include "dns.h"


/* Per slot, in the slot table's block: the links of the waiters of a
 * name, and with --all-addrs the addresses still to probe. */
struct dns_slot {
	uint32_t next, prev;          /* waiters of the same entry */
	uint32_t entry;               /* name entry waited for, or NONE */
	struct sockaddr_in6 more[ADDRS_MAX - 1]; /* only with all_addrs */
};

static struct dns_slot *dslot(const struct rp_engine *e, const struct slot *s)
{
	return rp__area(e, s, e->dns->off);
}

static size_t dns_priv_size(const struct rp_engine_opts *o)
{
	return o->dns.all_addrs ? sizeof(struct dns_slot)
				: offsetof(struct dns_slot, more);
}



static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status;

static void ares_global_init(void)
{
#ifdef RP_FAULT
	/* tests: c-ares's allocations can fail too (fault.h) */
	ares_init_status = ares_library_init_mem(ARES_LIB_INIT_ALL,
						 rp__fault_malloc,
						 rp__fault_free,
						 rp__fault_realloc);
#else
	ares_init_status = ares_library_init(ARES_LIB_INIT_ALL);
#endif
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
	case ARES_ECONNREFUSED: /* also every server answering REFUSED */
		return "refused";
	case ARES_ETIMEOUT:
		return "timeout";
	case ARES_EBADNAME:
		return "bad name";
	case ARES_EFORMERR:
	case ARES_EBADRESP:
		return "bad response";
	default:
		return ares_strerror(status);
	}
}

static int dns_init(struct rp_engine *e, size_t priv_off)
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
	if (rp__dns_grow_fds(d) < 0)
		return -ENOMEM;
	d->family = o->family;
	if (d->family != AF_UNSPEC && d->family != AF_INET &&
	    d->family != AF_INET6) {
		rp__errf(e->err, e->errlen, "dns.family: want AF_UNSPEC, "
			 "AF_INET or AF_INET6");
		return -EINVAL;
	}
	d->max_active = o->concurrency ? o->concurrency : 64;
	n = o->cache_size ? o->cache_size : 16384;
	if (n < e->o.concurrency + 1)
		n = e->o.concurrency + 1; /* room for every waiting probe */
	if (rp__names_init(&d->t, n) < 0)
		return -ENOMEM;
	d->all_addrs = o->all_addrs;
	d->off = priv_off;
	d->qhead = d->qtail = d->remote = NONE;
	d->shared = o->shared;
	if (d->shared) {
		pthread_mutex_lock(&d->shared->mu);
		if (d->shared->nengines < SHARED_ENGINES_MAX)
			d->shared->engines[d->shared->nengines++] = e;
		else
			d->shared = NULL; /* resolves on its own */
		pthread_mutex_unlock(&d->shared->mu);
	}

	pthread_once(&ares_once, ares_global_init);
	if (ares_init_status != ARES_SUCCESS) {
		d->init_error = ares_strerror(ares_init_status);
		return 0;
	}
	memset(&ao, 0, sizeof(ao));
	ao.sock_state_cb = rp__dns_sock_state;
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
	if (ret == ARES_ENOMEM)
		return -ENOMEM; /* not an engine whose names all fail */
	if (ret != ARES_SUCCESS) {
		d->init_error = ares_strerror(ret);
		return 0;
	}
	if (o->servers) {
		ret = ares_set_servers_ports_csv(d->ch, o->servers);
		if (ret != ARES_SUCCESS) {
			ares_destroy(d->ch);
			rp__errf(e->err, e->errlen, "dns.servers: %s",
				 ares_strerror(ret));
			return ret == ARES_ENOMEM ? -ENOMEM : -EINVAL;
		}
	}
	d->ok = true;
	return 0;
}

static void dns_release(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;

	if (!d)
		return;
	if (d->shared) {
		struct rp_dns_cache *c = d->shared;

		/* Names this engine was resolving are up for grabs. */
		pthread_mutex_lock(&c->mu);
		for (uint32_t i = 0; i < c->t.used; i++)
			if (c->t.entries[i].owner == e)
				c->t.entries[i].owner = NULL;
		for (unsigned i = 0; i < c->nengines; i++)
			if (c->engines[i] == e)
				c->engines[i] = c->engines[--c->nengines];
		atomic_fetch_add(&c->version, 1);
		for (unsigned i = 0; i < c->nengines; i++)
			rp_engine_wake(c->engines[i]);
		pthread_mutex_unlock(&c->mu);
	}
	rp__dns_engine = NULL; /* callbacks from ares_destroy() do nothing */
	if (d->ok)
		ares_destroy(d->ch);
	rp__names_release(&d->t);
	free(d->fds);
	free(d);
	e->dns = NULL;
}

/* ---- waiters ------------------------------------------------------------ */

static void waiter_add(struct rp_engine *e, struct entry *en, struct slot *s)
{
	struct dns_slot *w = dslot(e, s);
	uint32_t i = slot_idx(e, s);

	w->prev = NONE;
	w->next = en->waiters;
	if (en->waiters != NONE)
		dslot(e, &e->slots[en->waiters])->prev = i;
	en->waiters = i;
}

static void waiter_del(struct rp_engine *e, struct entry *en, struct slot *s)
{
	struct dns_slot *w = dslot(e, s);

	if (w->prev != NONE)
		dslot(e, &e->slots[w->prev])->next = w->next;
	else
		en->waiters = w->next;
	if (w->next != NONE)
		dslot(e, &e->slots[w->next])->prev = w->prev;
}

static void set_addr(struct slot *s, const struct sockaddr_in6 *a)
{
	s->addrlen = a->sin6_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						: sizeof(struct sockaddr_in);
	memcpy(&s->addr, a, s->addrlen);
	((struct sockaddr_in *)&s->addr)->sin_port = htons(s->port);
}

/* Hands a probe whose name resolved back to the core, or fails it. */
static void resolved(struct rp_engine *e, struct slot *s,
		     const struct entry *en)
{
	s->dns_us = (uint32_t)((e->now_ns - s->start_ns) / 1000u);
	dslot(e, s)->entry = NONE;
	if (s->cancel) {
		rp__done(e, s, RP_STATUS_CANCELLED, 0);
		return;
	}
	if (en->state == E_FAILED) {
		s->detail = en->reason;
		rp__done(e, s, RP_STATUS_DNS_ERROR, en->err);
		return;
	}
	set_addr(s, &en->addr[0]);
	s->nmore = s->imore = 0;
	if (e->dns->all_addrs && en->naddrs > 1) {
		s->nmore = (uint8_t)(en->naddrs - 1);
		memcpy(dslot(e, s)->more, &en->addr[1],
		       s->nmore * sizeof(en->addr[0]));
	}
	rp__resolved(e, s);
}

static bool dns_next_addr(struct rp_engine *e, struct slot *s)
{
	if (!e->dns || !e->dns->all_addrs || s->imore >= s->nmore)
		return false;
	set_addr(s, &dslot(e, s)->more[s->imore++]);
	return true;
}

static void wake_waiters(struct rp_engine *e, struct entry *en)
{
	uint32_t i = en->waiters;

	en->waiters = NONE;
	while (i != NONE) {
		struct slot *s = &e->slots[i];

		i = dslot(e, s)->next;
		resolved(e, s, en);
	}
}

/* ---- lookups ------------------------------------------------------------ */

static void on_addrinfo(void *arg, int status, int timeouts,
			struct ares_addrinfo *res);

static void start_lookup(struct rp_engine *e, uint32_t idx)
{
	struct rp__dns *d = e->dns;
	struct entry *en = &d->t.entries[idx];
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

void rp__dns_start_queued(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;

	while (d->qhead != NONE && d->active < d->max_active) {
		uint32_t idx = d->qhead;

		d->qhead = d->t.entries[idx].qnext;
		if (d->qhead == NONE)
			d->qtail = NONE;
		start_lookup(e, idx);
	}
}

static void enqueue(struct rp__dns *d, uint32_t idx);

/* Local names waiting for another engine: answered, or orphaned (then
 * ours to resolve). Runs when the shared cache changed. */
static void check_remote(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;
	struct rp_dns_cache *c = d->shared;
	uint32_t v, i, keep = NONE;

	if (!c || d->remote == NONE)
		return;
	v = atomic_load(&c->version);
	if (v == d->seen_version)
		return;
	d->seen_version = v;
	pthread_mutex_lock(&c->mu);
	i = d->remote;
	d->remote = NONE;
	while (i != NONE) {
		struct entry *en = &d->t.entries[i];
		uint32_t next = en->qnext;
		uint32_t si = rp__names_find(&c->t, en->name);
		struct entry *se = si != NONE ? &c->t.entries[si] : NULL;

		if (se && (se->state == E_RESOLVED || se->state == E_FAILED)) {
			rp__copy_answer(en, se);
			en->qnext = NONE;
			wake_waiters(e, en);
		} else if (!se || !se->owner) {
			if (se) {
				se->state = E_ACTIVE;
				se->owner = e;
			}
			enqueue(d, i);
		} else {
			en->qnext = keep;
			keep = i;
		}
		i = next;
	}
	d->remote = keep;
	pthread_mutex_unlock(&c->mu);
}

/*
 * c-ares ends a lookup ARES_ECONNREFUSED both when no server could be
 * reached and when it could not open a socket to reach one (a full
 * descriptor table: EMFILE, ENFILE). The second is a local failure, not
 * the resolver's: try a socket of our own to tell them apart. Returns
 * its -errno, or 0 if sockets can be made.
 */
static int socket_error(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static void on_addrinfo(void *arg, int status, int timeouts,
			struct ares_addrinfo *res)
{
	struct rp_engine *e;
	uint64_t key = (uint64_t)(uintptr_t)arg;
	uint32_t idx = (uint32_t)key;
	(void)timeouts;
	e = rp__dns_engine;
	if (!e || !e->dns || idx >= e->dns->t.n ||
	    e->dns->t.entries[idx].gen != (uint32_t)(key >> 32) ||
	    e->dns->t.entries[idx].state != E_ACTIVE) {
		if (res)
			ares_freeaddrinfo(res);
		return;
	}
	struct rp__dns *d = e->dns;
	struct entry *en = &d->t.entries[idx];

	d->active--;
	/* IPv4 addresses first, then IPv6, each in the order given. */
	en->naddrs = 0;
	for (int fam = 0; fam < 2; fam++)
		for (struct ares_addrinfo_node *n = res ? res->nodes : NULL;
		     n && en->naddrs < ADDRS_MAX; n = n->ai_next) {
			int want = fam == 0 ? AF_INET : AF_INET6;

			if (n->ai_family != want ||
			    n->ai_addrlen > sizeof(en->addr[0]))
				continue;
			memset(&en->addr[en->naddrs], 0, sizeof(en->addr[0]));
			memcpy(&en->addr[en->naddrs++], n->ai_addr,
			       n->ai_addrlen);
		}
	en->err = 0;
	if (status == ARES_SUCCESS && en->naddrs) {
		en->state = E_RESOLVED;
	} else {
		en->state = E_FAILED;
		en->reason = status == ARES_ECANCELLED ||
					     status == ARES_EDESTRUCTION
				     ? "cancelled"
			     : status == ARES_SUCCESS ? "no address"
						      : reason_of(status);
		if (status == ARES_ECONNREFUSED &&
		    (en->err = socket_error()) < 0)
			en->reason = "no socket";
	}
	if (res)
		ares_freeaddrinfo(res);
	rp__shared_publish(e, en, status != ARES_ECANCELLED &&
			       status != ARES_EDESTRUCTION);
	wake_waiters(e, en);
}

static void dns_resolve(struct rp_engine *e, struct slot *s, const char *name)
{
	struct rp__dns *d = e->dns;
	struct entry *en;
	uint32_t idx;
	bool fresh;

	dslot(e, s)->entry = NONE;
	if (!d->ok) {
		s->detail = d->init_error ? d->init_error
					  : "resolver unavailable";
		rp__done(e, s, RP_STATUS_DNS_ERROR, 0);
		return;
	}
	idx = rp__names_add(&d->t, name, &fresh);
	if (idx == NONE) {
		s->detail = "name cache full";
		rp__done(e, s, RP_STATUS_DNS_ERROR, -ENOSPC);
		return;
	}
	en = &d->t.entries[idx];
	if (en->state == E_RESOLVED || en->state == E_FAILED) {
		resolved(e, s, en);
		s->dns_us = 0; /* from the cache */
		return;
	}
	if (fresh && rp__shared_ask(e, idx) && en->state != E_REMOTE) {
		resolved(e, s, en); /* another engine resolved it already */
		s->dns_us = 0;
		return;
	}
	dslot(e, s)->entry = idx;
	rp__set_phase(e, s, PHASE_RESOLVING);
	waiter_add(e, en, s);
	if (!fresh || en->state == E_REMOTE)
		return; /* a lookup is queued or in flight already */
	enqueue(d, idx);
	rp__dns_engine = e;
	rp__dns_start_queued(e);
}

static void enqueue(struct rp__dns *d, uint32_t idx)
{
	struct entry *en = &d->t.entries[idx];

	en->state = E_QUEUED;
	en->qnext = NONE;
	if (d->qtail == NONE)
		d->qhead = idx;
	else
		d->t.entries[d->qtail].qnext = idx;
	d->qtail = idx;
}

/* Takes one waiting probe off its lookup (cancel of that probe). */
static void dns_forget(struct rp_engine *e, struct slot *s)
{
	struct dns_slot *w = dslot(e, s);

	if (w->entry != NONE)
		waiter_del(e, &e->dns->t.entries[w->entry], s);
	w->entry = NONE;
}

/* Stop: every lookup, queued or in flight, ends now as cancelled. */
static void dns_cancel_all(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;

	if (!d || !d->ok)
		return;
	rp__dns_engine = e;
	ares_cancel(d->ch); /* ACTIVE entries: callbacks say cancelled */
	while (d->qhead != NONE) {
		struct entry *en = &d->t.entries[d->qhead];

		d->qhead = en->qnext;
		en->state = E_FAILED;
		en->reason = "cancelled";
		rp__shared_publish(e, en, false);
		wake_waiters(e, en);
	}
	d->qtail = NONE;
	while (d->remote != NONE) {
		struct entry *en = &d->t.entries[d->remote];

		d->remote = en->qnext;
		en->state = E_FAILED;
		en->reason = "cancelled";
		wake_waiters(e, en);
	}
	d->dirty = true;
}


static bool waiting(const struct rp__dns *d)
{
	return d->active || d->qhead != NONE || d->remote != NONE;
}

static uint64_t dns_wait_ns(struct rp_engine *e, uint64_t now)
{
	struct rp__dns *d = e->dns;
	struct timeval tv, *tp;
	uint64_t ns;

	if (!d || !waiting(d))
		return UINT64_MAX;
	/* Wake up for the deadline sweep, and for c-ares's next retry. */
	ns = d->next_sweep_ns > now ? d->next_sweep_ns - now : 0;
	tp = d->active ? ares_timeout(d->ch, NULL, &tv) : NULL;
	if (tp) {
		uint64_t retry = (uint64_t)tp->tv_sec * 1000000000ull +
				 (uint64_t)tp->tv_usec * 1000u;

		if (retry < ns)
			ns = retry;
	}
	return ns;
}

/*
 * The overall deadline covers resolution too, but a probe waiting for a
 * name has no op of its own in the ring to carry a link timeout: every
 * SWEEP_NS, probes still waiting past their deadline end as dns-error
 * "timeout" (the lookup goes on for any other waiters). O(concurrency),
 * and only while lookups are pending.
 */
static void sweep_deadlines(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;

	if (e->now_ns < d->next_sweep_ns)
		return;
	d->next_sweep_ns = e->now_ns + SWEEP_NS;
	for (uint32_t i = 0; i < e->o.concurrency; i++) {
		struct slot *s = &e->slots[i];

		if (s->phase != PHASE_RESOLVING || e->now_ns < s->deadline_ns)
			continue;
		dns_forget(e, s);
		s->dns_us = (uint32_t)((e->now_ns - s->start_ns) / 1000u);
		s->detail = "timeout";
		rp__done(e, s, RP_STATUS_DNS_ERROR, 0);
	}
}

static void dns_tick(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;

	if (!d)
		return;
	rp__dns_engine = e; /* for the c-ares callbacks below */
	/* The polls this turn may have ended lookups: start queued ones. */
	rp__dns_start_queued(e);
	if (waiting(d))
		sweep_deadlines(e);
	if (d->remote != NONE) {
		check_remote(e);
		rp__dns_start_queued(e);
	}
	if (!d->active)
		return;
	/* No socket: only timeouts and retries are processed. */
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rp__dns_start_queued(e);
}

const struct rp__names_ops rp__dns_names = {
	.priv_size = dns_priv_size,
	.init = dns_init,
	.release = dns_release,
	.resolve = dns_resolve,
	.forget = dns_forget,
	.cancel_all = dns_cancel_all,
	.sync = rp__dns_sync,
	.on_poll = rp__dns_on_poll,
	.wait_ns = dns_wait_ns,
	.tick = dns_tick,
	.next_addr = dns_next_addr,
};
