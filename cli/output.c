/*
 * output.c - the CLI's result writers: one record per result, as aligned
 * text, JSON Lines or CSV, buffered and written in whole records.
 *
 * This file owns the record formats (the JSON keys and CSV columns are an
 * interface other programs parse, so their order and spelling change only
 * on purpose), the escaping that keeps remote-controlled text from breaking
 * them, and the output buffer with its error rule. Target input and detail
 * text may hold any byte but NUL: JSON gets RFC 8259 escapes and U+FFFD for
 * bytes that are not UTF-8, so every line parses; CSV gets RFC 4180 quoting
 * and a "'" before a cell a spreadsheet would take for a formula;
 * text, which goes to terminals, gets \xNN for control bytes (C0, DEL, and
 * C1 whether raw or UTF-8 encoded) and for bytes that are not UTF-8, so no
 * escape sequence from a target ever reaches the terminal.
 *
 * HTTP records (OUT_HTTP) hold the response fields of rp_result.http as
 * well: the same keys for every result, null where there is nothing to say
 * (the rules are in output.h). Their strings (title, server, location...)
 * come from remote servers and go through the same escaping.
 *
 * Formatting is a pure function (out_format_result) that counts what it
 * could not store, snprintf-style; out_result formats straight into the
 * free tail of the buffer and flushes and retries when the record did not
 * fit, so a record is never split across two flushes.
 */
#include "output.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ADDR_COL 22   /* text: "ip:port" column width */
#define STATUS_COL 11 /* text: status column width ("unreachable") */
#define RTT_COL 10    /* text: rtt column width ("999.999 ms") */
#define HTTP_STATUS_COL 14 /* text, HTTP: status column ("protocol-error") */
#define BODY_COL 10   /* text, HTTP: body size column ("1048576 B") */
#define TIME_COL 11   /* text, HTTP: total time column, with its separator */
#define TITLE_MAX 60  /* text, HTTP: title bytes shown, "..." included */

/*
 * A bounded writer that keeps counting past its end, so the caller learns
 * the full length of what did not fit.
 */
struct sink {
	char *buf;  /* destination */
	size_t cap; /* bytes usable in buf, the NUL included */
	size_t len; /* bytes produced so far, stored or not */
};

static void put_mem(struct sink *k, const void *p, size_t n)
{
	if (k->len < k->cap) {
		size_t room = k->cap - k->len;

		memcpy(k->buf + k->len, p, n < room ? n : room);
	}
	k->len += n;
}

static void put_char(struct sink *k, char c)
{
	if (k->len < k->cap)
		k->buf[k->len] = c;
	k->len++;
}

static void put_str(struct sink *k, const char *s)
{
	put_mem(k, s, strlen(s));
}

/* Decimal by hand: snprintf's format parsing showed up in profiles, at
 * several numbers per record. */
static void put_u64(struct sink *k, uint64_t v)
{
	char tmp[24];
	char *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_mem(k, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void put_pad(struct sink *k, size_t n)
{
	for (; n > 0; n--)
		put_char(k, ' ');
}

/* Terminates the text (truncating if need be) and returns its length. */
static size_t sink_end(struct sink *k)
{
	if (k->cap > 0)
		k->buf[k->len < k->cap ? k->len : k->cap - 1] = '\0';
	return k->len;
}

/*
 * Length of the well-formed UTF-8 sequence at s (1 to 4) with its code
 * point in *cp, or 0 if the byte at s does not start one: overlong forms,
 * surrogates and values past U+10FFFF are ill-formed (RFC 3629). s is
 * NUL-terminated, and NUL is not a continuation byte, so the scan stops
 * at the end of the string.
 */
static unsigned int utf8_seq(const unsigned char *s, uint32_t *cp)
{
	uint32_t c = s[0], min;
	unsigned int n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static const char hex[] = "0123456789abcdef";

/* A JSON string, or null. Control characters (C0, DEL, C1) become \u00XX;
 * bytes that are not UTF-8 become \ufffd, one per byte. */
static void json_str(struct sink *k, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	char esc[6] = { '\\', 'u', '0', '0' };

	if (!s) {
		put_str(k, "null");
		return;
	}
	put_char(k, '"');
	while (*s) {
		const unsigned char *run = s;
		uint32_t cp;
		unsigned int n;

		/* Printable ASCII other than '"' and '\\' goes out as it is, a
		 * run at a time; NUL ends the run like any control byte. */
		while (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
			s++;
		if (s > run) {
			put_mem(k, run, (size_t)(s - run));
			continue;
		}
		n = utf8_seq(s, &cp);

		if (n == 0) {
			put_str(k, "\\ufffd");
			s++;
			continue;
		}
		if (cp == '"' || cp == '\\') {
			put_char(k, '\\');
			put_char(k, (char)cp);
		} else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			esc[4] = hex[cp >> 4];
			esc[5] = hex[cp & 0xf];
			put_mem(k, esc, sizeof(esc));
		} else {
			put_mem(k, s, n);
		}
		s += n;
	}
	put_char(k, '"');
}

/*
 * A CSV field (RFC 4180): quoted, with quotes doubled, when it holds a
 * comma, quote, CR or LF; nothing for NULL. A spreadsheet reads a cell
 * that starts with =, +, -, @, tab or CR as a formula, and titles and
 * headers are chosen by whoever was scanned ("=HYPERLINK(...)"): such a
 * cell gets a "'" in front, as OWASP's CSV injection advice has it, which
 * spreadsheets show as text and drop. Other bytes pass unchanged.
 */
static void csv_field(struct sink *k, const char *s)
{
	const char *lead = "";

	if (!s)
		return;
	if (*s && strchr("=+-@\t\r", *s))
		lead = "'";
	if (!strpbrk(s, ",\"\r\n")) {
		put_str(k, lead);
		put_str(k, s);
		return;
	}
	put_char(k, '"');
	put_str(k, lead);
	for (; *s; s++) {
		if (*s == '"')
			put_char(k, '"');
		put_char(k, *s);
	}
	put_char(k, '"');
}

static void put_hex_byte(struct sink *k, unsigned char c)
{
	char esc[4] = { '\\', 'x', hex[c >> 4], hex[c & 0xf] };

	put_mem(k, esc, sizeof(esc));
}

/*
 * Text for a terminal: control bytes (C0, DEL), UTF-8 encoded C1 controls
 * and bytes that are not UTF-8 become \xNN, byte by byte. One unit is one
 * well-formed UTF-8 sequence or one stray byte: text_unit says how many
 * bytes of s it covers (*adv) and how many it shows as (the return value),
 * text_emit shows it.
 */
static size_t text_unit(const unsigned char *s, unsigned int *adv, int *esc)
{
	uint32_t cp;
	unsigned int n = utf8_seq(s, &cp);

	if (n == 0) {
		*adv = 1;
		*esc = 1;
		return 4;
	}
	*adv = n;
	*esc = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
	return *esc ? 4 * (size_t)n : n;
}

static void text_emit(struct sink *k, const unsigned char *s,
		      unsigned int adv, int esc)
{
	unsigned int i;

	if (!esc) {
		put_mem(k, s, adv);
		return;
	}
	for (i = 0; i < adv; i++)
		put_hex_byte(k, s[i]);
}

/* The bytes from s to end (never inside a UTF-8 sequence) as text. */
static void text_span(struct sink *k, const unsigned char *s,
		      const unsigned char *end)
{
	while (s < end) {
		unsigned int adv;
		int esc;

		text_unit(s, &adv, &esc);
		text_emit(k, s, adv, esc);
		s += adv;
	}
}

static void text_str(struct sink *k, const char *str)
{
	text_span(k, (const unsigned char *)str,
		  (const unsigned char *)str + strlen(str));
}

/* Text as text_str, but a run of spaces at its end shows as \x20 too, for
 * a remote string that may end the line. */
static void text_str_last(struct sink *k, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);

	while (n > 0 && s[n - 1] == ' ')
		n--;
	/* a space is never inside a UTF-8 sequence, so s + n is a boundary */
	text_span(k, s, s + n);
	for (; s[n]; n++)
		put_hex_byte(k, ' ');
}

/* Text as text_str in at most max (> 3) bytes: when it would take more, the
 * units that fit in max - 3 bytes and "...". No unit is split. */
static void text_str_max(struct sink *k, const char *str, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	struct sink count = { 0 };
	size_t used = 0;

	text_str(&count, str);
	if (count.len <= max) {
		text_str(k, str);
		return;
	}
	while (*s) {
		unsigned int adv;
		int esc;
		size_t n = text_unit(s, &adv, &esc);

		if (used + n > max - 3)
			break;
		text_emit(k, s, adv, esc);
		used += n;
		s += adv;
	}
	put_str(k, "...");
}

/* Dotted quad by hand: inet_ntop formats IPv4 with sprintf, which showed
 * up in profiles of TCP scans at one address per result. */
static void ipv4_text(const struct in_addr *a, char ip[INET_ADDRSTRLEN])
{
	const unsigned char *b = (const unsigned char *)&a->s_addr;
	char *p = ip;

	for (int i = 0; i < 4; i++) {
		unsigned int v = b[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
}

/*
 * The probed address as text, and its port. Returns 0 with ip empty when
 * there is no usable address (never probed, or a family we do not print).
 */
static int addr_text(const struct sockaddr *sa, socklen_t salen,
		     char ip[INET6_ADDRSTRLEN], unsigned int *port)
{
	ip[0] = '\0';
	*port = 0;
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const void *)sa;

		ipv4_text(&sin->sin_addr, ip);
		*port = ntohs(sin->sin_port);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		if (!inet_ntop(AF_INET6, &sin6->sin6_addr, ip,
			       INET6_ADDRSTRLEN)) {
			ip[0] = '\0';
			return 0;
		}
		*port = ntohs(sin6->sin6_port);
		return AF_INET6;
	}
	return 0;
}

/* The errno name worth showing: none for outcomes that explain themselves,
 * nor the one errno that only repeats the outcome of an HTTP probe. */
static const char *error_name(const struct rp_result *r)
{
	switch (r->status) {
	case RP_STATUS_OPEN:
	case RP_STATUS_CLOSED:
	case RP_STATUS_FILTERED:
	case RP_STATUS_CANCELLED:
	case RP_STATUS_OK:
		return NULL;
	case RP_STATUS_TIMEOUT:
		if (r->err == -ETIMEDOUT)
			return NULL;
		break;
	case RP_STATUS_RESET:
		if (r->err == -ECONNRESET)
			return NULL;
		break;
	case RP_STATUS_PROTOCOL_ERROR:
		if (r->err == -EPROTO)
			return NULL;
		break;
	case RP_STATUS_DNS_ERROR:
		/* the resolver's reason is in detail; an errno only for a
		 * local failure (a full name cache) */
		break;
	default:
		break;
	}
	return r->err ? rp_errno_name(r->err) : NULL;
}

/* "ip:port" or "[ip]:port", "" without an address. */
static void where_text(char *where, size_t size, const char *ip, int family,
		       unsigned int port)
{
	if (family == AF_INET6)
		snprintf(where, size, "[%s]:%u", ip, port);
	else if (family)
		snprintf(where, size, "%s:%u", ip, port);
	else
		where[0] = '\0';
}

void out_where(const struct sockaddr *sa, socklen_t salen, char *buf,
	       size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned int port;
	int family = addr_text(sa, salen, ip, &port);

	where_text(buf, size, ip, family, port);
	if (!family)
		snprintf(buf, size, "-");
}

/* The address column and the status column (status_col wide), each with
 * at least one space after it. */
static void text_lead(struct sink *k, const struct rp_result *r,
		      const char *where, size_t status_col)
{
	size_t n;

	n = strlen(where[0] ? where : "-");
	put_str(k, where[0] ? where : "-");
	put_pad(k, n < ADDR_COL ? ADDR_COL - n + 1 : 1);
	n = k->len;
	text_str(k, rp_status_name(r->status));
	n = k->len - n;
	put_pad(k, n < status_col ? status_col - n + 1 : 1);
}

/* " (input)" when the input says more than the address, and the '\n'. */
static void text_tail(struct sink *k, const struct rp_result *r,
		      const char *where)
{
	const char *input = r->input ? r->input : "";

	if (input[0] && strcmp(input, where) != 0) {
		put_str(k, " (");
		text_str(k, input);
		put_char(k, ')');
	}
	put_char(k, '\n');
}

/* " dns N.NNN ms" after the time column when a name was resolved for the
 * probe (dns_us is 0 without one, or when the cache answered). */
static void text_dns(struct sink *k, const struct rp_result *r)
{
	char num[32];
	int n;

	if (!r->dns_us)
		return;
	n = snprintf(num, sizeof(num), " dns %" PRIu32 ".%03" PRIu32 " ms",
		     r->dns_us / 1000, r->dns_us % 1000);
	put_mem(k, num, (size_t)n);
}

/*
 *   192.0.2.1:22           open          0.123 ms
 *   [2001:db8::1]:80       unreachable   1.500 ms  EHOSTUNREACH
 *   -                      invalid              -  t.txt:3: bad port (x:99999)
 *   192.0.2.5:22           open          0.123 ms dns 4.210 ms (a.test:22)
 *   -                      dns-error            - dns 8.000 ms  NXDOMAIN (...)
 *
 * status_col: STATUS_COL for TCP lines, HTTP_STATUS_COL for HTTP ones.
 */
static void format_text(struct sink *k, const struct rp_result *r,
			const char *ip, int family, unsigned int port,
			size_t status_col, bool banner)
{
	char where[INET6_ADDRSTRLEN + 16], rtt[32];
	const char *err = error_name(r);
	size_t n;

	where_text(where, sizeof(where), ip, family, port);
	if (r->rtt_us || r->status == RP_STATUS_OPEN ||
	    r->status == RP_STATUS_CLOSED)
		snprintf(rtt, sizeof(rtt), "%" PRIu32 ".%03" PRIu32 " ms",
			 r->rtt_us / 1000, r->rtt_us % 1000);
	else
		strcpy(rtt, "-");

	text_lead(k, r, where, status_col);
	n = strlen(rtt);
	put_pad(k, n < RTT_COL ? RTT_COL - n : 0);
	put_str(k, rtt);
	text_dns(k, r);
	if (err || r->detail) {
		put_str(k, "  ");
		if (err)
			text_str(k, err);
		if (err && r->detail)
			put_str(k, ": ");
		if (r->detail)
			text_str(k, r->detail);
	}
	if (banner && r->banner && r->banner[0]) {
		put_str(k, "  banner: ");
		text_str(k, r->banner);
	}
	text_tail(k, r, where);
}

/* ---- JSON Lines and CSV records ------------------------------------------ */

/* One field's value; zero-initialised it is null. */
struct value {
	enum { V_NULL = 0, V_STR, V_NUM, V_BOOL, V_INT, V_LIST } kind;
	const char *s; /* V_STR */
	uint64_t u;    /* V_NUM, V_BOOL; V_LIST: the count */
	int64_t i;     /* V_INT */
	const char *const *a; /* V_LIST: strings (CSV: space-separated) */
};

static void v_str(struct value *v, const char *s)
{
	v->kind = s ? V_STR : V_NULL; /* a NULL string is null */
	v->s = s;
}

static void v_num(struct value *v, uint64_t u)
{
	v->kind = V_NUM;
	v->u = u;
}

static void v_bool(struct value *v, bool b)
{
	v->kind = V_BOOL;
	v->u = b;
}

static void put_i64(struct sink *k, int64_t i)
{
	if (i < 0)
		put_char(k, '-');
	put_u64(k, i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i);
}

/* A field's name, also as its JSON lead-in: ",\"name\":" (the records
 * are formatted per result, so the text is made at compile time). */
struct key {
	const char *json;
	size_t len;
};
#define KEY(name) { ",\"" name "\":", sizeof(",\"" name "\":") - 1 }

/* Fields of a record as JSON members: keys[i] with v[i], in order (the
 * first of the record without its comma). */
static void json_fields(struct sink *k, const struct key *keys,
			const struct value *v, int n, bool first)
{
	for (int i = 0; i < n; i++) {
		bool nocomma = first && i == 0;

		put_mem(k, keys[i].json + nocomma, keys[i].len - nocomma);
		switch (v[i].kind) {
		case V_STR:
			json_str(k, v[i].s);
			break;
		case V_NUM:
			put_u64(k, v[i].u);
			break;
		case V_INT:
			put_i64(k, v[i].i);
			break;
		case V_BOOL:
			put_str(k, v[i].u ? "true" : "false");
			break;
		case V_LIST:
			put_char(k, '[');
			for (uint64_t j = 0; j < v[i].u; j++) {
				if (j)
					put_char(k, ',');
				json_str(k, v[i].a[j]);
			}
			put_char(k, ']');
			break;
		default:
			put_str(k, "null");
			break;
		}
	}
}

/* Fields of a record as CSV cells, null as an empty one. */
static void csv_fields(struct sink *k, const struct value *v, int n,
		       bool first)
{
	for (int i = 0; i < n; i++) {
		if (i || !first)
			put_char(k, ',');
		switch (v[i].kind) {
		case V_STR:
			csv_field(k, v[i].s);
			break;
		case V_NUM:
			put_u64(k, v[i].u);
			break;
		case V_INT:
			put_i64(k, v[i].i);
			break;
		case V_BOOL:
			put_str(k, v[i].u ? "true" : "false");
			break;
		case V_LIST: { /* one cell, the items space-separated */
			char cell[RP_TLS_SANS_MAX * 257];
			size_t c = 0;

			for (uint64_t j = 0; j < v[i].u; j++)
				c += (size_t)snprintf(cell + c, sizeof(cell) - c,
						      "%s%s", j ? " " : "",
						      v[i].a[j]);
			csv_field(k, cell);
			break;
		}
		default: /* null: an empty field */
			break;
		}
	}
}

/* The CSV header's names, in order. */
static void csv_names(struct sink *k, const struct key *keys, int n,
		      bool first)
{
	for (int i = 0; i < n; i++) {
		if (i || !first)
			put_char(k, ',');
		put_mem(k, keys[i].json + 2, keys[i].len - 4); /* ,"name": */
	}
}

/* The fields of a TCP record, in record order. */
enum tcp_field {
	TF_INPUT,
	TF_INDEX,
	TF_IP,
	TF_PORT,
	TF_STATUS,
	TF_RTT_US,
	TF_ATTEMPTS,
	TF_ELAPSED_US,
	TF_DNS_US,
	TF_ERROR,
	TF_DETAIL,
	TF_BANNER,  /* only with OUT_BANNER */
	TF__COUNT
};

static const struct key tcp_keys[TF__COUNT] = {
	[TF_INPUT] = KEY("input"),
	[TF_INDEX] = KEY("index"),
	[TF_IP] = KEY("ip"),
	[TF_PORT] = KEY("port"),
	[TF_STATUS] = KEY("status"),
	[TF_RTT_US] = KEY("rtt_us"),
	[TF_ATTEMPTS] = KEY("attempts"),
	[TF_ELAPSED_US] = KEY("elapsed_us"),
	[TF_DNS_US] = KEY("dns_us"),
	[TF_ERROR] = KEY("error"),
	[TF_DETAIL] = KEY("detail"),
	[TF_BANNER] = KEY("banner"),
};

/* The values of a TCP record (rules in output.h). */
static void tcp_values(const struct rp_result *r, const char *ip, int family,
		       unsigned int port, struct value v[TF__COUNT])
{
	memset(v, 0, TF__COUNT * sizeof(*v));
	v_str(&v[TF_INPUT], r->input ? r->input : "");
	v_num(&v[TF_INDEX], r->index);
	if (family) {
		v_str(&v[TF_IP], ip);
		v_num(&v[TF_PORT], port);
	}
	v_str(&v[TF_STATUS], rp_status_name(r->status));
	v_num(&v[TF_RTT_US], r->rtt_us);
	v_num(&v[TF_ATTEMPTS], r->attempts);
	v_num(&v[TF_ELAPSED_US], r->elapsed_us);
	v_num(&v[TF_DNS_US], r->dns_us);
	v_str(&v[TF_ERROR], error_name(r));
	v_str(&v[TF_DETAIL], r->detail);
	v_str(&v[TF_BANNER], r->banner);
}

/* ---- HTTP records ---------------------------------------------------- */

/* The fields of an HTTP record, in record order. */
enum http_field {
	HF_INPUT,
	HF_INDEX,
	HF_URL,
	HF_IP,
	HF_PORT,
	HF_STATUS,
	HF_HTTP_STATUS,
	HF_REASON,
	HF_CONTENT_LENGTH,
	HF_BODY_BYTES,
	HF_TRUNCATED,
	HF_CONTENT_TYPE,
	HF_SERVER,
	HF_LOCATION,
	HF_REDIRECTS,
	HF_TITLE,
	HF_BODY_HASH,
	HF_CONNECT_US,
	HF_TTFB_US,
	HF_TOTAL_US,
	HF_ATTEMPTS,
	HF_ELAPSED_US,
	HF_DNS_US,
	HF_ERROR,
	HF_DETAIL,
	HF__COUNT
};

static const struct key http_keys[HF__COUNT] = {
	[HF_INPUT] = KEY("input"),
	[HF_INDEX] = KEY("index"),
	[HF_URL] = KEY("url"),
	[HF_IP] = KEY("ip"),
	[HF_PORT] = KEY("port"),
	[HF_STATUS] = KEY("status"),
	[HF_HTTP_STATUS] = KEY("http_status"),
	[HF_REASON] = KEY("reason"),
	[HF_CONTENT_LENGTH] = KEY("content_length"),
	[HF_BODY_BYTES] = KEY("body_bytes"),
	[HF_TRUNCATED] = KEY("truncated"),
	[HF_CONTENT_TYPE] = KEY("content_type"),
	[HF_SERVER] = KEY("server"),
	[HF_LOCATION] = KEY("location"),
	[HF_REDIRECTS] = KEY("redirects"),
	[HF_TITLE] = KEY("title"),
	[HF_BODY_HASH] = KEY("body_hash"),
	[HF_CONNECT_US] = KEY("connect_us"),
	[HF_TTFB_US] = KEY("ttfb_us"),
	[HF_TOTAL_US] = KEY("total_us"),
	[HF_ATTEMPTS] = KEY("attempts"),
	[HF_ELAPSED_US] = KEY("elapsed_us"),
	[HF_DNS_US] = KEY("dns_us"),
	[HF_ERROR] = KEY("error"),
	[HF_DETAIL] = KEY("detail"),
};

/* The values of an HTTP record (rules in output.h); hash receives the
 * body hash text that v[HF_BODY_HASH] points to. */
static void http_values(const struct rp_result *r, const char *ip,
			int family, unsigned int port, char hash[17],
			struct value v[HF__COUNT])
{
	const struct rp_http_info *h = r->http;
	int resp = h && h->status_code > 0;

	memset(v, 0, HF__COUNT * sizeof(*v));
	v_str(&v[HF_INPUT], r->input ? r->input : "");
	v_num(&v[HF_INDEX], r->index);
	if (family) {
		v_str(&v[HF_IP], ip);
		v_num(&v[HF_PORT], port);
	}
	v_str(&v[HF_STATUS], rp_status_name(r->status));
	v_num(&v[HF_BODY_BYTES], h ? h->body_bytes : 0);
	v_num(&v[HF_REDIRECTS], h ? h->redirects : 0);
	v[HF_TRUNCATED].kind = V_BOOL;
	v[HF_TRUNCATED].u = h && h->truncated;
	if (h) {
		v_str(&v[HF_URL], h->url);
		v_num(&v[HF_CONNECT_US], h->connect_us);
		v_num(&v[HF_TTFB_US], h->ttfb_us);
		v_num(&v[HF_TOTAL_US], h->total_us);
	}
	if (resp) {
		v_num(&v[HF_HTTP_STATUS], (uint64_t)h->status_code);
		v_str(&v[HF_REASON], h->reason);
		if (h->content_length >= 0)
			v_num(&v[HF_CONTENT_LENGTH],
			      (uint64_t)h->content_length);
		v_str(&v[HF_CONTENT_TYPE], h->content_type);
		v_str(&v[HF_SERVER], h->server);
		v_str(&v[HF_LOCATION], h->location);
		v_str(&v[HF_TITLE], h->title);
		for (int i = 0; i < 16; i++)
			hash[i] = hex[(h->body_hash >> (60 - 4 * i)) & 0xf];
		hash[16] = '\0';
		v_str(&v[HF_BODY_HASH], hash);
	}
	v_num(&v[HF_ATTEMPTS], r->attempts);
	v_num(&v[HF_ELAPSED_US], r->elapsed_us);
	v_num(&v[HF_DNS_US], r->dns_us);
	v_str(&v[HF_ERROR], error_name(r));
	v_str(&v[HF_DETAIL], r->detail);
}

/*
 * An OK result: status code, body size ('+': truncated at max_body), total
 * time (with " dns N.NNN ms" after it as in TCP lines), then the server,
 * the title (cut to TITLE_MAX bytes) and the redirect target when the
 * response has them, " (N redirects)" ("(1 redirect)") when redirects were
 * followed to get this response, and the detail when there is one (a
 * redirect not followed, the later hop that failed, or what was read
 * leniently). Anything else is shown as a TCP line, with the wider status
 * column:
 *
 *   192.0.2.1:80           ok             200    1234 B   12.345 ms  [nginx]
 *   192.0.2.2:80           ok             200      18 B    0.300 ms  "Hi"
 *   192.0.2.3:80           ok             200       6 B    0.200 ms  lenient: bare LF
 *   192.0.2.1:80           ok             301       0 B    0.950 ms  -> /x/
 *   192.0.2.1:80           ok             302       0 B    0.950 ms  -> /a
 *       redirect to http://192.0.2.1/a failed: closed  (the same line)
 *   [2001:db8::1]:80       ok             200 1048576 B+  20.000 ms (http://h/)
 *   192.0.2.7:80           protocol-error          -  HPE_INVALID_CONSTANT: ...
 */
static void format_http_text(struct sink *k, const struct rp_result *r,
			     const char *ip, int family, unsigned int port)
{
	const struct rp_http_info *h = r->http;
	char where[INET6_ADDRSTRLEN + 16], num[48];
	int n;

	if (r->status != RP_STATUS_OK || !h) {
		format_text(k, r, ip, family, port, HTTP_STATUS_COL, false);
		return;
	}
	where_text(where, sizeof(where), ip, family, port);
	text_lead(k, r, where, HTTP_STATUS_COL);
	if (h->status_code > 0)
		n = snprintf(num, sizeof(num), "%3d", h->status_code);
	else
		n = snprintf(num, sizeof(num), "  -");
	put_mem(k, num, (size_t)n);
	n = snprintf(num, sizeof(num), "%" PRIu64 " B", h->body_bytes);
	put_pad(k, n < BODY_COL ? BODY_COL - (size_t)n : 1);
	put_mem(k, num, (size_t)n);
	put_char(k, h->truncated ? '+' : ' ');
	n = snprintf(num, sizeof(num), "%" PRIu32 ".%03" PRIu32 " ms",
		     h->total_us / 1000, h->total_us % 1000);
	put_pad(k, n < TIME_COL ? TIME_COL - (size_t)n : 1);
	put_mem(k, num, (size_t)n);
	text_dns(k, r);
	if (h->server && h->server[0]) {
		put_str(k, "  [");
		text_str(k, h->server);
		put_char(k, ']');
	}
	if (h->title && h->title[0]) {
		put_str(k, "  \"");
		text_str_max(k, h->title, TITLE_MAX);
		put_char(k, '"');
	}
	if (h->location && h->location[0]) {
		put_str(k, "  -> ");
		text_str_last(k, h->location);
	}
	if (h->redirects > 0) {
		n = snprintf(num, sizeof(num), " (%" PRIu32 " redirect%s)",
			     h->redirects, h->redirects == 1 ? "" : "s");
		put_mem(k, num, (size_t)n);
	}
	if (r->detail) {
		put_str(k, "  ");
		text_str(k, r->detail);
	}
	if (r->tls && r->tls->has_cert && strcmp(r->tls->verify, "ok")) {
		put_str(k, "  verify: ");
		text_str(k, r->tls->verify);
	}
	text_tail(k, r, where);
}

/* ---- TLS fields (after the TCP or HTTP ones, with OUT_TLS) ------------- */

enum tls_field {
	SF_TLS_VERSION,
	SF_CIPHER,
	SF_ALPN,
	SF_SNI,
	SF_SUBJECT_CN,
	SF_SANS,
	SF_ISSUER_CN,
	SF_ISSUER_ORG,
	SF_NOT_BEFORE,
	SF_NOT_AFTER,
	SF_DAYS_LEFT,
	SF_SHA256,
	SF_SELF_SIGNED,
	SF_KEY,
	SF_CHAIN_LEN,
	SF_VERIFY,
	SF_TLS_US,
	SF__COUNT
};

static const struct key tls_keys[SF__COUNT] = {
	[SF_TLS_VERSION] = KEY("tls_version"),
	[SF_CIPHER] = KEY("cipher"),
	[SF_ALPN] = KEY("alpn"),
	[SF_SNI] = KEY("sni"),
	[SF_SUBJECT_CN] = KEY("cert_subject_cn"),
	[SF_SANS] = KEY("cert_sans"),
	[SF_ISSUER_CN] = KEY("cert_issuer_cn"),
	[SF_ISSUER_ORG] = KEY("cert_issuer_org"),
	[SF_NOT_BEFORE] = KEY("cert_not_before"),
	[SF_NOT_AFTER] = KEY("cert_not_after"),
	[SF_DAYS_LEFT] = KEY("cert_days_left"),
	[SF_SHA256] = KEY("cert_sha256"),
	[SF_SELF_SIGNED] = KEY("cert_self_signed"),
	[SF_KEY] = KEY("cert_key"),
	[SF_CHAIN_LEN] = KEY("chain_len"),
	[SF_VERIFY] = KEY("verify"),
	[SF_TLS_US] = KEY("tls_us"),
};

/* "2026-11-30T06:46:39Z" */
static const char *iso_time(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) ||
	    !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "?");
	return buf;
}

static const char *nonempty(const char *s)
{
	return s && s[0] ? s : NULL;
}

/* The values of the TLS fields (rules in output.h); times receives the
 * two validity times' text. */
static void tls_values(const struct rp_result *r, char times[2][32],
		       struct value v[SF__COUNT])
{
	const struct rp_tls_info *t = r->tls;

	memset(v, 0, SF__COUNT * sizeof(*v));
	if (!t)
		return;
	v_str(&v[SF_TLS_VERSION], nonempty(t->version));
	v_str(&v[SF_CIPHER], nonempty(t->cipher));
	v_str(&v[SF_ALPN], nonempty(t->alpn));
	v_str(&v[SF_SNI], nonempty(t->sni));
	if (t->version && t->version[0])
		v_num(&v[SF_TLS_US], t->tls_us);
	if (!t->has_cert)
		return;
	v_str(&v[SF_SUBJECT_CN], t->subject_cn);
	v[SF_SANS].kind = V_LIST;
	v[SF_SANS].a = t->sans;
	v[SF_SANS].u = t->nsans;
	v_str(&v[SF_ISSUER_CN], t->issuer_cn);
	v_str(&v[SF_ISSUER_ORG], t->issuer_org);
	v_str(&v[SF_NOT_BEFORE], iso_time(t->not_before, times[0]));
	v_str(&v[SF_NOT_AFTER], iso_time(t->not_after, times[1]));
	v[SF_DAYS_LEFT].kind = V_INT;
	v[SF_DAYS_LEFT].i = t->days_left;
	v_str(&v[SF_SHA256], t->sha256);
	v_bool(&v[SF_SELF_SIGNED], t->self_signed);
	v_str(&v[SF_KEY], t->key);
	v_num(&v[SF_CHAIN_LEN], t->chain_len);
	v_str(&v[SF_VERIFY], t->verify);
}

/*
 * An OK `tls` result: version, the leaf's subject CN, its expiry and days
 * left, the verdict, ALPN's choice, and the handshake time. Anything else
 * is shown as a TCP line.
 *
 *   192.0.2.1:443          ok          TLSv1.3  CN=a.test  expires
 *       2027-01-01 (32d)  verify: ok  alpn: h2  12.345 ms
 */
static void format_tls_text(struct sink *k, const struct rp_result *r,
			    const char *ip, int family, unsigned int port)
{
	const struct rp_tls_info *t = r->tls;
	char where[INET6_ADDRSTRLEN + 16], num[64], day[32];
	int n;

	if (r->status != RP_STATUS_OK || !t) {
		format_text(k, r, ip, family, port, STATUS_COL, false);
		return;
	}
	where_text(where, sizeof(where), ip, family, port);
	text_lead(k, r, where, STATUS_COL);
	text_str(k, t->version);
	if (t->has_cert) {
		put_str(k, "  CN=");
		text_str(k, t->subject_cn[0] ? t->subject_cn : "-");
		iso_time(t->not_after, day);
		day[10] = '\0';
		n = snprintf(num, sizeof(num), "  expires %s (%" PRId32 "d)",
			     day, t->days_left);
		put_mem(k, num, (size_t)n);
		put_str(k, "  verify: ");
		text_str(k, t->verify);
	}
	if (t->alpn[0]) {
		put_str(k, "  alpn: ");
		text_str(k, t->alpn);
	}
	n = snprintf(num, sizeof(num), "  %" PRIu32 ".%03" PRIu32 " ms",
		     t->tls_us / 1000, t->tls_us % 1000);
	put_mem(k, num, (size_t)n);
	text_dns(k, r);
	text_tail(k, r, where);
}

_Static_assert((int)TF__COUNT <= (int)HF__COUNT, "v[] holds either record");

size_t out_format_result(char *buf, size_t cap, enum out_format f,
			 unsigned int flags, const struct rp_result *r)
{
	struct sink k = { .buf = buf, .cap = cap };
	char ip[INET6_ADDRSTRLEN], hash[17], times[2][32];
	struct value v[HF__COUNT], tv[SF__COUNT];
	const struct key *keys = tcp_keys;
	int n = flags & OUT_BANNER ? TF__COUNT : TF_BANNER;
	unsigned int port;
	int family = addr_text(r->addr, r->addrlen, ip, &port);

	if (f != OUT_JSONL && f != OUT_CSV) {
		if (flags & OUT_HTTP)
			format_http_text(&k, r, ip, family, port);
		else if (flags & OUT_TLS)
			format_tls_text(&k, r, ip, family, port);
		else
			format_text(&k, r, ip, family, port, STATUS_COL,
				    flags & OUT_BANNER);
		return sink_end(&k);
	}
	if (flags & OUT_HTTP) {
		http_values(r, ip, family, port, hash, v);
		keys = http_keys;
		n = HF__COUNT;
	} else {
		tcp_values(r, ip, family, port, v);
	}
	if (flags & OUT_TLS)
		tls_values(r, times, tv);
	if (f == OUT_JSONL) {
		put_char(&k, '{');
		json_fields(&k, keys, v, n, true);
		if (flags & OUT_TLS)
			json_fields(&k, tls_keys, tv, SF__COUNT, false);
		put_str(&k, "}\n");
	} else {
		csv_fields(&k, v, n, true);
		if (flags & OUT_TLS)
			csv_fields(&k, tv, SF__COUNT, false);
		put_char(&k, '\n');
	}
	return sink_end(&k);
}

int out_format_parse(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "text"))
		return OUT_TEXT;
	if (!strcmp(s, "jsonl") || !strcmp(s, "json"))
		return OUT_JSONL;
	if (!strcmp(s, "csv"))
		return OUT_CSV;
	return -1;
}

int out_init(struct out *o, int fd, enum out_format f, unsigned int flags)
{
	memset(o, 0, sizeof(*o));
	o->fd = fd;
	if (f != OUT_TEXT && f != OUT_JSONL && f != OUT_CSV)
		return -EINVAL;
	o->format = f;
	o->flags = flags;
	o->buf = malloc(OUT_BUF_SIZE);
	if (!o->buf)
		return -ENOMEM;
	o->cap = OUT_BUF_SIZE;
	return 0;
}

void out_release(struct out *o)
{
	free(o->buf);
	o->buf = NULL;
	o->len = 0;
	o->cap = 0;
}

/* Marks the writer failed: from now on every call is a no-op. */
static int fail(struct out *o, int err)
{
	if (!o->err)
		o->err = err;
	o->len = 0;
	return o->err;
}

/*
 * out_exit() ends the process without cutting short a record that some
 * thread is writing: writers counts the threads inside write_all() (those
 * of every writer, whatever its fd), and once exiting is set no thread
 * starts another write. Both are lock-free, so usable from
 * a signal handler; seq_cst on both sides (add then load here, store then
 * load in out_exit()) means that either the writer sees exiting or
 * out_exit() sees the writer.
 */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "out_exit() runs in handlers");
static atomic_uint writers;
static atomic_int exiting;

/* Milliseconds on CLOCK_MONOTONIC (clock_gettime is async-signal-safe). */
static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void out_exit(int status)
{
	struct timespec ms = { 0, 1000000 };
	int64_t end = mono_ms() + OUT_EXIT_WAIT_MS;

	atomic_store(&exiting, 1);
	/* by the clock: a busy machine stretches each sleep */
	while (atomic_load(&writers) && mono_ms() < end)
		nanosleep(&ms, NULL);
	_exit(status);
}

/* Writes all of p, or fails the writer. */
static int write_locked(struct out *o, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(o->fd, p, len);

		if (n < 0) {
			struct pollfd pfd = { .fd = o->fd, .events = POLLOUT };

			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* stdout left non-blocking by whoever
				 * shares it: wait instead of losing data */
				if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
					return fail(o, -errno);
				continue;
			}
			return fail(o, -errno);
		}
		if (n == 0)
			return fail(o, -EIO);
		o->writes++;
		o->bytes += (size_t)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes whole records; other threads' records never land in between,
 * and out_exit() does not end the process in the middle. */
static int write_all(struct out *o, const char *p, size_t len)
{
	int ret;

	if (o->lock)
		pthread_mutex_lock(o->lock);
	atomic_fetch_add(&writers, 1);
	if (atomic_load(&exiting)) {
		/* out_exit() is ending the process: write nothing more */
		atomic_fetch_sub(&writers, 1);
		for (;;)
			pause();
	}
	ret = write_locked(o, p, len);
	if (!ret && o->written)
		o->written(o->written_arg);
	atomic_fetch_sub(&writers, 1);
	if (o->lock)
		pthread_mutex_unlock(o->lock);
	return ret;
}

int out_flush(struct out *o)
{
	int ret;

	if (o->err)
		return o->err;
	if (o->len == 0)
		return 0;
	ret = write_all(o, o->buf, o->len);
	o->len = 0;
	return ret;
}

/* Appends text whose length n (without NUL) is known to be below cap. */
static void append(struct out *o, const char *s, size_t n)
{
	if (o->cap - o->len <= n && out_flush(o))
		return;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

void out_header(struct out *o)
{
	char hdr[1024];
	struct sink k = { .buf = hdr, .cap = sizeof(hdr) };

	if (o->err || !o->buf || o->format != OUT_CSV)
		return;
	if (o->flags & OUT_HTTP)
		csv_names(&k, http_keys, HF__COUNT, true);
	else
		csv_names(&k, tcp_keys, o->flags & OUT_BANNER ? TF__COUNT
							      : TF_BANNER, true);
	if (o->flags & OUT_TLS)
		csv_names(&k, tls_keys, SF__COUNT, false);
	put_char(&k, '\n');
	append(o, hdr, sink_end(&k)); /* about 500 bytes at most: it fits */
}

/* A record larger than the whole buffer: written on its own. */
static void write_large(struct out *o, const struct rp_result *r, size_t n)
{
	char *tmp;

	if (out_flush(o))
		return;
	tmp = malloc(n + 1);
	if (!tmp) {
		fail(o, -ENOMEM);
		return;
	}
	out_format_result(tmp, n + 1, o->format, o->flags, r);
	if (!write_all(o, tmp, n))
		o->records++;
	free(tmp);
}

void out_result(struct out *o, const struct rp_result *r)
{
	size_t n;

	if (o->err || !o->buf)
		return;
	if ((o->flags & OUT_ONLY_OPEN) &&
	    r->status != (o->flags & (OUT_HTTP | OUT_TLS) ? RP_STATUS_OK
							  : RP_STATUS_OPEN)) {
		o->skipped++;
		return;
	}
	n = out_format_result(o->buf + o->len, o->cap - o->len, o->format,
			      o->flags, r);
	if (n < o->cap - o->len) {
		o->len += n;
		o->records++;
		return;
	}
	/* did not fit: the partial text past o->len is simply not kept */
	if (n >= o->cap) {
		write_large(o, r, n);
	} else if (!out_flush(o)) {
		o->len = out_format_result(o->buf, o->cap, o->format,
					   o->flags, r);
		o->records++;
	}
}
