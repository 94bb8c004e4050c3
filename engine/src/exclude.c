/*
 * exclude.c - exclude lists: sets of IPv4 and IPv6 addresses that no probe
 * may connect to (a blocklist), read from text, and looked up on the hot
 * path.
 *
 * Why sorted ranges: a blocklist of a million CIDR blocks and addresses is
 * read once and then asked about every target. Each item becomes one
 * inclusive range [lo, hi] (an address, a block, or "A-B"); after each add
 * call the ranges of a family are sorted and overlapping or adjacent ones
 * merged, so a lookup is one binary search over disjoint ranges: about 20
 * steps for a million, no allocation, no lock (the set is read-only while
 * engines use it). Memory is 8 bytes per IPv4 range and 32 per IPv6 range
 * (plus the sort's temporary copy while loading): a million IPv4 blocks
 * take 8 MB. A radix tree would answer in fewer steps but costs several
 * times that and is harder to get right for /0 and /128 at the edges.
 *
 * Walks over a block ask about neighbouring addresses, so lookups can pass
 * a cache of the last interval found (a range, or the gap between two):
 * the next address inside it needs no search.
 *
 * The grammar (one tokenizer for lists and files): items separated by
 * commas or blanks; "#" starts a comment to the end of the line; each item
 * is an address ("192.0.2.1", "2001:db8::1"), a block ("192.0.2.0/24",
 * "2001:db8::/32", prefix 0 to 32 or 128; host bits are ignored, as in a
 * route), or a range of one family ("192.0.2.10-192.0.2.20"). Errors name
 * the item and, for files, FILE:LINE. An add that fails adds nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exclude.h"
#include "lex.h"
#include "target.h"

#define ITEM_MAX 100		/* longest item: two IPv6 addresses and "-" */
#define XLINE_MAX 1024		/* longest line of a file */
#define XREAD_SIZE (64u << 10)	/* bytes per read(2) */

/* ---- 128-bit numbers ----------------------------------------------------- */

struct rp__u128 rp__u128_load(const uint8_t a[16])
{
	struct rp__u128 v = { 0, 0 };

	for (int i = 0; i < 8; i++) {
		v.hi = v.hi << 8 | a[i];
		v.lo = v.lo << 8 | a[8 + i];
	}
	return v;
}

static int cmp128(struct rp__u128 a, struct rp__u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

static bool is_max128(struct rp__u128 a)
{
	return a.hi == UINT64_MAX && a.lo == UINT64_MAX;
}

static struct rp__u128 inc128(struct rp__u128 a)
{
	a.lo++;
	if (!a.lo)
		a.hi++;
	return a;
}

/* ---- building ------------------------------------------------------------ */

int rp_exclude_create(struct rp_exclude **out)
{
	if (!out)
		return -EINVAL;
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void rp_exclude_destroy(struct rp_exclude *x)
{
	if (!x)
		return;
	free(x->v4);
	free(x->v6);
	free(x);
}

static int push4(struct rp_exclude *x, uint32_t lo, uint32_t hi)
{
	if (x->n4 == x->cap4) {
		size_t cap = x->cap4 ? 2 * x->cap4 : 256;
		struct rp__range4 *v = realloc(x->v4, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		x->v4 = v;
		x->cap4 = cap;
	}
	x->v4[x->n4++] = (struct rp__range4){ lo, hi };
	return 0;
}

static int push6(struct rp_exclude *x, struct rp__u128 lo, struct rp__u128 hi)
{
	if (x->n6 == x->cap6) {
		size_t cap = x->cap6 ? 2 * x->cap6 : 64;
		struct rp__range6 *v = realloc(x->v6, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		x->v6 = v;
		x->cap6 = cap;
	}
	x->v6[x->n6++] = (struct rp__range6){ lo, hi };
	return 0;
}

static int by_lo4(const void *a, const void *b)
{
	uint32_t x = ((const struct rp__range4 *)a)->lo;
	uint32_t y = ((const struct rp__range4 *)b)->lo;

	return x < y ? -1 : x > y;
}

static int by_lo6(const void *a, const void *b)
{
	return cmp128(((const struct rp__range6 *)a)->lo,
		      ((const struct rp__range6 *)b)->lo);
}

/* The IPv4-mapped IPv6 addresses, ::ffff:0.0.0.0/96. */
static const struct rp__u128 mapped_lo = { 0, 0xffff00000000ull };
static const struct rp__u128 mapped_hi = { 0, 0xffffffffffffull };

/*
 * An IPv6 item inside ::ffff:0:0/96 ("::ffff:192.0.2.0/120") names IPv4
 * addresses in another spelling: each one added since the set was last
 * sorted (from index `from`) is added to the IPv4 ranges too, so that the
 * IPv4 address is excluded as well. (An item that only overlaps that
 * space, "::/0", means IPv6 and stays there: it excludes the mapped
 * spelling, not the IPv4 addresses.) Returns 0 or -ENOMEM.
 */
static int map_to_v4(struct rp_exclude *x, size_t from)
{
	for (size_t i = from; i < x->n6; i++) {
		struct rp__u128 lo = x->v6[i].lo, hi = x->v6[i].hi;

		if (cmp128(lo, mapped_lo) < 0 || cmp128(hi, mapped_hi) > 0)
			continue;
		if (push4(x, (uint32_t)lo.lo, (uint32_t)hi.lo))
			return -ENOMEM;
	}
	return 0;
}

/* Sorts the ranges and merges those that overlap or touch. */
static void normalise(struct rp_exclude *x)
{
	size_t i, k;

	if (x->n4 > 1) {
		qsort(x->v4, x->n4, sizeof(*x->v4), by_lo4);
		for (k = 0, i = 1; i < x->n4; i++) {
			struct rp__range4 *c = &x->v4[k];

			if (c->hi == UINT32_MAX || x->v4[i].lo <= c->hi + 1) {
				if (x->v4[i].hi > c->hi)
					c->hi = x->v4[i].hi;
			} else {
				x->v4[++k] = x->v4[i];
			}
		}
		x->n4 = k + 1;
	}
	if (x->n6 > 1) {
		qsort(x->v6, x->n6, sizeof(*x->v6), by_lo6);
		for (k = 0, i = 1; i < x->n6; i++) {
			struct rp__range6 *c = &x->v6[k];

			if (is_max128(c->hi) ||
			    cmp128(x->v6[i].lo, inc128(c->hi)) <= 0) {
				if (cmp128(x->v6[i].hi, c->hi) > 0)
					c->hi = x->v6[i].hi;
			} else {
				x->v6[++k] = x->v6[i];
			}
		}
		x->n6 = k + 1;
	}
}

/* One address: 4 or 16 bytes into a. Returns AF_INET, AF_INET6 or 0. */
static int parse_addr(const char *s, uint8_t a[16])
{
	if (inet_pton(AF_INET, s, a) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, a) == 1)
		return AF_INET6;
	return 0;
}

static uint32_t load4(const uint8_t a[4])
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
	       (uint32_t)a[2] << 8 | a[3];
}

/* "A-B": both ends into *lo, *hi. Returns 0 or a reason. */
static const char *parse_range(char *buf, char *dash, struct rp__u128 *lo,
			       struct rp__u128 *hi, int *fam)
{
	uint8_t a[16], b[16];
	int fa, fb;

	*dash = '\0';
	fa = parse_addr(buf, a);
	fb = parse_addr(dash + 1, b);
	if (!fa || !fb)
		return "not an address, CIDR block or range A-B";
	if (fa != fb)
		return "a range cannot go from one address family to the other";
	*fam = fa;
	*lo = fa == AF_INET ? (struct rp__u128){ 0, load4(a) } : rp__u128_load(a);
	*hi = fa == AF_INET ? (struct rp__u128){ 0, load4(b) } : rp__u128_load(b);
	return cmp128(*lo, *hi) > 0 ? "range ends before it starts" : NULL;
}

/* "A/P": the block into *lo, *hi. Returns 0 or a reason. */
static const char *parse_block(char *buf, char *slash, struct rp__u128 *lo,
			       struct rp__u128 *hi, int *fam)
{
	unsigned long p;
	uint8_t a[16];
	int bits;

	*slash = '\0';
	*fam = parse_addr(buf, a);
	if (!*fam)
		return "not an address, CIDR block or range A-B";
	bits = *fam == AF_INET ? 32 : 128;
	if (parse_uint(slash + 1, strlen(slash + 1), 3, &p) < 0)
		return "bad prefix length: want /0 to /32 (IPv4) or /128 "
		       "(IPv6)";
	if (p > (unsigned long)bits)
		return *fam == AF_INET ? "prefix length above /32"
				       : "prefix length above /128";
	if (*fam == AF_INET) {
		uint32_t v = load4(a);
		uint32_t host = p == 32 ? 0 : (uint32_t)(0xffffffffull >> p);

		*lo = (struct rp__u128){ 0, v & ~host };
		*hi = (struct rp__u128){ 0, v | host };
		return NULL;
	}
	struct rp__u128 v = rp__u128_load(a), m;

	/* host mask: the low 128 - p bits */
	m.hi = p >= 64 ? 0 : (p == 0 ? UINT64_MAX : UINT64_MAX >> p);
	m.lo = p >= 128 ? 0 : (p <= 64 ? UINT64_MAX : UINT64_MAX >> (p - 64));
	*lo = (struct rp__u128){ v.hi & ~m.hi, v.lo & ~m.lo };
	*hi = (struct rp__u128){ v.hi | m.hi, v.lo | m.lo };
	return NULL;
}

/* Parses one item (s[0, n), no blank, comma or "#" in it) and appends its
 * range. Returns 0, -ENOMEM, or -EINVAL with *why set. */
static int add_item(struct rp_exclude *x, const char *s, size_t n,
		    const char **why)
{
	char buf[ITEM_MAX + 1], *mark;
	struct rp__u128 lo, hi;
	uint8_t a[16];
	int fam;

	if (n > ITEM_MAX) {
		*why = "too long for an address, block or range";
		return -EINVAL;
	}
	if (memchr(s, '\0', n)) {
		*why = "NUL byte";
		return -EINVAL;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	*why = NULL;
	if ((mark = strchr(buf, '-')))
		*why = parse_range(buf, mark, &lo, &hi, &fam);
	else if ((mark = strchr(buf, '/')))
		*why = parse_block(buf, mark, &lo, &hi, &fam);
	else if ((fam = parse_addr(buf, a)))
		lo = hi = fam == AF_INET ? (struct rp__u128){ 0, load4(a) }
					 : rp__u128_load(a);
	else
		*why = "not an address, CIDR block or range A-B";
	if (*why)
		return -EINVAL;
	if (fam == AF_INET)
		return push4(x, (uint32_t)lo.lo, (uint32_t)hi.lo);
	return push6(x, lo, hi);
}

static bool is_sep(char c)
{
	return c == ',' || is_blank(c);
}

/*
 * Adds every item of text[0, len) (one line of a file, or a whole list):
 * items between commas and blanks, up to a "#". Returns 0, -ENOMEM, or
 * -EINVAL with a message "PREFIX'ITEM': reason" in err.
 */
static int add_text(struct rp_exclude *x, const char *text, size_t len,
		    const char *prefix, char *err, size_t errlen)
{
	size_t i = 0;

	while (i < len && text[i] != '#') {
		size_t start, n;
		const char *why;
		char q[64];
		int r;

		if (is_sep(text[i])) {
			i++;
			continue;
		}
		start = i;
		while (i < len && !is_sep(text[i]) && text[i] != '#')
			i++;
		n = i - start;
		r = add_item(x, text + start, n, &why);
		if (r == -EINVAL) {
			rp__escape(q, sizeof(q), text + start, n);
			set_err(err, errlen, "%s'%s': %s", prefix, q, why);
		}
		if (r)
			return r;
	}
	return 0;
}

/* An add call failed: drops what it appended, keeping the set as it was
 * (its first n4, n6 ranges are the sorted set from before the call). */
static void undo(struct rp_exclude *x, size_t n4, size_t n6)
{
	x->n4 = n4;
	x->n6 = n6;
}

int rp_exclude_add(struct rp_exclude *x, const char *list, char *err,
		   size_t errlen)
{
	size_t n4, n6;
	int r;

	set_err(err, errlen, "%s", "");
	if (!x || !list)
		return -EINVAL;
	if (!list[strspn(list, ", \t")]) {
		set_err(err, errlen, "%s", "empty exclude list");
		return -EINVAL;
	}
	n4 = x->n4;
	n6 = x->n6;
	r = add_text(x, list, strlen(list), "", err, errlen);
	if (!r)
		r = map_to_v4(x, n6);
	if (r) {
		if (r == -ENOMEM)
			set_err(err, errlen, "%s", "out of memory");
		undo(x, n4, n6);
		return r;
	}
	normalise(x);
	return 0;
}

/* Adds the lines of buf[0, *have): every complete one, and at EOF the
 * last one too; what is left (a line still coming) moves to the front.
 * Returns 0 or -errno with the message in err. */
static int add_lines(struct rp_exclude *x, char *buf, size_t *have, bool eof,
		     const char *name, uint64_t *lineno, char *err,
		     size_t errlen)
{
	char *p = buf, *end = buf + *have, prefix[240];
	int r = 0;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (!nl && !eof && n <= XLINE_MAX)
			break; /* the rest of it comes with the next read */
		++*lineno;
		snprintf(prefix, sizeof(prefix), "%.200s:%llu: ", name,
			 (unsigned long long)*lineno);
		if (n > XLINE_MAX) {
			set_err(err, errlen, "%sline longer than %d bytes",
				prefix, XLINE_MAX);
			return -EINVAL;
		}
		r = add_text(x, p, n, prefix, err, errlen);
		if (r)
			return r;
		p = nl ? nl + 1 : end;
	}
	*have = (size_t)(end - p);
	memmove(buf, p, *have);
	return 0;
}

/* Reads fd to the end, adding each line. Returns 0 or -errno, with a
 * message naming name (and the line) in err. */
static int add_fd(struct rp_exclude *x, int fd, const char *name, char *err,
		  size_t errlen)
{
	/* what is left of a line (at most XLINE_MAX) plus one read */
	char *buf = malloc(XREAD_SIZE + XLINE_MAX + 1);
	uint64_t lineno = 0;
	size_t have = 0;
	bool eof = false;
	int r = 0;

	if (!buf) {
		set_err(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	while (!r && !eof) {
		ssize_t got = read(fd, buf + have, XREAD_SIZE);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			set_err(err, errlen, "%s: %s", name, strerror(-r));
			break;
		}
		eof = got == 0;
		have += (size_t)got;
		r = add_lines(x, buf, &have, eof, name, &lineno, err, errlen);
	}
	free(buf);
	if (r == -ENOMEM)
		set_err(err, errlen, "%s: out of memory", name);
	return r;
}

int rp_exclude_add_file(struct rp_exclude *x, const char *path, char *err,
			size_t errlen)
{
	bool stdin_ = path && !strcmp(path, "-");
	const char *name = stdin_ ? "<stdin>" : path;
	size_t n4, n6;
	int fd, r;

	set_err(err, errlen, "%s", "");
	if (!x || !path)
		return -EINVAL;
	fd = stdin_ ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		set_err(err, errlen, "%s: %s", name, strerror(-r));
		return r;
	}
	n4 = x->n4;
	n6 = x->n6;
	r = add_fd(x, fd, name, err, errlen);
	if (!stdin_)
		close(fd);
	if (!r && (r = map_to_v4(x, n6)))
		set_err(err, errlen, "%s: out of memory", name);
	if (r) {
		undo(x, n4, n6);
		return r;
	}
	normalise(x);
	return 0;
}

size_t rp_exclude_ranges(const struct rp_exclude *x)
{
	return x ? x->n4 + x->n6 : 0;
}

/* ---- lookups ------------------------------------------------------------- */

/* The index of the last range with lo <= a, or -1. */
static ptrdiff_t find4(const struct rp_exclude *x, uint32_t a)
{
	size_t lo = 0, hi = x->n4; /* answer in [lo - 1, hi - 1] */

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->v4[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (ptrdiff_t)lo - 1;
}

static ptrdiff_t find6(const struct rp_exclude *x, struct rp__u128 a)
{
	size_t lo = 0, hi = x->n6;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp128(x->v6[mid].lo, a) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (ptrdiff_t)lo - 1;
}

bool rp__exclude_v4(const struct rp_exclude *x, uint32_t a,
		    struct rp__exclude_cache *cache)
{
	ptrdiff_t i;
	bool in;

	if (!x || !x->n4)
		return false;
	if (cache && cache->valid && a >= cache->lo && a <= cache->hi)
		return cache->excluded;
	i = find4(x, a);
	in = i >= 0 && a <= x->v4[i].hi;
	if (cache) {
		cache->valid = true;
		cache->excluded = in;
		if (in) {
			cache->lo = x->v4[i].lo;
			cache->hi = x->v4[i].hi;
		} else {
			cache->lo = i >= 0 ? x->v4[i].hi + 1 : 0;
			cache->hi = (size_t)(i + 1) < x->n4
					    ? x->v4[i + 1].lo - 1
					    : UINT32_MAX;
		}
	}
	return in;
}

static bool exclude_v6(const struct rp_exclude *x, struct rp__u128 a)
{
	ptrdiff_t i;

	if (!x->n6)
		return false;
	i = find6(x, a);
	return i >= 0 && cmp128(a, x->v6[i].hi) <= 0;
}

bool rp__exclude_sa(const struct rp_exclude *x, const struct sockaddr *sa,
		    struct rp__exclude_cache *cache)
{
	if (!x || !sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		return rp__exclude_v4(x, ntohl(sin->sin_addr.s_addr), cache);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		const uint8_t *b = sin6->sin6_addr.s6_addr;

		/* ::ffff:a.b.c.d connects to a.b.c.d */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
		    rp__exclude_v4(x, load4(b + 12), cache))
			return true;
		return exclude_v6(x, rp__u128_load(b));
	}
	return false;
}

int rp_exclude_has(const struct rp_exclude *x, const struct sockaddr *sa)
{
	return rp__exclude_sa(x, sa, NULL);
}

uint64_t rp__exclude_count4(const struct rp_exclude *x, uint32_t lo,
			    uint32_t hi)
{
	uint64_t n = 0;
	ptrdiff_t i;

	if (!x || !x->n4)
		return 0;
	i = find4(x, lo);
	if (i < 0 || x->v4[i].hi < lo)
		i++;
	for (; (size_t)i < x->n4 && x->v4[i].lo <= hi; i++) {
		uint32_t a = x->v4[i].lo > lo ? x->v4[i].lo : lo;
		uint32_t b = x->v4[i].hi < hi ? x->v4[i].hi : hi;

		n += (uint64_t)(b - a) + 1;
	}
	return n;
}

uint64_t rp__exclude_count6(const struct rp_exclude *x, struct rp__u128 lo,
			    struct rp__u128 hi)
{
	uint64_t n = 0;
	ptrdiff_t i;

	if (!x || !x->n6)
		return 0;
	i = find6(x, lo);
	if (i < 0 || cmp128(x->v6[i].hi, lo) < 0)
		i++;
	for (; (size_t)i < x->n6 && cmp128(x->v6[i].lo, hi) <= 0; i++) {
		struct rp__u128 a = cmp128(x->v6[i].lo, lo) > 0 ? x->v6[i].lo
								 : lo;
		struct rp__u128 b = cmp128(x->v6[i].hi, hi) < 0 ? x->v6[i].hi
								 : hi;

		n += b.lo - a.lo + 1; /* b - a < 2^64: the low words do */
	}
	return n;
}
