/* Unit tests for stats.c/stats.h (histogram, percentiles, merge), status.c
 * (name tables) and ud.h (user_data packing). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stats.h"
#include "ud.h"

static void test_bucket_bounds(void **state)
{
	(void)state;
	unsigned prev = 0;

	/* Every value lies in a bucket whose upper bound is >= it and within
	 * 1/16 of it, and buckets never go backwards. */
	for (uint64_t v = 0; v < (1ull << 40); v = v < 4096 ? v + 1 : v * 17 / 16) {
		unsigned b = rp__hist_bucket(v);

		assert_true(b < RP_HIST_BUCKETS);
		assert_true(b >= prev);
		prev = b;
		uint64_t up = rp__hist_upper(b);
		assert_true(up >= v);
		assert_true(up - v <= v / 16 + 1);
		if (b > 0)
			assert_true(rp__hist_upper(b - 1) < v);
	}
	assert_true(rp__hist_bucket(UINT64_MAX) < RP_HIST_BUCKETS);
}

static void test_percentiles(void **state)
{
	static struct rp_stats st;
	(void)state;

	memset(&st, 0, sizeof(st));
	assert_int_equal(rp_stats_percentile(&st, 50), 0);
	for (uint64_t v = 1; v <= 1000; v++)
		rp__stats_rtt(&st, v);
	assert_int_equal(st.rtt_count, 1000);
	assert_int_equal(st.rtt_min_us, 1);
	assert_int_equal(st.rtt_max_us, 1000);
	uint64_t p50 = rp_stats_percentile(&st, 50);
	uint64_t p99 = rp_stats_percentile(&st, 99);
	assert_true(p50 >= 500 && p50 <= 500 + 500 / 16 + 1);
	assert_true(p99 >= 990 && p99 <= 1000);
	assert_int_equal(rp_stats_percentile(&st, 0), 1);
	assert_int_equal(rp_stats_percentile(&st, 100), 1000);
}

static void test_merge(void **state)
{
	static struct rp_stats a, b;
	(void)state;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	rp__stats_rtt(&a, 10);
	rp__stats_rtt(&b, 5);
	rp__stats_rtt(&b, 5000);
	a.by_status[RP_STATUS_OPEN] = 2;
	b.by_status[RP_STATUS_OPEN] = 3;
	a.max_inflight = 7;
	b.max_inflight = 9;
	rp_stats_merge(&a, &b);
	assert_int_equal(a.by_status[RP_STATUS_OPEN], 5);
	assert_int_equal(a.rtt_count, 3);
	assert_int_equal(a.rtt_min_us, 5);
	assert_int_equal(a.rtt_max_us, 5000);
	assert_int_equal(a.max_inflight, 16);
}

static void test_status_names(void **state)
{
	(void)state;
	for (int s = 1; s < RP_STATUS__COUNT; s++)
		assert_int_equal(rp_status_parse(rp_status_name(s)), s);
	assert_string_equal(rp_status_name(RP_STATUS_OPEN), "open");
	assert_string_equal(rp_status_name(RP_STATUS_FILTERED), "filtered");
	assert_string_equal(rp_status_name((enum rp_status)999), "?");
	assert_int_equal(rp_status_parse("nope"), -EINVAL);
	assert_string_equal(rp_errno_name(-ECONNREFUSED), "ECONNREFUSED");
	assert_string_equal(rp_errno_name(EADDRNOTAVAIL), "EADDRNOTAVAIL");
	assert_string_equal(rp_errno_name(-4095), "E?");
	assert_non_null(strstr(rp_strerror(-ECONNREFUSED), "refused"));
}

static void test_user_data(void **state)
{
	(void)state;
	uint64_t ud = rp__ud(0xdeadbeef, 0xabcdef, RP__OP_CONNECT);

	assert_int_equal(rp__ud_gen(ud), 0xdeadbeef);
	assert_int_equal(rp__ud_slot(ud), 0xabcdef);
	assert_int_equal(rp__ud_op(ud), RP__OP_CONNECT);
	ud = rp__ud(1, RP__UD_NOSLOT, RP__OP_WAKE);
	assert_int_equal(rp__ud_slot(ud), RP__UD_NOSLOT);
	assert_int_equal(rp__ud_op(ud), RP__OP_WAKE);
	/* Never the value liburing reserves for its internal timeouts. */
	assert_true(rp__ud(UINT32_MAX, RP__UD_NOSLOT, RP__OP_PROBE) != UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_bounds),
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_user_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
