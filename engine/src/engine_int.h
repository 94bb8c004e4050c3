/*
 * engine_int.h - what the engine's modules share: the probe slot, the
 * engine, and the few functions one probe kind calls in another
 * (internal).
 */
#ifndef RP_ENGINE_INT_H
#define RP_ENGINE_INT_H

#include <linux/time_types.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ring.h"
#include "ringprobe.h"
#include "ud.h"

struct rp__http;
struct rp__dns;

/* A FIFO of slots linked through slot.next (a slot is on one at most). */
struct slot_fifo {
	uint32_t head;                /* SLOT_NONE when empty */
	uint32_t tail;
};

#define NS_PER_SEC 1000000000ull
#define NS_PER_MS 1000000ull
#define SLOT_NONE UINT32_MAX
#define CHAIN_MAX 6 /* SQEs in one connect chain */
#define LOCAL_ADDRS_MAX 32
#define VERIFY_NS (100 * NS_PER_MS) /* bound on the post-timeout check */
#define STOP_POLL_MS 2 /* turn length while cancels are taking effect */
#define DESTROY_WAIT_NS (5 * NS_PER_SEC) /* for the kernel to let go */
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51 /* Linux 6.3 */
#endif

enum slot_state {
	SLOT_FREE = 0,
	SLOT_DONE,       /* outcome known without I/O; reported this turn */
	SLOT_REPORTING,  /* its result callback is running */
	SLOT_RESOLVING,  /* waiting for its name (dns.c), no op in flight */
	SLOT_CONNECTING, /* a connect chain (or its verify) is in flight */
	SLOT_SENDING,    /* HTTP: the request is being sent */
	SLOT_RECEIVING,  /* HTTP: the response is being read */
};

/* States from here on are probes under way. */
#define SLOT_ACTIVE SLOT_RESOLVING

struct slot {
	uint32_t gen;                 /* bumped when the slot is released */
	uint8_t state;                /* enum slot_state */
	uint8_t cancel;               /* cancel asked for this probe */
	uint8_t ops;                  /* CQEs still expected */
	uint8_t status;               /* outcome, once known */
	uint8_t self_risk;            /* target on this host, port ephemeral */
	uint8_t verifying;            /* VERIFY connect in flight */
	uint8_t op;                   /* enum rp__op of the op in flight */
	uint8_t redirects;            /* HTTP redirects followed */
	uint8_t has_socket;           /* the file slot (or fd) holds a socket */
	uint32_t next;                /* free list / done list / waiter link */
	uint32_t wprev;               /* waiter list back link (dns.c) */
	uint32_t dns_entry;           /* name cache entry waited for */
	uint32_t dns_us;              /* name resolution time */
	uint16_t port;                /* port of a target given by name */
	uint8_t nmore;                /* --all-addrs: addresses after this */
	uint8_t imore;                /* next of them */
	uint32_t attempts;            /* connect attempts made */
	int fd;                       /* fallback socket, or -1 */
	int err;                      /* errno behind the outcome */
	uint32_t rtt_us;              /* last connect round trip */
	const char *detail;           /* static reason text, or NULL */
	uint64_t start_ns;            /* first attempt submitted */
	uint64_t deadline_ns;         /* start + overall timeout */
	uint64_t attempt_ns;          /* this attempt submitted */
	uint64_t expire_ns;           /* this attempt's link timeout */
	struct __kernel_timespec ts;  /* link timeout, read at submit */
	uint32_t port_range;          /* IP_LOCAL_PORT_RANGE optval */
	struct sockaddr_storage addr; /* target */
	socklen_t addrlen;
	uint64_t index;               /* caller's ordinal */
	void *user;                   /* caller's pointer */
	char input[RP_INPUT_MAX];     /* copy of the input text */
};

struct rp_engine {
	struct rp__ring r;
	struct rp_engine_opts o;
	struct slot *slots;           /* o.concurrency of them */
	char (*details)[RP_INPUT_MAX];/* preset detail text, per slot */
	uint32_t free_head;           /* LIFO free list: hot slots reused */
	uint32_t nfree;
	struct slot_fifo done;        /* SLOT_DONE slots to report */
	uint32_t inflight;            /* slots not FREE */
	rp_pull_fn pull;
	void *pull_arg;
	bool pull_idle;               /* source said "not now" */
	bool pull_done;               /* source exhausted */
	bool stopping;                /* stop begun: cancel sent */
	unsigned in_callback;         /* on_result is running */
	atomic_bool stop_req;         /* set by rp_engine_stop() */
	int wake_fd;                  /* eventfd: stop and wake */
	bool wake_armed;              /* its read is in flight */
	uint64_t wake_buf;
	atomic_int notify_fd;         /* registered eventfd for rp_engine_fd,
	                               * or -1 */
	uint64_t rate_interval_ns;    /* 1 s / rate, or 0 */
	uint64_t rate_burst_ns;
	uint64_t rate_next_ns;        /* GCRA theoretical arrival time */
	bool rate_refused;            /* a submit was refused for the rate
	                               * since the last turn */
	uint64_t now_ns;              /* clock read once per turn */
	struct rp__http *http;        /* HTTP mode state, or NULL */
	struct rp__dns *dns;          /* name resolution (dns.c) */
	uint16_t eph_lo, eph_hi;      /* ip_local_port_range */
	bool port_range_ok;           /* kernel has IP_LOCAL_PORT_RANGE */
	int nlocal;                   /* addresses of this host */
	struct sockaddr_storage local[LOCAL_ADDRS_MAX];
	struct rp_stats st;
};

static inline uint32_t slot_idx(const struct rp_engine *e,
				const struct slot *s)
{
	return (uint32_t)(s - e->slots);
}

static inline void fifo_init(struct slot_fifo *f)
{
	f->head = f->tail = SLOT_NONE;
}

static inline void fifo_push(struct rp_engine *e, struct slot_fifo *f,
			     struct slot *s)
{
	uint32_t i = slot_idx(e, s);

	s->next = SLOT_NONE;
	if (f->tail == SLOT_NONE)
		f->head = i;
	else
		e->slots[f->tail].next = i;
	f->tail = i;
}

static inline struct slot *fifo_pop(struct rp_engine *e, struct slot_fifo *f)
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

/* The probe's socket as an SQE's fd: its file slot (direct), or its fd. */
static inline int slot_fd(const struct rp_engine *e, const struct slot *s)
{
	return e->r.direct ? (int)slot_idx(e, s) : s->fd;
}

/*
 * Makes sqe (prepared on slot_fd()) the probe's one op in flight, `op`,
 * bounded by a link timeout at s->ts (ts_flags: IORING_TIMEOUT_ABS or 0)
 * in the SQE after it, which the caller reserved with it (engine.c).
 */
void rp__link_op(struct rp_engine *e, struct slot *s, struct io_uring_sqe *sqe,
		 enum rp__op op, unsigned ts_flags);

/* Emits the probe's one result and gives the slot back (engine.c). */
void rp__finish(struct rp_engine *e, struct slot *s, enum rp_status status,
		int err);

/* Queues the socket's close (engine.c). */
void rp__close_socket(struct rp_engine *e, struct slot *s);

/* Classifies an -ECANCELED of the op in flight: CANCELLED if we asked,
 * else whether its link timeout passed (engine.c). */
bool rp__cancelled(const struct rp_engine *e, const struct slot *s);

/* Sets s->ts to min(now + ns, deadline), absolute, for a link timeout. */
void rp__arm_expiry(struct rp_engine *e, struct slot *s, uint64_t ns);

/* Reports an outcome known without (more) I/O at the end of the turn:
 * never calls on_result from inside the caller (engine.c). */
void rp__done(struct rp_engine *e, struct slot *s, enum rp_status status,
	      int err);

/* Starts connecting a probe whose address is known (engine.c). */
void rp__connect(struct rp_engine *e, struct slot *s);

/* Name resolution (dns.c). */
int rp__dns_init(struct rp_engine *e);
void rp__dns_release(struct rp_engine *e);
void rp__dns_resolve(struct rp_engine *e, struct slot *s, const char *name);
void rp__dns_forget(struct rp_engine *e, struct slot *s);
void rp__dns_cancel_all(struct rp_engine *e);
void rp__dns_sync(struct rp_engine *e);
void rp__dns_on_poll(struct rp_engine *e, uint64_t ud, int res);
uint64_t rp__dns_wait_ns(struct rp_engine *e, uint64_t now);
void rp__dns_tick(struct rp_engine *e);
bool rp__dns_next_addr(struct rp_engine *e, struct slot *s);

/* HTTP mode (probe_http.c). */
int rp__http_init(struct rp_engine *e);
void rp__http_release(struct rp_engine *e);
int rp__http_take(struct rp_engine *e, struct slot *s,
		  const struct rp_target *t);
void rp__http_start(struct rp_engine *e, struct slot *s);
void rp__http_on_cqe(struct rp_engine *e, struct slot *s,
		     const struct io_uring_cqe *cqe);
bool rp__http_recycle(struct rp_engine *e, const struct io_uring_cqe *cqe);
void rp__http_rearm(struct rp_engine *e);
const struct rp_http_info *rp__http_info(struct rp_engine *e, struct slot *s);
/* True if s is NULL or has no control byte (below 0x20, or 0x7f) and no
 * space: safe in the request line or the Host header, where such a byte
 * would inject a header or break the line. For rp_target.host, .path
 * and .name. */
bool rp__wire_text_ok(const char *s);

#endif
