/*
 * test_fault_ring.c - the ring's own limits under load lose no result.
 *
 *  - A provided-buffer ring that runs dry: HTTP probes whose responses all
 *    arrive at once (our server answers them in one batch) share a ring of
 *    one or two receive buffers, so most receives end -ENOBUFS. Each must
 *    wait for a buffer and go on: every probe ends ok with its whole body.
 *  - A completion queue far smaller than the ops in flight: rings of 8
 *    entries (SQ and CQ) under 64 or 256 probes, so completions overflow
 *    the CQ and wait in the kernel's overflow list. Every target still
 *    gets exactly one result, and the right one.
 *
 * Both sizes are test knobs of the fault build (engine/src/fault.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault.h"
#include "ringprobe.h"
#include "stage.h" /* the engine's ring: did its CQ overflow? */
#include "t_http.h"
#include "t_net.h"

#define RUN_MS 60000          /* a scan that takes longer has hung */
#define BODY (40 * 1000)      /* three receives of 16 KiB at least */

struct scan {
	unsigned n;                   /* targets */
	unsigned next;                /* next to hand out */
	int port[2];                  /* target i goes to port[i % 2] */
	enum rp_status want[2];       /* and should end so */
	unsigned *results;            /* per index */
	unsigned stray;               /* results with an unknown index */
	unsigned wrong;               /* results not as wanted */
	unsigned overflowed;          /* turns that left the CQ overflowed */
	bool http;
};

static void on_result(const struct rp_result *r, void *arg)
{
	struct scan *sc = arg;
	unsigned i = (unsigned)r->index;
	bool right;

	if (r->index >= sc->n) {
		sc->stray++;
		return;
	}
	sc->results[i]++;
	right = r->status == sc->want[i % 2];
	if (right && r->status == RP_STATUS_OK)
		right = r->http && r->http->status_code == 200 &&
			r->http->body_bytes == BODY;
	if (!right && sc->wrong++ < 5)
		fprintf(stderr, "  target %u: %s %s (%s)\n", i,
			rp_status_name(r->status),
			r->err ? rp_errno_name(r->err) : "",
			r->detail ? r->detail : "");
}

static int pull(void *arg, struct rp_target *t)
{
	struct scan *sc = arg;
	struct sockaddr_in *a = (struct sockaddr_in *)&t->addr;

	if (sc->next == sc->n)
		return -1;
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons((uint16_t)sc->port[sc->next % 2]);
	t->addrlen = sizeof(*a);
	t->index = sc->next++;
	return 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs sc through an engine of the given concurrency and checks that
 * every target had exactly one result, the wanted one. */
static void run(struct scan *sc, uint32_t concurrency)
{
	struct rp_engine_opts o = {
		.concurrency = concurrency,
		.kind = sc->http ? RP_PROBE_HTTP : RP_PROBE_TCP,
		.timeout_ns = 30ull * 1000000000u,
		.connect_timeout_ns = 10ull * 1000000000u,
		.on_result = on_result,
		.arg = sc,
	};
	struct rp_engine *e;
	struct rp_stats st;
	uint64_t end = now_ms() + RUN_MS;
	unsigned missing = 0, twice = 0;
	int ret;

	sc->results = calloc(sc->n, sizeof(*sc->results));
	assert_non_null(sc->results);
	assert_int_equal(rp_engine_create(&e, &o), 0);
	rp_engine_set_source(e, pull, sc);
	while ((ret = rp_engine_run(e, 100)) > 0 && now_ms() < end)
		sc->overflowed += io_uring_cq_has_overflow(&e->r.ring);
	rp_engine_stats(e, &st);
	assert_int_equal(rp_engine_destroy(e), 0);
	for (unsigned i = 0; i < sc->n; i++) {
		missing += sc->results[i] == 0;
		twice += sc->results[i] > 1;
	}
	free(sc->results);
	printf("  %u targets, -c %u: %u missing, %u twice, %u wrong, "
	       "%" PRIu64 " CQEs in %" PRIu64 " enters, %u turns ended with "
	       "the CQ overflowed\n", sc->n, concurrency, missing, twice,
	       sc->wrong, st.cqes, st.enters, sc->overflowed);
	assert_int_equal(ret, 0); /* not a ring failure, and not a hang */
	assert_int_equal(sc->next, sc->n);
	assert_int_equal(missing, 0);
	assert_int_equal(twice, 0);
	assert_int_equal(sc->stray, 0);
	assert_int_equal(sc->wrong, 0);
	if (rp__fault.ring_entries) /* the test did what it says */
		assert_true(sc->overflowed > 0);
}

/* HTTP probes against a server answering batch of them at once, with
 * bufs receive buffers (0: as sized) and rings of ring_entries (0: as
 * sized). Half the targets are a closed port. */
static void http_scan(unsigned bufs, unsigned ring_entries, uint32_t conc,
		      unsigned n)
{
	struct t_http srv;
	struct scan sc = {
		.n = n,
		.http = true,
		.want = { RP_STATUS_OK, RP_STATUS_CLOSED },
	};
	int hold;

	assert_int_equal(t_http_start(&srv, conc / 2, 200, BODY), 0);
	hold = t_bind_port(AF_INET, 0, 0, &sc.port[1]);
	assert_true(hold >= 0);
	sc.port[0] = srv.port;
	rp__fault.http_bufs = bufs;
	rp__fault.ring_entries = ring_entries;
	run(&sc, conc);
	rp__fault = (struct rp__fault_knobs){ 0 };
	close(hold);
	assert_int_equal(t_http_stop(&srv), 0);
}

static void test_buffers_run_dry(void **state)
{
	(void)state;
	http_scan(1, 0, 64, 512);
	http_scan(2, 0, 32, 256);
}

static void test_cq_overflow_tcp(void **state)
{
	struct scan sc = {
		.n = 2000,
		.want = { RP_STATUS_OPEN, RP_STATUS_CLOSED },
	};
	int lfd, hold;

	(void)state;
	lfd = t_listen(AF_INET, &sc.port[0]);
	hold = t_bind_port(AF_INET, 0, 0, &sc.port[1]);
	assert_true(lfd >= 0 && hold >= 0);
	rp__fault.ring_entries = 8;
	run(&sc, 256);
	rp__fault = (struct rp__fault_knobs){ 0 };
	close(lfd);
	close(hold);
}

static void test_cq_overflow_http(void **state)
{
	(void)state;
	http_scan(0, 8, 64, 512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buffers_run_dry),
		cmocka_unit_test(test_cq_overflow_tcp),
		cmocka_unit_test(test_cq_overflow_http),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
