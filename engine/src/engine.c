/*
 * engine.c - an engine's life: options checked, the probe kind made into
 * its list of stages, the ring, slots, name service and stages set up at
 * create and torn down at destroy; the counters and the in-flight
 * snapshot.
 *
 * Everything an engine uses is allocated here, once: nothing is allocated
 * per probe afterwards.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "abi.h"
#include "core.h"

/* The probe kinds: each an ordered list of stages. */
static const struct rp__stage_ops *const kind_tcp[] = {
	&rp__stage_connect, NULL,
};
/* http's TLS stage passes plain http targets straight on. */
static const struct rp__stage_ops *const kind_http[] = {
	&rp__stage_connect, &rp__stage_tls, &rp__stage_http, NULL,
};
static const struct rp__stage_ops *const kind_banner[] = {
	&rp__stage_connect, &rp__stage_banner, NULL,
};
static const struct rp__stage_ops *const kind_tls[] = {
	&rp__stage_connect, &rp__stage_tls, NULL,
};

static const struct rp__stage_ops *const *kind_stages(enum rp_probe_kind k)
{
	switch (k) {
	case RP_PROBE_TCP:
		return kind_tcp;
	case RP_PROBE_HTTP:
		return kind_http;
	case RP_PROBE_BANNER:
		return kind_banner;
	case RP_PROBE_TLS:
		return kind_tls;
	default:
		return NULL;
	}
}

int rp__kind_nstages(const struct rp_engine *e, int k)
{
	const struct rp__stage_ops *const *kind = kind_stages(k);
	unsigned n = 0;

	if (!kind)
		return -EINVAL;
	for (; kind[n]; n++)
		if (n >= e->nstages || e->stages[n].ops != kind[n])
			return -EINVAL;
	return (int)n;
}

static unsigned pow2_at_least(unsigned v)
{
	unsigned p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* Refuses values the engine cannot represent: a timeout that would wrap
 * the clock, a redirect count past the stage's counter, a cache whose
 * table size would overflow. */
static const char *opts_problem(const struct rp_engine_opts *o)
{
#define OVER(field, max) if (o->field > (max)) return #field ": above " #max
	if (o->concurrency >= RP__UD_MAX_SLOTS)
		return "concurrency: above the slot table's limit";
	OVER(connect_timeout_ns, RP_TIMEOUT_MAX_NS);
	OVER(timeout_ns, RP_TIMEOUT_MAX_NS);
	OVER(banner_wait_ns, RP_TIMEOUT_MAX_NS);
	OVER(http.io_timeout_ns, RP_TIMEOUT_MAX_NS);
	OVER(http.follow, RP_FOLLOW_MAX);
	OVER(tls.handshake_timeout_ns, RP_TIMEOUT_MAX_NS);
	OVER(dns.timeout_ns, RP_TIMEOUT_MAX_NS);
	OVER(dns.tries, RP_DNS_TRIES_MAX);
	OVER(dns.cache_size, RP_DNS_CACHE_MAX);
	OVER(host_delay_ns, RP_TIMEOUT_MAX_NS);
#undef OVER
	return NULL;
}

/* Everything create set up; safe on a partly built engine. */
static void teardown(struct rp_engine *e)
{
	e->names->release(e); /* before the ring: its polls use fds */
	rp__ring_release(&e->r);
	rp__bufs_release(e); /* after the ring let go of it */
	for (unsigned k = e->nstages; k-- > 0;)
		if (e->stages[k].state && e->stages[k].ops->release)
			e->stages[k].ops->release(e, e->stages[k].state);
	rp__hosts_release(e);
	rp__slots_release(e);
	if (e->notify_fd >= 0)
		close(e->notify_fd);
	if (e->wake_fd >= 0)
		close(e->wake_fd);
	free(e);
}

static int setup(struct rp_engine *e)
{
	const struct rp__stage_ops *const *kind = kind_stages(e->o.kind);
	bool fallback;
	int ret;

	if (!kind) {
		rp__errf(e->err, e->errlen, "kind: %d is no rp_probe_kind",
			 (int)e->o.kind);
		return -EINVAL;
	}
	for (e->nstages = 0; kind[e->nstages]; e->nstages++)
		e->stages[e->nstages].ops = kind[e->nstages];
	ret = rp__slots_init(e, e->names->priv_size(&e->o));
	if (ret < 0 || (ret = rp__hosts_init(e)) < 0)
		return ret;

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
#ifdef RP_FAULT
	if (rp__fault.ring_entries) /* tests: a CQ that overflows */
		sq = cq = rp__fault.ring_entries;
#endif
	fallback = (e->o.flags & RP_ENGINE_FALLBACK) ||
		   (getenv("RINGPROBE_FALLBACK") &&
		    strcmp(getenv("RINGPROBE_FALLBACK"), "0") != 0);
	ret = rp__ring_init(&e->r, sq, cq, e->o.concurrency, fallback);
	if (ret < 0)
		return ret;
	e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->wake_fd < 0)
		return -errno;
	ret = e->names->init(e, e->dns_off);
	if (ret < 0)
		return ret;
	for (unsigned k = 0; k < e->nstages; k++)
		if (e->stages[k].ops->uses_bufs && !e->bufs &&
		    (ret = rp__bufs_init(e)) < 0)
			return ret;
	for (unsigned k = 0; k < e->nstages; k++) {
		const struct rp__stage_ops *ops = e->stages[k].ops;

		if (ops->init && (ret = ops->init(e, &e->stages[k].state)) < 0)
			return ret;
	}
	return 0;
}

/* The struct as the first version had it: anything shorter is no
 * rp_engine_opts at all. */
#define OPTS_V1 RP__END(struct rp_engine_opts, dns)

int rp_engine_create_ex(struct rp_engine **out,
			const struct rp_engine_opts *opts, size_t opts_size,
			char *err, size_t errlen)
{
	struct rp_engine *e;
	struct rlimit rl;
	const char *why;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!out || !opts) {
		rp__errf(err, errlen, "no %s", out ? "options" : "out pointer");
		return -EINVAL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	ret = rp__struct_in(&e->o, sizeof(e->o), opts, opts_size, OPTS_V1);
	if (ret < 0 || !e->o.on_result) {
		rp__errf(err, errlen, ret == -E2BIG ? "options set a field this "
					       "library (%s) does not know"
				      : ret < 0 ? "options: %s is no "
						  "rp_engine_opts size"
						: "on_result: required",
			 ret == -E2BIG ? rp_version() : "the size given");
		free(e);
		return ret < 0 ? ret : -EINVAL;
	}
	e->err = err;
	e->errlen = errlen;
	e->names = &rp__dns_names;
	e->wake_fd = -1;
	e->r.ring.ring_fd = -1;
	atomic_init(&e->notify_fd, -1);
	atomic_init(&e->stop_req, false);
	if (!e->o.concurrency)
		e->o.concurrency = 1024;
	if (!e->o.connect_timeout_ns)
		e->o.connect_timeout_ns = NS_PER_SEC;
	if (!e->o.timeout_ns)
		e->o.timeout_ns = (e->o.kind == RP_PROBE_HTTP ? 10u : 5u) * NS_PER_SEC;
	why = opts_problem(&e->o);
	if (why) {
		rp__errf(err, errlen, "%s", why);
		free(e);
		return -EINVAL;
	}
	/* A ring's file table (direct sockets) may not be larger than
	 * RLIMIT_NOFILE, and fallback sockets are the process's descriptors:
	 * either way one engine's slots must fit the limit, with a few
	 * descriptors kept for the ring, eventfds and the caller's files.
	 * (Engines on other threads have tables of their own.) */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)e->o.concurrency + 16 > rl.rlim_cur) {
		rp__errf(err, errlen, "concurrency: %u needs more descriptors "
			 "than RLIMIT_NOFILE (%llu) allows", e->o.concurrency,
			 (unsigned long long)rl.rlim_cur);
		free(e);
		return -EMFILE;
	}
	ret = setup(e);
	e->err = NULL; /* the caller's buffer, only while creating */
	if (ret < 0) {
		teardown(e);
		return ret;
	}
	if (e->o.rate) {
		e->rate_interval_ns = NS_PER_SEC / e->o.rate;
		if (!e->rate_interval_ns)
			e->rate_interval_ns = 1;
		/* Allow 10 ms worth of probes at once, so per-turn batching
		 * does not cut the rate. */
		e->rate_burst_ns = 10 * NS_PER_MS;
	}
	e->st.concurrency = e->o.concurrency;
	e->st.direct = e->r.direct;
	e->st.setup_flags = e->r.setup_flags;
	rp__arm_wake(e);
	*out = e;
	return 0;
}

int(rp_engine_create)(struct rp_engine **out, const struct rp_engine_opts *opts)
{
	return rp_engine_create_ex(out, opts, OPTS_V1, NULL, 0);
}

/* Probes the kernel never let go of in time are reported all the same, so
 * that every accepted target still has its one result. */
static void abandon(struct rp_engine *e)
{
	for (uint32_t i = 0; i < e->o.concurrency; i++) {
		struct slot *s = &e->slots[i];

		if (s->phase < PHASE_ACTIVE)
			continue;
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		s->detail = "abandoned";
		s->has_socket = 0; /* the ring's exit closes what it holds */
		rp__finish(e, s, RP_STATUS_CANCELLED, 0);
	}
	rp__deliver_done(e);
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
		uint64_t give_up = rp__clock_ns() + DESTROY_WAIT_NS;

		atomic_store(&e->stop_req, true);
		e->pull = NULL;
		while (rp__turn(e, 100) > 0 && rp__clock_ns() < give_up)
			;
		abandon(e);
	} else {
		(void)rp__ring_submit_wait(&e->r, 0, 0);
	}
	teardown(e);
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

void rp_engine_stats_ex(const struct rp_engine *e, struct rp_stats *st,
			size_t st_size)
{
	struct rp_stats now = e->st;

	now.sqes = e->r.sqes;
	now.enters = e->r.enters;
	now.inflight = e->inflight;
	rp__struct_out(st, st_size, &now, sizeof(now));
}

void(rp_engine_stats)(const struct rp_engine *e, struct rp_stats *st)
{
	rp_engine_stats_ex(e, st, RP__STATS_V1);
}

static const char *const phase_names[PHASE__COUNT] = {
	[PHASE_FREE] = "free",
	[PHASE_DONE] = "done",
	[PHASE_REPORTING] = "reporting",
	[PHASE_RESOLVING] = "resolving",
	[PHASE_CONNECTING] = "connecting",
	[PHASE_VERIFYING] = "verifying",
	[PHASE_HANDSHAKING] = "handshaking",
	[PHASE_SENDING] = "sending",
	[PHASE_RECEIVING] = "receiving",
	[PHASE_WAITING] = "waiting",
};

int rp_engine_inflight(const struct rp_engine *e,
		       void (*fn)(const struct rp_probe_info *pi, void *arg),
		       void *arg)
{
	uint64_t now = rp__clock_ns();
	int n = 0;

	for (uint32_t i = 0; i < e->o.concurrency; i++) {
		const struct slot *s = &e->slots[i];

		if (s->phase == PHASE_FREE)
			continue;
		struct rp_probe_info pi = {
			.input = s->input,
			.index = s->index,
			.addr = s->addrlen ? (const struct sockaddr *)&s->addr
					   : NULL,
			.addrlen = s->addrlen,
			.phase = s->cancel && s->phase >= PHASE_ACTIVE
					 ? "cancelling"
					 : phase_names[s->phase],
			.attempt = s->attempts,
			.age_us = s->attempts ? (now - s->start_ns) / 1000u : 0,
		};
		fn(&pi, arg);
		n++;
	}
	return n;
}
