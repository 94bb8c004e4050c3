/*
 * admit.c - admission: targets come in, submitted by the caller or pulled
 * from its source, only when a slot is free and the rate limit allows;
 * each is checked, copied into its slot and started.
 *
 * The rate limit is GCRA with a 10 ms burst, counting submitted and pulled
 * targets alike. Time spent waiting for a slot or a token is not part of
 * any timeout: a probe's clocks start when it is taken.
 */
#include <errno.h>
#include <string.h>

#include "abi.h"
#include "core.h"
#include "trace.h"

bool rp__wire_text_ok(const char *s)
{
	if (!s)
		return true;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static void copy_text(char *dst, const char *src)
{
	size_t n = src ? strnlen(src, RP_INPUT_MAX - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

static bool addr_ok(const struct rp_target *t)
{
	switch (t->addr.ss_family) {
	case AF_INET:
		return t->addrlen == sizeof(struct sockaddr_in);
	case AF_INET6:
		return t->addrlen == sizeof(struct sockaddr_in6);
	default:
		return false;
	}
}

/* Is t something the engine can take? A preset outcome always is. */
static bool target_ok(const struct rp_engine *e, const struct rp_target *t)
{
	if ((unsigned)t->status >= RP_STATUS__COUNT)
		return false;
	if (t->status != RP_STATUS_NONE)
		return true;
	if ((t->kind && rp__kind_nstages(e, t->kind - 1) < 0) ||
	    t->timeout_ns > RP_TIMEOUT_MAX_NS ||
	    t->connect_timeout_ns > RP_TIMEOUT_MAX_NS)
		return false;
	/* host, path and name go on the wire: nothing in them may end a
	 * line or split the request line. */
	if (!rp__wire_text_ok(t->host) || !rp__wire_text_ok(t->path) ||
	    !rp__wire_text_ok(t->name))
		return false;
	if (t->name)
		return t->name[0] && strlen(t->name) <= 253 && t->port;
	return addr_ok(t);
}

/* Takes a free slot for t and starts it (or queues its preset outcome).
 * With id, the probe gets a handle, stored there. */
static int take(struct rp_engine *e, const struct rp_target *t, uint64_t *id)
{
	struct slot *s;

	if (!target_ok(e, t))
		return -EINVAL;
	s = rp__slot_take(e);
	e->st.submitted++;
	copy_text(s->input, t->input);
	s->index = t->index;
	s->user = t->user;
	s->seq = t->seq;
	s->by_id = id != NULL;
	if (id)
		*id = rp__slot_id(e, s);
	s->host = SLOT_NONE;
	s->cancel = 0;
	s->nmore = s->imore = 0;
	s->attempts = 0;
	s->rtt_us = 0;
	s->ops = 0;
	s->stage = 0;
	s->kind = (uint8_t)(t->kind && t->status == RP_STATUS_NONE
				    ? t->kind - 1 : (int)e->o.kind);
	s->nstages = (uint8_t)rp__kind_nstages(e, s->kind);
	s->tls = s->kind == RP_PROBE_TLS || t->tls;
	s->reached = 0;
	s->detail = NULL;
	s->dns_us = 0;
	s->start_ns = e->now_ns;
	s->timeout_ns = t->timeout_ns ? t->timeout_ns : e->o.timeout_ns;
	s->connect_timeout_ns = t->connect_timeout_ns ? t->connect_timeout_ns
						      : e->o.connect_timeout_ns;
	s->deadline_ns = e->now_ns + s->timeout_ns;
	RP_TRACE_START(s->index, slot_idx(e, s));

	if (t->status != RP_STATUS_NONE) {
		/* an excluded address is worth reporting (never probed) */
		s->addrlen = t->status == RP_STATUS_EXCLUDED && addr_ok(t)
				     ? t->addrlen : 0;
		if (s->addrlen)
			memcpy(&s->addr, &t->addr, t->addrlen);
		if (t->detail) {
			s->detail = rp__slot_detail(e, s);
			copy_text(rp__slot_detail(e, s), t->detail);
		}
		rp__done(e, s, t->status, t->err);
		return 0;
	}
	if (t->name) {
		s->addrlen = 0;
		s->port = t->port;
	} else {
		memcpy(&s->addr, &t->addr, t->addrlen);
		s->addrlen = t->addrlen;
	}
	for (unsigned k = 0; k < s->nstages; k++) {
		const struct rp__stage_ops *ops = e->stages[k].ops;
		int ret;

		if (!ops->take)
			continue;
		ret = ops->take(e, s, t);
		if (ret < 0) {
			s->addrlen = 0;
			rp__done(e, s, RP_STATUS_INVALID, ret);
			return 0;
		}
	}
	rp__begin(e, s, t->name);
	return 0;
}

/* The rate limiter (GCRA): may a probe start now? */
bool rp__rate_ok(const struct rp_engine *e)
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

/* rp_target as the first version had it. */
#define TARGET_V1 RP__TARGET_V1

int rp_engine_submit_id(struct rp_engine *e, const struct rp_target *t,
			size_t target_size, uint64_t *id)
{
	struct rp_target copy;
	int ret;

	if (!e || !t)
		return -EINVAL;
	if (target_size != sizeof(*t)) { /* another version's struct */
		ret = rp__struct_in(&copy, sizeof(copy), t, target_size,
				    TARGET_V1);
		if (ret < 0)
			return ret;
		t = &copy;
	}
	if (e->stopping || atomic_load_explicit(&e->stop_req,
						memory_order_relaxed))
		return -ESHUTDOWN;
	if (!e->nfree)
		return -EAGAIN;
	/* The probe's clocks start now, not at the last turn: the engine
	 * may have been idle for longer than any timeout. */
	e->now_ns = rp__clock_ns();
	if (!rp__rate_ok(e)) {
		e->rate_refused = true; /* rp_engine_timeout() owes a wakeup */
		return -EAGAIN;
	}
	ret = take(e, t, id);
	if (ret == 0) {
		rate_take(e);
		e->rate_refused = false;
	}
	return ret;
}

int rp_engine_submit_ex(struct rp_engine *e, const struct rp_target *t,
			size_t target_size)
{
	return rp_engine_submit_id(e, t, target_size, NULL);
}

int(rp_engine_submit)(struct rp_engine *e, const struct rp_target *t)
{
	return rp_engine_submit_ex(e, t, TARGET_V1);
}

void rp_engine_set_source(struct rp_engine *e, rp_pull_fn fn, void *arg)
{
	e->pull = fn;
	e->pull_arg = arg;
	e->pull_idle = false;
	e->pull_done = fn == NULL;
}

/* Fills free slots from the pull source. */
void rp__admit(struct rp_engine *e)
{
	struct rp_target t;

	if (!e->pull || e->pull_done || e->pull_idle)
		return;
	while (e->nfree && rp__rate_ok(e)) {
		memset(&t, 0, sizeof(t));
		/* rp_source_next as a pull function: the whole target (the
		 * plain function fills only the first version's fields). */
		int got = e->pull == (rp_source_next)
				  ? rp_source_next_ex(e->pull_arg, &t,
						      sizeof(t))
				  : e->pull(e->pull_arg, &t);

		if (got < 0) {
			e->pull_done = true;
			return;
		}
		if (got == 0) {
			e->pull_idle = true;
			return;
		}
		if (take(e, &t, NULL) < 0) {
			/* A pull source must not lose a target: report a
			 * malformed one rather than dropping it. */
			t.status = RP_STATUS_INVALID;
			t.detail = "malformed target from source";
			t.addrlen = 0;
			(void)take(e, &t, NULL);
		}
		rate_take(e);
	}
}
