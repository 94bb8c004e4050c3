/*
 * test_http_request.c - unit tests for where a redirect leads
 * (rp__http_redirect() in http_request.c), against the rules of
 * ringprobe.h "Redirects": an absolute path, an http:// URL or a
 * "//host/..." one is followed to the probe's own host only (the same
 * address when probed by address, the same name, without case or a
 * trailing dot, when probed by name; the port may change); any host with
 * follow_any_host; other schemes, https and relative references are not
 * followed, and say what to quote; the Location is percent-encoded.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http_request.h"

/* "1.2.3.4:80" or "[::1]:80"; "-" without an address. */
static const char *addr_text(const struct rp__http_hop *h, char *buf,
			     size_t n)
{
	char a[INET6_ADDRSTRLEN];

	if (!h->addrlen) {
		snprintf(buf, n, "-");
	} else if (h->addr.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&h->addr;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		snprintf(buf, n, "%s:%u", a, ntohs(s->sin_port));
	} else {
		const struct sockaddr_in6 *s = (const void *)&h->addr;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		snprintf(buf, n, "[%s]:%u", a, ntohs(s->sin6_port));
	}
	return buf;
}

/* The origin of a target given by address (an IP literal) or by name. */
static void origin(struct rp__http_origin *o, const char *addr,
		   const char *name)
{
	struct rp_target t;

	memset(&t, 0, sizeof(t));
	if (name) {
		t.name = name;
		t.port = 80;
	} else if (strchr(addr, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&t.addr;

		a->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &a->sin6_addr), 1);
		t.addrlen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&t.addr;

		a->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &a->sin_addr), 1);
		t.addrlen = sizeof(*a);
	}
	rp__http_origin_set(o, &t);
}

struct want {
	const char *loc;              /* the Location received */
	enum rp__redirect r;
	const char *what;             /* the text to quote */
	const char *host, *path;      /* FOLLOW: the next request */
	const char *name;             /* FOLLOW: "" or the name to resolve */
	const char *addr;             /* FOLLOW: "-" (a name) or ip:port */
	unsigned port;                /* FOLLOW with a name */
};

/* Runs each case from a hop that asked 127.0.0.1:8080 for "/p" with Host
 * "h:8080". */
static void run_cases(const struct rp__http_origin *o, bool any_host,
		      const struct want *w, size_t n)
{
	static struct rp__http_hop from, next;
	struct sockaddr_in *a = (struct sockaddr_in *)&from.addr;
	char name[256], what[RP__PATH_MAX], buf[64];
	enum rp__redirect r;
	uint16_t port;

	memset(&from, 0, sizeof(from));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons(8080);
	from.addrlen = sizeof(*a);
	from.host_len = (uint16_t)snprintf(from.host, sizeof(from.host),
					   "h:8080");
	from.path_len = (uint16_t)snprintf(from.path, sizeof(from.path),
					   "/p");
	for (size_t i = 0; i < n; i++) {
		memset(&next, 0xa5, sizeof(next));
		snprintf(from.p.location, sizeof(from.p.location), "%s",
			 w[i].loc);
		port = 0;
		r = rp__http_redirect(&from, o, any_host, false, &next, name, &port,
				      what, sizeof(what));
		fprintf(stderr, "  '%s' -> %d '%s'\n", w[i].loc, (int)r, what);
		assert_int_equal(r, w[i].r);
		assert_string_equal(what, w[i].what);
		if (r != RP__REDIRECT_FOLLOW)
			continue;
		assert_string_equal(next.host, w[i].host);
		assert_int_equal(next.host_len, strlen(w[i].host));
		assert_string_equal(next.path, w[i].path);
		assert_int_equal(next.path_len, strlen(w[i].path));
		assert_string_equal(name, w[i].name);
		assert_string_equal(addr_text(&next, buf, sizeof(buf)),
				    w[i].addr);
		if (name[0])
			assert_int_equal(port, w[i].port);
	}
}

/* A case that is followed to host, path and addr (or name and port), and
 * one that is not, for reason r. */
#define F(l, w, h, p, n, a, pt)                                                \
	{ .loc = l, .r = RP__REDIRECT_FOLLOW, .what = w, .host = h, .path = p, \
	  .name = n, .addr = a, .port = pt }
#define N(l, reason, w) { .loc = l, .r = RP__REDIRECT_##reason, .what = w }

static const struct want v4[] = {
	F("/a b", "/a%20b", "h:8080", "/a%20b", "", "127.0.0.1:8080", 0),
	F("/x?y#f", "/x?y#f", "h:8080", "/x?y", "", "127.0.0.1:8080", 0),
	F("http://127.0.0.1:81/x?y", "http://127.0.0.1:81/x?y",
	  "127.0.0.1:81", "/x?y", "", "127.0.0.1:81", 0),
	F("HTTP://127.0.0.1", "HTTP://127.0.0.1", "127.0.0.1", "/", "",
	  "127.0.0.1:80", 0),
	F("//127.0.0.1:82/z", "//127.0.0.1:82/z", "127.0.0.1:82", "/z", "",
	  "127.0.0.1:82", 0),
	F("http://127.0.0.1/a\tb", "http://127.0.0.1/a%09b", "127.0.0.1",
	  "/a%09b", "", "127.0.0.1:80", 0),
	N("http://127.0.0.2/x", OTHER_HOST, "127.0.0.2"),
	N("http://127.0.0.2:8080/", OTHER_HOST, "127.0.0.2"),
	N("//127.0.0.2/", OTHER_HOST, "127.0.0.2"),
	N("http://localhost/", OTHER_HOST, "localhost"),
	N("http://[::1]/", OTHER_HOST, "::1"),
	N("http://[::ffff:127.0.0.1]/", OTHER_HOST, "::ffff:127.0.0.1"),
	N("https://127.0.0.1/", HTTPS, "https://127.0.0.1/"),
	N("ftp://127.0.0.1/x", SCHEME, "ftp://127.0.0.1/x"),
	N("mailto:a@b", SCHEME, "mailto:a@b"),
	N("localhost:80/x", SCHEME, "localhost:80/x"),
	N("fixed", RELATIVE, "fixed"),
	N("./x", RELATIVE, "./x"),
	N("?q", RELATIVE, "?q"),
	N("http://bad host/", BAD, "http://bad%20host/"),
	N("http://127.0.0.1:0/", BAD, "http://127.0.0.1:0/"),
	N("http://u@127.0.0.1/", BAD, "http://u@127.0.0.1/"),
	N("http://", BAD, "http://"),
};

static void test_by_address(void **state)
{
	struct rp__http_origin o;

	(void)state;
	origin(&o, "127.0.0.1", NULL);
	run_cases(&o, false, v4, sizeof(v4) / sizeof(v4[0]));
}

static void test_by_address_v6(void **state)
{
	static const struct want w[] = {
		F("http://[::1]:8080/a", "http://[::1]:8080/a", "[::1]:8080",
		  "/a", "", "[::1]:8080", 0),
		F("http://[0:0::1]/", "http://[0:0::1]/", "[0:0::1]", "/", "",
		  "[::1]:80", 0),
		N("http://127.0.0.1/", OTHER_HOST, "127.0.0.1"),
		N("http://[::2]/", OTHER_HOST, "::2"),
	};
	struct rp__http_origin o;

	(void)state;
	origin(&o, "::1", NULL);
	run_cases(&o, false, w, sizeof(w) / sizeof(w[0]));
}

static void test_by_name(void **state)
{
	static const struct want w[] = {
		F("http://example.TEST./a", "http://example.TEST./a",
		  "example.TEST.", "/a", "example.TEST.", "-", 80),
		F("http://example.test:81/", "http://example.test:81/",
		  "example.test:81", "/", "example.test", "-", 81),
		F("/rel", "/rel", "h:8080", "/rel", "", "127.0.0.1:8080", 0),
		N("http://other.test/", OTHER_HOST, "other.test"),
		N("http://sub.example.test/", OTHER_HOST, "sub.example.test"),
		N("http://example.test.evil/", OTHER_HOST,
		  "example.test.evil"),
		N("http://example.tes/", OTHER_HOST, "example.tes"),
		N("http://127.0.0.1:8080/", OTHER_HOST, "127.0.0.1"),
	};
	struct rp__http_origin o;

	(void)state;
	origin(&o, NULL, "Example.test.");
	run_cases(&o, false, w, sizeof(w) / sizeof(w[0]));
}

static void test_any_host(void **state)
{
	static const struct want w[] = {
		F("http://127.0.0.2/x", "http://127.0.0.2/x", "127.0.0.2",
		  "/x", "", "127.0.0.2:80", 0),
		F("http://other.test:8000/", "http://other.test:8000/",
		  "other.test:8000", "/", "other.test", "-", 8000),
		F("http://[::1]:9/", "http://[::1]:9/", "[::1]:9", "/", "",
		  "[::1]:9", 0),
		/* scope aside, the rest is as without it */
		N("https://127.0.0.2/", HTTPS, "https://127.0.0.2/"),
		N("fixed", RELATIVE, "fixed"),
	};
	struct rp__http_origin o;

	(void)state;
	origin(&o, "127.0.0.1", NULL);
	run_cases(&o, true, w, sizeof(w) / sizeof(w[0]));
}

/* A Location at its kept bound (RP__HDR_VALUE_MAX - 1 bytes) may have
 * been cut: not followed. One byte less is. */
static void test_long(void **state)
{
	char cut[RP__HDR_VALUE_MAX], fits[RP__HDR_VALUE_MAX];
	struct rp__http_origin o;

	(void)state;
	memset(cut, 'a', sizeof(cut));
	cut[0] = '/';
	cut[sizeof(cut) - 1] = '\0';
	memcpy(fits, cut, sizeof(fits));
	fits[sizeof(fits) - 2] = '\0';
	const struct want w[] = {
		N(cut, TOO_LONG, cut),
		F(fits, fits, "h:8080", fits, "", "127.0.0.1:8080", 0),
	};
	origin(&o, "127.0.0.1", NULL);
	run_cases(&o, false, w, sizeof(w) / sizeof(w[0]));
	assert_string_equal(rp__redirect_reason(RP__REDIRECT_TOO_LONG),
			    "Location too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_address),
		cmocka_unit_test(test_by_address_v6),
		cmocka_unit_test(test_by_name),
		cmocka_unit_test(test_any_host),
		cmocka_unit_test(test_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
