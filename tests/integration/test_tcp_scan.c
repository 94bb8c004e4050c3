/*
 * test_tcp_scan.c - the engine's TCP connect probe against real sockets:
 * whole scans whose every outcome is known.
 *
 *  - all_ports_v4: every port of 127.0.0.1 through rp_source: OPEN exactly
 *    where the kernel lists a listener (/proc/net/tcp), CLOSED elsewhere,
 *    one result per port and per index. Five runs in a private namespace
 *    (nothing else can open or close a listener there, so any difference is
 *    the engine's), then one in the host namespace, where only the ports
 *    the test owns are compared (its listeners OPEN, ports it holds without
 *    listening CLOSED): another program's listener may drop SYNs.
 *  - ipv6: ::1 with a listener, a port only open on 127.0.0.1, closed ports
 *    (held by the test: it runs in the host namespace).
 *  - fallback_all_ports: one all-ports run with RP_ENGINE_FALLBACK;
 *    rp_stats.direct is 0 there and 1 elsewhere.
 *
 * Mixed outcomes are test_tcp_conservation.c's, cancels test_tcp_cancel.c's
 * and stops test_tcp_stop.c's.
 *
 * RP_TEST_FILTER=<cmocka glob> runs a subset, e.g. 'test_ipv6'.
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
#include <sys/socket.h>
#include <unistd.h>

#include "ringprobe.h"
#include "t_net.h"
#include "t_scen.h"

#define NPORTS 65535

/* ---- all ports of 127.0.0.1 ---------------------------------------------- */

#define NLISTEN 5
#define NRESERVE 6

static int owned(const int *ports, int n, int p)
{
	for (int i = 0; i < n; i++)
		if (ports[i] == p)
			return 1;
	return 0;
}

static void scan_all_ports_once(struct t_scen *sc, int run)
{
	static uint8_t before[8192];
	static uint8_t after[8192];
	int lfd[NLISTEN];
	int lport[NLISTEN];
	int rfd[NRESERVE];
	int rport[NRESERVE];
	uint64_t foreign[RP_STATUS__COUNT] = {0};
	char err[256] = "";
	struct rp_source *src = NULL;

	for (int i = 0; i < NRESERVE; i++)
		rfd[i] = -1;
	for (int i = 0; i < NLISTEN; i++) {
		lfd[i] = t_listen(AF_INET, &lport[i]);
		CHECK(sc, lfd[i] >= 0, "t_listen: %s", strerror(-lfd[i]));
		if (lfd[i] < 0) {
			while (i-- > 0)
				close(lfd[i]);
			return;
		}
	}
	/* Closed ports we hold: half from the top, half from the bottom. */
	for (int i = 0; i < NRESERVE; i++) {
		int top = i < NRESERVE / 2;
		int from = top ? 65535 : 1025;

		if (i && i != NRESERVE / 2)
			from = rport[i - 1] + (top ? -1 : 1);
		rfd[i] = t_reserve_port(AF_INET, from, top ? 1025 : 65535, NULL,
					&rport[i]);
		CHECK(sc, rfd[i] >= 0, "no closed port to hold from %d", from);
		if (rfd[i] < 0)
			goto out_close;
	}
	int rc = t_listening_ports("127.0.0.1", before);
	CHECK(sc, rc >= NLISTEN, "t_listening_ports: %d", rc);

	struct rp_source_opts so = {.ports = "1-65535"};
	rc = rp_source_create(&src, &so, err, sizeof(err));
	CHECK(sc, rc == 0, "rp_source_create: %s %s", rp_strerror(rc), err);
	if (rc)
		goto out_close;
	rc = rp_source_add_arg(src, "127.0.0.1");
	CHECK(sc, rc == 0, "rp_source_add_arg: %s", rp_strerror(rc));

	struct t_rec *r = t_rec_new(sc, NPORTS + 1, 0);
	struct rp_engine *e = t_engine_new(sc, r, (struct rp_engine_opts){0});
	if (!e)
		goto out_rec;
	t_use_source(e, src);

	struct t_watchdog w;
	uint64_t t0 = t_now_ns();
	t_watchdog_start(&w, e, 30);
	rc = rp_engine_run_all(e);
	int fired = t_watchdog_end(&w);
	double ms = t_ms_since(t0);
	CHECK(sc, !fired, "run %d: rp_engine_run_all still going after 30 s",
	      run);
	CHECK(sc, rc == 0, "run %d: rp_engine_run_all: %s", run,
	      rp_strerror(rc));
	t_listening_ports("127.0.0.1", after);

	/* One result per target: per index and per port. */
	t_check_each_index_once(sc, r, NPORTS);
	t_check_stats(sc, e, r);
	CHECK(sc, rp_source_produced(src) == NPORTS,
	      "rp_source_produced %llu",
	      (unsigned long long)rp_source_produced(src));
	CHECK(sc, rp_source_total(src) == NPORTS, "rp_source_total %lld",
	      (long long)rp_source_total(src));
	CHECK(sc, r->pcnt[0] == 0, "a result for port 0");

	/*
	 * In a private namespace: OPEN exactly where the kernel lists a
	 * listener. In the host namespace only what we own is compared: a
	 * listener of another program may drop SYNs (its accept queue full)
	 * or come and go between the snapshots; those ports are counted.
	 */
	int opens = 0;
	int tolerated = 0;
	for (int p = 1; p <= 65535; p++) {
		int b = t_bit(before, (unsigned)p);
		int a = t_bit(after, (unsigned)p);
		int s = r->pst[p];
		if (r->pcnt[p] != 1) {
			CHECK(sc, 0, "run %d: port %d: %u results", run, p,
			      r->pcnt[p]);
			continue;
		}
		if (s == RP_STATUS_OPEN)
			opens++;
		if (!sc->netns) {
			if (!owned(lport, NLISTEN, p) &&
			    !owned(rport, NRESERVE, p))
				foreign[s]++;
			continue;
		}
		if (a != b) {
			tolerated++;
			fprintf(stderr,
				"[%s] run %d: port %d changed state during "
				"the run (listening %d -> %d), got %s\n",
				sc->name, run, p, b, a, t_sname(s));
			continue;
		}
		if (a)
			CHECK(sc, s == RP_STATUS_OPEN,
			      "run %d: port %d is LISTEN but got %s (err %s)",
			      run, p, t_sname(s), rp_errno_name(r->perr[p]));
		else
			CHECK(sc, s == RP_STATUS_CLOSED,
			      "run %d: port %d is not LISTEN but got %s "
			      "(err %s)",
			      run, p, t_sname(s), rp_errno_name(r->perr[p]));
	}
	for (int i = 0; i < NLISTEN; i++)
		CHECK(sc, r->pst[lport[i]] == RP_STATUS_OPEN,
		      "run %d: our listener %d got %s", run, lport[i],
		      t_sname(r->pst[lport[i]]));
	for (int i = 0; i < NRESERVE; i++)
		CHECK(sc, r->pst[rport[i]] == RP_STATUS_CLOSED,
		      "run %d: port %d (held, not listening) got %s (err %s)",
		      run, rport[i], t_sname(r->pst[rport[i]]),
		      rp_errno_name(r->perr[rport[i]]));
	fprintf(stderr,
		"[%s] run %d: %llu results, %d open, %llu closed, %.0f ms%s\n",
		sc->name, run, (unsigned long long)r->n, opens,
		(unsigned long long)r->by_status[RP_STATUS_CLOSED], ms,
		tolerated ? " (some ports changed state)" : "");
	if (!sc->netns) {
		uint64_t other = 0;
		for (int s = RP_STATUS_NONE + 1; s < RP_STATUS__COUNT; s++)
			if (s != RP_STATUS_OPEN && s != RP_STATUS_CLOSED &&
			    s != RP_STATUS_FILTERED)
				other += foreign[s];
		fprintf(stderr,
			"[%s] run %d: ports not ours (not compared): %llu "
			"open, %llu closed, %llu filtered, %llu other\n",
			sc->name, run,
			(unsigned long long)foreign[RP_STATUS_OPEN],
			(unsigned long long)foreign[RP_STATUS_CLOSED],
			(unsigned long long)foreign[RP_STATUS_FILTERED],
			(unsigned long long)other);
	}

	rp_engine_destroy(e);
	CHECK(sc, r->n == NPORTS, "destroy after the run added results");
out_rec:
	t_rec_free(r);
	rp_source_destroy(src);
out_close:
	for (int i = 0; i < NLISTEN; i++)
		if (lfd[i] >= 0)
			close(lfd[i]);
	for (int i = 0; i < NRESERVE; i++)
		if (rfd[i] >= 0)
			close(rfd[i]);
}

static void all_ports_5x(struct t_scen *sc)
{
	for (int run = 1; run <= 5 && !sc->fails; run++)
		scan_all_ports_once(sc, run);
}

static void all_ports_1x(struct t_scen *sc)
{
	scan_all_ports_once(sc, 1);
}

static void test_all_ports_v4(void **state)
{
	(void)state;
	struct t_scen ns = {.name = "all_ports_v4/netns", .netns = 1,
			    .expect_direct = 1, .fn = all_ports_5x,
			    .limit_s = 120};
	struct t_scen host = {.name = "all_ports_v4/host", .netns = 0,
			      .expect_direct = 1, .fn = all_ports_1x,
			      .limit_s = 40};

	t_run_scenario(&ns);
	t_run_scenario(&host);
}

static void test_fallback_all_ports(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "fallback_all_ports", .netns = 1,
			    .flags = RP_ENGINE_FALLBACK, .expect_direct = 0,
			    .fn = all_ports_1x, .limit_s = 40};

	t_run_scenario(&sc);
}

/* ---- IPv6 ---------------------------------------------------------------- */

static void ipv6_body(struct t_scen *sc)
{
	static uint8_t bm6[8192];
	int p6;
	int p4 = 0;
	int fd4 = -1;
	int hold4 = -1;
	int held;
	int closed[3];
	int cfd[3] = {-1, -1, -1};
	char ports[128];
	char err[256] = "";
	struct rp_source *src = NULL;

	int fd6 = t_listen(AF_INET6, &p6);
	if (fd6 == -EADDRNOTAVAIL || fd6 == -EAFNOSUPPORT) {
		sc->skip = "no ::1 here";
		return;
	}
	CHECK(sc, fd6 >= 0, "t_listen(AF_INET6): %s", strerror(-fd6));
	if (fd6 < 0)
		goto out_close;
	/* This runs in the host namespace: every port it expects closed at
	 * ::1 it holds there itself, so nobody else can listen on it. First
	 * an IPv4 listener whose port is held at ::1 (a few tries: another
	 * program may have that port at ::1). */
	for (int i = 0; i < 8 && hold4 < 0; i++) {
		if (fd4 >= 0)
			close(fd4);
		fd4 = t_listen(AF_INET, &p4);
		CHECK(sc, fd4 >= 0, "t_listen(AF_INET): %s", strerror(-fd4));
		if (fd4 < 0)
			goto out_close;
		hold4 = t_bind_port(AF_INET6, p4, 0, &held);
	}
	CHECK(sc, hold4 >= 0, "cannot hold [::1]:%d: %s", p4,
	      strerror(-hold4));
	if (hold4 < 0)
		goto out_close;
	int rc = t_listening_ports("::1", bm6);
	CHECK(sc, rc >= 1 && t_bit(bm6, (unsigned)p6) &&
			  !t_bit(bm6, (unsigned)p4),
	      "t_listening_ports(::1) = %d disagrees with our listeners", rc);
	/* Then three closed ports outside the ephemeral range. */
	for (int i = 0; i < 3; i++) {
		cfd[i] = t_reserve_port(AF_INET6, i ? closed[i - 1] - 1 : 65535,
					1025, bm6, &closed[i]);
		CHECK(sc, cfd[i] >= 0, "no closed port to hold at ::1");
		if (cfd[i] < 0)
			goto out_close;
	}
	snprintf(ports, sizeof(ports), "%d,%d,%d,%d,%d", p6, p4, closed[0],
		 closed[1], closed[2]);

	struct rp_source_opts so = {.ports = ports};
	rc = rp_source_create(&src, &so, err, sizeof(err));
	CHECK(sc, rc == 0, "rp_source_create(%s): %s %s", ports,
	      rp_strerror(rc), err);
	if (rc)
		goto out_close;
	char explicit_arg[64];
	snprintf(explicit_arg, sizeof(explicit_arg), "[::1]:%d", p6);
	CHECK(sc, rp_source_add_arg(src, "::1") == 0, "add_arg ::1");
	CHECK(sc, rp_source_add_arg(src, explicit_arg) == 0, "add_arg %s",
	      explicit_arg);

	struct t_rec *r = t_rec_new(sc, 16, 1);
	struct rp_engine *e = t_engine_new(sc, r, (struct rp_engine_opts){0});
	if (!e)
		goto out_rec;
	t_use_source(e, src);
	t_run_until(e, NULL, NULL, 10000);
	CHECK(sc, rp_engine_run(e, 0) == 0, "the run did not end in 10 s");

	t_check_each_index_once(sc, r, 6);
	t_check_stats(sc, e, r);
	CHECK(sc, r->by_status[RP_STATUS_OPEN] == 2 &&
			  r->by_status[RP_STATUS_CLOSED] == 4,
	      "expected 2 open + 4 closed, got %llu open, %llu closed",
	      (unsigned long long)r->by_status[RP_STATUS_OPEN],
	      (unsigned long long)r->by_status[RP_STATUS_CLOSED]);
	CHECK(sc, r->pcnt[p6] == 2 && r->pst[p6] == RP_STATUS_OPEN,
	      "[::1]:%d (listening): %u results, last %s", p6, r->pcnt[p6],
	      t_sname(r->pst[p6]));
	CHECK(sc, r->pcnt[p4] == 1 && r->pst[p4] == RP_STATUS_CLOSED,
	      "[::1]:%d (listening on 127.0.0.1 only): %s", p4,
	      t_sname(r->pst[p4]));
	for (int i = 0; i < 3; i++)
		CHECK(sc, r->pcnt[closed[i]] == 1 &&
				  r->pst[closed[i]] == RP_STATUS_CLOSED,
		      "[::1]:%d: %s", closed[i], t_sname(r->pst[closed[i]]));
	rp_engine_destroy(e);
out_rec:
	t_rec_free(r);
	rp_source_destroy(src);
out_close:
	if (fd6 >= 0)
		close(fd6);
	if (fd4 >= 0)
		close(fd4);
	if (hold4 >= 0)
		close(hold4);
	for (int i = 0; i < 3; i++)
		if (cfd[i] >= 0)
			close(cfd[i]);
}

static void test_ipv6(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "ipv6", .netns = 0, .expect_direct = 1,
			    .fn = ipv6_body, .limit_s = 30};

	t_run_scenario(&sc);
}

/* ---- main ---------------------------------------------------------------- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_ports_v4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_fallback_all_ports),
	};

	/* RP_TEST_FILTER='test_ipv6' runs a subset (cmocka glob). */
	if (getenv("RP_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RP_TEST_FILTER"));
	return cmocka_run_group_tests(tests, t_scen_group_setup, NULL);
}
