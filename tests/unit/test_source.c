/*
 * test_source.c - unit tests for the target source (source.c): argument
 * and file input, hostile lines, the line limit, lazy expansion, hostname
 * targets handed to the engine (name and port), the reader thread on slow
 * pipes and stdin, bounded memory, read errors, destroy while blocked,
 * clearing the notify while a call runs, several consumer threads, and
 * rp_source_total().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
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

#include "ringprobe.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Counts notify calls; waiters block on the condition variable. */
struct waiter {
	pthread_mutex_t m;
	pthread_cond_t c;
	unsigned int count;
};

static void waiter_init(struct waiter *w)
{
	pthread_mutex_init(&w->m, NULL);
	pthread_cond_init(&w->c, NULL);
	w->count = 0;
}

static void waiter_fini(struct waiter *w)
{
	pthread_cond_destroy(&w->c);
	pthread_mutex_destroy(&w->m);
}

static void on_notify(void *arg)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->m);
	w->count++;
	pthread_cond_broadcast(&w->c);
	pthread_mutex_unlock(&w->m);
}

static unsigned int waiter_count(struct waiter *w)
{
	unsigned int c;

	pthread_mutex_lock(&w->m);
	c = w->count;
	pthread_mutex_unlock(&w->m);
	return c;
}

/* Waits until the count passes `seen`; false after timeout_ms. */
static bool waiter_wait(struct waiter *w, unsigned int seen,
			unsigned int timeout_ms)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->m);
	while (w->count == seen)
		if (pthread_cond_timedwait(&w->c, &w->m, &ts))
			break;
	ok = w->count != seen;
	pthread_mutex_unlock(&w->m);
	return ok;
}

/*
 * rp_source_next, waiting for the notify when it returns 0. A 0 return
 * must be quick (it never does I/O) and must be followed by a notify.
 */
static int next_wait(struct rp_source *s, struct waiter *w,
		     struct rp_target *t)
{
	for (;;) {
		unsigned int seen = waiter_count(w);
		uint64_t t0 = now_ms();
		int r = rp_source_next(s, t);

		if (now_ms() - t0 > 500)
			fail_msg("rp_source_next blocked for %" PRIu64 " ms",
				 now_ms() - t0);
		if (r)
			return r;
		if (!waiter_wait(w, seen, 10000))
			fail_msg("no notify after rp_source_next returned 0");
	}
}

static void fmt_addr(const struct rp_target *t, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	if (!t->addrlen) {
		snprintf(buf, n, "-");
	} else if (t->addr.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&t->addr;

		assert_int_equal(t->addrlen, sizeof(*sin));
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, n, "%s:%u", a, ntohs(sin->sin_port));
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)&t->addr;

		assert_int_equal(t->addrlen, sizeof(*sin6));
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, n, "[%s]:%u", a, ntohs(sin6->sin6_port));
	}
}

/*
 * One produced target as a line of text, for exact comparison:
 * "ADDR" for a probe, "name=NAME port=PORT" for a name to resolve,
 * "invalid DETAIL" or "error ERRNO DETAIL" otherwise, followed by
 * " host=HOST path=PATH" when the target has them (URL lines only: for
 * every other target both must be NULL). A name comes only with status
 * NONE, no address and a port; without a name the port is 0.
 */
#define REC_MAX 64
#define REC_LEN 600

struct recs {
	size_t n;
	char line[REC_MAX][REC_LEN];
	char input[REC_MAX][1100];
};

static void record(struct recs *rc, const struct rp_target *t)
{
	char a[80];

	assert_true(rc->n < REC_MAX);
	assert_int_equal(t->index, rc->n);
	assert_non_null(t->input);
	snprintf(rc->input[rc->n], sizeof(rc->input[0]), "%s", t->input);
	if (t->status == RP_STATUS_NONE) {
		assert_null(t->detail);
		assert_int_equal(t->err, 0);
		if (t->name) {
			static const struct sockaddr_storage zero;

			assert_int_equal(t->addrlen, 0);
			assert_memory_equal(&t->addr, &zero, sizeof(zero));
			assert_true(t->port != 0);
			assert_true(strlen(t->name) <= 253);
			snprintf(rc->line[rc->n], REC_LEN, "name=%s port=%u",
				 t->name, t->port);
		} else {
			assert_true(t->addrlen != 0);
			assert_int_equal(t->port, 0);
			fmt_addr(t, rc->line[rc->n], REC_LEN);
		}
		if (t->tls)
			strcat(rc->line[rc->n], " tls");
	} else {
		assert_null(t->name);
		assert_int_equal(t->port, 0);
		assert_int_equal(t->addrlen, 0);
		assert_non_null(t->detail);
		if (t->status == RP_STATUS_INVALID) {
			assert_int_equal(t->err, -EINVAL);
			snprintf(rc->line[rc->n], REC_LEN, "invalid %s",
				 t->detail);
		} else {
			assert_int_equal(t->status, RP_STATUS_ERROR);
			snprintf(a, sizeof(a), "%d", t->err);
			snprintf(rc->line[rc->n], REC_LEN, "error %s %s", a,
				 t->detail);
		}
	}
	/* both or neither */
	assert_true(!t->host == !t->path);
	if (t->host) {
		size_t o = strlen(rc->line[rc->n]);

		snprintf(rc->line[rc->n] + o, REC_LEN - o, " host=%s path=%s",
			 t->host, t->path);
	}
	rc->n++;
}

/* Pulls everything, then checks it against want (NULL-terminated). */
static struct recs *drain(struct rp_source *s, struct waiter *w)
{
	static struct recs rc;
	struct rp_target t;

	memset(&rc, 0, sizeof(rc));
	while (next_wait(s, w, &t) == 1)
		record(&rc, &t);
	/* the end is sticky */
	assert_int_equal(rp_source_next(s, &t), -1);
	assert_int_equal(rp_source_produced(s), rc.n);
	assert_int_equal(rp_source_total(s), (int64_t)rc.n);
	return &rc;
}

static void expect(const struct recs *rc, const char *const *want)
{
	size_t i;

	for (i = 0; want[i]; i++) {
		if (i >= rc->n)
			fail_msg("missing target %zu: %s", i, want[i]);
		if (strcmp(rc->line[i], want[i]))
			fail_msg("target %zu:\n  got  %s\n  want %s", i,
				 rc->line[i], want[i]);
	}
	if (rc->n != i)
		fail_msg("extra target %zu: %s", i, rc->line[i]);
}

static struct rp_source *make(const char *ports, struct waiter *w)
{
	struct rp_source_opts o = { .ports = ports };
	struct rp_source *s = NULL;
	char err[160];

	assert_int_equal(rp_source_create(&s, &o, err, sizeof(err)), 0);
	assert_non_null(s);
	waiter_init(w);
	rp_source_set_notify(s, on_notify, w);
	return s;
}

static void unmake(struct rp_source *s, struct waiter *w)
{
	rp_source_destroy(s);
	waiter_fini(w);
}

/* Writes a temporary file; the caller unlinks it. */
static char *tmpfile_with(const void *data, size_t len)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/rp_test_source_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void write_all(int fd, const void *data, size_t len)
{
	assert_int_equal(write(fd, data, len), (ssize_t)len);
}

/* ---- arguments ---------------------------------------------------------- */

static void test_args(void **state)
{
	static const char *const want[] = {
		"1.2.3.4:80",
		"[::1]:443 tls",
		"invalid argument 5: bad character '!' in hostname: 'bad!'",
		"name=example.com port=7",
		"10.0.0.0:7",
		"10.0.0.1:7",
		"invalid argument 8: bad port '0' (must be 1-65535): "
		"'9.9.9.9:0'",
		"invalid argument 9: control character in target: "
		"'a\\x01b'",
		"5.5.5.5:7",
		NULL,
	};
	struct waiter w;
	struct rp_source *s = make("7", &w);
	struct recs *rc;

	(void)state;
	assert_int_equal(rp_source_total(s), 0);
	assert_int_equal(rp_source_add_arg(s, "1.2.3.4:80"), 0);
	assert_int_equal(rp_source_add_arg(s, "   "), 0);
	assert_int_equal(rp_source_add_arg(s, "# comment"), 0);
	assert_int_equal(rp_source_add_arg(s, " [::1]:443 "), 0);
	assert_int_equal(rp_source_add_arg(s, "bad!"), 0);
	assert_int_equal(rp_source_add_arg(s, "example.com"), 0);
	assert_int_equal(rp_source_add_arg(s, "10.0.0.0/31 # two"), 0);
	assert_int_equal(rp_source_add_arg(s, "9.9.9.9:0"), 0);
	assert_int_equal(rp_source_add_arg(s, "a\x01" "b"), 0);
	assert_int_equal(rp_source_add_arg(s, "5.5.5.5"), 0);
	assert_int_equal(rp_source_add_arg(s, NULL), -EINVAL);
	/* arguments only: the total is known before anything is produced */
	assert_int_equal(rp_source_total(s), 9);
	assert_int_equal(rp_source_produced(s), 0);

	rc = drain(s, &w);
	expect(rc, want);
	assert_string_equal(rc->input[1], "[::1]:443");
	assert_string_equal(rc->input[2], "bad!");
	assert_string_equal(rc->input[3], "example.com");
	assert_string_equal(rc->input[4], "10.0.0.0/31");
	assert_string_equal(rc->input[5], "10.0.0.0/31");
	assert_string_equal(rc->input[7], "a\\x01b");
	assert_int_equal(rp_source_invalid(s), 3);
	assert_int_equal(rp_source_error(s), 0);
	unmake(s, &w);
}

static void test_cidr_order(void **state)
{
	static const char *const want[] = {
		"10.0.0.0:1", "10.0.0.0:2", "10.0.0.1:1", "10.0.0.1:2",
		"10.0.0.2:1", "10.0.0.2:2", "10.0.0.3:1", "10.0.0.3:2",
		"[2001:db8::]:2", "[2001:db8::1]:2", NULL,
	};
	struct waiter w;
	struct rp_source *s = make(" 2 , 1 ", &w);

	(void)state;
	assert_int_equal(rp_source_add_arg(s, "10.0.0.0/30"), 0);
	assert_int_equal(rp_source_add_arg(s, "[2001:db8::1/127]:2"), 0);
	assert_int_equal(rp_source_total(s), 10);
	expect(drain(s, &w), want);
	unmake(s, &w);
}

static void test_no_port(void **state)
{
	static const char *const want[] = {
		"invalid argument 1: no port: give ip:port or -p: '1.2.3.4'",
		"1.2.3.4:80",
		"invalid argument 3: no port: give ip:port or -p: "
		"'10.0.0.0/24'",
		NULL,
	};
	struct rp_source *s = NULL;
	struct waiter w;

	(void)state;
	assert_int_equal(rp_source_create(&s, NULL, NULL, 0), 0);
	waiter_init(&w);
	assert_int_equal(rp_source_add_arg(s, "1.2.3.4"), 0);
	assert_int_equal(rp_source_add_arg(s, "1.2.3.4:80"), 0);
	assert_int_equal(rp_source_add_arg(s, "10.0.0.0/24"), 0);
	/* one result for each port-less line, not 256 */
	assert_int_equal(rp_source_total(s), 3);
	expect(drain(s, &w), want);
	assert_int_equal(rp_source_invalid(s), 2);
	unmake(s, &w);
}

static void test_bad_port_list(void **state)
{
	static const struct {
		const char *ports;
		const char *needle;
	} bad[] = {
		{ "80,0", "'0'" },
		{ "65536", "'65536'" },
		{ "90-80", "reversed" },
		{ "", "empty" },
		{ "80,,81", "empty" },
		{ "http", "'http'" },
	};
	struct rp_source_opts o = { 0 }; /* zero: defaults (ringprobe.h) */
	struct rp_source *s;
	char err[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.ports = bad[i].ports;
		s = (struct rp_source *)&o; /* must be reset to NULL */
		assert_int_equal(rp_source_create(&s, &o, err, sizeof(err)),
				 -EINVAL);
		assert_null(s);
		if (!strstr(err, bad[i].needle))
			fail_msg("'%s': '%s'", bad[i].ports, err);
	}
}

/* ---- URLs --------------------------------------------------------------- */

static void test_url_args(void **state)
{
	static const char *const want[] = {
		"127.0.0.1:8080 host=127.0.0.1:8080 path=/status?x=1",
		"1.2.3.4:22",
		"1.2.3.4:443 tls",
		"[::1]:80 host=[::1] path=/",
		"10.0.0.1:80 host=10.0.0.1 path=/?q",
		"10.0.0.1:443 tls host=10.0.0.1 path=/x",
		"name=example.com port=81 host=example.com:81 path=/",
		"invalid argument 8: unsupported URL scheme 'ftp': "
		"'ftp://1.2.3.4/'",
		"invalid argument 9: user names in URLs ('user@') are not "
		"supported: 'http://user@1.2.3.4/'",
		"1.2.3.4:80 host=1.2.3.4 path=/",
		"10.0.0.0:7",
		"10.0.0.1:7",
		"[::2]:65535 host=[::2]:65535 path=/a%20b",
		"invalid argument 13: missing port after ':': 'http://[::2]:/'",
		"invalid argument 14: blank inside URL (percent-encode spaces "
		"as %20): 'http://1.2.3.4/a b'",
		"name=h.example port=443 tls host=h.example path=/",
		"invalid argument 16: missing host in URL: 'http://'",
		NULL,
	};
	struct waiter w;
	struct rp_source *s = make("22,443", &w);
	struct recs *rc;

	(void)state;
	assert_int_equal(rp_source_add_arg(s, "http://127.0.0.1:8080/status"
					      "?x=1#frag"), 0);
	assert_int_equal(rp_source_add_arg(s, "1.2.3.4"), 0);
	assert_int_equal(rp_source_add_arg(s, "http://[::1]"), 0);
	assert_int_equal(rp_source_add_arg(s, "HTTP://10.0.0.1?q"), 0);
	assert_int_equal(rp_source_add_arg(s, "https://10.0.0.1/x"), 0);
	assert_int_equal(rp_source_add_arg(s, "http://example.com:81/"), 0);
	assert_int_equal(rp_source_add_arg(s, "# http://9.9.9.9/"), 0);
	assert_int_equal(rp_source_add_arg(s, "ftp://1.2.3.4/"), 0);
	assert_int_equal(rp_source_add_arg(s, "http://user@1.2.3.4/"), 0);
	assert_int_equal(rp_source_add_arg(s, " http://1.2.3.4/ # web"), 0);
	assert_int_equal(rp_source_add_arg(s, "10.0.0.0/31:7 # two"), 0);
	/* fragment "c", then a comment */
	assert_int_equal(rp_source_add_arg(s, "http://[::2]:65535/a%20b#c #d"),
			 0);
	assert_int_equal(rp_source_add_arg(s, "http://[::2]:/"), 0);
	assert_int_equal(rp_source_add_arg(s, "http://1.2.3.4/a b"), 0);
	assert_int_equal(rp_source_add_arg(s, "https://h.example"), 0);
	assert_int_equal(rp_source_add_arg(s, "http://"), 0);
	/* a URL line is one target whatever the port list says */
	assert_int_equal(rp_source_total(s), 17);

	rc = drain(s, &w);
	expect(rc, want);
	assert_string_equal(rc->input[0],
			    "http://127.0.0.1:8080/status?x=1#frag");
	assert_string_equal(rc->input[1], "1.2.3.4");
	assert_string_equal(rc->input[4], "HTTP://10.0.0.1?q");
	assert_string_equal(rc->input[5], "https://10.0.0.1/x");
	assert_string_equal(rc->input[6], "http://example.com:81/");
	assert_string_equal(rc->input[7], "ftp://1.2.3.4/");
	assert_string_equal(rc->input[9], "http://1.2.3.4/");
	assert_string_equal(rc->input[12], "http://[::2]:65535/a%20b#c");
	assert_int_equal(rp_source_invalid(s), 5);
	unmake(s, &w);
}

/* URL lines in a file, among plain targets, with no port list at all. */
static void test_url_file(void **state)
{
	static const char text[] =
		"# web servers\n"				/* 1 */
		"http://192.0.2.1:8080/health#x # probe\r\n"	/* 2 */
		"192.0.2.2:22\n"				/* 3 */
		"  #http://192.0.2.3/\n"			/* 4 */
		"http://192.0.2.4/caf\xc3\xa9\n"		/* 5 */
		"http://[2001:db8::1]:8443/a?b=c\n"		/* 6 */
		"http://192.0.2.5:0/\n"				/* 7 */
		"192.0.2.6\n"					/* 8: no port */
		"https://[2001:db8::2]/\n"			/* 9 */
		"http://192.0.2.7/\x01\n"			/* 10 */
		"HTTP://192.0.2.8";				/* 11 */
	static const char *const want[] = {
		"192.0.2.1:8080 host=192.0.2.1:8080 path=/health",
		"192.0.2.2:22",
		"invalid F:5: non-ASCII byte in URL (percent-encode it): "
		"'http://192.0.2.4/caf\\xc3\\xa9'",
		"[2001:db8::1]:8443 host=[2001:db8::1]:8443 path=/a?b=c",
		"invalid F:7: bad port '0' (must be 1-65535): "
		"'http://192.0.2.5:0/'",
		"invalid F:8: no port: give ip:port or -p: '192.0.2.6'",
		"[2001:db8::2]:443 tls host=[2001:db8::2] path=/",
		"invalid F:10: control character in URL: "
		"'http://192.0.2.7/\\x01'",
		"192.0.2.8:80 host=192.0.2.8 path=/",
		NULL,
	};
	char *path = tmpfile_with(text, sizeof(text) - 1);
	char *wants[sizeof(want) / sizeof(want[0])];
	struct waiter w;
	struct rp_source *s = make(NULL, &w);
	struct recs *rc;
	size_t i;

	(void)state;
	for (i = 0; want[i]; i++) {
		const char *f = strstr(want[i], "F:");

		wants[i] = malloc(REC_LEN);
		if (f)
			snprintf(wants[i], REC_LEN, "%.*s%s%s",
				 (int)(f - want[i]), want[i], path, f + 1);
		else
			snprintf(wants[i], REC_LEN, "%s", want[i]);
	}
	wants[i] = NULL;
	assert_int_equal(rp_source_add_file(s, path), 0);
	rc = drain(s, &w);
	expect(rc, (const char *const *)wants);
	assert_string_equal(rc->input[0], "http://192.0.2.1:8080/health#x");
	assert_string_equal(rc->input[2], "http://192.0.2.4/caf\\xc3\\xa9");
	assert_string_equal(rc->input[8], "HTTP://192.0.2.8");
	assert_int_equal(rp_source_invalid(s), 4);
	for (i = 0; wants[i]; i++)
		free(wants[i]);
	unmake(s, &w);
	unlink(path);
}

/* The 1024-byte line limit holds for URLs: the longest path fits. */
static void test_url_line_limit(void **state)
{
	static const char head[] = "http://10.1.1.1:9/";
	char *line = malloc(1100);
	struct waiter w;
	struct rp_source *s = make("1-3", &w);
	struct rp_target t;
	size_t hl = sizeof(head) - 1;

	(void)state;
	memcpy(line, head, hl);
	memset(line + hl, 'p', 1100 - hl);
	line[1024] = '\0';
	assert_int_equal(rp_source_add_arg(s, line), 0);
	line[1024] = 'p';
	line[1025] = '\0';
	assert_int_equal(rp_source_add_arg(s, line), 0);
	assert_int_equal(rp_source_total(s), 2);

	assert_int_equal(next_wait(s, &w, &t), 1);
	assert_int_equal(t.status, RP_STATUS_NONE);
	assert_string_equal(t.host, "10.1.1.1:9");
	assert_int_equal(strlen(t.path), 1024 - hl + 1);
	assert_int_equal(memcmp(t.path, "/ppp", 4), 0);
	assert_int_equal(t.path[1024 - hl], 'p');
	assert_int_equal(strlen(t.input), 1024);

	assert_int_equal(next_wait(s, &w, &t), 1);
	assert_int_equal(t.status, RP_STATUS_INVALID);
	assert_null(t.host);
	assert_null(t.path);
	assert_string_equal(t.detail, "argument 2: argument too long (max "
				      "1024 bytes)");
	assert_int_equal(next_wait(s, &w, &t), -1);
	free(line);
	unmake(s, &w);
}

#define URL_LINES 20000

static void url_line(char *buf, size_t n, unsigned int i)
{
	if (i % 3)
		snprintf(buf, n, "http://10.%u.%u.%u:%u/p%u?i=%u#f%u",
			 (i >> 16) & 255, (i >> 8) & 255, i & 255,
			 1 + i % 65535, i, i, i);
	else
		snprintf(buf, n, "10.%u.%u.%u:%u", (i >> 16) & 255,
			 (i >> 8) & 255, i & 255, 1 + i % 65535);
}

struct url_consumer {
	struct rp_source *s;
	struct waiter *w;
	unsigned char *seen;
	uint64_t got;
	int bad;
};

/* Every target's strings must be its own line's, intact, on every thread,
 * until that thread's next call. */
static void *consume_urls(void *arg)
{
	struct url_consumer *c = arg;
	struct rp_target t;
	char line[96], host[64], path[64];

	for (;;) {
		unsigned int seen = waiter_count(c->w);
		unsigned int i;
		int r = rp_source_next(c->s, &t);

		if (r < 0)
			break;
		if (!r) {
			if (!waiter_wait(c->w, seen, 10000)) {
				c->bad++;
				break;
			}
			continue;
		}
		i = (unsigned int)t.index;
		url_line(line, sizeof(line), i);
		snprintf(host, sizeof(host), "10.%u.%u.%u:%u", (i >> 16) & 255,
			 (i >> 8) & 255, i & 255, 1 + i % 65535);
		snprintf(path, sizeof(path), "/p%u?i=%u", i, i);
		if (t.index >= URL_LINES || strcmp(t.input, line) ||
		    t.status != RP_STATUS_NONE ||
		    (i % 3 ? !t.host || strcmp(t.host, host) || !t.path ||
				     strcmp(t.path, path) :
			     t.host || t.path) ||
		    __atomic_fetch_add(&c->seen[t.index], 1, __ATOMIC_RELAXED))
			c->bad++;
		c->got++;
	}
	return NULL;
}

static void test_url_threads(void **state)
{
	char path[] = "/tmp/rp_test_source_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct waiter w;
	struct rp_source *s = make("1,2", &w);
	struct url_consumer c[3];
	pthread_t th[3];
	unsigned char *seen = calloc(URL_LINES, 1);
	uint64_t total = 0;
	char line[96];
	unsigned int i;

	(void)state;
	assert_non_null(f);
	for (i = 0; i < URL_LINES; i++) {
		url_line(line, sizeof(line), i);
		fprintf(f, "%s\n", line);
	}
	fclose(f);
	assert_int_equal(rp_source_add_file(s, path), 0);
	for (i = 0; i < 3; i++) {
		c[i] = (struct url_consumer){ .s = s, .w = &w, .seen = seen };
		assert_int_equal(pthread_create(&th[i], NULL, consume_urls,
						&c[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(c[i].bad, 0);
		total += c[i].got;
	}
	assert_int_equal(total, URL_LINES);
	for (i = 0; i < URL_LINES; i++)
		assert_int_equal(seen[i], 1);
	/* URL lines ignore the two-port list; plain ones have a port */
	assert_int_equal(rp_source_total(s), URL_LINES);
	free(seen);
	unmake(s, &w);
	unlink(path);
}

/* ---- hostnames ---------------------------------------------------------- */

/* A name of exactly n bytes ("x.x.x...x"), for the 253-byte limit. */
static void long_name(char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (i % 2) ? '.' : 'x';
	buf[n] = '\0';
}

/* Hostname arguments: one target per port, the name as written. */
static void test_hostname_args(void **state)
{
	static const char *const head[] = {
		"name=example.test port=22",
		"name=example.test port=80",
		"name=example.test port=443 tls",
		"name=example.test port=8080",
		"name=EXAMPLE.Test port=22",
		"name=EXAMPLE.Test port=80",
		"name=EXAMPLE.Test port=443 tls",
		"name=example.test. port=22",
		"name=example.test. port=80",
		"name=example.test. port=443 tls",
		"name=Mixed-Case_1.Example.TEST. port=9",
		NULL,
	};
	static const char *const tail[] = {
		"invalid argument 7: bad character '*' in hostname: "
		"'bad*name.test'",
		"invalid argument 8: bad hostname: empty label: "
		"'a..example.test:80'",
		"invalid argument 9: bad port '0' (must be 1-65535): "
		"'example.test:0'",
		"invalid argument 10: bad hostname: label starts or ends with "
		"'-': '-x.test'",
		"1.2.3.4:22",
		"1.2.3.4:80",
		"1.2.3.4:443 tls",
		NULL,
	};
	char label[80], name253[260], arg[300], *wants[32];
	size_t i, n = 0;
	struct waiter w;
	struct rp_source *s = make("443,22,80", &w);
	struct recs *rc;

	(void)state;
	memset(label, 'a', 64);
	strcpy(label + 64, ".test");
	long_name(name253, 253);

	assert_int_equal(rp_source_add_arg(s, "example.test"), 0);
	assert_int_equal(rp_source_add_arg(s, "example.test:8080"), 0);
	assert_int_equal(rp_source_add_arg(s, "EXAMPLE.Test"), 0);
	assert_int_equal(rp_source_add_arg(s, "example.test."), 0);
	assert_int_equal(rp_source_add_arg(s, "  Mixed-Case_1.Example.TEST.:9"
					      "  # c"), 0);
	assert_int_equal(rp_source_add_arg(s, label), 0);
	assert_int_equal(rp_source_add_arg(s, "bad*name.test"), 0);
	assert_int_equal(rp_source_add_arg(s, "a..example.test:80"), 0);
	assert_int_equal(rp_source_add_arg(s, "example.test:0"), 0);
	assert_int_equal(rp_source_add_arg(s, "-x.test"), 0);
	assert_int_equal(rp_source_add_arg(s, "1.2.3.4"), 0);
	/* 253 bytes and a dot: the dot goes, so that the name fits */
	snprintf(arg, sizeof(arg), "%s.:80", name253);
	assert_int_equal(rp_source_add_arg(s, arg), 0);
	/* 253 bytes: kept whole, on every port */
	assert_int_equal(rp_source_add_arg(s, name253), 0);
	/* a hostname line counts one target per port */
	assert_int_equal(rp_source_total(s),
			 3 + 1 + 3 + 3 + 1 + 1 + 4 + 3 + 1 + 3);

	for (i = 0; head[i]; i++)
		wants[n++] = strdup(head[i]);
	wants[n] = malloc(REC_LEN);
	snprintf(wants[n++], REC_LEN,
		 "invalid argument 6: bad hostname: label longer than 63 "
		 "bytes: '%.61s...'", label);
	for (i = 0; tail[i]; i++)
		wants[n++] = strdup(tail[i]);
	wants[n] = malloc(REC_LEN);
	snprintf(wants[n++], REC_LEN, "name=%s port=80", name253);
	for (i = 0; i < 3; i++) {
		wants[n] = malloc(REC_LEN);
		snprintf(wants[n++], REC_LEN, "name=%s port=%s", name253,
			 i == 0 ? "22" : i == 1 ? "80" : "443 tls");
	}
	wants[n] = NULL;

	rc = drain(s, &w);
	expect(rc, (const char *const *)wants);
	for (i = 0; i < 3; i++) {
		assert_string_equal(rc->input[i], "example.test");
		assert_string_equal(rc->input[4 + i], "EXAMPLE.Test");
		assert_string_equal(rc->input[7 + i], "example.test.");
		assert_string_equal(rc->input[20 + i], name253);
	}
	assert_string_equal(rc->input[3], "example.test:8080");
	assert_string_equal(rc->input[10], "Mixed-Case_1.Example.TEST.:9");
	assert_string_equal(rc->input[11], label);
	assert_string_equal(rc->input[19], arg); /* input keeps the dot */
	assert_int_equal(rp_source_invalid(s), 5);
	for (i = 0; wants[i]; i++)
		free(wants[i]);
	unmake(s, &w);
}

/* Without a port list a port-less hostname is the usual INVALID. */
static void test_hostname_no_port(void **state)
{
	static const char *const want[] = {
		"invalid argument 1: no port: give ip:port or -p: "
		"'example.test'",
		"name=example.test port=80",
		"name=example.test port=80 host=example.test path=/",
		"invalid argument 4: no port: give ip:port or -p: "
		"'Example.Test.'",
		"name=h.test port=65535",
		NULL,
	};
	struct rp_source *s = NULL;
	struct waiter w;
	struct recs *rc;

	(void)state;
	assert_int_equal(rp_source_create(&s, NULL, NULL, 0), 0);
	waiter_init(&w);
	assert_int_equal(rp_source_add_arg(s, "example.test"), 0);
	assert_int_equal(rp_source_add_arg(s, "example.test:80"), 0);
	assert_int_equal(rp_source_add_arg(s, "http://example.test"), 0);
	assert_int_equal(rp_source_add_arg(s, " Example.Test. # c"), 0);
	assert_int_equal(rp_source_add_arg(s, "h.test:65535"), 0);
	assert_int_equal(rp_source_total(s), 5);
	rc = drain(s, &w);
	expect(rc, want);
	assert_string_equal(rc->input[3], "Example.Test.");
	assert_int_equal(rp_source_invalid(s), 2);
	unmake(s, &w);
}

/* Hostname URLs: one target each, name and port from the authority. */
static void test_hostname_urls(void **state)
{
	static const char *const want[] = {
		"name=example.test port=8080 host=example.test:8080 "
		"path=/x?y",
		"name=Example.TEST port=80 host=Example.TEST path=/",
		"name=example.test. port=80 host=example.test. path=/a",
		"name=example.test port=80 host=example.test:80 path=/?q=1",
		"name=example.test port=443 tls host=example.test path=/",
		"name=Example.test port=8443 tls host=Example.test:8443 "
		"path=/x",
		"invalid argument 7: bad character '!' in hostname: "
		"'http://bad_!name.test/'",
		"invalid argument 8: bad hostname: empty label: "
		"'http://a..b/'",
		"invalid argument 9: bad port '0' (must be 1-65535): "
		"'http://example.test:0/'",
		"invalid argument 10: user names in URLs ('user@') are not "
		"supported: 'http://user@example.test/'",
		"invalid argument 11: bad port '99999' (must be 1-65535): "
		"'http://h.test:99999/'",
		"name=x_y.test port=1 host=x_y.test:1 path=/p",
		NULL,
	};
	struct waiter w;
	struct rp_source *s = make("1,2", &w);
	struct recs *rc;

	(void)state;
	assert_int_equal(rp_source_add_arg(s, "http://example.test:8080/x?y"),
			 0);
	assert_int_equal(rp_source_add_arg(s, "http://Example.TEST"), 0);
	assert_int_equal(rp_source_add_arg(s, "HTTP://example.test./a#frag"),
			 0);
	assert_int_equal(rp_source_add_arg(s, "http://example.test:80?q=1"),
			 0);
	assert_int_equal(rp_source_add_arg(s, "https://example.test/"), 0);
	assert_int_equal(rp_source_add_arg(s, "HTTPS://Example.test:8443/x"),
			 0);
	assert_int_equal(rp_source_add_arg(s, "http://bad_!name.test/"), 0);
	assert_int_equal(rp_source_add_arg(s, "http://a..b/"), 0);
	assert_int_equal(rp_source_add_arg(s, "http://example.test:0/"), 0);
	assert_int_equal(rp_source_add_arg(s, "http://user@example.test/"),
			 0);
	assert_int_equal(rp_source_add_arg(s, "http://h.test:99999/"), 0);
	assert_int_equal(rp_source_add_arg(s, " http://x_y.test:1/p # c"), 0);
	/* a URL is one target, whatever the port list */
	assert_int_equal(rp_source_total(s), 12);
	rc = drain(s, &w);
	expect(rc, want);
	assert_string_equal(rc->input[0], "http://example.test:8080/x?y");
	assert_string_equal(rc->input[2], "HTTP://example.test./a#frag");
	assert_string_equal(rc->input[4], "https://example.test/");
	assert_string_equal(rc->input[11], "http://x_y.test:1/p");
	assert_int_equal(rp_source_invalid(s), 5);
	unmake(s, &w);
}

/* A file mixing addresses, blocks, hostnames and URLs, with a port list:
 * exact indexes, inputs, names and ports. */
static void test_hostname_file(void **state)
{
	static const char text[] =
		"# mixed\n"				/* 1 */
		"192.0.2.1\n"				/* 2 */
		"example.test\n"			/* 3 */
		"\n"					/* 4 */
		"http://example.test:8080/x?y\n"	/* 5 */
		"[2001:db8::1]:443\n"			/* 6 */
		"WWW.Example.Test.:8443 # tls\r\n"	/* 7 */
		"10.0.0.0/31\n"				/* 8 */
		"bad..name\n"				/* 9 */
		"http://192.0.2.9/\n"			/* 10 */
		"https://secure.example.test/\n"	/* 11 */
		"localhost\n"				/* 12 */
		"xn--bcher-kva.example:1";		/* 13 */
	static const struct {
		const char *line;
		const char *input;
	} want[] = {
		{ "192.0.2.1:22", "192.0.2.1" },
		{ "192.0.2.1:80", "192.0.2.1" },
		{ "name=example.test port=22", "example.test" },
		{ "name=example.test port=80", "example.test" },
		{ "name=example.test port=8080 host=example.test:8080 "
		  "path=/x?y", "http://example.test:8080/x?y" },
		{ "[2001:db8::1]:443 tls", "[2001:db8::1]:443" },
		{ "name=WWW.Example.Test. port=8443 tls",
		  "WWW.Example.Test.:8443" },
		{ "10.0.0.0:22", "10.0.0.0/31" },
		{ "10.0.0.0:80", "10.0.0.0/31" },
		{ "10.0.0.1:22", "10.0.0.0/31" },
		{ "10.0.0.1:80", "10.0.0.0/31" },
		{ "invalid F:9: bad hostname: empty label: 'bad..name'",
		  "bad..name" },
		{ "192.0.2.9:80 host=192.0.2.9 path=/", "http://192.0.2.9/" },
		{ "name=secure.example.test port=443 tls "
		  "host=secure.example.test path=/",
		  "https://secure.example.test/" },
		{ "name=localhost port=22", "localhost" },
		{ "name=localhost port=80", "localhost" },
		{ "name=xn--bcher-kva.example port=1",
		  "xn--bcher-kva.example:1" },
	};
	enum { N = sizeof(want) / sizeof(want[0]) };
	char *path = tmpfile_with(text, sizeof(text) - 1);
	char *wants[N + 1];
	struct waiter w;
	struct rp_source *s = make("80,22", &w);
	struct recs *rc;
	uint64_t t0;
	size_t i;

	(void)state;
	for (i = 0; i < N; i++) {
		const char *f = strstr(want[i].line, "F:");

		wants[i] = malloc(REC_LEN);
		if (f)
			snprintf(wants[i], REC_LEN, "%.*s%s%s",
				 (int)(f - want[i].line), want[i].line, path,
				 f + 1);
		else
			snprintf(wants[i], REC_LEN, "%s", want[i].line);
	}
	wants[N] = NULL;
	assert_int_equal(rp_source_add_file(s, path), 0);
	t0 = now_ms();
	while (rp_source_total(s) < 0 && now_ms() - t0 < 10000)
		sleep_ms(5);
	assert_int_equal(rp_source_total(s), N);
	rc = drain(s, &w); /* checks index i for the i-th target */
	expect(rc, (const char *const *)wants);
	for (i = 0; i < N; i++)
		if (strcmp(rc->input[i], want[i].input))
			fail_msg("target %zu: input '%s', want '%s'", i,
				 rc->input[i], want[i].input);
	assert_int_equal(rp_source_invalid(s), 1);
	assert_int_equal(rp_source_error(s), 0);
	for (i = 0; wants[i]; i++)
		free(wants[i]);
	unmake(s, &w);
	unlink(path);
}

/* A name's strings belong to the thread that pulled it: another thread's
 * pull does not touch them. */
struct pull_one {
	struct rp_source *s;
	struct rp_target t;
	int r;
	char name[64];
};

static void *pull_one(void *arg)
{
	struct pull_one *p = arg;

	p->r = rp_source_next(p->s, &p->t);
	if (p->r == 1 && p->t.name)
		snprintf(p->name, sizeof(p->name), "%s", p->t.name);
	return NULL;
}

static void test_hostname_buffers(void **state)
{
	struct waiter w;
	struct rp_source *s = make(NULL, &w);
	struct pull_one other = { .s = s };
	struct rp_target t;
	pthread_t th;

	(void)state;
	assert_int_equal(rp_source_add_arg(s, "first.test:1"), 0);
	assert_int_equal(rp_source_add_arg(s, "http://second.example:2/p"), 0);
	assert_int_equal(rp_source_next(s, &t), 1);
	assert_string_equal(t.name, "first.test");
	assert_int_equal(pthread_create(&th, NULL, pull_one, &other), 0);
	pthread_join(th, NULL);
	assert_int_equal(other.r, 1);
	assert_string_equal(other.name, "second.example");
	assert_int_equal(other.t.port, 2);
	/* ours are intact */
	assert_string_equal(t.name, "first.test");
	assert_string_equal(t.input, "first.test:1");
	assert_null(t.host);
	assert_int_equal(t.port, 1);
	assert_int_equal(t.index, 0);
	assert_int_equal(other.t.index, 1);
	assert_int_equal(rp_source_next(s, &t), -1);
	unmake(s, &w);
}

#define HN_LINES 6000

/* Line i of the threads test: a port-less hostname (two targets with
 * the list "1,2"), an address, a hostname URL, a hostname with a port
 * and a trailing dot. */
static void hn_line(char *buf, size_t n, unsigned int i)
{
	switch (i % 4) {
	case 0:
		snprintf(buf, n, "h%u.example.test", i);
		break;
	case 1:
		snprintf(buf, n, "10.%u.%u.%u:%u", (i >> 16) & 255,
			 (i >> 8) & 255, i & 255, 1 + i % 65535);
		break;
	case 2:
		snprintf(buf, n, "http://H%u.Example.test:%u/p%u?i=%u", i,
			 1 + i % 65535, i, i);
		break;
	default:
		snprintf(buf, n, "h%u.example.test.:%u", i, 1 + i % 65535);
	}
}

/* Target index -> (line, port), built by walking the lines in order. */
struct hn_want {
	unsigned int line;
	uint16_t port;
};

static struct hn_want *hn_table(size_t *n)
{
	struct hn_want *tab = calloc(HN_LINES * 2, sizeof(*tab));
	unsigned int i;

	assert_non_null(tab);
	*n = 0;
	for (i = 0; i < HN_LINES; i++) {
		if (i % 4 == 0) {
			tab[(*n)++] = (struct hn_want){ i, 1 };
			tab[(*n)++] = (struct hn_want){ i, 2 };
		} else {
			tab[(*n)++] = (struct hn_want){
				i, (uint16_t)(1 + i % 65535) };
		}
	}
	return tab;
}

struct hn_consumer {
	struct rp_source *s;
	struct waiter *w;
	const struct hn_want *tab;
	size_t ntab;
	unsigned char *seen;
	uint64_t got, names;
	int bad;
};

/* Whether t is exactly what target `want` must be. */
static bool hn_ok(const struct rp_target *t, const struct hn_want *want)
{
	unsigned int i = want->line;
	char line[96], name[32], host[64], path[64];

	hn_line(line, sizeof(line), i);
	if (t->status != RP_STATUS_NONE || strcmp(t->input, line))
		return false;
	switch (i % 4) {
	case 1: {
		const struct sockaddr_in *sin = (const void *)&t->addr;

		return !t->name && !t->port && !t->host && !t->path &&
		       t->addrlen == sizeof(*sin) &&
		       ntohs(sin->sin_port) == want->port;
	}
	case 2:
		snprintf(name, sizeof(name), "H%u.Example.test", i);
		snprintf(host, sizeof(host), "%s:%u", name, want->port);
		snprintf(path, sizeof(path), "/p%u?i=%u", i, i);
		if (!t->host || strcmp(t->host, host) || !t->path ||
		    strcmp(t->path, path))
			return false;
		break;
	case 0:
		snprintf(name, sizeof(name), "h%u.example.test", i);
		if (t->host || t->path)
			return false;
		break;
	default:
		snprintf(name, sizeof(name), "h%u.example.test.", i);
		if (t->host || t->path)
			return false;
	}
	return t->name && !strcmp(t->name, name) && t->port == want->port &&
	       !t->addrlen;
}

static void *consume_names(void *arg)
{
	struct hn_consumer *c = arg;
	struct rp_target t;

	for (;;) {
		unsigned int seen = waiter_count(c->w);
		int r = rp_source_next(c->s, &t);

		if (r < 0)
			break;
		if (!r) {
			if (!waiter_wait(c->w, seen, 10000)) {
				c->bad++;
				break;
			}
			continue;
		}
		/* let the others pull meanwhile: our strings must hold */
		sched_yield();
		if (t.index >= c->ntab || !hn_ok(&t, &c->tab[t.index]) ||
		    __atomic_fetch_add(&c->seen[t.index], 1, __ATOMIC_RELAXED))
			c->bad++;
		c->names += t.name != NULL;
		c->got++;
	}
	return NULL;
}

static void test_hostname_threads(void **state)
{
	char path[] = "/tmp/rp_test_source_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct waiter w;
	struct rp_source *s = make("2,1", &w);
	struct hn_consumer c[3];
	pthread_t th[3];
	size_t ntab;
	struct hn_want *tab = hn_table(&ntab);
	unsigned char *seen = calloc(ntab, 1);
	uint64_t total = 0, names = 0;
	char line[96];
	unsigned int i;

	(void)state;
	assert_non_null(f);
	/* 1500 x 2 port-less names + 4500 single targets */
	assert_int_equal(ntab, HN_LINES / 4 * 2 + HN_LINES / 4 * 3);
	for (i = 0; i < HN_LINES; i++) {
		hn_line(line, sizeof(line), i);
		fprintf(f, "%s\n", line);
	}
	fclose(f);
	assert_int_equal(rp_source_add_file(s, path), 0);
	for (i = 0; i < 3; i++) {
		c[i] = (struct hn_consumer){ .s = s, .w = &w, .tab = tab,
					     .ntab = ntab, .seen = seen };
		assert_int_equal(pthread_create(&th[i], NULL, consume_names,
						&c[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(c[i].bad, 0);
		total += c[i].got;
		names += c[i].names;
	}
	assert_int_equal(total, ntab);
	assert_int_equal(names, ntab - HN_LINES / 4);
	for (i = 0; i < ntab; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(rp_source_total(s), (int64_t)ntab);
	assert_int_equal(rp_source_produced(s), ntab);
	assert_int_equal(rp_source_invalid(s), 0);
	free(seen);
	free(tab);
	unmake(s, &w);
	unlink(path);
}

/* ---- files -------------------------------------------------------------- */

static void test_file_hostile(void **state)
{
	static const char text[] =
		"# targets\r\n"			/* 1 */
		"\r\n"				/* 2 */
		"1.2.3.4:80\r\n"		/* 3 */
		"   \t  \n"			/* 4 */
		"1.2.3.4:0\n"			/* 5 */
		"1.2.3.4:65536 # big\n"		/* 6 */
		"1.2.\0003.4:80\n"		/* 7: NUL */
		"\xff\xfe\x01junk\n"		/* 8 */
		"1.2.3.4/33\n"			/* 9 */
		"/\n"				/* 10 */
		"1.2.3/8\n"			/* 11 */
		"2001:db8::/64\n"		/* 12 */
		"[::1]:22 # ssh\n"		/* 13 */
		"1.2.3.4:\n"			/* 14 */
		"host.example:8080\n"		/* 15 */
		"10.9.8.7:9";			/* 16: no newline */
	static const char *const want[] = {
		"1.2.3.4:80",
		"invalid F:5: bad port '0' (must be 1-65535): '1.2.3.4:0'",
		"invalid F:6: bad port '65536' (must be 1-65535): "
		"'1.2.3.4:65536'",
		"invalid F:7: NUL byte in line: '1.2.\\x003.4:80'",
		"invalid F:8: control character in target: "
		"'\\xff\\xfe\\x01junk'",
		"invalid F:9: bad prefix length '/33' (must be 0-32): "
		"'1.2.3.4/33'",
		"invalid F:10: missing address before '/': '/'",
		"invalid F:11: bad IPv4 address in block: '1.2.3/8'",
		"invalid F:12: IPv6 block /64 is too large: at most 2^20 "
		"addresses (prefix /108 to /128): '2001:db8::/64'",
		"[::1]:22",
		"invalid F:14: missing port after ':': '1.2.3.4:'",
		"name=host.example port=8080",
		"10.9.8.7:9",
		NULL,
	};
	char *path = tmpfile_with(text, sizeof(text) - 1);
	char *wants[sizeof(want) / sizeof(want[0])];
	struct waiter w;
	struct rp_source *s = make(NULL, &w);
	struct recs *rc;
	size_t i;

	(void)state;
	/* the detail names the file as given */
	for (i = 0; want[i]; i++) {
		const char *f = strstr(want[i], "F:");

		wants[i] = malloc(REC_LEN);
		if (f)
			snprintf(wants[i], REC_LEN, "%.*s%s%s",
				 (int)(f - want[i]), want[i], path, f + 1);
		else
			snprintf(wants[i], REC_LEN, "%s", want[i]);
	}
	wants[i] = NULL;
	assert_int_equal(rp_source_add_file(s, path), 0);
	rc = drain(s, &w);
	expect(rc, (const char *const *)wants);
	assert_string_equal(rc->input[0], "1.2.3.4:80");
	assert_string_equal(rc->input[3], "1.2.\\x003.4:80");
	assert_string_equal(rc->input[9], "[::1]:22");
	assert_string_equal(rc->input[11], "host.example:8080");
	assert_string_equal(rc->input[12], "10.9.8.7:9");
	assert_int_equal(rp_source_invalid(s), 9);
	assert_int_equal(rp_source_error(s), 0);
	for (i = 0; wants[i]; i++)
		free(wants[i]);
	unmake(s, &w);
	unlink(path);
}

/* A line of exactly n bytes: a target padded with blanks. */
static void put_line(FILE *f, size_t n, const char *target, const char *eol)
{
	size_t k = strlen(target);

	fputs(target, f);
	for (; k < n; k++)
		fputc(' ', f);
	fputs(eol, f);
}

static void test_line_limit(void **state)
{
	static const char *const want[] = {
		"1.1.1.1:1",
		"1.1.1.2:1",
		"invalid F:3: line too long (max 1024 bytes)",
		"invalid F:4: line too long (max 1024 bytes)",
		"1.1.1.5:1",
		"invalid F:6: line too long (max 1024 bytes)",
		"1.1.1.7:1",
		"invalid F:8: line too long (max 1024 bytes)",
		"invalid F:9: line too long (max 1024 bytes)",
		NULL,
	};
	char path[] = "/tmp/rp_test_source_XXXXXX";
	char *wants[sizeof(want) / sizeof(want[0])];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct waiter w;
	struct rp_source *s = make(NULL, &w);
	struct recs *rc;
	size_t i;

	(void)state;
	assert_non_null(f);
	put_line(f, 1024, "1.1.1.1:1", "\n");	 /* 1: exactly the limit */
	put_line(f, 1024, "1.1.1.2:1", "\r\n");	 /* 2: CR not counted */
	put_line(f, 1025, "1.1.1.3:1", "\n");	 /* 3: one over */
	put_line(f, 200000, "1.1.1.4:1", "\n"); /* 4: spans several reads */
	put_line(f, 9, "1.1.1.5:1", "\n");	 /* 5: next line fine */
	put_line(f, 1025, "1.1.1.6:1", "\r\n"); /* 6: over even with CRLF */
	put_line(f, 9, "1.1.1.7:1", "\n");	 /* 7 */
	put_line(f, 1026, "1.1.1.8:1", "\n");	 /* 8: two over */
	put_line(f, 1025, "1.1.1.9:1", "");	 /* 9: last, no newline */
	fclose(f);
	for (i = 0; want[i]; i++) {
		const char *p = strstr(want[i], "F:");

		wants[i] = malloc(REC_LEN);
		if (p)
			snprintf(wants[i], REC_LEN, "invalid %s%s", path,
				 p + 1);
		else
			snprintf(wants[i], REC_LEN, "%s", want[i]);
	}
	wants[i] = NULL;

	assert_int_equal(rp_source_add_file(s, path), 0);
	rc = drain(s, &w);
	expect(rc, (const char *const *)wants);
	assert_string_equal(rc->input[0], "1.1.1.1:1");
	/* a too-long line's input is its start, marked as cut */
	assert_int_equal(strncmp(rc->input[3], "1.1.1.4:1   ", 12), 0);
	assert_true(strlen(rc->input[3]) <= 64 + 3);
	assert_string_equal(rc->input[3] + strlen(rc->input[3]) - 3, "...");
	assert_int_equal(rp_source_invalid(s), 5);
	for (i = 0; wants[i]; i++)
		free(wants[i]);
	unmake(s, &w);
	unlink(path);
}

static void test_long_argument(void **state)
{
	char *arg = malloc(2000);
	struct waiter w;
	struct rp_source *s = make(NULL, &w);
	struct recs *rc;

	(void)state;
	memset(arg, ' ', 2000);
	memcpy(arg, "1.2.3.4:5", 9);
	arg[1024] = '\0';
	assert_int_equal(rp_source_add_arg(s, arg), 0);
	arg[1024] = ' ';
	arg[1025] = '\0';
	assert_int_equal(rp_source_add_arg(s, arg), 0);
	rc = drain(s, &w);
	assert_int_equal(rc->n, 2);
	assert_string_equal(rc->line[0], "1.2.3.4:5");
	assert_string_equal(rc->line[1],
			    "invalid argument 2: argument too long (max 1024 "
			    "bytes)");
	free(arg);
	unmake(s, &w);
}

#define BIG_LINES 100000

static void big_line(char *buf, size_t n, unsigned int i)
{
	snprintf(buf, n, "10.%u.%u.%u:%u", (i >> 16) & 255, (i >> 8) & 255,
		 i & 255, 1 + i % 65535);
}

static char *big_file(void)
{
	static char path[] = "/tmp/rp_test_source_XXXXXX";
	char line[64];
	int fd;
	FILE *f;
	unsigned int i;

	strcpy(path + strlen(path) - 6, "XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	for (i = 0; i < BIG_LINES; i++) {
		big_line(line, sizeof(line), i);
		fprintf(f, "%s\n", line);
	}
	fclose(f);
	return path;
}

static void test_big_file(void **state)
{
	char *path = big_file();
	char line[64];
	struct waiter w;
	struct rp_source *s = make(NULL, &w);
	struct rp_target t;
	uint64_t n = 0;

	(void)state;
	assert_int_equal(rp_source_add_file(s, path), 0);
	/* the queue is bounded: without a consumer the reader cannot get to
	 * the end of 100,000 lines, so the total stays unknown */
	sleep_ms(300);
	assert_int_equal(rp_source_total(s), -1);
	assert_int_equal(rp_source_produced(s), 0);

	while (next_wait(s, &w, &t) == 1) {
		assert_int_equal(t.index, n);
		assert_int_equal(t.status, RP_STATUS_NONE);
		big_line(line, sizeof(line), (unsigned int)n);
		if (strcmp(t.input, line))
			fail_msg("target %" PRIu64 ": '%s', want '%s'", n,
				 t.input, line);
		assert_int_equal(ntohs(((struct sockaddr_in *)&t.addr)
					       ->sin_port),
				 1 + n % 65535);
		n++;
	}
	assert_int_equal(n, BIG_LINES);
	assert_int_equal(rp_source_total(s), BIG_LINES);
	assert_int_equal(rp_source_produced(s), BIG_LINES);
	assert_int_equal(rp_source_invalid(s), 0);
	unmake(s, &w);
	unlink(path);
}

struct consumer {
	struct rp_source *s;
	struct waiter *w;
	unsigned char *seen;
	uint64_t got;
	int bad;
};

static void *consume(void *arg)
{
	struct consumer *c = arg;
	struct rp_target t;
	char line[64];

	for (;;) {
		unsigned int seen = waiter_count(c->w);
		int r = rp_source_next(c->s, &t);

		if (r < 0)
			break;
		if (!r) {
			if (!waiter_wait(c->w, seen, 10000)) {
				c->bad++;
				break;
			}
			continue;
		}
		/* index i is line i; its input must be ours, intact */
		big_line(line, sizeof(line), (unsigned int)t.index);
		if (t.index >= BIG_LINES || strcmp(t.input, line) ||
		    __atomic_fetch_add(&c->seen[t.index], 1,
				       __ATOMIC_RELAXED))
			c->bad++;
		c->got++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	char *path = big_file();
	struct waiter w;
	struct rp_source *s = make(NULL, &w);
	struct consumer c[3];
	pthread_t th[3];
	uint64_t total = 0;
	size_t i;
	unsigned char *seen = calloc(BIG_LINES, 1);

	(void)state;
	assert_int_equal(rp_source_add_file(s, path), 0);
	for (i = 0; i < 3; i++) {
		c[i] = (struct consumer){ .s = s, .w = &w, .seen = seen };
		assert_int_equal(pthread_create(&th[i], NULL, consume, &c[i]),
				 0);
	}
	for (i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(c[i].bad, 0);
		total += c[i].got;
	}
	assert_int_equal(total, BIG_LINES);
	for (i = 0; i < BIG_LINES; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(rp_source_total(s), BIG_LINES);
	free(seen);
	unmake(s, &w);
	unlink(path);
}

/* ---- pipes and stdin ---------------------------------------------------- */

static void test_slow_pipe(void **state)
{
	struct waiter w;
	struct rp_source *s = make("5", &w);
	struct rp_target t;
	char path[64], longline[1100];
	unsigned int seen;
	int p[2], r;

	(void)state;
	assert_int_equal(pipe(p), 0);
	snprintf(path, sizeof(path), "/dev/fd/%d", p[0]);
	assert_int_equal(rp_source_add_file(s, path), 0);
	close(p[0]);

	/* nothing written: 0 at once, and no total yet */
	seen = waiter_count(&w);
	assert_int_equal(rp_source_next(s, &t), 0);
	assert_int_equal(rp_source_total(s), -1);

	write_all(p[1], "1.2.3.4:80\n", 11);
	assert_true(waiter_wait(&w, seen, 10000));
	assert_int_equal(rp_source_next(s, &t), 1);
	assert_string_equal(t.input, "1.2.3.4:80");
	assert_int_equal(t.index, 0);

	/* half a line is not a line */
	write_all(p[1], "5.6.7.", 6);
	sleep_ms(100);
	seen = waiter_count(&w);
	assert_int_equal(rp_source_next(s, &t), 0);
	write_all(p[1], "8:81\n", 5);
	assert_true(waiter_wait(&w, seen, 10000));
	assert_int_equal(rp_source_next(s, &t), 1);
	assert_string_equal(t.input, "5.6.7.8:81");
	assert_int_equal(t.index, 1);

	/* an over-long line written in pieces is one INVALID target */
	memset(longline, 'x', sizeof(longline));
	seen = waiter_count(&w);
	assert_int_equal(rp_source_next(s, &t), 0);
	write_all(p[1], longline, 600);
	sleep_ms(50);
	write_all(p[1], longline, 500);
	assert_true(waiter_wait(&w, seen, 10000));
	assert_int_equal(rp_source_next(s, &t), 1);
	assert_int_equal(t.status, RP_STATUS_INVALID);
	assert_non_null(strstr(t.detail, ":3: line too long"));
	/* the rest of it is skipped, then a port-less address expands */
	write_all(p[1], longline, 100);
	write_all(p[1], "\n9.9.9.9\n", 9);

	/* end of input: the notify comes, then -1 and the total */
	seen = waiter_count(&w);
	close(p[1]);
	while ((r = rp_source_next(s, &t)) == 0) {
		assert_true(waiter_wait(&w, seen, 10000));
		seen = waiter_count(&w);
	}
	assert_int_equal(r, 1);
	assert_string_equal(t.input, "9.9.9.9");
	assert_int_equal(t.index, 3);
	while ((r = rp_source_next(s, &t)) == 0) {
		assert_true(waiter_wait(&w, seen, 10000));
		seen = waiter_count(&w);
	}
	assert_int_equal(r, -1);
	assert_int_equal(rp_source_total(s), 4);
	assert_int_equal(rp_source_invalid(s), 1);
	unmake(s, &w);
}

static void test_stdin(void **state)
{
	static const char *const want[] = {
		"invalid argument 1: bad port '0' (must be 1-65535): "
		"'1.1.1.1:0'",
		"2.2.2.2:2",
		"invalid <stdin>:2: bad IPv4 address: octet 1 '300' is not 0-255: '300.1.1.1'",
		"3.3.3.3:3",
		NULL,
	};
	struct waiter w;
	struct rp_source *s = make(NULL, &w);
	int p[2], saved = dup(0);

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(dup2(p[0], 0), 0);
	close(p[0]);
	assert_int_equal(rp_source_add_file(s, "-"), 0);
	/* arguments come first, even when added after the file */
	assert_int_equal(rp_source_add_arg(s, "1.1.1.1:0"), 0);
	write_all(p[1], "2.2.2.2:2\n300.1.1.1\r\n3.3.3.3:3", 30);
	close(p[1]);
	expect(drain(s, &w), want);
	unmake(s, &w);
	/* the source read a dup: our stdin is still open */
	assert_true(fcntl(0, F_GETFD) >= 0);
	dup2(saved, 0);
	close(saved);
}

/* ---- errors, destroy, totals -------------------------------------------- */

static void test_open_and_read_errors(void **state)
{
	static const char *const want[] = { "4.4.4.4:4", "5.5.5.5:5", NULL };
	char *path = tmpfile_with("5.5.5.5:5\n", 10);
	struct waiter w;
	struct rp_source *s = make(NULL, &w);

	(void)state;
	assert_int_equal(rp_source_add_arg(s, "4.4.4.4:4"), 0);
	assert_int_equal(rp_source_add_file(s, "/nonexistent/rp/targets"),
			 -ENOENT);
	assert_null(rp_source_error_file(s));
	/* nothing was added: the total is still known */
	assert_int_equal(rp_source_total(s), 1);
	/* a directory opens, but read(2) fails: recorded, and on we go */
	assert_int_equal(rp_source_add_file(s, "/tmp"), 0);
	assert_int_equal(rp_source_add_file(s, path), 0);
	expect(drain(s, &w), want);
	assert_int_equal(rp_source_error(s), -EISDIR);
	assert_string_equal(rp_source_error_file(s), "/tmp");
	unmake(s, &w);
	unlink(path);
}

static void test_destroy_blocked(void **state)
{
	char *path = big_file();
	struct waiter w;
	struct rp_source *s;
	struct rp_target t;
	char dev[64];
	uint64_t t0;
	int p[2];

	(void)state;
	alarm(20); /* a hang is a failure, not a stuck run */

	/* reader blocked on a silent pipe */
	s = make(NULL, &w);
	assert_int_equal(pipe(p), 0);
	snprintf(dev, sizeof(dev), "/dev/fd/%d", p[0]);
	assert_int_equal(rp_source_add_file(s, dev), 0);
	write_all(p[1], "1.2.3.4:5\n", 10);
	assert_int_equal(next_wait(s, &w, &t), 1);
	assert_int_equal(rp_source_next(s, &t), 0);
	sleep_ms(50);
	t0 = now_ms();
	unmake(s, &w);
	assert_true(now_ms() - t0 < 1000);
	close(p[0]);
	close(p[1]);

	/* reader blocked on a full queue, with lines still queued */
	s = make(NULL, &w);
	assert_int_equal(rp_source_add_file(s, path), 0);
	assert_int_equal(next_wait(s, &w, &t), 1);
	sleep_ms(100);
	t0 = now_ms();
	unmake(s, &w);
	assert_true(now_ms() - t0 < 1000);

	/* destroyed before anything was read, and twice the same file */
	s = make(NULL, &w);
	assert_int_equal(rp_source_add_file(s, path), 0);
	assert_int_equal(rp_source_add_file(s, path), 0);
	unmake(s, &w);
	rp_source_destroy(NULL);
	alarm(0);
	unlink(path);
}

/* A notify function that takes its time, as if the engine it wakes were
 * busy, and says whether it is running. */
struct slow_notify {
	struct rp_source *s;
	atomic_uint started, returned;
	bool clear_self;	/* calls rp_source_set_notify(s, NULL, NULL) */
};

static void on_slow_notify(void *arg)
{
	struct slow_notify *n = arg;

	atomic_fetch_add(&n->started, 1);
	if (n->clear_self)
		rp_source_set_notify(n->s, NULL, NULL); /* must not wait */
	sleep_ms(100);
	atomic_fetch_add(&n->returned, 1);
}

/* Pulls until a target comes (1), up to ms milliseconds; no notify is
 * set, so this polls. */
static int next_poll(struct rp_source *s, struct rp_target *t, unsigned ms)
{
	uint64_t t0 = now_ms();
	int r;

	while ((r = rp_source_next(s, t)) == 0 && now_ms() - t0 < ms)
		sleep_ms(2);
	return r;
}

/*
 * rp_source_set_notify(s, NULL, NULL) returns only once a call of the
 * previous function has returned, and none starts afterwards: the CLI
 * frees the engines the function wakes right after it. The function may
 * also clear itself without waiting for itself.
 */
static void test_notify_cleared(void **state)
{
	struct slow_notify n = { 0 };
	struct rp_source *s;
	struct rp_target t;
	char dev[64], err[160];
	uint64_t t0;
	int p[2], pass;

	(void)state;
	alarm(20); /* a deadlock is a failure, not a stuck run */
	for (pass = 0; pass < 2; pass++) {
		n.clear_self = pass == 1;
		atomic_store(&n.started, 0);
		atomic_store(&n.returned, 0);
		assert_int_equal(rp_source_create(&s, NULL, err, sizeof(err)),
				 0);
		n.s = s;
		rp_source_set_notify(s, on_slow_notify, &n);
		assert_int_equal(pipe(p), 0);
		snprintf(dev, sizeof(dev), "/dev/fd/%d", p[0]);
		assert_int_equal(rp_source_add_file(s, dev), 0);

		/* a consumer waits, then a line comes: the notify starts */
		assert_int_equal(rp_source_next(s, &t), 0);
		write_all(p[1], "192.0.2.1:1\n", 12);
		t0 = now_ms();
		while (!atomic_load(&n.started) && now_ms() - t0 < 5000)
			sleep_ms(1);
		assert_int_equal(atomic_load(&n.started), 1);
		if (!n.clear_self) {
			/* it sleeps 100 ms: clearing must wait for it */
			rp_source_set_notify(s, NULL, NULL);
			assert_int_equal(atomic_load(&n.returned), 1);
		}

		/* another wait, another line: no call any more */
		assert_int_equal(next_poll(s, &t, 5000), 1);
		assert_int_equal(rp_source_next(s, &t), 0);
		write_all(p[1], "192.0.2.2:2\n", 12);
		assert_int_equal(next_poll(s, &t, 5000), 1);
		close(p[1]);
		assert_int_equal(next_poll(s, &t, 5000), -1);
		rp_source_destroy(s); /* joins the reader */
		close(p[0]);
		assert_int_equal(atomic_load(&n.started), 1);
		assert_int_equal(atomic_load(&n.returned), 1);
	}
	alarm(0);
}

static void test_total(void **state)
{
	static const char text[] = "10.0.0.0/29\n"	/* 8 x 2 */
				   "bad line\n"		/* 1 */
				   "\n# none\n"		/* 0 */
				   "h.example\n"	/* 1 x 2 */
				   "[::1]:1\n"		/* 1 */
				   "[fd00::/126]\n";	/* 4 x 2 */
	char *path = strdup(tmpfile_with(text, sizeof(text) - 1));
	char *path2;
	struct waiter w;
	struct rp_source *s = make("80,443", &w);
	struct rp_target t;
	uint64_t t0;
	int r;

	(void)state;
	/* empty source: known, zero, and exhausted */
	assert_int_equal(rp_source_total(s), 0);
	assert_int_equal(rp_source_next(s, &t), -1);

	assert_int_equal(rp_source_add_arg(s, "1.2.3.4"), 0); /* 2 */
	assert_int_equal(rp_source_total(s), 2);
	assert_int_equal(rp_source_add_file(s, path), 0);
	/* known once the reader has read and sized everything, before a
	 * single target is produced */
	t0 = now_ms();
	while (rp_source_total(s) < 0 && now_ms() - t0 < 10000)
		sleep_ms(5);
	assert_int_equal(rp_source_total(s), 2 + 16 + 1 + 2 + 1 + 8);
	assert_int_equal(rp_source_produced(s), 0);
	drain(s, &w);
	assert_int_equal(rp_source_produced(s), 30);

	/* a file added after the end: the total is unknown again, then
	 * the new lines come with indexes that go on */
	path2 = tmpfile_with("7.7.7.7:7\n", 10);
	assert_int_equal(rp_source_add_file(s, path2), 0);
	r = next_wait(s, &w, &t);
	assert_int_equal(r, 1);
	assert_int_equal(t.index, 30);
	assert_string_equal(t.input, "7.7.7.7:7");
	assert_int_equal(next_wait(s, &w, &t), -1);
	assert_int_equal(rp_source_total(s), 31);
	unmake(s, &w);
	unlink(path);
	unlink(path2);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_cidr_order),
		cmocka_unit_test(test_no_port),
		cmocka_unit_test(test_bad_port_list),
		cmocka_unit_test(test_url_args),
		cmocka_unit_test(test_url_file),
		cmocka_unit_test(test_url_line_limit),
		cmocka_unit_test(test_url_threads),
		cmocka_unit_test(test_hostname_args),
		cmocka_unit_test(test_hostname_no_port),
		cmocka_unit_test(test_hostname_urls),
		cmocka_unit_test(test_hostname_file),
		cmocka_unit_test(test_hostname_buffers),
		cmocka_unit_test(test_hostname_threads),
		cmocka_unit_test(test_file_hostile),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_long_argument),
		cmocka_unit_test(test_big_file),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_slow_pipe),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_open_and_read_errors),
		cmocka_unit_test(test_destroy_blocked),
		cmocka_unit_test(test_notify_cleared),
		cmocka_unit_test(test_total),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
