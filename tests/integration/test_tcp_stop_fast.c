/*
 * test_tcp_stop_fast.c - stopping an engine with many probes in flight (issue
 * 15, defect 9), in a private namespace whose ports drop every SYN.
 *
 *  - stop_scales: a stop with 4,096 connects in flight costs the loop
 *    thread about as much CPU per probe as one with 256 (the cost of a
 *    stop is linear, not quadratic, in what is in flight), and at most
 *    50 ms of CPU; every probe is reported once, CANCELLED. CPU time of
 *    the loop thread, not wall time, so a busy machine does not fail it;
 *    the wall time is printed.
 *  - stop_after_expiry: probes whose connect timeout was due before the
 *    stop was asked (the loop did not run meanwhile, so their CQEs wait
 *    in the kernel) are FILTERED, not CANCELLED: the stop came too late
 *    to matter to them.
 *
 * RP_TEST_FILTER=<cmocka glob> runs a subset.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringprobe.h"
#include "t_scen.h"

#define BIG 4096
#define SMALL 256

/* Fills an engine with n hanging connects, stops it, drains; returns the
 * loop thread's CPU ms for the stop and its drain (-1 on failure). */
static double stop_cpu_ms(struct t_scen *sc, uint32_t n)
{
	struct rp_target t;
	struct t_rec *r = t_rec_new(sc, n, 0);
	struct rp_engine_opts o = {
		.concurrency = n,
		.connect_timeout_ns = T_STOP_TIMEOUT_MS * 1000000ull,
		.timeout_ns = 2 * T_STOP_TIMEOUT_MS * 1000000ull,
	};
	struct rp_engine *e = t_engine_new(sc, r, o);
	double cpu = -1, wall;

	if (!e)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		t_target_v4(&t, T_FILT_LO + (int)(i % 100), i);
		int rc = rp_engine_submit(e, &t);
		CHECK(sc, rc == 0, "submit %u: %s", i, rp_strerror(rc));
	}
	/* let every chain reach its connect */
	t_run_until(e, NULL, NULL, 300);
	CHECK(sc, r->n == 0, "%llu results while all probes hang",
	      (unsigned long long)r->n);
	uint64_t t0 = t_now_ns();
	double c0 = t_thread_cpu_ms();
	rp_engine_stop(e);
	int rc = t_run_until(e, NULL, NULL, T_DRAIN_WALL_MS);
	cpu = t_thread_cpu_ms() - c0;
	wall = t_ms_since(t0);
	CHECK(sc, rc == 0, "no drain after stop (%d)", rc);
	t_check_each_index_once(sc, r, n);
	CHECK(sc, r->by_status[RP_STATUS_CANCELLED] == n,
	      "%llu cancelled of %u",
	      (unsigned long long)r->by_status[RP_STATUS_CANCELLED], n);
	fprintf(stderr, "[%s] stop of %u in flight: %.1f ms CPU, %.1f ms "
			"wall\n", sc->name, n, cpu, wall);
	rp_engine_destroy(e);
out:
	t_rec_free(r);
	return cpu;
}

static void stop_scales_body(struct t_scen *sc)
{
	if (t_drop_ports(sc, T_FILT_LO, T_FILT_HI))
		return;
	double small = stop_cpu_ms(sc, SMALL);
	double big = stop_cpu_ms(sc, BIG);

	if (small < 0 || big < 0)
		return;
	/* linear: 16x the probes may cost 16x (+ slack for a noisy clock) */
	CHECK(sc, big <= 16 * small + 20,
	      "stop of %d cost %.1f ms CPU, of %d %.1f ms: worse than linear",
	      BIG, big, SMALL, small);
	CHECK(sc, big <= 50, "stop of %d cost %.1f ms CPU (goal < 50)", BIG,
	      big);
}

static void test_stop_scales(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "stop_scales", .netns = 1,
			    .expect_direct = 1, .fn = stop_scales_body,
			    .limit_s = 60};

	t_run_scenario(&sc);
}

#define EXP_N 64

static void stop_after_expiry_body(struct t_scen *sc)
{
	struct rp_target t;

	if (t_drop_ports(sc, T_FILT_LO, T_FILT_HI))
		return;
	struct t_rec *r = t_rec_new(sc, EXP_N, 0);
	struct rp_engine_opts o = {
		.concurrency = EXP_N,
		.connect_timeout_ns = 100 * 1000000ull,
	};
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out;
	for (int i = 0; i < EXP_N; i++) {
		t_target_v4(&t, T_FILT_LO + i, (uint64_t)i);
		int rc = rp_engine_submit(e, &t);
		CHECK(sc, rc == 0, "submit %d: %s", i, rp_strerror(rc));
	}
	/* every probe started (a busy machine may need several turns) */
	struct rp_stats st;
	for (int i = 0; i < 200; i++) {
		rp_engine_stats(e, &st);
		if (st.attempts >= EXP_N)
			break;
		t_run_until(e, NULL, NULL, 5);
	}
	CHECK(sc, st.attempts == EXP_N, "%llu of %d probes started",
	      (unsigned long long)st.attempts, EXP_N);
	CHECK(sc, r->n == 0, "%llu results before the timeout",
	      (unsigned long long)r->n);
	t_sleep_ms(400); /* every timer fires; nobody reaps */
	rp_engine_stop(e);
	int rc = t_run_until(e, NULL, NULL, 2000);
	CHECK(sc, rc == 0, "no drain after stop (%d)", rc);
	t_check_each_index_once(sc, r, EXP_N);
	CHECK(sc, r->by_status[RP_STATUS_FILTERED] == EXP_N,
	      "%llu filtered, %llu cancelled of %d timed out before the stop",
	      (unsigned long long)r->by_status[RP_STATUS_FILTERED],
	      (unsigned long long)r->by_status[RP_STATUS_CANCELLED], EXP_N);
	rp_engine_destroy(e);
out:
	t_rec_free(r);
}

static void test_stop_after_expiry(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "stop_after_expiry", .netns = 1,
			    .expect_direct = 1, .fn = stop_after_expiry_body,
			    .limit_s = 30};

	t_run_scenario(&sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stop_scales),
		cmocka_unit_test(test_stop_after_expiry),
	};

	return cmocka_run_group_tests(tests, t_scen_group_setup, NULL);
}
