/*
 * range.c - address ranges in target lines: nmap's octet ranges
 * ("10.0.0.1-254", "10.0.0-3.1-10", "10.0.*.1") and first-last ranges
 * ("127.1.2.1-127.1.2.5", "2001:db8::1-2001:db8::ff").
 *
 * A range is an address space like a CIDR block: n addresses with an
 * ordinal each, ascending, and rp__spec_addr() (expand.c) gives the
 * address at any ordinal in O(1), so a range is walked, counted or
 * permuted the same way as a block and costs no memory per address.
 * An octet range is a mixed-radix number (the last octet varies fastest);
 * a first-last range is its first address plus the ordinal.
 *
 * Text made only of digits, dots, "-" and "*" looks like an address, so it
 * is never taken for a name: when it is not a valid address or range, the
 * line is invalid with a reason naming the octet at fault.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "lex.h"
#include "target.h"

/* One decimal 0-255 without leading zeros; "what" names it in messages. */
static int octet_value(const char *s, size_t n, int part, unsigned *v,
		       char *err, size_t errlen)
{
	unsigned long x;
	char q[16];

	rp__escape(q, sizeof(q), s, n);
	if (!n) {
		set_err(err, errlen, "bad IPv4 address: octet %d is empty",
			part + 1);
		return -EINVAL;
	}
	if (parse_uint(s, n, 3, &x) || x > 255) {
		set_err(err, errlen,
			"bad IPv4 address: octet %d '%s' is not 0-255",
			part + 1, q);
		return -EINVAL;
	}
	if (n > 1 && s[0] == '0') {
		set_err(err, errlen,
			"bad IPv4 address: octet %d '%s' has a leading zero",
			part + 1, q);
		return -EINVAL;
	}
	*v = (unsigned)x;
	return 0;
}

/* One octet item: "N", "N-M" or "*". */
static int octet_item(const char *s, size_t n, int part, struct rp__spec *out,
		      char *err, size_t errlen)
{
	const char *dash = memchr(s, '-', n);
	unsigned lo, hi;

	if (n == 1 && s[0] == '*') {
		lo = 0;
		hi = 255;
	} else if (!dash) {
		if (octet_value(s, n, part, &lo, err, errlen))
			return -EINVAL;
		hi = lo;
	} else {
		size_t a = (size_t)(dash - s);

		if (octet_value(s, a, part, &lo, err, errlen) ||
		    octet_value(dash + 1, n - a - 1, part, &hi, err, errlen))
			return -EINVAL;
		if (hi < lo) {
			set_err(err, errlen,
				"bad IPv4 range: octet %d goes down (%u-%u)",
				part + 1, lo, hi);
			return -EINVAL;
		}
	}
	out->oct_lo[part] = (uint8_t)lo;
	out->oct_hi[part] = (uint8_t)hi;
	return 0;
}

/* "a.b.c.d" where each part is an octet item: ADDR or OCTETS. */
static int parse_octets(const char *s, size_t n, struct rp__spec *out,
			char *err, size_t errlen)
{
	uint64_t count = 1;
	size_t b = 0, i;
	int part = 0;

	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (part == 4) {
			set_err(err, errlen, "bad IPv4 address: more than "
					     "4 octets");
			return -EINVAL;
		}
		if (octet_item(s + b, i - b, part, out, err, errlen))
			return -EINVAL;
		count *= (uint64_t)(out->oct_hi[part] - out->oct_lo[part]) + 1;
		part++;
		b = i + 1;
	}
	if (part != 4) {
		set_err(err, errlen, "bad IPv4 address: %d octet(s), not 4",
			part);
		return -EINVAL;
	}
	out->family = AF_INET;
	out->addr.v4.s_addr =
		htonl((uint32_t)out->oct_lo[0] << 24 |
		      (uint32_t)out->oct_lo[1] << 16 |
		      (uint32_t)out->oct_lo[2] << 8 | out->oct_lo[3]);
	out->naddrs = count;
	out->kind = count == 1 ? RP__SPEC_ADDR : RP__SPEC_OCTETS;
	out->prefix = count == 1 ? 32 : 0;
	return 0;
}

/* A plain dotted quad, for one end of a first-last range. */
static int range_end4(const char *s, size_t n, const char *which,
		      uint32_t *a, char *err, size_t errlen)
{
	struct rp__spec one;

	memset(&one, 0, sizeof(one));
	if (parse_octets(s, n, &one, err, errlen))
		return -EINVAL;
	if (one.kind != RP__SPEC_ADDR) {
		set_err(err, errlen, "bad IPv4 range: its %s is not one "
				     "address", which);
		return -EINVAL;
	}
	*a = ntohl(one.addr.v4.s_addr);
	return 0;
}

int rp__range4_parse(const char *s, size_t n, struct rp__spec *out,
		     char *err, size_t errlen)
{
	const char *dash = memchr(s, '-', n);
	size_t i, dots = 0;
	uint32_t first, last;
	char q[40];

	/* first-last: one "-" with a whole address after it */
	if (dash && !memchr(dash + 1, '-', n - (size_t)(dash - s) - 1)) {
		for (i = (size_t)(dash - s) + 1; i < n; i++)
			dots += s[i] == '.';
	}
	if (dots != 3)
		return parse_octets(s, n, out, err, errlen);
	if (range_end4(s, (size_t)(dash - s), "start", &first, err, errlen) ||
	    range_end4(dash + 1, n - (size_t)(dash - s) - 1, "end", &last, err,
		       errlen))
		return -EINVAL;
	if (last < first) {
		rp__escape(q, sizeof(q), dash + 1, n - (size_t)(dash - s) - 1);
		set_err(err, errlen, "bad IPv4 range: its end %s is before "
				     "its start", q);
		return -EINVAL;
	}
	out->kind = RP__SPEC_RANGE;
	out->family = AF_INET;
	out->addr.v4.s_addr = htonl(first);
	out->naddrs = (uint64_t)(last - first) + 1;
	return 0;
}

/* A 128-bit address as two halves, most significant first. */
static void v6_halves(const struct in6_addr *a, uint64_t h[2])
{
	int i;

	h[0] = h[1] = 0;
	for (i = 0; i < 8; i++) {
		h[0] = h[0] << 8 | a->s6_addr[i];
		h[1] = h[1] << 8 | a->s6_addr[8 + i];
	}
}

static int range_end6(const char *s, size_t n, const char *which,
		      struct in6_addr *a, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN];

	if (!n || n >= sizeof(buf))
		goto bad;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, a) == 1)
		return 0;
bad:
	set_err(err, errlen, "bad IPv6 range: its %s is not an IPv6 address",
		which);
	return -EINVAL;
}

int rp__range6_parse(const char *s, size_t n, struct rp__spec *out,
		     char *err, size_t errlen)
{
	const char *dash = memchr(s, '-', n);
	size_t a = (size_t)(dash - s);
	struct in6_addr first, last;
	uint64_t f[2], l[2], span;

	if (memchr(s, '/', n)) {
		set_err(err, errlen, "bad IPv6 range: a range has no prefix");
		return -EINVAL;
	}
	if (range_end6(s, a, "start", &first, err, errlen) ||
	    range_end6(dash + 1, n - a - 1, "end", &last, err, errlen))
		return -EINVAL;
	v6_halves(&first, f);
	v6_halves(&last, l);
	if (l[0] < f[0] || (l[0] == f[0] && l[1] < f[1])) {
		set_err(err, errlen, "bad IPv6 range: its end is before its "
				     "start");
		return -EINVAL;
	}
	span = l[1] - f[1]; /* mod 2^64; exact when the high halves allow */
	if (l[0] - f[0] > (l[1] < f[1] ? 1u : 0u) ||
	    span >= 1ULL << (128 - RP__CIDR6_MIN_PREFIX)) {
		set_err(err, errlen, "IPv6 range too large: at most 2^%d "
				     "addresses", 128 - RP__CIDR6_MIN_PREFIX);
		return -EINVAL;
	}
	out->kind = RP__SPEC_RANGE;
	out->family = AF_INET6;
	out->addr.v6 = first;
	out->naddrs = span + 1;
	return 0;
}
