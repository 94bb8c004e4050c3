/*
 * test_embed_contract.c - the embedder's contract of ringprobe.h, checked
 * as written, by a program that read the header and nothing else.
 *
 * The loop is the one above rp_engine_fd() (tests/helpers/t_loop.c):
 * submit until -EAGAIN, wait on the fd (epoll, or poll) at most
 * rp_engine_timeout() ms, one rp_engine_run(e, 0) per wakeup, never read
 * the fd. Each scenario runs in a fresh private network namespace (when
 * root; else on the host's loopback, without the filtered targets) with
 * its own listener, HTTP server and DNS responder.
 *
 *  matrix     TCP probes, HTTP probes and name targets; 10, 64, 1000 and
 *             10000 of them; concurrency 256, and at or above the count;
 *             rate limit off and on; a few with poll() or edge-triggered
 *             epoll. Every index gets exactly one result with the status
 *             its port gives (open: our listener, closed: a closed port,
 *             filtered: a port nft drops, ok + 200: our HTTP server), the
 *             loop never waits out its own safety cap, the last run
 *             returns 0 and destroy has nothing left to report.
 *  stop       rp_engine_stop() from a SIGALRM handler while 1000 probes
 *             to dropped ports are in flight ends the same loop within
 *             1 s, every result CANCELLED.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ringprobe.h"
#include "t_dns.h"
#include "t_loop.h"
#include "t_net.h"

#define BOUND_MS 30000    /* a scenario that takes longer fails */
#define CAP_MS 3000       /* our cap on one wait; never reached */
#define CLOSED_LO 10000   /* closed ports 10000..19999 */
#define DROP_LO 21000     /* dropped ports 21000..21999 (with a netns) */
#define DROP_N 1000
#define NAMES 1000        /* distinct names of a name scenario, at most */

/* ---- a tiny HTTP server ------------------------------------------------- */

/*
 * One thread, epoll, non-blocking sockets: reads a request up to its empty
 * line, answers 200 "ok" and closes. A connection closed before a request
 * (a TCP probe) is just closed.
 */
#define SRV_FDS 65536

static const char srv_reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				"Connection: close\r\n\r\nok";

struct srv {
	int lfd;
	int ep;
	int port;
	pthread_t th;
	atomic_int stop;
	atomic_uint served;
	uint32_t tail[SRV_FDS];       /* last 4 bytes read, per fd */
	uint8_t open[SRV_FDS];
};

static void srv_close(struct srv *s, int fd)
{
	s->open[fd] = 0;
	close(fd);
}

static void srv_accept(struct srv *s)
{
	for (int k = 0; k < 4096; k++) {
		struct epoll_event ev = { .events = EPOLLIN };
		int c = accept4(s->lfd, NULL, NULL,
				SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (c < 0)
			return;
		if (c >= SRV_FDS) {
			close(c);
			continue;
		}
		s->tail[c] = 0;
		s->open[c] = 1;
		ev.data.fd = c;
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, c, &ev) < 0)
			srv_close(s, c);
	}
}

static void srv_read(struct srv *s, int fd)
{
	char buf[2048];

	for (int k = 0; k < 64; k++) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			srv_close(s, fd);
			return;
		}
		if (n < 0)
			return;
		for (ssize_t i = 0; i < n; i++) {
			s->tail[fd] = s->tail[fd] << 8 | (uint8_t)buf[i];
			if (s->tail[fd] != 0x0d0a0d0a)
				continue;
			ssize_t w = send(fd, srv_reply, sizeof(srv_reply) - 1,
					 MSG_NOSIGNAL);
			(void)w;
			atomic_fetch_add(&s->served, 1);
			srv_close(s, fd);
			return;
		}
	}
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	struct epoll_event ev[128];
	uint64_t end = t_now_ms() + 300000; /* a forgotten server ends */

	while (!atomic_load(&s->stop) && t_now_ms() < end) {
		int n = epoll_wait(s->ep, ev, 128, 50);

		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == s->lfd)
				srv_accept(s);
			else
				srv_read(s, ev[i].data.fd);
		}
	}
	return NULL;
}

/* Starts it on 127.0.0.1 in the calling thread's namespace. */
static struct srv *srv_start(void)
{
	struct srv *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!s)
		return NULL;
	s->lfd = t_listen(AF_INET, &s->port);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->lfd < 0 || s->ep < 0 ||
	    fcntl(s->lfd, F_SETFL, fcntl(s->lfd, F_GETFL) | O_NONBLOCK) < 0)
		goto fail;
	ev.data.fd = s->lfd;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev) < 0 ||
	    pthread_create(&s->th, NULL, srv_main, s))
		goto fail;
	return s;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->ep >= 0)
		close(s->ep);
	free(s);
	return NULL;
}

static void srv_stop(struct srv *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	for (int fd = 0; fd < SRV_FDS; fd++)
		if (s->open[fd])
			close(fd);
	close(s->lfd);
	close(s->ep);
	free(s);
}

/* ---- scenarios ---------------------------------------------------------- */

enum kind { K_TCP, K_HTTP, K_NAME };

static const char *const kind_name[] = { "tcp", "http", "names" };

struct scen {
	enum kind kind;
	unsigned count;
	unsigned conc;
	unsigned rate;                /* 0: off */
	enum t_wait how;
	char name[64];                /* the cmocka test name */
};

struct ctx {
	const struct scen *sc;
	int netns;                    /* in a private namespace: nft works */
	int lport;                    /* our listener (open) */
	int hport;                    /* our HTTP server */
	uint8_t listening[8192];      /* ports not to use as closed ones */
	char name[32];                /* scratch: the name of one target */
	/* results */
	unsigned results;
	unsigned out_of_range;
	uint8_t *seen;                /* results per index */
	uint8_t *status;              /* last status per index */
	uint16_t *code;               /* HTTP status code per index */
};

static int closed_port(const struct ctx *c, unsigned i)
{
	unsigned p = CLOSED_LO + i % 10000;

	while (t_bit(c->listening, p))
		p++;
	return (int)p;
}

/* The port of target i and the status it must end with. */
static int target_port(const struct ctx *c, unsigned i, enum rp_status *want)
{
	int http = c->sc->kind == K_HTTP;

	if (!http && i % 50 == 7) {
		*want = RP_STATUS_OPEN;
		return c->lport;
	}
	if (c->netns && i % 97 == 3) {
		*want = RP_STATUS_FILTERED;
		return DROP_LO + (int)(i % DROP_N);
	}
	if (!http || i % 50 == 11) {
		*want = RP_STATUS_CLOSED;
		return closed_port(c, i);
	}
	*want = RP_STATUS_OK;
	return c->hport;
}

static void make_target(void *arg, unsigned i, struct rp_target *t)
{
	struct ctx *c = arg;
	struct sockaddr_in *a = (struct sockaddr_in *)&t->addr;
	enum rp_status want;
	int port = target_port(c, i, &want);

	t->index = i;
	if (c->sc->kind == K_NAME) {
		snprintf(c->name, sizeof(c->name), "n%u.test", i % NAMES);
		t->name = c->name;
		t->port = (uint16_t)port;
		return;
	}
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons((uint16_t)port);
	t->addrlen = sizeof(*a);
}

static void on_result(const struct rp_result *r, void *arg)
{
	struct ctx *c = arg;

	c->results++;
	if (r->index >= c->sc->count) {
		c->out_of_range++;
		return;
	}
	if (c->seen[r->index] < 255)
		c->seen[r->index]++;
	c->status[r->index] = (uint8_t)r->status;
	c->code[r->index] = r->http ? (uint16_t)r->http->status_code : 0;
}

/* Counts the indexes without exactly one result of the right status, and
 * prints the first few. */
static unsigned check_results(const struct ctx *c)
{
	unsigned wrong = 0;

	for (unsigned i = 0; i < c->sc->count; i++) {
		enum rp_status want;

		target_port(c, i, &want);
		if (c->seen[i] == 1 && c->status[i] == want &&
		    (want != RP_STATUS_OK || c->code[i] == 200))
			continue;
		if (wrong++ < 5)
			fprintf(stderr, "  index %u: %u results, %s (code %u), "
				"want %s\n", i, c->seen[i],
				rp_status_name((enum rp_status)c->status[i]),
				c->code[i], rp_status_name(want));
	}
	return wrong;
}

static void print_stats(const char *what, const struct t_loop_stats *st,
			unsigned results, int rc)
{
	fprintf(stderr, "  %s: rc %d, %u results, %u submitted, %u EAGAIN, "
		"%u runs (fd %u, timer %u [0 ms: %u], cap %u, EINTR %u), "
		"last run %d, %llu ms\n", what, rc, results, st->submitted,
		st->again, st->runs, st->fd_wakes, st->timer_wakes,
		st->zero_waits, st->cap_wakes, st->eintr, st->last_run,
		(unsigned long long)st->ms);
}

/* Enters a fresh private namespace with the drop rule; 0 when not root. */
static int private_net(void)
{
	int ret = t_netns_enter();

	if (ret == T_SKIP)
		return 0;
	assert_int_equal(ret, 0);
	assert_int_equal(t_nft_drop_tcp_ports(DROP_LO, DROP_LO + DROP_N - 1),
			 0);
	return 1;
}

static void test_scenario(void **state)
{
	const struct scen *sc = *state;
	struct ctx c;
	struct srv *srv = NULL;
	struct t_dns_responder *dns = NULL;
	struct rp_engine *e;
	struct rp_engine_opts o;
	struct t_loop_stats st;
	struct rp_stats rs;
	char servers[64];
	int lfd, rc;

	memset(&c, 0, sizeof(c));
	c.sc = sc;
	c.netns = private_net();
	c.seen = calloc(sc->count, 1);
	c.status = calloc(sc->count, 1);
	c.code = calloc(sc->count, sizeof(*c.code));
	assert_non_null(c.seen);
	assert_non_null(c.status);
	assert_non_null(c.code);
	lfd = t_listen(AF_INET, &c.lport);
	assert_true(lfd >= 0);

	memset(&o, 0, sizeof(o));
	o.concurrency = sc->conc;
	o.rate = sc->rate;
	o.connect_timeout_ns = 300000000ull; /* filtered: 300 ms */
	o.on_result = on_result;
	o.arg = &c;
	if (sc->kind == K_HTTP) {
		o.kind = RP_PROBE_HTTP;
		srv = srv_start();
		assert_non_null(srv);
		c.hport = srv->port;
	}
	if (sc->kind == K_NAME) {
		dns = t_dns_responder_start(0);
		assert_non_null(dns);
		snprintf(servers, sizeof(servers), "127.0.0.1:%d",
			 t_dns_responder_port(dns));
		o.dns.servers = servers;
		o.dns.no_hosts = 1;
	}
	assert_true(t_listening_ports("127.0.0.1", c.listening) >= 1);

	assert_int_equal(rp_engine_create(&e, &o), 0);
	rc = t_loop_run(e, sc->count, make_target, &c, sc->how, CAP_MS,
			BOUND_MS, &st);
	unsigned before = c.results;
	rp_engine_stats(e, &rs);
	rp_engine_destroy(e);
	unsigned late = c.results - before; /* reported by destroy */

	srv_stop(srv);
	t_dns_responder_stop(dns);
	close(lfd);
	unsigned wrong = check_results(&c);
	print_stats(sc->name, &st, c.results, rc);
	free(c.seen);
	free(c.status);
	free(c.code);

	assert_int_equal(rc, 0);
	assert_int_equal(st.cap_wakes, 0);
	assert_int_equal(st.last_run, 0);
	assert_int_equal(st.submitted, sc->count);
	assert_int_equal(before, sc->count);
	assert_int_equal(late, 0);
	assert_int_equal(c.out_of_range, 0);
	assert_int_equal(wrong, 0);
	assert_int_equal(rs.submitted, sc->count);
	assert_int_equal(rs.completed, sc->count);
}

/* ---- stop from a signal handler ----------------------------------------- */

#define STOP_N 1000
#define STOP_AFTER_MS 300

static struct rp_engine *volatile g_stop_engine;
static volatile sig_atomic_t g_stop_fired;
static struct timespec g_stop_ts;

static void on_alarm(int sig)
{
	(void)sig;
	clock_gettime(CLOCK_MONOTONIC, &g_stop_ts);
	rp_engine_stop(g_stop_engine);
	g_stop_fired = 1;
}

static void make_dropped(void *arg, unsigned i, struct rp_target *t)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&t->addr;

	(void)arg;
	t->index = i;
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons((uint16_t)(DROP_LO + i));
	t->addrlen = sizeof(*a);
}

static void test_stop_from_signal(void **state)
{
	static const struct scen sc = { .count = STOP_N };
	struct ctx c;
	struct rp_engine *e;
	struct rp_engine_opts o;
	struct t_loop_stats st;
	struct sigaction sa, old;
	struct itimerval it = { .it_value = { 0, STOP_AFTER_MS * 1000 } };
	struct itimerval off = { 0 };

	(void)state;
	memset(&c, 0, sizeof(c));
	c.sc = &sc;
	if (!private_net())
		skip(); /* needs nft in a namespace of its own */
	c.seen = calloc(STOP_N, 1);
	c.status = calloc(STOP_N, 1);
	c.code = calloc(STOP_N, sizeof(*c.code));
	assert_non_null(c.seen);
	assert_non_null(c.status);
	assert_non_null(c.code);

	memset(&o, 0, sizeof(o));
	o.concurrency = 1024;
	o.connect_timeout_ns = 20000000000ull; /* nothing ends by itself */
	o.timeout_ns = 30000000000ull;
	o.on_result = on_result;
	o.arg = &c;
	assert_int_equal(rp_engine_create(&e, &o), 0);

	g_stop_engine = e;
	g_stop_fired = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);

	int rc = t_loop_run(e, STOP_N, make_dropped, &c, T_WAIT_EPOLL_LT,
			    CAP_MS, 10000, &st);
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);

	unsigned before = c.results;
	rp_engine_destroy(e);
	unsigned late = c.results - before;
	g_stop_engine = NULL;

	int64_t after_ms = (end.tv_sec - g_stop_ts.tv_sec) * 1000 +
			   (end.tv_nsec - g_stop_ts.tv_nsec) / 1000000;
	unsigned cancelled = 0, once = 0;
	for (unsigned i = 0; i < STOP_N; i++) {
		once += c.seen[i] == 1;
		cancelled += c.seen[i] == 1 &&
			     c.status[i] == RP_STATUS_CANCELLED;
	}
	print_stats("stop", &st, c.results, rc);
	fprintf(stderr, "  stop: signal %s, loop ended %lld ms after it, "
		"%u cancelled\n", g_stop_fired ? "fired" : "did not fire",
		(long long)after_ms, cancelled);
	free(c.seen);
	free(c.status);
	free(c.code);

	assert_int_equal(rc, 0);
	assert_true(g_stop_fired);
	assert_true(after_ms >= 0 && after_ms < 1000);
	assert_int_equal(st.cap_wakes, 0);
	assert_int_equal(st.submitted, STOP_N);
	assert_int_equal(before, STOP_N);
	assert_int_equal(late, 0);
	assert_int_equal(once, STOP_N);
	assert_int_equal(cancelled, STOP_N);
}

/* ---- main ---------------------------------------------------------------- */

#define MAX_SCEN 64

static struct scen g_scen[MAX_SCEN];
static unsigned g_nscen;

static void add(enum kind k, unsigned count, unsigned conc, unsigned rate,
		enum t_wait how)
{
	static const char *const how_name[] = { "", " et", " poll" };
	struct scen *s = &g_scen[g_nscen++];

	s->kind = k;
	s->count = count;
	s->conc = conc;
	s->rate = rate;
	s->how = how;
	snprintf(s->name, sizeof(s->name), "%s %u c%u %s%s", kind_name[k],
		 count, conc, rate ? "rate" : "norate", how_name[how]);
}

/* The rate for count targets: about half a second at most. */
static unsigned rate_for(unsigned count)
{
	return count <= 10 ? 100 : count <= 64 ? 1000 : count <= 1000 ? 5000
							      : 20000;
}

int main(void)
{
	static const unsigned counts[] = { 10, 64, 1000, 10000 };
	struct CMUnitTest tests[MAX_SCEN + 1];
	struct rlimit rl;
	unsigned n = 0;

	/* Concurrency 1024 plus our own server's connections. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (enum kind k = K_TCP; k <= K_NAME; k++) {
		for (unsigned i = 0; i < 4; i++) {
			add(k, counts[i], 256, 0, T_WAIT_EPOLL_LT);
			add(k, counts[i], 256, rate_for(counts[i]),
			    T_WAIT_EPOLL_LT);
		}
		/* Every target fits at once: the first bug was 0 of 64. */
		add(k, 64, 64, 0, T_WAIT_EPOLL_LT);
		add(k, 64, 64, rate_for(64), T_WAIT_EPOLL_LT);
		add(k, 1000, 1024, 0, T_WAIT_EPOLL_LT);
		/* The other ways of waiting the header allows. */
		add(k, 1000, 256, rate_for(1000), T_WAIT_POLL);
		add(k, 1000, 256, 0, T_WAIT_EPOLL_ET);
	}

	for (unsigned i = 0; i < g_nscen; i++)
		tests[n++] = (struct CMUnitTest){ .name = g_scen[i].name,
						  .test_func = test_scenario,
						  .initial_state = &g_scen[i] };
	tests[n++] = (struct CMUnitTest){ .name = "stop_from_signal",
					  .test_func = test_stop_from_signal };
	return _cmocka_run_group_tests("test_embed_contract", tests, n, NULL,
				       NULL);
}
