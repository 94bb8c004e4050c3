/*
 * test_output.c - unit tests of the CLI's result writers (cli/output.c).
 *
 * Exact expected records for each format (open, closed, invalid without an
 * address, error with detail, IPv6, a resolved name with its dns_us, a
 * dns-error without an address), escaping of hostile text (checked both
 * against exact strings and, for random bytes, with a small JSON validator,
 * a CSV parser and a terminal-safety check written here independently of
 * the code under test), and the writer: records whole in every write(2)
 * (seen through SOCK_SEQPACKET, where each write is one message), the
 * buffer-full flush, oversized records, non-blocking and closed pipes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "output.h"

/* the expected records are built in fixed buffers, and checked whole */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "ringprobe.h"

/* ---- fixtures ------------------------------------------------------- */

static struct sockaddr_in sin4;
static struct sockaddr_in6 sin6;

static struct rp_result v4(const char *ip, unsigned int port)
{
	struct rp_result r = { 0 };

	memset(&sin4, 0, sizeof(sin4));
	sin4.sin_family = AF_INET;
	sin4.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin4.sin_addr), 1);
	r.addr = (const struct sockaddr *)&sin4;
	r.addrlen = sizeof(sin4);
	r.input = "";
	return r;
}

static struct rp_result v6(const char *ip, unsigned int port)
{
	struct rp_result r = { 0 };

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	r.addr = (const struct sockaddr *)&sin6;
	r.addrlen = sizeof(sin6);
	r.input = "";
	return r;
}

static struct rp_result r_open(void)
{
	struct rp_result r = v4("192.0.2.1", 22);

	r.input = "192.0.2.1:22";
	r.index = 7;
	r.status = RP_STATUS_OPEN;
	r.rtt_us = 123;
	r.attempts = 1;
	r.elapsed_us = 456;
	return r;
}

static struct rp_result r_closed6(void)
{
	struct rp_result r = v6("2001:db8::1", 443);

	r.input = "2001:db8::/126";
	r.index = 18446744073709551615u;
	r.status = RP_STATUS_CLOSED;
	r.err = -ECONNREFUSED; /* raw connect result: not shown */
	r.rtt_us = 1500;
	r.attempts = 2;
	r.elapsed_us = 2000001;
	return r;
}

static struct rp_result r_invalid(void)
{
	struct rp_result r = { 0 };

	r.input = "10.0.0.300:80";
	r.index = 3;
	r.status = RP_STATUS_INVALID;
	r.detail = "t.txt:3: bad address";
	return r;
}

static struct rp_result r_error(void)
{
	struct rp_result r = v4("198.51.100.9", 8080);

	r.input = "198.51.100.9:8080";
	r.index = 42;
	r.status = RP_STATUS_ERROR;
	r.err = -EADDRNOTAVAIL;
	r.detail = "local ports exhausted";
	r.attempts = 1;
	r.elapsed_us = 10;
	return r;
}

/* A hostname target: its name was resolved for this probe (not from the
 * run's cache), so dns_us is set. */
static struct rp_result r_resolved(void)
{
	struct rp_result r = v4("192.0.2.5", 22);

	r.input = "a.example.test:22";
	r.index = 8;
	r.status = RP_STATUS_OPEN;
	r.rtt_us = 123;
	r.attempts = 1;
	r.elapsed_us = 4400;
	r.dns_us = 4210;
	return r;
}

/* A name that did not resolve: never probed, so no address; detail has
 * the resolver's reason and err is 0. */
static struct rp_result r_dns_error(void)
{
	struct rp_result r = { 0 };

	r.input = "nosuch.example.test:80";
	r.index = 4;
	r.status = RP_STATUS_DNS_ERROR;
	r.detail = "NXDOMAIN";
	r.elapsed_us = 8100;
	r.dns_us = 8000;
	return r;
}

static char fbuf[1 << 20];

/* The time every fixture's record is formatted with, and its text. */
#define T_MS 1796032245123LL /* 2026-11-30T09:50:45.123Z */
#define T_TEXT "2026-11-30T09:50:45.123Z"

/*
 * Every JSON and CSV record ends with the fields time, addr and service
 * (output.h). This checks them (no /etc/services is loaded in this test:
 * service is null) and takes them off, so the exact records below show
 * the fields before them.
 */
static void cut_common(enum out_format f, const struct rp_result *r)
{
	char want[160], addr[64];
	size_t n = strlen(fbuf), m;

	out_where(r->addr, r->addrlen, addr, sizeof(addr));
	if (f == OUT_JSONL) {
		if (r->addr)
			snprintf(want, sizeof(want), ",\"time\":\"" T_TEXT
				 "\",\"addr\":\"%s\",\"service\":null}\n", addr);
		else
			snprintf(want, sizeof(want), ",\"time\":\"" T_TEXT
				 "\",\"addr\":null,\"service\":null}\n");
	} else {
		snprintf(want, sizeof(want), "," T_TEXT ",%s,\n",
			 r->addr ? addr : "");
	}
	m = strlen(want);
	assert_true(n >= m);
	assert_string_equal(fbuf + n - m, want);
	strcpy(fbuf + n - m, f == OUT_JSONL ? "}\n" : "\n");
}

static bool keep_common; /* fmt_flags: keep time, addr and service */

static int64_t fixed_ms(void)
{
	return T_MS;
}

/* Formats r and checks the snprintf-style contract on the way. */
static const char *fmt_flags(enum out_format f, unsigned int flags,
			     const struct rp_result *r)
{
	size_t n = out_format_result(fbuf, sizeof(fbuf), f, flags, r, T_MS);

	assert_true(n < sizeof(fbuf));
	assert_int_equal(n, strlen(fbuf));
	assert_true(n > 0 && fbuf[n - 1] == '\n');
	if (f != OUT_CSV) /* CSV may quote a newline; the others escape it */
		assert_null(memchr(fbuf, '\n', n - 1));
	if ((f == OUT_JSONL || f == OUT_CSV) && !keep_common)
		cut_common(f, r);
	return fbuf;
}

/* A TCP record. */
static const char *fmt(enum out_format f, const struct rp_result *r)
{
	return fmt_flags(f, 0, r);
}

/* An HTTP record; text lines never end in a space. */
static const char *fmth(enum out_format f, const struct rp_result *r)
{
	size_t n = strlen(fmt_flags(f, OUT_HTTP, r));

	if (f == OUT_TEXT)
		assert_true(n < 2 || fbuf[n - 2] != ' ');
	return fbuf;
}

/* A whole record, time, addr and service included (the writer's). */
static const char *fmtw(enum out_format f, const struct rp_result *r)
{
	keep_common = true;
	fmt(f, r);
	keep_common = false;
	return fbuf;
}

static const char *fmthw(enum out_format f, const struct rp_result *r)
{
	keep_common = true;
	fmth(f, r);
	keep_common = false;
	return fbuf;
}

/* ---- an independent JSON checker for our flat records --------------- */

#define J_MAX_KEYS 25
#define J_MAX_VAL 4096

struct jobj {
	int nkeys;
	char key[J_MAX_KEYS][16];
	int is_str[J_MAX_KEYS];
	char val[J_MAX_KEYS][J_MAX_VAL]; /* decoded string, or raw token */
};

/* Length of the well-formed UTF-8 sequence at s (Unicode table 3-7), or
 * 0. */
static int wf_utf8(const unsigned char *s, const unsigned char *end)
{
	size_t left = (size_t)(end - s);
	unsigned char lo = 0x80, hi = 0xbf;
	int n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (left < (size_t)n)
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void jput(char *out, size_t *len, int c)
{
	if (*len + 1 < J_MAX_VAL)
		out[(*len)++] = (char)c;
}

/* Appends code point cp (below U+10000) as UTF-8. */
static void jput_cp(char *out, size_t *len, unsigned int cp)
{
	if (cp < 0x80) {
		jput(out, len, (int)cp);
	} else if (cp < 0x800) {
		jput(out, len, 0xc0 | (int)(cp >> 6));
		jput(out, len, 0x80 | (int)(cp & 0x3f));
	} else {
		jput(out, len, 0xe0 | (int)(cp >> 12));
		jput(out, len, 0x80 | (int)((cp >> 6) & 0x3f));
		jput(out, len, 0x80 | (int)(cp & 0x3f));
	}
}

/* Parses a JSON string at *sp into out (decoded, NUL-terminated). */
static int j_string(const unsigned char **sp, const unsigned char *end,
		    char *out)
{
	const unsigned char *s = *sp;
	size_t len = 0;

	if (s >= end || *s++ != '"')
		return -1;
	while (s < end && *s != '"') {
		if (*s < 0x20)
			return -1;
		if (*s == '\\') {
			unsigned int cp = 0;
			int i;

			if (++s >= end)
				return -1;
			switch (*s) {
			case '"':
			case '\\':
			case '/':
				jput(out, &len, *s);
				break;
			case 'b':
				jput(out, &len, '\b');
				break;
			case 'f':
				jput(out, &len, '\f');
				break;
			case 'n':
				jput(out, &len, '\n');
				break;
			case 'r':
				jput(out, &len, '\r');
				break;
			case 't':
				jput(out, &len, '\t');
				break;
			case 'u':
				if (end - s < 5)
					return -1;
				for (i = 1; i <= 4; i++) {
					int h = hexval(s[i]);

					if (h < 0)
						return -1;
					cp = cp << 4 | (unsigned int)h;
				}
				if (cp >= 0xd800 && cp <= 0xdfff)
					return -1; /* we never need pairs */
				jput_cp(out, &len, cp);
				s += 4;
				break;
			default:
				return -1;
			}
			s++;
		} else {
			int n = wf_utf8(s, end);

			if (n == 0)
				return -1;
			while (n--)
				jput(out, &len, *s++);
		}
	}
	if (s >= end)
		return -1;
	out[len] = '\0';
	*sp = s + 1;
	return 0;
}

/*
 * Checks that line (without its '\n') is one flat JSON object of strings,
 * unsigned integers, booleans and nulls, and returns its members in order.
 */
static int json_parse(const char *line, size_t len, struct jobj *o)
{
	const unsigned char *s = (const unsigned char *)line;
	const unsigned char *end = s + len;

	memset(o, 0, sizeof(*o));
	if (s >= end || *s++ != '{')
		return -1;
	for (;;) {
		char key[J_MAX_VAL];
		int k = o->nkeys;

		if (k >= J_MAX_KEYS || j_string(&s, end, key) < 0 ||
		    strlen(key) >= sizeof(o->key[0]))
			return -1;
		strcpy(o->key[k], key);
		if (s >= end || *s++ != ':' || s >= end)
			return -1;
		if (*s == '"') {
			if (j_string(&s, end, o->val[k]) < 0)
				return -1;
			o->is_str[k] = 1;
		} else if (end - s >= 4 && !memcmp(s, "null", 4)) {
			strcpy(o->val[k], "null");
			s += 4;
		} else if (end - s >= 4 && !memcmp(s, "true", 4)) {
			strcpy(o->val[k], "true");
			s += 4;
		} else if (end - s >= 5 && !memcmp(s, "false", 5)) {
			strcpy(o->val[k], "false");
			s += 5;
		} else if (*s >= '0' && *s <= '9') {
			size_t n = 0;

			if (*s == '0' && s + 1 < end && s[1] >= '0' &&
			    s[1] <= '9')
				return -1; /* no leading zeros */
			while (s < end && *s >= '0' && *s <= '9' && n < 30)
				o->val[k][n++] = (char)*s++;
			o->val[k][n] = '\0';
		} else {
			return -1;
		}
		o->nkeys++;
		if (s < end && *s == ',') {
			s++;
			continue;
		}
		break;
	}
	if (s >= end || *s++ != '}' || s != end)
		return -1;
	return 0;
}

static const char *jget(const struct jobj *o, const char *key)
{
	int i;

	for (i = 0; i < o->nkeys; i++)
		if (!strcmp(o->key[i], key))
			return o->val[i];
	return NULL;
}

#define T_NKEYS 11

static const char *const json_keys[T_NKEYS] = {
	"input",  "index",    "ip",         "port",   "status", "rtt_us",
	"attempts", "elapsed_us", "dns_us", "error",  "detail",
};

/* Parses one formatted JSON record and checks its keys and order. */
static void check_json_record(const char *rec, struct jobj *o)
{
	size_t n = strlen(rec), i;

	assert_true(n > 0 && rec[n - 1] == '\n');
	assert_int_equal(json_parse(rec, n - 1, o), 0);
	assert_int_equal(o->nkeys, T_NKEYS);
	for (i = 0; i < T_NKEYS; i++)
		assert_string_equal(o->key[i], json_keys[i]);
}

#define H_NKEYS 25

static const char *const http_json_keys[H_NKEYS] = {
	"input",        "index",      "url",        "ip",
	"port",         "status",     "http_status", "reason",
	"content_length", "body_bytes", "truncated", "content_type",
	"server",       "location",   "redirects",  "title",
	"body_hash",    "connect_us", "ttfb_us",    "total_us",
	"attempts",     "elapsed_us", "dns_us",     "error",
	"detail",
};

/* The same for an HTTP record. */
static void check_http_json_record(const char *rec, struct jobj *o)
{
	size_t n = strlen(rec), i;

	assert_true(n > 0 && rec[n - 1] == '\n');
	assert_int_equal(json_parse(rec, n - 1, o), 0);
	assert_int_equal(o->nkeys, H_NKEYS);
	for (i = 0; i < H_NKEYS; i++)
		assert_string_equal(o->key[i], http_json_keys[i]);
}

/* ---- an independent CSV record parser -------------------------------- */

/* Parses one RFC 4180 record at *sp into up to max fields (NUL-terminated,
 * each at most J_MAX_VAL bytes). Returns the field count or -1. */
static int csv_parse(const char **sp, char (*f)[J_MAX_VAL], int max)
{
	const char *s = *sp;
	int nf = 0;

	for (;;) {
		size_t len = 0;

		if (nf >= max)
			return -1;
		if (*s == '"') {
			s++;
			for (;;) {
				if (!*s)
					return -1;
				if (*s == '"') {
					if (s[1] != '"')
						break;
					s++;
				}
				if (len + 1 >= J_MAX_VAL)
					return -1;
				f[nf][len++] = *s++;
			}
			s++;
			if (*s != ',' && *s != '\n')
				return -1;
		} else {
			while (*s && *s != ',' && *s != '\n') {
				if (*s == '"' || *s == '\r')
					return -1;
				if (len + 1 >= J_MAX_VAL)
					return -1;
				f[nf][len++] = *s++;
			}
			if (!*s)
				return -1;
		}
		f[nf++][len] = '\0';
		if (*s++ == '\n')
			break;
	}
	*sp = s;
	return nf;
}

/* ---- a deterministic random source ----------------------------------- */

static uint64_t rnd_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state >> 16);
}

/* n random bytes, none of them NUL, biased towards the interesting ones. */
static void rnd_text(char *s, size_t n)
{
	static const char special[] = "\"\\,\r\n\t\x1b\x7f\x01";
	const size_t nspecial = sizeof(special) - 1;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned int c;

		switch (rnd() % 4) {
		case 0:
			c = (unsigned char)special[rnd() % nspecial];
			break;
		case 1:
			c = 0x80 + rnd() % 0x80;
			break;
		default:
			c = 1 + rnd() % 255;
		}
		s[i] = (char)c;
	}
	s[n] = '\0';
}

/* What a CSV cell holding s reads back as: s, with a "'" in front when a
 * spreadsheet would take it for a formula. Four results in turn. */
static const char *csv_text(const char *s)
{
	static char buf[4][2 * RP_INPUT_MAX];
	static int next;
	char *b = buf[next++ % 4];

	snprintf(b, sizeof(buf[0]), "%s%s",
		 *s && strchr("=+-@\t\r", *s) ? "'" : "", s);
	return b;
}

/* ---- formats ---------------------------------------------------------- */

static void test_format_parse(void **state)
{
	(void)state;
	assert_int_equal(out_format_parse("text"), OUT_TEXT);
	assert_int_equal(out_format_parse("jsonl"), OUT_JSONL);
	assert_int_equal(out_format_parse("json"), OUT_JSONL);
	assert_int_equal(out_format_parse("csv"), OUT_CSV);
	assert_int_equal(out_format_parse("CSV"), OUT_CSV);
	assert_int_equal(out_format_parse("JSONL"), OUT_JSONL);
	assert_int_equal(out_format_parse("grep"), OUT_GREP);
	assert_int_equal(out_format_parse("xml"), OUT_XML);
	assert_int_equal(out_format_parse("xmlx"), -1);
	assert_int_equal(out_format_parse(""), -1);
	assert_int_equal(out_format_parse("jsonlx"), -1);
	assert_int_equal(out_format_parse(NULL), -1);
}

/* The address column text the CLI's summary and snapshot use too. */
static void test_where(void **state)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(8080) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(22) };
	char buf[64];

	(void)state;
	inet_pton(AF_INET, "192.0.2.7", &a4.sin_addr);
	inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
	out_where((struct sockaddr *)&a4, sizeof(a4), buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.7:8080");
	out_where((struct sockaddr *)&a6, sizeof(a6), buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::1]:22");
	out_where(NULL, 0, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	/* IPv4 text is made by hand: every width of every octet. */
	static const char *const quads[] = {
		"0.0.0.0", "255.255.255.255", "10.99.100.9", "1.20.199.250",
	};
	for (size_t i = 0; i < sizeof(quads) / sizeof(quads[0]); i++) {
		char want[32];

		inet_pton(AF_INET, quads[i], &a4.sin_addr);
		out_where((struct sockaddr *)&a4, sizeof(a4), buf, sizeof(buf));
		snprintf(want, sizeof(want), "%s:8080", quads[i]);
		assert_string_equal(buf, want);
	}
	out_where((struct sockaddr *)&a6, sizeof(a4), buf, sizeof(buf));
	assert_string_equal(buf, "-"); /* too short for its family */
}

static void test_json_records(void **state)
{
	struct rp_result r;
	struct jobj o;

	(void)state;
	r = r_open();
	assert_string_equal(fmt(OUT_JSONL, &r),
		"{\"input\":\"192.0.2.1:22\",\"index\":7,\"ip\":\"192.0.2.1\","
		"\"port\":22,\"status\":\"open\",\"rtt_us\":123,\"attempts\":1,"
		"\"elapsed_us\":456,\"dns_us\":0,\"error\":null,"
		"\"detail\":null}\n");
	check_json_record(fbuf, &o);

	r = r_closed6();
	assert_string_equal(fmt(OUT_JSONL, &r),
		"{\"input\":\"2001:db8::/126\",\"index\":18446744073709551615,"
		"\"ip\":\"2001:db8::1\",\"port\":443,\"status\":\"closed\","
		"\"rtt_us\":1500,\"attempts\":2,\"elapsed_us\":2000001,"
		"\"dns_us\":0,\"error\":null,\"detail\":null}\n");
	check_json_record(fbuf, &o);

	r = r_invalid();
	assert_string_equal(fmt(OUT_JSONL, &r),
		"{\"input\":\"10.0.0.300:80\",\"index\":3,\"ip\":null,"
		"\"port\":null,\"status\":\"invalid\",\"rtt_us\":0,"
		"\"attempts\":0,\"elapsed_us\":0,\"dns_us\":0,\"error\":null,"
		"\"detail\":\"t.txt:3: bad address\"}\n");
	check_json_record(fbuf, &o);

	r = r_error();
	assert_string_equal(fmt(OUT_JSONL, &r),
		"{\"input\":\"198.51.100.9:8080\",\"index\":42,"
		"\"ip\":\"198.51.100.9\",\"port\":8080,\"status\":\"error\","
		"\"rtt_us\":0,\"attempts\":1,\"elapsed_us\":10,\"dns_us\":0,"
		"\"error\":\"EADDRNOTAVAIL\","
		"\"detail\":\"local ports exhausted\"}"
		"\n");
	check_json_record(fbuf, &o);

	/* a name resolved for the probe: dns_us, a number */
	r = r_resolved();
	assert_string_equal(fmt(OUT_JSONL, &r),
		"{\"input\":\"a.example.test:22\",\"index\":8,"
		"\"ip\":\"192.0.2.5\",\"port\":22,\"status\":\"open\","
		"\"rtt_us\":123,\"attempts\":1,\"elapsed_us\":4400,"
		"\"dns_us\":4210,\"error\":null,\"detail\":null}\n");
	check_json_record(fbuf, &o);
	assert_int_equal(o.is_str[8], 0);

	/* the largest value, and 0 from the cache (still present) */
	r.dns_us = UINT32_MAX;
	check_json_record(fmt(OUT_JSONL, &r), &o);
	assert_string_equal(jget(&o, "dns_us"), "4294967295");
	r.dns_us = 0;
	check_json_record(fmt(OUT_JSONL, &r), &o);
	assert_string_equal(jget(&o, "dns_us"), "0");

	/* a name that did not resolve: no address, the reason in detail,
	 * no errno */
	r = r_dns_error();
	assert_string_equal(fmt(OUT_JSONL, &r),
		"{\"input\":\"nosuch.example.test:80\",\"index\":4,"
		"\"ip\":null,\"port\":null,\"status\":\"dns-error\","
		"\"rtt_us\":0,\"attempts\":0,\"elapsed_us\":8100,"
		"\"dns_us\":8000,\"error\":null,\"detail\":\"NXDOMAIN\"}\n");
	check_json_record(fbuf, &o);

	/* input NULL is treated as "" */
	r = r_open();
	r.input = NULL;
	check_json_record(fmt(OUT_JSONL, &r), &o);
	assert_string_equal(jget(&o, "input"), "");
}

/* error is shown only where the errno explains the outcome */
static void test_error_field(void **state)
{
	static const struct {
		enum rp_status st;
		int err;
		const char *want;
	} cases[] = {
		{ RP_STATUS_OPEN, -ECONNREFUSED, "null" },
		{ RP_STATUS_CLOSED, -ECONNREFUSED, "null" },
		{ RP_STATUS_FILTERED, -ETIMEDOUT, "null" },
		{ RP_STATUS_CANCELLED, -ECANCELED, "null" },
		{ RP_STATUS_UNREACHABLE, -EHOSTUNREACH, "EHOSTUNREACH" },
		{ RP_STATUS_UNREACHABLE, -ENETUNREACH, "ENETUNREACH" },
		{ RP_STATUS_ERROR, -EADDRNOTAVAIL, "EADDRNOTAVAIL" },
		{ RP_STATUS_ERROR, 0, "null" },
		{ RP_STATUS_INVALID, -EINVAL, "EINVAL" },
		{ RP_STATUS_INVALID, 0, "null" },
		{ RP_STATUS_DNS_ERROR, 0, "null" },
		{ RP_STATUS_DNS_ERROR, -ENOSPC, "ENOSPC" },
	};
	struct rp_result r = r_open();
	struct jobj o;
	char (*f)[J_MAX_VAL] = calloc(12, J_MAX_VAL);
	size_t i;

	(void)state;
	assert_non_null(f);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p;

		r.status = cases[i].st;
		r.err = cases[i].err;
		check_json_record(fmt(OUT_JSONL, &r), &o);
		assert_string_equal(jget(&o, "error"), cases[i].want);
		assert_int_equal(o.is_str[9],
				 strcmp(cases[i].want, "null") != 0);

		p = fmt(OUT_CSV, &r);
		assert_int_equal(csv_parse(&p, f, 12), T_NKEYS);
		assert_string_equal(f[9], o.is_str[9] ? cases[i].want : "");

		fmt(OUT_TEXT, &r);
		if (o.is_str[9])
			assert_non_null(strstr(fbuf, cases[i].want));
		else
			assert_null(strstr(fbuf, "E"));
	}
	free(f);
}

static void test_json_escaping(void **state)
{
	struct rp_result r = r_invalid();
	struct jobj o;

	(void)state;
	r.input = "a\"b\\c/d\x01\x1f\n\t\x7f" "e";
	r.detail = "\x1b[31mred\xc2\x9b" "2J";
	assert_string_equal(fmt(OUT_JSONL, &r),
		"{\"input\":\"a\\\"b\\\\c/d"
		"\\u0001\\u001f\\u000a\\u0009\\u007fe\","
		"\"index\":3,\"ip\":null,\"port\":null,\"status\":\"invalid\","
		"\"rtt_us\":0,\"attempts\":0,\"elapsed_us\":0,\"dns_us\":0,"
		"\"error\":null,\"detail\":\"\\u001b[31mred\\u009b2J\"}\n");
	check_json_record(fbuf, &o);
	assert_string_equal(jget(&o, "input"), r.input);
	assert_string_equal(jget(&o, "detail"), r.detail);
}

static void test_json_invalid_utf8(void **state)
{
	struct rp_result r = r_invalid();
	struct jobj o;

	(void)state;
	/* stray bytes, valid 2/3/4-byte forms, overlong, surrogate, past
	 * U+10FFFF, and a sequence cut short by the end of the string */
	r.input = "\xff\xfe ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
		  "\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82";
	r.detail = "x\x80y";
	assert_string_equal(fmt(OUT_JSONL, &r),
		"{\"input\":\"\\ufffd\\ufffd ok \xc3\xa9\xe2\x82\xac"
		"\xf0\x9f\x98\x80 \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd "
		"\\ufffd\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\","
		"\"index\":3,\"ip\":null,\"port\":null,\"status\":\"invalid\","
		"\"rtt_us\":0,\"attempts\":0,\"elapsed_us\":0,\"dns_us\":0,"
		"\"error\":null,\"detail\":\"x\\ufffdy\"}\n");
	check_json_record(fbuf, &o);
	assert_string_equal(jget(&o, "detail"), "x\xef\xbf\xbdy");
}

/* Random hostile text: every JSON record parses, every CSV record parses
 * back to the original bytes, and text puts no control byte out. */
static void test_random_text(void **state)
{
	struct rp_result r = r_error();
	char (*f)[J_MAX_VAL] = calloc(12, J_MAX_VAL);
	char input[RP_INPUT_MAX], detail[RP_INPUT_MAX], dns[16];
	struct jobj *o = malloc(sizeof(*o));
	int i;

	(void)state;
	assert_non_null(f);
	assert_non_null(o);
	for (i = 0; i < 3000; i++) {
		const unsigned char *t, *end;
		const char *p;
		size_t n;

		rnd_text(input, rnd() % (RP_INPUT_MAX - 1));
		rnd_text(detail, rnd() % (RP_INPUT_MAX - 1));
		r.input = input;
		r.detail = i % 5 ? detail : NULL;
		r.dns_us = i % 3 ? rnd() : 0;
		snprintf(dns, sizeof(dns), "%" PRIu32, r.dns_us);

		check_json_record(fmt(OUT_JSONL, &r), o);
		assert_string_equal(jget(o, "dns_us"), dns);

		p = fmt(OUT_CSV, &r);
		assert_int_equal(csv_parse(&p, f, 12), T_NKEYS);
		assert_int_equal(*p, '\0');
		assert_string_equal(f[0], csv_text(input));
		assert_string_equal(f[8], dns);
		assert_string_equal(f[10], r.detail ? csv_text(detail) : "");

		n = out_format_result(fbuf, sizeof(fbuf), OUT_TEXT, 0, &r, T_MS);
		t = (const unsigned char *)fbuf;
		end = t + n - 1;
		assert_int_equal(*end, '\n');
		while (t < end) {
			int len = wf_utf8(t, end);

			assert_int_not_equal(len, 0);
			assert_false(t[0] < 0x20 || t[0] == 0x7f);
			/* U+0080..U+009F (C1) encode as C2 80..C2 9F */
			assert_false(t[0] == 0xc2 && t[1] < 0xa0);
			t += len;
		}
	}
	free(o);
	free(f);
}

static void test_csv_records(void **state)
{
	struct rp_result r;

	(void)state;
	r = r_open();
	assert_string_equal(fmt(OUT_CSV, &r),
			    "192.0.2.1:22,7,192.0.2.1,22,open,123,1,456,0,,\n");
	r = r_closed6();
	assert_string_equal(fmt(OUT_CSV, &r),
			    "2001:db8::/126,18446744073709551615,2001:db8::1,"
			    "443,closed,1500,2,2000001,0,,\n");
	r = r_invalid();
	assert_string_equal(fmt(OUT_CSV, &r),
			    "10.0.0.300:80,3,,,invalid,0,0,0,0,,"
			    "t.txt:3: bad address\n");
	r = r_error();
	assert_string_equal(fmt(OUT_CSV, &r),
			    "198.51.100.9:8080,42,198.51.100.9,8080,error,0,1,"
			    "10,0,EADDRNOTAVAIL,local ports exhausted\n");

	r = r_resolved();
	assert_string_equal(fmt(OUT_CSV, &r),
			    "a.example.test:22,8,192.0.2.5,22,open,123,1,4400,"
			    "4210,,\n");
	r.dns_us = 1;
	assert_string_equal(fmt(OUT_CSV, &r),
			    "a.example.test:22,8,192.0.2.5,22,open,123,1,4400,"
			    "1,,\n");

	/* no address: ip and port empty; no errno */
	r = r_dns_error();
	assert_string_equal(fmt(OUT_CSV, &r),
			    "nosuch.example.test:80,4,,,dns-error,0,0,8100,"
			    "8000,,NXDOMAIN\n");
}

static void test_csv_quoting(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain text", "plain text" },
		{ "a,b", "\"a,b\"" },
		{ "say \"hi\"", "\"say \"\"hi\"\"\"" },
		{ "\"", "\"\"\"\"" },
		{ "cr\rhere", "\"cr\rhere\"" },
		{ "lf\nhere", "\"lf\nhere\"" },
		{ "tab\tand ;", "tab\tand ;" },
		{ "", "" },
		/* A formula to a spreadsheet: "'" in front (OWASP). */
		{ "=1+2", "'=1+2" },
		{ "+1", "'+1" },
		{ "-1", "'-1" },
		{ "@SUM(A1:A9)", "'@SUM(A1:A9)" },
		{ "\tx", "'\tx" },
		{ "\rx", "\"'\rx\"" },
		{ "=HYPERLINK(\"http://x/\",\"y\")",
		  "\"'=HYPERLINK(\"\"http://x/\"\",\"\"y\"\")\"" },
		{ "a=b-c+d@e", "a=b-c+d@e" },
		{ " =x", " =x" },
	};
	struct rp_result r = r_invalid();
	char want[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r.input = cases[i].in;
		r.detail = cases[i].in;
		snprintf(want, sizeof(want), "%s,3,,,invalid,0,0,0,0,,%s\n",
			 cases[i].want, cases[i].want);
		assert_string_equal(fmt(OUT_CSV, &r), want);
	}
}

/* The cells of an HTTP record a scanned server chose are no formulas. */
static void test_http_csv_formula(void **state)
{
	struct rp_result r = r_open();
	char (*f)[J_MAX_VAL] = calloc(H_NKEYS + 2, J_MAX_VAL);
	struct rp_http_info h;
	const char *p;

	(void)state;
	assert_non_null(f);
	memset(&h, 0, sizeof(h));
	r.status = RP_STATUS_OK;
	r.http = &h;
	h.url = "http://192.0.2.1/";
	h.status_code = 200;
	h.reason = "-OK";
	h.content_type = "+text/html";
	h.server = "@srv";
	h.location = "\t/x";
	h.title = "=HYPERLINK(\"http://evil.test/\",\"Click\")";
	p = fmth(OUT_CSV, &r);
	assert_int_equal(csv_parse(&p, f, H_NKEYS + 2), H_NKEYS);
	assert_string_equal(f[7], "'-OK");
	assert_string_equal(f[11], "'+text/html");
	assert_string_equal(f[12], "'@srv");
	assert_string_equal(f[13], "'\t/x");
	assert_string_equal(f[15], "'=HYPERLINK(\"http://evil.test/\",\"Click\")");
	free(f);
}

static void test_text_records(void **state)
{
	struct rp_result r;

	(void)state;
	r = r_open();
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "192.0.2.1:22           open                      0.123 ms\n");

	/* IPv6 in brackets; the input, a CIDR block, says nothing more than
	 * the address: not echoed */
	r = r_closed6();
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "[2001:db8::1]:443      closed                    1.500 ms\n");
	r.input = "2001:db8::1"; /* an address without the port: the same */
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "[2001:db8::1]:443      closed                    1.500 ms\n");
	r.input = "10.0.0-3.1-10"; /* nmap's octet range */
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "[2001:db8::1]:443      closed                    1.500 ms\n");
	r.input = "db.example.test"; /* a name says more: echoed */
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "[2001:db8::1]:443      closed                    1.500 ms"
			    " (db.example.test)\n");
	r.input = "[2001:db8::1]:443";
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "[2001:db8::1]:443      closed                    1.500 ms\n");

	/* a long IPv6 address overflows the column but stays separated */
	r = v6("2001:db8:1234:5678:9abc:def0:1234:5678", 65535);
	r.status = RP_STATUS_OPEN;
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "[2001:db8:1234:5678:9abc:def0:1234:5678]:65535 "
			    "open                      0.000 ms\n");

	r = r_invalid();
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "-                      invalid                          -"
			    "  t.txt:3: bad address (10.0.0.300:80)\n");

	r = r_error();
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "198.51.100.9:8080      error                            -"
			    "  EADDRNOTAVAIL: local ports exhausted\n");

	r = v4("203.0.113.5", 80);
	r.status = RP_STATUS_UNREACHABLE;
	r.err = -EHOSTUNREACH;
	r.rtt_us = 12345678;
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "203.0.113.5:80         unreachable             12345.678 ms"
			    "  EHOSTUNREACH\n");

	r = v4("203.0.113.5", 80);
	r.status = RP_STATUS_FILTERED;
	r.err = -ETIMEDOUT;
	r.input = "203.0.113.0/30";
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "203.0.113.5:80         filtered                         -"
			    "\n");

	/* a resolved name: its time after the rtt, before the input */
	r = r_resolved();
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "192.0.2.5:22           open                      0.123 ms"
			    " dns 4.210 ms (a.example.test:22)\n");
	/* answered from the cache (0): not shown */
	r.dns_us = 0;
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "192.0.2.5:22           open                      0.123 ms"
			    " (a.example.test:22)\n");
	/* ending the line: no trailing space; the extreme values */
	r.input = "192.0.2.5:22";
	r.dns_us = 1;
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "192.0.2.5:22           open                      0.123 ms"
			    " dns 0.001 ms\n");
	r.dns_us = UINT32_MAX;
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "192.0.2.5:22           open                      0.123 ms"
			    " dns 4294967.295 ms\n");

	/* dns-error: no address, no rtt, the resolver's reason */
	r = r_dns_error();
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "-                      dns-error                        -"
			    " dns 8.000 ms  NXDOMAIN"
			    " (nosuch.example.test:80)\n");
	r.dns_us = 0;
	r.detail = "resolver unavailable";
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "-                      dns-error                        -"
			    "  resolver unavailable"
			    " (nosuch.example.test:80)\n");
	r.err = -ENOSPC;
	r.detail = "name cache full";
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "-                      dns-error                        -"
			    "  ENOSPC: name cache full"
			    " (nosuch.example.test:80)\n");
}

static void test_text_escaping(void **state)
{
	struct rp_result r = r_invalid();

	(void)state;
	r.input = "\x1b]0;pwned\x07\x7f\tcaf\xc3\xa9\xc2\x9b\xff\\";
	r.detail = "line\r\nnext\x1b[2J";
	assert_string_equal(fmt(OUT_TEXT, &r),
			    "-                      invalid                          -"
			    "  line\\x0d\\x0anext\\x1b[2J"
			    " (\\x1b]0;pwned\\x07\\x7f\\x09caf\xc3\xa9"
			    "\\xc2\\x9b\\xff\\)\n");
}

/* out_format_result reports the full length when the buffer is short */
static void test_truncation(void **state)
{
	struct rp_result r = r_error();
	enum out_format f;
	char small[40];
	size_t full, n;

	(void)state;
	for (f = OUT_TEXT; f <= OUT_CSV; f++) {
		full = strlen(fmtw(f, &r));
		memset(small, 'Z', sizeof(small));
		n = out_format_result(small, 10, f, 0, &r, T_MS);
		assert_int_equal(n, full);
		assert_int_equal(small[9], '\0');
		assert_memory_equal(small, fbuf, 9);
		assert_int_equal(small[10], 'Z');

		memset(small, 'Z', sizeof(small));
		assert_int_equal(out_format_result(small, 0, f, 0, &r, T_MS), full);
		assert_int_equal(small[0], 'Z');

		/* exactly enough room for the text but not the NUL */
		n = out_format_result(fbuf, full, f, 0, &r, T_MS);
		assert_int_equal(n, full);
		assert_int_equal(fbuf[full - 1], '\0');
	}
}

/* ---- HTTP records ------------------------------------------------------ */

static struct rp_http_info hinfo;

/* A redirect with every field set, hostile bytes in server, location and
 * title (ESC, BEL, C1 as UTF-8, quotes, commas, a backslash, a trailing
 * space, stray and cut-short UTF-8). */
static struct rp_result h_full(void)
{
	struct rp_result r = v4("192.0.2.10", 80);

	r.input = "http://example.test/";
	r.index = 5;
	r.status = RP_STATUS_OK;
	r.rtt_us = 300; /* connect_us comes from http, not from here */
	r.attempts = 1;
	r.elapsed_us = 12900;
	memset(&hinfo, 0, sizeof(hinfo));
	hinfo.url = "http://example.test/";
	hinfo.status_code = 301;
	hinfo.reason = "Moved Permanently";
	hinfo.content_length = 162;
	hinfo.body_bytes = 162;
	hinfo.content_type = "text/html";
	hinfo.server = "nginx\x1b[2J\"x\",\xff";
	hinfo.location = "https://example.test/\xc2\x9b?a=1,b ";
	hinfo.title = "T\x07i\xc3\xa9tle \xe2\x82 \"q\"\\";
	hinfo.body_hash = 0xdeadbeefu;
	hinfo.connect_us = 310;
	hinfo.ttfb_us = 1500;
	hinfo.total_us = 12345;
	r.http = &hinfo;
	return r;
}

/* What a HEAD answer looks like: a length, no body, no extra headers. */
static struct rp_result h_head(void)
{
	struct rp_result r = v4("192.0.2.11", 8080);

	r.input = "192.0.2.11:8080";
	r.index = 6;
	r.status = RP_STATUS_OK;
	r.rtt_us = 90;
	r.attempts = 1;
	r.elapsed_us = 800;
	memset(&hinfo, 0, sizeof(hinfo));
	hinfo.url = "http://192.0.2.11:8080/";
	hinfo.status_code = 200;
	hinfo.reason = "OK";
	hinfo.content_length = 5000;
	hinfo.content_type = "text/html";
	hinfo.server = "";
	hinfo.location = "";
	hinfo.title = "";
	hinfo.body_hash = 0xcbf29ce484222325u; /* FNV-1a of nothing */
	hinfo.connect_us = 90;
	hinfo.ttfb_us = 400;
	hinfo.total_us = 700;
	r.http = &hinfo;
	return r;
}

/* A body cut at max_body, chunked (no length), over IPv6. */
static struct rp_result h_trunc6(void)
{
	struct rp_result r = v6("2001:db8::80", 8080);

	r.input = "http://[2001:db8::80]:8080/big";
	r.index = 9;
	r.status = RP_STATUS_OK;
	r.rtt_us = 1200;
	r.attempts = 2;
	r.elapsed_us = 2500000;
	memset(&hinfo, 0, sizeof(hinfo));
	hinfo.url = "http://[2001:db8::80]:8080/big";
	hinfo.status_code = 200;
	hinfo.reason = "OK";
	hinfo.content_length = -1;
	hinfo.body_bytes = 1048576;
	hinfo.truncated = 1;
	hinfo.content_type = "application/octet-stream";
	hinfo.server = "srv";
	hinfo.location = "";
	hinfo.title = "";
	hinfo.body_hash = 0xffffffffffffffffu;
	hinfo.connect_us = 1200;
	hinfo.ttfb_us = 30000;
	hinfo.total_us = 2400000;
	r.http = &hinfo;
	return r;
}

/* No answer in time, never connected as far as the result says. */
static struct rp_result h_timeout(void)
{
	struct rp_result r = v4("198.51.100.7", 80);

	r.input = "http://198.51.100.7/";
	r.index = 11;
	r.status = RP_STATUS_TIMEOUT;
	r.err = -ETIMEDOUT;
	r.attempts = 1;
	r.elapsed_us = 5000000;
	return r;
}

/* Connected, but no response came: the response fields stay null. */
static struct rp_result h_timeout_conn(void)
{
	struct rp_result r = h_timeout();

	r.index = 13;
	r.rtt_us = 500;
	r.detail = "no response";
	memset(&hinfo, 0, sizeof(hinfo));
	hinfo.url = "http://198.51.100.7/";
	hinfo.reason = "";
	hinfo.content_length = -1;
	hinfo.content_type = "";
	hinfo.server = "";
	hinfo.location = "";
	hinfo.title = "";
	hinfo.body_hash = 0xcbf29ce484222325u;
	hinfo.connect_us = 500;
	hinfo.total_us = 5000000;
	r.http = &hinfo;
	return r;
}

/* Connection refused, in an HTTP scan. */
static struct rp_result h_closed(void)
{
	struct rp_result r = v4("192.0.2.20", 80);

	r.input = "192.0.2.20:80";
	r.index = 12;
	r.status = RP_STATUS_CLOSED;
	r.err = -ECONNREFUSED;
	r.rtt_us = 250;
	r.attempts = 1;
	r.elapsed_us = 260;
	return r;
}

/* A 200 reached by following two redirects: url is the last URL asked
 * for, input the first one. */
static struct rp_result h_followed(void)
{
	struct rp_result r = v4("192.0.2.12", 80);

	r.input = "http://a.example.test/old";
	r.index = 14;
	r.status = RP_STATUS_OK;
	r.rtt_us = 150;
	r.attempts = 1;
	r.elapsed_us = 3100;
	memset(&hinfo, 0, sizeof(hinfo));
	hinfo.url = "http://a.example.test/new/";
	hinfo.status_code = 200;
	hinfo.reason = "OK";
	hinfo.content_length = 18;
	hinfo.body_bytes = 18;
	hinfo.content_type = "text/html";
	hinfo.server = "";
	hinfo.location = "";
	hinfo.title = "Hi";
	hinfo.body_hash = 0x0123456789abcdefu;
	hinfo.connect_us = 150;
	hinfo.ttfb_us = 600;
	hinfo.total_us = 1900;
	hinfo.redirects = 2;
	r.http = &hinfo;
	return r;
}

static void test_http_json_records(void **state)
{
	struct rp_result r;
	struct jobj o;

	(void)state;
	r = h_full();
	assert_string_equal(fmth(OUT_JSONL, &r),
		"{\"input\":\"http://example.test/\",\"index\":5,"
		"\"url\":\"http://example.test/\",\"ip\":\"192.0.2.10\","
		"\"port\":80,\"status\":\"ok\",\"http_status\":301,"
		"\"reason\":\"Moved Permanently\",\"content_length\":162,"
		"\"body_bytes\":162,\"truncated\":false,"
		"\"content_type\":\"text/html\","
		"\"server\":\"nginx\\u001b[2J\\\"x\\\",\\ufffd\","
		"\"location\":\"https://example.test/\\u009b?a=1,b \","
		"\"redirects\":0,"
		"\"title\":\"T\\u0007i\xc3\xa9tle \\ufffd\\ufffd "
		"\\\"q\\\"\\\\\","
		"\"body_hash\":\"00000000deadbeef\",\"connect_us\":310,"
		"\"ttfb_us\":1500,\"total_us\":12345,\"attempts\":1,"
		"\"elapsed_us\":12900,\"dns_us\":0,\"error\":null,"
		"\"detail\":null}\n");
	check_http_json_record(fbuf, &o);
	assert_string_equal(jget(&o, "location"), hinfo.location);
	assert_string_equal(jget(&o, "server"), "nginx\x1b[2J\"x\","
						"\xef\xbf\xbd");

	r = h_head();
	assert_string_equal(fmth(OUT_JSONL, &r),
		"{\"input\":\"192.0.2.11:8080\",\"index\":6,"
		"\"url\":\"http://192.0.2.11:8080/\",\"ip\":\"192.0.2.11\","
		"\"port\":8080,\"status\":\"ok\",\"http_status\":200,"
		"\"reason\":\"OK\",\"content_length\":5000,\"body_bytes\":0,"
		"\"truncated\":false,\"content_type\":\"text/html\","
		"\"server\":\"\",\"location\":\"\",\"redirects\":0,"
		"\"title\":\"\","
		"\"body_hash\":\"cbf29ce484222325\",\"connect_us\":90,"
		"\"ttfb_us\":400,\"total_us\":700,\"attempts\":1,"
		"\"elapsed_us\":800,\"dns_us\":0,\"error\":null,"
		"\"detail\":null}\n");
	check_http_json_record(fbuf, &o);

	r = h_trunc6();
	assert_string_equal(fmth(OUT_JSONL, &r),
		"{\"input\":\"http://[2001:db8::80]:8080/big\",\"index\":9,"
		"\"url\":\"http://[2001:db8::80]:8080/big\","
		"\"ip\":\"2001:db8::80\",\"port\":8080,\"status\":\"ok\","
		"\"http_status\":200,\"reason\":\"OK\","
		"\"content_length\":null,\"body_bytes\":1048576,"
		"\"truncated\":true,"
		"\"content_type\":\"application/octet-stream\","
		"\"server\":\"srv\",\"location\":\"\",\"redirects\":0,"
		"\"title\":\"\","
		"\"body_hash\":\"ffffffffffffffff\",\"connect_us\":1200,"
		"\"ttfb_us\":30000,\"total_us\":2400000,\"attempts\":2,"
		"\"elapsed_us\":2500000,\"dns_us\":0,\"error\":null,"
		"\"detail\":null}\n");
	check_http_json_record(fbuf, &o);

	r = h_timeout();
	assert_string_equal(fmth(OUT_JSONL, &r),
		"{\"input\":\"http://198.51.100.7/\",\"index\":11,\"url\":null,"
		"\"ip\":\"198.51.100.7\",\"port\":80,\"status\":\"timeout\","
		"\"http_status\":null,\"reason\":null,"
		"\"content_length\":null,\"body_bytes\":0,"
		"\"truncated\":false,\"content_type\":null,\"server\":null,"
		"\"location\":null,\"redirects\":0,\"title\":null,"
		"\"body_hash\":null,"
		"\"connect_us\":null,\"ttfb_us\":null,\"total_us\":null,"
		"\"attempts\":1,\"elapsed_us\":5000000,\"dns_us\":0,"
		"\"error\":null,"
		"\"detail\":null}\n");
	check_http_json_record(fbuf, &o);

	r = h_timeout_conn();
	assert_string_equal(fmth(OUT_JSONL, &r),
		"{\"input\":\"http://198.51.100.7/\",\"index\":13,"
		"\"url\":\"http://198.51.100.7/\","
		"\"ip\":\"198.51.100.7\",\"port\":80,\"status\":\"timeout\","
		"\"http_status\":null,\"reason\":null,"
		"\"content_length\":null,\"body_bytes\":0,"
		"\"truncated\":false,\"content_type\":null,\"server\":null,"
		"\"location\":null,\"redirects\":0,\"title\":null,"
		"\"body_hash\":null,"
		"\"connect_us\":500,\"ttfb_us\":0,\"total_us\":5000000,"
		"\"attempts\":1,\"elapsed_us\":5000000,\"dns_us\":0,"
		"\"error\":null,"
		"\"detail\":\"no response\"}\n");
	check_http_json_record(fbuf, &o);

	r = h_closed();
	assert_string_equal(fmth(OUT_JSONL, &r),
		"{\"input\":\"192.0.2.20:80\",\"index\":12,\"url\":null,"
		"\"ip\":\"192.0.2.20\",\"port\":80,\"status\":\"closed\","
		"\"http_status\":null,\"reason\":null,"
		"\"content_length\":null,\"body_bytes\":0,"
		"\"truncated\":false,\"content_type\":null,\"server\":null,"
		"\"location\":null,\"redirects\":0,\"title\":null,"
		"\"body_hash\":null,"
		"\"connect_us\":null,\"ttfb_us\":null,\"total_us\":null,"
		"\"attempts\":1,\"elapsed_us\":260,\"dns_us\":0,\"error\":null,"
		"\"detail\":null}\n");
	check_http_json_record(fbuf, &o);

	/* no address: ip and port null as in TCP records */
	r = r_invalid();
	assert_string_equal(fmth(OUT_JSONL, &r),
		"{\"input\":\"10.0.0.300:80\",\"index\":3,\"url\":null,"
		"\"ip\":null,\"port\":null,\"status\":\"invalid\","
		"\"http_status\":null,\"reason\":null,"
		"\"content_length\":null,\"body_bytes\":0,"
		"\"truncated\":false,\"content_type\":null,\"server\":null,"
		"\"location\":null,\"redirects\":0,\"title\":null,"
		"\"body_hash\":null,"
		"\"connect_us\":null,\"ttfb_us\":null,\"total_us\":null,"
		"\"attempts\":0,\"elapsed_us\":0,\"dns_us\":0,\"error\":null,"
		"\"detail\":\"t.txt:3: bad address\"}\n");
	check_http_json_record(fbuf, &o);

	/* a resolved name: dns_us after elapsed_us */
	r = h_head();
	r.input = "http://www.example.test:8080/";
	hinfo.url = "http://www.example.test:8080/";
	r.dns_us = 95;
	assert_string_equal(fmth(OUT_JSONL, &r),
		"{\"input\":\"http://www.example.test:8080/\",\"index\":6,"
		"\"url\":\"http://www.example.test:8080/\","
		"\"ip\":\"192.0.2.11\",\"port\":8080,\"status\":\"ok\","
		"\"http_status\":200,\"reason\":\"OK\",\"content_length\":5000,"
		"\"body_bytes\":0,\"truncated\":false,"
		"\"content_type\":\"text/html\",\"server\":\"\","
		"\"location\":\"\",\"redirects\":0,\"title\":\"\","
		"\"body_hash\":\"cbf29ce484222325\",\"connect_us\":90,"
		"\"ttfb_us\":400,\"total_us\":700,\"attempts\":1,"
		"\"elapsed_us\":800,\"dns_us\":95,\"error\":null,"
		"\"detail\":null}\n");
	check_http_json_record(fbuf, &o);
	assert_int_equal(o.is_str[22], 0);

	/* dns-error: never connected, no address, no errno */
	r = r_dns_error();
	r.input = "http://nosuch.example.test/";
	assert_string_equal(fmth(OUT_JSONL, &r),
		"{\"input\":\"http://nosuch.example.test/\",\"index\":4,"
		"\"url\":null,\"ip\":null,\"port\":null,"
		"\"status\":\"dns-error\",\"http_status\":null,"
		"\"reason\":null,\"content_length\":null,\"body_bytes\":0,"
		"\"truncated\":false,\"content_type\":null,\"server\":null,"
		"\"location\":null,\"redirects\":0,\"title\":null,"
		"\"body_hash\":null,"
		"\"connect_us\":null,\"ttfb_us\":null,\"total_us\":null,"
		"\"attempts\":0,\"elapsed_us\":8100,\"dns_us\":8000,"
		"\"error\":null,\"detail\":\"NXDOMAIN\"}\n");
	check_http_json_record(fbuf, &o);

	/* a NULL input is "", a NULL string from the engine is null */
	r = h_head();
	r.input = NULL;
	hinfo.server = NULL;
	check_http_json_record(fmth(OUT_JSONL, &r), &o);
	assert_string_equal(jget(&o, "input"), "");
	assert_int_equal(o.is_str[0], 1);
	assert_string_equal(jget(&o, "server"), "null");
	assert_int_equal(o.is_str[12], 0);
}

static void test_http_csv_records(void **state)
{
	struct rp_result r;
	char (*f)[J_MAX_VAL] = calloc(H_NKEYS + 2, J_MAX_VAL);
	const char *p;

	(void)state;
	assert_non_null(f);
	r = h_full();
	assert_string_equal(fmth(OUT_CSV, &r),
		"http://example.test/,5,http://example.test/,192.0.2.10,80,ok,"
		"301,Moved Permanently,162,162,false,text/html,"
		"\"nginx\x1b[2J\"\"x\"\",\xff\","
		"\"https://example.test/\xc2\x9b?a=1,b \",0,"
		"\"T\x07i\xc3\xa9tle \xe2\x82 \"\"q\"\"\\\","
		"00000000deadbeef,310,1500,12345,1,12900,0,,\n");
	p = fbuf;
	assert_int_equal(csv_parse(&p, f, H_NKEYS + 2), H_NKEYS);
	assert_string_equal(f[12], hinfo.server);
	assert_string_equal(f[13], hinfo.location);
	assert_string_equal(f[15], hinfo.title);

	r = h_head();
	assert_string_equal(fmth(OUT_CSV, &r),
		"192.0.2.11:8080,6,http://192.0.2.11:8080/,192.0.2.11,8080,ok,"
		"200,OK,5000,0,false,text/html,,,0,,cbf29ce484222325,90,400,"
		"700,1,800,0,,\n");

	r = h_trunc6();
	assert_string_equal(fmth(OUT_CSV, &r),
		"http://[2001:db8::80]:8080/big,9,"
		"http://[2001:db8::80]:8080/big,2001:db8::80,8080,ok,200,OK,,"
		"1048576,true,application/octet-stream,srv,,0,,"
		"ffffffffffffffff,1200,30000,2400000,2,2500000,0,,\n");

	r = h_timeout();
	assert_string_equal(fmth(OUT_CSV, &r),
		"http://198.51.100.7/,11,,198.51.100.7,80,timeout,,,,0,false,"
		",,,0,,,,,,1,5000000,0,,\n");

	r = h_timeout_conn();
	assert_string_equal(fmth(OUT_CSV, &r),
		"http://198.51.100.7/,13,http://198.51.100.7/,198.51.100.7,80,"
		"timeout,,,,0,false,,,,0,,,500,0,5000000,1,5000000,0,,"
		"no response\n");

	r = h_closed();
	assert_string_equal(fmth(OUT_CSV, &r),
		"192.0.2.20:80,12,,192.0.2.20,80,closed,,,,0,false,,,,0,,,,,,1,"
		"260,0,,\n");
	p = fbuf;
	assert_int_equal(csv_parse(&p, f, H_NKEYS + 2), H_NKEYS);

	r = h_head();
	r.input = "http://www.example.test:8080/";
	hinfo.url = "http://www.example.test:8080/";
	r.dns_us = 95;
	assert_string_equal(fmth(OUT_CSV, &r),
		"http://www.example.test:8080/,6,http://www.example.test:8080/,"
		"192.0.2.11,8080,ok,200,OK,5000,0,false,text/html,,,0,,"
		"cbf29ce484222325,90,400,700,1,800,95,,\n");

	r = r_dns_error();
	r.input = "http://nosuch.example.test/";
	assert_string_equal(fmth(OUT_CSV, &r),
		"http://nosuch.example.test/,4,,,,dns-error,,,,0,false,"
		",,,0,,,,,,0,8100,8000,,NXDOMAIN\n");
	p = fbuf;
	assert_int_equal(csv_parse(&p, f, H_NKEYS + 2), H_NKEYS);
	assert_string_equal(f[22], "8000");
	assert_string_equal(f[24], "NXDOMAIN");
	free(f);
}

static void test_http_text_records(void **state)
{
	struct rp_result r;

	(void)state;
	r = h_full();
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.10:80          ok             301     162 B   12.345 ms"
		"  [nginx\\x1b[2J\"x\",\\xff]"
		"  \"T\\x07i\xc3\xa9tle \\xe2\\x82 \"q\"\\\""
		"  -> https://example.test/\\xc2\\x9b?a=1,b\\x20"
		" (http://example.test/)\n");

	/* the same input as the address is not repeated */
	r = h_head();
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.11:8080        ok             200       0 B    0.700 ms"
		"\n");

	/* odd status codes keep the column */
	hinfo.status_code = 99;
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.11:8080        ok              99       0 B    0.700 ms"
		"\n");
	hinfo.status_code = 0;
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.11:8080        ok               -       0 B    0.700 ms"
		"\n");

	r = h_trunc6();
	assert_string_equal(fmth(OUT_TEXT, &r),
		"[2001:db8::80]:8080    ok             200 1048576 B+ 2400.000 ms"
		"  [srv] (http://[2001:db8::80]:8080/big)\n");

	/* what was read leniently ends the line, before the input */
	r.detail = "lenient: bare LF; odd chunk size line";
	assert_string_equal(fmth(OUT_TEXT, &r),
		"[2001:db8::80]:8080    ok             200 1048576 B+ 2400.000 ms"
		"  [srv]  lenient: bare LF; odd chunk size line"
		" (http://[2001:db8::80]:8080/big)\n");

	/* a redirect that ends the line, its trailing spaces escaped */
	r = h_head();
	r.input = NULL;
	hinfo.status_code = 302;
	hinfo.location = "/login  ";
	hinfo.total_us = 1234567;
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.11:8080        ok             302       0 B  1234.567 ms"
		"  -> /login\\x20\\x20\n");
	hinfo.location = " ";
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.11:8080        ok             302       0 B  1234.567 ms"
		"  -> \\x20\n");

	/* not OK: the TCP line, with the status column wide enough for
	 * "protocol-error" */
	r = h_timeout();
	assert_string_equal(fmth(OUT_TEXT, &r),
		"198.51.100.7:80        timeout                 -"
		" (http://198.51.100.7/)\n");

	r = h_timeout_conn();
	assert_string_equal(fmth(OUT_TEXT, &r),
		"198.51.100.7:80        timeout          0.500 ms  no response"
		" (http://198.51.100.7/)\n");

	r = h_closed();
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.20:80          closed           0.250 ms\n");

	r = h_closed();
	r.status = RP_STATUS_PROTOCOL_ERROR;
	r.err = -EPROTO;
	r.detail = "HPE_INVALID_CONSTANT: Expected HTTP/";
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.20:80          protocol-error   0.250 ms"
		"  HPE_INVALID_CONSTANT: Expected HTTP/\n");

	r = r_error();
	assert_string_equal(fmth(OUT_TEXT, &r),
		"198.51.100.9:8080      error                   -"
		"  EADDRNOTAVAIL: local ports exhausted\n");

	/* OK without http (not something the engine does): still a line */
	r = h_closed();
	r.status = RP_STATUS_OK;
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.20:80          ok               0.250 ms\n");

	/* a resolved name: its time right after the total time, before
	 * the server, title and location */
	r = h_full();
	r.dns_us = 1234;
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.10:80          ok             301     162 B   12.345 ms"
		" dns 1.234 ms"
		"  [nginx\\x1b[2J\"x\",\\xff]"
		"  \"T\\x07i\xc3\xa9tle \\xe2\\x82 \"q\"\\\""
		"  -> https://example.test/\\xc2\\x9b?a=1,b\\x20"
		" (http://example.test/)\n");

	/* ending the line: no trailing space */
	r = h_head();
	r.dns_us = 95;
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.11:8080        ok             200       0 B    0.700 ms"
		" dns 0.095 ms\n");
	/* answered from the cache: nothing */
	r.dns_us = 0;
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.11:8080        ok             200       0 B    0.700 ms"
		"\n");

	/* not OK: as TCP lines, the dns time after the rtt column */
	r = h_closed();
	r.dns_us = 2000;
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.20:80          closed           0.250 ms"
		" dns 2.000 ms\n");

	r = r_dns_error();
	r.input = "http://nosuch.example.test/";
	assert_string_equal(fmth(OUT_TEXT, &r),
		"-                      dns-error               - dns 8.000 ms"
		"  NXDOMAIN (http://nosuch.example.test/)\n");
}

/* Followed redirects: a number after location in JSON and CSV (0 without
 * http), " (N redirects)" in text lines of OK results only, before the
 * input. */
static void test_http_redirects(void **state)
{
	char (*f)[J_MAX_VAL] = calloc(H_NKEYS + 2, J_MAX_VAL);
	struct rp_result r;
	struct jobj o;
	const char *p;

	(void)state;
	assert_non_null(f);
	r = h_followed();
	assert_string_equal(fmth(OUT_JSONL, &r),
		"{\"input\":\"http://a.example.test/old\",\"index\":14,"
		"\"url\":\"http://a.example.test/new/\",\"ip\":\"192.0.2.12\","
		"\"port\":80,\"status\":\"ok\",\"http_status\":200,"
		"\"reason\":\"OK\",\"content_length\":18,\"body_bytes\":18,"
		"\"truncated\":false,\"content_type\":\"text/html\","
		"\"server\":\"\",\"location\":\"\",\"redirects\":2,"
		"\"title\":\"Hi\",\"body_hash\":\"0123456789abcdef\","
		"\"connect_us\":150,\"ttfb_us\":600,\"total_us\":1900,"
		"\"attempts\":1,\"elapsed_us\":3100,\"dns_us\":0,"
		"\"error\":null,\"detail\":null}\n");
	check_http_json_record(fbuf, &o);
	assert_string_equal(jget(&o, "redirects"), "2");
	assert_int_equal(o.is_str[14], 0);

	assert_string_equal(fmth(OUT_CSV, &r),
		"http://a.example.test/old,14,http://a.example.test/new/,"
		"192.0.2.12,80,ok,200,OK,18,18,false,text/html,,,2,Hi,"
		"0123456789abcdef,150,600,1900,1,3100,0,,\n");
	p = fbuf;
	assert_int_equal(csv_parse(&p, f, H_NKEYS + 2), H_NKEYS);
	assert_string_equal(f[14], "2");

	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.12:80          ok             200      18 B    1.900 ms"
		"  \"Hi\" (2 redirects) (http://a.example.test/old)\n");

	/* ending the line when the input is the address */
	r.input = "192.0.2.12:80";
	hinfo.redirects = 1;
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.12:80          ok             200      18 B    1.900 ms"
		"  \"Hi\" (1 redirect)\n");

	/* after the dns time, the server, the title and the location (the
	 * redirect answered last when --follow ran out), whose trailing
	 * space is escaped all the same */
	r = h_followed();
	r.dns_us = 1234;
	hinfo.status_code = 301;
	hinfo.reason = "Moved Permanently";
	hinfo.content_length = 0;
	hinfo.body_bytes = 0;
	hinfo.server = "srv";
	hinfo.location = "/loop ";
	hinfo.redirects = 3;
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.12:80          ok             301       0 B    1.900 ms"
		" dns 1.234 ms  [srv]  \"Hi\"  -> /loop\\x20 (3 redirects)"
		" (http://a.example.test/old)\n");
	check_http_json_record(fmth(OUT_JSONL, &r), &o);
	assert_string_equal(jget(&o, "location"), "/loop ");
	assert_string_equal(jget(&o, "redirects"), "3");
	assert_non_null(strstr(fbuf, "\"location\":\"/loop \","
				     "\"redirects\":3,\"title\":"));
	assert_non_null(strstr(fmth(OUT_CSV, &r), ",srv,/loop ,3,Hi,"));

	/* the detail of an ok result (a redirect not followed, a later hop
	 * that failed) after the count, escaped like the rest */
	r.detail = "redirect limit 3 reached";
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.12:80          ok             301       0 B    1.900 ms"
		" dns 1.234 ms  [srv]  \"Hi\"  -> /loop\\x20 (3 redirects)"
		"  redirect limit 3 reached (http://a.example.test/old)\n");
	r.detail = "redirect to http://h/\x1b[2J failed: closed";
	hinfo.redirects = 0;
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.12:80          ok             301       0 B    1.900 ms"
		" dns 1.234 ms  [srv]  \"Hi\"  -> /loop\\x20"
		"  redirect to http://h/\\x1b[2J failed: closed"
		" (http://a.example.test/old)\n");
	check_http_json_record(fmth(OUT_JSONL, &r), &o);
	assert_string_equal(jget(&o, "detail"),
			    "redirect to http://h/\x1b[2J failed: closed");

	/* the largest count */
	r = h_followed();
	r.input = "";
	hinfo.redirects = UINT32_MAX;
	assert_string_equal(fmth(OUT_TEXT, &r),
		"192.0.2.12:80          ok             200      18 B    1.900 ms"
		"  \"Hi\" (4294967295 redirects)\n");
	check_http_json_record(fmth(OUT_JSONL, &r), &o);
	assert_string_equal(jget(&o, "redirects"), "4294967295");
	p = fmth(OUT_CSV, &r);
	assert_int_equal(csv_parse(&p, f, H_NKEYS + 2), H_NKEYS);
	assert_string_equal(f[14], "4294967295");

	/* no response after a redirect: JSON and CSV still count it, the
	 * text line (a TCP line) does not show it */
	r = h_timeout_conn();
	hinfo.redirects = 1;
	assert_string_equal(fmth(OUT_TEXT, &r),
		"198.51.100.7:80        timeout          0.500 ms  no response"
		" (http://198.51.100.7/)\n");
	check_http_json_record(fmth(OUT_JSONL, &r), &o);
	assert_string_equal(jget(&o, "redirects"), "1");
	assert_string_equal(jget(&o, "http_status"), "null");
	p = fmth(OUT_CSV, &r);
	assert_int_equal(csv_parse(&p, f, H_NKEYS + 2), H_NKEYS);
	assert_string_equal(f[14], "1");

	/* without http: 0, whatever the info of the last probe said */
	r.http = NULL;
	check_http_json_record(fmth(OUT_JSONL, &r), &o);
	assert_string_equal(jget(&o, "redirects"), "0");
	p = fmth(OUT_CSV, &r);
	assert_int_equal(csv_parse(&p, f, H_NKEYS + 2), H_NKEYS);
	assert_string_equal(f[14], "0");
	free(f);
}

/* Titles are cut at 60 shown bytes, "..." included, never inside an
 * escape or a UTF-8 sequence. */
static void test_http_title_cut(void **state)
{
	static const char lead[] =
		"192.0.2.11:8080        ok             200       0 B    0.700 ms"
		"  \"";
	struct rp_result r = h_head();
	char title[128], want[256];
	int i;

	(void)state;
	r.input = NULL;
	hinfo.title = title;

	memset(title, 'b', 60);
	title[60] = '\0';
	snprintf(want, sizeof(want), "%s%s\"\n", lead, title);
	assert_string_equal(fmth(OUT_TEXT, &r), want);

	memset(title, 'b', 61);
	title[61] = '\0';
	snprintf(want, sizeof(want), "%s%.57s...\"\n", lead, title);
	assert_string_equal(fmth(OUT_TEXT, &r), want);

	/* 55 + \x1b (4) + 2 = 61: the escape does not fit in 57 */
	memset(title, 'c', 55);
	strcpy(title + 55, "\x1bzz");
	snprintf(want, sizeof(want), "%s%.55s...\"\n", lead, title);
	assert_string_equal(fmth(OUT_TEXT, &r), want);

	/* 56 + \xc3\xa9 (2) + 10: the character does not fit in 57 */
	memset(title, 'd', 56);
	strcpy(title + 56, "\xc3\xa9xxxxxxxxxx");
	snprintf(want, sizeof(want), "%s%.56s...\"\n", lead, title);
	assert_string_equal(fmth(OUT_TEXT, &r), want);

	/* 55 + \xc3\xa9 (2) + 10: it does */
	memset(title, 'd', 55);
	strcpy(title + 55, "\xc3\xa9xxxxxxxxxx");
	snprintf(want, sizeof(want), "%s%.57s...\"\n", lead, title);
	assert_string_equal(fmth(OUT_TEXT, &r), want);

	/* 14 escapes of 4 bytes fit whole (56), the 15th is cut */
	memset(title, '\x01', 20);
	title[20] = '\0';
	snprintf(want, sizeof(want), "%s", lead);
	for (i = 0; i < 14; i++)
		strcat(want, "\\x01");
	strcat(want, "...\"\n");
	assert_string_equal(fmth(OUT_TEXT, &r), want);

	/* 15 escapes are exactly 60: shown whole */
	title[15] = '\0';
	snprintf(want, sizeof(want), "%s", lead);
	for (i = 0; i < 15; i++)
		strcat(want, "\\x01");
	strcat(want, "\"\n");
	assert_string_equal(fmth(OUT_TEXT, &r), want);

	/* JSON and CSV are never cut */
	memset(title, 'e', 100);
	title[100] = '\0';
	assert_non_null(strstr(fmth(OUT_JSONL, &r), title));
	assert_non_null(strstr(fmth(OUT_CSV, &r), title));
}

/* error shows the errno unless it only repeats the outcome */
static void test_http_error_field(void **state)
{
	static const struct {
		enum rp_status st;
		int err;
		const char *want;
	} cases[] = {
		{ RP_STATUS_OK, -EINVAL, "null" },
		{ RP_STATUS_TIMEOUT, -ETIMEDOUT, "null" },
		{ RP_STATUS_TIMEOUT, -ECANCELED, "ECANCELED" },
		{ RP_STATUS_RESET, -ECONNRESET, "null" },
		{ RP_STATUS_RESET, -EPIPE, "EPIPE" },
		{ RP_STATUS_PROTOCOL_ERROR, -EPROTO, "null" },
		{ RP_STATUS_PROTOCOL_ERROR, 0, "null" },
		{ RP_STATUS_PROTOCOL_ERROR, -EMSGSIZE, "EMSGSIZE" },
		{ RP_STATUS_CLOSED, -ECONNREFUSED, "null" },
		{ RP_STATUS_FILTERED, -ETIMEDOUT, "null" },
		{ RP_STATUS_UNREACHABLE, -EHOSTUNREACH, "EHOSTUNREACH" },
		{ RP_STATUS_ERROR, -EADDRNOTAVAIL, "EADDRNOTAVAIL" },
		{ RP_STATUS_DNS_ERROR, 0, "null" },
		{ RP_STATUS_DNS_ERROR, -ENOSPC, "ENOSPC" },
	};
	struct rp_result r = h_closed();
	struct jobj o;
	char (*f)[J_MAX_VAL] = calloc(H_NKEYS + 2, J_MAX_VAL);
	size_t i;

	(void)state;
	assert_non_null(f);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p;

		r.status = cases[i].st;
		r.err = cases[i].err;
		check_http_json_record(fmth(OUT_JSONL, &r), &o);
		assert_string_equal(jget(&o, "status"),
				    rp_status_name(cases[i].st));
		assert_string_equal(jget(&o, "error"), cases[i].want);
		assert_int_equal(o.is_str[23],
				 strcmp(cases[i].want, "null") != 0);

		p = fmth(OUT_CSV, &r);
		assert_int_equal(csv_parse(&p, f, H_NKEYS + 2), H_NKEYS);
		assert_string_equal(f[23], o.is_str[23] ? cases[i].want : "");

		fmth(OUT_TEXT, &r);
		if (o.is_str[23])
			assert_non_null(strstr(fbuf, cases[i].want));
		else
			assert_null(strstr(fbuf, "E"));
	}
	free(f);
}

/* Random hostile server, location, title (and the rest): JSON stays
 * valid, CSV gives the bytes back, text shows no control byte and ends in
 * no space. */
static void test_http_random_text(void **state)
{
	struct rp_result r = h_full();
	char (*f)[J_MAX_VAL] = calloc(H_NKEYS + 2, J_MAX_VAL);
	char input[RP_INPUT_MAX], detail[RP_INPUT_MAX], url[RP_INPUT_MAX];
	char reason[64], ctype[128], server[128], location[128], title[256];
	char dns[16], redirects[16];
	struct jobj *o = malloc(sizeof(*o));
	int i;

	(void)state;
	assert_non_null(f);
	assert_non_null(o);
	for (i = 0; i < 3000; i++) {
		const unsigned char *t, *end;
		const char *p;
		size_t n;

		rnd_text(input, rnd() % (RP_INPUT_MAX - 1));
		rnd_text(detail, rnd() % (RP_INPUT_MAX - 1));
		rnd_text(url, rnd() % (RP_INPUT_MAX - 1));
		rnd_text(reason, rnd() % sizeof(reason));
		rnd_text(ctype, rnd() % sizeof(ctype));
		rnd_text(server, rnd() % sizeof(server));
		rnd_text(location, rnd() % (sizeof(location) - 2));
		rnd_text(title, rnd() % sizeof(title));
		if (i % 7 == 0) /* spaces at the end of the line */
			strcat(location, "  ");
		r.input = input;
		r.detail = i % 5 ? detail : NULL;
		r.status = i % 4 ? RP_STATUS_OK : RP_STATUS_PROTOCOL_ERROR;
		r.http = i % 11 ? &hinfo : NULL;
		hinfo.url = url;
		hinfo.status_code = 100 + (int)(rnd() % 900);
		hinfo.reason = reason;
		hinfo.content_length = i % 3 ? (int64_t)rnd() : -1;
		hinfo.body_bytes = rnd();
		hinfo.truncated = i % 2;
		hinfo.content_type = ctype;
		hinfo.server = server;
		hinfo.location = location;
		hinfo.title = title;
		hinfo.body_hash = (uint64_t)rnd() << 32 | rnd();
		r.dns_us = i % 3 ? rnd() : 0;
		snprintf(dns, sizeof(dns), "%" PRIu32, r.dns_us);
		hinfo.redirects = i % 2 ? rnd() % 21 : 0;
		snprintf(redirects, sizeof(redirects), "%" PRIu32,
			 r.http ? hinfo.redirects : 0);

		check_http_json_record(fmth(OUT_JSONL, &r), o);
		assert_string_equal(jget(o, "dns_us"), dns);
		assert_string_equal(jget(o, "redirects"), redirects);

		p = fmth(OUT_CSV, &r);
		assert_int_equal(csv_parse(&p, f, H_NKEYS + 2), H_NKEYS);
		assert_int_equal(*p, '\0');
		assert_string_equal(f[0], csv_text(input));
		assert_string_equal(f[2], r.http ? csv_text(url) : "");
		assert_string_equal(f[7], r.http ? csv_text(reason) : "");
		assert_string_equal(f[11], r.http ? csv_text(ctype) : "");
		assert_string_equal(f[12], r.http ? csv_text(server) : "");
		assert_string_equal(f[13], r.http ? csv_text(location) : "");
		assert_string_equal(f[14], redirects);
		assert_string_equal(f[15], r.http ? csv_text(title) : "");
		assert_string_equal(f[22], dns);
		assert_string_equal(f[24], r.detail ? csv_text(detail) : "");

		n = out_format_result(fbuf, sizeof(fbuf), OUT_TEXT, OUT_HTTP,
				      &r, T_MS);
		assert_int_equal(n, strlen(fbuf));
		t = (const unsigned char *)fbuf;
		end = t + n - 1;
		assert_int_equal(*end, '\n');
		if (r.status == RP_STATUS_OK && r.http)
			assert_true(end[-1] != ' ');
		while (t < end) {
			int len = wf_utf8(t, end);

			assert_int_not_equal(len, 0);
			assert_false(t[0] < 0x20 || t[0] == 0x7f);
			assert_false(t[0] == 0xc2 && t[1] < 0xa0);
			t += len;
		}
	}
	free(o);
	free(f);
}

/* The snprintf-style contract holds for HTTP records too. */
static void test_http_truncation(void **state)
{
	struct rp_result r = h_full();
	enum out_format f;
	char small[40];
	size_t full, n;

	(void)state;
	for (f = OUT_TEXT; f <= OUT_CSV; f++) {
		full = strlen(fmthw(f, &r));
		assert_true(full > 100);
		memset(small, 'Z', sizeof(small));
		n = out_format_result(small, 10, f, OUT_HTTP, &r, T_MS);
		assert_int_equal(n, full);
		assert_int_equal(small[9], '\0');
		assert_memory_equal(small, fbuf, 9);
		assert_int_equal(small[10], 'Z');
		assert_int_equal(out_format_result(NULL, 0, f, OUT_HTTP, &r, T_MS),
				 full);
		n = out_format_result(fbuf, full, f, OUT_HTTP, &r, T_MS);
		assert_int_equal(n, full);
		assert_int_equal(fbuf[full - 1], '\0');
	}
}

/* ---- the writer -------------------------------------------------------- */

/* Reads everything from fd in a thread, remembering write boundaries
 * (with SOCK_SEQPACKET one read is one write). */
struct collector {
	int fd;
	pthread_t th;
	char *data;          /* all bytes read */
	size_t len;
	size_t cap;
	size_t msgs;         /* reads that returned data */
	size_t msg_len[64];  /* lengths of the first reads */
	int split;           /* a read did not end at a record end */
	int read_err;
};

static void *collect(void *arg)
{
	struct collector *c = arg;
	char *buf = malloc(256 * 1024);

	if (!buf) {
		c->read_err = ENOMEM;
		return NULL;
	}
	for (;;) {
		ssize_t n = read(c->fd, buf, 256 * 1024);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			c->read_err = errno;
		if (n <= 0)
			break;
		if (buf[n - 1] != '\n')
			c->split = 1;
		if (c->msgs < 64)
			c->msg_len[c->msgs] = (size_t)n;
		c->msgs++;
		if (c->len + (size_t)n + 1 > c->cap) {
			c->cap = (c->len + (size_t)n + 1) * 2;
			c->data = realloc(c->data, c->cap);
			if (!c->data) {
				c->read_err = ENOMEM;
				break;
			}
		}
		memcpy(c->data + c->len, buf, (size_t)n);
		c->len += (size_t)n;
		c->data[c->len] = '\0';
	}
	free(buf);
	return NULL;
}

/* Starts a collector on a new pipe or socket pair; returns the write end. */
static int collector_start(struct collector *c, int seqpacket)
{
	int fds[2];

	memset(c, 0, sizeof(*c));
	if (seqpacket) {
		int sz = 4 << 20;

		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds),
				 0);
		setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		c->fd = fds[0];
	} else {
		assert_int_equal(pipe(fds), 0);
		c->fd = fds[0];
	}
	assert_int_equal(pthread_create(&c->th, NULL, collect, c), 0);
	return fds[1];
}

static void collector_finish(struct collector *c, int wfd)
{
	close(wfd);
	assert_int_equal(pthread_join(c->th, NULL), 0);
	close(c->fd);
	assert_int_equal(c->read_err, 0);
}

/* A result of a varying size for stream tests. */
static struct rp_result r_nth(uint64_t i, char *detail)
{
	struct rp_result r = r_open();
	size_t n = i % 97;

	memset(detail, 'a' + (int)(i % 26), n);
	detail[n] = '\0';
	r.index = i;
	r.detail = detail;
	return r;
}

/* Checks that data is exactly count JSON records with index 0..count-1. */
static void check_stream(const char *data, size_t len, uint64_t count)
{
	struct jobj *o = malloc(sizeof(*o));
	const char *p = data, *end = data + len;
	char idx[32], detail[128];
	uint64_t i = 0;

	assert_non_null(o);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		assert_non_null(nl);
		assert_int_equal(json_parse(p, (size_t)(nl - p), o), 0);
		snprintf(idx, sizeof(idx), "%" PRIu64, i);
		assert_string_equal(jget(o, "index"), idx);
		r_nth(i, detail);
		assert_string_equal(jget(o, "detail"), detail);
		p = nl + 1;
		i++;
	}
	assert_int_equal(i, count);
	free(o);
}

static void test_init_release(void **state)
{
	struct out o;

	(void)state;
	assert_int_equal(out_init(&o, 1, (enum out_format)7, 0), -EINVAL);
	o.clock_ms = fixed_ms;
	out_release(&o);
	assert_int_equal(out_init(&o, 1, OUT_CSV, OUT_ONLY_OPEN), 0);
	o.clock_ms = fixed_ms;
	assert_non_null(o.buf);
	assert_int_equal(o.cap, OUT_BUF_SIZE);
	assert_int_equal(o.len, 0);
	assert_int_equal(o.err, 0);
	assert_int_equal(o.format, OUT_CSV);
	assert_int_equal(o.flags, OUT_ONLY_OPEN);
	out_release(&o);
	assert_null(o.buf);
	out_release(&o); /* twice is harmless */
}

/* Header only for CSV; flushing an empty buffer writes nothing. */
static void test_header(void **state)
{
	enum out_format f;

	(void)state;
	for (f = OUT_TEXT; f <= OUT_CSV; f++) {
		struct rp_result r = r_open();
		struct collector c;
		struct out o;
		int wfd = collector_start(&c, 0);
		char want[512];

		assert_int_equal(out_init(&o, wfd, f, 0), 0);
		o.clock_ms = fixed_ms;
		assert_int_equal(out_flush(&o), 0);
		assert_int_equal(o.writes, 0);
		out_header(&o);
		out_result(&o, &r);
		assert_int_equal(o.writes, 0);
		assert_int_equal(out_flush(&o), 0);
		assert_int_equal(o.writes, 1);
		out_release(&o);
		collector_finish(&c, wfd);

		snprintf(want, sizeof(want), "%s%s",
			 f == OUT_CSV ? "input,index,ip,port,status,rtt_us,"
					"attempts,elapsed_us,dns_us,error,"
					"detail,time,addr,service\n" :
					"",
			 fmtw(f, &r));
		assert_string_equal(c.data, want);
		free(c.data);
	}
}

static void test_only_open(void **state)
{
	struct rp_result open = r_open(), closed = r_closed6();
	struct collector c;
	struct out o;
	int wfd = collector_start(&c, 0);
	char want[512];

	(void)state;
	assert_int_equal(out_init(&o, wfd, OUT_JSONL, OUT_ONLY_OPEN), 0);
	o.clock_ms = fixed_ms;
	out_result(&o, &closed);
	out_result(&o, &open);
	out_result(&o, &closed);
	assert_int_equal(o.records, 1);
	assert_int_equal(o.skipped, 2);
	assert_int_equal(out_flush(&o), 0);
	out_release(&o);
	collector_finish(&c, wfd);
	snprintf(want, sizeof(want), "%s", fmtw(OUT_JSONL, &open));
	assert_string_equal(c.data, want);
	free(c.data);
}

/*
 * Through SOCK_SEQPACKET each write(2) arrives as one message: every
 * message must hold whole records only, the buffer-full path must write
 * before out_flush is ever called, and nothing is lost or reordered.
 */
static void test_records_whole(void **state)
{
	const uint64_t count = 20000;
	struct collector c;
	struct out o;
	char detail[128];
	int wfd = collector_start(&c, 1);
	uint64_t i, writes;
	size_t max_rec = 0, total = 0;

	(void)state;
	assert_int_equal(out_init(&o, wfd, OUT_JSONL, 0), 0);
	o.clock_ms = fixed_ms;
	for (i = 0; i < count; i++) {
		struct rp_result r = r_nth(i, detail);
		size_t n = out_format_result(NULL, 0, OUT_JSONL, 0, &r, T_MS);

		if (n > max_rec)
			max_rec = n;
		total += n;
		out_result(&o, &r);
		assert_int_equal(o.err, 0);
		assert_true(o.len < o.cap);
		/* nothing is written while the buffer has room */
		assert_int_equal(o.bytes + o.len, total);
	}
	/* the buffer filled up many times with no out_flush call */
	writes = o.writes;
	assert_true(writes >= total / OUT_BUF_SIZE);
	assert_true(writes <= total / (OUT_BUF_SIZE - max_rec));
	assert_int_equal(out_flush(&o), 0);
	assert_int_equal(o.writes, writes + 1);
	assert_int_equal(o.bytes, total);
	assert_int_equal(o.records, count);
	out_release(&o);
	collector_finish(&c, wfd);

	assert_int_equal(c.split, 0);
	assert_int_equal(c.len, o.bytes);
	assert_int_equal(c.msgs, o.writes);
	/* a buffer-full write carries nearly a full buffer */
	assert_true(c.msg_len[0] < OUT_BUF_SIZE);
	assert_true(c.msg_len[0] + max_rec >= OUT_BUF_SIZE);
	check_stream(c.data, c.len, count);
	free(c.data);
}

/* The same through a plain pipe, flushing once per few results as the
 * CLI does per loop turn, in all three formats. */
static void test_pipe_stream(void **state)
{
	const uint64_t count = 5000;
	enum out_format f;

	(void)state;
	for (f = OUT_TEXT; f <= OUT_CSV; f++) {
		struct collector c;
		struct out o;
		char detail[128];
		int wfd = collector_start(&c, 0);
		size_t want_len = 0;
		uint64_t i;

		assert_int_equal(out_init(&o, wfd, f, 0), 0);
		o.clock_ms = fixed_ms;
		for (i = 0; i < count; i++) {
			struct rp_result r = r_nth(i, detail);

			want_len += out_format_result(NULL, 0, f, 0, &r, T_MS);
			out_result(&o, &r);
			if (i % 7 == 6)
				assert_int_equal(out_flush(&o), 0);
		}
		assert_int_equal(out_flush(&o), 0);
		out_release(&o);
		collector_finish(&c, wfd);
		assert_int_equal(c.len, want_len);
		if (f == OUT_JSONL)
			check_stream(c.data, c.len, count);
		free(c.data);
	}
}

/* A non-blocking fd into a small pipe: EAGAIN and partial writes are
 * retried and nothing is lost. */
static void test_nonblocking(void **state)
{
	const uint64_t count = 3000;
	struct collector c;
	struct out o;
	char detail[128];
	int wfd = collector_start(&c, 0);
	uint64_t i;

	(void)state;
	fcntl(wfd, F_SETPIPE_SZ, 4096);
	assert_int_equal(fcntl(wfd, F_SETFL, fcntl(wfd, F_GETFL) | O_NONBLOCK),
			 0);
	assert_int_equal(out_init(&o, wfd, OUT_JSONL, 0), 0);
	o.clock_ms = fixed_ms;
	for (i = 0; i < count; i++) {
		struct rp_result r = r_nth(i, detail);

		out_result(&o, &r);
	}
	assert_int_equal(out_flush(&o), 0);
	assert_int_equal(o.err, 0);
	out_release(&o);
	collector_finish(&c, wfd);
	check_stream(c.data, c.len, count);
	free(c.data);
}

/* A record larger than the whole buffer goes out alone, in order. */
static void test_large_record(void **state)
{
	size_t big = OUT_BUF_SIZE + 1000;
	char *huge = malloc(big + 1);
	struct rp_result r1 = r_open(), r2 = r_error(), r3 = r_closed6();
	struct collector c;
	struct out o;
	int wfd = collector_start(&c, 1);
	char *want;
	size_t n1, n2, n3;

	(void)state;
	assert_non_null(huge);
	memset(huge, 'h', big);
	huge[big] = '\0';
	r2.detail = huge;
	n1 = out_format_result(NULL, 0, OUT_CSV, 0, &r1, T_MS);
	n2 = out_format_result(NULL, 0, OUT_CSV, 0, &r2, T_MS);
	n3 = out_format_result(NULL, 0, OUT_CSV, 0, &r3, T_MS);
	assert_true(n2 > OUT_BUF_SIZE);
	want = malloc(n1 + n2 + n3 + 1);
	assert_non_null(want);
	out_format_result(want, n1 + 1, OUT_CSV, 0, &r1, T_MS);
	out_format_result(want + n1, n2 + 1, OUT_CSV, 0, &r2, T_MS);
	out_format_result(want + n1 + n2, n3 + 1, OUT_CSV, 0, &r3, T_MS);

	assert_int_equal(out_init(&o, wfd, OUT_CSV, 0), 0);
	o.clock_ms = fixed_ms;
	out_result(&o, &r1);
	out_result(&o, &r2);
	out_result(&o, &r3);
	assert_int_equal(o.err, 0);
	assert_int_equal(o.records, 3);
	assert_int_equal(o.len, n3);
	assert_int_equal(out_flush(&o), 0);
	out_release(&o);
	collector_finish(&c, wfd);

	assert_int_equal(c.msgs, 3);
	assert_int_equal(c.msg_len[0], n1);
	assert_int_equal(c.msg_len[1], n2);
	assert_int_equal(c.msg_len[2], n3);
	assert_int_equal(c.len, n1 + n2 + n3);
	assert_memory_equal(c.data, want, c.len);
	free(c.data);
	free(want);
	free(huge);
}

/* The reader went away: -EPIPE, no crash, and everything after is a
 * no-op. SIGPIPE is ignored by main(). */
static void test_epipe(void **state)
{
	struct rp_result r = r_open();
	struct out o;
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	assert_int_equal(out_init(&o, fds[1], OUT_JSONL, 0), 0);
	o.clock_ms = fixed_ms;
	out_result(&o, &r);
	assert_int_not_equal(o.len, 0);
	assert_int_equal(out_flush(&o), -EPIPE);
	assert_int_equal(o.err, -EPIPE);
	assert_int_equal(o.len, 0);
	assert_int_equal(o.bytes, 0);

	out_header(&o);
	out_result(&o, &r);
	assert_int_equal(o.len, 0);
	assert_int_equal(o.records, 1);
	assert_int_equal(out_flush(&o), -EPIPE);
	out_release(&o);
	close(fds[1]);
}

/* The same failure met on the buffer-full path inside out_result. */
static void test_epipe_buffer_full(void **state)
{
	struct out o;
	char detail[128];
	int fds[2];
	uint64_t i, records = 0;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	assert_int_equal(out_init(&o, fds[1], OUT_JSONL, 0), 0);
	o.clock_ms = fixed_ms;
	for (i = 0; i < 5000 && !o.err; i++) {
		struct rp_result r = r_nth(i, detail);

		out_result(&o, &r);
		records = o.records;
	}
	assert_int_equal(o.err, -EPIPE);
	assert_int_equal(o.len, 0);
	assert_true(i < 5000);
	for (; i < 5000; i++) {
		struct rp_result r = r_nth(i, detail);

		out_result(&o, &r);
	}
	assert_int_equal(o.records, records);
	assert_int_equal(o.len, 0);
	assert_int_equal(o.writes, 0);
	assert_int_equal(out_flush(&o), -EPIPE);
	out_release(&o);
	close(fds[1]);
}

/* Any other write error is kept the same way. */
static void test_write_error(void **state)
{
	struct rp_result r = r_open();
	struct out o;
	int fd = open("/dev/null", O_RDONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(out_init(&o, fd, OUT_TEXT, 0), 0);
	o.clock_ms = fixed_ms;
	out_result(&o, &r);
	assert_int_equal(out_flush(&o), -EBADF);
	assert_int_equal(o.err, -EBADF);
	out_result(&o, &r);
	assert_int_equal(o.len, 0);
	out_release(&o);
	close(fd);
}

/* Gives r its own copy of its address (the fixtures share one). */
static void own_addr(struct rp_result *r, struct sockaddr_storage *ss)
{
	memcpy(ss, r->addr, r->addrlen);
	r->addr = (const struct sockaddr *)ss;
}

/* HTTP mode through the writer: the HTTP header, HTTP records, OUT_ONLY_OPEN
 * keeping OK results, and an oversized record written alone. */
static void test_http_writer(void **state)
{
	static const char header[] =
		"input,index,url,ip,port,status,http_status,reason,"
		"content_length,body_bytes,truncated,content_type,server,"
		"location,redirects,title,body_hash,connect_us,ttfb_us,"
		"total_us,"
		"attempts,elapsed_us,dns_us,error,detail,time,addr,service\n";
	struct rp_result full, closed = h_closed(), open = r_open();
	struct sockaddr_storage a_closed, a_open, a_full;
	struct collector c;
	struct out o;
	char want[4096], keys[512] = "";
	size_t i;
	int wfd;

	(void)state;
	own_addr(&closed, &a_closed);
	own_addr(&open, &a_open);
	full = h_full();
	own_addr(&full, &a_full);
	/* the header names the JSON keys, in the same order */
	for (i = 0; i < H_NKEYS; i++) {
		strcat(keys, http_json_keys[i]);
		strcat(keys, ",");
	}
	strcat(keys, "time,addr,service\n");
	assert_string_equal(keys, header);

	wfd = collector_start(&c, 0);
	assert_int_equal(out_init(&o, wfd, OUT_CSV, OUT_HTTP), 0);
	o.clock_ms = fixed_ms;
	assert_int_equal(o.flags, OUT_HTTP);
	out_header(&o);
	out_result(&o, &full);
	out_result(&o, &closed);
	assert_int_equal(out_flush(&o), 0);
	out_release(&o);
	collector_finish(&c, wfd);
	snprintf(want, sizeof(want), "%s", header);
	strcat(want, fmthw(OUT_CSV, &full));
	strcat(want, fmthw(OUT_CSV, &closed));
	assert_string_equal(c.data, want);
	free(c.data);

	/* only OK results; the TCP header and TCP records are not used */
	for (i = 0; i < 2; i++) {
		unsigned int only = i ? OUT_ONLY_OPEN : 0;

		wfd = collector_start(&c, 0);
		assert_int_equal(out_init(&o, wfd, OUT_JSONL,
					  OUT_HTTP | only), 0);
		o.clock_ms = fixed_ms;
		out_header(&o);
		out_result(&o, &closed);
		out_result(&o, &full);
		out_result(&o, &open);
		assert_int_equal(o.records, only ? 1 : 3);
		assert_int_equal(o.skipped, only ? 2 : 0);
		assert_int_equal(out_flush(&o), 0);
		out_release(&o);
		collector_finish(&c, wfd);
		want[0] = '\0';
		if (!only)
			strcat(want, fmthw(OUT_JSONL, &closed));
		strcat(want, fmthw(OUT_JSONL, &full));
		if (!only)
			strcat(want, fmthw(OUT_JSONL, &open));
		assert_string_equal(c.data, want);
		free(c.data);
	}
}

/* An HTTP record larger than the buffer goes out alone, as HTTP. */
static void test_http_large_record(void **state)
{
	size_t big = OUT_BUF_SIZE + 1000;
	char *huge = malloc(big + 1), *want;
	struct rp_result r1 = h_closed(), r2, r3 = h_timeout();
	struct sockaddr_storage a1, a3;
	struct collector c;
	struct out o;
	int wfd = collector_start(&c, 1);
	size_t n1, n2, n3;

	(void)state;
	assert_non_null(huge);
	memset(huge, 't', big);
	huge[big] = '\0';
	own_addr(&r1, &a1);
	own_addr(&r3, &a3);
	r2 = h_full();
	hinfo.title = huge;
	n1 = out_format_result(NULL, 0, OUT_JSONL, OUT_HTTP, &r1, T_MS);
	n2 = out_format_result(NULL, 0, OUT_JSONL, OUT_HTTP, &r2, T_MS);
	n3 = out_format_result(NULL, 0, OUT_JSONL, OUT_HTTP, &r3, T_MS);
	assert_true(n2 > OUT_BUF_SIZE);
	want = malloc(n1 + n2 + n3 + 1);
	assert_non_null(want);
	out_format_result(want, n1 + 1, OUT_JSONL, OUT_HTTP, &r1, T_MS);
	out_format_result(want + n1, n2 + 1, OUT_JSONL, OUT_HTTP, &r2, T_MS);
	out_format_result(want + n1 + n2, n3 + 1, OUT_JSONL, OUT_HTTP, &r3, T_MS);

	assert_int_equal(out_init(&o, wfd, OUT_JSONL, OUT_HTTP), 0);
	o.clock_ms = fixed_ms;
	out_result(&o, &r1);
	out_result(&o, &r2);
	out_result(&o, &r3);
	assert_int_equal(o.err, 0);
	assert_int_equal(o.records, 3);
	assert_int_equal(out_flush(&o), 0);
	out_release(&o);
	collector_finish(&c, wfd);

	assert_int_equal(c.msgs, 3);
	assert_int_equal(c.msg_len[1], n2);
	assert_int_equal(c.len, n1 + n2 + n3);
	assert_memory_equal(c.data, want, c.len);
	assert_non_null(strstr(c.data, "\"title\":\"ttt"));
	free(c.data);
	free(want);
	free(huge);
}


static int count_str(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

/* -f grep: "ip:port" or a URL per open/ok result, nothing for the rest */
static void test_grep_records(void **state)
{
	struct rp_result r = r_open(), c = r_closed6(), inv = r_invalid();
	struct rp_result t = r_open();
	struct rp_tls_info tls;
	char buf[256];

	(void)state;
	out_format_result(buf, sizeof(buf), OUT_GREP, 0, &r, T_MS);
	assert_string_equal(buf, "192.0.2.1:22\n");
	c.status = RP_STATUS_OPEN;
	out_format_result(buf, sizeof(buf), OUT_GREP, 0, &c, T_MS);
	assert_string_equal(buf, "[2001:db8::1]:443\n");
	c.status = RP_STATUS_CLOSED;
	assert_int_equal(out_format_result(buf, sizeof(buf), OUT_GREP, 0, &c,
					   T_MS), 0);
	assert_int_equal(out_format_result(buf, sizeof(buf), OUT_GREP, 0,
					   &inv, T_MS), 0);
	/* tls: the input's host name, else the address */
	memset(&tls, 0, sizeof(tls));
	t.status = RP_STATUS_OK;
	t.tls = &tls;
	t.input = "a.example.test:22";
	out_format_result(buf, sizeof(buf), OUT_GREP, OUT_TLS, &t, T_MS);
	assert_string_equal(buf, "https://a.example.test:22\n");
	t.input = "192.0.2.0/24";
	out_format_result(buf, sizeof(buf), OUT_GREP, OUT_TLS, &t, T_MS);
	assert_string_equal(buf, "https://192.0.2.1:22\n");
}

/* What each format shows by default, with --open and with --all */
static void test_shown(void **state)
{
	struct rp_result r = r_open();

	(void)state;
	assert_true(out_shown(OUT_TEXT, 0, &r));
	r.status = RP_STATUS_CLOSED;
	assert_false(out_shown(OUT_TEXT, 0, &r));
	assert_false(out_shown(OUT_GREP, 0, &r));
	assert_true(out_shown(OUT_TEXT, OUT_ALL, &r));
	assert_true(out_shown(OUT_JSONL, 0, &r));
	assert_true(out_shown(OUT_CSV, 0, &r));
	assert_true(out_shown(OUT_XML, 0, &r));
	assert_false(out_shown(OUT_JSONL, OUT_ONLY_OPEN, &r));
	r.status = RP_STATUS_CANCELLED;
	assert_false(out_shown(OUT_TEXT, 0, &r));
	for (int s = RP_STATUS_INVALID; s < RP_STATUS__COUNT; s++) {
		r.status = (enum rp_status)s;
		assert_int_equal(out_shown(OUT_TEXT, 0, &r),
				 s == RP_STATUS_INVALID ||
					 s == RP_STATUS_DNS_ERROR ||
					 s == RP_STATUS_ERROR);
	}
	r.status = RP_STATUS_OK; /* ok is the http/tls open */
	assert_true(out_shown(OUT_GREP, OUT_HTTP, &r));
	assert_false(out_shown(OUT_GREP, 0, &r));
	assert_false(out_shown(OUT_TEXT, 0, &r));
}

static void test_not_shown(void **state)
{
	uint64_t hidden[RP_STATUS__COUNT] = { 0 };
	char buf[128];

	(void)state;
	assert_int_equal(out_not_shown(buf, sizeof(buf), hidden), 0);
	assert_string_equal(buf, "");
	hidden[RP_STATUS_CLOSED] = 65530;
	hidden[RP_STATUS_FILTERED] = 2;
	out_not_shown(buf, sizeof(buf), hidden);
	assert_string_equal(buf, "Not shown: 65,530 closed, 2 filtered\n");
	hidden[RP_STATUS_CLOSED] = 1234567;
	hidden[RP_STATUS_FILTERED] = 0;
	hidden[RP_STATUS_CANCELLED] = 100;
	out_not_shown(buf, sizeof(buf), hidden);
	assert_string_equal(buf, "Not shown: 1,234,567 closed, 100 cancelled\n");
}

/* A services(5) file of our own: tcp entries, the first name per port.
 * The table is loaded once per process: this test runs last. */
static void test_services(void **state)
{
	char path[] = "/tmp/rp_test_services.XXXXXX";
	int fd = mkstemp(path);
	struct rp_result r = r_open();
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("# comment\nssh\t\t22/tcp\t\t\t# SSH\nssh2 22/tcp\n"
	      "domain 53/udp\nweb 8080/tcp alias\nbad x/tcp\n", f);
	fclose(f);
	services_load(path);
	unlink(path);
	assert_string_equal(services_name(22), "ssh");
	assert_null(services_name(53));
	assert_string_equal(services_name(8080), "web");
	assert_null(services_name(65535));
	assert_null(services_name(70000));
	keep_common = true;
	fmt(OUT_JSONL, &r);
	keep_common = false;
	assert_non_null(strstr(fbuf, ",\"service\":\"ssh\"}"));
	fmt(OUT_TEXT, &r);
	assert_string_equal(fbuf, "192.0.2.1:22           open        ssh"
				  "           0.123 ms\n");
	services_load(NULL); /* loaded once: no change */
	assert_string_equal(services_name(8080), "web");
}

/* nmap XML: one <host> per record; escaping of hostile text */
static void test_xml_records(void **state)
{
	struct rp_result r = r_open(), inv = r_invalid(), d = r_dns_error();
	char buf[2048];

	(void)state;
	out_format_result(buf, sizeof(buf), OUT_XML, 0, &r, T_MS);
	assert_string_equal(buf,
		"<host starttime=\"1796032245\"><status state=\"up\" "
		"reason=\"user-set\" reason_ttl=\"0\"/>\n"
		"<address addr=\"192.0.2.1\" addrtype=\"ipv4\"/>\n"
		"<hostnames></hostnames>\n<ports><port protocol=\"tcp\" "
		"portid=\"22\"><state state=\"open\" reason=\"syn-ack\" "
		"reason_ttl=\"0\"/></port>\n</ports></host>\n");
	inv.input = "a&b<c>\"d'\x01\xff\t";
	out_format_result(buf, sizeof(buf), OUT_XML, 0, &inv, T_MS);
	assert_string_equal(buf, "<target specification=\"a&amp;b&lt;c&gt;"
				 "&quot;d&apos;\xef\xbf\xbd\xef\xbf\xbd&#9;\" "
				 "status=\"skipped\" reason=\"invalid\"/>\n");
	out_format_result(buf, sizeof(buf), OUT_XML, 0, &d, T_MS);
	assert_string_equal(buf, "<output type=\"interactive\">dns-error "
				 "nosuch.example.test:80: NXDOMAIN</output>\n");
}

/* The writer merges results of one address into one <host> element
 * while it is in the buffer; a flush ends the merging. */
static void test_xml_merge(void **state)
{
	struct rp_result a = r_open(), b = r_open();
	struct sockaddr_in sb;
	struct collector c;
	struct out o;
	int wfd = collector_start(&c, 0);

	(void)state;
	sb = sin4;
	sb.sin_port = htons(80);
	b.addr = (const struct sockaddr *)&sb;
	b.status = RP_STATUS_CLOSED;
	assert_int_equal(out_init(&o, wfd, OUT_XML, 0), 0);
	o.clock_ms = fixed_ms;
	out_result(&o, &a);
	out_result(&o, &b);
	assert_int_equal(o.hosts, 1);
	assert_int_equal(o.records, 2);
	assert_int_equal(out_flush(&o), 0);
	out_result(&o, &a);
	assert_int_equal(o.hosts, 2);
	assert_int_equal(out_flush(&o), 0);
	out_release(&o);
	collector_finish(&c, wfd);
	assert_non_null(strstr(c.data, "portid=\"22\"><state state=\"open\" "
				       "reason=\"syn-ack\" reason_ttl=\"0\"/>"
				       "</port>\n<port protocol=\"tcp\" "
				       "portid=\"80\"><state state=\"closed\" "
				       "reason=\"conn-refused\""));
	assert_int_equal(count_str(c.data, "<host "), 2);
	assert_int_equal(count_str(c.data, "</host>"), 2);
	free(c.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_where),
		cmocka_unit_test(test_json_records),
		cmocka_unit_test(test_error_field),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_json_invalid_utf8),
		cmocka_unit_test(test_random_text),
		cmocka_unit_test(test_csv_records),
		cmocka_unit_test(test_csv_quoting),
		cmocka_unit_test(test_http_csv_formula),
		cmocka_unit_test(test_text_records),
		cmocka_unit_test(test_text_escaping),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_http_json_records),
		cmocka_unit_test(test_http_csv_records),
		cmocka_unit_test(test_http_text_records),
		cmocka_unit_test(test_http_redirects),
		cmocka_unit_test(test_http_title_cut),
		cmocka_unit_test(test_http_error_field),
		cmocka_unit_test(test_http_random_text),
		cmocka_unit_test(test_http_truncation),
		cmocka_unit_test(test_init_release),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_only_open),
		cmocka_unit_test(test_grep_records),
		cmocka_unit_test(test_shown),
		cmocka_unit_test(test_not_shown),
		cmocka_unit_test(test_xml_records),
		cmocka_unit_test(test_xml_merge),
		cmocka_unit_test(test_services),
		cmocka_unit_test(test_records_whole),
		cmocka_unit_test(test_pipe_stream),
		cmocka_unit_test(test_nonblocking),
		cmocka_unit_test(test_large_record),
		cmocka_unit_test(test_epipe),
		cmocka_unit_test(test_epipe_buffer_full),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_http_writer),
		cmocka_unit_test(test_http_large_record),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
