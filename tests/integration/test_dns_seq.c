/*
 * test_dns_seq.c - many lookups, one after the other, through one engine
 * whose first resolver never answers: every lookup times out there and is
 * answered by the second, so each one must resolve. 500 rounds, each
 * submitting one name no earlier round used (the cache cannot answer) and
 * running the embedder's loop of ringprobe.h (tests/helpers/t_loop.c)
 * until its result, which must be open or closed, never dns-error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ringprobe.h"
#include "t_dns.h"
#include "t_loop.h"
#include "t_net.h"

#define ROUNDS 500
#define ROUND_MS 5000     /* one round that takes longer fails */
#define TOTAL_MS 60000    /* so does the whole test */
#define PORT 10000        /* closed on 127.4.x.y */

struct round {
	unsigned k;           /* the round: name "r<k>.test" */
	char name[32];
	unsigned results;
	enum rp_status status;
	char detail[64];
};

static void make_name(void *arg, unsigned i, struct rp_target *t)
{
	struct round *r = arg;

	(void)i;
	snprintf(r->name, sizeof(r->name), "r%u.test", r->k);
	t->index = r->k;
	t->name = r->name;
	t->port = PORT;
}

static void on_result(const struct rp_result *res, void *arg)
{
	struct round *r = arg;

	r->results++;
	r->status = res->status;
	snprintf(r->detail, sizeof(r->detail), "%s",
		 res->detail ? res->detail : "");
}

static void test_silent_first(void **state)
{
	struct t_dns_responder *dns;
	struct rp_engine *e;
	struct rp_engine_opts o;
	struct t_loop_stats st;
	struct round r;
	char servers[64];
	int sink, sport, ret;
	unsigned ok = 0, dns_err = 0, other = 0, stalls = 0, first_bad = 0;
	unsigned k, timeouts = 0;
	uint64_t end = t_now_ms() + TOTAL_MS;

	(void)state;
	ret = t_netns_enter(); /* closed ports are closed; else the host's */
	assert_true(ret == 0 || ret == T_SKIP);
	sink = t_udp_sink(&sport);
	assert_true(sink >= 0);
	dns = t_dns_responder_start(0);
	assert_non_null(dns);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d,127.0.0.1:%d", sport,
		 t_dns_responder_port(dns));

	memset(&o, 0, sizeof(o));
	o.concurrency = 16;
	o.on_result = on_result;
	o.arg = &r;
	o.dns.servers = servers;
	o.dns.timeout_ns = 50000000ull; /* 50 ms on the silent one */
	o.dns.tries = 2;
	o.dns.no_hosts = 1;
	assert_int_equal(rp_engine_create(&e, &o), 0);

	for (k = 1; k <= ROUNDS && t_now_ms() < end; k++) {
		memset(&r, 0, sizeof(r));
		r.k = k;
		ret = t_loop_run(e, 1, make_name, &r, T_WAIT_EPOLL_LT, 3000,
				 ROUND_MS, &st);
		stalls += st.cap_wakes;
		if (ret == 0 && r.results == 1 &&
		    (r.status == RP_STATUS_CLOSED || r.status == RP_STATUS_OPEN)) {
			ok++;
			continue;
		}
		if (!first_bad) {
			first_bad = k;
			fprintf(stderr, "  round %u: loop %d, %u results, %s "
				"(%s)\n", k, ret, r.results,
				rp_status_name(r.status), r.detail);
		}
		if (r.status == RP_STATUS_DNS_ERROR)
			dns_err++;
		else
			other++;
		if (ret == -ETIMEDOUT && ++timeouts >= 3)
			break; /* stalled: do not wait out every round */
	}
	fprintf(stderr, "  %u rounds: %u resolved, %u dns-error, %u other, "
		"first bad round %u, %u waits hit the cap, %d queries "
		"answered\n", k - 1, ok, dns_err, other, first_bad, stalls,
		t_dns_responder_total(dns));
	rp_engine_destroy(e);
	t_dns_responder_stop(dns);
	close(sink);

	assert_int_equal(ok, ROUNDS);
	assert_int_equal(stalls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_silent_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
