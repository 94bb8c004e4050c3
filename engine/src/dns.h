/*
 * dns.h - what the files of the name service share (internal to dns*.c):
 * the name table, the cache shared between engines, the c-ares socket
 * table, and the per-engine state.
 */
#ifndef RP_DNS_H
#define RP_DNS_H

#include <ares.h>
#include <pthread.h>

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
	int err;                      /* FAILED for a local reason: -errno */
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

/* c-ares runs callbacks from inside its own calls; this is how they find
 * the engine (one engine per thread, so a thread-local suffices). */
extern _Thread_local struct rp_engine *rp__dns_engine;

/* dns_names.c */
int rp__names_init(struct names *t, uint32_t n);
void rp__names_release(struct names *t);
uint32_t rp__names_find(const struct names *t, const char *name);
uint32_t rp__names_add(struct names *t, const char *name, bool *fresh);
bool rp__shared_ask(struct rp_engine *e, uint32_t idx);
void rp__shared_publish(struct rp_engine *e, const struct entry *en,
			bool answer);
void rp__copy_answer(struct entry *dst, const struct entry *src);

/* dns_poll.c */
int rp__dns_grow_fds(struct rp__dns *d);
void rp__dns_sock_state(void *data, ares_socket_t fd, int readable,
			int writable);

/* dns.c */
void rp__dns_start_queued(struct rp_engine *e);

/* dns_poll.c: the ring polls of c-ares's sockets */
void rp__dns_sync(struct rp_engine *e);
void rp__dns_on_poll(struct rp_engine *e, uint64_t ud, int res);

#endif
