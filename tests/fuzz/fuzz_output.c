/*
 * fuzz_output.c - the CLI's result writers (cli/output.c): results built
 * from fuzz bytes, TCP and HTTP records, written as JSON Lines, CSV and
 * text, straight (out_format_result) and through a writer (struct out).
 *
 * Input: a fixed head of numbers, then NUL-separated strings:
 *   [0]      1 HTTP record, 2 r->http NULL, 4|8 address: none, IPv4,
 *            IPv6, or a family the writers do not print, 16|32 the
 *            format of the buffered writer, 128 OUT_ONLY_OPEN there
 *   [1]      status (any value, out of range too)
 *   [2..3]   a cut for the snprintf contract
 *   [4..]    err, rtt_us, attempts, elapsed_us, dns_us, index, then
 *            HTTP: status_code, content_length, body_bytes, truncated,
 *            body_hash, connect_us, ttfb_us, total_us, redirects
 *   strings: input, detail ("" is NULL), url, reason, content_type,
 *            server, location, title
 * Strings take any byte but NUL here, whatever the engine would hand out:
 * the writers are the last line of defence.
 *
 * Asserted: a JSONL record is one line that parses as JSON (a strict
 * checker below, written apart from the writer) with the expected keys,
 * and a valid UTF-8 string field reads back as written; a CSV record
 * parses (RFC 4180) into the expected number of fields, none starting
 * with a formula character; a text line is UTF-8 with no control byte
 * but its '\n'; and cutting any record at any size gives a prefix with
 * the full length returned.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "output.h"

#define STR_MAX 600 /* longer than any string the engine hands out */
#define TCP_FIELDS 14
#define HTTP_FIELDS 28

/* ---- reading the input ------------------------------------------------ */

struct rd {
	const uint8_t *p;
	size_t n;
};

static uint64_t get(struct rd *r, size_t bytes)
{
	uint64_t v = 0;

	for (size_t i = 0; i < bytes; i++) {
		v = v << 8 | (r->n ? *r->p : 0);
		if (r->n) {
			r->p++;
			r->n--;
		}
	}
	return v;
}

/* The next string, up to a NUL or the end, at most STR_MAX bytes. */
static char *get_str(struct rd *r)
{
	const uint8_t *nul = memchr(r->p, '\0', r->n);
	size_t n = nul ? (size_t)(nul - r->p) : r->n;
	size_t keep = n > STR_MAX ? STR_MAX : n;
	char *s = malloc(keep + 1);

	CHECK(s);
	memcpy(s, r->p, keep);
	s[keep] = '\0';
	n += nul != NULL;
	r->p += n;
	r->n -= n;
	return s;
}

/* ---- a strict JSON checker (RFC 8259) --------------------------------- */

/* Where a decoded string goes: cap bytes at most, the rest is counted. */
struct jstr {
	char *buf;
	size_t cap, len;
	bool over;
};

struct js {
	const char *s, *end;
	int depth;
	const char *const *keys; /* the top-level keys expected, in order */
	int nkeys;
	int seen;                /* top-level members so far */
	const char *want;        /* decode this top-level member's string */
	struct jstr *val;        /* ... into here */
	bool got;
};

static bool js_value(struct js *j, struct jstr *o);

static void js_ws(struct js *j)
{
	while (j->s < j->end && (*j->s == ' ' || *j->s == '\t' ||
				 *j->s == '\n' || *j->s == '\r'))
		j->s++;
}

static void jput(struct jstr *o, const char *p, size_t n)
{
	if (!o)
		return;
	if (n > o->cap - o->len) {
		o->over = true;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool js_u4(struct js *j, uint32_t *v)
{
	*v = 0;
	if (j->end - j->s < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		int h = hexval(j->s[i]);

		if (h < 0)
			return false;
		*v = *v << 4 | (uint32_t)h;
	}
	j->s += 4;
	return true;
}

static void jput_cp(struct jstr *o, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	jput(o, u, n);
}

/* A string: UTF-8, no raw control byte, valid escapes, surrogates in
 * pairs. Decoded into o (may be NULL). */
static bool js_string(struct js *j, struct jstr *o)
{
	if (j->s >= j->end || *j->s != '"')
		return false;
	j->s++;
	while (j->s < j->end) {
		unsigned char c = (unsigned char)*j->s;
		uint32_t cp;
		size_t k;

		if (c == '"') {
			j->s++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			k = fuzz_utf8((const unsigned char *)j->s,
				      (size_t)(j->end - j->s), &cp);
			if (!k)
				return false;
			jput(o, j->s, k);
			j->s += k;
			continue;
		}
		if (++j->s >= j->end)
			return false;
		c = (unsigned char)*j->s++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			cp = c;
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if (!js_u4(j, &cp))
				return false;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return false; /* a lone low surrogate */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				uint32_t lo;

				if (j->end - j->s < 2 || j->s[0] != '\\' ||
				    j->s[1] != 'u')
					return false;
				j->s += 2;
				if (!js_u4(j, &lo) || lo < 0xdc00 ||
				    lo > 0xdfff)
					return false;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			}
			break;
		default:
			return false;
		}
		jput_cp(o, cp);
	}
	return false;
}

static bool js_digits(struct js *j)
{
	const char *d = j->s;

	while (j->s < j->end && *j->s >= '0' && *j->s <= '9')
		j->s++;
	return j->s > d;
}

static bool js_number(struct js *j)
{
	if (j->s < j->end && *j->s == '-')
		j->s++;
	if (j->s < j->end && *j->s == '0')
		j->s++;
	else if (j->s >= j->end || *j->s < '1' || *j->s > '9' ||
		 !js_digits(j))
		return false;
	if (j->s < j->end && *j->s == '.') {
		j->s++;
		if (!js_digits(j))
			return false;
	}
	if (j->s < j->end && (*j->s == 'e' || *j->s == 'E')) {
		j->s++;
		if (j->s < j->end && (*j->s == '+' || *j->s == '-'))
			j->s++;
		if (!js_digits(j))
			return false;
	}
	return true;
}

static bool js_word(struct js *j, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(j->end - j->s) < n || memcmp(j->s, w, n))
		return false;
	j->s += n;
	return true;
}

/* An object or array at j->s; members of the top-level object are
 * checked against j->keys. */
static bool js_container(struct js *j, char close)
{
	bool top = j->depth == 1 && close == '}';

	j->s++;
	js_ws(j);
	if (j->s < j->end && *j->s == close) {
		j->s++;
		return true;
	}
	for (;;) {
		struct jstr *o = NULL;

		js_ws(j);
		if (close == '}') {
			char kb[64];
			struct jstr key = { kb, sizeof(kb) - 1, 0, false };

			if (!js_string(j, &key))
				return false;
			kb[key.len] = '\0';
			if (top) {
				if (key.over || j->seen >= j->nkeys ||
				    strcmp(kb, j->keys[j->seen]))
					return false;
				j->seen++;
				if (j->want && !strcmp(kb, j->want)) {
					o = j->val;
					j->got = true;
				}
			}
			js_ws(j);
			if (j->s >= j->end || *j->s != ':')
				return false;
			j->s++;
			js_ws(j);
		}
		if (!js_value(j, o))
			return false;
		js_ws(j);
		if (j->s < j->end && *j->s == ',') {
			j->s++;
			continue;
		}
		if (j->s < j->end && *j->s == close) {
			j->s++;
			return true;
		}
		return false;
	}
}

static bool js_value(struct js *j, struct jstr *o)
{
	bool ok;

	js_ws(j);
	if (j->s >= j->end)
		return false;
	switch (*j->s) {
	case '{':
	case '[':
		if (++j->depth > 32)
			return false;
		ok = js_container(j, *j->s == '{' ? '}' : ']');
		j->depth--;
		return ok;
	case '"':
		return js_string(j, o);
	case 't':
		return js_word(j, "true");
	case 'f':
		return js_word(j, "false");
	case 'n':
		return js_word(j, "null");
	default:
		return js_number(j);
	}
}

/* ---- the checks ------------------------------------------------------- */

static const char *const tcp_keys[TCP_FIELDS] = {
	"input", "index", "ip", "port", "status", "rtt_us", "attempts",
	"elapsed_us", "dns_us", "error", "detail", "time", "addr", "service",
};

static const char *const http_keys[HTTP_FIELDS] = {
	"input", "index", "url", "ip", "port", "status", "http_status",
	"reason", "content_length", "body_bytes", "truncated",
	"content_type", "server", "location", "redirects", "title",
	"body_hash", "connect_us", "ttfb_us", "total_us", "attempts",
	"elapsed_us", "dns_us", "error", "detail", "time", "addr", "service",
};

static bool is_utf8(const char *s)
{
	size_t n = strlen(s);
	uint32_t cp;

	while (n > 0) {
		size_t k = fuzz_utf8((const unsigned char *)s, n, &cp);

		if (!k)
			return false;
		s += k;
		n -= k;
	}
	return true;
}

static void check_jsonl(const char *rec, size_t n, bool http,
			const char *input)
{
	char val[STR_MAX * 4 + 1];
	struct jstr v = { val, sizeof(val) - 1, 0, false };
	struct js j = {
		.s = rec,
		.end = rec + n - 1,
		.keys = http ? http_keys : tcp_keys,
		.nkeys = http ? HTTP_FIELDS : TCP_FIELDS,
		.want = "input",
		.val = &v,
	};

	CHECK(memchr(rec, '\n', n) == rec + n - 1);
	CHECK(*j.s == '{');
	CHECK(js_value(&j, NULL));
	CHECK(j.s == j.end);
	CHECK(j.seen == j.nkeys);
	CHECK(j.got && !v.over);
	val[v.len] = '\0';
	/* Valid UTF-8 reads back as written, controls included. */
	if (is_utf8(input))
		CHECK(!strcmp(val, input));
}

/* One RFC 4180 record at *sp, up to max fields into f (each cut at cap
 * bytes). Returns the field count, or -1. */
static int csv_parse(const char **sp, const char *end, char **f, size_t cap,
		     int max)
{
	const char *s = *sp;
	int nf = 0;

	for (;;) {
		size_t len = 0;

		if (nf >= max)
			return -1;
		if (s < end && *s == '"') {
			s++;
			for (;;) {
				if (s >= end)
					return -1;
				if (*s == '"') {
					if (s + 1 >= end || s[1] != '"')
						break;
					s++;
				}
				if (len < cap)
					f[nf][len++] = *s;
				s++;
			}
			s++;
			if (s >= end || (*s != ',' && *s != '\n'))
				return -1;
		} else {
			while (s < end && *s != ',' && *s != '\n') {
				if (*s == '"' || *s == '\r')
					return -1;
				if (len < cap)
					f[nf][len++] = *s;
				s++;
			}
			if (s >= end)
				return -1;
		}
		f[nf++][len] = '\0';
		if (*s++ == '\n')
			break;
	}
	*sp = s;
	return nf;
}

static void check_csv(const char *rec, size_t n, bool http, const char *input)
{
	char *f[HTTP_FIELDS + 1];
	const char *p = rec;
	int nf;

	for (int i = 0; i <= HTTP_FIELDS; i++) {
		f[i] = malloc(2 * STR_MAX + 2);
		CHECK(f[i]);
	}
	nf = csv_parse(&p, rec + n, f, 2 * STR_MAX + 1, HTTP_FIELDS + 1);
	CHECK(nf == (http ? HTTP_FIELDS : TCP_FIELDS));
	CHECK(p == rec + n);
	for (int i = 0; i < nf; i++)
		CHECK(!f[i][0] || !strchr("=+-@\t\r", f[i][0]));
	/* the input reads back, behind a "'" if it looked like a formula */
	if (input[0] && strchr("=+-@\t\r", input[0]))
		CHECK(f[0][0] == '\'' && !strcmp(f[0] + 1, input));
	else
		CHECK(!strcmp(f[0], input));
	for (int i = 0; i <= HTTP_FIELDS; i++)
		free(f[i]);
}

/* Text goes to terminals: UTF-8, and no control but the final '\n'. */
static void check_text(const char *rec, size_t n)
{
	CHECK(memchr(rec, '\n', n) == rec + n - 1);
	CHECK(fuzz_clean_text(rec, n - 1));
}

/* Formats r in f, checks the record, and the snprintf contract at cut. */
static void check_format(enum out_format f, unsigned int flags,
			 const struct rp_result *r, size_t cut)
{
	size_t n = out_format_result(NULL, 0, f, flags, r, 0), m;
	char *buf = malloc(n + 1), *small;

	CHECK(buf);
	CHECK(n > 0);
	m = out_format_result(buf, n + 1, f, flags, r, 0);
	CHECK(m == n && strlen(buf) == n && buf[n - 1] == '\n');
	if (f == OUT_JSONL)
		check_jsonl(buf, n, flags & OUT_HTTP, r->input);
	else if (f == OUT_CSV)
		check_csv(buf, n, flags & OUT_HTTP, r->input);
	else
		check_text(buf, n);

	cut %= n + 1;
	small = malloc(cut + 1);
	CHECK(small);
	CHECK(out_format_result(small, cut + 1, f, flags, r, 0) == n);
	CHECK(strlen(small) == cut && !memcmp(small, buf, cut));
	free(small);
	free(buf);
}

/* The CSV header line's length: the keys, commas, '\n'. */
static size_t header_len(bool http)
{
	const char *const *keys = http ? http_keys : tcp_keys;
	int n = http ? HTTP_FIELDS : TCP_FIELDS;
	size_t len = 0;

	for (int i = 0; i < n; i++)
		len += strlen(keys[i]) + 1;
	return len;
}

static int devnull = -1;

/* The buffered writer on /dev/null: every record accepted or skipped. */
static void check_writer(enum out_format f, unsigned int flags,
			 const struct rp_result *r)
{
	enum rp_status keep = flags & OUT_HTTP ? RP_STATUS_OK : RP_STATUS_OPEN;
	struct out o;

	if (devnull < 0)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(devnull >= 0);
	CHECK(out_init(&o, devnull, f, flags) == 0);
	out_header(&o);
	out_result(&o, r);
	out_result(&o, r);
	CHECK(out_flush(&o) == 0);
	CHECK(o.err == 0);
	CHECK(o.records + o.skipped == 2);
	if (flags & OUT_ONLY_OPEN)
		CHECK(o.skipped == (r->status == keep ? 0 : 2));
	else if (f == OUT_JSONL || f == OUT_CSV)
		CHECK(o.skipped == 0);
	else /* text: open/ok, and what a person must see */
		CHECK(o.skipped == (out_shown(f, flags, r) ? 0 : 2));
	if ((unsigned int)r->status < RP_STATUS__COUNT)
		CHECK(o.hidden[r->status] == o.skipped);
	CHECK(o.bytes == o.records * out_format_result(NULL, 0, f, flags, r, 0) +
			 (f == OUT_CSV ? header_len(flags & OUT_HTTP) : 0));
	out_release(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd in = { data, size };
	struct rp_result r;
	struct rp_http_info h;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	unsigned int sel = (unsigned int)get(&in, 1), flags;
	size_t cut;
	char *s[8], where[64];

	memset(&r, 0, sizeof(r));
	memset(&h, 0, sizeof(h));
	r.status = (enum rp_status)get(&in, 1);
	cut = (size_t)get(&in, 2);
	r.err = -(int)get(&in, 1);
	r.rtt_us = (uint32_t)get(&in, 4);
	r.attempts = (uint32_t)get(&in, 1);
	r.elapsed_us = get(&in, 8);
	r.dns_us = (uint32_t)get(&in, 4);
	r.index = get(&in, 8);
	switch (sel >> 2 & 3) {
	case 1:
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = (uint16_t)get(&in, 2);
		sin.sin_addr.s_addr = (uint32_t)get(&in, 4);
		r.addr = (const struct sockaddr *)&sin;
		r.addrlen = sizeof(sin);
		break;
	case 2:
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = (uint16_t)get(&in, 2);
		for (int i = 0; i < 16; i++)
			sin6.sin6_addr.s6_addr[i] = (uint8_t)get(&in, 1);
		r.addr = (const struct sockaddr *)&sin6;
		r.addrlen = sizeof(sin6);
		break;
	case 3: /* a family no writer prints */
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_UNIX;
		r.addr = (const struct sockaddr *)&sin;
		r.addrlen = sizeof(sin);
		break;
	}
	h.status_code = (int)(int16_t)get(&in, 2);
	h.content_length = (int64_t)get(&in, 8);
	h.body_bytes = get(&in, 8);
	h.truncated = (int)get(&in, 1) & 1;
	h.body_hash = get(&in, 8);
	h.connect_us = (uint32_t)get(&in, 4);
	h.ttfb_us = (uint32_t)get(&in, 4);
	h.total_us = (uint32_t)get(&in, 4);
	h.redirects = (uint32_t)get(&in, 1);
	for (int i = 0; i < 8; i++)
		s[i] = get_str(&in);
	r.input = s[0];
	r.detail = s[1][0] ? s[1] : NULL;
	h.url = s[2];
	h.reason = s[3];
	h.content_type = s[4];
	h.server = s[5];
	h.location = s[6];
	h.title = s[7];
	if (!(sel & 2))
		r.http = &h;

	out_where(r.addr, r.addrlen, where, sizeof(where));
	CHECK(strlen(where) < sizeof(where));
	flags = sel & 1 ? OUT_HTTP : 0;
	check_format(OUT_JSONL, flags, &r, cut);
	check_format(OUT_CSV, flags, &r, cut);
	check_format(OUT_TEXT, flags, &r, cut);
	check_writer((enum out_format)((sel >> 4 & 3) % 3),
		     flags | (sel & 128 ? OUT_ONLY_OPEN : 0), &r);

	for (int i = 0; i < 8; i++)
		free(s[i]);
	return 0;
}
