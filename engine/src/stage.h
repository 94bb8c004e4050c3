/*
 * stage.h - the one internal header of the engine: the probe slot, the
 * engine, the stage interface, and the services the core offers stages
 * (and the name-resolution service).
 *
 * A probe is a pipeline:  [resolve] -> connect -> [tls] -> [request] -> done
 *
 * The core (slot.c, admit.c, loop.c, engine.c) owns the ring, the slots,
 * time, admission, cancellation and results; it knows no protocol. Each
 * protocol step is a stage: an ops table (struct rp__stage_ops) that the
 * core calls without knowing which stages exist. A probe kind is an
 * ordered list of stages (engine.c: tcp = connect; http = connect, http).
 * A stage owns the completions of the ops it queues and the per-slot state
 * it declares; when its work is done it hands the probe on with
 * rp__stage_done() (the next stage starts, or after the last one the probe
 * is OPEN), or ends it with rp__finish(). It never calls another stage.
 * Name resolution (dns.c) is a service of the core: the core asks it to
 * resolve a slot's name, and it answers with rp__resolved().
 */
#ifndef RP_STAGE_H
#define RP_STAGE_H

#include <linux/time_types.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"
#include "ringprobe.h"
#include "ud.h"

struct rp__dns;
struct rp__bufs;
struct rp__hosts;

#define NS_PER_SEC 1000000000ull
#define NS_PER_MS 1000000ull
#define SLOT_NONE UINT32_MAX
#define CHAIN_MAX 6 /* SQEs in one connect chain */
#define STAGES_MAX 4 /* stages in one probe kind */
#define RP_HOST_MAX 256 /* a host name and its NUL */
#define STOP_POLL_MS 2 /* turn length while cancels are taking effect */
#define DESTROY_WAIT_NS (5 * NS_PER_SEC) /* for the kernel to let go */

/* A FIFO of slots linked through one of their links. */
struct slot_fifo {
	uint32_t head;                /* SLOT_NONE when empty */
	uint32_t tail;
};

/*
 * Where a probe is. Phases from PHASE_RESOLVING on are probes under way
 * (they have, or wait for, an op of their own); the USDT probe
 * ringprobe:phase reports these numbers (perf/trace reads this enum).
 */
enum rp__phase {
	PHASE_FREE = 0,
	PHASE_DONE,       /* outcome known without I/O; reported this turn */
	PHASE_REPORTING,  /* its result callback is running */
	PHASE_RESOLVING,  /* waiting for its name (dns.c), no op in flight */
	PHASE_CONNECTING, /* a connect chain is in flight */
	PHASE_VERIFYING,  /* after a timeout: the socket asked how it ended */
	PHASE_HANDSHAKING,/* TLS: the handshake is under way */
	PHASE_SENDING,    /* HTTP: the request is being sent */
	PHASE_RECEIVING,  /* HTTP: the response is being read */
	PHASE_WAITING,    /* its address is at a per-host limit (hosts.c) */
	PHASE__COUNT
};

#define PHASE_ACTIVE PHASE_RESOLVING

struct slot {
	uint32_t gen;                 /* bumped when the slot is released */
	uint8_t phase;                /* enum rp__phase: rp__set_phase() */
	uint8_t stage;                /* index of the stage now running */
	uint8_t reached;              /* stages started, over restarts: the
	                               * ones whose info() the result gets */
	uint8_t cancel;               /* cancel asked for this probe */
	uint8_t ops;                  /* CQEs still expected */
	uint8_t status;               /* PHASE_DONE: the outcome */
	uint8_t op;                   /* enum rp__op of the op in flight */
	uint8_t has_socket;           /* the file slot (or fd) holds a socket */
	uint8_t tls;                  /* the connection speaks TLS */
	uint8_t xport;                /* 1 + index of the transport stage that
	                               * carries the later stages' bytes
	                               * (TLS), or 0: they use the socket */
	uint8_t nmore;                /* --all-addrs: addresses after this */
	uint8_t imore;                /* next of them */
	uint8_t kind;                 /* its rp_probe_kind (the engine's, or
	                               * the target's own) */
	uint8_t nstages;              /* the stages of that kind: the first
	                               * nstages of the engine's */
	uint8_t by_id;                /* submitted by rp_engine_submit_id() */
	uint32_t next;                /* free list or done list link */
	uint32_t dns_us;              /* name resolution time */
	uint16_t port;                /* port of a target given by name */
	uint32_t attempts;            /* connect attempts made */
	int fd;                       /* fallback socket, or -1 */
	int err;                      /* PHASE_DONE: errno behind it */
	uint32_t rtt_us;              /* last connect round trip */
	const char *detail;           /* reason text, or NULL */
	uint64_t start_ns;            /* probe started (submit, or restart) */
	uint64_t deadline_ns;         /* start + overall timeout */
	uint64_t timeout_ns;          /* its overall timeout */
	uint64_t connect_timeout_ns;  /* its connect timeout */
	uint64_t expire_ns;           /* the op in flight's link timeout */
	struct __kernel_timespec ts;  /* that timeout, read at submit */
	struct sockaddr_storage addr; /* target */
	socklen_t addrlen;
	uint64_t index;               /* caller's ordinal */
	void *user;                   /* caller's pointer */
	uint64_t seq;                 /* rp_target.seq, echoed */
	uint32_t host;                /* its entry in the per-host table
	                               * (hosts.c), or SLOT_NONE */
	uint64_t wait_ns;             /* PHASE_WAITING: since when */
	char input[RP_INPUT_MAX];     /* copy of the input text */
	uint64_t cancel_ns;           /* when a stop cancelled it (0 for
	                               * rp_engine_cancel()): an op whose own
	                               * timer was due by then ends as a
	                               * timeout */
};

/* ---- the stage interface ------------------------------------------------ */

/*
 * One stage of a probe kind. Every member but name may be NULL. The core
 * calls them on the engine's thread, never from inside another stage's
 * call, except info() and rewind(), which rp__finish() calls (rewind()
 * when --all-addrs starts the probe over at the next address).
 */
struct rp__stage_ops {
	const char *name;
	size_t priv_size;             /* per-slot state (rp__priv()) */
	bool sends_first;             /* the stage writes before it reads:
	                               * the connect stage then leaves the
	                               * handshake's last ACK to it */
	bool uses_bufs;               /* it receives into the engine's
	                               * buffer ring (rp__prep_recv_buf) */
	/* Engine-wide setup at create, from e->o; state goes in *state.
	 * Returns 0 or -errno (-EINVAL for bad options). */
	int (*init)(struct rp_engine *e, void **state);
	void (*release)(struct rp_engine *e, void *state);
	/* A target is taken: copy what the stage needs from it. Returns 0,
	 * or -errno to report the target INVALID with detail set. */
	int (*take)(struct rp_engine *e, struct slot *s,
		    const struct rp_target *t);
	/* The stages before it are done: begin. */
	void (*start)(struct rp_engine *e, struct slot *s);
	/* A completion of the op this stage has in flight. */
	void (*on_cqe)(struct rp_engine *e, struct slot *s,
		       const struct io_uring_cqe *cqe);
	/* A receive of this stage found no buffer (rp__buf_wait()); one may
	 * be free now: receive again. */
	void (*resume)(struct rp_engine *e, struct slot *s);
	/* A transport (TLS): the stages after it send and receive through
	 * it (rp__send(), rp__recv()) instead of on the socket. send()
	 * takes the whole message (it stays valid until on_sent()); recv()
	 * asks for the next bytes (on_data()). */
	void (*send)(struct rp_engine *e, struct slot *s,
		     const struct msghdr *msg);
	void (*recv)(struct rp_engine *e, struct slot *s);
	/* A stage over a transport: the message was sent (res >= 0) or
	 * sending failed (-errno); bytes arrived (res > 0), the peer closed
	 * (0), or receiving failed (-errno). The bytes are valid only
	 * during the call. */
	void (*on_sent)(struct rp_engine *e, struct slot *s, int res);
	void (*on_data)(struct rp_engine *e, struct slot *s, const char *buf,
			int res);
	/* Fill the stage's part of the result of a probe that reached it
	 * (before any restart, too). A stage that holds a better answer
	 * than the outcome the probe ends with may replace status, err,
	 * detail and addr (the HTTP stage: the response that redirected to
	 * a hop that failed). Called in stage order. */
	void (*info)(struct rp_engine *e, struct slot *s, struct rp_result *r);
	/* The probe starts over on another address (--all-addrs). */
	void (*rewind)(struct rp_engine *e, struct slot *s);
	/* The probe is over (its result delivered, the slot about to be
	 * free): drop what take() allocated. Called for each stage of the
	 * probe's kind, whether take() ran or not. */
	void (*end)(struct rp_engine *e, struct slot *s);
	/* Before each connect of a probe of the kind (after its host's
	 * limits): may it go now? false: the stage made it wait, with an op
	 * of its own in flight (routed to it: s->stage is the stage's), and
	 * calls rp__slot_go() when it may. NULL: always. */
	bool (*admit)(struct rp_engine *e, struct slot *s);
	/* The probe's connection is closing (result, redirect, retry):
	 * drop what the stage holds for it. Called for every stage of the
	 * kind, whether the probe reached it or not. */
	void (*disconnect)(struct rp_engine *e, struct slot *s);
};

struct rp__stage {
	const struct rp__stage_ops *ops;
	void *state;                  /* from init() */
	size_t priv_off;              /* its per-slot area, in the slot's
	                               * block of e->priv */
};

/* The number of stages a probe of kind k runs on engine e (the first
 * ones of e's kind), or -EINVAL when e's kind does not include k's. */
int rp__kind_nstages(const struct rp_engine *e, int k);

extern const struct rp__stage_ops rp__stage_connect;
extern const struct rp__stage_ops rp__stage_http;
extern const struct rp__stage_ops rp__stage_banner;
extern const struct rp__stage_ops rp__stage_tls;

/* ---- the engine --------------------------------------------------------- */

struct rp_engine {
	struct rp__ring r;
	struct rp_engine_opts o;
	struct slot *slots;           /* o.concurrency of them */
	unsigned char *priv;          /* per-slot areas, priv_stride each */
	size_t priv_stride;
	size_t detail_off;            /* the core's own area: preset detail */
	size_t dns_off;               /* dns.c's area */
	struct rp__stage stages[STAGES_MAX]; /* the probe kind */
	unsigned nstages;
	uint32_t free_head;           /* LIFO free list: hot slots reused */
	uint32_t nfree;
	struct slot_fifo done;        /* PHASE_DONE slots to report */
	uint32_t inflight;            /* slots not FREE */
	unsigned in_callback;         /* on_result is running */
	rp_pull_fn pull;
	void *pull_arg;
	bool pull_idle;               /* source said "not now" */
	bool pull_done;               /* source exhausted */
	bool stopping;                /* stop begun: cancel sent */
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
	struct rp__bufs *bufs;        /* receive buffers (bufs.c), or NULL */
	size_t host_off;              /* the core's area: TLS server name */
	const struct rp__names_ops *names; /* the name service */
	struct rp__dns *dns;          /* its state (dns.c) */
	char *err;                    /* while creating: the caller's error
	                               * buffer (rp__errf()), else NULL */
	size_t errlen;
	struct rp__hosts *hosts;      /* per-host limits (hosts.c), or NULL */
	struct rp_stats st;
};

static inline uint32_t slot_idx(const struct rp_engine *e,
				const struct slot *s)
{
	return (uint32_t)(s - e->slots);
}

/* The handle of the probe in slot s (rp_engine_submit_id()): its
 * generation and index, never 0. */
static inline uint64_t rp__slot_id(const struct rp_engine *e,
				   const struct slot *s)
{
	return (uint64_t)s->gen << 32 | ((uint64_t)slot_idx(e, s) + 1u);
}

/* The per-slot area at offset off of slot s's block. */
static inline void *rp__area(const struct rp_engine *e, const struct slot *s,
			     size_t off)
{
	return e->priv + (size_t)slot_idx(e, s) * e->priv_stride + off;
}

/* The per-slot state of stage k (the caller's own index in the kind is
 * s->stage while it runs; a stage finds its index with rp__stage_find). */
static inline void *rp__priv(const struct rp_engine *e, const struct slot *s,
			     unsigned k)
{
	return rp__area(e, s, e->stages[k].priv_off);
}

/* The index in the kind of the stage with these ops, or -1. (A kind has
 * a few stages: inline, this is a handful of compares.) */
static inline int rp__stage_find(const struct rp_engine *e,
				 const struct rp__stage_ops *ops)
{
	for (unsigned k = 0; k < e->nstages; k++)
		if (e->stages[k].ops == ops)
			return (int)k;
	return -1;
}

/* The engine-wide state of the stage with these ops, or NULL. */
static inline void *rp__stage_state(const struct rp_engine *e,
				    const struct rp__stage_ops *ops)
{
	int k = rp__stage_find(e, ops);

	return k < 0 ? NULL : e->stages[k].state;
}

/* The probe's socket as an SQE's fd: its file slot (direct), or its fd. */
static inline int slot_fd(const struct rp_engine *e, const struct slot *s)
{
	return e->r.direct ? (int)slot_idx(e, s) : s->fd;
}

void rp__fifo_init(struct slot_fifo *f);
void rp__fifo_push(struct rp_engine *e, struct slot_fifo *f, struct slot *s);
struct slot *rp__fifo_pop(struct rp_engine *e, struct slot_fifo *f);

/* ---- core services for stages (slot.c) ---------------------------------- */

/* Moves the probe to phase p: the one place phases change (traced; in
 * debug builds an illegal transition aborts). */
void rp__set_phase(struct rp_engine *e, struct slot *s, enum rp__phase p);

/* s->ts, the timespec of the probe's timeout op, as ns (absolute or
 * relative, as the op is prepared). */
static inline void rp__ts_set(struct slot *s, uint64_t ns)
{
	s->ts.tv_sec = (long long)(ns / NS_PER_SEC);
	s->ts.tv_nsec = (long long)(ns % NS_PER_SEC);
}

/* Sets s->ts to min(now + ns, deadline), absolute, for a link timeout. */
void rp__arm_expiry(struct rp_engine *e, struct slot *s, uint64_t ns);

/*
 * Makes sqe (prepared on slot_fd()) the probe's one op in flight, `op`,
 * bounded by a link timeout at s->ts (ts_flags: IORING_TIMEOUT_ABS or 0)
 * in the SQE after it, which the caller reserved with it.
 */
void rp__link_op(struct rp_engine *e, struct slot *s, struct io_uring_sqe *sqe,
		 enum rp__op op, unsigned ts_flags);

/* A probe that a stage's admit() made wait: its connect begins now. */
void rp__slot_go(struct rp_engine *e, struct slot *s);

/* Asks the kernel to cancel the probe's op in flight (s->op): it then
 * completes -ECANCELED. Retried while it finds nothing (loop.c). */
void rp__cancel_op(struct rp_engine *e, struct slot *s);

/* How an op of the probe ended, for every stage alike. */
enum rp__end {
	END_OK = 0,
	END_CANCELLED,                /* we cancelled it (cancel or stop) */
	END_TIMEOUT,                  /* its link timeout passed */
	END_REFUSED,                  /* -ECONNREFUSED */
	END_RESET,                    /* -ECONNRESET, -EPIPE */
	END_UNREACHABLE,              /* no route, network or host down */
	END_ERROR,                    /* anything else */
};

/* Classifies an op's result res (>= 0: END_OK). -ECANCELED is ours if we
 * asked, else a timeout when its expiry has passed (the same clock as the
 * kernel's; completion order is never used). */
enum rp__end rp__classify(const struct rp_engine *e, const struct slot *s,
			  int res);

/* The stage now running is done: the next one starts, or after the last
 * one the probe is OPEN. */
void rp__stage_done(struct rp_engine *e, struct slot *s);

/* Emits the probe's one result and gives the slot back (or, with
 * --all-addrs, goes on with the name's next address). */
void rp__finish(struct rp_engine *e, struct slot *s, enum rp_status status,
		int err);

/* Reports an outcome known without (more) I/O at the end of the turn:
 * never calls on_result from inside the caller. */
void rp__done(struct rp_engine *e, struct slot *s, enum rp_status status,
	      int err);

/* Queues the socket's close (an RST: SO_LINGER is {1, 0}). */
void rp__close_socket(struct rp_engine *e, struct slot *s);

/* Starts the probe over from its first stage at another place, within
 * the same deadline (a redirect): at name:port if name is not NULL (it is
 * resolved first, and becomes the host TLS names), else at s->addr (the
 * host stays what it was: the caller sets it if it changed). */
void rp__restart(struct rp_engine *e, struct slot *s, const char *name,
		 uint16_t port);

/* The name service found s's address (in s->addr): the probe goes on
 * from its first stage. (A name that fails ends the probe with
 * rp__done().) */
void rp__resolved(struct rp_engine *e, struct slot *s);

/* May s go on the wire (NULL may)? No control byte, no DEL, no space:
 * nothing in it can end a line or split a request line (admit.c). */
bool rp__wire_text_ok(const char *s);

/* The slot's own detail text area (RP_INPUT_MAX bytes): where a preset
 * outcome's detail is copied, or a stage writes a reason of its own that
 * s->detail then points to. */
char *rp__slot_detail(struct rp_engine *e, struct slot *s);

/* The host name a TLS connection of s names (SNI): the target's name,
 * its URL's host, or a redirect's; "" for an address (slot.c). */
const char *rp__host(const struct rp_engine *e, const struct slot *s);
void rp__set_host(struct rp_engine *e, struct slot *s, const char *name,
		  size_t len);

/* ---- transports: a stage's bytes through the TLS stage below it -------- */

/* The stage that gets s's completions: the transport below the running
 * stage if there is one, else the running stage. */
static inline unsigned rp__io_stage(const struct slot *s)
{
	return s->xport ? s->xport - 1u : s->stage;
}

/* For a stage running over a transport (s->xport != 0). */
static inline void rp__send(struct rp_engine *e, struct slot *s,
			    const struct msghdr *msg)
{
	e->stages[s->xport - 1u].ops->send(e, s, msg);
}

static inline void rp__recv(struct rp_engine *e, struct slot *s)
{
	e->stages[s->xport - 1u].ops->recv(e, s);
}

/* For the transport: hands the result up to the stage it carries. */
static inline void rp__sent(struct rp_engine *e, struct slot *s, int res)
{
	e->stages[s->stage].ops->on_sent(e, s, res);
}

static inline void rp__data(struct rp_engine *e, struct slot *s,
			    const char *buf, int res)
{
	e->stages[s->stage].ops->on_data(e, s, buf, res);
}

/* ---- receive buffers, one provided-buffer ring per engine (bufs.c) ------ */

/*
 * Set up at create when a stage of the kind receives into them (HTTP on
 * the socket, TLS): the kernel picks a buffer when data arrives, so an
 * idle connection holds none. A stage gives a buffer back as soon as it
 * has used its bytes; the core gives back those of completions it drops.
 */
#define RP_BUF_SIZE (16 * 1024)
int rp__bufs_init(struct rp_engine *e);
void rp__bufs_release(struct rp_engine *e);
/* Prepares sqe as a receive on s's socket into a buffer of the ring. */
void rp__prep_recv_buf(struct rp_engine *e, struct slot *s,
		       struct io_uring_sqe *sqe);
/* The bytes of a receive's completion (res > 0 and a buffer flagged). */
const char *rp__buf_data(const struct rp_engine *e,
			 const struct io_uring_cqe *cqe);
/* Gives the completion's buffer back, if it carries one. */
void rp__buf_put(struct rp_engine *e, const struct io_uring_cqe *cqe);
/* A receive found the ring empty (-ENOBUFS): s waits until the end of
 * the turn, when its I/O stage's resume() runs (or it ends CANCELLED or
 * TIMEOUT if it was cancelled or its deadline passed meanwhile). */
void rp__buf_wait(struct rp_engine *e, struct slot *s);
void rp__bufs_end_turn(struct rp_engine *e);

/* ---- name resolution, a service of the core (dns*.c) -------------------- */

/*
 * The core calls the name service only through this table, as it calls
 * stages only through theirs; the service answers with rp__resolved() or
 * rp__done(). (So the module graph has no circle: dns.c calls the core,
 * the core calls dns.c through a pointer.)
 */
struct rp__names_ops {
	/* Per-slot bytes it needs (waiter links, the addresses left with
	 * --all-addrs), laid out by the slot table. */
	size_t (*priv_size)(const struct rp_engine_opts *o);
	int (*init)(struct rp_engine *e, size_t priv_off);
	void (*release)(struct rp_engine *e);
	/* Resolves name for s: answers with rp__resolved() (maybe at once)
	 * or ends the probe with rp__done(). */
	void (*resolve)(struct rp_engine *e, struct slot *s, const char *name);
	/* s no longer waits (cancelled). */
	void (*forget)(struct rp_engine *e, struct slot *s);
	/* Stop: every lookup ends now, cancelled. */
	void (*cancel_all)(struct rp_engine *e);
	/* Arms the ring polls its sockets want (after any of its calls). */
	void (*sync)(struct rp_engine *e);
	/* A completion of one of those polls. */
	void (*on_poll)(struct rp_engine *e, uint64_t ud, int res);
	/* How long the loop may sleep before its timers need a turn. */
	uint64_t (*wait_ns)(struct rp_engine *e, uint64_t now);
	/* Once per turn: retries, deadlines, queued lookups. */
	void (*tick)(struct rp_engine *e);
	/* --all-addrs: sets s->addr to the name's next address; false if
	 * none is left. */
	bool (*next_addr)(struct rp_engine *e, struct slot *s);
};

extern const struct rp__names_ops rp__dns_names;

#endif
