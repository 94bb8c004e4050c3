/*
 * test_target.c - unit tests for target.c: durations, port lists, target
 * line parsing (including hostile bytes) and the expansion of addresses
 * and blocks over a port set.
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

/* ---- durations ---------------------------------------------------------- */

static void test_duration_good(void **state)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} ok[] = {
		{ "500ms", 500000000ULL },
		{ "1.5s", 1500000000ULL },
		{ "2m", 120000000000ULL },
		{ "1h", 3600000000000ULL },
		{ "1.5h", 5400000000000ULL },
		{ "24h", 86400000000000ULL },
		{ "86400", 86400000000000ULL },
		{ "1440m", 86400000000000ULL },
		{ "0", 0 },
		{ "0ms", 0 },
		{ "10", 10000000000ULL },
		{ "0.5", 500000000ULL },
		{ "1ns", 1 },
		{ "7us", 7000 },
		{ "1.000000001s", 1000000001ULL },
		{ "1.0000000019s", 1000000001ULL },
		{ "0.25ms", 250000 },
		{ "000000000000000000000001s", 1000000000ULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t ns = 12345;

		if (rp_parse_duration(ok[i].s, &ns) != 0 || ns != ok[i].ns)
			fail_msg("'%s': got %llu", ok[i].s,
				 (unsigned long long)ns);
	}
}

static void test_duration_bad(void **state)
{
	static const char *const inval[] = {
		"", "ms", "s", "-1s", "-1", "+1s", "1s5", "1 s", " 1s", "1s ",
		"1.s", ".5s", "1x", "s1", "1.5.5s", "1S", "1sec", "0x10",
		"1e3", "1,5s", "\t", "1\n", "nan", "1msms",
	};
	static const char *const range[] = {
		"25h", "24.0000001h", "86401", "86400.000000001",
		"99999999999999999999999s", "1441m", "18446744073709551616ns",
		"99999999999999999999999999999999999999",
	};
	uint64_t ns;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(inval) / sizeof(inval[0]); i++)
		if (rp_parse_duration(inval[i], &ns) != -EINVAL)
			fail_msg("'%s' was not -EINVAL", inval[i]);
	for (i = 0; i < sizeof(range) / sizeof(range[0]); i++)
		if (rp_parse_duration(range[i], &ns) != -ERANGE)
			fail_msg("'%s' was not -ERANGE", range[i]);
	assert_int_equal(rp_parse_duration(NULL, &ns), -EINVAL);
}

/* ---- port lists --------------------------------------------------------- */

static struct rp__ports ports; /* 8 KiB: keep it off the stack */

static void test_ports_parse(void **state)
{
	char err[128];
	int p, n;

	(void)state;
	assert_int_equal(rp__ports_parse(&ports, "22,80,8000-8100", err,
					 sizeof(err)), 0);
	assert_int_equal(ports.count, 103);
	assert_int_equal(rp__ports_next(&ports, 0), 22);
	assert_int_equal(rp__ports_next(&ports, 22), 80);
	assert_int_equal(rp__ports_next(&ports, 80), 8000);
	assert_int_equal(rp__ports_next(&ports, 8099), 8100);
	assert_int_equal(rp__ports_next(&ports, 8100), -1);
	assert_true(rp__ports_has(&ports, 8050));
	assert_false(rp__ports_has(&ports, 81));

	assert_int_equal(rp__ports_parse(&ports, "1-65535", err, sizeof(err)),
			 0);
	assert_int_equal(ports.count, 65535);
	for (p = 0, n = 0; (p = rp__ports_next(&ports, p)) > 0; n++)
		assert_int_equal(p, n + 1);
	assert_int_equal(n, 65535);

	/* blanks around items and dashes; duplicates and overlaps */
	assert_int_equal(rp__ports_parse(&ports, " 443 ,\t80 , 79 - 81,80 ",
					 err, sizeof(err)), 0);
	assert_int_equal(ports.count, 4);
	assert_int_equal(rp__ports_next(&ports, 0), 79);
	assert_int_equal(rp__ports_next(&ports, 81), 443);

	assert_int_equal(rp__ports_parse(&ports, "65535", err, sizeof(err)),
			 0);
	assert_int_equal(rp__ports_next(&ports, 0), 65535);
	assert_int_equal(rp__ports_next(&ports, 65535), -1);
	assert_int_equal(rp__ports_next(&ports, 70000), -1);
}

/* Schemes in port lists: "https:P" and "http:P" win over the default;
 * AUTO makes 443 and 8443 https. */
static void test_ports_schemes(void **state)
{
	char err[128];

	(void)state;
	assert_int_equal(rp__ports_parse(&ports, "HTTPS:8000-8001, http:443,80,"
					 "8443,https:9000", err, sizeof(err)),
			 0);
	assert_int_equal(ports.count, 6);
	assert_true(rp__ports_has(&ports, 8001) && rp__ports_has(&ports, 9000));
	/* AUTO: listed schemes, then 443 and 8443 */
	assert_true(rp__ports_tls(&ports, 8000, RP_SCHEME_AUTO));
	assert_true(rp__ports_tls(&ports, 8001, RP_SCHEME_AUTO));
	assert_false(rp__ports_tls(&ports, 443, RP_SCHEME_AUTO));
	assert_false(rp__ports_tls(&ports, 80, RP_SCHEME_AUTO));
	assert_true(rp__ports_tls(&ports, 8443, RP_SCHEME_AUTO));
	assert_true(rp__ports_tls(&ports, 9000, RP_SCHEME_AUTO));
	/* a port not in the list (a target's own): the default alone */
	assert_false(rp__ports_tls(&ports, 8080, RP_SCHEME_AUTO));
	assert_true(rp__ports_tls(&ports, 8080, RP_SCHEME_HTTPS));
	assert_false(rp__ports_tls(&ports, 8443, RP_SCHEME_HTTP));
	assert_true(rp__ports_tls(&ports, 9000, RP_SCHEME_HTTP));
	assert_false(rp__ports_tls(&ports, 443, RP_SCHEME_HTTPS));
	assert_false(rp__ports_tls(&ports, 0, RP_SCHEME_HTTPS));
	/* a scheme needs a port after it */
	assert_int_equal(rp__ports_parse(&ports, "https:", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(rp__ports_parse(&ports, "ftp:21", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(ports.count, 0);
}

static void test_ports_sparse_walk(void **state)
{
	static const int want[] = { 1, 63, 64, 127, 128, 4095, 4096, 40000,
				    65534, 65535 };
	size_t i;
	int p = 0;

	(void)state;
	rp__ports_clear(&ports);
	for (i = sizeof(want) / sizeof(want[0]); i-- > 0;)
		rp__ports_add(&ports, want[i], want[i]);
	rp__ports_add(&ports, 0, 5);	 /* invalid: ignored */
	rp__ports_add(&ports, 9, 8);	 /* reversed: ignored */
	rp__ports_add(&ports, 1, 65536); /* out of range: ignored */
	assert_int_equal(ports.count, 10);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		p = rp__ports_next(&ports, p);
		assert_int_equal(p, want[i]);
	}
	assert_int_equal(rp__ports_next(&ports, p), -1);
}

static void test_ports_errors(void **state)
{
	static const struct {
		const char *spec;
		const char *needle; /* must appear in the message */
	} bad[] = {
		{ "0", "'0'" },
		{ "65536", "'65536'" },
		{ "80,0", "'0'" },
		{ "22,65536,80", "out of range" },
		{ "100-90", "'100-90': reversed" },
		{ "", "empty port list" },
		{ "   ", "empty port list" },
		{ ",", "item 1 is empty" },
		{ "80,", "item 2 is empty" },
		{ "80,,81", "item 2 is empty" },
		{ "abc", "'abc'" },
		{ "80x", "'80x'" },
		{ "123456", "too long" },
		{ "0000080", "too long" },
		{ "-80", "'-80'" },
		{ "80-", "'80-'" },
		{ "1-2-3", "'1-2-3'" },
		{ "0-10", "'0-10'" },
		{ "1-65536", "'1-65536'" },
		{ "8 0", "'8 0'" },
		{ "+80", "'+80'" },
		{ "\x01", "'\\x01'" },
	};
	char err[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rp__ports_add(&ports, 1, 10);
		err[0] = '\0';
		if (rp__ports_parse(&ports, bad[i].spec, err, sizeof(err)) !=
		    -EINVAL)
			fail_msg("'%s' accepted", bad[i].spec);
		if (!strstr(err, bad[i].needle))
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].spec,
				 err, bad[i].needle);
		assert_int_equal(ports.count, 0);
		assert_int_equal(rp__ports_next(&ports, 0), -1);
	}
	assert_int_equal(rp__ports_parse(&ports, NULL, NULL, 0), -EINVAL);
}

/* ---- target lines ------------------------------------------------------- */

struct want {
	const char *text;
	enum rp__spec_kind kind;
	int family;
	unsigned int port;
	unsigned int prefix;
	uint64_t naddrs;
	const char *addr; /* inet_ntop of spec.addr, or NULL */
};

static void check_good(const struct want *w)
{
	struct rp__spec sp;
	char err[160], a[INET6_ADDRSTRLEN];
	int r;

	r = rp__target_parse(w->text, strlen(w->text), &sp, err, sizeof(err));
	if (r)
		fail_msg("'%s': %s", w->text, err);
	if (sp.kind != w->kind || sp.family != w->family ||
	    sp.port != w->port || sp.naddrs != w->naddrs)
		fail_msg("'%s': kind %d family %d port %u naddrs %llu",
			 w->text, sp.kind, sp.family, sp.port,
			 (unsigned long long)sp.naddrs);
	if (w->prefix && sp.prefix != w->prefix)
		fail_msg("'%s': prefix %u", w->text, sp.prefix);
	if (w->addr) {
		inet_ntop(sp.family, &sp.addr, a, sizeof(a));
		if (strcmp(a, w->addr))
			fail_msg("'%s': address %s, want %s", w->text, a,
				 w->addr);
	}
}

static void test_parse_good(void **state)
{
	static const struct want ok[] = {
		{ "1.2.3.4", RP__SPEC_ADDR, AF_INET, 0, 32, 1, "1.2.3.4" },
		{ "1.2.3.4:80", RP__SPEC_ADDR, AF_INET, 80, 32, 1, "1.2.3.4" },
		{ "0.0.0.0:65535", RP__SPEC_ADDR, AF_INET, 65535, 32, 1,
		  "0.0.0.0" },
		{ "255.255.255.255:1", RP__SPEC_ADDR, AF_INET, 1, 32, 1,
		  "255.255.255.255" },
		{ "1.2.3.4:080", RP__SPEC_ADDR, AF_INET, 80, 32, 1, NULL },
		{ "::1", RP__SPEC_ADDR, AF_INET6, 0, 128, 1, "::1" },
		{ "[::1]", RP__SPEC_ADDR, AF_INET6, 0, 128, 1, "::1" },
		{ "[::1]:80", RP__SPEC_ADDR, AF_INET6, 80, 128, 1, "::1" },
		{ "::", RP__SPEC_ADDR, AF_INET6, 0, 128, 1, "::" },
		{ "2001:DB8::1", RP__SPEC_ADDR, AF_INET6, 0, 128, 1,
		  "2001:db8::1" },
		{ "::1:80", RP__SPEC_ADDR, AF_INET6, 0, 128, 1,
		  "::0.1.0.128" },
		{ "::ffff:1.2.3.4", RP__SPEC_ADDR, AF_INET6, 0, 128, 1,
		  "::ffff:1.2.3.4" },
		{ "[1:2:3:4:5:6:7:8]:443", RP__SPEC_ADDR, AF_INET6, 443, 128,
		  1, "1:2:3:4:5:6:7:8" },
		{ "10.0.0.0/8", RP__SPEC_CIDR4, AF_INET, 0, 8, 1u << 24,
		  "10.0.0.0" },
		{ "10.1.2.3/8", RP__SPEC_CIDR4, AF_INET, 0, 8, 1u << 24,
		  "10.0.0.0" },
		{ "192.168.1.77/30:22", RP__SPEC_CIDR4, AF_INET, 22, 30, 4,
		  "192.168.1.76" },
		{ "1.2.3.4/32", RP__SPEC_CIDR4, AF_INET, 0, 32, 1, "1.2.3.4" },
		{ "1.2.3.4/0", RP__SPEC_CIDR4, AF_INET, 0, 0, 1ULL << 32,
		  "0.0.0.0" },
		{ "2001:db8::ff/120", RP__SPEC_CIDR6, AF_INET6, 0, 120, 256,
		  "2001:db8::" },
		{ "2001:db8::abcd:ef12/108", RP__SPEC_CIDR6, AF_INET6, 0, 108,
		  1u << 20, "2001:db8::abc0:0" },
		{ "[2001:db8::/126]:443", RP__SPEC_CIDR6, AF_INET6, 443, 126,
		  4, "2001:db8::" },
		{ "::1/128", RP__SPEC_CIDR6, AF_INET6, 0, 128, 1, "::1" },
		{ "example.com", RP__SPEC_HOSTNAME, 0, 0, 0, 0, NULL },
		{ "example.com:8080", RP__SPEC_HOSTNAME, 0, 8080, 0, 0, NULL },
		{ "localhost", RP__SPEC_HOSTNAME, 0, 0, 0, 0, NULL },
		{ "a-b.c_d.Example.", RP__SPEC_HOSTNAME, 0, 0, 0, 0, NULL },
		{ "1.2.3.4a", RP__SPEC_HOSTNAME, 0, 0, 0, 0, NULL },
		{ "  \t1.2.3.4:80\t # web server", RP__SPEC_ADDR, AF_INET, 80,
		  32, 1, "1.2.3.4" },
		{ "1.2.3.4#x", RP__SPEC_ADDR, AF_INET, 0, 32, 1, "1.2.3.4" },
		{ "1.2.3.4\r\n", RP__SPEC_ADDR, AF_INET, 0, 32, 1, "1.2.3.4" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		check_good(&ok[i]);
}

static void test_parse_empty_and_offsets(void **state)
{
	static const char *const empty[] = { "", " ", "\t \r\n", "#",
					     "# just a comment",
					     "   # indented comment \x01\xff" };
	const char *t = "  ex.org:9  # c";
	struct rp__spec sp;
	char err[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		assert_int_equal(rp__target_parse(empty[i], strlen(empty[i]),
						  &sp, err, sizeof(err)), 0);
		assert_int_equal(sp.kind, RP__SPEC_EMPTY);
		assert_int_equal(sp.len, 0);
	}
	assert_int_equal(rp__target_parse(t, strlen(t), &sp, err, sizeof(err)),
			 0);
	assert_int_equal(sp.kind, RP__SPEC_HOSTNAME);
	assert_int_equal(sp.off, 2);
	assert_int_equal(sp.len, 8);
	assert_int_equal(sp.host_len, 6);
	assert_int_equal(sp.port, 9);

	/* the length is explicit: text past it is not looked at */
	assert_int_equal(rp__target_parse("1.2.3.4:80", 7, &sp, err,
					  sizeof(err)), 0);
	assert_int_equal(sp.kind, RP__SPEC_ADDR);
	assert_int_equal(sp.port, 0);

	/* errors still give the trimmed range */
	t = " 1.2.3.4:0 #";
	assert_int_equal(rp__target_parse(t, strlen(t), &sp, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(sp.kind, RP__SPEC_EMPTY);
	assert_int_equal(sp.off, 1);
	assert_int_equal(sp.len, 9);
}

static void test_parse_bad(void **state)
{
	static const struct {
		const char *text;
		size_t len; /* 0: strlen */
		const char *needle;
	} bad[] = {
		{ "1.2.3.4:0", 0, "bad port '0'" },
		{ "1.2.3.4:65536", 0, "bad port '65536'" },
		{ "1.2.3.4:123456", 0, "bad port" },
		{ "1.2.3.4:8o", 0, "bad port '8o'" },
		{ "1.2.3.4:-1", 0, "bad port" },
		{ "1.2.3.4:+80", 0, "bad port" },
		{ "1.2.3.4:", 0, "missing port" },
		{ "[::1]:", 0, "missing port" },
		{ "[::1]:0", 0, "bad port '0'" },
		{ "[::1]:65536", 0, "bad port" },
		{ "example.com:0", 0, "bad port" },
		{ ":80", 0, "missing address" },
		{ "1.2.3.4/33", 0, "bad prefix length '/33'" },
		{ "1.2.3.4/", 0, "bad prefix length" },
		{ "1.2.3.4/-1", 0, "bad prefix length" },
		{ "1.2.3.4/08", 0, "bad prefix length" },
		{ "1.2.3.4/8/8", 0, "bad prefix length" },
		{ "/", 0, "missing address" },
		{ "/8", 0, "missing address" },
		{ "1.2.3/8", 0, "bad IPv4 address" },
		{ "example.com/8", 0, "bad IPv4 address" },
		{ "1.2.3", 0, "bad IPv4 address" },
		{ "1.2.3.4.5", 0, "bad IPv4 address" },
		{ "1.2.3.256", 0, "bad IPv4 address" },
		{ "01.2.3.4", 0, "bad IPv4 address" },
		{ "1.2.3.04:80", 0, "bad IPv4 address" },
		{ "1..2.3", 0, "bad IPv4 address" },
		{ "1.2.3.4.", 0, "bad IPv4 address" },
		{ "1234", 0, "bad IPv4 address" },
		{ "2001:db8::/107", 0, "at most 2^20 addresses (prefix /108" },
		{ "::/0", 0, "too large" },
		{ "[2001:db8::/64]:80", 0, "too large" },
		{ "2001:db8::/129", 0, "bad prefix length" },
		{ "1:2:3:4:5:6:7:8:9", 0, "bad IPv6 address" },
		{ "::g", 0, "bad IPv6 address" },
		{ ":::", 0, "bad IPv6 address" },
		{ "fe80::1%eth0", 0, "zone ids" },
		{ "[fe80::1%1]:80", 0, "zone ids" },
		{ "[::1", 0, "missing ']'" },
		{ "::1]", 0, "bad IPv6 address" },
		{ "[::1]x", 0, "junk after ']'" },
		{ "[::1]:80:80", 0, "bad port" },
		{ "[1.2.3.4]:80", 0, "only for IPv6" },
		{ "[]", 0, "only for IPv6" },
		{ "a]b", 0, "misplaced" },
		{ "1.2.3.4 80", 0, "blank inside" },
		{ "exa mple.com", 0, "blank inside" },
		{ "1.2.3.4\r5", 0, "blank inside" },
		{ "ex\x01mple.com", 0, "control character" },
		{ "1.2.3.4\x7f", 0, "control character" },
		{ "\x1b[31m", 0, "control character" },
		{ "1.2.3.4\0:80", 10, "NUL byte" },
		{ "\0", 1, "NUL byte" },
		{ "1.2.3.4 #\0", 10, "NUL byte" },
		{ "1http://example.com/", 0, "bad URL scheme '1http'" },
		{ "://example.com/", 0, "bad URL scheme ''" },
		{ "1.2.3.4://", 0, "bad URL scheme '1.2.3.4'" },
		{ "\xc3\xa9t\xc3\xa9.fr", 0, "bad character '\\xc3'" },
		{ "\xff\xfe\xfd", 0, "bad character" },
		{ "bad!", 0, "bad character '!'" },
		{ "a'b", 0, "bad character '\\x27'" },
		{ "-a.com", 0, "starts or ends with '-'" },
		{ "a-.com", 0, "starts or ends with '-'" },
		{ "a..com", 0, "empty label" },
		{ ".com", 0, "empty label" },
		{ "a.com..", 0, "empty label" },
		{ "example..test:80", 0, "empty label" },
		{ ".example.test:80", 0, "empty label" },
		{ "..", 0, "bad IPv4 address" },
		{ "example.test-:80", 0, "starts or ends with '-'" },
		{ "ex*mple.test", 0, "bad character '*'" },
		{ "ex%41mple.test:80", 0, "bad character '%'" },
		{ "example.test/24", 0, "bad IPv4 address" },
		{ "example.test:8080x", 0, "bad port '8080x'" },
		{ "example.test:", 0, "missing port" },
		{ "a:b:c", 0, "bad IPv6 address" },
		{ "host:port", 0, "bad port 'port'" },
	};
	struct rp__spec sp;
	char err[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);

		err[0] = '\0';
		if (rp__target_parse(bad[i].text, len, &sp, err, sizeof(err)) !=
		    -EINVAL)
			fail_msg("entry %zu accepted (kind %d)", i, sp.kind);
		if (!strstr(err, bad[i].needle))
			fail_msg("entry %zu: message '%s' lacks '%s'", i, err,
				 bad[i].needle);
		assert_int_equal(sp.kind, RP__SPEC_EMPTY);
		assert_int_equal(sp.naddrs, 0);
	}
}

static void test_parse_hostname_limits(void **state)
{
	char buf[300], err[160];
	struct rp__spec sp;
	size_t i;

	(void)state;
	/* a 63-byte label is fine, 64 is not */
	memset(buf, 'a', 63);
	strcpy(buf + 63, ".com");
	assert_int_equal(rp__target_parse(buf, strlen(buf), &sp, err,
					  sizeof(err)), 0);
	assert_int_equal(sp.kind, RP__SPEC_HOSTNAME);
	memset(buf, 'a', 64);
	strcpy(buf + 64, ".com");
	assert_int_equal(rp__target_parse(buf, strlen(buf), &sp, err,
					  sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer than 63"));
	/* with a port, and in a URL, the same */
	strcpy(buf + 68, ":80");
	assert_int_equal(rp__target_parse(buf, strlen(buf), &sp, err,
					  sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer than 63"));
	memmove(buf + 7, buf, strlen(buf) + 1);
	memcpy(buf, "http://", 7);
	assert_int_equal(rp__target_parse(buf, strlen(buf), &sp, err,
					  sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer than 63"));
	buf[7] = '_'; /* 63 again, starting with "_": fine */
	memmove(buf + 8, buf + 9, strlen(buf + 9) + 1);
	assert_int_equal(rp__target_parse(buf, strlen(buf), &sp, err,
					  sizeof(err)), 0);
	assert_int_equal(sp.kind, RP__SPEC_URL);
	assert_int_equal(sp.host_len, 63 + 4);

	/* 253 bytes in all is fine (plus a trailing dot), 254 is not */
	for (i = 0; i < 253; i++)
		buf[i] = (i % 2) ? '.' : 'x';
	buf[253] = '\0';
	assert_int_equal(rp__target_parse(buf, 253, &sp, err, sizeof(err)), 0);
	assert_int_equal(sp.host_len, 253);
	buf[253] = '.';
	buf[254] = '\0';
	assert_int_equal(rp__target_parse(buf, 254, &sp, err, sizeof(err)), 0);
	assert_int_equal(sp.host_len, 254); /* the dot is kept */
	buf[253] = 'x';
	assert_int_equal(rp__target_parse(buf, 254, &sp, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "longer than 253"));
}

/*
 * Random lines of hostile bytes: the parser must not crash, and whatever
 * it accepts must be self-consistent.
 */
static void test_parse_random_bytes(void **state)
{
	static const char alphabet[] = "0123456789abcdefABCDEF.:/[]#%- \t\r"
				       "\n\x00\x01\xff";
	struct rp__spec sp;
	char line[48], err[160];
	unsigned int seed = 12345, i, accepted = 0;

	(void)state;
	for (i = 0; i < 200000; i++) {
		size_t n = (size_t)(rand_r(&seed) % (int)sizeof(line)), k;
		int r;

		for (k = 0; k < n; k++)
			line[k] = alphabet[rand_r(&seed) %
					   (int)(sizeof(alphabet) - 1)];
		r = rp__target_parse(line, n, &sp, err, sizeof(err));
		assert_true(sp.off + sp.len <= n);
		if (r) {
			assert_int_equal(r, -EINVAL);
			assert_true(err[0] != '\0');
			assert_int_equal(sp.kind, RP__SPEC_EMPTY);
			continue;
		}
		assert_null(memchr(line, '\0', n));
		accepted++;
		switch (sp.kind) {
		case RP__SPEC_EMPTY:
			assert_int_equal(sp.len, 0);
			break;
		case RP__SPEC_ADDR:
			assert_int_equal(sp.naddrs, 1);
			break;
		case RP__SPEC_CIDR4:
			assert_true(sp.prefix <= 32);
			assert_true(sp.naddrs == 1ULL << (32 - sp.prefix));
			break;
		case RP__SPEC_CIDR6:
			assert_true(sp.prefix >= RP__CIDR6_MIN_PREFIX);
			assert_true(sp.naddrs <= 1u << 20);
			break;
		case RP__SPEC_HOSTNAME:
			assert_true(sp.host_len > 0 && sp.host_len <= 254);
			/* a name: one target on its port, else none */
			assert_int_equal(sp.family, 0);
			assert_int_equal(rp__spec_count(&sp, NULL),
					 sp.port ? 1 : 0);
			break;
		default:
			fail_msg("bad kind %d", sp.kind);
		}
	}
	assert_true(accepted > 0);
}

/* ---- expansion ---------------------------------------------------------- */

/* Expands text over the port list; returns the count, checks the order
 * against want (NULL-terminated) if given. A name target (no address) is
 * written "NAME:PORT" with NAME as written in text. */
static uint64_t expand(const char *text, const char *portspec,
		       const char *const *want)
{
	struct rp__spec sp;
	struct rp__iter it;
	struct sockaddr_storage ss;
	socklen_t len;
	char err[160], a[80];
	uint64_t n = 0;

	if (rp__target_parse(text, strlen(text), &sp, err, sizeof(err)))
		fail_msg("'%s': %s", text, err);
	rp__ports_clear(&ports);
	if (portspec && rp__ports_parse(&ports, portspec, err, sizeof(err)))
		fail_msg("'%s': %s", portspec, err);
	if (rp__iter_init(&it, &sp, &ports, err, sizeof(err)))
		fail_msg("'%s': %s", text, err);
	while (rp__iter_next(&it, &ss, &len) == 1) {
		if (!sp.family) {
			static const struct sockaddr_storage zero;
			size_t at = sp.kind == RP__SPEC_URL ? sp.auth_off :
							      sp.off;

			/* a name: no address at all, the port in it.port */
			assert_int_equal(len, 0);
			assert_memory_equal(&ss, &zero, sizeof(ss));
			assert_true(it.port >= 1 && it.port <= 65535);
			snprintf(a, sizeof(a), "%.*s:%d", (int)sp.host_len,
				 text + at, it.port);
		} else {
			assert_int_equal(len, ss.ss_family == AF_INET ?
						sizeof(struct sockaddr_in) :
						sizeof(struct sockaddr_in6));
			/* it.port is the port of every kind of target */
			assert_int_equal(it.port,
					 ntohs(((struct sockaddr_in *)&ss)
						       ->sin_port));
			sa_text(&ss, a, sizeof(a));
		}
		if (want) {
			if (!want[n])
				fail_msg("'%s': extra target %s", text, a);
			if (strcmp(a, want[n]))
				fail_msg("'%s': target %llu is %s, want %s",
					 text, (unsigned long long)n, a,
					 want[n]);
		}
		n++;
	}
	if (want && want[n])
		fail_msg("'%s': missing target %s", text, want[n]);
	/* exhausted stays exhausted */
	assert_int_equal(rp__iter_next(&it, &ss, &len), 0);
	assert_int_equal(rp__iter_next(&it, &ss, &len), 0);
	assert_int_equal(rp__spec_count(&sp, &ports), n);
	return n;
}

static void test_expand_order(void **state)
{
	static const char *const v4[] = {
		"10.0.0.0:1", "10.0.0.0:2", "10.0.0.1:1", "10.0.0.1:2",
		"10.0.0.2:1", "10.0.0.2:2", "10.0.0.3:1", "10.0.0.3:2", NULL,
	};
	static const char *const v4port[] = { "10.0.0.254:9", "10.0.0.255:9",
					      NULL };
	static const char *const v6[] = {
		"[2001:db8::]:443", "[2001:db8::1]:443", "[2001:db8::2]:443",
		"[2001:db8::3]:443", NULL,
	};
	static const char *const one[] = { "[::1]:80", NULL };
	static const char *const ports3[] = { "1.2.3.4:22", "1.2.3.4:80",
					      "1.2.3.4:65535", NULL };

	(void)state;
	assert_int_equal(expand("10.0.0.0/30", "2,1", v4), 8);
	assert_int_equal(expand("10.0.0.255/31:9", "1-100", v4port), 2);
	assert_int_equal(expand("[2001:db8::/126]:443", NULL, v6), 4);
	assert_int_equal(expand("[::1]:80", "1-65535", one), 1);
	assert_int_equal(expand("1.2.3.4", "65535,80,22", ports3), 3);
}

static void test_expand_counts(void **state)
{
	struct rp__spec sp;
	struct rp__iter it;
	struct sockaddr_storage ss;
	socklen_t len;
	char err[160], a[80];
	uint64_t n = 0;

	(void)state;
	/* a whole /108: 2^20 addresses, the last one right */
	assert_int_equal(rp__target_parse("fd00::/108", 10, &sp, err,
					  sizeof(err)), 0);
	assert_int_equal(rp__ports_parse(&ports, "7", err, sizeof(err)), 0);
	assert_int_equal(rp__iter_init(&it, &sp, &ports, err, sizeof(err)), 0);
	while (rp__iter_next(&it, &ss, &len))
		n++;
	assert_int_equal(n, 1u << 20);
	sa_text(&ss, a, sizeof(a));
	assert_string_equal(a, "[fd00::f:ffff]:7");

	/* carries across octets */
	assert_int_equal(rp__target_parse("10.0.1.7/23:9", 13, &sp, err,
					  sizeof(err)), 0);
	assert_int_equal(rp__iter_init(&it, &sp, &ports, err, sizeof(err)), 0);
	for (n = 0; rp__iter_next(&it, &ss, &len); n++)
		;
	assert_int_equal(n, 512);
	sa_text(&ss, a, sizeof(a));
	assert_string_equal(a, "10.0.1.255:9");

	/* counts without walking: /0 times every port */
	assert_int_equal(rp__target_parse("0.0.0.0/0", 9, &sp, err,
					  sizeof(err)), 0);
	assert_int_equal(rp__ports_parse(&ports, "1-65535", err, sizeof(err)),
			 0);
	assert_true(rp__spec_count(&sp, &ports) == (1ULL << 32) * 65535);

	/* ADDR with its own port ignores the port set */
	assert_int_equal(rp__target_parse("1.2.3.4:5", 9, &sp, err,
					  sizeof(err)), 0);
	assert_int_equal(rp__spec_count(&sp, &ports), 1);
	rp__ports_clear(&ports);
	assert_int_equal(rp__spec_count(&sp, &ports), 1);
	assert_int_equal(rp__spec_count(&sp, NULL), 1);

	/* no port anywhere: nothing to expand, and a clear error */
	assert_int_equal(rp__target_parse("1.2.3.0/24", 10, &sp, err,
					  sizeof(err)), 0);
	assert_int_equal(rp__spec_count(&sp, &ports), 0);
	assert_int_equal(rp__iter_init(&it, &sp, &ports, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "no port: give ip:port or -p");
	assert_int_equal(rp__iter_next(&it, &ss, &len), 0);
	assert_int_equal(rp__iter_init(&it, &sp, NULL, err, sizeof(err)),
			 -EINVAL);

	/* a hostname with its port is one target, whatever the set */
	assert_int_equal(rp__target_parse("a.b:80", 6, &sp, err, sizeof(err)),
			 0);
	assert_int_equal(rp__spec_count(&sp, &ports), 1);
	assert_int_equal(rp__spec_count(&sp, NULL), 1);
	assert_int_equal(rp__iter_init(&it, &sp, &ports, err, sizeof(err)), 0);
	assert_int_equal(rp__iter_next(&it, &ss, &len), 1);
	assert_int_equal(len, 0);
	assert_int_equal(it.port, 80);
	assert_int_equal(rp__iter_next(&it, &ss, &len), 0);

	/* a hostname without one: one target per port, or none at all */
	assert_int_equal(rp__target_parse("a.b", 3, &sp, err, sizeof(err)), 0);
	assert_int_equal(rp__spec_count(&sp, &ports), 0);
	assert_int_equal(rp__spec_count(&sp, NULL), 0);
	assert_int_equal(rp__iter_init(&it, &sp, &ports, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "no port: give ip:port or -p");
	assert_int_equal(rp__iter_init(&it, &sp, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(rp__ports_parse(&ports, "1-65535", err, sizeof(err)),
			 0);
	assert_int_equal(rp__spec_count(&sp, &ports), 65535);
	assert_int_equal(rp__iter_init(&it, &sp, &ports, err, sizeof(err)), 0);
	for (n = 0; rp__iter_next(&it, &ss, &len); n++)
		assert_int_equal(it.port, (int)n + 1);
	assert_int_equal(n, 65535);
}

/*
 * Hostnames: one target per port, with no address, in port order; the
 * name is kept as written (case, trailing dot), without ":port".
 */
static void test_hostname_expand(void **state)
{
	static const char *const three[] = { "example.test:22",
					     "example.test:80",
					     "example.test:65535", NULL };
	static const char *const upper[] = { "EXAMPLE.Test:1",
					     "EXAMPLE.Test:2", NULL };
	static const char *const dot[] = { "example.test.:8080", NULL };
	static const char *const url[] = { "Example.TEST:8080", NULL };
	static const char *const url80[] = { "h-1.example_x.test.:80", NULL };
	static const char *const tls[] = { "example.test:443", NULL };
	static const struct {
		const char *text;
		enum rp__spec_kind kind;
		unsigned int port;	/* spec.port */
		size_t host_off;	/* where the name is */
		const char *name;	/* text[host_off, + host_len) */
	} names[] = {
		{ "example.test", RP__SPEC_HOSTNAME, 0, 0, "example.test" },
		{ "example.test:8080", RP__SPEC_HOSTNAME, 8080, 0,
		  "example.test" },
		{ "  Example.TEST.:9 # c", RP__SPEC_HOSTNAME, 9, 2,
		  "Example.TEST." },
		{ "x_y.Z", RP__SPEC_HOSTNAME, 0, 0, "x_y.Z" },
		{ "http://example.test:8080/x?y", RP__SPEC_URL, 8080, 7,
		  "example.test" },
		{ "http://EXAMPLE.test./", RP__SPEC_URL, 80, 7,
		  "EXAMPLE.test." },
		{ "https://example.test", RP__SPEC_URL, 443, 8,
		  "example.test" },
		{ " HTTP://a.b:1?q#f # c", RP__SPEC_URL, 1, 8, "a.b" },
	};
	struct rp__spec sp;
	char err[160];
	size_t i;

	(void)state;
	/* the port list in ascending order, whatever order it was given in */
	assert_int_equal(expand("example.test", "65535,80,22", three), 3);
	assert_int_equal(expand("EXAMPLE.Test", "2,1", upper), 2);
	/* its own port wins over the list */
	assert_int_equal(expand("example.test.:8080", "1-100", dot), 1);
	assert_int_equal(expand("example.test.:8080", NULL, dot), 1);
	/* a URL naming a host: one target on its port, the set ignored */
	assert_int_equal(expand("http://Example.TEST:8080/x?y", "1-10", url),
			 1);
	assert_int_equal(expand("http://h-1.example_x.test./#f", NULL, url80),
			 1);
	assert_int_equal(expand("https://example.test/", "22", tls), 1);

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *t = names[i].text;

		if (rp__target_parse(t, strlen(t), &sp, err, sizeof(err)))
			fail_msg("'%s': %s", t, err);
		assert_int_equal(sp.family, 0);
		assert_int_equal(sp.naddrs, 0);
		assert_int_equal(sp.port, names[i].port);
		assert_int_equal(sp.kind, names[i].kind);
		if (sp.kind == RP__SPEC_URL)
			assert_int_equal(sp.auth_off, names[i].host_off);
		else
			assert_int_equal(sp.off, names[i].host_off);
		if (sp.host_len != strlen(names[i].name) ||
		    memcmp(t + names[i].host_off, names[i].name, sp.host_len))
			fail_msg("'%s': name '%.*s', want '%s'", t,
				 (int)sp.host_len, t + names[i].host_off,
				 names[i].name);
	}
}

/* ---- URLs --------------------------------------------------------------- */

struct want_url {
	const char *text;
	const char *target;	/* text[off, off + len) */
	enum rp__scheme scheme;
	int family;		/* 0: a hostname */
	unsigned int port;
	const char *addr;	/* inet_ntop, or NULL for a hostname */
	const char *auth;	/* text[auth_off, auth_off + auth_len) */
	const char *path;	/* text[path_off, path_off + path_len) */
	const char *request;	/* rp__spec_path() */
};

/* Parses w->text as a URL and checks every field against w. */
static void check_url(const struct want_url *w, struct rp__spec *sp)
{
	size_t n = strlen(w->text);
	char err[160], a[INET6_ADDRSTRLEN], req[64];

	if (rp__target_parse(w->text, n, sp, err, sizeof(err)))
		fail_msg("'%s': %s", w->text, err);
	if (sp->kind != RP__SPEC_URL || sp->scheme != w->scheme ||
	    sp->family != w->family || sp->port != w->port)
		fail_msg("'%s': kind %d scheme %d family %d port %u", w->text,
			 sp->kind, sp->scheme, sp->family, sp->port);
	if (sp->off + sp->len > n || sp->len != strlen(w->target) ||
	    memcmp(w->text + sp->off, w->target, sp->len))
		fail_msg("'%s': target is '%.*s'", w->text, (int)sp->len,
			 w->text + sp->off);
	/* authority then path, both inside the target text */
	assert_true(sp->auth_off >= sp->off);
	assert_int_equal(sp->path_off, sp->auth_off + sp->auth_len);
	assert_true(sp->path_off + sp->path_len <= sp->off + sp->len);
	if (sp->auth_len != strlen(w->auth) ||
	    memcmp(w->text + sp->auth_off, w->auth, sp->auth_len))
		fail_msg("'%s': authority '%.*s', want '%s'", w->text,
			 (int)sp->auth_len, w->text + sp->auth_off, w->auth);
	if (sp->path_len != strlen(w->path) ||
	    memcmp(w->text + sp->path_off, w->path, sp->path_len))
		fail_msg("'%s': path '%.*s', want '%s'", w->text,
			 (int)sp->path_len, w->text + sp->path_off, w->path);
	rp__spec_path(sp, w->text, req, sizeof(req));
	if (strcmp(req, w->request))
		fail_msg("'%s': request target '%s', want '%s'", w->text, req,
			 w->request);
	if (w->addr) {
		assert_int_equal(sp->naddrs, 1);
		inet_ntop(sp->family, &sp->addr, a, sizeof(a));
		if (strcmp(a, w->addr))
			fail_msg("'%s': address %s, want %s", w->text, a,
				 w->addr);
	} else {
		/* the name is the start of the authority */
		assert_true(sp->host_len > 0 && sp->host_len <= sp->auth_len);
		assert_int_equal(sp->naddrs, 0);
	}
}

static void test_url_good(void **state)
{
	static const struct want_url ok[] = {
		{ "http://127.0.0.1:8080/status", "http://127.0.0.1:8080/status",
		  RP__SCHEME_HTTP, AF_INET, 8080, "127.0.0.1",
		  "127.0.0.1:8080", "/status", "/status" },
		{ "http://127.0.0.1", "http://127.0.0.1", RP__SCHEME_HTTP,
		  AF_INET, 80, "127.0.0.1", "127.0.0.1", "", "/" },
		{ "http://127.0.0.1/", "http://127.0.0.1/", RP__SCHEME_HTTP,
		  AF_INET, 80, "127.0.0.1", "127.0.0.1", "/", "/" },
		{ "http://[::1]:8080/x", "http://[::1]:8080/x",
		  RP__SCHEME_HTTP, AF_INET6, 8080, "::1", "[::1]:8080", "/x",
		  "/x" },
		{ "http://[::1]", "http://[::1]", RP__SCHEME_HTTP, AF_INET6, 80,
		  "::1", "[::1]", "", "/" },
		{ "http://[2001:DB8::a]/a/b/", "http://[2001:DB8::a]/a/b/",
		  RP__SCHEME_HTTP, AF_INET6, 80, "2001:db8::a",
		  "[2001:DB8::a]", "/a/b/", "/a/b/" },
		{ "HTTP://10.0.0.1/", "HTTP://10.0.0.1/", RP__SCHEME_HTTP,
		  AF_INET, 80, "10.0.0.1", "10.0.0.1", "/", "/" },
		{ "hTtP://10.0.0.1:81", "hTtP://10.0.0.1:81", RP__SCHEME_HTTP,
		  AF_INET, 81, "10.0.0.1", "10.0.0.1:81", "", "/" },
		{ "http://10.0.0.1/search?q=a&b=c%20d",
		  "http://10.0.0.1/search?q=a&b=c%20d", RP__SCHEME_HTTP,
		  AF_INET, 80, "10.0.0.1", "10.0.0.1", "/search?q=a&b=c%20d",
		  "/search?q=a&b=c%20d" },
		{ "http://10.0.0.1?q=1", "http://10.0.0.1?q=1",
		  RP__SCHEME_HTTP, AF_INET, 80, "10.0.0.1", "10.0.0.1", "?q=1",
		  "/?q=1" },
		{ "http://10.0.0.1:9?", "http://10.0.0.1:9?", RP__SCHEME_HTTP,
		  AF_INET, 9, "10.0.0.1", "10.0.0.1:9", "?", "/?" },
		{ "http://10.0.0.1/p#frag", "http://10.0.0.1/p#frag",
		  RP__SCHEME_HTTP, AF_INET, 80, "10.0.0.1", "10.0.0.1", "/p",
		  "/p" },
		{ "http://10.0.0.1#frag", "http://10.0.0.1#frag",
		  RP__SCHEME_HTTP, AF_INET, 80, "10.0.0.1", "10.0.0.1", "",
		  "/" },
		{ "http://[::1]:7#", "http://[::1]:7#", RP__SCHEME_HTTP,
		  AF_INET6, 7, "::1", "[::1]:7", "", "/" },
		{ "http://10.0.0.1/p?q#f#g/h?i", "http://10.0.0.1/p?q#f#g/h?i",
		  RP__SCHEME_HTTP, AF_INET, 80, "10.0.0.1", "10.0.0.1", "/p?q",
		  "/p?q" },
		{ "http://10.0.0.1:65535/", "http://10.0.0.1:65535/",
		  RP__SCHEME_HTTP, AF_INET, 65535, "10.0.0.1",
		  "10.0.0.1:65535", "/", "/" },
		{ "http://10.0.0.1:1/", "http://10.0.0.1:1/", RP__SCHEME_HTTP,
		  AF_INET, 1, "10.0.0.1", "10.0.0.1:1", "/", "/" },
		{ "http://10.0.0.1:080/", "http://10.0.0.1:080/",
		  RP__SCHEME_HTTP, AF_INET, 80, "10.0.0.1", "10.0.0.1:080",
		  "/", "/" },
		{ "http://10.0.0.1/a@b:c/~x!$&'()*+,;=%41",
		  "http://10.0.0.1/a@b:c/~x!$&'()*+,;=%41", RP__SCHEME_HTTP,
		  AF_INET, 80, "10.0.0.1", "10.0.0.1",
		  "/a@b:c/~x!$&'()*+,;=%41", "/a@b:c/~x!$&'()*+,;=%41" },
		{ "http://10.0.0.1/go?to=http://x/#y",
		  "http://10.0.0.1/go?to=http://x/#y", RP__SCHEME_HTTP,
		  AF_INET, 80, "10.0.0.1", "10.0.0.1", "/go?to=http://x/",
		  "/go?to=http://x/" },
		{ "  http://10.0.0.1/p#f  # comment # more",
		  "http://10.0.0.1/p#f", RP__SCHEME_HTTP, AF_INET, 80,
		  "10.0.0.1", "10.0.0.1", "/p", "/p" },
		{ "\thttp://10.0.0.1/\r\n", "http://10.0.0.1/",
		  RP__SCHEME_HTTP, AF_INET, 80, "10.0.0.1", "10.0.0.1", "/",
		  "/" },
		{ "https://10.0.0.1/x", "https://10.0.0.1/x",
		  RP__SCHEME_HTTPS, AF_INET, 443, "10.0.0.1", "10.0.0.1", "/x",
		  "/x" },
		{ "HTTPS://[::1]:8443", "HTTPS://[::1]:8443", RP__SCHEME_HTTPS,
		  AF_INET6, 8443, "::1", "[::1]:8443", "", "/" },
		{ "http://example.com:8080/x", "http://example.com:8080/x",
		  RP__SCHEME_HTTP, 0, 8080, NULL, "example.com:8080", "/x",
		  "/x" },
		{ "http://localhost", "http://localhost", RP__SCHEME_HTTP, 0,
		  80, NULL, "localhost", "", "/" },
		{ "https://Example.COM./?", "https://Example.COM./?",
		  RP__SCHEME_HTTPS, 0, 443, NULL, "Example.COM.", "/?", "/?" },
	};
	struct rp__spec sp;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		check_url(&ok[i], &sp);

	/* a hostname URL: host_len covers the name without ":port" */
	assert_int_equal(rp__target_parse("http://a.example:9/", 19, &sp, NULL,
					  0), 0);
	assert_int_equal(sp.host_len, 9);
	assert_int_equal(sp.auth_off, 7);
	assert_int_equal(sp.auth_len, 11);
	assert_int_equal(sp.path_off, 18);
	assert_int_equal(sp.path_len, 1);
}

static void test_url_bad(void **state)
{
	static const struct {
		const char *text;
		size_t len; /* 0: strlen */
		const char *needle;
	} bad[] = {
		{ "http://1.2.3.4:0/", 0, "bad port '0' (must be 1-65535)" },
		{ "http://1.2.3.4:65536/", 0, "bad port '65536'" },
		{ "http://[::1]:65536", 0, "bad port '65536'" },
		{ "http://1.2.3.4:123456/", 0, "bad port '123456'" },
		{ "http://1.2.3.4:8x/", 0, "bad port '8x'" },
		{ "http://1.2.3.4:-1/", 0, "bad port '-1'" },
		{ "http://1.2.3.4:+80/", 0, "bad port '+80'" },
		{ "http://1.2.3.4:/", 0, "missing port after ':'" },
		{ "http://1.2.3.4:", 0, "missing port after ':'" },
		{ "http://1.2.3.4:?q", 0, "missing port after ':'" },
		{ "http://[::1]:/", 0, "missing port after ':'" },
		{ "http://1.2.3.4:80:90/", 0, "more than one ':'" },
		{ "http://::1/", 0, "IPv6 addresses need brackets" },
		{ "http://user@1.2.3.4/", 0, "user names in URLs ('user@')" },
		{ "http://user:pw@[::1]:80/", 0, "user names in URLs" },
		{ "http://@1.2.3.4/", 0, "user names in URLs" },
		{ "http://1.2.3.4/a b", 0, "blank inside URL (percent-encode "
					   "spaces as %20)" },
		{ "http://1.2.3.4/a\tb", 0, "blank inside URL" },
		{ "http://1.2.3.4 /a", 0, "blank inside URL" },
		{ "http://1.2.3.4/ junk", 0, "blank inside URL" },
		{ "http://1.2.3.4/p#a b", 0, "blank inside URL" },
		{ "http://1.2.3.4/a\x01", 0, "control character in URL" },
		{ "http://1.2.3.4/\x7f", 0, "control character in URL" },
		{ "http://1.2.3.4/\x1b[31m", 0, "control character in URL" },
		{ "http://1.2.3.4/caf\xc3\xa9", 0, "non-ASCII byte in URL" },
		{ "http://1.2.3.4/#\xff", 0, "non-ASCII byte in URL" },
		{ "http://\xc3\xa9.fr/", 0, "non-ASCII byte in URL" },
		{ "http://1.2.3.4/a\0b", 18, "NUL byte" },
		{ "http://[::1/", 0, "missing ']'" },
		{ "http://[::1", 0, "missing ']'" },
		{ "http://[2001:db8::/120]:80/", 0, "missing ']'" },
		{ "http://::1]/", 0, "more than one ':'" },
		{ "http://[::1]x/", 0, "junk after ']'" },
		{ "http://[::1]]/", 0, "junk after ']'" },
		{ "http://[1.2.3.4]/", 0, "only for IPv6" },
		{ "http://[]/", 0, "only for IPv6" },
		{ "http://[::g]/", 0, "bad IPv6 address" },
		{ "http://[fe80::1%25eth0]/", 0, "zone ids" },
		{ "http://1.2.3.4]/", 0, "misplaced" },
		{ "http://[::1]:80[/", 0, "bad port" },
		{ "ftp://1.2.3.4/", 0, "unsupported URL scheme 'ftp'" },
		{ "foo://x", 0, "unsupported URL scheme 'foo'" },
		{ "FTP://x/", 0, "unsupported URL scheme 'FTP'" },
		{ "httpx://1.2.3.4/", 0, "unsupported URL scheme 'httpx'" },
		{ "http+s://1.2.3.4/", 0, "unsupported URL scheme 'http+s'" },
		{ "htp://1.2.3.4/", 0, "unsupported URL scheme 'htp'" },
		{ "ftp://a b", 0, "unsupported URL scheme 'ftp'" },
		{ "http://", 0, "missing host in URL" },
		{ "http:///path", 0, "missing host in URL" },
		{ "http://?q", 0, "missing host in URL" },
		{ "http://#f", 0, "missing host in URL" },
		{ "http://:80/", 0, "missing host in URL" },
		{ "https://", 0, "missing host in URL" },
		{ "https://1.2.3.4:0/", 0, "bad port '0'" },
		{ "https://u@1.2.3.4/", 0, "user names" },
		{ "http://1.2.3.4.5/", 0, "bad IPv4 address" },
		{ "http://01.2.3.4/", 0, "bad IPv4 address" },
		{ "http://bad!host/", 0, "bad character '!' in hostname" },
		{ "http://-a.com/", 0, "starts or ends with '-'" },
		{ "http://a..com/", 0, "empty label" },
	};
	struct rp__spec sp;
	char err[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);

		err[0] = '\0';
		if (rp__target_parse(bad[i].text, len, &sp, err, sizeof(err)) !=
		    -EINVAL)
			fail_msg("'%s' accepted (kind %d)", bad[i].text,
				 sp.kind);
		if (!strstr(err, bad[i].needle))
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].text,
				 err, bad[i].needle);
		/* nothing but the quoted range survives an error */
		assert_int_equal(sp.kind, RP__SPEC_EMPTY);
		assert_int_equal(sp.scheme, RP__SCHEME_NONE);
		assert_int_equal(sp.port, 0);
		assert_int_equal(sp.auth_len, 0);
		assert_int_equal(sp.path_len, 0);
		assert_true(sp.len > 0 && sp.off + sp.len <= len);
	}
}

/*
 * The comment rule: "#" at the start of a line (after blanks) or outside
 * a URL starts a comment; inside a URL (scheme to first blank) it starts
 * the fragment.
 */
static void test_url_comments(void **state)
{
	static const char *const empty[] = {
		"#http://1.2.3.4/",
		"# http://1.2.3.4/",
		"   #http://1.2.3.4/#x",
		"\t# ftp://bad url \x01\xff",
	};
	static const struct {
		const char *text;
		const char *target;	/* text[off, off + len) */
		const char *path;	/* raw path */
	} ok[] = {
		{ "http://1.2.3.4/#top # note", "http://1.2.3.4/#top", "/" },
		{ "http://1.2.3.4/p#", "http://1.2.3.4/p#", "/p" },
		{ "http://1.2.3.4/p #", "http://1.2.3.4/p", "/p" },
		{ "http://1.2.3.4/p\t#c", "http://1.2.3.4/p", "/p" },
		{ "http://1.2.3.4/p #c \x01\xff ftp://", "http://1.2.3.4/p",
		  "/p" },
		{ "http://1.2.3.4/p#a#b #c#d", "http://1.2.3.4/p#a#b", "/p" },
		{ " http://1.2.3.4?x#y  #z", "http://1.2.3.4?x#y", "?x" },
	};
	struct rp__spec sp;
	char err[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		assert_int_equal(rp__target_parse(empty[i], strlen(empty[i]),
						  &sp, err, sizeof(err)), 0);
		assert_int_equal(sp.kind, RP__SPEC_EMPTY);
		assert_int_equal(sp.len, 0);
	}
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *t = ok[i].text;

		if (rp__target_parse(t, strlen(t), &sp, err, sizeof(err)))
			fail_msg("'%s': %s", t, err);
		assert_int_equal(sp.kind, RP__SPEC_URL);
		if (sp.len != strlen(ok[i].target) ||
		    memcmp(t + sp.off, ok[i].target, sp.len))
			fail_msg("'%s': target '%.*s'", t, (int)sp.len,
				 t + sp.off);
		if (sp.path_len != strlen(ok[i].path) ||
		    memcmp(t + sp.path_off, ok[i].path, sp.path_len))
			fail_msg("'%s': path '%.*s'", t, (int)sp.path_len,
				 t + sp.path_off);
	}
	/* outside URLs "#" still starts a comment anywhere */
	assert_int_equal(rp__target_parse("1.2.3.4#x", 9, &sp, err,
					  sizeof(err)), 0);
	assert_int_equal(sp.kind, RP__SPEC_ADDR);
	assert_int_equal(sp.len, 7);
}

/* Expansion: a URL is one target on its own port, whatever the set. */
static void test_url_expand(void **state)
{
	static const char *const v4[] = { "1.2.3.4:8080", NULL };
	static const char *const v6[] = { "[::1]:80", NULL };
	static const char *const tls[] = { "[::1]:443", NULL };
	struct rp__spec sp;
	struct rp__iter it;
	struct sockaddr_storage ss;
	socklen_t len;
	char err[160], buf[8];

	(void)state;
	assert_int_equal(expand("http://1.2.3.4:8080/x", "1-65535", v4), 1);
	assert_int_equal(expand("http://1.2.3.4:8080/x", NULL, v4), 1);
	assert_int_equal(expand("http://[::1]/", "22,443", v6), 1);
	/* the parser does not judge https: the source reports it */
	assert_int_equal(expand("https://[::1]/", "22", tls), 1);
	assert_int_equal(rp__target_parse("https://[::1]/", 14, &sp, err,
					  sizeof(err)), 0);
	assert_int_equal(rp__spec_count(&sp, NULL), 1);

	/* a hostname URL counts one and yields one target, with no
	 * address, on its own port */
	assert_int_equal(rp__target_parse("http://h.example/", 17, &sp, err,
					  sizeof(err)), 0);
	assert_int_equal(rp__ports_parse(&ports, "1-10", err, sizeof(err)), 0);
	assert_int_equal(rp__spec_count(&sp, &ports), 1);
	assert_int_equal(rp__spec_count(&sp, NULL), 1);
	assert_int_equal(rp__iter_init(&it, &sp, &ports, err, sizeof(err)), 0);
	assert_int_equal(rp__iter_next(&it, &ss, &len), 1);
	assert_int_equal(len, 0);
	assert_int_equal(it.port, 80);
	assert_int_equal(rp__iter_next(&it, &ss, &len), 0);

	/* rp__spec_path: cut to fit, "" for other kinds */
	assert_int_equal(rp__target_parse("http://h.example/abcdefgh", 25, &sp,
					  err, sizeof(err)), 0);
	assert_string_equal(rp__spec_path(&sp, "http://h.example/abcdefgh",
					  buf, sizeof(buf)), "/abcdef");
	assert_int_equal(rp__target_parse("http://h.example?abcdefgh", 25, &sp,
					  err, sizeof(err)), 0);
	assert_string_equal(rp__spec_path(&sp, "http://h.example?abcdefgh",
					  buf, sizeof(buf)), "/?abcde");
	assert_int_equal(rp__target_parse("1.2.3.4:80", 10, &sp, err,
					  sizeof(err)), 0);
	assert_string_equal(rp__spec_path(&sp, "1.2.3.4:80", buf, sizeof(buf)),
			    "");
}

/*
 * Random mutations of URLs: no crash, and every accepted URL has its
 * authority and path inside its text, in order, with a port.
 */
static void test_url_random(void **state)
{
	static const char *const seeds[] = {
		"http://[::1]:80/p?q#f", "https://10.0.0.1:8080/a/b?c=d#e",
		"http://example.com/", "HTTP://1.2.3.4",
	};
	static const char alphabet[] = "0123456789abcdef.:/?#@[]%- \t\r\n"
				       "\x00\x01\x7f\xffhtpsHTPS";
	struct rp__spec sp;
	char line[64], err[160], req[80];
	unsigned int seed = 4242, i, urls = 0, bad = 0;

	(void)state;
	for (i = 0; i < 200000; i++) {
		const char *s = seeds[rand_r(&seed) % 4];
		size_t n = strlen(s), k, edits = 1 + (size_t)(rand_r(&seed) % 4);
		int r;

		memcpy(line, s, n);
		for (k = 0; k < edits; k++) {
			size_t at = (size_t)rand_r(&seed) % (n + 1);
			char c = alphabet[rand_r(&seed) %
					  (int)(sizeof(alphabet) - 1)];

			switch (rand_r(&seed) % 3) {
			case 0: /* replace */
				if (at < n)
					line[at] = c;
				break;
			case 1: /* insert */
				if (n + 1 < sizeof(line)) {
					memmove(line + at + 1, line + at,
						n - at);
					line[at] = c;
					n++;
				}
				break;
			default: /* delete */
				if (at < n) {
					memmove(line + at, line + at + 1,
						n - at - 1);
					n--;
				}
			}
		}
		r = rp__target_parse(line, n, &sp, err, sizeof(err));
		assert_true(sp.off + sp.len <= n);
		if (r) {
			assert_int_equal(r, -EINVAL);
			assert_true(err[0] != '\0');
			assert_int_equal(sp.kind, RP__SPEC_EMPTY);
			bad++;
			continue;
		}
		if (sp.kind != RP__SPEC_URL) {
			assert_int_equal(sp.scheme, RP__SCHEME_NONE);
			continue;
		}
		urls++;
		assert_true(sp.scheme == RP__SCHEME_HTTP ||
			    sp.scheme == RP__SCHEME_HTTPS);
		assert_true(sp.port >= 1);
		assert_true(sp.auth_len > 0);
		assert_true(sp.auth_off >= sp.off + 7);
		assert_int_equal(sp.path_off, sp.auth_off + sp.auth_len);
		assert_true(sp.path_off + sp.path_len <= sp.off + sp.len);
		assert_null(memchr(line + sp.auth_off, '@', sp.auth_len));
		assert_null(memchr(line + sp.off, '#', sp.path_off - sp.off));
		assert_null(memchr(line + sp.path_off, '#', sp.path_len));
		for (k = sp.off; k < sp.off + sp.len; k++)
			assert_true(line[k] > 0x20 && line[k] < 0x7f);
		if (sp.path_len)
			assert_true(line[sp.path_off] == '/' ||
				    line[sp.path_off] == '?');
		assert_int_equal(rp__spec_count(&sp, NULL), 1);
		rp__spec_path(&sp, line, req, sizeof(req));
		assert_int_equal(req[0], '/');
		if (sp.family)
			assert_int_equal(sp.naddrs, 1);
		else
			assert_true(sp.host_len > 0 &&
				    sp.host_len <= sp.auth_len);
	}
	/* both outcomes were exercised */
	assert_true(urls > 1000 && bad > 1000);
}

static void test_escape(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(rp__escape(buf, sizeof(buf), "abc", 3), "abc");
	assert_string_equal(rp__escape(buf, sizeof(buf), "a\x01'\\", 4),
			    "a\\x01\\x27\\x5c");
	assert_string_equal(rp__escape(buf, sizeof(buf), "a\0b", 3),
			    "a\\x00b");
	/* 15 characters fit exactly; 16 do not */
	assert_string_equal(rp__escape(buf, sizeof(buf), "0123456789abcde",
				       15), "0123456789abcde");
	assert_string_equal(rp__escape(buf, sizeof(buf), "0123456789abcdef",
				       16), "0123456789ab...");
	/* an escape is never cut in half */
	assert_string_equal(rp__escape(buf, sizeof(buf), "0123456789a\xff\xff",
				       13), "0123456789a...");
	assert_string_equal(rp__escape(buf, 4, "abcdef", 6), "...");
	assert_string_equal(rp__escape(buf, 3, "abcdef", 6), "");
}

/* rp__pct_encode and the encoding in rp__spec_path: what a request-target
 * may not carry raw becomes %XX, the rest (an existing %XX too) stays. */
static void test_pct_encode(void **state)
{
	static const char all[] = "/a b\tc\xff\r\n\x7f\x01%41%zz~!$&'()*+,;=:@?";
	struct rp__spec sp = { .kind = RP__SPEC_URL };
	char buf[64], small[8];

	(void)state;
	assert_int_equal(rp__pct_encode(buf, sizeof(buf), all,
					sizeof(all) - 1), 46);
	assert_string_equal(buf, "/a%20b%09c%FF%0D%0A%7F%01%41%zz~!$&'()*+,;=:@?");
	/* encoding twice changes nothing */
	assert_int_equal(rp__pct_encode(small, sizeof(small), "/%20", 4), 4);
	assert_int_equal(rp__pct_encode(buf, sizeof(buf), small, 4), 4);
	assert_string_equal(buf, "/%20");
	assert_int_equal(rp__pct_encode(buf, sizeof(buf), "", 0), 0);
	assert_string_equal(buf, "");
	/* a NUL in the input is a byte like any other */
	assert_int_equal(rp__pct_encode(buf, sizeof(buf), "a\0b", 3), 5);
	assert_string_equal(buf, "a%00b");
	/* too long: refused, and what is there never ends inside a %XX */
	assert_int_equal(rp__pct_encode(small, sizeof(small), "/abcdefg", 8),
			 -ENAMETOOLONG);
	assert_int_equal(rp__pct_encode(small, sizeof(small), "/abcd ", 6),
			 -ENAMETOOLONG);
	assert_string_equal(small, "/abcd");
	assert_int_equal(rp__pct_encode(small, sizeof(small), "/abc ", 5), 7);
	assert_string_equal(small, "/abc%20");
	assert_int_equal(rp__pct_encode(small, 0, "/", 1), -ENAMETOOLONG);

	/* The parser lets no such byte into a URL, so the spec is made by
	 * hand: the path is text[0, path_len). */
	sp.path_len = 9;
	assert_string_equal(rp__spec_path(&sp, "/a b\tc\xff\r\n", buf,
					  sizeof(buf)), "/a%20b%09c%FF%0D%0A");
	sp.path_len = 3;
	assert_string_equal(rp__spec_path(&sp, "? x", buf, sizeof(buf)),
			    "/?%20x");
	sp.path_len = 6;
	assert_string_equal(rp__spec_path(&sp, "/abcd ", small, sizeof(small)),
			    "/abcd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_good),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_ports_parse),
		cmocka_unit_test(test_ports_schemes),
		cmocka_unit_test(test_ports_sparse_walk),
		cmocka_unit_test(test_ports_errors),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_empty_and_offsets),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_hostname_limits),
		cmocka_unit_test(test_parse_random_bytes),
		cmocka_unit_test(test_url_good),
		cmocka_unit_test(test_url_bad),
		cmocka_unit_test(test_url_comments),
		cmocka_unit_test(test_url_random),
		cmocka_unit_test(test_url_expand),
		cmocka_unit_test(test_expand_order),
		cmocka_unit_test(test_expand_counts),
		cmocka_unit_test(test_hostname_expand),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_pct_encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
