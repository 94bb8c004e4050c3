/*
 * test_banner.c - RP_PROBE_BANNER, written from the contract in
 * ringprobe.h: a banner probe that connected is OPEN whatever the server
 * sends, and rp_result.banner is the first line the server sent (at most
 * 255 bytes, line ending dropped, bytes other than printable ASCII as '?',
 * "" if it sent none within banner_wait_ns); other outcomes and other
 * probe kinds have banner NULL.
 *
 * A server in a child process (not a thread: valgrind does not let another
 * thread run while this one waits in io_uring_enter) listens on fixed
 * loopback ports, one behaviour each:
 *
 *   6101  "SSH-2.0-Test_1.0\r\n" at once      -> "SSH-2.0-Test_1.0"
 *   6102  nothing, the connection kept open   -> "" after the wait
 *   6103  "220 hello", 100 ms, "\x1b[2J world\n" -> "220 hello?[2J world"
 *   6104  400 bytes 'A', no newline           -> 255 'A's
 *   6105  "x\0y\n"                            -> "x?y"
 *   6106  accept and close at once            -> ""
 *   6107  "line1\nline2\n"                    -> "line1"
 *   6110  no listener                         -> CLOSED, banner NULL
 *
 * The group runs in a private network namespace when it can (the ports
 * are then surely free); else on the host's loopback, skipping when one of
 * the ports is taken. The child serves until the group's teardown stops it
 * by its PID, for 60 s at most, and dies with this process.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ringprobe.h"
#include "t_net.h"

#define PORT_BASE 6101
#define NKINDS 7                 /* ports PORT_BASE .. PORT_BASE + 6 */
#define PORT_CLOSED 6110
#define CONNS_MAX 64
#define SERVE_MAX_S 60
#define WAIT_NS (300 * 1000000ull) /* banner_wait_ns of the tests */

enum kind {
	K_SSH = 1,                     /* sends its banner at once */
	K_QUIET,                       /* sends nothing, keeps the connection */
	K_SPLIT,                       /* two writes 100 ms apart */
	K_LONG,                        /* 400 'A's, no newline */
	K_NUL,                         /* "x\0y\n" */
	K_CLOSE,                       /* accepts and closes */
	K_TWO,                         /* two lines */
};

static int kind_port(enum kind k)
{
	return PORT_BASE + (int)k - 1;
}

/* ---- the server ---------------------------------------------------------- */

/* Connections accepted per kind, in memory shared with the child. */
struct record {
	unsigned accepted[NKINDS + 1];
};

struct conn {
	int fd;                        /* -1: unused */
	enum kind kind;
	double due;                    /* K_SPLIT: when to send the rest, or 0 */
};

static struct {
	pid_t pid;                     /* the child, 0 when none */
	struct record *rec;
	bool skip;                     /* the group cannot run here */
} sv;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static void send_all(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		fprintf(stderr, "  server: short write\n");
}

/* What a new connection of kind k gets at once; false: close it. */
static bool greet(struct conn *c)
{
	static const char nul[] = { 'x', '\0', 'y', '\n' };
	char as[400];

	switch (c->kind) {
	case K_SSH:
		send_all(c->fd, "SSH-2.0-Test_1.0\r\n", 18);
		break;
	case K_SPLIT:
		send_all(c->fd, "220 hello", 9);
		c->due = now_s() + 0.1;
		break;
	case K_LONG:
		memset(as, 'A', sizeof(as));
		send_all(c->fd, as, sizeof(as));
		break;
	case K_NUL:
		send_all(c->fd, nul, sizeof(nul));
		break;
	case K_CLOSE:
		return false;
	case K_TWO:
		send_all(c->fd, "line1\nline2\n", 12);
		break;
	case K_QUIET:
		break;
	}
	return true;
}

/*
 * The child: one poll loop over the listeners and the connections, until
 * the parent's SIGTERM, or SERVE_MAX_S at most when the parent is gone
 * without sending it. A connection stays open until the peer closes it (the
 * engine's close is a reset). Leaves by _exit(), never through the parent's
 * cmocka or atexit state.
 */
static void serve(const int *lfd, int ready, const sigset_t *mask,
		  pid_t parent)
{
	struct sigaction sa = { .sa_handler = on_term };
	struct conn conns[CONNS_MAX];
	double end = now_s() + SERVE_MAX_S;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigprocmask(SIG_SETMASK, mask, NULL);
	for (unsigned i = 0; i < CONNS_MAX; i++)
		conns[i].fd = -1;
	if (write(ready, "r", 1) != 1)
		_exit(3);
	close(ready);
	while (getppid() == parent && now_s() < end) {
		struct pollfd p[NKINDS + CONNS_MAX];
		int map[NKINDS + CONNS_MAX];
		double next = now_s() + 0.1;
		int n = 0, ms;

		for (int k = 0; k < NKINDS; k++) {
			p[n] = (struct pollfd){ .fd = lfd[k], .events = POLLIN };
			map[n++] = -1;
		}
		for (int i = 0; i < CONNS_MAX; i++) {
			if (conns[i].fd < 0)
				continue;
			p[n] = (struct pollfd){ .fd = conns[i].fd,
						.events = POLLIN };
			map[n++] = i;
			if (conns[i].due > 0 && conns[i].due < next)
				next = conns[i].due;
		}
		ms = (int)((next - now_s()) * 1000) + 1;
		if (poll(p, (nfds_t)n, ms < 0 ? 0 : ms) < 0)
			continue;
		for (int j = 0; j < n; j++) {
			struct conn *c;
			char scratch[256];

			if (!p[j].revents)
				continue;
			if (map[j] >= 0) {
				c = &conns[map[j]];
				if (read(c->fd, scratch, sizeof(scratch)) > 0)
					continue;
				close(c->fd);
				c->fd = -1;
				continue;
			}
			int fd = accept(p[j].fd, NULL, NULL);
			if (fd < 0)
				continue;
			sv.rec->accepted[j + 1]++;
			c = NULL;
			for (int i = 0; i < CONNS_MAX && !c; i++)
				if (conns[i].fd < 0)
					c = &conns[i];
			if (!c) {
				close(fd);
				continue;
			}
			*c = (struct conn){ .fd = fd, .kind = (enum kind)(j + 1) };
			if (!greet(c)) {
				close(fd);
				c->fd = -1;
			}
		}
		for (int i = 0; i < CONNS_MAX; i++) {
			struct conn *c = &conns[i];

			if (c->fd >= 0 && c->due > 0 && now_s() >= c->due) {
				send_all(c->fd, "\x1b[2J world\n", 11);
				c->due = 0;
			}
		}
	}
	_exit(0);
}

static int listen_on(int port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 64) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* On the host's loopback: are all our ports free (and the closed one
 * closed)? */
static bool ports_free(void)
{
	uint8_t *bm = calloc(1, 8192);
	bool ok = bm && t_listening_ports("127.0.0.1", bm) >= 0;

	for (int p = PORT_BASE; ok && p < PORT_BASE + NKINDS; p++)
		ok = !t_bit(bm, (unsigned)p);
	if (ok)
		ok = !t_bit(bm, PORT_CLOSED);
	free(bm);
	return ok;
}

/* Stops the child by its PID; returns its wait status, or -1. */
static int server_kill(void)
{
	int st = -1;

	if (sv.pid > 0) {
		kill(sv.pid, SIGTERM);
		while (waitpid(sv.pid, &st, 0) < 0 && errno == EINTR)
			;
		sv.pid = 0;
	}
	return st;
}

/* Enters a private namespace (or checks the host's ports), then forks the
 * server before any engine exists, so the child holds none of its
 * descriptors, and waits until it serves. */
static int group_setup(void **state)
{
	int lfd[NKINDS], pp[2], ret;
	sigset_t term, old;
	pid_t parent = getpid();
	struct pollfd p;
	char c;

	(void)state;
	memset(&sv, 0, sizeof(sv));
	ret = t_netns_enter();
	if (ret == T_SKIP) {
		fprintf(stderr, "  no private namespace: host loopback\n");
		if (!ports_free()) {
			fprintf(stderr, "  ports %d-%d or %d taken: skip\n",
				PORT_BASE, PORT_BASE + NKINDS - 1,
				PORT_CLOSED);
			sv.skip = true;
			return 0;
		}
	} else if (ret < 0) {
		fprintf(stderr, "  t_netns_enter: %s\n", strerror(-ret));
		return -1;
	}
	for (int k = 0; k < NKINDS; k++) {
		lfd[k] = listen_on(PORT_BASE + k);
		if (lfd[k] < 0) {
			fprintf(stderr, "  listen on %d: %s\n", PORT_BASE + k,
				strerror(-lfd[k]));
			while (k-- > 0)
				close(lfd[k]);
			sv.skip = ret == T_SKIP;
			return sv.skip ? 0 : -1;
		}
	}
	sv.rec = mmap(NULL, sizeof(*sv.rec), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sv.rec == MAP_FAILED || pipe2(pp, O_CLOEXEC) < 0)
		return -1;
	memset(sv.rec, 0, sizeof(*sv.rec));
	/* SIGTERM waits until the child has its handler: an early stop
	 * still ends it by _exit(0). */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	fflush(NULL);
	sv.pid = fork();
	if (sv.pid == 0) {
		close(pp[0]);
		serve(lfd, pp[1], &old, parent);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (int k = 0; k < NKINDS; k++)
		close(lfd[k]);
	close(pp[1]);
	if (sv.pid < 0) {
		close(pp[0]);
		return -1;
	}
	p = (struct pollfd){ .fd = pp[0], .events = POLLIN };
	ret = poll(&p, 1, 10000) == 1 && read(pp[0], &c, 1) == 1 ? 0 : -1;
	close(pp[0]);
	if (ret < 0) {
		fprintf(stderr, "  server did not start\n");
		server_kill();
	}
	return ret;
}

static int group_teardown(void **state)
{
	int st;

	(void)state;
	if (sv.skip)
		return 0;
	st = server_kill();
	if (sv.rec && sv.rec != MAP_FAILED)
		munmap(sv.rec, sizeof(*sv.rec));
	sv.rec = NULL;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "  server: wait status %#x\n", st);
		return -1;
	}
	return 0;
}

/* ---- the engine ---------------------------------------------------------- */

#define IDX_MAX 16

struct seen {
	unsigned count;
	enum rp_status status;
	int err;
	bool has_banner;
	size_t banner_len;             /* strlen, up to sizeof(banner) */
	char banner[512];
	uint64_t elapsed_us;
};

struct tally {
	unsigned results;
	unsigned stray;                /* results with an unknown index */
	struct seen by[IDX_MAX];
};

static void on_result(const struct rp_result *r, void *arg)
{
	struct tally *t = arg;
	struct seen *s;

	t->results++;
	fprintf(stderr, "  result %llu: %s err %d%s%s elapsed %llu us%s%s%s\n",
		(unsigned long long)r->index, rp_status_name(r->status),
		r->err, r->detail ? " " : "", r->detail ? r->detail : "",
		(unsigned long long)r->elapsed_us,
		r->banner ? " banner \"" : "", r->banner ? r->banner : "",
		r->banner ? "\"" : "");
	if (r->index >= IDX_MAX) {
		t->stray++;
		return;
	}
	s = &t->by[r->index];
	s->count++;
	s->status = r->status;
	s->err = r->err;
	s->elapsed_us = r->elapsed_us;
	s->has_banner = r->banner != NULL;
	if (r->banner) {
		s->banner_len = strnlen(r->banner, sizeof(s->banner));
		memcpy(s->banner, r->banner,
		       s->banner_len < sizeof(s->banner) ? s->banner_len + 1
							 : sizeof(s->banner));
		s->banner[sizeof(s->banner) - 1] = '\0';
	}
}

static void opts_init(struct rp_engine_opts *o, struct tally *t,
		      enum rp_probe_kind kind, uint64_t wait_ns)
{
	memset(o, 0, sizeof(*o));
	memset(t, 0, sizeof(*t));
	o->concurrency = 16;
	o->timeout_ns = 3000000000ull;
	o->banner_wait_ns = wait_ns;
	o->kind = kind;
	o->on_result = on_result;
	o->arg = t;
}

/* Creates the engine; skips the test when io_uring is not available. */
static void create(struct rp_engine **e, const struct rp_engine_opts *o)
{
	int ret = rp_engine_create(e, o);

	if (ret == -ENOSYS || ret == -EPERM) {
		fprintf(stderr, "  no io_uring here (%s)\n", rp_strerror(ret));
		skip();
	}
	assert_int_equal(ret, 0);
}

static void submit(struct rp_engine *e, int port, uint64_t index)
{
	struct rp_target t;
	struct sockaddr_in *a = (struct sockaddr_in *)&t.addr;

	memset(&t, 0, sizeof(t));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons((uint16_t)port);
	t.addrlen = sizeof(*a);
	t.index = index;
	assert_int_equal(rp_engine_submit(e, &t), 0);
}

static void check_once(const struct tally *t, unsigned n)
{
	assert_int_equal(t->stray, 0);
	assert_int_equal(t->results, n);
	for (unsigned i = 1; i <= n; i++) {
		if (t->by[i].count != 1)
			fprintf(stderr, "  index %u: %u results\n", i,
				t->by[i].count);
		assert_int_equal(t->by[i].count, 1);
	}
}

static void check_banner(const struct tally *t, unsigned i, const char *want)
{
	const struct seen *s = &t->by[i];

	if (s->status != RP_STATUS_OPEN || !s->has_banner ||
	    strcmp(s->banner, want) != 0)
		fprintf(stderr, "  index %u: want OPEN \"%s\"\n", i, want);
	assert_int_equal(s->status, RP_STATUS_OPEN);
	assert_true(s->has_banner);
	assert_true(s->banner_len <= 255);
	assert_string_equal(s->banner, want);
}

static void skip_if_no_server(void)
{
	if (sv.skip)
		skip();
	assert_true(sv.pid > 0);
}

/* Every behaviour of the server, and a closed port, in one run. */
static void test_banners(void **state)
{
	struct rp_engine_opts o;
	struct rp_engine *e;
	struct tally t;
	char as[256];

	(void)state;
	skip_if_no_server();
	opts_init(&o, &t, RP_PROBE_BANNER, WAIT_NS);
	create(&e, &o);
	for (unsigned k = K_SSH; k <= K_TWO; k++)
		submit(e, kind_port((enum kind)k), k);
	submit(e, PORT_CLOSED, 8);
	assert_int_equal(rp_engine_run_all(e), 0);
	assert_int_equal(rp_engine_destroy(e), 0);

	check_once(&t, 8);
	check_banner(&t, K_SSH, "SSH-2.0-Test_1.0");
	check_banner(&t, K_QUIET, "");
	check_banner(&t, K_SPLIT, "220 hello?[2J world");
	memset(as, 'A', 255);
	as[255] = '\0';
	check_banner(&t, K_LONG, as);
	check_banner(&t, K_NUL, "x?y");
	check_banner(&t, K_CLOSE, "");
	check_banner(&t, K_TWO, "line1");
	/* The quiet one waited for banner_wait_ns, and no longer. */
	assert_true(t.by[K_QUIET].elapsed_us >= 250000);
	assert_true(t.by[K_QUIET].elapsed_us < 1000000);
	/* The split one waited for its second write. */
	assert_true(t.by[K_SPLIT].elapsed_us >= 90000);
	assert_int_equal(t.by[8].status, RP_STATUS_CLOSED);
	assert_false(t.by[8].has_banner);
	for (unsigned k = K_SSH; k <= K_TWO; k++)
		assert_true(sv.rec->accepted[k] >= 1);
}

/* Other probe kinds have no banner, whatever the server sends. */
static void test_tcp_no_banner(void **state)
{
	struct rp_engine_opts o;
	struct rp_engine *e;
	struct tally t;

	(void)state;
	skip_if_no_server();
	opts_init(&o, &t, RP_PROBE_TCP, WAIT_NS);
	create(&e, &o);
	submit(e, kind_port(K_SSH), 1);
	submit(e, kind_port(K_QUIET), 2);
	submit(e, kind_port(K_TWO), 3);
	submit(e, PORT_CLOSED, 4);
	assert_int_equal(rp_engine_run_all(e), 0);
	assert_int_equal(rp_engine_destroy(e), 0);

	check_once(&t, 4);
	for (unsigned i = 1; i <= 3; i++) {
		assert_int_equal(t.by[i].status, RP_STATUS_OPEN);
		assert_false(t.by[i].has_banner);
	}
	assert_int_equal(t.by[4].status, RP_STATUS_CLOSED);
	assert_false(t.by[4].has_banner);
}

struct phase_seek {
	uint64_t index;
	char phase[32];
};

static void on_probe(const struct rp_probe_info *pi, void *arg)
{
	struct phase_seek *ps = arg;

	if (pi->index == ps->index)
		snprintf(ps->phase, sizeof(ps->phase), "%s", pi->phase);
}

/* A banner probe waiting for a quiet server is cancelled: one CANCELLED
 * result, long before its wait would end. */
static void test_cancel_quiet(void **state)
{
	struct rp_engine_opts o;
	struct rp_engine *e;
	struct phase_seek ps = { .index = 1 };
	struct tally t;
	double end;

	(void)state;
	skip_if_no_server();
	opts_init(&o, &t, RP_PROBE_BANNER, 5000000000ull);
	o.timeout_ns = 10000000000ull;
	create(&e, &o);
	submit(e, kind_port(K_QUIET), 1);
	/* Turns until the probe is connected and waiting for the banner. */
	end = now_s() + 2;
	while (now_s() < end) {
		assert_int_equal(rp_engine_run(e, 20), 1);
		ps.phase[0] = '\0';
		rp_engine_inflight(e, on_probe, &ps);
		if (strcmp(ps.phase, "receiving") == 0)
			break;
	}
	fprintf(stderr, "  probe phase: %s\n", ps.phase);
	assert_string_equal(ps.phase, "receiving");
	assert_int_equal(t.results, 0);
	assert_int_equal(rp_engine_cancel(e, 1), 0);
	assert_int_equal(rp_engine_run_all(e), 0);
	assert_int_equal(rp_engine_destroy(e), 0);

	check_once(&t, 1);
	assert_int_equal(t.by[1].status, RP_STATUS_CANCELLED);
	assert_true(t.by[1].elapsed_us < 3000000);
}

/* banner_wait_ns is bounded like every other timeout. */
static void test_wait_bound(void **state)
{
	struct rp_engine_opts o;
	struct rp_engine *e = NULL;
	struct tally t;

	(void)state;
	opts_init(&o, &t, RP_PROBE_BANNER, RP_TIMEOUT_MAX_NS);
	create(&e, &o);
	assert_int_equal(rp_engine_destroy(e), 0);
	opts_init(&o, &t, RP_PROBE_BANNER, RP_TIMEOUT_MAX_NS + 1);
	e = NULL;
	assert_int_equal(rp_engine_create(&e, &o), -EINVAL);
	assert_int_equal(t.results, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_banners),
		cmocka_unit_test(test_tcp_no_banner),
		cmocka_unit_test(test_cancel_quiet),
		cmocka_unit_test(test_wait_bound),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
