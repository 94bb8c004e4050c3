/*
 * test_embed.c - the engine driven from an embedder's own poll(2) loop:
 * rp_engine_fd() must become readable whenever completions wait, so a loop
 * that sleeps in poll() and calls rp_engine_run(e, 0) only when the fd is
 * readable gets every result, and never spins or hangs. Runs in a private
 * network namespace where some ports are dropped, so that completions
 * arrive while the loop sleeps (their link timeouts fire 300 ms later).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ringprobe.h"
#include "t_net.h"

/*
 * Ports in the test's namespace, all below the ephemeral range (where the
 * kernel would put a bind(0) listener or a connect's source port), so a
 * closed port stays closed: target i probes CLOSED_LO + i, except target
 * 7 (the listener, on a port of its own) and 100..149 (dropped).
 */
#define N 300
#define CLOSED_LO 20000
#define LISTEN_PORT 7007
#define DROP_LO 30000 /* targets 100..149 go here: filtered after 300 ms */

struct tally {
	unsigned results;
	unsigned open;
	unsigned closed;
	unsigned filtered;
	unsigned seen[N];
};

static void on_result(const struct rp_result *r, void *arg)
{
	struct tally *t = arg;

	t->results++;
	if (r->index < N)
		t->seen[r->index]++;
	if (r->status == RP_STATUS_OPEN)
		t->open++;
	else if (r->status == RP_STATUS_CLOSED)
		t->closed++;
	else if (r->status == RP_STATUS_FILTERED)
		t->filtered++;
}

/* A listener on 127.0.0.1:port; nobody accepts, the backlog suffices. */
static int listen_at(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* The lower end of this namespace's ephemeral port range. */
static int eph_lo(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	int lo = 32768, hi;

	if (f) {
		if (fscanf(f, "%d %d", &lo, &hi) != 2)
			lo = 32768;
		fclose(f);
	}
	return lo;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_poll_loop(void **state)
{
	struct tally t;
	struct rp_engine *e;
	struct rp_engine_opts o = { .concurrency = 64, .on_result = on_result,
				    .arg = &t,
				    .connect_timeout_ns = 300000000ull };
	int lfd, efd, ret;
	unsigned submitted = 0, polls = 0, idle_runs = 0;

	(void)state;
	memset(&t, 0, sizeof(t));
	ret = t_netns_enter();
	if (ret == T_SKIP)
		skip();
	assert_int_equal(ret, 0);
	assert_true(CLOSED_LO + N <= eph_lo() && DROP_LO + 99 < eph_lo());
	assert_true(LISTEN_PORT < CLOSED_LO);
	assert_int_equal(t_nft_drop_tcp_ports(DROP_LO, DROP_LO + 99), 0);
	lfd = listen_at(LISTEN_PORT);
	assert_true(lfd >= 0);
	assert_int_equal(rp_engine_create(&e, &o), 0);
	efd = rp_engine_fd(e);
	assert_true(efd >= 0);

	uint64_t give_up = now_ms() + 20000;
	for (;;) {
		/* Submit what fits: target i is the listener for i == 7, a
		 * dropped port for 100..149, else a closed port. */
		while (submitted < N) {
			struct rp_target tg;
			struct sockaddr_in *a = (struct sockaddr_in *)&tg.addr;

			memset(&tg, 0, sizeof(tg));
			a->sin_family = AF_INET;
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			a->sin_port = htons(
				submitted == 7 ? (uint16_t)LISTEN_PORT
				: submitted >= 100 && submitted < 150
					? (uint16_t)(DROP_LO + submitted - 100)
					: (uint16_t)(CLOSED_LO + submitted));
			tg.addrlen = sizeof(*a);
			tg.index = submitted;
			ret = rp_engine_submit(e, &tg);
			if (ret == -EAGAIN)
				break;
			assert_int_equal(ret, 0);
			submitted++;
		}
		unsigned before = t.results;
		ret = rp_engine_run(e, 0); /* submits; never waits */
		assert_true(ret >= 0);
		if (ret == 0 && submitted == N)
			break;
		if (t.results == before && submitted == N) {
			/* Nothing was ready: sleep in poll until the fd says
			 * completions wait. */
			struct pollfd p = { .fd = efd, .events = POLLIN };
			int n = poll(&p, 1, 2000);

			polls++;
			assert_true(n >= 0);
			if (n == 0)
				idle_runs++; /* 2 s without a wakeup */
			if (n > 0) {
				uint64_t v;
				ssize_t rd = read(efd, &v, sizeof(v));
				(void)rd;
			}
		}
		assert_true(now_ms() < give_up);
	}
	fprintf(stderr, "  %u results, %u open, %u closed, %u filtered, %u "
		"polls, %u timeouts without a wakeup\n", t.results, t.open,
		t.closed, t.filtered, polls, idle_runs);
	assert_int_equal(t.results, N);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(t.seen[i], 1);
	assert_int_equal(t.open, 1);
	assert_int_equal(t.filtered, 50);
	assert_int_equal(t.closed, N - 51);
	assert_true(polls > 0); /* the loop did sleep in poll() */
	assert_int_equal(idle_runs, 0); /* and the fd always woke it */
	rp_engine_destroy(e);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poll_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
