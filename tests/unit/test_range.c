/*
 * test_range.c - address ranges in target lines (range.c, expand.c) and
 * the source's no_resolve option: what looks like an address is never a
 * name, ranges expand in order and by position, bad ranges say why.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ringprobe.h"
#include "sa_text.h"
#include "target.h"

static struct rp__ports ports;

static void parse_ok(const char *text, struct rp__spec *sp)
{
	char err[160];

	if (rp__target_parse(text, strlen(text), sp, err, sizeof(err)))
		fail_msg("'%s': %s", text, err);
}

/* Expands text over port list pl and compares with want (NULL-ended);
 * each target must also be what rp__spec_addr() gives at its ordinal. */
static void expand(const char *text, const char *pl, const char *const *want)
{
	struct rp__spec sp;
	struct rp__iter it;
	struct sockaddr_storage ss, at;
	socklen_t len, alen;
	char err[160], a[80], b[80];
	size_t n = 0;

	parse_ok(text, &sp);
	assert_int_equal(rp__ports_parse(&ports, pl, err, sizeof(err)), 0);
	assert_int_equal(rp__iter_init(&it, &sp, &ports, err, sizeof(err)), 0);
	while (rp__iter_next(&it, &ss, &len)) {
		sa_text(&ss, a, sizeof(a));
		if (!want[n] || strcmp(a, want[n]))
			fail_msg("'%s': target %zu is %s, want %s", text, n, a,
				 want[n] ? want[n] : "(end)");
		rp__spec_addr(&sp, sp.port ? n : n / ports.count, it.port,
			      &at, &alen);
		sa_text(&at, b, sizeof(b));
		assert_int_equal(alen, len);
		assert_string_equal(a, b);
		n++;
	}
	if (want[n])
		fail_msg("'%s': missing target %s", text, want[n]);
	assert_int_equal(rp__spec_count(&sp, &ports), n);
}

static void test_range_expand(void **state)
{
	static const char *const oct[] = { "10.0.0.1:80", "10.0.0.2:80",
					   "10.0.0.3:80", NULL };
	static const char *const two[] = {
		"10.0.0.1:22", "10.0.0.1:80", "10.0.0.2:22", "10.0.0.2:80",
		"10.0.1.1:22", "10.0.1.1:80", "10.0.1.2:22", "10.0.1.2:80",
		NULL,
	};
	static const char *const ab[] = { "10.0.0.254:7", "10.0.0.255:7",
					  "10.0.1.0:7", "10.0.1.1:7", NULL };
	static const char *const v6[] = { "[2001:db8::fffe]:443",
					  "[2001:db8::ffff]:443",
					  "[2001:db8::1:0]:443", NULL };
	static const char *const v6c[] = {
		"[::ffff:ffff:ffff:ffff]:1", "[0:0:0:1::]:1", NULL };
	static const char *const one[] = { "1.2.3.4:9", NULL };

	(void)state;
	expand("10.0.0.1-3", "80", oct);
	expand("10.0.0-1.1-2", "80,22", two);
	expand("10.0.0.254-10.0.1.1:7", "1-3", ab);
	expand("[2001:db8::fffe-2001:db8::1:0]:443", "1", v6);
	/* the carry crosses from the low 64 bits to the high ones */
	expand("::ffff:ffff:ffff:ffff-0:0:0:1::", "1", v6c);
	expand("1.2.3.4-1.2.3.4", "9", one);
	expand("1.2.3.4-4", "9", one);
}

static void test_range_parse(void **state)
{
	struct rp__spec sp;

	(void)state;
	parse_ok("10.0.*.1", &sp);
	assert_int_equal(sp.kind, RP__SPEC_OCTETS);
	assert_int_equal(sp.naddrs, 256);
	parse_ok("*.*.*.*:80", &sp);
	assert_int_equal(sp.naddrs, 1ULL << 32);
	assert_int_equal(sp.port, 80);
	parse_ok("0.0.0.0-255.255.255.255", &sp);
	assert_int_equal(sp.kind, RP__SPEC_RANGE);
	assert_int_equal(sp.naddrs, 1ULL << 32);
	parse_ok("127.0.0.1-5:8080", &sp);
	assert_int_equal(sp.naddrs, 5);
	assert_int_equal(sp.port, 8080);
	parse_ok("1.2.3.4-1.2.3.4", &sp);
	assert_int_equal(sp.naddrs, 1);
	parse_ok("fd00::-fd00::f:ffff", &sp);
	assert_int_equal(sp.naddrs, 1u << 20);
	parse_ok("[::1-::3]:22", &sp);
	assert_int_equal(sp.family, AF_INET6);
	assert_int_equal(sp.naddrs, 3);
	/* a single octet value is a plain address */
	parse_ok("10.0.0.7", &sp);
	assert_int_equal(sp.kind, RP__SPEC_ADDR);
	/* a name with dashes stays a name */
	parse_ok("a-1.example-2.com", &sp);
	assert_int_equal(sp.kind, RP__SPEC_HOSTNAME);
}

/* The 10.0.0.x-style address at ordinal idx of a huge space: O(1). */
static void test_range_by_position(void **state)
{
	struct rp__spec sp;
	struct sockaddr_storage ss;
	socklen_t len;
	char a[80];

	(void)state;
	parse_ok("*.*.*.*", &sp);
	rp__spec_addr(&sp, 0xfffffffeULL, 1, &ss, &len);
	sa_text(&ss, a, sizeof(a));
	assert_string_equal(a, "255.255.255.254:1");
	parse_ok("1-2.0-255.7.100-199", &sp);
	assert_int_equal(sp.naddrs, 2 * 256 * 100);
	rp__spec_addr(&sp, 256 * 100 + 3 * 100 + 42, 5, &ss, &len);
	sa_text(&ss, a, sizeof(a));
	assert_string_equal(a, "2.3.7.142:5");
}

static void test_range_bad(void **state)
{
	static const struct {
		const char *text, *needle;
	} bad[] = {
		{ "10.0.0.5-2", "octet 4 goes down (5-2)" },
		{ "10.0.0.300", "octet 4 '300' is not 0-255" },
		{ "10.0.0.300-301", "octet 4 '300' is not 0-255" },
		{ "10.0.0-256.1", "octet 3 '256' is not 0-255" },
		{ "10.0.0.01-5", "octet 4 '01' has a leading zero" },
		{ "10.0.0.1-", "octet 4 is empty" },
		{ "10..0.1", "octet 2 is empty" },
		{ "10.0.0", "3 octet(s), not 4" },
		{ "10.0.0.1.2", "more than 4 octets" },
		{ "10.0.0.**", "not 0-255" },
		{ "127.1.2.5-127.1.2.1", "end 127.1.2.1 is before its start" },
		{ "127.1.2.1-127.1.2.300", "octet 4 '300'" },
		{ "127.1.2.1-127.1.2.3-5", "more than 4 octets" },
		{ "127.1.2.1-5-127.1.2.3", "octet" },
		{ "::5-::1", "end is before its start" },
		{ "::1-5", "end is not an IPv6 address" },
		{ "-::5", "start is not an IPv6 address" },
		{ "fd00::-fd00::10:0", "at most 2^20" },
		{ "::-ffff::", "at most 2^20" },
		{ "::1-::2/128", "no prefix" },
		{ "1-2", "1 octet(s), not 4" },
		{ "http://10.0.0.1-3/", "a URL names one host, not a range" },
		{ "http://[::1-::2]/", "a URL names one host, not a range" },
		/* ranges of one address too (fuzz_target found the first) */
		{ "https://1.0.0.0-1.0.0.0", "a URL names one host, not a range" },
		{ "http://10.0.0.1-1:8080/", "a URL names one host, not a range" },
		{ "http://[::1-::1]/", "a URL names one host, not a range" },
	};
	struct rp__spec sp;
	char err[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (rp__target_parse(bad[i].text, strlen(bad[i].text), &sp,
				     err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' parsed", bad[i].text);
		if (!strstr(err, bad[i].needle))
			fail_msg("'%s': '%s' lacks '%s'", bad[i].text, err,
				 bad[i].needle);
	}
}

/* no_resolve: each line naming a host is one INVALID target that says
 * -n; addresses and ranges are unaffected. */
static void test_no_resolve(void **state)
{
	static const char *const args[] = { "localhost", "127.0.0.1-2",
					     "http://example.com/x",
					     "::1" };
	struct rp_source_opts o = { .ports = "1-3", .no_resolve = 1 };
	struct rp_source *s;
	struct rp_target t;
	int invalid = 0, good = 0;
	size_t i;

	(void)state;
	assert_int_equal(rp_source_create(&s, &o, NULL, 0), 0);
	for (i = 0; i < sizeof(args) / sizeof(args[0]); i++)
		assert_int_equal(rp_source_add_arg(s, args[i]), 0);
	while (rp_source_next(s, &t) == 1) {
		if (t.status == RP_STATUS_INVALID) {
			assert_non_null(strstr(t.detail, "-n"));
			invalid++;
		} else {
			assert_null(t.name);
			good++;
		}
	}
	assert_int_equal(invalid, 2);
	assert_int_equal(good, 2 * 3 + 3);
	assert_int_equal(rp_source_total(s), 2 + 2 * 3 + 3);
	rp_source_destroy(s);

	/* without it, the name is a name */
	o.no_resolve = 0;
	assert_int_equal(rp_source_create(&s, &o, NULL, 0), 0);
	assert_int_equal(rp_source_add_arg(s, "localhost"), 0);
	assert_int_equal(rp_source_next(s, &t), 1);
	assert_int_equal(t.status, 0);
	assert_string_equal(t.name, "localhost");
	rp_source_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_parse),
		cmocka_unit_test(test_range_expand),
		cmocka_unit_test(test_range_by_position),
		cmocka_unit_test(test_range_bad),
		cmocka_unit_test(test_no_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
