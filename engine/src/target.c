/*
 * target.c - what a line of target text means.
 *
 * This module owns the grammar of targets and port lists and the lazy
 * expansion of a target over a port set: it turns "10.0.0.0/30" and
 * "22,80" into sockaddrs one at a time, never materialising the list. It
 * also parses durations for the public rp_parse_duration(). It is pure (no
 * I/O, no threads, no allocation) so that it can be fuzzed and unit tested
 * byte by byte; the target source (source.c) does the reading and the
 * "FILE:LINE:" diagnostics around it.
 *
 * Hostnames are not resolved here (the engine does that): a hostname line
 * expands to one target per port, with no address, and the source hands
 * the name over as written.
 *
 * URL lines ("http://192.0.2.1:8080/status") are one target each, for
 * HTTP probes: the parser finds the authority and the path in the line
 * and leaves them there (rp__spec.auth_off, .path_off), so a URL costs no
 * more memory than any other line.
 *
 * The parser is strict on purpose: input usually comes from files that
 * other programs wrote, and a line that is silently read as something else
 * probes the wrong host. Every rejection gives a reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ringprobe.h"
#include "target.h"

#define NS_PER_DAY (86400ULL * 1000000000ULL)

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * Parses s[0, n) as an unsigned decimal of at most maxdigits digits.
 * Returns 0, -1 if it is empty or not all digits, -2 if too long.
 */
static int parse_uint(const char *s, size_t n, size_t maxdigits,
		      unsigned long *v)
{
	size_t i;

	*v = 0;
	if (!n)
		return -1;
	for (i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return -1;
	if (n > maxdigits)
		return -2;
	for (i = 0; i < n; i++)
		*v = *v * 10 + (unsigned long)(s[i] - '0');
	return 0;
}

char *rp__escape(char *dst, size_t dstsize, const char *src, size_t len)
{
	size_t need = 0, o = 0, i;
	bool cut;

	if (dstsize < 4) {
		if (dstsize)
			dst[0] = '\0';
		return dst;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		need += (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') ?
				1 : 4;
	}
	cut = need + 1 > dstsize;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t w = (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') ?
				   1 : 4;

		if (o + w + (cut ? 3 : 0) + 1 > dstsize)
			break;
		if (w == 1)
			dst[o] = (char)c;
		else
			snprintf(dst + o, 5, "\\x%02x", c);
		o += w;
	}
	if (cut) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

/* ---- durations ---------------------------------------------------------- */

/*
 * A unit is mult * 10^exp nanoseconds, so that a fraction can be scaled
 * exactly with integers: the first exp + 2 fraction digits are kept.
 */
static const struct {
	const char *name;
	uint64_t mult;
	unsigned int exp;
} units[] = {
	{ "ns", 1, 0 },	 { "us", 1, 3 },  { "ms", 1, 6 },
	{ "s", 1, 9 },	 { "m", 6, 10 },  { "h", 36, 11 },
};

static uint64_t pow10u(unsigned int e)
{
	uint64_t v = 1;

	while (e--)
		v *= 10;
	return v;
}

int rp_parse_duration(const char *s, uint64_t *ns)
{
	const char *p = s, *frac = NULL;
	size_t fraclen = 0, u, i;
	uint64_t ip = 0, unit, fv = 0, total;
	unsigned int keep;
	bool big = false;

	if (!s || !ns || !is_digit(*p))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		if (ip > NS_PER_DAY)
			big = true;
		else
			ip = ip * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		frac = ++p;
		while (is_digit(*p))
			p++;
		fraclen = (size_t)(p - frac);
		if (!fraclen)
			return -EINVAL;
	}
	if (!*p) {
		u = 3; /* a bare number is seconds */
	} else {
		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
			if (!strcmp(p, units[u].name))
				break;
		if (u == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
	}
	if (big)
		return -ERANGE;
	unit = units[u].mult * pow10u(units[u].exp);
	if (ip > NS_PER_DAY / unit)
		return -ERANGE;
	total = ip * unit;

	/* fv = the fraction * 10^keep, truncated; mult * fv < 2^63 */
	keep = units[u].exp + 2;
	for (i = 0; i < keep; i++)
		fv = fv * 10 + (i < fraclen ? (uint64_t)(frac[i] - '0') : 0);
	total += units[u].mult * fv / 100;
	if (total > NS_PER_DAY)
		return -ERANGE;
	*ns = total;
	return 0;
}

/* ---- port sets ---------------------------------------------------------- */

void rp__ports_clear(struct rp__ports *p)
{
	memset(p, 0, sizeof(*p));
}

void rp__ports_add(struct rp__ports *p, int lo, int hi)
{
	int port;

	if (lo < 1 || hi > 65535 || lo > hi)
		return;
	for (port = lo; port <= hi; port++) {
		unsigned int w = (unsigned int)port >> 6;
		uint64_t bit = 1ULL << (port & 63);

		if (p->bits[w] & bit)
			continue;
		p->bits[w] |= bit;
		p->words[w >> 6] |= 1ULL << (w & 63);
		p->count++;
	}
}

bool rp__ports_has(const struct rp__ports *p, int port)
{
	if (port < 1 || port > 65535)
		return false;
	return p->bits[port >> 6] & (1ULL << (port & 63));
}

int rp__ports_next(const struct rp__ports *p, int after)
{
	unsigned int q, w, sw;
	uint64_t m;

	if (after < 0)
		after = 0;
	if (after >= 65535)
		return -1;
	q = (unsigned int)after + 1;
	w = q >> 6;
	m = p->bits[w] & (~0ULL << (q & 63));
	if (m)
		return (int)(w * 64 + (unsigned int)__builtin_ctzll(m));

	/* the next non-empty word after w, from the summary */
	if (++w >= 65536 / 64)
		return -1;
	sw = w >> 6;
	m = p->words[sw] & (~0ULL << (w & 63));
	while (!m) {
		if (++sw >= 65536 / 64 / 64)
			return -1;
		m = p->words[sw];
	}
	w = sw * 64 + (unsigned int)__builtin_ctzll(m);
	return (int)(w * 64 + (unsigned int)__builtin_ctzll(p->bits[w]));
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_blank(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_blank((*s)[*n - 1]))
		(*n)--;
}

/* One port of a port list item; 0 or -EINVAL with the reason in err. */
static int item_port(const char *s, size_t n, const char *item, size_t ilen,
		     unsigned long *v, char *err, size_t errlen)
{
	char q[48];
	int r;

	trim(&s, &n);
	r = parse_uint(s, n, 5, v);
	rp__escape(q, sizeof(q), item, ilen);
	if (r == -1) {
		set_err(err, errlen,
			"port list item '%s': not a port or range "
			"(like 80 or 8000-8100)", q);
		return -EINVAL;
	}
	if (r == -2) {
		set_err(err, errlen, "port list item '%s': number too long",
			q);
		return -EINVAL;
	}
	if (*v < 1 || *v > 65535) {
		set_err(err, errlen,
			"port list item '%s': port %lu out of range 1-65535", q,
			*v);
		return -EINVAL;
	}
	return 0;
}

int rp__ports_parse(struct rp__ports *p, const char *spec, char *err,
		    size_t errlen)
{
	const char *s = spec;
	unsigned int n = 1;
	int r;

	rp__ports_clear(p);
	if (!spec) {
		set_err(err, errlen, "no port list");
		return -EINVAL;
	}
	for (;; n++) {
		const char *end = strchr(s, ',');
		const char *item = s, *dash;
		size_t ilen;
		unsigned long lo, hi;

		if (!end)
			end = s + strlen(s);
		ilen = (size_t)(end - s);
		trim(&item, &ilen);
		if (!ilen) {
			if (!*end && n == 1)
				set_err(err, errlen, "empty port list");
			else
				set_err(err, errlen,
					"port list item %u is empty", n);
			goto fail;
		}
		dash = memchr(item, '-', ilen);
		if (dash) {
			r = item_port(item, (size_t)(dash - item), item, ilen,
				      &lo, err, errlen);
			if (!r)
				r = item_port(dash + 1,
					      ilen - (size_t)(dash + 1 - item),
					      item, ilen, &hi, err, errlen);
			if (r)
				goto fail;
			if (lo > hi) {
				char q[48];

				rp__escape(q, sizeof(q), item, ilen);
				set_err(err, errlen,
					"port list item '%s': reversed range",
					q);
				goto fail;
			}
		} else {
			if (item_port(item, ilen, item, ilen, &lo, err, errlen))
				goto fail;
			hi = lo;
		}
		rp__ports_add(p, (int)lo, (int)hi);
		if (!*end)
			break;
		s = end + 1;
	}
	return 0;
fail:
	rp__ports_clear(p);
	return -EINVAL;
}

/* ---- target lines ------------------------------------------------------- */

/* Dotted-quad IPv4, four parts 0-255 without leading zeros. */
static int parse_v4(const char *s, size_t n, struct in_addr *a)
{
	char buf[INET_ADDRSTRLEN];
	size_t i = 0, part;

	if (n >= sizeof(buf))
		return -1;
	for (part = 0; part < 4; part++) {
		size_t b = i;
		unsigned long v;

		while (i < n && is_digit(s[i]))
			i++;
		if (parse_uint(s + b, i - b, 3, &v) || v > 255)
			return -1;
		if (i - b > 1 && s[b] == '0')
			return -1;
		if (part < 3) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
	}
	if (i != n)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, a) == 1 ? 0 : -1;
}

/* Returns 0 or -EINVAL; an empty prefix text is an error. */
static int parse_prefix(const char *s, size_t n, unsigned long max,
			unsigned long *v, char *err, size_t errlen)
{
	char q[16];

	if (parse_uint(s, n, 3, v) || *v > max || (n > 1 && s[0] == '0')) {
		rp__escape(q, sizeof(q), s, n);
		set_err(err, errlen, "bad prefix length '/%s' (must be 0-%lu)",
			q, max);
		return -EINVAL;
	}
	return 0;
}

static int parse_port(const char *s, size_t n, struct rp__spec *out,
		      char *err, size_t errlen)
{
	unsigned long v;
	char q[24];

	if (!n) {
		set_err(err, errlen, "missing port after ':'");
		return -EINVAL;
	}
	if (parse_uint(s, n, 5, &v) || v < 1 || v > 65535) {
		rp__escape(q, sizeof(q), s, n);
		set_err(err, errlen, "bad port '%s' (must be 1-65535)", q);
		return -EINVAL;
	}
	out->port = (uint16_t)v;
	return 0;
}

/* An IPv6 address, optionally "/prefix" (a CIDR6 block). */
static int parse_v6(const char *s, size_t n, struct rp__spec *out, char *err,
		    size_t errlen)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n, i;
	unsigned long prefix = 128;

	if (memchr(s, '%', n)) {
		set_err(err, errlen, "IPv6 zone ids are not supported");
		return -EINVAL;
	}
	for (i = 0; i < alen; i++)
		if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
			break;
	if (!alen || i < alen || alen >= sizeof(buf))
		goto bad;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET6, buf, &out->addr.v6) != 1)
		goto bad;
	out->family = AF_INET6;
	if (!slash) {
		out->kind = RP__SPEC_ADDR;
		out->prefix = 128;
		out->naddrs = 1;
		return 0;
	}
	if (parse_prefix(slash + 1, n - alen - 1, 128, &prefix, err, errlen))
		return -EINVAL;
	if (prefix < RP__CIDR6_MIN_PREFIX) {
		set_err(err, errlen,
			"IPv6 block /%lu is too large: at most 2^20 addresses "
			"(prefix /%d to /128)", prefix, RP__CIDR6_MIN_PREFIX);
		return -EINVAL;
	}
	for (i = 0; i < 16; i++) {
		unsigned long keep = prefix > i * 8 ? prefix - i * 8 : 0;

		if (keep < 8)
			out->addr.v6.s6_addr[i] &= (uint8_t)(0xff00u >> keep);
	}
	out->kind = RP__SPEC_CIDR6;
	out->prefix = (uint8_t)prefix;
	out->naddrs = 1ULL << (128 - prefix);
	return 0;
bad:
	set_err(err, errlen, "bad IPv6 address");
	return -EINVAL;
}

static int parse_hostname(const char *s, size_t n, char *err, size_t errlen)
{
	size_t i, label = 0;
	char q[8];

	if (n && s[n - 1] == '.')
		n--; /* one trailing dot: fully qualified */
	if (!n) {
		set_err(err, errlen, "bad hostname: empty");
		return -EINVAL;
	}
	if (n > 253) {
		set_err(err, errlen, "bad hostname: longer than 253 bytes");
		return -EINVAL;
	}
	for (i = 0; i <= n; i++) {
		char c = i < n ? s[i] : '.';

		if (c == '.') {
			if (!label) {
				set_err(err, errlen,
					"bad hostname: empty label");
				return -EINVAL;
			}
			if (s[i - label] == '-' || s[i - 1] == '-') {
				set_err(err, errlen,
					"bad hostname: label starts or ends "
					"with '-'");
				return -EINVAL;
			}
			label = 0;
			continue;
		}
		if (!is_digit(c) && !(c >= 'a' && c <= 'z') &&
		    !(c >= 'A' && c <= 'Z') && c != '-' && c != '_') {
			rp__escape(q, sizeof(q), &s[i], 1);
			set_err(err, errlen, "bad character '%s' in hostname",
				q);
			return -EINVAL;
		}
		if (++label > 63) {
			set_err(err, errlen,
				"bad hostname: label longer than 63 bytes");
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * If s[0, n) starts with a URL scheme and "://" (RFC 3986: a letter, then
 * letters, digits, "+", "-" or "."), returns the scheme's length, else 0.
 */
static size_t scheme_len(const char *s, size_t n)
{
	size_t i;

	if (!n || !((s[0] >= 'a' && s[0] <= 'z') ||
		    (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	for (i = 1; i < n; i++) {
		char c = s[i];

		if (!is_digit(c) && !(c >= 'a' && c <= 'z') &&
		    !(c >= 'A' && c <= 'Z') && c != '+' && c != '-' && c != '.')
			break;
	}
	return n - i >= 3 && !memcmp(s + i, "://", 3) ? i : 0;
}

/* The trimmed, comment-free, non-empty text t[0, n): classify it. */
static int classify(const char *t, size_t n, struct rp__spec *out, char *err,
		    size_t errlen)
{
	const char *host = t, *port = NULL, *colon, *slash;
	size_t hlen = n, plen = 0, colons = 0, i;
	unsigned long prefix;

	if (t[0] == '[') {
		const char *close = memchr(t, ']', n);

		if (!close) {
			set_err(err, errlen, "missing ']'");
			return -EINVAL;
		}
		host = t + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < t + n) {
			if (close[1] != ':') {
				set_err(err, errlen, "junk after ']'");
				return -EINVAL;
			}
			port = close + 2;
			plen = n - (size_t)(port - t);
		}
		if (!memchr(host, ':', hlen)) {
			set_err(err, errlen,
				"brackets are only for IPv6 addresses");
			return -EINVAL;
		}
		if (parse_v6(host, hlen, out, err, errlen))
			return -EINVAL;
		return port ? parse_port(port, plen, out, err, errlen) : 0;
	}

	for (i = 0; i < n; i++)
		colons += t[i] == ':';
	if (colons >= 2)
		return parse_v6(t, n, out, err, errlen);
	if (memchr(t, '[', n) || memchr(t, ']', n)) {
		set_err(err, errlen, "misplaced '[' or ']'");
		return -EINVAL;
	}
	if (colons == 1) {
		colon = memchr(t, ':', n);
		hlen = (size_t)(colon - t);
		port = colon + 1;
		plen = n - hlen - 1;
		if (!hlen) {
			set_err(err, errlen, "missing address before ':'");
			return -EINVAL;
		}
	}

	slash = memchr(host, '/', hlen);
	if (slash) {
		size_t alen = (size_t)(slash - host);
		uint32_t a, mask;

		if (!alen) {
			set_err(err, errlen, "missing address before '/'");
			return -EINVAL;
		}
		if (parse_v4(host, alen, &out->addr.v4)) {
			set_err(err, errlen, "bad IPv4 address in block");
			return -EINVAL;
		}
		if (parse_prefix(slash + 1, hlen - alen - 1, 32, &prefix, err,
				 errlen))
			return -EINVAL;
		mask = prefix ? ~0u << (32 - prefix) : 0;
		a = ntohl(out->addr.v4.s_addr) & mask;
		out->addr.v4.s_addr = htonl(a);
		out->kind = RP__SPEC_CIDR4;
		out->family = AF_INET;
		out->prefix = (uint8_t)prefix;
		out->naddrs = 1ULL << (32 - prefix);
	} else {
		for (i = 0; i < hlen; i++)
			if (!is_digit(host[i]) && host[i] != '.')
				break;
		if (i == hlen) {
			/* only digits and dots: an IPv4 address or nothing
			 * (no top-level domain is numeric) */
			if (parse_v4(host, hlen, &out->addr.v4)) {
				set_err(err, errlen, "bad IPv4 address");
				return -EINVAL;
			}
			out->kind = RP__SPEC_ADDR;
			out->family = AF_INET;
			out->prefix = 32;
			out->naddrs = 1;
		} else {
			if (parse_hostname(host, hlen, err, errlen))
				return -EINVAL;
			out->kind = RP__SPEC_HOSTNAME;
			out->host_len = hlen;
		}
	}
	return port ? parse_port(port, plen, out, err, errlen) : 0;
}

/*
 * The URL t[0, n) (trimmed, comment-free, a scheme of slen bytes then
 * "://"), found at input offset base.
 */
static int parse_url(const char *t, size_t n, size_t slen, size_t base,
		     struct rp__spec *out, char *err, size_t errlen)
{
	const char *auth, *frag;
	size_t p = slen + 3, aend, alen, ulen, i, colons = 0;
	enum rp__scheme scheme;
	char q[24];

	if (slen == 4 && !strncasecmp(t, "http", 4)) {
		scheme = RP__SCHEME_HTTP;
	} else if (slen == 5 && !strncasecmp(t, "https", 5)) {
		scheme = RP__SCHEME_HTTPS;
	} else {
		rp__escape(q, sizeof(q), t, slen);
		set_err(err, errlen, "unsupported URL scheme '%s'", q);
		return -EINVAL;
	}
	for (i = p; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (is_blank((char)c)) {
			set_err(err, errlen, "blank inside URL (percent-"
					     "encode spaces as %%20)");
			return -EINVAL;
		}
		if (c < 0x20 || c == 0x7f) {
			set_err(err, errlen, "control character in URL");
			return -EINVAL;
		}
		if (c >= 0x80) {
			set_err(err, errlen, "non-ASCII byte in URL (percent-"
					     "encode it)");
			return -EINVAL;
		}
	}

	/* the fragment is the client's business: it is never sent */
	frag = memchr(t + p, '#', n - p);
	ulen = frag ? (size_t)(frag - t) : n;
	for (aend = p; aend < ulen && t[aend] != '/' && t[aend] != '?'; aend++)
		colons += t[aend] == ':';
	auth = t + p;
	alen = aend - p;
	if (!alen) {
		set_err(err, errlen, "missing host in URL");
		return -EINVAL;
	}
	if (memchr(auth, '@', alen)) {
		set_err(err, errlen, "user names in URLs ('user@') are not "
				     "supported");
		return -EINVAL;
	}
	if (auth[0] != '[' && colons >= 2) {
		set_err(err, errlen, "more than one ':' in URL host (IPv6 "
				     "addresses need brackets: "
				     "http://[::1]:80/)");
		return -EINVAL;
	}
	if (auth[0] == ':') {
		set_err(err, errlen, "missing host in URL");
		return -EINVAL;
	}
	if (classify(auth, alen, out, err, errlen))
		return -EINVAL;
	/* classify saw no "/" (it ends the authority): ADDR or HOSTNAME */
	out->kind = RP__SPEC_URL;
	out->scheme = scheme;
	if (!out->port)
		out->port = scheme == RP__SCHEME_HTTPS ? 443 : 80;
	out->auth_off = base + p;
	out->auth_len = alen;
	out->path_off = base + aend;
	out->path_len = ulen - aend;
	return 0;
}

int rp__target_parse(const char *text, size_t len, struct rp__spec *out,
		     char *err, size_t errlen)
{
	const char *hash, *t;
	size_t b = 0, end = 0, i, n, slen;
	int r;

	memset(out, 0, sizeof(*out));
	set_err(err, errlen, "%s", "");
	while (b < len && is_blank(text[b]))
		b++;
	/* a URL's "#" is its fragment: comments start after it (and
	 * scheme_len stops at "#", so "#http://" is a comment) */
	slen = scheme_len(text + b, len - b);
	if (slen)
		for (end = b; end < len && !is_blank(text[end]); end++)
			;
	hash = memchr(text + end, '#', len - end);
	end = hash ? (size_t)(hash - text) : len;
	while (end > b && is_blank(text[end - 1]))
		end--;
	out->off = b;
	out->len = end - b;
	if (memchr(text, '\0', len)) {
		set_err(err, errlen, "NUL byte in line");
		return -EINVAL;
	}
	if (end == b)
		return 0;

	t = text + b;
	n = end - b;
	if (slen) {
		r = parse_url(t, n, slen, b, out, err, errlen);
		goto out;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (is_blank((char)c)) {
			set_err(err, errlen, "blank inside target");
			return -EINVAL;
		}
		if (c < 0x20 || c == 0x7f) {
			set_err(err, errlen, "control character in target");
			return -EINVAL;
		}
	}
	if (n >= 3 && memmem(t, n, "://", 3)) {
		char q[24];

		rp__escape(q, sizeof(q), t,
			   (size_t)((const char *)memmem(t, n, "://", 3) - t));
		set_err(err, errlen, "bad URL scheme '%s'", q);
		return -EINVAL;
	}
	r = classify(t, n, out, err, errlen);
out:
	if (r) {
		/* keep off and len for the caller's message, nothing else */
		memset(out, 0, sizeof(*out));
		out->off = b;
		out->len = n;
	}
	return r;
}

/* ---- expansion ---------------------------------------------------------- */

/* Expandable: an address or block, a hostname (one target per port,
 * resolved later by the engine), or a URL (its port is always set, so it
 * yields exactly one target). */
static bool expandable(const struct rp__spec *spec)
{
	return spec->kind == RP__SPEC_ADDR || spec->kind == RP__SPEC_CIDR4 ||
	       spec->kind == RP__SPEC_CIDR6 ||
	       spec->kind == RP__SPEC_HOSTNAME ||
	       (spec->kind == RP__SPEC_URL && spec->port);
}

/* Targets per port: the addresses, or 1 for a name. */
static uint64_t spec_naddrs(const struct rp__spec *spec)
{
	return spec->family ? spec->naddrs : 1;
}

uint64_t rp__spec_count(const struct rp__spec *spec,
			const struct rp__ports *ports)
{
	if (spec->kind == RP__SPEC_URL)
		return 1;
	if (!expandable(spec))
		return 0;
	if (spec->port)
		return spec_naddrs(spec);
	return ports ? spec_naddrs(spec) * ports->count : 0;
}

/* True for the bytes a request-target may not carry raw (RFC 9112 3.2:
 * it is printable ASCII without a blank). */
static bool needs_pct(unsigned char c)
{
	return c <= ' ' || c >= 0x7f;
}

/*
 * Writes src[0, n) to dst from offset o on, percent-encoded, stopping
 * before the first byte whose encoding would leave no room for the NUL:
 * a cut never splits a "%XX". Returns the new offset; *all says whether
 * every byte made it.
 */
static size_t pct_encode(char *dst, size_t dstsize, size_t o,
			 const char *src, size_t n, bool *all)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t w = needs_pct(c) ? 3 : 1;

		if (o + w + 1 > dstsize)
			break;
		if (w == 1) {
			dst[o++] = (char)c;
			continue;
		}
		dst[o++] = '%';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 15];
	}
	dst[o] = '\0';
	*all = i == n;
	return o;
}

int rp__pct_encode(char *dst, size_t dstsize, const char *src, size_t len)
{
	bool all;
	size_t o;

	if (!dstsize)
		return -ENAMETOOLONG;
	o = pct_encode(dst, dstsize, 0, src, len, &all);
	if (!all || o > INT_MAX)
		return -ENAMETOOLONG;
	return (int)o;
}

char *rp__spec_path(const struct rp__spec *spec, const char *input,
		    char *dst, size_t dstsize)
{
	const char *p = input + spec->path_off;
	size_t n = spec->path_len, o = 0;
	bool all;

	if (!dstsize)
		return dst;
	if (spec->kind == RP__SPEC_URL && (!n || p[0] != '/') && dstsize > 1)
		dst[o++] = '/';
	if (spec->kind != RP__SPEC_URL)
		n = 0;
	/* The parser lets no such byte into a URL; encoding anyway keeps
	 * the request line whole should that ever change. */
	pct_encode(dst, dstsize, o, p, n, &all);
	return dst;
}

int rp__iter_init(struct rp__iter *it, const struct rp__spec *spec,
		  const struct rp__ports *ports, char *err, size_t errlen)
{
	memset(it, 0, sizeof(*it));
	if (!expandable(spec)) {
		set_err(err, errlen, "not an address, block, hostname or URL");
		return -EINVAL;
	}
	if (!spec->port && (!ports || !ports->count)) {
		set_err(err, errlen, "no port: give ip:port or -p");
		return -EINVAL;
	}
	it->spec = spec;
	it->ports = ports;
	return 0;
}

int rp__iter_next(struct rp__iter *it, struct sockaddr_storage *ss,
		  socklen_t *len)
{
	const struct rp__spec *spec = it->spec;
	uint64_t idx;
	int port;

	if (!spec)
		return 0;
	if (spec->port) {
		if (it->addr >= spec_naddrs(spec))
			return 0;
		port = spec->port;
		idx = it->addr++;
	} else {
		port = rp__ports_next(it->ports, it->port);
		if (port < 0) {
			if (it->addr < spec_naddrs(spec))
				it->addr++;
			port = rp__ports_next(it->ports, 0);
		}
		if (it->addr >= spec_naddrs(spec))
			return 0;
		idx = it->addr;
	}
	it->port = port;

	memset(ss, 0, sizeof(*ss));
	if (!spec->family) {
		/* a name: no address yet, only it->port */
		*len = 0;
		return 1;
	}
	if (spec->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr.s_addr =
			htonl(ntohl(spec->addr.v4.s_addr) + (uint32_t)idx);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		uint32_t low;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = spec->addr.v6;
		/* at most 20 host bits, all in the last word, all zero */
		memcpy(&low, &sin6->sin6_addr.s6_addr[12], 4);
		low = htonl(ntohl(low) | (uint32_t)idx);
		memcpy(&sin6->sin6_addr.s6_addr[12], &low, 4);
		*len = sizeof(*sin6);
	}
	return 1;
}
