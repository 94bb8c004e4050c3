/*
 * test_fault_hosts.c - the per-host table when it is full (ringprobe.h,
 * rp_engine_opts.host_delay_ns: "a probe to a new address that finds it
 * full waits until an entry's delay ends"). The fault build's knob
 * rp__fault.host_entries shrinks the table to 4 addresses, so that 12
 * probes to 12 addresses with a 300 ms delay go 4 at a time:
 *
 *  - full: every probe gets its one result, CLOSED (none is started
 *    unchecked, none is lost), the last ones only after two delays, and
 *    rp_stats.host_waiting counts the probes that wait for an entry;
 *  - full_stop: a stop while probes wait for an entry ends them CANCELLED,
 *    one result each.
 *
 * The addresses are 127.0.0.10-21 at a port nothing listens on there (a
 * listener of this test bound to 127.0.0.1 holds it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fault.h"
#include "ringprobe.h"
#include "t_net.h"
#include "t_scen.h"

#define MS 1000000ull
#define N 12
#define DELAY_MS 300

static char g_ips[N][16];

static struct rp_engine *engine_for(struct t_scen *sc, struct t_rec *r,
				    int port)
{
	struct rp_engine_opts o = {
		.concurrency = 32,
		.host_delay_ns = DELAY_MS * MS,
	};
	struct rp_target t;

	rp__fault.host_entries = 4;
	struct rp_engine *e = t_engine_new(sc, r, o);
	rp__fault.host_entries = 0;
	if (!e)
		return NULL;
	for (unsigned i = 0; i < N; i++) {
		struct sockaddr_in *a = (struct sockaddr_in *)&t.addr;

		memset(&t, 0, sizeof(t));
		snprintf(g_ips[i], sizeof(g_ips[i]), "127.0.0.%u", 10 + i);
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, g_ips[i], &a->sin_addr);
		t.addrlen = sizeof(*a);
		t.input = g_ips[i];
		t.index = i;
		int rc = rp_engine_submit(e, &t);
		CHECK(sc, rc == 0, "submit %s: %s", g_ips[i], rp_strerror(rc));
	}
	return e;
}

static void full_body(struct t_scen *sc)
{
	int port, lfd = t_listen(AF_INET, &port);

	CHECK(sc, lfd >= 0, "no listener");
	if (lfd < 0)
		return;
	struct t_rec *r = t_rec_new(sc, N, 0);
	uint64_t t0 = t_now_ns();
	struct rp_engine *e = engine_for(sc, r, port);
	if (!e)
		goto out;
	struct rp_stats st;
	t_run_until(e, NULL, NULL, 50);
	rp_engine_stats(e, &st);
	CHECK(sc, st.host_waiting == N - 4,
	      "%u probes wait for a table entry (want %u)", st.host_waiting,
	      N - 4);
	struct t_idx_pred all = {r, N};
	t_run_until(e, t_got_all, &all, 20000);
	t_check_each_index_once(sc, r, N);
	for (unsigned i = 0; i < N; i++)
		CHECK(sc, r->st[i] == RP_STATUS_CLOSED, "%s: %s", g_ips[i],
		      t_sname(r->st[i]));
	/* Four at a time: the last four start after two delays. */
	uint64_t last = 0;
	for (unsigned i = 0; i < N; i++)
		if (r->t_ns[i] > last)
			last = r->t_ns[i];
	CHECK(sc, last - t0 >= 2 * DELAY_MS * MS * 9 / 10,
	      "12 addresses through a table of 4 with a %d ms delay took "
	      "%.0f ms", DELAY_MS, (double)(last - t0) / 1e6);
	rp_engine_stats(e, &st);
	CHECK(sc, st.host_waiting == 0, "host_waiting %u at the end",
	      st.host_waiting);
	rp_engine_destroy(e);
out:
	t_rec_free(r);
	close(lfd);
}

static void test_full(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "full", .fn = full_body,
			    .expect_direct = -1};
	t_run_scenario(&sc);
}

static void full_stop_body(struct t_scen *sc)
{
	int port, lfd = t_listen(AF_INET, &port);

	CHECK(sc, lfd >= 0, "no listener");
	if (lfd < 0)
		return;
	struct t_rec *r = t_rec_new(sc, N, 0);
	struct rp_engine *e = engine_for(sc, r, port);
	if (!e)
		goto out;
	t_run_until(e, NULL, NULL, 50);
	rp_engine_stop(e);
	int ret = t_run_until(e, NULL, NULL, 5000);
	CHECK(sc, ret == 0, "run after stop: %d", ret);
	t_check_each_index_once(sc, r, N);
	CHECK(sc, r->by_status[RP_STATUS_CANCELLED] >= N - 4,
	      "%llu cancelled, want the %u that waited at least",
	      (unsigned long long)r->by_status[RP_STATUS_CANCELLED], N - 4);
	rp_engine_destroy(e);
out:
	t_rec_free(r);
	close(lfd);
}

static void test_full_stop(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "full_stop", .fn = full_stop_body,
			    .expect_direct = -1};
	t_run_scenario(&sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_full_stop),
	};

	return cmocka_run_group_tests(tests, t_scen_group_setup, NULL);
}
