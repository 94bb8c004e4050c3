/*
 * output_esc.c - the escapes that keep remote-controlled text from breaking
 * a record, and the address and errno text every format shows.
 *
 * Target input and detail text may hold any byte but NUL: JSON gets RFC
 * 8259 escapes and U+FFFD for bytes that are not UTF-8, so every line
 * parses; CSV gets RFC 4180 quoting and a "'" before a cell a spreadsheet
 * would take for a formula; XML gets entity escapes, U+FFFD for bytes that
 * are not UTF-8 and for the control characters XML 1.0 cannot carry at
 * all; text, which goes to terminals, gets \xNN for control bytes (C0, DEL,
 * and C1 whether raw or UTF-8 encoded) and for bytes that are not UTF-8, so
 * no escape sequence from a target ever reaches the terminal.
 */
#include "output_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>


/*
 * Length of the well-formed UTF-8 sequence at s (1 to 4) with its code
 * point in *cp, or 0 if the byte at s does not start one: overlong forms,
 * surrogates and values past U+10FFFF are ill-formed (RFC 3629). s is
 * NUL-terminated, and NUL is not a continuation byte, so the scan stops
 * at the end of the string.
 */
unsigned int utf8_seq(const unsigned char *s, uint32_t *cp)
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

const char out_hex[] = "0123456789abcdef";

/* A JSON string, or null. Control characters (C0, DEL, C1) become \u00XX;
 * bytes that are not UTF-8 become \ufffd, one per byte. */
void json_str(struct sink *k, const char *str)
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
			esc[4] = out_hex[cp >> 4];
			esc[5] = out_hex[cp & 0xf];
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
void csv_field(struct sink *k, const char *s)
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
	char esc[4] = { '\\', 'x', out_hex[c >> 4], out_hex[c & 0xf] };

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

void text_str(struct sink *k, const char *str)
{
	text_span(k, (const unsigned char *)str,
		  (const unsigned char *)str + strlen(str));
}

/* Text as text_str, but a run of spaces at its end shows as \x20 too, for
 * a remote string that may end the line. */
void text_str_last(struct sink *k, const char *str)
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
void text_str_max(struct sink *k, const char *str, size_t max)
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
int addr_text(const struct sockaddr *sa, socklen_t salen,
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
const char *error_name(const struct rp_result *r)
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
void where_text(char *where, size_t size, const char *ip, int family,
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

/*
 * An XML 1.0 attribute value or text (the caller writes the quotes): &, <,
 * >, " and ' as entities; tab, LF and CR as character references (so an
 * attribute keeps them); other C0 controls, which XML 1.0 forbids even as
 * references, and bytes that are not UTF-8 as U+FFFD, one per byte. C1
 * controls and DEL are allowed characters and pass as they are.
 */
void xml_str(struct sink *k, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (s && *s) {
		const unsigned char *run = s;
		uint32_t cp;
		unsigned int n;

		while (*s >= 0x20 && *s < 0x7f && !strchr("&<>\"'", *s))
			s++;
		if (s > run) {
			put_mem(k, run, (size_t)(s - run));
			continue;
		}
		n = utf8_seq(s, &cp);
		switch (n ? cp : 0xfffd) {
		case '&': put_str(k, "&amp;"); break;
		case '<': put_str(k, "&lt;"); break;
		case '>': put_str(k, "&gt;"); break;
		case '"': put_str(k, "&quot;"); break;
		case '\'': put_str(k, "&apos;"); break;
		case '\t': put_str(k, "&#9;"); break;
		case '\n': put_str(k, "&#10;"); break;
		case '\r': put_str(k, "&#13;"); break;
		case 0xfffd: put_str(k, "\xef\xbf\xbd"); break;
		default:
			if (cp < 0x20 || cp == 0xfffe || cp == 0xffff)
				put_str(k, "\xef\xbf\xbd");
			else
				put_mem(k, s, n);
		}
		s += n ? n : 1;
	}
}

/* "2026-11-30T06:46:39.123Z" (RFC 3339, UTC, milliseconds) */
void rfc3339_ms(int64_t ms, char buf[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms < 0 || !gmtime_r(&t, &tm) ||
	    !strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, 32, "?");
		return;
	}
	snprintf(buf + 19, 13, ".%03dZ", (int)(ms % 1000));
}

/* "2026-11-30T06:46:39Z" */
const char *iso_time(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) ||
	    !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "?");
	return buf;
}
