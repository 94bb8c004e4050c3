/*
 * test_fault_alloc.c - every allocation the library makes can fail, one
 * at a time and from some point on, without a crash, a hang, a leak or a
 * lost result.
 *
 * The engine is the fault build (engine/src/fault.h): its allocations and
 * c-ares's go through hooks, and rp__fault_alloc_arm(n, sticky) makes the
 * nth of them fail (sticky: and all after it). One round is what the CLI
 * does: a shared name cache, a target source with four arguments (an open
 * and a closed port, a name our own resolver answers, a bad line) and a
 * file of two more (read by the source's thread before the scan starts,
 * so that the order of allocations is the same in every run), an engine,
 * the scan, and everything destroyed. Rounds run for n = 1, 2, ... until
 * a round makes fewer than n allocations, so every allocation point the
 * round reaches fails once. Each round must end in one of two ways:
 *  - a call says -ENOMEM, and the round stops there (a clean error);
 *  - the scan completes with exactly one result per target, and that
 *    result is the right one, or (if an allocation failed during the
 *    scan) error or dns-error with a detail; except that a file whose
 *    line could not be allocated stops there, as a failed read does
 *    (rp_source_error() says -ENOMEM): its lines before that one are
 *    probed, the rest are not;
 * and afterwards no block allocated through the hooks is left (the
 * ASan and valgrind runs of the suite also check for leaks).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault.h"
#include "ringprobe.h"
#include "t_dns.h"
#include "t_http.h"
#include "t_net.h"

#define NARGS 4
#define NLINES 2              /* in the file, after the arguments */
#define NTARGETS (NARGS + NLINES)
#define ROUNDS_MAX 500        /* more allocation points than this fails */
#define ROUND_MS 10000        /* a scan that takes longer has hung */

struct env {
	int open_fd, closed_fd;       /* listener nobody accepts on; a port
	                               * held without listening */
	int open_port, closed_port;
	struct t_http http;           /* answers 200 */
	struct t_dns_responder *dns;  /* any name: 127.0.0.1 */
	char servers[32];
	char path[64];                /* the file of targets */
};

static struct env env;

/* What one round saw. */
struct round {
	bool http;
	bool name;                    /* target 2 is a name, not an address */
	char text[NTARGETS][96];      /* the targets' text */
	enum rp_status want[NTARGETS];
	unsigned results[NTARGETS];   /* per index */
	enum rp_status status[NTARGETS];
	bool detail[NTARGETS];        /* a detail came with it */
	unsigned stray;               /* results with an unknown index */
	int failed_at;                /* a call failed: 0 none, 1 cache,
	                               * 2 source, 3 argument, 4 file,
	                               * 5 engine */
	int err;                      /* what it returned */
	long calls;                   /* allocations the round made */
	long failed;                  /* of them failed on purpose */
	long failed_in_scan;          /* after create returned */
	long scan_calls;              /* allocations during the scan */
	int run;                      /* scan(): 0, or how it failed */
	int src_err;                  /* rp_source_error() after it */
};

static int setup(void **state)
{
	int fd;

	(void)state;
	env.open_fd = t_listen(AF_INET, &env.open_port);
	env.closed_fd = t_bind_port(AF_INET, 0, 0, &env.closed_port);
	if (env.open_fd < 0 || env.closed_fd < 0)
		return -1;
	if (t_http_start(&env.http, 1, 0, 64) < 0)
		return -1;
	env.dns = t_dns_responder_start(0);
	if (!env.dns)
		return -1;
	snprintf(env.servers, sizeof(env.servers), "127.0.0.1:%d",
		 t_dns_responder_port(env.dns));
	snprintf(env.path, sizeof(env.path), "/tmp/rp_fault_alloc.XXXXXX");
	fd = mkstemp(env.path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	t_http_stop(&env.http);
	if (env.dns)
		t_dns_responder_stop(env.dns);
	close(env.open_fd);
	close(env.closed_fd);
	unlink(env.path);
	return 0;
}

static void on_result(const struct rp_result *r, void *arg)
{
	struct round *rd = arg;

	if (r->index >= NTARGETS) {
		rd->stray++;
		return;
	}
	rd->results[r->index]++;
	rd->status[r->index] = r->status;
	rd->detail[r->index] = r->detail != NULL;
}

static void targets(struct round *rd)
{
	int p = rd->http ? env.http.port : env.open_port;
	enum rp_status ok = rd->http ? RP_STATUS_OK : RP_STATUS_OPEN;

	if (rd->http)
		snprintf(rd->text[0], sizeof(rd->text[0]),
			 "http://127.0.0.1:%d/", p);
	else
		snprintf(rd->text[0], sizeof(rd->text[0]), "127.0.0.1:%d", p);
	snprintf(rd->text[1], sizeof(rd->text[1]), "127.0.0.1:%d",
		 env.closed_port);
	snprintf(rd->text[2], sizeof(rd->text[2]), "%s%s:%d%s",
		 rd->http ? "http://" : "", rd->name ? "open.test" : "127.0.0.1",
		 p, rd->http ? "/x" : "");
	snprintf(rd->text[3], sizeof(rd->text[3]), "not a target!");
	memcpy(rd->text[4], rd->text[1], sizeof(rd->text[1]));
	memcpy(rd->text[5], rd->text[0], sizeof(rd->text[0]));
	rd->want[0] = rd->want[5] = ok;
	rd->want[1] = rd->want[4] = RP_STATUS_CLOSED;
	rd->want[2] = ok;
	rd->want[3] = RP_STATUS_INVALID;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Writes the file's lines (before the round: nothing is armed). */
static void write_file(const struct round *rd)
{
	FILE *f = fopen(env.path, "w");

	assert_non_null(f);
	for (int i = NARGS; i < NTARGETS; i++)
		fprintf(f, "%s\n", rd->text[i]);
	assert_int_equal(fclose(f), 0);
}

/* Waits (2 s at most) until the source's thread has read every file. */
static void wait_read(struct rp_source *src)
{
	uint64_t end = now_ms() + 2000;

	while (rp_source_total(src) < 0 && now_ms() < end)
		usleep(1000);
}

/* Runs the scan to its end. Returns 0, -ETIMEDOUT if it did not end in
 * time, or what rp_engine_run() failed with. */
static int scan(struct rp_engine *e)
{
	uint64_t end = now_ms() + ROUND_MS;
	int ret;

	while ((ret = rp_engine_run(e, 100)) > 0)
		if (now_ms() > end)
			return -ETIMEDOUT;
	return ret;
}

/* Records a call of the round that failed; true if ret says it did. */
static bool call_failed(struct round *rd, int ret, int where)
{
	if (ret >= 0)
		return false;
	rd->err = ret;
	rd->failed_at = where;
	return true;
}

/* One round with the nth allocation failing (n = 0: none). */
static void round_run(struct round *rd, long n, bool sticky)
{
	static const char *const headers[] = { "X-Fault: 1", NULL };
	struct rp_dns_cache *cache = NULL;
	struct rp_source *src = NULL;
	struct rp_engine *e = NULL;

	targets(rd);
	write_file(rd);
	rp__fault_alloc_arm(n, sticky);
	if (call_failed(rd, rp_dns_cache_create(&cache, 64), 1) ||
	    call_failed(rd, rp_source_create(&src, &(struct rp_source_opts){ 0 },
					     NULL, 0), 2))
		goto out;
	for (int i = 0; i < NARGS; i++)
		if (call_failed(rd, rp_source_add_arg(src, rd->text[i]), 3))
			goto out;
	if (call_failed(rd, rp_source_add_file(src, env.path), 4))
		goto out;
	wait_read(src);
	struct rp_engine_opts o = {
		.concurrency = 8,
		.kind = rd->http ? RP_PROBE_HTTP : RP_PROBE_TCP,
		.timeout_ns = 5000000000ull,
		.on_result = on_result,
		.arg = rd,
		.http = { .headers = headers },
		.dns = { .servers = env.servers, .no_hosts = 1,
			 .timeout_ns = 500000000ull, .tries = 2,
			 .shared = cache },
	};
	if (call_failed(rd, rp_engine_create(&e, &o), 5))
		goto out;
	long failed0 = rp__fault_alloc_failed();
	long calls0 = rp__fault_alloc_calls();
	rp_engine_set_source(e, rp_source_next, src);
	rd->run = scan(e);
	rd->failed_in_scan = rp__fault_alloc_failed() - failed0;
	rd->scan_calls = rp__fault_alloc_calls() - calls0;
out:
	if (src)
		rd->src_err = rp_source_error(src);
	assert_int_equal(rp_engine_destroy(e), 0);
	rp_source_destroy(src);
	rp_dns_cache_destroy(cache);
	rd->calls = rp__fault_alloc_calls();
	rd->failed = rp__fault_alloc_failed();
	rp__fault_alloc_arm(0, false);
}

/* The checks every round must pass; returns the failures seen. */
static int round_check(const struct round *rd, long n, bool sticky)
{
	int bad = 0;

#define BAD(...)                                                               \
	do {                                                                   \
		fprintf(stderr, "  %s n=%ld%s: ", rd->http ? "http" : "tcp",   \
			n, sticky ? " sticky" : "");                           \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
		bad++;                                                         \
	} while (0)

	if (rp__fault_alloc_live() != 0)
		BAD("%ld blocks left allocated", rp__fault_alloc_live());
	if (rd->run == -ETIMEDOUT)
		BAD("the scan did not end within %d ms", ROUND_MS);
	else if (rd->run)
		BAD("rp_engine_run() failed: %s", rp_strerror(rd->run));
	if (rd->failed_at) {
		if (rd->err != -ENOMEM)
			BAD("call %d failed with %d, not -ENOMEM", rd->failed_at,
			    rd->err);
		for (int i = 0; i < NTARGETS; i++)
			if (rd->results[i])
				BAD("a result after a failed call");
		return bad;
	}
	if (rd->stray)
		BAD("%u results with an unknown index", rd->stray);
	/* rp_engine_create(): nothing is allocated per probe afterwards
	 * (a name's lookup is c-ares's). */
	if (!rd->name && rd->scan_calls)
		BAD("%ld allocations during a scan of addresses",
		    rd->scan_calls);
	if (rd->src_err && rd->src_err != -ENOMEM)
		BAD("reading the file failed: %s", rp_strerror(rd->src_err));
	/* A line the reader could not allocate ends its file there: the
	 * lines before it are probed, it and those after it are not. */
	int end = NTARGETS;
	if (rd->src_err)
		for (end = NARGS; end < NTARGETS && rd->results[end]; end++)
			;
	for (int i = 0; i < NTARGETS; i++) {
		enum rp_status st = rd->status[i];
		bool oom_ok = rd->failed_in_scan &&
			      (st == RP_STATUS_ERROR ||
			       st == RP_STATUS_DNS_ERROR) && rd->detail[i];

		if (i >= end && rd->results[i])
			BAD("target %d (%s): a result after the line that "
			    "failed", i, rd->text[i]);
		else if (i >= end)
			continue;
		else if (rd->results[i] != 1)
			BAD("target %d (%s): %u results", i, rd->text[i],
			    rd->results[i]);
		else if (st != rd->want[i] && !oom_ok)
			BAD("target %d (%s): %s, not %s", i, rd->text[i],
			    rp_status_name(st), rp_status_name(rd->want[i]));
	}
#undef BAD
	return bad;
}

/*
 * Fails each allocation point in turn, then each from there on. A lookup
 * whose allocations all fail from some point on ends (dns-error) only
 * when c-ares's tries have timed out, since c-ares drops an answer it has
 * no memory for as if it were lost: seconds per round. So the sticky
 * rounds probe an address instead of the name; the rounds that fail one
 * allocation each still reach every point of the lookup.
 */
static void fail_each(bool http)
{
	int bad = 0;

	for (int sticky = 0; sticky < 2; sticky++) {
		struct round rd = { .http = http, .name = !sticky };
		long n, points, stops = 0;

		round_run(&rd, 0, false);
		assert_int_equal(round_check(&rd, 0, false), 0);
		points = rd.calls;
		assert_true(points > 0 && points < ROUNDS_MAX);
		for (n = 1; n <= ROUNDS_MAX; n++) {
			rd = (struct round){ .http = http, .name = !sticky };
			round_run(&rd, n, sticky);
			bad += round_check(&rd, n, sticky);
			stops += rd.src_err != 0;
			if (!rd.failed)
				break; /* fewer than n allocations: all done */
		}
		assert_true(n <= ROUNDS_MAX);
		printf("  %s%s: %ld allocations, %ld rounds, %ld with the "
		       "file cut short\n", http ? "http" : "tcp",
		       sticky ? " (no name), failing from the nth on" : "",
		       points, n, stops);
		assert_true(stops > 0); /* the reader's path was reached */
	}
	assert_int_equal(bad, 0);
}

static void test_alloc_tcp(void **state)
{
	(void)state;
	fail_each(false);
}

static void test_alloc_http(void **state)
{
	(void)state;
	fail_each(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_tcp),
		cmocka_unit_test(test_alloc_http),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
