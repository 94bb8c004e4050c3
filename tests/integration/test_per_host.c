/*
 * test_per_host.c - per-host limits (rp_engine_opts.max_per_host,
 * host_delay_ns), from the contract in ringprobe.h:
 *
 *  - cap: against a server that holds each connection, the server never
 *    has more than max_per_host connections from the engine open at once,
 *    while probes to a second address go through at once; waiting is not
 *    part of a probe's clocks (elapsed_us), and rp_stats.host_waiting
 *    counts the waiters;
 *  - wait_past_timeout: probes that wait longer than the overall timeout
 *    still get their real result, not TIMEOUT;
 *  - delay: the server's accepts from one address are spaced by at least
 *    host_delay_ns (checked over the whole span, a lower bound, so a busy
 *    machine cannot fail it), while other addresses are not held back;
 *  - cancel_stop: cancelling a waiting probe, then stopping the engine with
 *    probes waiting, then destroying one with probes waiting: one result
 *    per target every time, waiters CANCELLED.
 *
 * The servers are child processes of this test (plain sockets on
 * 127.0.0.1 and 127.0.0.2, ports from bind(0); processes, not threads, so
 * that they run under valgrind too, where a thread waits while another is
 * in io_uring_enter): each accepts, logs in shared memory the accept time
 * and how many of its connections are open, holds the connection hold_ms,
 * then sends "hi\n" and closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ringprobe.h"
#include "t_scen.h"

#define MS 1000000ull
#define HOLD_MAX 64

/* ---- a holding server on its own thread ---------------------------------- */

struct holder {
	const char *ip;
	int hold_ms;
	int lfd;
	int port;
	pid_t pid;
	int quit;
	int ready;                    /* the server's loop has begun */
	int open;                     /* connections held now */
	int max_open;                 /* most held at once */
	int accepted;
	uint64_t accept_ns[HOLD_MAX];
};

#define LD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

static void holder_main(struct holder *h)
{
	int fds[HOLD_MAX];
	uint64_t until[HOLD_MAX];
	int n = 0;

	ST(h->ready, 1);
	while (!LD(h->quit)) {
		struct pollfd p = {.fd = h->lfd, .events = POLLIN};
		uint64_t now = t_now_ns();
		for (int i = n - 1; i >= 0; i--) {
			if (until[i] > now)
				continue;
			ssize_t w = write(fds[i], "hi\n", 3);
			(void)w;
			close(fds[i]);
			n--;
			fds[i] = fds[n];
			until[i] = until[n];
			ST(h->open, h->open - 1);
		}
		if (poll(&p, 1, 5) <= 0)
			continue;
		int fd = accept(h->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (n == HOLD_MAX) {
			close(fd);
			continue;
		}
		fds[n] = fd;
		until[n++] = t_now_ns() + (uint64_t)h->hold_ms * MS;
		if (h->accepted < HOLD_MAX)
			h->accept_ns[h->accepted] = t_now_ns();
		ST(h->open, h->open + 1);
		if (h->open > h->max_open)
			ST(h->max_open, h->open);
		ST(h->accepted, h->accepted + 1);
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static struct holder *holder_start(struct t_scen *sc, const char *ip,
				   int hold_ms)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int one = 1;
	struct holder *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (h == MAP_FAILED) {
		CHECK(sc, 0, "mmap: %s", strerror(errno));
		return NULL;
	}
	memset(h, 0, sizeof(*h));
	h->ip = ip;
	h->hold_ms = hold_ms;
	inet_pton(AF_INET, ip, &a.sin_addr);
	h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (h->lfd < 0 || bind(h->lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(h->lfd, 128) ||
	    getsockname(h->lfd, (struct sockaddr *)&a, &len)) {
		CHECK(sc, 0, "listener on %s: %s", ip, strerror(errno));
		if (h->lfd >= 0)
			close(h->lfd);
		munmap(h, sizeof(*h));
		return NULL;
	}
	h->port = ntohs(a.sin_port);
	h->pid = fork();
	if (h->pid == 0) {
		alarm(120); /* never outlive the test by much */
		holder_main(h);
		_exit(0);
	}
	if (h->pid < 0) {
		close(h->lfd);
		munmap(h, sizeof(*h));
		CHECK(sc, 0, "cannot start the server process");
		return NULL;
	}
	for (int k = 0; k < 500 && !LD(h->ready); k++)
		t_sleep_ms(10);
	return h;
}

static void holder_stop(struct holder *h)
{
	if (!h)
		return;
	ST(h->quit, 1);
	if (waitpid(h->pid, NULL, 0) < 0)
		kill(h->pid, SIGKILL);
	close(h->lfd);
	munmap(h, sizeof(*h));
}

static int holder_accepted(struct holder *h)
{
	return LD(h->accepted);
}

static void target_at(struct rp_target *t, const char *ip, int port,
		      uint64_t index)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&t->addr;

	memset(t, 0, sizeof(*t));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &a->sin_addr);
	t->addrlen = sizeof(*a);
	t->input = ip;
	t->index = index;
}

static void submit_n(struct t_scen *sc, struct rp_engine *e, const char *ip,
		     int port, uint64_t first, unsigned n)
{
	struct rp_target t;

	for (unsigned i = 0; i < n; i++) {
		target_at(&t, ip, port, first + i);
		int rc = rp_engine_submit(e, &t);
		CHECK(sc, rc == 0, "submit %s #%llu: %s", ip,
		      (unsigned long long)(first + i), rp_strerror(rc));
	}
}

/* Samples rp_stats.host_waiting from the result callback. */
static struct rp_engine *g_e;
static uint32_t g_max_waiting;

static void sample_waiting(struct t_rec *r, const struct rp_result *res)
{
	struct rp_stats st;

	(void)r;
	(void)res;
	rp_engine_stats(g_e, &st);
	if (st.host_waiting > g_max_waiting)
		g_max_waiting = st.host_waiting;
}

static uint64_t first_arrival(const struct t_rec *r, uint64_t lo, uint64_t hi,
			      unsigned nth)
{
	/* The nth (1-based) earliest arrival among indexes lo..hi-1. */
	uint64_t best = UINT64_MAX, prev = 0;

	for (unsigned k = 0; k < nth; k++) {
		best = UINT64_MAX;
		for (uint64_t i = lo; i < hi; i++)
			if (r->t_ns[i] > prev && r->t_ns[i] < best)
				best = r->t_ns[i];
		prev = best;
	}
	return best;
}

/*
 * The last result among indexes lo..hi-1 came from a probe that could not
 * start before waited_ms had passed since t0 (the servers hold each
 * connection): its elapsed_us, which starts when it leaves the wait, must
 * leave those out. A lower bound on the wait only, so load cannot fail it.
 */
static void check_wait_not_counted(struct t_scen *sc, const struct t_rec *r,
				   uint64_t lo, uint64_t hi, uint64_t t0,
				   unsigned waited_ms)
{
	uint64_t last = lo;

	for (uint64_t i = lo; i < hi; i++)
		if (r->t_ns[i] > r->t_ns[last])
			last = i;
	CHECK(sc, r->elapsed_us[last] * 1000 + waited_ms * MS * 9 / 10 <=
			  r->t_ns[last] - t0,
	      "index %llu: elapsed %llu us, %.0f ms after the start: its "
	      "wait of %u ms at least was counted",
	      (unsigned long long)last,
	      (unsigned long long)r->elapsed_us[last],
	      (double)(r->t_ns[last] - t0) / 1e6, waited_ms);
}

/* ---- cap ----------------------------------------------------------------- */

#define CAP_A 12
#define CAP_B 12
#define CAP_HOLD 150

static void cap_body(struct t_scen *sc)
{
	struct holder *a, *b;

	if (!(a = holder_start(sc, "127.0.0.1", CAP_HOLD)))
		return;
	if (!(b = holder_start(sc, "127.0.0.2", 0)))
		goto out_a;
	struct t_rec *r = t_rec_new(sc, CAP_A + CAP_B, 0);
	struct rp_engine_opts o = {
		.concurrency = 64,
		.kind = RP_PROBE_BANNER,
		.banner_wait_ns = 3000 * MS,
		.timeout_ns = 4000 * MS,
		.max_per_host = 2,
	};
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out_rec;
	g_e = e;
	g_max_waiting = 0;
	r->hook = sample_waiting;
	uint64_t t0 = t_now_ns();
	/* Host A's probes first: they must not hold back host B's. */
	submit_n(sc, e, "127.0.0.1", a->port, 0, CAP_A);
	submit_n(sc, e, "127.0.0.2", b->port, CAP_A, CAP_B);
	struct t_idx_pred all = {r, CAP_A + CAP_B};
	t_run_until(e, t_got_all, &all, 20000);
	double ms = t_ms_since(t0);

	t_check_each_index_once(sc, r, CAP_A + CAP_B);
	for (uint64_t i = 0; i < CAP_A + CAP_B; i++)
		CHECK(sc, r->st[i] == RP_STATUS_OPEN, "index %llu: %s",
		      (unsigned long long)i, t_sname(r->st[i]));
	for (int k = 0; k < 200 && holder_accepted(a) < CAP_A; k++)
		t_sleep_ms(10);
	CHECK(sc, a->max_open <= 2,
	      "server A had %d connections open at once (max_per_host 2)",
	      a->max_open);
	CHECK(sc, a->accepted == CAP_A, "server A accepted %d of %d",
	      a->accepted, CAP_A);
	/* 12 held 150 ms, two at a time: at least 6 rounds. */
	CHECK(sc, ms >= (CAP_A / 2) * CAP_HOLD * 0.9,
	      "host A's %d probes took only %.0f ms at 2 at a time", CAP_A, ms);
	/* B's probes all came back before A's third pair (A's probes are
	 * under way 150 ms at least each, so its 5th result is 300 ms in). */
	uint64_t b_last = 0;
	for (uint64_t i = CAP_A; i < CAP_A + CAP_B; i++)
		if (r->t_ns[i] > b_last)
			b_last = r->t_ns[i];
	uint64_t a_5th = first_arrival(r, 0, CAP_A, 5);
	CHECK(sc, b_last < a_5th,
	      "host B's last result came %.0f ms after host A's 5th: held "
	      "back behind A", (double)(b_last - a_5th) / 1e6);
	/* Waiting is not part of a probe's clocks: A's last probe could not
	 * start before 5 rounds of 150 ms had passed, and its elapsed_us
	 * must not count them. */
	check_wait_not_counted(sc, r, 0, CAP_A, t0, 5 * CAP_HOLD);
	CHECK(sc, g_max_waiting >= 1, "rp_stats.host_waiting never above 0");
	struct rp_stats st;
	rp_engine_stats(e, &st);
	CHECK(sc, st.host_waiting == 0, "host_waiting %u after the run",
	      st.host_waiting);
	rp_engine_destroy(e);
out_rec:
	t_rec_free(r);
	holder_stop(b);
out_a:
	holder_stop(a);
}

static void test_cap(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "cap", .fn = cap_body, .expect_direct = -1};
	t_run_scenario(&sc);
}

/* ---- waiting longer than the timeout --------------------------------------- */

static void wait_past_timeout_body(struct t_scen *sc)
{
	struct holder *a;
	const unsigned n = 6;

	if (!(a = holder_start(sc, "127.0.0.1", 150)))
		return;
	struct t_rec *r = t_rec_new(sc, n, 0);
	struct rp_engine_opts o = {
		.concurrency = 16,
		.kind = RP_PROBE_BANNER,
		.banner_wait_ns = 450 * MS,
		.timeout_ns = 500 * MS,
		.max_per_host = 1,
	};
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out;
	uint64_t t0 = t_now_ns();
	submit_n(sc, e, "127.0.0.1", a->port, 0, n);
	struct t_idx_pred all = {r, n};
	t_run_until(e, t_got_all, &all, 20000);
	double ms = t_ms_since(t0);
	t_check_each_index_once(sc, r, n);
	/* The last waits 5 x 150 ms, past the 500 ms timeout: still OPEN. */
	CHECK(sc, ms >= 5 * 150 * 0.9, "6 probes one at a time in %.0f ms",
	      ms);
	for (uint64_t i = 0; i < n; i++)
		CHECK(sc, r->st[i] == RP_STATUS_OPEN,
		      "index %llu: %s after waiting for its host",
		      (unsigned long long)i, t_sname(r->st[i]));
	check_wait_not_counted(sc, r, 0, n, t0, 5 * 150);
	CHECK(sc, a->max_open <= 1, "server had %d open at once", a->max_open);
	rp_engine_destroy(e);
out:
	t_rec_free(r);
	holder_stop(a);
}

static void test_wait_past_timeout(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "wait_past_timeout",
			    .fn = wait_past_timeout_body,
			    .expect_direct = -1};
	t_run_scenario(&sc);
}

/* ---- host delay ---------------------------------------------------------- */

#define DELAY_MS 100
#define DELAY_N 6
#define OTHERS 6

static void delay_body(struct t_scen *sc)
{
	struct holder *a;
	char ips[OTHERS][16];

	if (!(a = holder_start(sc, "127.0.0.1", 0)))
		return;
	struct t_rec *r = t_rec_new(sc, DELAY_N + OTHERS, 0);
	struct rp_engine_opts o = {
		.concurrency = 64,
		.host_delay_ns = DELAY_MS * MS,
	};
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out;
	uint64_t t0 = t_now_ns();
	submit_n(sc, e, "127.0.0.1", a->port, 0, DELAY_N);
	/* One probe each to other addresses (the port is closed there: the
	 * listener is bound to 127.0.0.1 only). */
	for (unsigned i = 0; i < OTHERS; i++) {
		snprintf(ips[i], sizeof(ips[i]), "127.0.0.%u", 3 + i);
		submit_n(sc, e, ips[i], a->port, DELAY_N + i, 1);
	}
	struct t_idx_pred all = {r, DELAY_N + OTHERS};
	t_run_until(e, t_got_all, &all, 20000);
	t_check_each_index_once(sc, r, DELAY_N + OTHERS);
	/* A connect completes before the server's accept() returns. */
	for (int k = 0; k < 200 && holder_accepted(a) < DELAY_N; k++)
		t_sleep_ms(10);
	int acc = a->accepted;
	uint64_t span = acc == DELAY_N
				? a->accept_ns[DELAY_N - 1] - a->accept_ns[0]
				: 0;
	CHECK(sc, acc == DELAY_N, "server accepted %d of %d", acc, DELAY_N);
	/* A lower bound over the span, and a loose one: a server slowed down
	 * (a busy machine, valgrind) may accept the first connection late
	 * and so shorten it. Without spacing, all six arrive within a few ms
	 * and the server accepts them back to back. */
	CHECK(sc, span >= (DELAY_N - 1) * DELAY_MS / 2 * MS,
	      "%d probes to one address with %d ms between starts: accepts "
	      "span only %.0f ms", DELAY_N, DELAY_MS, (double)span / 1e6);
	for (unsigned i = 0; i < OTHERS; i++) {
		uint64_t k = DELAY_N + i;

		CHECK(sc, r->st[k] == RP_STATUS_CLOSED, "%s: %s", ips[i],
		      t_sname(r->st[k]));
		CHECK(sc, r->t_ns[k] - t0 < (DELAY_N - 2) * DELAY_MS * MS,
		      "%s waited %.0f ms behind another address", ips[i],
		      (double)(r->t_ns[k] - t0) / 1e6);
	}
	rp_engine_destroy(e);
out:
	t_rec_free(r);
	holder_stop(a);
}

static void test_delay(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "delay", .fn = delay_body,
			    .expect_direct = -1};
	t_run_scenario(&sc);
}

/* ---- cancel, stop and destroy with waiting probes -------------------------- */

static void check_waiters_cancelled(struct t_scen *sc, const struct t_rec *r,
				    unsigned n, const char *what)
{
	t_check_each_index_once(sc, r, n);
	/* One connection at a time: the last probes never left the wait. */
	CHECK(sc, r->st[n - 1] == RP_STATUS_CANCELLED, "%s: last waiter %s",
	      what, t_sname(r->st[n - 1]));
}

static void cancel_stop_body(struct t_scen *sc)
{
	struct holder *a;
	const unsigned n = 8;

	if (!(a = holder_start(sc, "127.0.0.1", 1000)))
		return;
	struct rp_engine_opts o = {
		.concurrency = 16,
		.kind = RP_PROBE_BANNER,
		.banner_wait_ns = 3000 * MS,
		.max_per_host = 1,
	};
	/* Cancel one waiter, then stop. */
	struct t_rec *r = t_rec_new(sc, n, 0);
	struct rp_engine *e = t_engine_new(sc, r, o);
	if (!e)
		goto out_rec;
	submit_n(sc, e, "127.0.0.1", a->port, 0, n);
	t_run_until(e, NULL, NULL, 50);
	int rc = rp_engine_cancel(e, 4);
	CHECK(sc, rc == 0, "cancel of a waiting probe: %s", rp_strerror(rc));
	struct t_idx_pred p4 = {r, 4};
	uint64_t t0 = t_now_ns();
	t_run_until(e, t_got_index, &p4, 900);
	CHECK(sc, r->cnt[4] == 1 && r->st[4] == RP_STATUS_CANCELLED,
	      "cancelled waiter: %u results, %s", r->cnt[4],
	      t_sname(r->st[4]));
	CHECK(sc, t_ms_since(t0) < 800, "the cancel took %.0f ms",
	      t_ms_since(t0));
	CHECK(sc, r->n == 1, "%llu results after the cancel",
	      (unsigned long long)r->n);
	rp_engine_stop(e);
	int ret = t_run_until(e, NULL, NULL, 5000);
	CHECK(sc, ret == 0, "run after stop: %d", ret);
	check_waiters_cancelled(sc, r, n, "stop");
	rp_engine_destroy(e);
	t_rec_free(r);

	/* Destroy with probes waiting. */
	r = t_rec_new(sc, n, 0);
	e = t_engine_new(sc, r, o);
	if (!e)
		goto out_rec;
	submit_n(sc, e, "127.0.0.1", a->port, 0, n);
	t_run_until(e, NULL, NULL, 50);
	rp_engine_destroy(e);
	check_waiters_cancelled(sc, r, n, "destroy");
out_rec:
	t_rec_free(r);
	holder_stop(a);
}

static void test_cancel_stop(void **state)
{
	(void)state;
	struct t_scen sc = {.name = "cancel_stop", .fn = cancel_stop_body,
			    .expect_direct = -1};
	t_run_scenario(&sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_wait_past_timeout),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_cancel_stop),
	};

	return cmocka_run_group_tests(tests, t_scen_group_setup, NULL);
}
