/*
 * loop.c - the run loop: one bounded turn (admit, submit and wait with one
 * io_uring_enter, dispatch every completion, report), the fd and timeout
 * an embedder's own loop waits on, and stop and cancel.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

#include "core.h"

/* Keeps a read of the wake eventfd armed in the ring. */
void rp__arm_wake(struct rp_engine *e)
{
	struct io_uring_sqe *sqe = rp__ring_reserve(&e->r, 1);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, e->wake_fd, &e->wake_buf, sizeof(e->wake_buf),
			   0);
	sqe->user_data = rp__ud(0, RP__UD_NOSLOT, RP__OP_WAKE);
	e->wake_armed = true;
}

/* ---- stop and cancel --------------------------------------------------- */

/*
 * An async cancel only finds ops the kernel has armed. Under DEFER_TASKRUN
 * the members of a chain after its head are started from task work, which
 * runs only while we wait in io_uring_enter (a bounded batch at a time), so
 * right after a submit most new chains have no CONNECT to find yet. Cancels
 * are therefore repeated until they take: a probe's cancel is issued again
 * when it answers -ENOENT, and while stopping the loop waits briefly until
 * nothing is in flight.
 *
 * A stop cancels each probe's op by its user_data, not with one
 * IORING_ASYNC_CANCEL_ANY|ALL: the kernel serves CANCEL_ALL by looking
 * for one match at a time, each look a walk over every armed poll, so one
 * cancel-all of n connects costs O(n^2) in the submitting thread (396 ms
 * at 4,096 connects, 87% of it in io_cancel_req_match), while a cancel by
 * user_data is a hash lookup: n of them are O(n).
 */
void rp__cancel_op(struct rp_engine *e, struct slot *s)
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
 * was for is still waiting for its connect, or for the TLS handshake slot
 * it was just given (a wait op is cancelled only to end the wait). */
static void on_cancel_cqe(struct rp_engine *e, uint64_t ud, int res)
{
	uint32_t idx = rp__ud_slot(ud);
	struct slot *s;

	if (res != -ENOENT || idx >= e->o.concurrency)
		return;
	s = &e->slots[idx];
	if (s->gen == rp__ud_gen(ud) && s->phase > PHASE_RESOLVING &&
	    (s->cancel || s->op == RP__OP_WAIT) && s->ops)
		rp__cancel_op(e, s);
}

static void begin_stop(struct rp_engine *e)
{
	uint64_t now = rp__clock_ns();

	e->stopping = true;
	for (uint32_t i = 0; i < e->o.concurrency; i++) {
		struct slot *s = &e->slots[i];

		if (s->phase < PHASE_ACTIVE || s->cancel)
			continue;
		s->cancel = 1;
		s->cancel_ns = now;
		if (s->phase > PHASE_RESOLVING && s->ops)
			rp__cancel_op(e, s);
	}
	e->names->cancel_all(e);
	rp__hosts_cancel_all(e);
}

/* Did the op of this CQE end by its own timer, due before the cancel was
 * asked? Then the probe timed out: the cancel came too late to matter. */
static bool timed_out_first(const struct slot *s, int res)
{
	return (res == -ECANCELED || res == -ETIME || res == -ETIMEDOUT) &&
	       s->expire_ns <= s->cancel_ns;
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

/* rp_engine_cancel() of the probe in slot found. */
static int cancel_slot(struct rp_engine *e, struct slot *found)
{
	if (found->phase < PHASE_ACTIVE)
		return -EALREADY; /* decided, or being reported */
	if (found->cancel)
		return 0;
	/* From now on whatever completes for this probe ends it CANCELLED
	 * (on_cqe()), even an op that had finished in the kernel: the
	 * caller asked before learning the outcome. */
	found->cancel = 1;
	found->cancel_ns = 0; /* the caller asked: CANCELLED, whatever */
	if (found->phase == PHASE_RESOLVING) {
		e->names->forget(e, found);
		rp__done(e, found, RP_STATUS_CANCELLED, 0);
	} else if (found->phase == PHASE_WAITING) {
		rp__host_leave(e, found);
		rp__done(e, found, RP_STATUS_CANCELLED, 0);
	} else {
		rp__cancel_op(e, found);
	}
	return 0;
}

int rp_engine_cancel(struct rp_engine *e, uint64_t index)
{
	struct slot *found = NULL;

	/* O(concurrency): an index map would cost every probe a hash
	 * insert and delete; rp_engine_cancel_id() is the O(1) way. */
	for (uint32_t i = 0; i < e->o.concurrency; i++) {
		struct slot *s = &e->slots[i];

		/* the newest, preferring one not cancelled yet */
		if (s->phase != PHASE_FREE && s->index == index &&
		    (!found || (found->cancel && !s->cancel) ||
		     (found->cancel == s->cancel &&
		      s->start_ns >= found->start_ns)))
			found = s;
	}
	return found ? cancel_slot(e, found) : -ENOENT;
}

int rp_engine_cancel_id(struct rp_engine *e, uint64_t id)
{
	uint32_t idx = (uint32_t)id - 1u;
	struct slot *s;

	if (!e || !(uint32_t)id || idx >= e->o.concurrency)
		return -ENOENT;
	s = &e->slots[idx];
	if (s->phase == PHASE_FREE || !s->by_id ||
	    s->gen != (uint32_t)(id >> 32))
		return -ENOENT;
	return cancel_slot(e, s);
}

/* ---- the loop ---------------------------------------------------------- */

/* A CQE no stage will see: what it carries goes back (a provided buffer,
 * a descriptor it installed). */
static void drop_cqe(struct rp_engine *e, const struct io_uring_cqe *cqe)
{
	rp__buf_put(e, cqe);
	if (rp__ud_op(cqe->user_data) == RP__OP_FDINSTALL && cqe->res >= 0)
		close(cqe->res);
}

/* Dispatches one completion: the core's own ops here, a probe's op to the
 * stage that runs it (or to the transport below that stage, whose op it
 * is). */
static void on_cqe(struct rp_engine *e, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	enum rp__op op = rp__ud_op(ud);
	uint32_t idx = rp__ud_slot(ud);
	struct slot *s;

	switch (op) {
	case RP__OP_WAKE:
		e->wake_armed = false;
		e->pull_idle = false;
		return;
	case RP__OP_CANCEL: /* the target's own CQE tells what happened */
		on_cancel_cqe(e, ud, cqe->res);
		return;
	case RP__OP_DNS_POLL:
		e->names->on_poll(e, ud, cqe->res);
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
	s = idx < e->o.concurrency ? &e->slots[idx] : NULL;
	if (!s || s->gen != rp__ud_gen(ud) || s->phase < PHASE_ACTIVE ||
	    s->ops == 0) {
		e->st.stale_cqes++;
		drop_cqe(e, cqe);
		return;
	}
	s->ops--;
	if (s->cancel && !timed_out_first(s, cqe->res)) {
		/* Whatever the op says, the caller asked first. */
		drop_cqe(e, cqe);
		rp__finish(e, s, RP_STATUS_CANCELLED, 0);
		return;
	}
	e->stages[rp__io_stage(s)].ops->on_cqe(e, s, cqe);
}

static unsigned reap(struct rp_engine *e)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&e->r.ring, head, cqe)
	{
		on_cqe(e, cqe);
		n++;
		/* A stop asked from a callback of this batch holds for the
		 * rest of it: every probe still in flight ends CANCELLED. */
		if (!e->stopping &&
		    atomic_load_explicit(&e->stop_req, memory_order_relaxed))
			begin_stop(e);
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
	uint64_t dns_ns = e->names->wait_ns(e, now);
	uint64_t host_ns = rp__hosts_wait_ns(e, now);

	if (host_ns < ns)
		ns = host_ns;
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
	ssize_t n = nfd >= 0 ? read(nfd, &v, sizeof(v)) : 0;

	(void)n; /* EAGAIN: nothing to read */
}

/*
 * Completions to wait for. One, except while stopping: then each probe in
 * flight owes one, and asking for them all keeps the kernel running the
 * cancelled ops' task work in this one enter (DEFER_TASKRUN runs only a
 * small batch per enter otherwise: about 40 CQEs, so a stop at -c 4096
 * took 100 turns); the stop's short turn length still bounds the wait.
 */
static unsigned wait_nr(const struct rp_engine *e)
{
	return e->stopping && e->inflight ? e->inflight : 1;
}

int rp__turn(struct rp_engine *e, int timeout_ms)
{
	uint64_t wait_ns, t_ns;
	int ret;

	/* Results first: their callbacks may block (a slow stdout), and no
	 * new attempt should have its clock running meanwhile. */
	rp__deliver_done(e);
	e->now_ns = rp__clock_ns();
	if (e->rate_refused && rp__rate_ok(e))
		e->rate_refused = false; /* this turn is the wakeup owed */
	if (!e->stopping &&
	    atomic_load_explicit(&e->stop_req, memory_order_relaxed))
		begin_stop(e);
	rp__hosts_tick(e); /* waiters first: they hold slots already */
	if (!e->stopping)
		rp__admit(e);
	if (!e->wake_armed && !e->stopping)
		rp__arm_wake(e);
	e->names->sync(e);

	if (!has_work(e))
		return flush_idle(e);

	wait_ns = timeout_ms < 0 ? UINT64_MAX : (uint64_t)timeout_ms * NS_PER_MS;
	t_ns = timer_ns(e, e->now_ns);
	if (t_ns < wait_ns)
		wait_ns = t_ns;
	ret = rp__ring_submit_wait(&e->r, wait_ns ? wait_nr(e) : 0, wait_ns);
	if (ret < 0)
		return ret;
	e->now_ns = rp__clock_ns();
	reap(e);
	e->names->tick(e);
	e->names->sync(e);
	rp__bufs_end_turn(e);
	rp__deliver_done(e);
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
	ret = rp__turn(e, timeout_ms);
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

	/* From a callback the first rp_engine_run() says -EBUSY. */
	while ((ret = rp_engine_run(e, 1000)) > 0)
		;
	return ret;
}

int rp_engine_timeout(struct rp_engine *e)
{
	uint64_t ns;

	if (io_uring_sq_ready(&e->r.ring))
		return 0;
	ns = timer_ns(e, rp__clock_ns());
	if (ns == UINT64_MAX)
		return -1;
	ns = (ns + NS_PER_MS - 1) / NS_PER_MS;
	return ns > INT32_MAX ? INT32_MAX : (int)ns;
}

/* Probes the kernel never let go of in time are reported all the same, so
 * that every accepted target still has its one result. */