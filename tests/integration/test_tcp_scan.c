/*
 * test_tcp_scan.c - the engine's TCP connect probe against real sockets.
 *
 * What is checked, scenario by scenario:
 *  - all_ports_v4: every port of 127.0.0.1 through rp_source: OPEN exactly
 *    where the kernel lists a listener (/proc/net/tcp), CLOSED elsewhere,
 *    one result per port and per index. Five runs in a private namespace
 *    (nothing else can open or close a listener there, so any difference is
 *    the engine's), then one in the host namespace, where only the ports
 *    the test owns are compared (its listeners OPEN, ports it holds without
 *    listening CLOSED): another program's listener may drop SYNs.
 *  - ipv6: ::1 with a listener, a port only open on 127.0.0.1, closed ports
 *    (held by the test: it runs in the host namespace).
 *  - conservation: open, closed, filtered (nft drop), invalid lines, a
 *    hostname and a preset status, N in = N out with the exact outcome of
 *    each input, and stats that agree.
 *  - cancel_one, cancel_early (right after submission), stop_* (cancel all
 *    after the slots filled, right after the first turn, from the result
 *    callback, from another thread), destroy_inflight, submit_contract: the
 *    one-result-per-accepted-target contract under cancellation, drains
 *    that cancel rather than wait (t_check_drain()), and a fresh engine
 *    working normally afterwards.
 *  - fallback_*: some of the same with RP_ENGINE_FALLBACK or
 *    RINGPROBE_FALLBACK=1; rp_stats.direct is 0 there and 1 elsewhere.
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ringprobe.h"
#include "t_net.h"
#include "t_scen.h"

#define NPORTS 65535

/* ---- (a) and (h): all ports of 127.0.0.1 ------------------------------- */

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

/* ---- (b) IPv6 ----------------------------------------------------------- */

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

/* ---- (c) conservation with a mix of outcomes ---------------------------- */

struct expect {
	char input[RP_INPUT_MAX];
	int status;
	int seen;
};

static void add_expect(struct expect *x, int *nx, const char *input,
		       int status)
{
	snprintf(x[*nx].input, sizeof(x[*nx].input), "%s", input);
	x[*nx].status = status;
	x[*nx].seen = 0;
	(*nx)++;
}

static void conservation_body(struct t_scen *sc)
{
	struct expect x[64];
	int nx = 0;
	int lfd[4];
	int lport[4];
	char buf[128];
	char err[256] = "";
	char path[] = "/tmp/rp_test_targets_XXXXXX";
	struct rp_source *src = NULL;
	uint64_t want[RP_STATUS__COUNT] = {0};

	for (int i = 0; i < 4; i++)
		lfd[i] = -1;
	if (t_drop_ports(sc, T_FILT_LO, T_FILT_HI))
		return;
	for (int i = 0; i < 4; i++) {
		lport[i] = T_LISTEN_LO + i;
		lfd[i] = t_listen_at(sc, i < 3 ? AF_INET : AF_INET6, lport[i]);
		if (lfd[i] < 0)
			goto out_close;
	}

	/* Arguments: open, closed, filtered, invalid, a hostname. */
	for (int i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), "127.0.0.1:%d", lport[i]);
		add_expect(x, &nx, buf, RP_STATUS_OPEN);
	}
	snprintf(buf, sizeof(buf), "[::1]:%d", lport[3]);
	add_expect(x, &nx, buf, RP_STATUS_OPEN);
	for (int p = T_CLOSED_LO; p <= T_CLOSED_LO + 4; p++) {
		CHECK(sc, t_closed_port_ok(p), "closed port %d is ephemeral",
		      p);
		if (p < T_CLOSED_LO + 4)
			snprintf(buf, sizeof(buf), "127.0.0.1:%d", p);
		else
			snprintf(buf, sizeof(buf), "[::1]:%d", p);
		add_expect(x, &nx, buf, RP_STATUS_CLOSED);
	}
	for (int p = T_FILT_LO; p < T_FILT_LO + 5; p++) {
		snprintf(buf, sizeof(buf), "127.0.0.1:%d", p);
		add_expect(x, &nx, buf, RP_STATUS_FILTERED);
	}
	add_expect(x, &nx, "127.0.0.1:70000", RP_STATUS_INVALID);
	add_expect(x, &nx, "[::1:80", RP_STATUS_INVALID);
	add_expect(x, &nx, "127.0.0.1/99", RP_STATUS_INVALID);
	/* Resolved in the engine; in this private namespace no resolver is
	 * reachable (no route), so no query leaves the machine. */
	add_expect(x, &nx, "no-such-host.invalid:80", RP_STATUS_DNS_ERROR);
	int nargs = nx;

	/* A file: a comment, a blank line, one good and one bad line. */
	int fd = mkstemp(path);
	CHECK(sc, fd >= 0, "mkstemp: %s", strerror(errno));
	if (fd < 0)
		goto out_close;
	snprintf(buf, sizeof(buf), "# targets\n\n127.0.0.1:%d\n127.0.0.1:0x\n",
		 lport[0]);
	CHECK(sc, write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf),
	      "write %s", path);
	close(fd);
	snprintf(buf, sizeof(buf), "127.0.0.1:%d", lport[0]);
	add_expect(x, &nx, buf, RP_STATUS_OPEN);
	add_expect(x, &nx, "127.0.0.1:0x", RP_STATUS_INVALID);
	int bad_file_line = nx - 1;

	struct rp_source_opts so = {.ports = NULL};
	int rc = rp_source_create(&src, &so, err, sizeof(err));
	CHECK(sc, rc == 0, "rp_source_create: %s %s", rp_strerror(rc), err);
	if (rc)
		goto out_unlink;
	for (int i = 0; i < nargs; i++)
		CHECK(sc, rp_source_add_arg(src, x[i].input) == 0,
		      "add_arg %s", x[i].input);
	rc = rp_source_add_file(src, path);
	CHECK(sc, rc == 0, "rp_source_add_file: %s", rp_strerror(rc));

	struct t_rec *r = t_rec_new(sc, 64, 1);
	struct rp_engine_opts o = {
		.connect_timeout_ns = 200 * 1000000ull,
		.retries = 1,
		.concurrency = 8, /* fewer slots than targets */
	};
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out_rec;

	/* One target with a preset status, submitted directly. */
	struct rp_target pre = {.status = RP_STATUS_INVALID,
				.err = -EINVAL,
				.detail = "preset by the test",
				.input = "preset",
				.index = 63};
	add_expect(x, &nx, "preset", RP_STATUS_INVALID);
	rc = rp_engine_submit(e, &pre);
	CHECK(sc, rc == 0, "submit preset: %s", rp_strerror(rc));

	t_use_source(e, src);
	uint64_t t0 = t_now_ns();
	t_run_until(e, NULL, NULL, 10000);
	CHECK(sc, rp_engine_run(e, 0) == 0, "the run did not end in 10 s");
	double ms = t_ms_since(t0);

	/* N in = N out: nx inputs, one result each, indexes 0..nx-2 from the
	 * source and 63 for the preset one. */
	CHECK(sc, r->n == (uint64_t)nx, "%llu results for %d targets",
	      (unsigned long long)r->n, nx);
	CHECK(sc, r->out_of_range == 0, "result index out of range");
	for (int i = 0; i < nx - 1; i++)
		CHECK(sc, r->cnt[i] == 1, "source index %d: %u results", i,
		      r->cnt[i]);
	CHECK(sc, rp_source_produced(src) == (uint64_t)(nx - 1),
	      "rp_source_produced %llu, expected %d",
	      (unsigned long long)rp_source_produced(src), nx - 1);
	CHECK(sc, rp_source_invalid(src) == 4, "rp_source_invalid %llu",
	      (unsigned long long)rp_source_invalid(src));

	/* Every result is the expected outcome of its input. */
	for (uint64_t i = 0; i < r->cap; i++) {
		if (!r->cnt[i])
			continue;
		int k;
		for (k = 0; k < nx; k++)
			if (!x[k].seen && !strcmp(x[k].input, r->input[i]))
				break;
		if (k == nx) {
			CHECK(sc, 0, "index %llu: unexpected input '%s' (%s)",
			      (unsigned long long)i, r->input[i],
			      t_sname(r->st[i]));
			continue;
		}
		x[k].seen = 1;
		CHECK(sc, r->st[i] == x[k].status,
		      "'%s': got %s, expected %s (detail %s)", x[k].input,
		      t_sname(r->st[i]), t_sname(x[k].status),
		      r->detail[i] ? r->detail[i] : "-");
		if (x[k].status == RP_STATUS_FILTERED)
			CHECK(sc, r->attempts[i] == 2 &&
					  r->elapsed_us[i] >= 350000,
			      "'%s': filtered after %u attempts, %llu us "
			      "(want 2 attempts of 200 ms)",
			      x[k].input, r->attempts[i],
			      (unsigned long long)r->elapsed_us[i]);
		if (x[k].status == RP_STATUS_OPEN ||
		    x[k].status == RP_STATUS_CLOSED)
			CHECK(sc, r->attempts[i] == 1, "'%s': %u attempts",
			      x[k].input, r->attempts[i]);
		if (x[k].status == RP_STATUS_ERROR ||
		    x[k].status == RP_STATUS_INVALID)
			CHECK(sc, r->attempts[i] == 0, "'%s': %u attempts",
			      x[k].input, r->attempts[i]);
		if (k == bad_file_line) {
			char want_loc[96];
			snprintf(want_loc, sizeof(want_loc), "%s:4", path);
			CHECK(sc, r->detail[i] &&
					  strstr(r->detail[i], want_loc),
			      "bad file line: detail '%s' lacks '%s'",
			      r->detail[i] ? r->detail[i] : "(null)",
			      want_loc);
		}
		if (!strcmp(x[k].input, "preset"))
			CHECK(sc, r->detail[i] &&
					  !strcmp(r->detail[i],
						  "preset by the test"),
			      "preset detail '%s'",
			      r->detail[i] ? r->detail[i] : "(null)");
	}
	for (int k = 0; k < nx; k++) {
		CHECK(sc, x[k].seen, "no result for '%s'", x[k].input);
		want[x[k].status]++;
	}
	for (int s = RP_STATUS_NONE + 1; s < RP_STATUS__COUNT; s++)
		CHECK(sc, r->by_status[s] == want[s],
		      "%s: %llu results, expected %llu", t_sname(s),
		      (unsigned long long)r->by_status[s],
		      (unsigned long long)want[s]);
	t_check_stats(sc, e, r);
	fprintf(stderr, "[%s] %d targets, %llu results in %.0f ms\n", sc->name,
		nx, (unsigned long long)r->n, ms);
	rp_engine_destroy(e);
out_rec:
	t_rec_free(r);
	rp_source_destroy(src);
out_unlink:
	unlink(path);
out_close:
	for (int i = 0; i < 4; i++)
		if (lfd[i] >= 0)
			close(lfd[i]);
}

static void test_conservation(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "conservation", .netns = 1,
			    .expect_direct = 1, .fn = conservation_body,
			    .limit_s = 30};

	t_run_scenario(&sc);
}

static void stop_from_callback_body(struct t_scen *sc);

static void test_fallback_stop_from_callback(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "fallback_stop_from_callback", .netns = 1,
			    .flags = RP_ENGINE_FALLBACK, .expect_direct = 0,
			    .fn = stop_from_callback_body, .limit_s = 30};

	t_run_scenario(&sc);
}

static void test_fallback_conservation(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "fallback_conservation/env", .netns = 1,
			    .expect_direct = 0, .fn = conservation_body,
			    .limit_s = 30};

	/* Read by rp_engine_create() on the scenario thread. */
	setenv("RINGPROBE_FALLBACK", "1", 1);
	t_run_scenario(&sc);
	unsetenv("RINGPROBE_FALLBACK");
}

/* ---- (d) cancel one ------------------------------------------------------ */

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

/* ---- (e) cancel all ------------------------------------------------------ */

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

/* ---- (f) destroy with probes in flight ----------------------------------- */

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

/* ---- (g) the submit contract ---------------------------------------------- */

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

/* ---- main ------------------------------------------------------------------ */


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_ports_v4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_conservation),
		cmocka_unit_test(test_cancel_one),
		cmocka_unit_test(test_cancel_early),
		cmocka_unit_test(test_stop_after_turns),
		cmocka_unit_test(test_stop_first_turn),
		cmocka_unit_test(test_stop_from_callback),
		cmocka_unit_test(test_stop_from_thread),
		cmocka_unit_test(test_destroy_inflight),
		cmocka_unit_test(test_submit_contract),
		cmocka_unit_test(test_fallback_all_ports),
		cmocka_unit_test(test_fallback_conservation),
		cmocka_unit_test(test_fallback_stop_from_callback),
		cmocka_unit_test(test_fallback_cancel_early),
		cmocka_unit_test(test_fallback_stop_first_turn),
	};

	/* RP_TEST_FILTER=test_cancel* runs a subset (cmocka glob). */
	if (getenv("RP_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RP_TEST_FILTER"));
	return cmocka_run_group_tests(tests, t_scen_group_setup, NULL);
}
