/*
 * exclude.h - the exclude set (struct rp_exclude) as the engine and the
 * target source use it (internal to libringprobe): lookups, with a small
 * cache for walks over nearby addresses, and how many addresses of a
 * block it covers. The public calls that build it are in ringprobe.h.
 */
#ifndef RP_EXCLUDE_H
#define RP_EXCLUDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ringprobe.h"

/* A 128-bit number, most significant half first. */
struct rp__u128 {
	uint64_t hi, lo;
};

struct rp__range4 {
	uint32_t lo, hi;		/* inclusive, host byte order */
};

struct rp__range6 {
	struct rp__u128 lo, hi;		/* inclusive */
};

/*
 * Sorted, disjoint, non-adjacent ranges per family once an add call has
 * returned (the add calls append, then sort and merge). A lookup is a
 * binary search.
 */
struct rp_exclude {
	struct rp__range4 *v4;
	size_t n4, cap4;
	struct rp__range6 *v6;
	size_t n6, cap6;
};

/*
 * The last IPv4 interval a lookup landed in: a whole excluded range, or
 * the whole gap between two of them. A walk over nearby addresses (a CIDR
 * block in order) then answers from it without a search. Zero means empty.
 * One per thread of lookups: it is written by the lookup.
 */
struct rp__exclude_cache {
	uint32_t lo, hi;		/* the interval, inclusive */
	bool excluded;			/* what its addresses are */
	bool valid;
};

/* Is the IPv4 address a (host byte order) excluded? cache may be NULL. */
bool rp__exclude_v4(const struct rp_exclude *x, uint32_t a,
		    struct rp__exclude_cache *cache);

/* Is the address of sa (AF_INET or AF_INET6; the port is ignored)
 * excluded? An IPv4-mapped IPv6 address ("::ffff:10.0.0.1") is excluded
 * when its IPv4 address is, or when an IPv6 item covers it; an IPv6 item
 * inside ::ffff:0:0/96 also excludes the IPv4 addresses it spells. false
 * for NULL x or another family. */
bool rp__exclude_sa(const struct rp_exclude *x, const struct sockaddr *sa,
		    struct rp__exclude_cache *cache);

/* How many addresses of [lo, hi] the set covers (IPv4, host order). */
uint64_t rp__exclude_count4(const struct rp_exclude *x, uint32_t lo,
			    uint32_t hi);

/* The same for IPv6, for blocks of at most 2^64 addresses. */
uint64_t rp__exclude_count6(const struct rp_exclude *x, struct rp__u128 lo,
			    struct rp__u128 hi);

/* The number of the 16-byte address a. */
struct rp__u128 rp__u128_load(const uint8_t a[16]);

#endif /* RP_EXCLUDE_H */
