/*
 * The header's "Structs grow" contract, as a program built against another
 * version of ringprobe.h meets it: the _ex calls take the struct's size as
 * that program's header knows it.
 *  - older program (shorter struct): accepted, the missing fields default;
 *  - newer program (longer struct): accepted when the fields this library
 *    does not know are zero, refused with -E2BIG and a message otherwise;
 *  - rp_engine_stats_ex() never writes past the caller's size;
 * and the rest of issue 14's "API that can grow": rp_version_number(), and
 * create's error text naming the bad option.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ringprobe.h"
#include "t_net.h"

#define TAIL 64 /* bytes a "newer header" adds */

static int results, last_status;

static void on_result(const struct rp_result *r, void *arg)
{
	(void)arg;
	results++;
	last_status = r->status;
}

static struct rp_engine_opts base_opts(void)
{
	struct rp_engine_opts o = { .concurrency = 4, .on_result = on_result };

	return o;
}

static void test_version_number(void **state)
{
	char want[32];
	unsigned v = rp_version_number();

	(void)state;
	assert_int_equal(v, RP_VERSION_HEX);
	snprintf(want, sizeof(want), "%u.%u.%u", v >> 16, v >> 8 & 0xff,
		 v & 0xff);
	assert_string_equal(want, rp_version());
}

/* A newer header's opts: this library's struct, then TAIL more bytes. */
static void test_newer_opts(void **state)
{
	unsigned char *buf = calloc(1, sizeof(struct rp_engine_opts) + TAIL);
	struct rp_engine_opts o = base_opts();
	struct rp_engine *e = NULL;
	char err[200];

	(void)state;
	assert_non_null(buf);
	memcpy(buf, &o, sizeof(o));
	/* unknown fields all zero: "default", so accepted */
	assert_int_equal(rp_engine_create_ex(&e, (void *)buf, sizeof(o) + TAIL,
					     err, sizeof(err)),
			 0);
	rp_engine_destroy(e);
	/* one of them set: a request this library cannot honour */
	buf[sizeof(o) + TAIL - 1] = 1;
	e = NULL;
	assert_int_equal(rp_engine_create_ex(&e, (void *)buf, sizeof(o) + TAIL,
					     err, sizeof(err)),
			 -E2BIG);
	assert_null(e);
	assert_non_null(strstr(err, "does not know"));
	free(buf);
}

/* An older header's opts: shorter, what it lacks is taken as zero. The
 * struct is a heap block of exactly its size, so a library reading past
 * it shows under ASan and valgrind. */
static void test_older_opts(void **state)
{
	struct rp_engine_opts o = base_opts();
	size_t oldsz = offsetof(struct rp_engine_opts, dns) +
		       sizeof(struct rp_dns_opts);
	struct rp_engine *e = NULL;
	unsigned char *buf = malloc(oldsz);
	char err[200];

	(void)state;
	assert_non_null(buf);
	memcpy(buf, &o, oldsz);
	assert_int_equal(rp_engine_create_ex(&e, (void *)buf, oldsz, err,
					     sizeof(err)),
			 0);
	rp_engine_destroy(e);
	/* shorter than any version: not an rp_engine_opts */
	assert_int_equal(rp_engine_create_ex(&e, (void *)buf, 8, err,
					     sizeof(err)),
			 -EINVAL);
	assert_true(err[0] != '\0');
	free(buf);
}

/* rp_stats.concurrency of a struct too short to be read as one. */
static uint32_t concurrency_of(const unsigned char *st)
{
	uint32_t v;

	memcpy(&v, st + offsetof(struct rp_stats, concurrency), sizeof(v));
	return v;
}

static void test_stats_sizes(void **state)
{
	struct rp_engine_opts o = base_opts();
	size_t oldsz = offsetof(struct rp_stats, rtt_count);
	size_t full = sizeof(struct rp_stats);
	unsigned char *buf = malloc(full + TAIL);
	struct rp_engine *e;

	(void)state;
	assert_non_null(buf);
	assert_int_equal(rp_engine_create(&e, &o), 0);
	/* older: nothing written past its size */
	memset(buf, 0xa5, full + TAIL);
	rp_engine_stats_ex(e, (struct rp_stats *)buf, oldsz);
	for (size_t i = oldsz; i < full + TAIL; i++)
		assert_int_equal(buf[i], 0xa5);
	assert_int_equal(((struct rp_stats *)buf)->concurrency, 4);
	/* newer: what it has beyond ours is zeroed */
	rp_engine_stats_ex(e, (struct rp_stats *)buf, full + TAIL);
	for (size_t i = full; i < full + TAIL; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(((struct rp_stats *)buf)->concurrency, 4);
	/* merge of two older structs stays within them too */
	unsigned char *a = malloc(oldsz + TAIL), *b = malloc(oldsz);
	assert_non_null(a);
	assert_non_null(b);
	memset(a, 0, oldsz);
	memset(a + oldsz, 0x5a, TAIL);
	rp_engine_stats_ex(e, (struct rp_stats *)b, oldsz);
	rp_stats_merge_ex((struct rp_stats *)a, (struct rp_stats *)b, oldsz);
	assert_int_equal(concurrency_of(a), 4);
	for (size_t i = oldsz; i < oldsz + TAIL; i++)
		assert_int_equal(a[i], 0x5a);
	free(a);
	free(b);
	free(buf);
	rp_engine_destroy(e);
}

/* Targets from a newer and an older header reach the probe. */
static void test_target_sizes(void **state)
{
	struct rp_engine_opts o = base_opts();
	unsigned char *buf = calloc(1, sizeof(struct rp_target) + TAIL);
	struct sockaddr_in *sin;
	struct rp_target t = { 0 };
	struct rp_engine *e;
	int port, fd;

	(void)state;
	assert_non_null(buf);
	fd = t_bind_port(AF_INET, 0, 0, &port); /* held, not listening */
	assert_true(fd >= 0);
	sin = (struct sockaddr_in *)&t.addr;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t.addrlen = sizeof(*sin);
	memcpy(buf, &t, sizeof(t));
	assert_int_equal(rp_engine_create(&e, &o), 0);
	results = 0;
	assert_int_equal(rp_engine_submit_ex(e, (void *)buf,
					     sizeof(t) + TAIL),
			 0);
	assert_int_equal(rp_engine_submit_ex(e, (void *)buf,
					     offsetof(struct rp_target, tls) +
						     sizeof(int)),
			 0);
	buf[sizeof(t) + 3] = 7;
	assert_int_equal(rp_engine_submit_ex(e, (void *)buf,
					     sizeof(t) + TAIL),
			 -E2BIG);
	while (results < 2 && rp_engine_run(e, 1000) > 0)
		;
	assert_int_equal(results, 2);
	assert_int_equal(last_status, RP_STATUS_CLOSED);
	rp_engine_destroy(e);
	close(fd);
	free(buf);
}

/* create says which option was bad. */
static void test_error_text(void **state)
{
	static const char *const bad_headers[] = { "NoColon", NULL };
	struct rp_engine_opts o;
	struct rp_engine *e = NULL;
	char err[200];

	(void)state;
	o = base_opts();
	o.timeout_ns = RP_TIMEOUT_MAX_NS + 1;
	assert_int_equal(rp_engine_create_ex(&e, &o, sizeof(o), err,
					     sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "timeout_ns"));

	o = base_opts();
	o.kind = RP_PROBE_HTTP;
	o.http.method = "GE T";
	assert_int_equal(rp_engine_create_ex(&e, &o, sizeof(o), err,
					     sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "http.method"));

	o.http.method = NULL;
	o.http.headers = bad_headers;
	assert_int_equal(rp_engine_create_ex(&e, &o, sizeof(o), err,
					     sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "http.headers[0]"));

	o = base_opts();
	o.on_result = NULL;
	assert_int_equal(rp_engine_create_ex(&e, &o, sizeof(o), err,
					     sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "on_result"));

	/* success leaves the buffer empty; NULL buffers are fine */
	o = base_opts();
	assert_int_equal(rp_engine_create_ex(&e, &o, sizeof(o), err,
					     sizeof(err)),
			 0);
	assert_string_equal(err, "");
	rp_engine_destroy(e);
	o.timeout_ns = RP_TIMEOUT_MAX_NS + 1;
	assert_int_equal(rp_engine_create_ex(&e, &o, sizeof(o), NULL, 0),
			 -EINVAL);
}

/* The plain names are functions too, for their address and bindings. */
static void test_plain_functions(void **state)
{
	int (*create)(struct rp_engine **, const struct rp_engine_opts *) =
		rp_engine_create;
	void (*stats)(const struct rp_engine *, struct rp_stats *) =
		rp_engine_stats;
	struct rp_engine_opts o = base_opts();
	static struct rp_stats st;
	struct rp_engine *e;

	(void)state;
	assert_int_equal(create(&e, &o), 0);
	stats(e, &st);
	assert_int_equal(st.concurrency, 4);
	rp_engine_destroy(e);
}

static void test_source_sizes(void **state)
{
	unsigned char *buf = calloc(1, sizeof(struct rp_source_opts) + TAIL);
	struct rp_source *s = NULL;
	char err[200];

	(void)state;
	assert_non_null(buf);
	((struct rp_source_opts *)buf)->ports = "80";
	assert_int_equal(rp_source_create_ex(&s, (void *)buf,
					     sizeof(struct rp_source_opts) +
						     TAIL,
					     err, sizeof(err)),
			 0);
	rp_source_destroy(s);
	buf[sizeof(struct rp_source_opts) + 1] = 1;
	s = NULL;
	assert_int_equal(rp_source_create_ex(&s, (void *)buf,
					     sizeof(struct rp_source_opts) +
						     TAIL,
					     err, sizeof(err)),
			 -E2BIG);
	assert_null(s);
	assert_true(err[0] != '\0');
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_number),
		cmocka_unit_test(test_newer_opts),
		cmocka_unit_test(test_older_opts),
		cmocka_unit_test(test_stats_sizes),
		cmocka_unit_test(test_target_sizes),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_source_sizes),
		cmocka_unit_test(test_plain_functions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
