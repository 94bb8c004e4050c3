/*
 * stage_connect.c - the connect stage: the first of every probe kind.
 *
 * Each attempt is one chain that posts exactly one CQE:
 *
 *   SOCKET(direct, slot) -> SETSOCKOPT(SO_LINGER 0) [-> TCP_QUICKACK 0]
 *       [-> SETSOCKOPT(IP_LOCAL_PORT_RANGE)] -> CONNECT -> LINK_TIMEOUT
 *
 * with CQE_SKIP_SUCCESS on everything but CONNECT: the connect's result,
 * or the failing member's error. When the next stage writes first (HTTP),
 * quick ACKs are turned off, so its first write carries the handshake's
 * last ACK instead of a packet of its own. The port range option is there
 * only for targets on this host whose port lies in the ephemeral range:
 * without it the kernel can pick the target's own port as the source
 * port, the socket connects to itself (TCP simultaneous open) and a closed
 * port reads as open now and then. Fallback mode makes the socket with
 * socket(2) and setsockopt(2) and chains just CONNECT -> LINK_TIMEOUT.
 *
 * The link timeout is absolute: min(attempt start + connect timeout,
 * probe deadline), so the kernel enforces both. A timeout is then checked
 * with the socket itself (VERIFYING): a second CONNECT answers -EALREADY
 * while the handshake is still pending (really filtered), -EISCONN if it
 * completed after all (the answer came while the loop or the kernel was
 * too busy to see it in time: open), or the error it ended with.
 *
 * An address on the exclude list (rp_engine_opts.exclude) ends the probe
 * EXCLUDED before its socket is made.
 *
 *   CONNECTING --ok--> next stage, or OPEN
 *       | refused: CLOSED   unreachable: UNREACHABLE   error: ERROR
 *       | timeout --> VERIFYING --pending--> retry (CONNECTING) or FILTERED
 */
#include <errno.h>
#include <ifaddrs.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exclude.h"
#include "stage.h"
#include "stats.h"
#include "uring_compat.h"

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51 /* Linux 6.3 */
#endif
#define LOCAL_ADDRS_MAX 32
#define VERIFY_NS (100 * NS_PER_MS) /* bound on the post-timeout check */

struct connect_slot {
	uint64_t attempt_ns;          /* this attempt queued (turn clock) */
	uint32_t port_range;          /* IP_LOCAL_PORT_RANGE optval */
	bool self_risk;               /* target on this host, port ephemeral */
};

struct connect {
	bool quickack_off;            /* the next stage writes first (for
	                               * probes that run it) */
	uint16_t eph_lo, eph_hi;      /* ip_local_port_range */
	bool port_range_ok;           /* kernel has IP_LOCAL_PORT_RANGE */
	struct rp__exclude_cache xcache; /* last exclude lookup */
	bool fd_install;              /* kernel has IORING_OP_FIXED_FD_INSTALL */
	int nlocal;                   /* addresses of this host */
	struct sockaddr_storage local[LOCAL_ADDRS_MAX];
};

static const struct linger rst_linger = { .l_onoff = 1, .l_linger = 0 };
static const int no_quickack = 0;

static struct connect *state(const struct rp_engine *e)
{
	return e->stages[0].state; /* always the first stage */
}

static struct connect_slot *priv(const struct rp_engine *e,
				 const struct slot *s)
{
	return rp__priv(e, s, 0);
}

/* Reads the ephemeral port range and this host's addresses, and checks
 * that the kernel can narrow a socket's source port range: what
 * self_connect_risk() needs. */
static void local_setup(struct connect *c)
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
	c->eph_lo = (uint16_t)lo;
	c->eph_hi = (uint16_t)hi;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		c->port_range_ok = setsockopt(fd, SOL_IP, IP_LOCAL_PORT_RANGE,
					      &v, sizeof(v)) == 0;
		close(fd);
	}
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i && c->nlocal < LOCAL_ADDRS_MAX; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
				     i->ifa_addr->sa_family != AF_INET6))
			continue;
		memcpy(&c->local[c->nlocal++], i->ifa_addr,
		       i->ifa_addr->sa_family == AF_INET
			       ? sizeof(struct sockaddr_in)
			       : sizeof(struct sockaddr_in6));
	}
	freeifaddrs(ifa);
}

static bool is_local(const struct connect *c, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)sa;

		if ((ntohl(a->sin_addr.s_addr) >> 24) == 127)
			return true;
		for (int i = 0; i < c->nlocal; i++) {
			const struct sockaddr_in *l = (const void *)&c->local[i];

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
	for (int i = 0; i < c->nlocal; i++) {
		const struct sockaddr_in6 *l = (const void *)&c->local[i];

		if (l->sin6_family == AF_INET6 &&
		    !memcmp(&l->sin6_addr, &a6->sin6_addr, sizeof(l->sin6_addr)))
			return true;
	}
	return false;
}

/* Sets cs->port_range to a source port range that excludes the target's
 * port when the socket could otherwise connect to itself. */
static bool self_connect_risk(const struct connect *c, const struct slot *s,
			      struct connect_slot *cs)
{
	const struct sockaddr_in *a = (const void *)&s->addr;
	unsigned p = ntohs(a->sin_port); /* sin6_port sits at the same place */

	if (!c->port_range_ok || p < c->eph_lo || p > c->eph_hi ||
	    !is_local(c, (const struct sockaddr *)&s->addr))
		return false;
	if (p - c->eph_lo >= c->eph_hi - p)
		cs->port_range = (uint32_t)c->eph_lo | (uint32_t)(p - 1) << 16;
	else
		cs->port_range = (uint32_t)(p + 1) | (uint32_t)c->eph_hi << 16;
	return true;
}

static int connect_init(struct rp_engine *e, void **out)
{
	struct connect *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	/* Stages are in place before any init runs (engine.c). */
	c->quickack_off = e->nstages > 1 && e->stages[1].ops->sends_first;
	local_setup(c);
	if (e->r.direct) {
		struct io_uring_probe *p = io_uring_get_probe_ring(&e->r.ring);

		c->fd_install = p && io_uring_opcode_supported(
					     p, IORING_OP_FIXED_FD_INSTALL);
		io_uring_free_probe(p);
	}
	*out = c;
	return 0;
}

static void connect_release(struct rp_engine *e, void *st)
{
	(void)e;
	free(st);
}

/* Fallback mode: a socket made by syscalls, the options set the same way
 * (qa_off: quick ACKs off, as start_attempt() decided). */
static int fallback_socket(struct rp_engine *e, struct slot *s,
			   const struct connect_slot *cs, bool qa_off)
{
	int fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	e->st.syscalls_other++;
	if (fd < 0) {
		/* EMFILE/ENFILE: the descriptor table is full */
		s->detail = "socket creation failed";
		return -errno;
	}
	e->st.syscalls_other += 1u + qa_off + cs->self_risk;
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst_linger,
		       sizeof(rst_linger)) < 0 ||
	    (qa_off &&
	     setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &no_quickack,
			sizeof(no_quickack)) < 0) ||
	    (cs->self_risk && setsockopt(fd, SOL_IP, IP_LOCAL_PORT_RANGE,
					 &cs->port_range,
					 sizeof(cs->port_range)) < 0)) {
		int err = -errno;

		close(fd);
		s->detail = "setsockopt failed";
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
 * the attempt could not even be queued (the caller ends the probe). */
static int start_attempt(struct rp_engine *e, struct slot *s)
{
	const struct connect *c = state(e);
	struct connect_slot *cs = priv(e, s);
	uint32_t idx = slot_idx(e, s);
	struct io_uring_sqe *sqe;
	/* only probes that run the next stage leave it the last ACK */
	bool qa_off = c->quickack_off && s->nstages > 1;
	int ret;

	if (!e->r.direct) {
		ret = fallback_socket(e, s, cs, qa_off);
		if (ret < 0)
			return ret;
	}
	/* socket, options, connect, timeout */
	sqe = rp__ring_reserve(&e->r, e->r.direct ? 4u + qa_off + cs->self_risk
						  : 2u);
	if (!sqe)
		return -EBUSY;

	s->attempts++;
	e->st.attempts++;
	s->has_socket = 1;
	cs->attempt_ns = e->now_ns;
	rp__set_phase(e, s, PHASE_CONNECTING);
	rp__arm_expiry(e, s, s->connect_timeout_ns);

	if (e->r.direct) {
		io_uring_prep_socket_direct(sqe, s->addr.ss_family, SOCK_STREAM,
					    0, idx, 0);
		sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
		sqe->user_data = rp__ud(s->gen, idx, RP__OP_SOCKET);
		chain_sockopt(e, s, SOL_SOCKET, SO_LINGER, &rst_linger,
			      sizeof(rst_linger));
		if (qa_off)
			chain_sockopt(e, s, IPPROTO_TCP, TCP_QUICKACK,
				      &no_quickack, sizeof(no_quickack));
		if (cs->self_risk)
			chain_sockopt(e, s, SOL_IP, IP_LOCAL_PORT_RANGE,
				      &cs->port_range, sizeof(cs->port_range));
		sqe = io_uring_get_sqe(&e->r.ring);
	}
	io_uring_prep_connect(sqe, slot_fd(e, s),
			      (const struct sockaddr *)&s->addr, s->addrlen);
	rp__link_op(e, s, sqe, RP__OP_CONNECT, IORING_TIMEOUT_ABS);
	return 0;
}

static void connect_start(struct rp_engine *e, struct slot *s)
{
	struct connect_slot *cs = priv(e, s);
	int ret;

	/* Every connect of every probe starts here, whatever gave the
	 * address (the target, a name, --all-addrs, a redirect): the one
	 * place to refuse an excluded one, before any socket exists. */
	if (e->o.exclude &&
	    rp__exclude_sa(e->o.exclude, (const struct sockaddr *)&s->addr,
			   &state(e)->xcache)) {
		rp__set_phase(e, s, PHASE_CONNECTING);
		rp__done(e, s, RP_STATUS_EXCLUDED, 0);
		return;
	}
	cs->self_risk = self_connect_risk(state(e), s, cs);
	ret = start_attempt(e, s);
	if (ret < 0) {
		rp__set_phase(e, s, PHASE_CONNECTING);
		rp__done(e, s, RP_STATUS_ERROR, ret);
	}
}

/* After a timeout, asks the socket how its connect ended: CONNECT again,
 * bounded by a short relative link timeout in case it had never started. */
static void verify(struct rp_engine *e, struct slot *s)
{
	struct io_uring_sqe *sqe = rp__ring_reserve(&e->r, 2);
	uint64_t ns = s->connect_timeout_ns < VERIFY_NS ? s->connect_timeout_ns
							  : VERIFY_NS;

	if (!sqe) {
		rp__finish(e, s, RP_STATUS_FILTERED, -ECANCELED);
		return;
	}
	rp__set_phase(e, s, PHASE_VERIFYING);
	io_uring_prep_connect(sqe, slot_fd(e, s),
			      (const struct sockaddr *)&s->addr, s->addrlen);
	rp__ts_set(s, ns);
	rp__link_op(e, s, sqe, RP__OP_VERIFY, 0); /* relative */
}

/* A timed-out attempt: another one while retries and time are left. */
static void timed_out(struct rp_engine *e, struct slot *s, int res)
{
	int ret;

	if (s->attempts <= e->o.retries && e->now_ns < s->deadline_ns &&
	    !e->stopping && !s->cancel) {
		rp__close_socket(e, s);
		ret = start_attempt(e, s);
		if (ret == 0)
			return;
		rp__finish(e, s, RP_STATUS_ERROR, ret);
		return;
	}
	rp__finish(e, s, RP_STATUS_FILTERED, res);
}

/* The kernel's smoothed round trip of a connected socket, from its
 * SYN/SYN-ACK exchange: TCP_INFO's tcpi_rtt, in microseconds. */
static void kernel_rtt(struct rp_engine *e, struct slot *s, int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	e->st.syscalls_other++;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	    len >= offsetof(struct tcp_info, tcpi_rtt) + sizeof(ti.tcpi_rtt) &&
	    ti.tcpi_rtt)
		s->rtt_us = ti.tcpi_rtt;
}

/* Connected: the round trip from the kernel, then the next stage. A
 * direct socket has no fd for getsockopt(2) (and io_uring's GETSOCKOPT
 * command takes SOL_SOCKET options only), so it is lent to one for the
 * call: IORING_OP_FIXED_FD_INSTALL, answered in fd_installed(). */
static void connected(struct rp_engine *e, struct slot *s)
{
	struct io_uring_sqe *sqe;

	if (!e->r.direct) {
		kernel_rtt(e, s, s->fd);
	} else if (state(e)->fd_install &&
		   (sqe = rp__ring_reserve(&e->r, 1))) {
		rp__prep_fd_install(sqe, slot_fd(e, s));
		sqe->user_data =
			rp__ud(s->gen, slot_idx(e, s), RP__OP_FDINSTALL);
		s->op = RP__OP_FDINSTALL;
		s->ops = 1;
		return;
	}
	rp__stage_done(e, s);
}

static void fd_installed(struct rp_engine *e, struct slot *s, int res)
{
	if (res >= 0) {
		kernel_rtt(e, s, res);
		close(res);
		e->st.syscalls_other++;
	}
	rp__stage_done(e, s);
}

/* A connect chain's single CQE: from CONNECT (or VERIFY), or from the
 * chain member that failed before it. */
static void connect_on_cqe(struct rp_engine *e, struct slot *s,
			   const struct io_uring_cqe *cqe)
{
	enum rp__op op = rp__ud_op(cqe->user_data);
	int res = cqe->res;

	if (op == RP__OP_FDINSTALL) {
		fd_installed(e, s, res);
		return;
	}
	/* Until the kernel says better: from the turn that queued the
	 * attempt to the one that reaped its answer, queueing included. */
	s->rtt_us = (uint32_t)((e->now_ns - priv(e, s)->attempt_ns) / 1000u);
	if (op == RP__OP_VERIFY) {
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
	switch (rp__classify(e, s, res)) {
	case END_OK:
		connected(e, s);
		return;
	case END_REFUSED:
		rp__finish(e, s, RP_STATUS_CLOSED, res);
		return;
	case END_CANCELLED:
		rp__finish(e, s, RP_STATUS_CANCELLED, 0);
		return;
	case END_TIMEOUT:
		if (res == -ECANCELED && !s->cancel)
			verify(e, s); /* our timer: ask the socket first */
		else
			timed_out(e, s, res);
		return;
	case END_UNREACHABLE:
		rp__finish(e, s, RP_STATUS_UNREACHABLE, res);
		return;
	case END_RESET:
	case END_ERROR:
	default:
		if (res == -EADDRNOTAVAIL)
			s->detail = "local port exhaustion";
		/* NEEDSWORK: old kernels can return -EINPROGRESS here with a
		 * linked timeout (liburing#841); a POLLOUT + SO_ERROR follow-up
		 * would recover the real answer. 6.x kernels do not. */
		rp__finish(e, s, RP_STATUS_ERROR, res);
		return;
	}
}

/* The connect round trip, for the answers to the connect. */
static void connect_info(struct rp_engine *e, struct slot *s,
			 struct rp_result *r)
{
	bool answered;

	if (!s->attempts)
		return;
	answered = r->status == RP_STATUS_OPEN ||
		   r->status == RP_STATUS_CLOSED || s->stage > 0;
	if (answered || r->status == RP_STATUS_UNREACHABLE)
		r->rtt_us = s->rtt_us;
	if (answered)
		rp__stats_rtt(&e->st, s->rtt_us);
}

const struct rp__stage_ops rp__stage_connect = {
	.name = "connect",
	.priv_size = sizeof(struct connect_slot),
	.init = connect_init,
	.release = connect_release,
	.start = connect_start,
	.on_cqe = connect_on_cqe,
	.info = connect_info,
};
