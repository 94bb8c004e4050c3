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

#include "stage.h"

#define NAME_MAX_ 254 /* 253 + NUL */
#define FDS_MIN 16    /* c-ares sockets tracked at first; grows */
#define FDS_MAX 4096  /* c-ares sockets at once, at most */
#define NONE UINT32_MAX
#define ADDRS_MAX 8      /* addresses kept per name (--all-addrs) */
#define SWEEP_NS (50 * 1000000ull) /* deadline checks of waiting probes */
#define RCVBUF (1 << 20) /* c-ares UDP socket receive buffer */

enum entry_state {
	E_EMPTY = 0,
	E_QUEUED,   /* waiting for a lookup slot */
	E_ACTIVE,   /* lookup in flight (shared: by its owner engine) */
	E_REMOTE,   /* another engine of the shared cache is resolving it */
	E_RESOLVED,
	E_FAILED,
};

struct entry {
	char name[NAME_MAX_];
	uint8_t state;                /* enum entry_state */
	uint32_t gen;                 /* guards the c-ares callback */
	uint32_t hnext;               /* hash chain */
	uint32_t qnext;               /* queued-lookup FIFO, or remote list */
	const struct rp_engine *owner;/* shared cache: who resolves it */
	uint32_t waiters;             /* first waiting slot, or NONE */
	uint64_t start_ns;            /* lookup started */
	const char *reason;           /* FAILED: why */
	struct sockaddr_in6 addr[ADDRS_MAX]; /* RESOLVED: the addresses,
	                               * IPv4 first (port 0; IPv4 ones are
	                               * sockaddr_in) */
	uint8_t naddrs;
};

/* A bounded table of names: hashed, evicting the oldest finished entry. */
struct names {
	struct entry *entries;
	uint32_t n;
	uint32_t *buckets;            /* hash -> first entry */
	uint32_t nbuckets;            /* power of two */
	uint32_t used;                /* entries handed out so far */
	uint32_t evict;               /* next eviction candidate */
};

/* Names resolved by one engine serve every engine sharing the cache. */
#define SHARED_ENGINES_MAX 256
struct rp_dns_cache {
	pthread_mutex_t mu;
	struct names t;               /* E_ACTIVE (owner set, or NULL when its
	                               * owner gave up), E_RESOLVED, E_FAILED */
	_Atomic uint32_t version;     /* bumped at every answer */
	struct rp_engine *engines[SHARED_ENGINES_MAX];
	unsigned nengines;
};

/* One c-ares socket. An entry is free when it has no fd and no poll in
 * flight: a poll armed on a socket c-ares has let go of holds the socket
 * open in the kernel and would never complete, so it is cancelled, and
 * the entry is reused only once that poll's CQE is back. */
struct dns_fd {
	int fd;                       /* -1: c-ares let go of it */
	uint32_t gen;                 /* bumped when c-ares lets go of it */
	uint8_t want;                 /* POLLIN / POLLOUT wanted */
	uint8_t armed;                /* a POLL_ADD is in flight */
	uint8_t cancelling;           /* its cancel is queued */
	uint64_t armed_ud;            /* user_data of that POLL_ADD */
};

struct rp__dns {
	ares_channel ch;
	bool ok;                      /* channel usable */
	const char *init_error;       /* why not */
	int family;
	uint32_t max_active;          /* --dns-concurrency */
	uint32_t active;              /* lookups in flight */
	struct names t;               /* this engine's names */
	uint32_t qhead, qtail;        /* QUEUED entries */
	struct rp_dns_cache *shared;  /* or NULL */
	uint32_t remote;              /* E_REMOTE entries (list) */
	uint32_t seen_version;        /* of the shared cache */
	uint64_t next_sweep_ns;       /* next deadline sweep */
	bool all_addrs;               /* keep every address of a name */
	size_t off;                   /* our per-slot area (struct dns_slot) */
	struct dns_fd *fds;           /* nfds of them */
	uint32_t nfds;
	bool fds_lost;                /* a socket could not be tracked */
	bool dirty;                   /* poll interest changed */
};

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

size_t rp__dns_priv_size(const struct rp_engine_opts *o)
{
	return o->dns.all_addrs ? sizeof(struct dns_slot)
				: offsetof(struct dns_slot, more);
}

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

/* Doubles the socket table; the new half is free. */
static int grow_fds(struct rp__dns *d)
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
static void sock_state(void *data, ares_socket_t fd, int readable,
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
		if (!free_slot && grow_fds(d) == 0)
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

static int names_init(struct names *t, uint32_t n)
{
	t->n = n;
	t->nbuckets = 1;
	while (t->nbuckets < n)
		t->nbuckets <<= 1;
	/* calloc: pages are touched only as names arrive. */
	t->entries = calloc(n, sizeof(*t->entries));
	t->buckets = malloc(t->nbuckets * sizeof(*t->buckets));
	if (!t->entries || !t->buckets)
		return -ENOMEM;
	memset(t->buckets, 0xff, t->nbuckets * sizeof(*t->buckets));
	return 0;
}

static void names_release(struct names *t)
{
	free(t->entries);
	free(t->buckets);
}

static uint32_t names_find(const struct names *t, const char *name)
{
	uint32_t h = hash_name(name) & (t->nbuckets - 1);

	for (uint32_t i = t->buckets[h]; i != NONE; i = t->entries[i].hnext)
		if (!strcasecmp(t->entries[i].name, name))
			return i;
	return NONE;
}

/* The entry of name, a new E_EMPTY one (*fresh), or NONE if the table is
 * full of unfinished names. */
static uint32_t names_add(struct names *t, const char *name, bool *fresh)
{
	uint32_t h = hash_name(name) & (t->nbuckets - 1);
	uint32_t idx = names_find(t, name);

	*fresh = false;
	if (idx != NONE)
		return idx;
	/* A never-used entry, else the oldest finished one. */
	if (t->used < t->n) {
		idx = t->used++;
	} else {
		for (uint32_t k = 0; k < t->n && idx == NONE; k++) {
			uint32_t c = t->evict;

			t->evict = (t->evict + 1) % t->n;
			if (t->entries[c].state == E_RESOLVED ||
			    t->entries[c].state == E_FAILED)
				idx = c;
		}
		if (idx == NONE)
			return NONE;
		struct entry *old = &t->entries[idx];
		uint32_t *pp = &t->buckets[hash_name(old->name) &
					   (t->nbuckets - 1)];
		while (*pp != idx)
			pp = &t->entries[*pp].hnext;
		*pp = old->hnext;
	}
	struct entry *en = &t->entries[idx];
	snprintf(en->name, sizeof(en->name), "%s", name);
	en->gen++;
	en->state = E_EMPTY;
	en->waiters = NONE;
	en->owner = NULL;
	en->hnext = t->buckets[h];
	t->buckets[h] = idx;
	*fresh = true;
	return idx;
}

int rp_dns_cache_create(struct rp_dns_cache **out, uint32_t size)
{
	struct rp_dns_cache *c;

	if (size > RP_DNS_CACHE_MAX)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (names_init(&c->t, size ? size : 16384) < 0) {
		names_release(&c->t);
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

void rp_dns_cache_destroy(struct rp_dns_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	names_release(&c->t);
	free(c);
}

int rp__dns_init(struct rp_engine *e, size_t priv_off)
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
	if (grow_fds(d) < 0)
		return -ENOMEM;
	d->family = o->family;
	if (d->family != AF_UNSPEC && d->family != AF_INET &&
	    d->family != AF_INET6)
		return -EINVAL;
	d->max_active = o->concurrency ? o->concurrency : 64;
	n = o->cache_size ? o->cache_size : 16384;
	if (n < e->o.concurrency + 1)
		n = e->o.concurrency + 1; /* room for every waiting probe */
	if (names_init(&d->t, n) < 0)
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
	names_release(&d->t);
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
		rp__done(e, s, RP_STATUS_DNS_ERROR, 0);
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

bool rp__dns_next_addr(struct rp_engine *e, struct slot *s)
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

static void start_queued(struct rp_engine *e)
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

/* ---- the cache shared between engines ---------------------------------- */

/* Copies a finished shared entry into a local one. */
static void copy_answer(struct entry *dst, const struct entry *src)
{
	dst->state = src->state;
	dst->reason = src->reason;
	memcpy(dst->addr, src->addr, sizeof(dst->addr));
	dst->naddrs = src->naddrs;
}

/*
 * Before resolving a name itself, an engine asks the shared cache: the
 * answer may be there already (copied, true), or another engine may be
 * resolving it (the local entry waits as E_REMOTE, true). Otherwise this
 * engine becomes its owner (false: go and resolve it).
 */
static bool ask_shared(struct rp_engine *e, uint32_t idx)
{
	struct rp__dns *d = e->dns;
	struct rp_dns_cache *c = d->shared;
	struct entry *en = &d->t.entries[idx];
	bool fresh, handled = false;
	uint32_t si;

	if (!c)
		return false;
	pthread_mutex_lock(&c->mu);
	si = names_add(&c->t, en->name, &fresh);
	if (si != NONE) {
		struct entry *se = &c->t.entries[si];

		if (se->state == E_RESOLVED || se->state == E_FAILED) {
			copy_answer(en, se);
			handled = true;
		} else if (!fresh && se->owner && se->owner != e) {
			en->state = E_REMOTE;
			en->qnext = d->remote;
			d->remote = idx;
			handled = true;
		} else {
			se->state = E_ACTIVE;
			se->owner = e;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return handled;
}

/* An answer of ours goes to the shared cache, and the other engines are
 * woken to look; a cancelled lookup only gives the name up. */
static void publish(struct rp_engine *e, const struct entry *en, bool answer)
{
	struct rp_dns_cache *c = e->dns->shared;
	uint32_t si;

	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	si = names_find(&c->t, en->name);
	if (si != NONE && c->t.entries[si].owner == e) {
		struct entry *se = &c->t.entries[si];

		se->owner = NULL;
		if (answer)
			copy_answer(se, en);
		atomic_fetch_add(&c->version, 1);
		for (unsigned i = 0; i < c->nengines; i++)
			if (c->engines[i] != e)
				rp_engine_wake(c->engines[i]);
	}
	pthread_mutex_unlock(&c->mu);
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
		uint32_t si = names_find(&c->t, en->name);
		struct entry *se = si != NONE ? &c->t.entries[si] : NULL;

		if (se && (se->state == E_RESOLVED || se->state == E_FAILED)) {
			copy_answer(en, se);
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
	if (status == ARES_SUCCESS && en->naddrs) {
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
	publish(e, en, status != ARES_ECANCELLED &&
			       status != ARES_EDESTRUCTION);
	wake_waiters(e, en);
}

void rp__dns_resolve(struct rp_engine *e, struct slot *s, const char *name)
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
	idx = names_add(&d->t, name, &fresh);
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
	if (fresh && ask_shared(e, idx) && en->state != E_REMOTE) {
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
	start_queued(e);
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
void rp__dns_forget(struct rp_engine *e, struct slot *s)
{
	struct dns_slot *w = dslot(e, s);

	if (w->entry != NONE)
		waiter_del(e, &e->dns->t.entries[w->entry], s);
	w->entry = NONE;
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
		struct entry *en = &d->t.entries[d->qhead];

		d->qhead = en->qnext;
		en->state = E_FAILED;
		en->reason = "cancelled";
		publish(e, en, false);
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
	start_queued(e);
}

static bool waiting(const struct rp__dns *d)
{
	return d->active || d->qhead != NONE || d->remote != NONE;
}

uint64_t rp__dns_wait_ns(struct rp_engine *e, uint64_t now)
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
		rp__dns_forget(e, s);
		s->dns_us = (uint32_t)((e->now_ns - s->start_ns) / 1000u);
		s->detail = "timeout";
		rp__done(e, s, RP_STATUS_DNS_ERROR, 0);
	}
}

void rp__dns_tick(struct rp_engine *e)
{
	struct rp__dns *d = e->dns;

	if (!d)
		return;
	if (waiting(d))
		sweep_deadlines(e);
	if (d->remote != NONE) {
		rp__dns_engine = e;
		check_remote(e);
		start_queued(e);
	}
	if (!d->active)
		return;
	rp__dns_engine = e;
	/* No socket: only timeouts and retries are processed. */
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	start_queued(e);
}
