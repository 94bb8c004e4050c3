/*
 * test_tcp_cancel.c - cancelling probes: the one-result-per-accepted-
 * target contract when a probe is cancelled, refused or destroyed.
 *
 *  - cancel_one: one of five hanging probes, at once, the others time out;
 *  - cancel_early: right after submission (the chains may not have reached
 *    their connect), then stop right after the turn that started many
 *    (a drain that cancels rather than waits: t_check_drain());
 *  - destroy_inflight: destroy with probes in flight, submitted or pulled;
 *  - submit_contract: -EINVAL, -EAGAIN and -ESHUTDOWN refusals get no
 *    result, and slots come back;
 *  - fallback_cancel_early: cancel_early with RP_ENGINE_FALLBACK.
 * After a stop or destroy a fresh engine works normally
 * (t_normal_scan_after()).
 *
 * RP_TEST_FILTER=<cmocka glob> runs a subset, e.g. 'test_cancel*'.
 *
 * Each scenario runs on its own thread, which may move into a private
 * network namespace (per thread, see t_net.h) and owns its engine (one
 * engine per thread); the framework and the ports plan are t_scen.h's.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe.h"
#include "t_scen.h"

/* ---- cancel one ---------------------------------------------------------- */

static void cancel_one_body(struct t_scen *sc)
{
	struct rp_target t;

	if (t_drop_ports(sc, T_FILT_LO, T_FILT_HI))
		return;
	struct t_rec *r = t_rec_new(sc, 32, 0);
	struct rp_engine_opts o = {.connect_timeout_ns = 1500 * 1000000ull};
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out_rec;
	for (int i = 0; i < 5; i++) {
		t_target_v4(&t, T_FILT_LO + i, 10 + (uint64_t)i);
		int rc = rp_engine_submit(e, &t);
		CHECK(sc, rc == 0, "submit %d: %s", i, rp_strerror(rc));
	}
	uint64_t t_start = t_now_ns();
	t_run_until(e, NULL, NULL, 150);
	CHECK(sc, r->n == 0, "%llu results before anything could finish",
	      (unsigned long long)r->n);

	CHECK(sc, rp_engine_cancel(e, 999) == -ENOENT,
	      "cancel of an unknown index did not return -ENOENT");
	uint64_t t0 = t_now_ns();
	int rc = rp_engine_cancel(e, 12);
	CHECK(sc, rc == 0, "cancel(12): %s", rp_strerror(rc));
	struct t_idx_pred p12 = {r, 12};
	t_run_until(e, t_got_index, &p12, 1000);
	double ms = t_ms_since(t0);
	CHECK(sc, r->cnt[12] == 1 && r->st[12] == RP_STATUS_CANCELLED,
	      "index 12 after cancel: %u results, status %s", r->cnt[12],
	      t_sname(r->st[12]));
	CHECK(sc, ms < 300, "the cancelled result took %.0f ms", ms);
	CHECK(sc, r->n == 1, "%llu results right after the cancel",
	      (unsigned long long)r->n);
	CHECK(sc, rp_engine_cancel(e, 12) == -ENOENT,
	      "second cancel(12) after its result did not return -ENOENT");

	struct t_idx_pred all = {r, 5};
	t_run_until(e, t_got_all, &all, 5000);
	for (uint64_t i = 10; i < 15; i++) {
		if (i == 12)
			continue;
		CHECK(sc, r->cnt[i] == 1 && r->st[i] == RP_STATUS_FILTERED,
		      "index %llu: %u results, %s (want filtered)",
		      (unsigned long long)i, r->cnt[i], t_sname(r->st[i]));
		CHECK(sc, r->elapsed_us[i] >= 1400000,
		      "index %llu filtered after only %llu us",
		      (unsigned long long)i,
		      (unsigned long long)r->elapsed_us[i]);
	}
	CHECK(sc, rp_engine_run(e, 0) == 0, "engine not idle after 5 s");
	CHECK(sc, r->n == 5, "%llu results for 5 submits",
	      (unsigned long long)r->n);
	t_check_stats(sc, e, r);
	fprintf(stderr, "[%s] cancelled result after %.1f ms, all done in "
			"%.0f ms\n",
		sc->name, ms, t_ms_since(t_start));
	rp_engine_destroy(e);
	CHECK(sc, r->n == 5, "destroy added results");
out_rec:
	t_rec_free(r);
}

static void test_cancel_one(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "cancel_one", .netns = 1,
			    .expect_direct = 1, .fn = cancel_one_body,
			    .limit_s = 30};

	t_run_scenario(&sc);
}

/* ---- cancel early -------------------------------------------------------- */

/*
 * Cancel right after submission: the probes' chains may not have reached
 * their connect yet when the cancel is issued, and must still end at once.
 */
#define EARLY_N 200

static void cancel_early_body(struct t_scen *sc)
{
	struct rp_target t;

	if (t_drop_ports(sc, T_FILT_LO, T_FILT_HI))
		return;
	struct t_rec *r = t_rec_new(sc, EARLY_N, 0);
	struct rp_engine_opts o = {
		.concurrency = EARLY_N,
		.connect_timeout_ns = T_STOP_TIMEOUT_MS * 1000000ull,
	};
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out_rec;
	for (int i = 0; i < EARLY_N; i++) {
		t_target_v4(&t, T_FILT_LO + i % 100, (uint64_t)i);
		int rc = rp_engine_submit(e, &t);
		CHECK(sc, rc == 0, "submit %d: %s", i, rp_strerror(rc));
	}
	(void)rp_engine_run(e, 0); /* one turn: the chains go in */
	uint64_t t0 = t_now_ns();
	CHECK(sc, rp_engine_cancel(e, EARLY_N - 1) == 0, "cancel(last)");
	CHECK(sc, rp_engine_cancel(e, 0) == 0, "cancel(first)");
	struct t_idx_pred a = {r, EARLY_N - 1};
	struct t_idx_pred b = {r, 0};
	t_run_until(e, t_got_index, &a, 1000);
	t_run_until(e, t_got_index, &b, 1000);
	double ms = t_ms_since(t0);
	CHECK(sc, r->cnt[0] == 1 && r->st[0] == RP_STATUS_CANCELLED &&
			  r->cnt[EARLY_N - 1] == 1 &&
			  r->st[EARLY_N - 1] == RP_STATUS_CANCELLED,
	      "cancel right after submit: first %u x %s, last %u x %s",
	      r->cnt[0], t_sname(r->st[0]), r->cnt[EARLY_N - 1],
	      t_sname(r->st[EARLY_N - 1]));
	CHECK(sc, ms < 300, "the cancelled results took %.0f ms", ms);
	CHECK(sc, r->n == 2, "%llu results, expected the 2 cancelled",
	      (unsigned long long)r->n);

	/* And stop right after a turn that started many chains. */
	t0 = t_now_ns();
	double c0 = t_thread_cpu_ms();
	rp_engine_stop(e);
	int rc = t_run_until(e, NULL, NULL, T_DRAIN_WALL_MS);
	ms = t_ms_since(t0);
	CHECK(sc, rc == 0, "no drain after stop (%d)", rc);
	t_check_drain(sc, "drain after stop", ms, t_thread_cpu_ms() - c0);
	t_check_each_index_once(sc, r, EARLY_N);
	CHECK(sc, r->by_status[RP_STATUS_CANCELLED] == EARLY_N,
	      "%llu cancelled of %d",
	      (unsigned long long)r->by_status[RP_STATUS_CANCELLED], EARLY_N);
	fprintf(stderr, "[%s] stop drained in %.0f ms\n", sc->name, ms);
	rp_engine_destroy(e);
out_rec:
	t_rec_free(r);
}

static void test_cancel_early(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "cancel_early", .netns = 1,
			    .expect_direct = 1, .fn = cancel_early_body,
			    .limit_s = 30};

	t_run_scenario(&sc);
}

static void test_fallback_cancel_early(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "fallback_cancel_early", .netns = 1,
			    .flags = RP_ENGINE_FALLBACK, .expect_direct = 0,
			    .fn = cancel_early_body, .limit_s = 30};

	t_run_scenario(&sc);
}
/* ---- destroy with probes in flight --------------------------------------- */

static void destroy_inflight_body(struct t_scen *sc)
{
	struct rp_target t;

	if (t_drop_ports(sc, T_DROP_LO, T_DROP_HI))
		return;

	/* Submitted directly. */
	struct t_rec *r = t_rec_new(sc, 64, 0);
	struct rp_engine_opts o = {.connect_timeout_ns = 5000 * 1000000ull};
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out;
	for (int i = 0; i < 10; i++) {
		t_target_v4(&t, T_DROP_LO + i, (uint64_t)i);
		CHECK(sc, rp_engine_submit(e, &t) == 0, "submit %d", i);
	}
	t_run_until(e, NULL, NULL, 100);
	CHECK(sc, r->n == 0, "%llu results before destroy",
	      (unsigned long long)r->n);
	uint64_t t0 = t_now_ns();
	rp_engine_destroy(e);
	double ms = t_ms_since(t0);
	t_check_each_index_once(sc, r, 10);
	CHECK(sc, r->by_status[RP_STATUS_CANCELLED] == 10,
	      "%llu of 10 cancelled by destroy",
	      (unsigned long long)r->by_status[RP_STATUS_CANCELLED]);
	CHECK(sc, ms < 1000, "destroy took %.0f ms", ms);
	t_rec_free(r);

	/* Pulled from a source that still has targets left. */
	r = t_rec_new(sc, 64, 0);
	struct t_gen g = {.n = 50, .port_of = t_port_dropped};
	o.concurrency = 10;
	e = t_engine_new(sc, r, o);
	if (!e)
		goto out;
	rp_engine_set_source(e, t_gen_pull, &g);
	t_run_until(e, NULL, NULL, 100);
	CHECK(sc, g.next == 10, "pulled %llu with 10 slots",
	      (unsigned long long)g.next);
	g.stopped = 1;
	rp_engine_destroy(e);
	t_check_each_index_once(sc, r, g.next);
	CHECK(sc, r->by_status[RP_STATUS_CANCELLED] == g.next,
	      "%llu of %llu cancelled by destroy",
	      (unsigned long long)r->by_status[RP_STATUS_CANCELLED],
	      (unsigned long long)g.next);
	CHECK(sc, g.pulls_after_stop == 0, "destroy pulled the source");
	t_normal_scan_after(sc);
out:
	t_rec_free(r);
}

static void test_destroy_inflight(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "destroy_inflight", .netns = 1,
			    .expect_direct = 1, .fn = destroy_inflight_body,
			    .limit_s = 30};

	t_run_scenario(&sc);
}

/* ---- the submit contract ------------------------------------------------- */

static void submit_contract_body(struct t_scen *sc)
{
	struct rp_target t;

	if (t_drop_ports(sc, T_DROP_LO, T_DROP_HI))
		return;
	struct t_rec *r = t_rec_new(sc, 64, 0);
	struct rp_engine_opts o = {.concurrency = 4,
				   .connect_timeout_ns = 5000 * 1000000ull};
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out;

	/* Malformed: nothing to probe and no status. */
	memset(&t, 0, sizeof(t));
	t.index = 40;
	int rc = rp_engine_submit(e, &t);
	CHECK(sc, rc == -EINVAL, "submit of a malformed target: %s",
	      rp_strerror(rc));

	for (int i = 0; i < 4; i++) {
		t_target_v4(&t, T_DROP_LO + i, (uint64_t)i);
		rc = rp_engine_submit(e, &t);
		CHECK(sc, rc == 0, "submit %d: %s", i, rp_strerror(rc));
	}
	t_target_v4(&t, T_DROP_LO + 4, 41);
	rc = rp_engine_submit(e, &t);
	CHECK(sc, rc == -EAGAIN, "submit with all slots busy: %s",
	      rp_strerror(rc));
	t_run_until(e, NULL, NULL, 200);
	rc = rp_engine_submit(e, &t);
	CHECK(sc, rc == -EAGAIN, "submit with all slots still busy: %s",
	      rp_strerror(rc));
	CHECK(sc, r->n == 0, "%llu results while all probes hang",
	      (unsigned long long)r->n);

	rp_engine_stop(e);
	t_target_v4(&t, T_DROP_LO + 5, 42);
	rc = rp_engine_submit(e, &t);
	CHECK(sc, rc == -ESHUTDOWN, "submit after stop: %s", rp_strerror(rc));
	rc = t_run_until(e, NULL, NULL, 2000);
	CHECK(sc, rc == 0, "no drain after stop (%d)", rc);
	t_check_each_index_once(sc, r, 4);
	CHECK(sc, r->by_status[RP_STATUS_CANCELLED] == 4,
	      "%llu of 4 cancelled",
	      (unsigned long long)r->by_status[RP_STATUS_CANCELLED]);
	CHECK(sc, r->cnt[40] == 0 && r->cnt[41] == 0 && r->cnt[42] == 0,
	      "a refused submit got a result (EINVAL %u, EAGAIN %u, "
	      "ESHUTDOWN %u)",
	      r->cnt[40], r->cnt[41], r->cnt[42]);
	t_check_stats(sc, e, r);
	rp_engine_destroy(e);
	CHECK(sc, r->n == 4, "destroy added results");
	t_rec_free(r);

	/* Slots come back: with one slot, submit, finish, submit again. */
	r = t_rec_new(sc, 64, 0);
	o.concurrency = 1;
	e = t_engine_new(sc, r, o);
	if (!e)
		goto out;
	for (int i = 0; i < 3; i++) {
		t_target_v4(&t, T_CLOSED_LO + i, (uint64_t)i);
		rc = rp_engine_submit(e, &t);
		CHECK(sc, rc == 0, "one slot, submit %d: %s", i,
		      rp_strerror(rc));
		struct t_idx_pred p = {r, (uint64_t)i};
		t_run_until(e, t_got_index, &p, 2000);
		CHECK(sc, r->cnt[i] == 1 && r->st[i] == RP_STATUS_CLOSED,
		      "one slot, target %d: %s", i, t_sname(r->st[i]));
	}
	t_check_stats(sc, e, r);
	rp_engine_destroy(e);
out:
	t_rec_free(r);
}

static void test_submit_contract(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "submit_contract", .netns = 1,
			    .expect_direct = 1, .fn = submit_contract_body,
			    .limit_s = 30};

	t_run_scenario(&sc);
}

/* ---- main ---------------------------------------------------------------- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cancel_one),
		cmocka_unit_test(test_cancel_early),
		cmocka_unit_test(test_destroy_inflight),
		cmocka_unit_test(test_submit_contract),
		cmocka_unit_test(test_fallback_cancel_early),
	};

	/* RP_TEST_FILTER='test_cancel*' runs a subset (cmocka glob). */
	if (getenv("RP_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RP_TEST_FILTER"));
	return cmocka_run_group_tests(tests, t_scen_group_setup, NULL);
}
