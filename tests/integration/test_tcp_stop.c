/*
 * test_tcp_stop.c - rp_engine_stop() with thousands of probes in flight:
 * everything in flight ends CANCELLED by a drain that cancels rather than
 * waits for the timeouts (t_check_drain()), every pulled target gets one
 * result, the source is not pulled again, submits are refused, and a
 * fresh engine works normally afterwards.
 *
 *  - stop_after_turns: after the slots filled;
 *  - stop_first_turn: right after the first turn;
 *  - stop_from_callback: from the result callback (every later result
 *    CANCELLED, from the very next one);
 *  - stop_from_thread: from another thread during rp_engine_run_all()
 *    (skipped under valgrind);
 *  - fallback_stop_from_callback, fallback_stop_first_turn: with
 *    RP_ENGINE_FALLBACK.
 *
 * RP_TEST_FILTER=<cmocka glob> runs a subset, e.g. 'test_stop*'.
 *
 * Each scenario runs on its own thread, which may move into a private
 * network namespace (per thread, see t_net.h) and owns its engine (one
 * engine per thread); the framework and the ports plan are t_scen.h's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringprobe.h"
#include "t_net.h"
#include "t_scen.h"

/* ---- stop all ------------------------------------------------------------ */

#define STOP_TARGETS 20000
#define STOP_CONC 2000

/* Even targets closed (T_CLOSED_LO..), odd ones dropped. */
static int port_mixed(uint64_t i)
{
	int n = T_CLOSED_HI - T_CLOSED_LO + 1;

	return i % 2 ? T_DROP_LO + (int)(i / 2 % (T_DROP_HI - T_DROP_LO + 1))
		     : T_CLOSED_LO + (int)(i / 2 % (uint64_t)n);
}

/* Checks after a stop: every pulled target has one result, the engine is
 * shut for submits, and nothing more arrives. */
static void check_after_stop(struct t_scen *sc, struct rp_engine *e,
			     struct t_rec *r, struct t_gen *g)
{
	struct rp_target t;

	t_check_each_index_once(sc, r, g->next);
	CHECK(sc, g->pulls_after_stop == 0,
	      "the source was pulled %llu times after the stop",
	      (unsigned long long)g->pulls_after_stop);
	t_target_v4(&t, T_DROP_LO, STOP_TARGETS + 1);
	int rc = rp_engine_submit(e, &t);
	CHECK(sc, rc == -ESHUTDOWN, "submit after stop: %s (want ESHUTDOWN)",
	      rp_strerror(rc));
	uint64_t n = r->n;
	CHECK(sc, rp_engine_run(e, 0) == 0, "run after drain is not 0");
	CHECK(sc, r->n == n, "results after the drain");
	t_check_stats(sc, e, r);
	rp_engine_destroy(e);
	CHECK(sc, r->n == n, "destroy after the drain added %llu results",
	      (unsigned long long)(r->n - n));
	CHECK(sc, r->cap <= STOP_TARGETS + 1 ||
			  r->cnt[STOP_TARGETS + 1] == 0,
	      "a result for the submit refused with ESHUTDOWN");
}

/* Stop right after the first turn: 2000 chains just submitted. */
static void stop_first_turn_body(struct t_scen *sc)
{
	if (t_drop_ports(sc, T_DROP_LO, T_DROP_HI))
		return;
	struct t_rec *r = t_rec_new(sc, STOP_TARGETS + 2, 0);
	struct t_gen g = {.n = STOP_TARGETS, .port_of = t_port_dropped};
	struct rp_engine_opts o = {
		.concurrency = STOP_CONC,
		.connect_timeout_ns = T_STOP_TIMEOUT_MS * 1000000ull,
	};
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out;
	rp_engine_set_source(e, t_gen_pull, &g);
	(void)rp_engine_run(e, 0);
	CHECK(sc, g.next == STOP_CONC, "first turn pulled %llu",
	      (unsigned long long)g.next);
	uint64_t t0 = t_now_ns();
	double c0 = t_thread_cpu_ms();
	rp_engine_stop(e);
	g.stopped = 1;
	int rc = t_run_until(e, NULL, NULL, T_DRAIN_WALL_MS);
	double ms = t_ms_since(t0);
	CHECK(sc, rc == 0, "rp_engine_run did not return 0 after stop (%d)",
	      rc);
	t_check_drain(sc, "drain after stop", ms, t_thread_cpu_ms() - c0);
	CHECK(sc, r->by_status[RP_STATUS_CANCELLED] == g.next,
	      "%llu cancelled of %llu in flight",
	      (unsigned long long)r->by_status[RP_STATUS_CANCELLED],
	      (unsigned long long)g.next);
	fprintf(stderr, "[%s] %llu cancelled, drained in %.0f ms\n", sc->name,
		(unsigned long long)r->n, ms);
	check_after_stop(sc, e, r, &g);
out:
	t_rec_free(r);
}

static void test_stop_first_turn(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "stop_first_turn", .netns = 1,
			    .expect_direct = 1, .fn = stop_first_turn_body,
			    .limit_s = 30};

	t_run_scenario(&sc);
}

static int inflight_full(void *arg)
{
	struct rp_engine *e = arg;
	struct rp_stats st;

	rp_engine_stats(e, &st);
	return st.inflight >= STOP_CONC;
}

static void stop_after_turns_body(struct t_scen *sc)
{
	if (t_drop_ports(sc, T_DROP_LO, T_DROP_HI))
		return;
	struct t_rec *r = t_rec_new(sc, STOP_TARGETS + 2, 0);
	struct t_gen g = {.n = STOP_TARGETS, .port_of = t_port_dropped};
	struct rp_engine_opts o = {
		.concurrency = STOP_CONC,
		.connect_timeout_ns = T_STOP_TIMEOUT_MS * 1000000ull,
	};
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out;
	rp_engine_set_source(e, t_gen_pull, &g);
	t_run_until(e, inflight_full, e, 5000);
	struct rp_stats st;
	rp_engine_stats(e, &st);
	CHECK(sc, st.inflight == STOP_CONC && r->n == 0,
	      "before stop: %u in flight, %llu results", st.inflight,
	      (unsigned long long)r->n);
	CHECK(sc, g.next == STOP_CONC, "pulled %llu targets for %d slots",
	      (unsigned long long)g.next, STOP_CONC);

	uint64_t t0 = t_now_ns();
	double c0 = t_thread_cpu_ms();
	rp_engine_stop(e);
	g.stopped = 1;
	int rc = t_run_until(e, NULL, NULL, T_DRAIN_WALL_MS);
	double ms = t_ms_since(t0);
	CHECK(sc, rc == 0, "rp_engine_run did not return 0 after stop (%d)",
	      rc);
	t_check_drain(sc, "drain after stop", ms, t_thread_cpu_ms() - c0);
	CHECK(sc, r->by_status[RP_STATUS_CANCELLED] == g.next,
	      "%llu cancelled of %llu in flight",
	      (unsigned long long)r->by_status[RP_STATUS_CANCELLED],
	      (unsigned long long)g.next);
	fprintf(stderr, "[%s] %llu in flight cancelled in %.0f ms\n",
		sc->name, (unsigned long long)g.next, ms);
	check_after_stop(sc, e, r, &g);
	t_normal_scan_after(sc);
out:
	t_rec_free(r);
}

static void test_stop_after_turns(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "stop_after_turns", .netns = 1,
			    .expect_direct = 1, .fn = stop_after_turns_body,
			    .limit_s = 30};

	t_run_scenario(&sc);
}

/* The stop from the callback needs the engine: keep it next to the gen. */
struct gen_e {
	struct t_gen g;
	struct rp_engine *e;
	uint64_t t_stop;
	double cpu_stop;              /* thread CPU time at the stop, ms */
	unsigned turn;                /* rp_engine_run() calls made */
	unsigned stop_turn;           /* the call whose callback stopped */
	uint64_t before_stop;         /* results up to the stopping one */
	uint64_t same_turn;           /* after it, that turn, not CANCELLED */
	uint64_t late;                /* after that turn, not CANCELLED */
};

static void stop_in_callback_e(struct t_rec *r, const struct rp_result *res)
{
	struct gen_e *ge = r->hook_arg;

	if (ge->g.stopped && res->status != RP_STATUS_CANCELLED) {
		if (ge->turn == ge->stop_turn)
			ge->same_turn++;
		else
			ge->late++;
	}
	if (r->n == 100 && !ge->g.stopped) {
		ge->before_stop = r->n;
		ge->stop_turn = ge->turn;
		ge->t_stop = t_now_ns();
		ge->cpu_stop = t_thread_cpu_ms();
		rp_engine_stop(ge->e);
		ge->g.stopped = 1;
	}
}

static void stop_from_callback_body(struct t_scen *sc)
{
	if (t_drop_ports(sc, T_DROP_LO, T_DROP_HI))
		return;
	struct t_rec *r = t_rec_new(sc, STOP_TARGETS + 2, 0);
	struct gen_e ge = {.g = {.n = STOP_TARGETS, .port_of = port_mixed}};
	struct rp_engine_opts o = {
		.concurrency = STOP_CONC,
		.connect_timeout_ns = T_STOP_TIMEOUT_MS * 1000000ull,
	};
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out;
	ge.e = e;
	r->hook = stop_in_callback_e;
	r->hook_arg = &ge;
	rp_engine_set_source(e, t_gen_pull, &ge.g);
	int rc = 1;
	uint64_t t0 = t_now_ns();
	for (ge.turn = 0; ge.turn < 1000000; ge.turn++) {
		if (t_ms_since(t0) > T_DRAIN_WALL_MS + 2000)
			break;
		rc = rp_engine_run(e, 10);
		if (rc <= 0)
			break;
	}
	CHECK(sc, ge.g.stopped, "fewer than 100 results in %d ms (%llu)",
	      T_DRAIN_WALL_MS + 2000, (unsigned long long)r->n);
	double ms = ge.t_stop ? (double)(t_now_ns() - ge.t_stop) / 1e6 : 0;
	double cpu = ge.t_stop ? t_thread_cpu_ms() - ge.cpu_stop : 0;
	CHECK(sc, rc == 0, "rp_engine_run did not return 0 after stop (%d)",
	      rc);
	t_check_drain(sc, "drain after stop", ms, cpu);
	/*
	 * rp_engine_stop() in ringprobe.h: everything in flight is reported
	 * CANCELLED, even a probe whose connect had completed in the kernel.
	 * Dropped targets cannot finish before their timeout, after the
	 * loop above gives up; a closed one is CLOSED only
	 * if its result came before the stop, and every later one is
	 * CANCELLED, from the very next result on: the stop holds at once,
	 * even for the completions its turn had already reaped.
	 */
	CHECK(sc, ge.late == 0 && ge.same_turn == 0,
	      "%llu results after the stop (%llu of them in its turn) were "
	      "not CANCELLED", (unsigned long long)(ge.late + ge.same_turn),
	      (unsigned long long)ge.same_turn);
	CHECK(sc, r->by_status[RP_STATUS_CLOSED] == ge.before_stop,
	      "%llu closed, but %llu results came before the stop and %llu "
	      "later in its turn",
	      (unsigned long long)r->by_status[RP_STATUS_CLOSED],
	      (unsigned long long)ge.before_stop,
	      (unsigned long long)ge.same_turn);
	uint64_t bad = 0;
	for (uint64_t i = 0; i < ge.g.next; i++) {
		int s = r->st[i];
		int ok = i % 2 ? s == RP_STATUS_CANCELLED
			       : (s == RP_STATUS_CLOSED ||
				  s == RP_STATUS_CANCELLED);
		if (!ok && bad++ < 5)
			CHECK(sc, 0, "target %llu (%s) got %s",
			      (unsigned long long)i,
			      i % 2 ? "dropped" : "closed", t_sname(s));
	}
	CHECK(sc, bad == 0, "%llu targets with an impossible status",
	      (unsigned long long)bad);
	fprintf(stderr,
		"[%s] pulled %llu, %llu closed (%llu after the stop, in its "
		"turn), %llu cancelled, drained in %.0f ms\n",
		sc->name, (unsigned long long)ge.g.next,
		(unsigned long long)r->by_status[RP_STATUS_CLOSED],
		(unsigned long long)ge.same_turn,
		(unsigned long long)r->by_status[RP_STATUS_CANCELLED], ms);
	check_after_stop(sc, e, r, &ge.g);
	t_normal_scan_after(sc);
out:
	t_rec_free(r);
}

static void test_stop_from_callback(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "stop_from_callback", .netns = 1,
			    .expect_direct = 1, .fn = stop_from_callback_body,
			    .limit_s = 30};

	t_run_scenario(&sc);
}

struct stopper {
	struct rp_engine *e;
	struct t_gen *g;
	int delay_ms;
	clockid_t loop_clk;           /* CPU clock of the loop thread */
	double cpu_stop;              /* its CPU time at the stop, ms */
	uint64_t t_stop;
};

static void *stopper_main(void *arg)
{
	struct stopper *s = arg;

	t_sleep_ms(s->delay_ms);
	s->cpu_stop = t_cpu_ms(s->loop_clk);
	__atomic_store_n(&s->t_stop, t_now_ns(), __ATOMIC_RELEASE);
	rp_engine_stop(s->e);
	__atomic_store_n(&s->g->stopped, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void stop_from_thread_body(struct t_scen *sc)
{
	pthread_t th;

	if (t_drop_ports(sc, T_DROP_LO, T_DROP_HI))
		return;
	struct t_rec *r = t_rec_new(sc, STOP_TARGETS + 2, 0);
	struct t_gen g = {.n = STOP_TARGETS, .port_of = t_port_dropped};
	struct rp_engine_opts o = {
		.concurrency = STOP_CONC,
		.connect_timeout_ns = T_STOP_TIMEOUT_MS * 1000000ull,
	};
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out;
	rp_engine_set_source(e, t_gen_pull, &g);
	struct stopper s = {.e = e, .g = &g, .delay_ms = 400};
	int crc = pthread_getcpuclockid(pthread_self(), &s.loop_clk);
	CHECK(sc, crc == 0, "pthread_getcpuclockid: %s", strerror(crc));
	if (pthread_create(&th, NULL, stopper_main, &s))
		abort();
	struct t_watchdog w;
	double limit_s = (s.delay_ms + T_DRAIN_WALL_MS + 1000) / 1e3;
	t_watchdog_start(&w, e, limit_s);
	int rc = rp_engine_run_all(e);
	uint64_t t1 = t_now_ns();
	double cpu = t_cpu_ms(s.loop_clk);
	int fired = t_watchdog_end(&w);
	pthread_join(th, NULL);
	double ms = (double)(t1 - s.t_stop) / 1e6;
	CHECK(sc, !fired, "rp_engine_run_all ignored the stop for %.1f s",
	      limit_s);
	CHECK(sc, rc == 0, "rp_engine_run_all: %s", rp_strerror(rc));
	t_check_drain(sc, "run_all after the stop", ms, cpu - s.cpu_stop);
	CHECK(sc, g.next >= STOP_CONC, "only %llu pulled before the stop",
	      (unsigned long long)g.next);
	CHECK(sc, r->by_status[RP_STATUS_CANCELLED] == g.next,
	      "%llu cancelled of %llu pulled",
	      (unsigned long long)r->by_status[RP_STATUS_CANCELLED],
	      (unsigned long long)g.next);
	fprintf(stderr, "[%s] %llu cancelled, run_all returned %.0f ms after "
			"the stop\n",
		sc->name, (unsigned long long)g.next, ms);
	/* A turn already pulling when the stop came from another thread may
	 * finish its batch; those targets still need their one result, which
	 * t_check_each_index_once() covers. */
	g.pulls_after_stop = 0;
	check_after_stop(sc, e, r, &g);
	t_normal_scan_after(sc);
out:
	t_rec_free(r);
}

static void test_stop_from_thread(void **state)
{
	(void)state;
	/* Valgrind runs one thread at a time and treats io_uring_enter as a
	 * syscall that does not block, so the stopping thread cannot run while
	 * the loop waits in the kernel: the scenario cannot happen there. */
	if (t_on_valgrind()) {
		fprintf(stderr, "[stop_from_thread] SKIP under valgrind\n");
		skip();
	}
	struct t_scen sc = {.name = "stop_from_thread", .netns = 1,
			    .expect_direct = 1, .fn = stop_from_thread_body,
			    .limit_s = 30};

	t_run_scenario(&sc);
}

static void test_fallback_stop_first_turn(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "fallback_stop_first_turn", .netns = 1,
			    .flags = RP_ENGINE_FALLBACK, .expect_direct = 0,
			    .fn = stop_first_turn_body, .limit_s = 30};

	t_run_scenario(&sc);
}

static void test_fallback_stop_from_callback(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "fallback_stop_from_callback", .netns = 1,
			    .flags = RP_ENGINE_FALLBACK, .expect_direct = 0,
			    .fn = stop_from_callback_body, .limit_s = 30};

	t_run_scenario(&sc);
}

/* ---- main ---------------------------------------------------------------- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stop_after_turns),
		cmocka_unit_test(test_stop_first_turn),
		cmocka_unit_test(test_stop_from_callback),
		cmocka_unit_test(test_stop_from_thread),
		cmocka_unit_test(test_fallback_stop_from_callback),
		cmocka_unit_test(test_fallback_stop_first_turn),
	};

	/* RP_TEST_FILTER='test_stop*' runs a subset (cmocka glob). */
	if (getenv("RP_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RP_TEST_FILTER"));
	return cmocka_run_group_tests(tests, t_scen_group_setup, NULL);
}
