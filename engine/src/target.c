/*
 * target.c - what a line of target text means.
 *
 * This file owns the grammar of target lines: rp__target_parse() turns
 * "10.0.0.0/30", "example.com:8080" or "http://[::1]/x" into a struct
 * rp__spec. The rest of the target module, all declared in target.h:
 * port sets and lists (ports.c), the lazy expansion of a spec over a port
 * set (expand.c), quoting and percent-encoding (escape.c). The module is
 * pure (no I/O, no threads, no allocation) so that it can be fuzzed and
 * unit tested byte by byte; the target source (source.c) does the reading
 * and the "FILE:LINE:" diagnostics around it.
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
#include <string.h>
#include <strings.h>

#include "lex.h"
#include "target.h"

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

	if (memchr(s, '-', n))
		return rp__range6_parse(s, n, out, err, errlen);
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
			if (!is_digit(host[i]) && host[i] != '.' &&
			    host[i] != '-' && host[i] != '*')
				break;
		if (i == hlen) {
			/* only digits, dots, "-" and "*": an IPv4 address,
			 * a range or nothing (no top-level domain is
			 * numeric), never a name to resolve */
			if (rp__range4_parse(host, hlen, out, err, errlen))
				return -EINVAL;
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
	/* even a range of one address ("1.0.0.0-1.0.0.0", "10.0.0.1-1"):
	 * its text would be the Host header */
	if (out->naddrs > 1 || out->kind == RP__SPEC_RANGE ||
	    out->kind == RP__SPEC_OCTETS ||
	    (out->family && memchr(auth, '-', alen))) {
		set_err(err, errlen, "a URL names one host, not a range");
		return -EINVAL;
	}
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
