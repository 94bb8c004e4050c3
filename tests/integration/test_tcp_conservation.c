/*
 * test_tcp_conservation.c - N targets in, N results out, with a mix of
 * outcomes: open, closed, filtered (nft drop), invalid lines (arguments
 * and a file), a hostname and a preset status, each with its exact
 * outcome, and engine stats that agree.
 *
 *  - conservation: on the direct path;
 *  - fallback_conservation: the same with RINGPROBE_FALLBACK=1
 *    (rp_stats.direct 0).
 *
 * RP_TEST_FILTER=<cmocka glob> runs a subset, e.g. 'test_fallback*'.
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
#include "t_scen.h"

/* ---- conservation with a mix of outcomes --------------------------------- */

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

/* ---- main ---------------------------------------------------------------- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conservation),
		cmocka_unit_test(test_fallback_conservation),
	};

	/* RP_TEST_FILTER='test_fallback*' runs a subset (cmocka glob). */
	if (getenv("RP_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RP_TEST_FILTER"));
	return cmocka_run_group_tests(tests, t_scen_group_setup, NULL);
}
