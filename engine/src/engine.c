/*
 * engine.c - the probe engine: slots, admission, the run loop and the TCP
 * connect probe.
 *
 * A probe lives in one slot of a table allocated at create time; the free
 * list of slots is the in-flight semaphore. Targets are taken (submitted or
 * pulled from the source) only when a slot is free, so memory does not
 * depend on the length of the input. Each connect attempt is one chain:
 *
 *   SOCKET(direct, slot) -> SETSOCKOPT(SO_LINGER 0) [-> TCP_QUICKACK 0]
 *       [-> SETSOCKOPT(IP_LOCAL_PORT_RANGE)] -> CONNECT -> LINK_TIMEOUT
 *
 * with CQE_SKIP_SUCCESS on everything but CONNECT, so a chain posts exactly
 * one CQE: the connect's result, or the failing member's error. HTTP
 * probes turn quick ACKs off, so the request carries the handshake's last
 * ACK instead of a packet of its own. The port range option is there only
 * for targets on this host whose port lies in the ephemeral range: without
 * it the kernel can pick the target's own port as the source port, the
 * socket connects to itself (TCP simultaneous open) and a closed port
 * reads as open now and then. (Fallback mode makes the socket with
 * socket(2) and setsockopt(2) and chains just
 * CONNECT -> LINK_TIMEOUT.) The link timeout is absolute:
 * min(attempt start + connect timeout, probe deadline), so the kernel
 * enforces both; a connect that ends in -ECANCELED is a timeout if its
 * expiry has passed and a cancel otherwise. A timeout is then checked with
 * the socket itself: a second CONNECT on it answers -EALREADY while the
 * handshake is still pending (really filtered), -EISCONN if it completed
 * after all (the answer came while the loop or the kernel was too busy to
 * see it in time: open, not filtered), or the error it ended with.
 *
 *   FREE --take--> [RESOLVING] --> CONNECTING --CQE--> (verify, retry) --> finish
 *                   (dns.c)            |  HTTP: SENDING -> RECEIVING -->   finish
 *                                      |        (probe_http.c)
 *                      cancel/stop: async cancel, the CQE still ends it
 *   FREE --take preset status--> DONE (reported at the end of the turn)
 *   finish --> FREE, or with --all-addrs CONNECTING on the next address
 *
 * finish() is the only place a result is emitted and a slot returned. It
 * queues a close of the socket (RST thanks to SO_LINGER 0, so no TIME_WAIT)
 * with CQE_SKIP_SUCCESS; ring order guarantees the close runs before any
 * later socket op reuses the file slot. Each slot counts the CQEs it still
 * expects and carries a generation in user_data: a CQE whose generation
 * does not match is counted as stale and dropped, never applied.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"
#include "stats.h"
#include "trace.h"
#include "uring_compat.h"

static uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}


static unsigned pow2_at_least(unsigned v)
{
	unsigned p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* ---- create / destroy -------------------------------------------------- */

static void arm_wake(struct rp_engine *e)
{
	struct io_uring_sqe *sqe = rp__ring_reserve(&e->r, 1);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, e->wake_fd, &e->wake_buf, sizeof(e->wake_buf),
			   0);
	sqe->user_data = rp__ud(0, RP__UD_NOSLOT, RP__OP_WAKE);
	e->wake_armed = true;
}

/* Reads the ephemeral port range and this host's addresses, and checks
 * that the kernel can narrow a socket's source port range: what
 * self_connect_risk() needs. */
static void local_setup(struct rp_engine *e)
{
	unsigned lo = 32768, hi = 60999;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	struct ifaddrs *ifa, *i;
	uint32_t v = (40000u << 16) | 40000u;
	int fd;

	if (f) {
		if (fscanf(f, "%u %u", &lo, &hi) != 2 || lo > hi || hi > 65535)
			lo = 32768, hi = 60999;
		fclose(f);
	}
	e->eph_lo = (uint16_t)lo;
	e->eph_hi = (uint16_t)hi;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		e->port_range_ok = setsockopt(fd, SOL_IP, IP_LOCAL_PORT_RANGE,
					      &v, sizeof(v)) == 0;
		close(fd);
	}
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i && e->nlocal < LOCAL_ADDRS_MAX; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
				     i->ifa_addr->sa_family != AF_INET6))
			continue;
		memcpy(&e->local[e->nlocal++], i->ifa_addr,
		       i->ifa_addr->sa_family == AF_INET
			       ? sizeof(struct sockaddr_in)
			       : sizeof(struct sockaddr_in6));
	}
	freeifaddrs(ifa);
}

static bool is_local(const struct rp_engine *e, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)sa;

		if ((ntohl(a->sin_addr.s_addr) >> 24) == 127)
			return true;
		for (int i = 0; i < e->nlocal; i++) {
			const struct sockaddr_in *l = (const void *)&e->local[i];

			if (l->sin_family == AF_INET &&
			    l->sin_addr.s_addr == a->sin_addr.s_addr)
				return true;
		}
		return false;
	}
	const struct sockaddr_in6 *a6 = (const void *)sa;

	if (IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr) ||
	    (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr) &&
	     a6->sin6_addr.s6_addr[12] == 127))
		return true;
	for (int i = 0; i < e->nlocal; i++) {
		const struct sockaddr_in6 *l = (const void *)&e->local[i];

		if (l->sin6_family == AF_INET6 &&
		    !memcmp(&l->sin6_addr, &a6->sin6_addr, sizeof(l->sin6_addr)))
			return true;
	}
	return false;
}

/* Sets s->port_range to a source port range that excludes the target's
 * port when the socket could otherwise connect to itself. */
static bool self_connect_risk(const struct rp_engine *e, struct slot *s)
{
	const struct sockaddr_in *a = (const void *)&s->addr;
	unsigned p = ntohs(a->sin_port); /* sin6_port sits at the same place */

	if (!e->port_range_ok || p < e->eph_lo || p > e->eph_hi ||
	    !is_local(e, (const struct sockaddr *)&s->addr))
		return false;
	if (p - e->eph_lo >= e->eph_hi - p)
		s->port_range = (uint32_t)e->eph_lo | (uint32_t)(p - 1) << 16;
	else
		s->port_range = (uint32_t)(p + 1) | (uint32_t)e->eph_hi << 16;
	return true;
}

/* Refuses values the engine cannot represent: a timeout that would wrap
 * the clock, a redirect count past the slot's counter, a cache whose table
 * size would overflow. */
static bool opts_ok(const struct rp_engine_opts *o)
{
	return o->connect_timeout_ns <= RP_TIMEOUT_MAX_NS &&
	       o->timeout_ns <= RP_TIMEOUT_MAX_NS &&
	       o->http.io_timeout_ns <= RP_TIMEOUT_MAX_NS &&
	       o->http.follow <= RP_FOLLOW_MAX &&
	       o->dns.timeout_ns <= RP_TIMEOUT_MAX_NS &&
	       o->dns.tries <= RP_DNS_TRIES_MAX &&
	       o->dns.cache_size <= RP_DNS_CACHE_MAX;
}

int rp_engine_create(struct rp_engine **out, const struct rp_engine_opts *opts)
{
	struct rp_engine *e;
	struct rlimit rl;
	bool fallback;
	int ret;

	if (!out || !opts || !opts->on_result)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->o = *opts;
	if (!e->o.concurrency)
		e->o.concurrency = 1024;
	if (!e->o.connect_timeout_ns)
		e->o.connect_timeout_ns = NS_PER_SEC;
	if (!e->o.timeout_ns)
		e->o.timeout_ns = (e->o.kind == RP_PROBE_HTTP ? 10 : 5) * NS_PER_SEC;
	if (e->o.concurrency >= RP__UD_MAX_SLOTS || !opts_ok(&e->o)) {
		free(e);
		return -EINVAL;
	}
	fallback = (e->o.flags & RP_ENGINE_FALLBACK) ||
		   (getenv("RINGPROBE_FALLBACK") &&
		    strcmp(getenv("RINGPROBE_FALLBACK"), "0") != 0);
	/* Sockets, direct or not, count against RLIMIT_NOFILE; keep a few
	 * descriptors for the ring, eventfds and the caller's files. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)e->o.concurrency + 16 > rl.rlim_cur) {
		free(e);
		return -EMFILE;
	}

	e->slots = calloc(e->o.concurrency, sizeof(*e->slots));
	e->details = calloc(e->o.concurrency, sizeof(*e->details));
	if (!e->slots || !e->details) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (uint32_t i = 0; i < e->o.concurrency; i++) {
		e->slots[i].next = i + 1 < e->o.concurrency ? i + 1 : SLOT_NONE;
		e->slots[i].fd = -1;
		e->slots[i].gen = 1;
	}
	e->free_head = 0;
	e->nfree = e->o.concurrency;
	fifo_init(&e->done);
	atomic_init(&e->notify_fd, -1);

	/* One turn reaps up to a full slot table and refills it: about
	 * CHAIN_MAX + 1 SQEs per slot. Chains never straddle submits, so a
	 * smaller SQ only costs an extra enter. Each slot has at most one
	 * CQE-producing op, plus the wake read, cancels and failed closes. */
	unsigned sq = pow2_at_least(e->o.concurrency * (CHAIN_MAX + 1) + 8);
	if (sq > 4096)
		sq = 4096;
	unsigned cq = pow2_at_least(2 * e->o.concurrency + 256);
	if (cq < 2 * sq)
		cq = 2 * sq;
	ret = rp__ring_init(&e->r, sq, cq, e->o.concurrency, fallback);
	if (ret < 0)
		goto out_free;

	e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->wake_fd < 0) {
		ret = -errno;
		goto out_ring;
	}
	ret = rp__dns_init(e);
	if (ret < 0)
		goto out_wake;
	if (e->o.kind == RP_PROBE_HTTP) {
		ret = rp__http_init(e);
		if (ret < 0)
			goto out_wake;
	} else if (e->o.kind != RP_PROBE_TCP) {
		ret = -EINVAL;
		goto out_wake;
	}
	atomic_init(&e->stop_req, false);
	if (e->o.rate) {
		e->rate_interval_ns = NS_PER_SEC / e->o.rate;
		if (!e->rate_interval_ns)
			e->rate_interval_ns = 1;
		/* Allow 10 ms worth of probes at once, so per-turn batching
		 * does not cut the rate. */
		e->rate_burst_ns = 10 * NS_PER_MS;
	}
	local_setup(e);
	e->st.concurrency = e->o.concurrency;
	e->st.direct = e->r.direct;
	e->st.setup_flags = e->r.setup_flags;
	arm_wake(e);
	*out = e;
	return 0;

out_wake:
	rp__http_release(e);
	rp__dns_release(e);
	close(e->wake_fd);
out_ring:
	rp__ring_release(&e->r);
out_free:
	free(e->details);
	free(e->slots);
	free(e);
	return ret;
}

/* ---- results ----------------------------------------------------------- */

static void release_slot(struct rp_engine *e, struct slot *s)
{
	uint32_t i = slot_idx(e, s);

	s->gen++;
	s->state = SLOT_FREE;
	s->next = e->free_head;
	e->free_head = i;
	e->nfree++;
	e->inflight--;
}

/* Queues the socket's close: an RST, since SO_LINGER is {1, 0}. */
void rp__close_socket(struct rp_engine *e, struct slot *s)
{
	struct io_uring_sqe *sqe;

	/* Direct: the file slot holds a socket once SOCKET succeeded. */
	if (e->r.direct ? !s->has_socket : s->fd < 0)
		return;
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

/* The one place a result is emitted and a slot given back. */
void rp__finish(struct rp_engine *e, struct slot *s, enum rp_status status,
		int err)
{
	struct rp_result res = {
		.input = s->input,
		.index = s->index,
		.user = s->user,
		.addr = s->addrlen ? (const struct sockaddr *)&s->addr : NULL,
		.addrlen = s->addrlen,
		.status = status,
		.err = err,
		.detail = s->detail,
		.attempts = s->attempts,
		.dns_us = s->dns_us,
	};

	rp__close_socket(e, s);
	res.elapsed_us = (e->now_ns - s->start_ns) / 1000u;
	if (s->attempts) {
		/* An answer to the connect: its round trip is worth keeping. */
		bool answered = status == RP_STATUS_OPEN ||
				status == RP_STATUS_CLOSED ||
				s->state >= SLOT_SENDING;

		if (answered || status == RP_STATUS_UNREACHABLE)
			res.rtt_us = s->rtt_us;
		if (answered)
			rp__stats_rtt(&e->st, s->rtt_us);
	}
	if (e->http && s->state >= SLOT_ACTIVE)
		res.http = rp__http_info(e, s);
	e->st.by_status[status]++;
	e->st.completed++;
	RP_TRACE_DONE(s->index, (int)status, res.elapsed_us);
	/* The slot stays taken while the callback runs: a submit from inside
	 * it cannot reuse the slot and overwrite what *res points to. */
	s->state = SLOT_REPORTING;
	e->in_callback++;
	e->o.on_result(&res, e->o.arg);
	e->in_callback--;
	/* --all-addrs: the slot goes on with the name's next address. */
	if (s->imore < s->nmore && status != RP_STATUS_CANCELLED &&
	    !s->cancel && !e->stopping && rp__dns_next_addr(e, s))
		return;
	release_slot(e, s);
}

/* ---- the connect probe ------------------------------------------------- */

static const struct linger rst_linger = { .l_onoff = 1, .l_linger = 0 };
/* TCP_QUICKACK 0 before connect puts the socket in delayed-ACK mode, so
 * the kernel does not ACK the SYN-ACK on its own: the request, sent right
 * after, carries that ACK. One packet less per HTTP probe. */
static const int no_quickack = 0;

/* Fallback mode: a socket made by syscalls, the options set the same way. */
static int fallback_socket(struct rp_engine *e, struct slot *s)
{
	int fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	e->st.syscalls_other++;
	if (fd < 0)
		return -errno;
	e->st.syscalls_other += 1u + (e->http != NULL) + s->self_risk;
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst_linger,
		       sizeof(rst_linger)) < 0 ||
	    (e->http && setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &no_quickack,
				   sizeof(no_quickack)) < 0) ||
	    (s->self_risk && setsockopt(fd, SOL_IP, IP_LOCAL_PORT_RANGE,
					&s->port_range,
					sizeof(s->port_range)) < 0)) {
		int err = -errno;

		close(fd);
		return err;
	}
	s->fd = fd;
	return 0;
}

/* Queues one link of the chain: setsockopt on the slot's direct socket. */
static void chain_sockopt(struct rp_engine *e, struct slot *s, int level,
			  int name, const void *val, int len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->r.ring);
	uint32_t idx = slot_idx(e, s);

	rp__prep_setsockopt_direct(sqe, (int)idx, level, name, val, len);
	sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
	sqe->user_data = rp__ud(s->gen, idx, RP__OP_SOCKOPT);
}

/* Queues one connect attempt as a single chain. Returns 0, or -errno if
 * the attempt could not even be queued (the caller finishes the probe). */
static int start_attempt(struct rp_engine *e, struct slot *s)
{
	uint32_t idx = slot_idx(e, s);
	struct io_uring_sqe *sqe;
	int ret;

	if (!e->r.direct) {
		ret = fallback_socket(e, s);
		if (ret < 0)
			return ret;
	}
	/* socket, options, connect, timeout */
	sqe = rp__ring_reserve(&e->r, e->r.direct ? 4u + (e->http != NULL) +
							    s->self_risk
						  : 2u);
	if (!sqe)
		return -EBUSY;

	s->attempts++;
	e->st.attempts++;
	s->has_socket = 1;
	s->attempt_ns = e->now_ns;
	rp__arm_expiry(e, s, e->o.connect_timeout_ns);

	if (e->r.direct) {
		io_uring_prep_socket_direct(sqe, s->addr.ss_family, SOCK_STREAM,
					    0, idx, 0);
		sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
		sqe->user_data = rp__ud(s->gen, idx, RP__OP_SOCKET);
		chain_sockopt(e, s, SOL_SOCKET, SO_LINGER, &rst_linger,
			      sizeof(rst_linger));
		if (e->http)
			chain_sockopt(e, s, IPPROTO_TCP, TCP_QUICKACK,
				      &no_quickack, sizeof(no_quickack));
		if (s->self_risk)
			chain_sockopt(e, s, SOL_IP, IP_LOCAL_PORT_RANGE,
				      &s->port_range, sizeof(s->port_range));
		sqe = io_uring_get_sqe(&e->r.ring);
	}
	io_uring_prep_connect(sqe, slot_fd(e, s),
			      (const struct sockaddr *)&s->addr, s->addrlen);
	rp__link_op(e, s, sqe, RP__OP_CONNECT, IORING_TIMEOUT_ABS);
	return 0;
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

bool rp__cancelled(const struct rp_engine *e, const struct slot *s)
{
	/* The expiry is on the kernel's clock: not yet passed = not ours. */
	return s->cancel || e->now_ns < s->expire_ns;
}

void rp__arm_expiry(struct rp_engine *e, struct slot *s, uint64_t ns)
{
	s->expire_ns = e->now_ns + ns;
	if (s->expire_ns > s->deadline_ns)
		s->expire_ns = s->deadline_ns;
	s->ts.tv_sec = (long long)(s->expire_ns / NS_PER_SEC);
	s->ts.tv_nsec = (long long)(s->expire_ns % NS_PER_SEC);
}

/* After a timeout, asks the socket how its connect ended: CONNECT again,
 * bounded by a short relative link timeout in case it had never started. */
static void verify(struct rp_engine *e, struct slot *s)
{
	struct io_uring_sqe *sqe = rp__ring_reserve(&e->r, 2);
	uint64_t ns = e->o.connect_timeout_ns < VERIFY_NS ? e->o.connect_timeout_ns
							  : VERIFY_NS;

	if (!sqe) {
		rp__finish(e, s, RP_STATUS_FILTERED, -ECANCELED);
		return;
	}
	io_uring_prep_connect(sqe, slot_fd(e, s),
			      (const struct sockaddr *)&s->addr, s->addrlen);
	s->ts.tv_sec = (long long)(ns / NS_PER_SEC);
	s->ts.tv_nsec = (long long)(ns % NS_PER_SEC);
	rp__link_op(e, s, sqe, RP__OP_VERIFY, 0); /* relative */
	s->verifying = 1;
}

/* A connect chain's single CQE: from CONNECT (or VERIFY), or from the
 * chain member that failed before it. */
static void on_connect(struct rp_engine *e, struct slot *s, enum rp__op op,
		       int res)
{
	int ret;

	s->rtt_us = (uint32_t)((e->now_ns - s->attempt_ns) / 1000u);
	if (op == RP__OP_VERIFY) {
		s->verifying = 0;
		if (res == -EISCONN)
			res = 0;          /* it did connect, just late */
		else if (res == -EALREADY || res == -ECANCELED)
			res = -ETIMEDOUT; /* still pending: a real timeout */
	} else if (op != RP__OP_CONNECT) { /* socket or setsockopt failed */
		if (op == RP__OP_SOCKET)
			s->has_socket = 0; /* the file slot stayed empty */
		s->detail = op == RP__OP_SOCKET ? "socket creation failed"
						: "setsockopt failed";
		rp__finish(e, s, RP_STATUS_ERROR, res);
		return;
	}
	switch (res) {
	case 0:
		if (e->http)
			rp__http_start(e, s);
		else
			rp__finish(e, s, RP_STATUS_OPEN, 0);
		return;
	case -ECONNREFUSED:
		rp__finish(e, s, RP_STATUS_CLOSED, res);
		return;
	case -ECANCELED:
		/* Our link timeout fired, or we cancelled it. The expiry is
		 * on the same clock, so a passed expiry means timeout. */
		if (rp__cancelled(e, s)) {
			rp__finish(e, s, RP_STATUS_CANCELLED, 0);
			return;
		}
		verify(e, s);
		return;
	case -ETIMEDOUT:
		if (s->cancel) {
			rp__finish(e, s, RP_STATUS_CANCELLED, 0);
			return;
		}
		if (s->attempts <= e->o.retries && e->now_ns < s->deadline_ns &&
		    !e->stopping) {
			rp__close_socket(e, s);
			ret = start_attempt(e, s);
			if (ret == 0)
				return;
			rp__finish(e, s, RP_STATUS_ERROR, ret);
			return;
		}
		rp__finish(e, s, RP_STATUS_FILTERED, res);
		return;
	case -ENETUNREACH:
	case -EHOSTUNREACH:
	case -ENETDOWN:
	case -EHOSTDOWN:
		rp__finish(e, s, RP_STATUS_UNREACHABLE, res);
		return;
	case -EADDRNOTAVAIL:
		s->detail = "local port exhaustion";
		rp__finish(e, s, RP_STATUS_ERROR, res);
		return;
	default:
		/* NEEDSWORK: old kernels can return -EINPROGRESS here with a
		 * linked timeout (liburing#841); a POLLOUT + SO_ERROR follow-up
		 * would recover the real answer. 6.x kernels do not. */
		rp__finish(e, s, RP_STATUS_ERROR, res);
		return;
	}
}

/* ---- admission --------------------------------------------------------- */

static void push_done(struct rp_engine *e, struct slot *s)
{
	s->state = SLOT_DONE;
	fifo_push(e, &e->done, s);
}

static void copy_text(char *dst, const char *src)
{
	size_t n = src ? strnlen(src, RP_INPUT_MAX - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

/* The rate limiter (GCRA): may a probe start now? */
static bool rate_ok(const struct rp_engine *e)
{
	return !e->rate_interval_ns ||
	       e->rate_next_ns <= e->now_ns + e->rate_burst_ns;
}

static void rate_take(struct rp_engine *e)
{
	if (!e->rate_interval_ns)
		return;
	if (e->rate_next_ns < e->now_ns)
		e->rate_next_ns = e->now_ns;
	e->rate_next_ns += e->rate_interval_ns;
}

/* Takes a free slot for t and starts it (or queues its preset outcome). */
static int take(struct rp_engine *e, const struct rp_target *t)
{
	struct slot *s;

	/* Only a probe puts them on the wire: a preset outcome (admit()'s
	 * INVALID for this very check) keeps them and is still reported. */
	if (t->status == RP_STATUS_NONE &&
	    (!rp__wire_text_ok(t->host) || !rp__wire_text_ok(t->path) ||
	     !rp__wire_text_ok(t->name)))
		return -EINVAL;
	if (t->status == RP_STATUS_NONE && t->name) {
		if (!t->name[0] || strlen(t->name) > 253 || !t->port)
			return -EINVAL;
	} else if (t->status == RP_STATUS_NONE &&
	    ((t->addr.ss_family == AF_INET &&
	      t->addrlen != sizeof(struct sockaddr_in)) ||
	     (t->addr.ss_family == AF_INET6 &&
	      t->addrlen != sizeof(struct sockaddr_in6)) ||
	     (t->addr.ss_family != AF_INET && t->addr.ss_family != AF_INET6)))
		return -EINVAL;
	if ((unsigned)t->status >= RP_STATUS__COUNT)
		return -EINVAL;

	s = &e->slots[e->free_head];
	e->free_head = s->next;
	e->nfree--;
	e->inflight++;
	if (e->inflight > e->st.max_inflight)
		e->st.max_inflight = e->inflight;
	e->st.submitted++;

	copy_text(s->input, t->input);
	s->index = t->index;
	s->user = t->user;
	s->cancel = 0;
	s->verifying = 0;
	s->redirects = 0;
	s->nmore = s->imore = 0;
	s->attempts = 0;
	s->rtt_us = 0;
	s->ops = 0;
	s->detail = NULL;
	s->dns_us = 0;
	/* The clocks start now: waiting for a slot or a token is not part of
	 * any timeout. */
	s->start_ns = e->now_ns;
	s->deadline_ns = e->now_ns + e->o.timeout_ns;
	RP_TRACE_START(s->index, slot_idx(e, s));

	if (t->status != RP_STATUS_NONE) {
		s->addrlen = 0;
		s->status = (uint8_t)t->status;
		s->err = t->err;
		if (t->detail) {
			copy_text(e->details[slot_idx(e, s)], t->detail);
			s->detail = e->details[slot_idx(e, s)];
		}
		push_done(e, s);
		return 0;
	}
	if (t->name) {
		s->addrlen = 0;
		s->port = t->port;
	} else {
		memcpy(&s->addr, &t->addr, t->addrlen);
		s->addrlen = t->addrlen;
	}
	if (e->http && rp__http_take(e, s, t) < 0) {
		s->addrlen = 0;
		s->detail = "request path or host too long";
		rp__done(e, s, RP_STATUS_INVALID, -ENAMETOOLONG);
		return 0;
	}
	if (t->name)
		rp__dns_resolve(e, s, t->name);
	else
		rp__connect(e, s);
	return 0;
}

void rp__connect(struct rp_engine *e, struct slot *s)
{
	int ret;

	s->self_risk = self_connect_risk(e, s);
	s->state = SLOT_CONNECTING;
	RP_TRACE_PHASE(s->index, SLOT_CONNECTING);
	ret = start_attempt(e, s);
	if (ret < 0)
		rp__done(e, s, RP_STATUS_ERROR, ret);
}

void rp__done(struct rp_engine *e, struct slot *s, enum rp_status status,
	      int err)
{
	s->status = (uint8_t)status;
	s->err = err;
	push_done(e, s);
}

int rp_engine_submit(struct rp_engine *e, const struct rp_target *t)
{
	int ret;

	if (!e || !t)
		return -EINVAL;
	if (e->stopping || atomic_load_explicit(&e->stop_req,
						memory_order_relaxed))
		return -ESHUTDOWN;
	if (!e->nfree)
		return -EAGAIN;
	/* The probe's clocks start now, not at the last turn: the engine
	 * may have been idle for longer than any timeout. */
	e->now_ns = clock_ns();
	if (!rate_ok(e)) {
		e->rate_refused = true; /* rp_engine_timeout() owes a wakeup */
		return -EAGAIN;
	}
	ret = take(e, t);
	if (ret == 0) {
		rate_take(e);
		e->rate_refused = false;
	}
	return ret;
}

void rp_engine_set_source(struct rp_engine *e, rp_pull_fn fn, void *arg)
{
	e->pull = fn;
	e->pull_arg = arg;
	e->pull_idle = false;
	e->pull_done = fn == NULL;
}

/* Fills free slots from the pull source. */
static void admit(struct rp_engine *e)
{
	struct rp_target t;

	if (!e->pull || e->pull_done || e->pull_idle)
		return;
	while (e->nfree && rate_ok(e)) {
		memset(&t, 0, sizeof(t));
		int got = e->pull(e->pull_arg, &t);

		if (got < 0) {
			e->pull_done = true;
			return;
		}
		if (got == 0) {
			e->pull_idle = true;
			return;
		}
		if (take(e, &t) < 0) {
			/* A pull source must not lose a target: report a
			 * malformed one rather than dropping it. */
			t.status = RP_STATUS_INVALID;
			t.detail = "malformed target from source";
			t.addrlen = 0;
			(void)take(e, &t);
		}
		rate_take(e);
	}
}

/* ---- stop and cancel --------------------------------------------------- */

/*
 * An async cancel only finds ops the kernel has armed. Under DEFER_TASKRUN
 * the members of a chain after its head are started from task work, which
 * runs only while we wait in io_uring_enter (a bounded batch at a time), so
 * right after a submit most new chains have no CONNECT to find yet. Cancels
 * are therefore repeated until they take: a probe's cancel is issued again
 * when it answers -ENOENT, and while stopping, every turn issues another
 * cancel-all and waits briefly until nothing is in flight.
 */
static void cancel_all(struct rp_engine *e)
{
	struct io_uring_sqe *sqe = rp__ring_reserve(&e->r, 1);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, 0,
			       IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	sqe->user_data = rp__ud(0, RP__UD_NOSLOT, RP__OP_CANCEL);
}

static void cancel_one(struct rp_engine *e, struct slot *s)
{
	uint32_t idx = slot_idx(e, s);
	struct io_uring_sqe *sqe = rp__ring_reserve(&e->r, 1);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, rp__ud(s->gen, idx, s->op), 0);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS; /* -ENOENT still posts */
	sqe->user_data = rp__ud(s->gen, idx, RP__OP_CANCEL);
}

/* A cancel's CQE (only failures post one): try again while the probe it
 * was for is still waiting for its connect. */
static void on_cancel_cqe(struct rp_engine *e, uint64_t ud, int res)
{
	uint32_t idx = rp__ud_slot(ud);
	struct slot *s;

	if (res != -ENOENT || idx >= e->o.concurrency)
		return;
	s = &e->slots[idx];
	if (s->gen == rp__ud_gen(ud) && s->state >= SLOT_ACTIVE &&
	    s->cancel && !e->stopping)
		cancel_one(e, s);
}

static void begin_stop(struct rp_engine *e)
{
	e->stopping = true;
	for (uint32_t i = 0; i < e->o.concurrency; i++)
		if (e->slots[i].state >= SLOT_ACTIVE)
			e->slots[i].cancel = 1;
	rp__dns_cancel_all(e);
}

/* Async-signal-safe; a full eventfd (EAGAIN) is already a wakeup. */
static void poke(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));

	(void)n;
}

void rp_engine_stop(struct rp_engine *e)
{
	int saved = errno; /* a signal handler must not change it */

	atomic_store(&e->stop_req, true);
	rp_engine_wake(e);
	errno = saved;
}

void rp_engine_wake(struct rp_engine *e)
{
	int saved = errno;
	int nfd = atomic_load_explicit(&e->notify_fd, memory_order_acquire);

	poke(e->wake_fd);
	/* The ring's wake read completes only in our next turn under
	 * DEFER_TASKRUN; an embedder sleeping on its fd must hear it now. */
	if (nfd >= 0)
		poke(nfd);
	errno = saved;
}

int rp_engine_cancel(struct rp_engine *e, uint64_t index)
{
	struct slot *found = NULL;

	/* O(concurrency): cancelling one probe is rare, and an index map
	 * would cost every probe a hash insert and delete. */
	for (uint32_t i = 0; i < e->o.concurrency; i++) {
		struct slot *s = &e->slots[i];

		if (s->state != SLOT_FREE && s->index == index &&
		    (!found || s->start_ns >= found->start_ns))
			found = s;
	}
	if (!found)
		return -ENOENT;
	if (found->state < SLOT_ACTIVE)
		return -EALREADY; /* decided, or being reported */
	if (found->cancel)
		return 0;
	/* From now on whatever completes for this probe ends it CANCELLED
	 * (on_cqe()), even an op that had finished in the kernel: the
	 * caller asked before learning the outcome. */
	found->cancel = 1;
	if (found->state == SLOT_RESOLVING) {
		rp__dns_forget(e, found);
		rp__done(e, found, RP_STATUS_CANCELLED, 0);
	} else {
		cancel_one(e, found);
	}
	return 0;
}

/* ---- the loop ---------------------------------------------------------- */

static void on_cqe(struct rp_engine *e, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	enum rp__op op = rp__ud_op(ud);
	uint32_t idx = rp__ud_slot(ud);
	struct slot *s;

	/* A receive buffer must go back to the ring whatever became of the
	 * probe; rp__http_on_cqe() recycles the ones it consumes itself. */
	if (e->http && op != RP__OP_RECV && (cqe->flags & IORING_CQE_F_BUFFER))
		rp__http_recycle(e, cqe);

	switch (op) {
	case RP__OP_WAKE:
		e->wake_armed = false;
		e->pull_idle = false;
		return;
	case RP__OP_CANCEL: /* the target's own CQE tells what happened */
		on_cancel_cqe(e, ud, cqe->res);
		return;
	case RP__OP_DNS_POLL:
		rp__dns_on_poll(e, ud, cqe->res);
		return;
	case RP__OP_PROBE:
		return;
	case RP__OP_CLOSE:  /* a failed close: nothing left to undo */
	case RP__OP_TIMEOUT:/* never posted (skip success); be safe */
		e->st.stale_cqes++;
		return;
	default:
		break;
	}
	if (idx >= e->o.concurrency) {
		e->st.stale_cqes++;
		return;
	}
	s = &e->slots[idx];
	if (s->gen != rp__ud_gen(ud) || s->state < SLOT_ACTIVE || s->ops == 0) {
		e->st.stale_cqes++;
		return;
	}
	s->ops--;
	if (s->cancel) {
		if (op == RP__OP_RECV && (cqe->flags & IORING_CQE_F_BUFFER))
			rp__http_recycle(e, cqe);
		rp__finish(e, s, RP_STATUS_CANCELLED, 0);
	} else if (op == RP__OP_SEND || op == RP__OP_RECV) {
		rp__http_on_cqe(e, s, cqe);
	} else {
		on_connect(e, s, op, cqe->res);
	}
}

static void deliver_done(struct rp_engine *e)
{
	struct slot *s;

	while ((s = fifo_pop(e, &e->done)))
		rp__finish(e, s, (enum rp_status)s->status, s->err);
}

static unsigned reap(struct rp_engine *e)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&e->r.ring, head, cqe)
	{
		on_cqe(e, cqe);
		n++;
	}
	io_uring_cq_advance(&e->r.ring, n);
	e->st.cqes += n;
	return n;
}

static bool has_work(const struct rp_engine *e)
{
	if (e->inflight)
		return true;
	if (e->stopping)
		return false;
	return e->pull && !e->pull_done;
}

/*
 * How long the engine may go without a turn when no completion comes:
 * 0 when a turn has work right now, else the time to the first of its
 * timers (the rate limit letting the next probe start, a c-ares retry,
 * the deadline sweep of probes waiting for names, the brief turns while
 * a stop's cancels take effect); UINT64_MAX when only completions matter.
 */
static uint64_t timer_ns(struct rp_engine *e, uint64_t now)
{
	uint64_t ns = UINT64_MAX;

	if (e->done.head != SLOT_NONE)
		return 0; /* presets taken now are reported next turn */
	if (e->stopping)
		return e->inflight ? STOP_POLL_MS * NS_PER_MS : UINT64_MAX;
	if (atomic_load_explicit(&e->stop_req, memory_order_relaxed))
		return 0;
	if (e->rate_refused ||
	    (e->pull && !e->pull_done && !e->pull_idle && e->nfree)) {
		/* A probe is waiting to start (a submit the rate refused, or
		 * the source with slots free): at once, or when the rate
		 * lets it. */
		uint64_t until = e->rate_next_ns > e->rate_burst_ns
					 ? e->rate_next_ns - e->rate_burst_ns
					 : 0;

		if (until <= now)
			return 0;
		ns = until - now;
	}
	uint64_t dns_ns = rp__dns_wait_ns(e, now);
	return dns_ns < ns ? dns_ns : ns;
}

/* With nothing left to wait for, still pushes out the queued closes (so
 * the last RSTs leave now, not when the engine is destroyed). */
static int flush_idle(struct rp_engine *e)
{
	if (io_uring_sq_ready(&e->r.ring)) {
		int ret = rp__ring_submit_wait(&e->r, 0, 0);

		if (ret < 0)
			return ret;
		reap(e);
	}
	return has_work(e);
}

/*
 * The end of a turn of an engine driven through rp_engine_fd(): nothing
 * may stay queued that no wakeup would send, so what the turn queued goes
 * to the kernel now. And with DEFER_TASKRUN one enter runs only a bounded
 * batch of the kernel's pending work for this ring, while the registered
 * eventfd fires only when that work list goes from empty to non-empty: if
 * some is left, nothing else would make the fd readable again, so the
 * engine makes it readable itself. The ring fd polls readable exactly when
 * completions or such work are pending (io_uring_poll()).
 */
static int end_turn_external(struct rp_engine *e)
{
	int nfd = atomic_load_explicit(&e->notify_fd, memory_order_relaxed);
	struct pollfd p = { .fd = e->r.ring.ring_fd, .events = POLLIN };

	if (io_uring_sq_ready(&e->r.ring)) {
		int ret = rp__ring_submit_wait(&e->r, 0, 0);

		if (ret < 0)
			return ret;
	}
	if (io_uring_cq_ready(&e->r.ring) || poll(&p, 1, 0) > 0)
		poke(nfd);
	return 0;
}

/* Reads away the embedder's wakeups: the turn about to run answers them. */
static void drain_notify(struct rp_engine *e)
{
	int nfd = atomic_load_explicit(&e->notify_fd, memory_order_relaxed);
	uint64_t v;

	if (nfd >= 0 && read(nfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to read */
	}
}

static int turn(struct rp_engine *e, int timeout_ms)
{
	uint64_t wait_ns, t_ns;
	int ret;

	/* Results first: their callbacks may block (a slow stdout), and no
	 * new attempt should have its clock running meanwhile. */
	deliver_done(e);
	e->now_ns = clock_ns();
	if (e->rate_refused && rate_ok(e))
		e->rate_refused = false; /* this turn is the wakeup owed */
	if (!e->stopping &&
	    atomic_load_explicit(&e->stop_req, memory_order_relaxed))
		begin_stop(e);
	if (!e->stopping)
		admit(e);
	if (!e->wake_armed && !e->stopping)
		arm_wake(e);
	rp__dns_sync(e);
	if (e->stopping && e->inflight)
		cancel_all(e); /* again: see "stop and cancel" above */

	if (!has_work(e))
		return flush_idle(e);

	wait_ns = timeout_ms < 0 ? UINT64_MAX : (uint64_t)timeout_ms * NS_PER_MS;
	t_ns = timer_ns(e, e->now_ns);
	if (t_ns < wait_ns)
		wait_ns = t_ns;
	ret = rp__ring_submit_wait(&e->r, wait_ns ? 1 : 0, wait_ns);
	if (ret < 0)
		return ret;
	e->now_ns = clock_ns();
	reap(e);
	rp__dns_tick(e);
	rp__dns_sync(e);
	if (e->http)
		rp__http_rearm(e);
	deliver_done(e);
	return has_work(e) ? 1 : flush_idle(e);
}

int rp_engine_run(struct rp_engine *e, int timeout_ms)
{
	bool external;
	int ret;

	if (e->in_callback)
		return -EBUSY;
	external = atomic_load_explicit(&e->notify_fd, memory_order_relaxed) >= 0;
	if (external)
		drain_notify(e);
	ret = turn(e, timeout_ms);
	if (external && ret >= 0) {
		int r2 = end_turn_external(e);

		if (r2 < 0)
			return r2;
	}
	return ret;
}

int rp_engine_run_all(struct rp_engine *e)
{
	int ret;

	if (e->in_callback)
		return -EBUSY;
	while ((ret = rp_engine_run(e, 1000)) > 0)
		;
	return ret;
}

int rp_engine_timeout(struct rp_engine *e)
{
	uint64_t ns;

	if (io_uring_sq_ready(&e->r.ring))
		return 0;
	ns = timer_ns(e, clock_ns());
	if (ns == UINT64_MAX)
		return -1;
	ns = (ns + NS_PER_MS - 1) / NS_PER_MS;
	return ns > INT32_MAX ? INT32_MAX : (int)ns;
}

/* Probes the kernel never let go of in time are reported all the same, so
 * that every accepted target still has its one result. */
static void abandon(struct rp_engine *e)
{
	for (uint32_t i = 0; i < e->o.concurrency; i++) {
		struct slot *s = &e->slots[i];

		if (s->state < SLOT_ACTIVE)
			continue;
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		s->detail = "abandoned";
		s->has_socket = 0; /* the ring's exit closes what it holds */
		rp__finish(e, s, RP_STATUS_CANCELLED, 0);
	}
	deliver_done(e);
}

int rp_engine_destroy(struct rp_engine *e)
{
	if (!e)
		return 0;
	if (e->in_callback)
		return -EBUSY;
	if (e->inflight || e->done.head != SLOT_NONE) {
		/* Keep the one-result-per-submit promise: cancel and drain,
		 * bounded in case the kernel misbehaves. */
		uint64_t give_up = clock_ns() + DESTROY_WAIT_NS;

		atomic_store(&e->stop_req, true);
		e->pull = NULL;
		while (turn(e, 100) > 0 && clock_ns() < give_up)
			;
		abandon(e);
	} else {
		(void)rp__ring_submit_wait(&e->r, 0, 0);
	}
	rp__dns_release(e); /* before the ring: its polls reference fds */
	rp__ring_release(&e->r);
	rp__http_release(e);
	for (uint32_t i = 0; i < e->o.concurrency; i++)
		if (e->slots[i].fd >= 0)
			close(e->slots[i].fd);
	if (e->notify_fd >= 0)
		close(e->notify_fd);
	close(e->wake_fd);
	free(e->details);
	free(e->slots);
	free(e);
	return 0;
}

int rp_engine_fd(struct rp_engine *e)
{
	if (e->notify_fd < 0) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		if (fd < 0)
			return -errno;
		int ret = io_uring_register_eventfd(&e->r.ring, fd);
		if (ret < 0) {
			close(fd);
			return ret;
		}
		atomic_store_explicit(&e->notify_fd, fd, memory_order_release);
	}
	return e->notify_fd;
}

void rp_engine_stats(const struct rp_engine *e, struct rp_stats *st)
{
	*st = e->st;
	st->sqes = e->r.sqes;
	st->enters = e->r.enters;
	st->inflight = e->inflight;
}

static const char *phase_name(const struct slot *s)
{
	if (s->state == SLOT_DONE)
		return "done";
	if (s->state == SLOT_REPORTING)
		return "reporting";
	if (s->cancel)
		return "cancelling";
	if (s->state == SLOT_RESOLVING)
		return "resolving";
	if (s->state == SLOT_SENDING)
		return "sending";
	if (s->state == SLOT_RECEIVING)
		return "receiving";
	return s->verifying ? "verifying" : "connecting";
}

int rp_engine_inflight(const struct rp_engine *e,
		       void (*fn)(const struct rp_probe_info *pi, void *arg),
		       void *arg)
{
	uint64_t now = clock_ns();
	int n = 0;

	for (uint32_t i = 0; i < e->o.concurrency; i++) {
		const struct slot *s = &e->slots[i];

		if (s->state == SLOT_FREE)
			continue;
		struct rp_probe_info pi = {
			.input = s->input,
			.index = s->index,
			.addr = s->addrlen ? (const struct sockaddr *)&s->addr
					   : NULL,
			.addrlen = s->addrlen,
			.phase = phase_name(s),
			.attempt = s->attempts,
			.age_us = s->attempts ? (now - s->start_ns) / 1000u : 0,
		};
		fn(&pi, arg);
		n++;
	}
	return n;
}
