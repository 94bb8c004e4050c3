/*
 * test_http_inject.c - no string an embedder or a server hands the HTTP
 * probe can add a header or break the request line: a target whose host,
 * path or name carries a control byte or a space is refused at submit
 * (and reported INVALID when a pull source gives it), options with one are
 * refused at create, and a redirect's Location is percent-encoded before
 * it goes into the next request line.
 *
 * A small HTTP server in a child process, listening on an ephemeral port
 * of 127.0.0.1, records every request head it receives in memory shared
 * with this process, so the tests check what reached the wire, not only
 * what the engine said. A child, not a thread: valgrind does not let
 * another thread run while this one waits in io_uring_enter.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ringprobe.h"
#include "t_net.h"

#define HEADS_MAX 16
#define HEAD_MAX 2048

/* ---- the server ---------------------------------------------------------- */

/* The child's record, in memory it shares with the parent. */
struct record {
	unsigned nheads;
	char heads[HEADS_MAX][HEAD_MAX]; /* request heads, NUL-terminated */
};

struct server {
	int port;
	pid_t pid;                       /* the child, 0 once stopped */
	struct record *rec;              /* MAP_SHARED with the child */
	unsigned nheads;                 /* copied from rec at the stop */
	char heads[HEADS_MAX][HEAD_MAX];
};

/* The server a test started and has not stopped: the teardown stops it
 * when the test failed or skipped on the way. */
static struct server *live;

/* Reads one request head (up to the blank line, 2 s at most). */
static size_t read_head(int fd, char *buf, size_t cap)
{
	struct timeval tv = { .tv_sec = 2 };
	size_t n = 0;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	buf[n] = '\0';
	return n;
}

/* What the server answers to a request line: a redirect to an unsafe
 * Location for the two start paths, a small page for anything else. */
static void answer(int port, int fd, const char *head)
{
	char resp[512];
	int n;

	if (strncmp(head, "GET /rel ", 9) == 0)
		n = snprintf(resp, sizeof(resp),
			     "HTTP/1.1 302 Found\r\n"
			     "Location: /a b\tc\xff\r\n"
			     "Content-Length: 0\r\nConnection: close\r\n\r\n");
	else if (strncmp(head, "GET /abs ", 9) == 0)
		n = snprintf(resp, sizeof(resp),
			     "HTTP/1.1 301 Moved\r\n"
			     "Location: http://127.0.0.1:%d/x y\r\n"
			     "Content-Length: 0\r\nConnection: close\r\n\r\n",
			     port);
	else
		n = snprintf(resp, sizeof(resp),
			     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
			     "Connection: close\r\n\r\nok");
	if (write(fd, resp, (size_t)n) != n)
		fprintf(stderr, "  server: short write\n");
}

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The child: serves until the parent's SIGTERM, or for 60 s at most when
 * the parent is gone without sending it. It records each head before it
 * answers, so a head is in rec by the time the probe has its result.
 * Leaves by _exit(), never through the parent's cmocka or atexit state.
 */
static void serve(int lfd, int port, struct record *rec, pid_t parent,
		  const sigset_t *mask)
{
	struct sigaction sa = { .sa_handler = on_term };
	double end = now_s() + 60;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	/* A client may reset before the answer goes out (its deadline
	 * passed on a loaded machine): that must not end the server. */
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigprocmask(SIG_SETMASK, mask, NULL);
	while (getppid() == parent && now_s() < end) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		char head[HEAD_MAX];
		int fd;

		if (poll(&p, 1, 100) <= 0)
			continue;
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		read_head(fd, head, sizeof(head));
		if (rec->nheads < HEADS_MAX) {
			memcpy(rec->heads[rec->nheads], head, sizeof(head));
			rec->nheads++;
		}
		answer(port, fd, head);
		close(fd);
	}
	_exit(0);
}

/* Forks the server; call it before the engine is created, so that the
 * child holds none of the engine's descriptors. */
static void server_start(struct server *sv)
{
	sigset_t term, old;
	pid_t parent = getpid();
	int lfd;

	memset(sv, 0, sizeof(*sv));
	lfd = t_listen(AF_INET, &sv->port);
	assert_true(lfd >= 0);
	sv->rec = mmap(NULL, sizeof(*sv->rec), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sv->rec != MAP_FAILED);
	/* SIGTERM waits until the child has its handler: an early stop
	 * still ends it by _exit(0). */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	fflush(NULL);
	sv->pid = fork();
	if (sv->pid == 0)
		serve(lfd, sv->port, sv->rec, parent, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(lfd);
	assert_true(sv->pid > 0);
	live = sv;
}

/* Stops the child; returns its wait status, or -1. */
static int server_kill(struct server *sv)
{
	int st = -1;

	live = NULL;
	if (sv->pid > 0) {
		kill(sv->pid, SIGTERM);
		while (waitpid(sv->pid, &st, 0) < 0 && errno == EINTR)
			;
		sv->pid = 0;
	}
	if (sv->rec && sv->rec != MAP_FAILED) {
		sv->nheads = sv->rec->nheads;
		memcpy(sv->heads, sv->rec->heads, sizeof(sv->heads));
		munmap(sv->rec, sizeof(*sv->rec));
	}
	sv->rec = NULL;
	return st;
}

/* Stops the child, checks that it exited cleanly and copies its record. */
static void server_stop(struct server *sv)
{
	int st = server_kill(sv);

	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "  server: wait status %#x\n", st);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int teardown(void **state)
{
	(void)state;
	if (live)
		server_kill(live);
	return 0;
}

/* The request line of head i, without its CRLF. */
static const char *request_line(struct server *sv, unsigned i, char *buf,
				size_t cap)
{
	size_t n = strcspn(sv->heads[i], "\r\n");

	if (n >= cap)
		n = cap - 1;
	memcpy(buf, sv->heads[i], n);
	buf[n] = '\0';
	return buf;
}

/* ---- the engine ---------------------------------------------------------- */

struct tally {
	unsigned results;
	unsigned invalid;
	unsigned ok;
	uint64_t last_index;
	int status_code;                /* of the last HTTP result */
	uint32_t redirects;
	char detail[128];               /* of the last INVALID result */
};

static void on_result(const struct rp_result *r, void *arg)
{
	struct tally *t = arg;

	t->results++;
	t->last_index = r->index;
	if (r->status == RP_STATUS_INVALID) {
		t->invalid++;
		snprintf(t->detail, sizeof(t->detail), "%s",
			 r->detail ? r->detail : "");
	}
	if (r->status == RP_STATUS_OK)
		t->ok++;
	if (r->http) {
		t->status_code = r->http->status_code;
		t->redirects = r->http->redirects;
	}
	fprintf(stderr, "  result %llu: %s%s%s (%llu us, %u redirects)\n",
		(unsigned long long)r->index, rp_status_name(r->status),
		r->detail ? " " : "", r->detail ? r->detail : "",
		(unsigned long long)r->elapsed_us,
		r->http ? r->http->redirects : 0);
}

static void http_opts(struct rp_engine_opts *o, struct tally *t)
{
	memset(o, 0, sizeof(*o));
	memset(t, 0, sizeof(*t));
	o->concurrency = 8;
	o->timeout_ns = 20000000000ull; /* no deadline in a loaded run */
	o->on_result = on_result;
	o->arg = t;
	o->kind = RP_PROBE_HTTP;
	/* A name is never looked up beyond loopback: a server that is not
	 * there, one try. */
	o->dns.servers = "127.0.0.1:9";
	o->dns.tries = 1;
	o->dns.timeout_ns = 200000000ull;
	o->dns.no_hosts = 1;
}

static int create(struct rp_engine **e, const struct rp_engine_opts *o)
{
	int ret = rp_engine_create(e, o);

	if (ret == -ENOSYS || ret == -EPERM) {
		fprintf(stderr, "  no io_uring here (%s)\n", rp_strerror(ret));
		return T_SKIP;
	}
	return ret;
}

static void loopback(struct rp_target *t, int port, uint64_t index)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&t->addr;

	memset(t, 0, sizeof(*t));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons((uint16_t)port);
	t->addrlen = sizeof(*a);
	t->index = index;
}

/* The strings a target may not carry: each is a host, a path or a name. */
static const struct {
	const char *host, *path, *name;
} bad[] = {
	{ .host = "a\r\nX-Injected: 1" },
	{ .host = "a b" },
	{ .host = "a\x7f" },
	{ .path = "/\r\nX: y" },
	{ .path = "/a b" },
	{ .path = "/a\tb" },
	{ .path = "/a\x01" },
	{ .name = "a\r\nX-Injected: 1" },
	{ .name = "a b" },
};
#define NBAD (sizeof(bad) / sizeof(bad[0]))

static void set_bad(struct rp_target *t, unsigned i)
{
	t->host = bad[i].host;
	t->path = bad[i].path;
	t->name = bad[i].name;
	if (t->name)
		t->port = 80;
}

/* No head the server got has an injected header or a broken request
 * line. */
static void check_heads_clean(struct server *sv)
{
	char line[HEAD_MAX];

	for (unsigned i = 0; i < sv->nheads; i++) {
		request_line(sv, i, line, sizeof(line));
		fprintf(stderr, "  server got: %s\n", line);
		assert_null(strstr(sv->heads[i], "X-Injected"));
		assert_null(strstr(sv->heads[i], "\r\nX: y"));
		assert_int_equal(strncmp(line, "GET / HTTP/1.1", 15), 0);
	}
}

/* (a) Submit refuses each bad target with -EINVAL, and no result comes for
 * it: the one result is the good target's. */
static void test_submit_refuses(void **state)
{
	struct rp_engine_opts o;
	struct rp_engine *e;
	struct rp_target t;
	struct server sv;
	struct tally ta;
	int ret;

	(void)state;
	http_opts(&o, &ta);
	server_start(&sv);
	ret = create(&e, &o);
	if (ret == T_SKIP)
		skip();
	assert_int_equal(ret, 0);
	for (unsigned i = 0; i < NBAD; i++) {
		loopback(&t, sv.port, i);
		set_bad(&t, i);
		ret = rp_engine_submit(e, &t);
		fprintf(stderr, "  bad target %u: %d\n", i, ret);
		assert_int_equal(ret, -EINVAL);
	}
	loopback(&t, sv.port, 99);
	assert_int_equal(rp_engine_submit(e, &t), 0);
	assert_int_equal(rp_engine_run_all(e), 0);
	rp_engine_destroy(e);
	server_stop(&sv);
	assert_int_equal(ta.results, 1);
	assert_int_equal(ta.last_index, 99);
	assert_int_equal(ta.ok, 1);
	assert_int_equal(sv.nheads, 1);
	check_heads_clean(&sv);
}

struct pull {
	int port;
	unsigned next;
	struct rp_target t;
};

/* Gives every bad target, then one good one. */
static int pull(void *arg, struct rp_target *t)
{
	struct pull *p = arg;

	if (p->next > NBAD)
		return -1;
	loopback(t, p->port, p->next);
	if (p->next < NBAD)
		set_bad(t, p->next);
	p->next++;
	return 1;
}

/* (b) From a pull source, each bad target gives exactly one INVALID
 * result and nothing on the wire. */
static void test_pull_invalid(void **state)
{
	struct rp_engine_opts o;
	struct rp_engine *e;
	struct server sv;
	struct pull p;
	struct tally ta;
	int ret;

	(void)state;
	http_opts(&o, &ta);
	server_start(&sv);
	ret = create(&e, &o);
	if (ret == T_SKIP)
		skip();
	assert_int_equal(ret, 0);
	memset(&p, 0, sizeof(p));
	p.port = sv.port;
	rp_engine_set_source(e, pull, &p);
	assert_int_equal(rp_engine_run_all(e), 0);
	rp_engine_destroy(e);
	server_stop(&sv);
	assert_int_equal(ta.results, NBAD + 1);
	assert_int_equal(ta.invalid, NBAD);
	assert_string_equal(ta.detail, "malformed target from source");
	assert_int_equal(ta.ok, 1);
	assert_int_equal(sv.nheads, 1);
	check_heads_clean(&sv);
}

/* (c) Create refuses HTTP options with a byte that would inject or break:
 * CR/LF anywhere, other control bytes, 0x7f; tab only inside a header
 * value. */
static void test_create_refuses(void **state)
{
	static const char *const crlf_hdr[] = { "X-A: b\r\nX-Injected: 1",
						NULL };
	static const char *const vt_hdr[] = { "X-A: b\x0b", NULL };
	static const char *const del_hdr[] = { "X-A: b\x7f", NULL };
	static const char *const name_hdr[] = { "X A: b", NULL };
	static const char *const tab_hdr[] = { "X-A:\tb\tc", NULL };
	static const struct {
		const char *method, *path, *ua;
		const char *const *headers;
		int want;
	} cases[] = {
		{ .ua = "x\r\nY: z", .want = -EINVAL },
		{ .ua = "x\x01y", .want = -EINVAL },
		{ .ua = "x\x7f", .want = -EINVAL },
		{ .ua = "x\ty", .want = 0 },
		{ .method = "GET\r\nX: y", .want = -EINVAL },
		{ .method = "G T", .want = -EINVAL },
		{ .path = "/\r\nX: y", .want = -EINVAL },
		{ .path = "/a\tb", .want = -EINVAL },
		{ .path = "/a\x7f", .want = -EINVAL },
		{ .path = "/a\x1b", .want = -EINVAL },
		{ .headers = crlf_hdr, .want = -EINVAL },
		{ .headers = vt_hdr, .want = -EINVAL },
		{ .headers = del_hdr, .want = -EINVAL },
		{ .headers = name_hdr, .want = -EINVAL },
		{ .headers = tab_hdr, .want = 0 },
		{ .path = "/ok", .ua = "fine/1.0", .want = 0 },
	};
	struct rp_engine_opts o;
	struct rp_engine *e;
	struct tally ta;
	int ret;

	(void)state;
	http_opts(&o, &ta);
	ret = create(&e, &o);
	if (ret == T_SKIP)
		skip();
	assert_int_equal(ret, 0);
	rp_engine_destroy(e);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		http_opts(&o, &ta);
		o.http.method = cases[i].method;
		o.http.path = cases[i].path;
		o.http.user_agent = cases[i].ua;
		o.http.headers = cases[i].headers;
		e = NULL;
		ret = rp_engine_create(&e, &o);
		fprintf(stderr, "  options %u: %d (want %d)\n", i, ret,
			cases[i].want);
		if (ret == 0)
			rp_engine_destroy(e);
		assert_int_equal(ret, cases[i].want);
	}
}

/* Probes path on the server with one redirect allowed; returns the
 * server's heads in sv. */
static void follow_one(struct server *sv, struct tally *ta, const char *path)
{
	struct rp_engine_opts o;
	struct rp_engine *e;
	struct rp_target t;
	int ret;

	http_opts(&o, ta);
	o.http.follow = 1;
	server_start(sv);
	ret = create(&e, &o);
	if (ret == T_SKIP)
		skip();
	assert_int_equal(ret, 0);
	loopback(&t, sv->port, 0);
	t.path = path;
	assert_int_equal(rp_engine_submit(e, &t), 0);
	assert_int_equal(rp_engine_run_all(e), 0);
	rp_engine_destroy(e);
	server_stop(sv);
}

/* (d) A Location with a space, a tab and a byte >= 0x80 is followed with
 * them percent-encoded: one request line, three parts. */
static void test_follow_encodes(void **state)
{
	static struct server sv;
	struct tally ta;
	char line[HEAD_MAX];

	(void)state;
	follow_one(&sv, &ta, "/rel");
	assert_int_equal(sv.nheads, 2);
	assert_string_equal(request_line(&sv, 0, line, sizeof(line)),
			    "GET /rel HTTP/1.1");
	assert_string_equal(request_line(&sv, 1, line, sizeof(line)),
			    "GET /a%20b%09c%FF HTTP/1.1");
	assert_int_equal(ta.results, 1);
	assert_int_equal(ta.ok, 1);
	assert_int_equal(ta.status_code, 200);
	assert_int_equal(ta.redirects, 1);

	/* The same for an absolute http:// Location: the URL is read once
	 * encoded, so its path keeps the space as %20. */
	follow_one(&sv, &ta, "/abs");
	assert_int_equal(sv.nheads, 2);
	assert_string_equal(request_line(&sv, 1, line, sizeof(line)),
			    "GET /x%20y HTTP/1.1");
	assert_int_equal(ta.status_code, 200);
	assert_int_equal(ta.redirects, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_submit_refuses, teardown),
		cmocka_unit_test_teardown(test_pull_invalid, teardown),
		cmocka_unit_test(test_create_refuses),
		cmocka_unit_test_teardown(test_follow_encodes, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
