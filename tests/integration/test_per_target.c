/*
 * test_per_target.c - per-target choices and probe handles, as the header
 * documents them (rp_target.kind, .timeout_ns, .method, .headers;
 * rp_engine_submit_id(), rp_engine_cancel_id(), rp_result.kind and .id):
 *
 *  - kinds: one RP_PROBE_HTTP engine runs an HTTP probe, a TCP probe
 *    (OPEN, no HTTP part) and its own kind's probe side by side; kinds the
 *    engine's does not include are refused with -EINVAL, as are timeouts
 *    above RP_TIMEOUT_MAX_NS; a TCP engine refuses HTTP targets;
 *  - request: a target's headers replace the engine's (the server echoes
 *    User-Agent and X-Test in its page title), a HEAD target reads no
 *    body where GET does, a bad method or header is INVALID with a reason;
 *  - timeout: a target's own 300 ms timeout ends a request the server
 *    never answers long before the engine's 10 s;
 *  - handles: each result carries the handle submit gave; cancel_id
 *    cancels exactly that probe; a stale, zero or foreign handle is
 *    -ENOENT; repeated cancels of an index shared by two probes cancel
 *    both.
 *
 * The server is rp_target_server --mode http on an ephemeral port of
 * 127.0.0.1 (/echo, /fixed and /hang).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>

#include "ringprobe.h"
#include "t_server.h"

#define MAXR 16

struct got {
	unsigned n;
	struct {
		uint64_t index, id;
		int kind;
		enum rp_status status;
		uint64_t elapsed_us;
		int has_http;
		uint64_t body_bytes;
		char title[256];
		char detail[256];
	} r[MAXR];
};

static void on_result(const struct rp_result *r, void *arg)
{
	struct got *g = arg;

	if (g->n >= MAXR)
		return;
	g->r[g->n].index = r->index;
	g->r[g->n].id = r->id;
	g->r[g->n].kind = r->kind;
	g->r[g->n].status = r->status;
	g->r[g->n].elapsed_us = r->elapsed_us;
	g->r[g->n].has_http = r->http != NULL;
	g->r[g->n].body_bytes = r->http ? r->http->body_bytes : 0;
	snprintf(g->r[g->n].title, sizeof(g->r[g->n].title), "%s",
		 r->http && r->http->title ? r->http->title : "");
	snprintf(g->r[g->n].detail, sizeof(g->r[g->n].detail), "%s",
		 r->detail ? r->detail : "");
	g->n++;
}

/* The result with this index (each test gives each target its own). */
static unsigned find(const struct got *g, uint64_t index)
{
	for (unsigned i = 0; i < g->n; i++)
		if (g->r[i].index == index)
			return i;
	fail_msg("no result for index %llu", (unsigned long long)index);
	return 0;
}

static int g_port;
static pid_t g_pid;

static int setup(void **state)
{
	int rc = t_server_start("http", 1, &g_port, &g_pid);

	(void)state;
	if (rc == 77) {
		fprintf(stderr, "SKIP: no rp_target_server\n");
		return -1;
	}
	return rc;
}

static int teardown(void **state)
{
	(void)state;
	t_server_stop(g_pid);
	return 0;
}

static struct rp_target target(uint64_t index, const char *path)
{
	struct rp_target t;
	struct sockaddr_in *sin = (struct sockaddr_in *)&t.addr;

	memset(&t, 0, sizeof(t));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)g_port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t.addrlen = sizeof(*sin);
	t.index = index;
	t.path = path;
	return t;
}

static struct rp_engine *engine(enum rp_probe_kind kind, struct got *g,
				const char *const *headers)
{
	struct rp_engine_opts o = { .kind = kind, .concurrency = 16,
				    .on_result = on_result, .arg = g };
	struct rp_engine *e = NULL;

	o.http.headers = headers;
	assert_int_equal(rp_engine_create(&e, &o), 0);
	return e;
}

static uint64_t submit(struct rp_engine *e, const struct rp_target *t)
{
	uint64_t id = 0;

	assert_int_equal(rp_engine_submit_id(e, t, sizeof(*t), &id), 0);
	assert_true(id != 0);
	return id;
}

static void test_kinds_and_requests(void **state)
{
	static const char *const engine_h[] = { "X-Test: engine", NULL };
	static const char *const own_h[] = { "X-Test: mine",
					     "User-Agent: agent/1", NULL };
	static const char *const bad_h[] = { "X-Bad: a\r\nInjected: 1", NULL };
	struct got g = { 0 };
	struct rp_engine *e = engine(RP_PROBE_HTTP, &g, engine_h);
	struct rp_target t;
	uint64_t id[8];
	unsigned i;

	(void)state;
	t = target(0, "/echo"); /* the engine's kind and headers */
	id[0] = submit(e, &t);
	t = target(1, "/echo");
	t.kind = RP_TARGET_KIND(RP_PROBE_TCP);
	id[1] = submit(e, &t);
	t = target(2, "/echo");
	t.headers = own_h;
	id[2] = submit(e, &t);
	t = target(3, "/fixed");
	id[3] = submit(e, &t);
	t = target(4, "/fixed");
	t.method = "HEAD";
	id[4] = submit(e, &t);
	t = target(5, "/fixed");
	t.method = "GE T";
	id[5] = submit(e, &t);
	t = target(6, "/fixed");
	t.headers = bad_h;
	id[6] = submit(e, &t);
	t = target(7, "/echo");
	t.kind = RP_TARGET_KIND(RP_PROBE_HTTP);
	t.headers = own_h;
	t.method = "GET";
	id[7] = submit(e, &t);

	/* refused at submit: no result for these */
	t = target(100, "/");
	t.kind = RP_TARGET_KIND(RP_PROBE_BANNER);
	assert_int_equal(rp_engine_submit(e, &t), -EINVAL);
	t.kind = 99;
	assert_int_equal(rp_engine_submit(e, &t), -EINVAL);
	t.kind = -1;
	assert_int_equal(rp_engine_submit(e, &t), -EINVAL);
	t.kind = 0;
	t.timeout_ns = RP_TIMEOUT_MAX_NS + 1;
	assert_int_equal(rp_engine_submit(e, &t), -EINVAL);
	t.timeout_ns = 0;
	t.connect_timeout_ns = RP_TIMEOUT_MAX_NS + 1;
	assert_int_equal(rp_engine_submit(e, &t), -EINVAL);

	assert_int_equal(rp_engine_run_all(e), 0);
	assert_int_equal(g.n, 8);
	for (uint64_t k = 0; k < 8; k++) /* each result has its handle */
		assert_true(g.r[find(&g, k)].id == id[k]);
	for (uint64_t k = 0; k < 8; k++)
		for (uint64_t j = k + 1; j < 8; j++)
			assert_true(id[k] != id[j]);

	i = find(&g, 0);
	assert_int_equal(g.r[i].status, RP_STATUS_OK);
	assert_int_equal(g.r[i].kind, RP_PROBE_HTTP);
	assert_non_null(strstr(g.r[i].title, "x-test=engine"));
	i = find(&g, 1);
	assert_int_equal(g.r[i].status, RP_STATUS_OPEN);
	assert_int_equal(g.r[i].kind, RP_PROBE_TCP);
	assert_false(g.r[i].has_http);
	i = find(&g, 2);
	assert_int_equal(g.r[i].status, RP_STATUS_OK);
	assert_non_null(strstr(g.r[i].title, "ua=agent/1|x-test=mine"));
	i = find(&g, 7);
	assert_int_equal(g.r[i].status, RP_STATUS_OK);
	assert_non_null(strstr(g.r[i].title, "ua=agent/1|x-test=mine"));
	/* GET reads the body, HEAD none */
	i = find(&g, 3);
	assert_int_equal(g.r[i].status, RP_STATUS_OK);
	assert_true(g.r[i].body_bytes > 0);
	i = find(&g, 4);
	assert_int_equal(g.r[i].status, RP_STATUS_OK);
	assert_true(g.r[i].body_bytes == 0);
	/* bad method or header: INVALID, with a reason */
	i = find(&g, 5);
	assert_int_equal(g.r[i].status, RP_STATUS_INVALID);
	assert_non_null(strstr(g.r[i].detail, "method"));
	i = find(&g, 6);
	assert_int_equal(g.r[i].status, RP_STATUS_INVALID);
	assert_true(g.r[i].detail[0] != '\0');
	rp_engine_destroy(e);

	/* a TCP engine has no HTTP step */
	memset(&g, 0, sizeof(g));
	e = engine(RP_PROBE_TCP, &g, NULL);
	t = target(0, "/");
	t.kind = RP_TARGET_KIND(RP_PROBE_HTTP);
	assert_int_equal(rp_engine_submit(e, &t), -EINVAL);
	t.kind = RP_TARGET_KIND(RP_PROBE_TCP);
	assert_int_equal(rp_engine_submit(e, &t), 0);
	assert_int_equal(rp_engine_run_all(e), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].status, RP_STATUS_OPEN);
	assert_true(g.r[0].id == 0); /* not submitted with a handle */
	rp_engine_destroy(e);
}

static void test_timeout_and_handles(void **state)
{
	struct got g = { 0 };
	struct rp_engine *e = engine(RP_PROBE_HTTP, &g, NULL);
	struct rp_target t;
	uint64_t quick, x, y;
	unsigned i;

	(void)state;
	t = target(0, "/hang"); /* the engine's timeout: 10 s */
	t.timeout_ns = 300 * 1000000ull;
	quick = submit(e, &t);
	t = target(1, "/hang");
	x = submit(e, &t);
	t = target(2, "/hang");
	y = submit(e, &t);
	assert_int_equal(rp_engine_run(e, 0), 1);
	/* handles that are not these probes' */
	assert_int_equal(rp_engine_cancel_id(e, 0), -ENOENT);
	assert_int_equal(rp_engine_cancel_id(e, y + (1ull << 32)), -ENOENT);
	assert_int_equal(rp_engine_cancel_id(e, (y & ~0xffffffffull) | 10000),
			 -ENOENT);
	assert_int_equal(rp_engine_cancel_id(e, x), 0);
	/* the timed one ends by itself; then y is the only one left */
	for (int turns = 0; g.n < 2; turns++) {
		assert_true(turns < 100); /* 10 s */
		assert_int_equal(rp_engine_run(e, 100), 1);
	}
	assert_int_equal(rp_engine_cancel_id(e, x), -ENOENT); /* reported */
	assert_int_equal(rp_engine_cancel_id(e, y), 0);
	assert_int_equal(rp_engine_run_all(e), 0);
	assert_int_equal(g.n, 3);

	i = find(&g, 0);
	assert_int_equal(g.r[i].status, RP_STATUS_TIMEOUT);
	assert_true(g.r[i].id == quick);
	assert_true(g.r[i].elapsed_us >= 250000);
	assert_true(g.r[i].elapsed_us < 5000000); /* not the engine's 10 s */
	i = find(&g, 1);
	assert_int_equal(g.r[i].status, RP_STATUS_CANCELLED);
	assert_true(g.r[i].id == x);
	i = find(&g, 2);
	assert_int_equal(g.r[i].status, RP_STATUS_CANCELLED);
	assert_true(g.r[i].id == y);
	assert_int_equal(rp_engine_cancel_id(e, y), -ENOENT);
	rp_engine_destroy(e);
}

/* Repeated cancels by a shared index cancel every probe with it, the
 * newest first (the header: "the most recent one not yet cancelled"). */
static void test_cancel_shared_index(void **state)
{
	struct got g = { 0 };
	struct rp_engine *e = engine(RP_PROBE_HTTP, &g, NULL);
	struct rp_target t = target(50, "/hang");

	(void)state;
	t.timeout_ns = 8 * 1000000000ull; /* a bound, far above the cancels */
	assert_int_equal(rp_engine_submit(e, &t), 0);
	assert_int_equal(rp_engine_submit(e, &t), 0);
	assert_int_equal(rp_engine_run(e, 0), 1);
	assert_int_equal(rp_engine_cancel(e, 50), 0);
	assert_int_equal(rp_engine_cancel(e, 50), 0);
	assert_int_equal(rp_engine_cancel(e, 50), 0); /* both cancelled */
	assert_int_equal(rp_engine_run_all(e), 0);
	assert_int_equal(g.n, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(g.r[i].status, RP_STATUS_CANCELLED);
		assert_true(g.r[i].elapsed_us < 4000000);
	}
	assert_int_equal(rp_engine_cancel(e, 50), -ENOENT);
	rp_engine_destroy(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds_and_requests),
		cmocka_unit_test(test_timeout_and_handles),
		cmocka_unit_test(test_cancel_shared_index),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
