/*
 * order.c - the order targets leave the source in: a seeded permutation
 * of [0, n) with O(1) memory and a few nanoseconds per element, and
 * random access to the ports of a set, so that target k of a CIDR x ports
 * line can be made without walking to it.
 *
 * The permutation is a balanced Feistel network over the smallest power
 * of 4 that is >= n, 2^(2h): an index is split into two h-bit halves and
 * RP__PERM_ROUNDS rounds of (L, R) -> (R, L ^ F_k(R)) make a bijection of
 * [0, 4^h) whatever F is; F is the splitmix64 finaliser of R xor a round
 * key, masked to h bits. Cycle-walking (apply it again while the image is
 * >= n) restricts that bijection to [0, n): the walk from an i < n stays
 * on i's cycle and stops at its first element below n, and since 4^h < 4n
 * it takes under 4 steps on average. Why not zmap's cyclic group
 * (multiplication by a generator modulo a prime p > n): it needs a prime
 * and a generator found per n at startup and a 64-bit modular product
 * (128-bit for n near 2^48, our largest space: a /0 x 65535 ports), while
 * the Feistel network is the same dozen lines for every n and any key is
 * a valid one. Four rounds is Luby-Rackoff's bound for a strong
 * pseudo-random permutation; we need no cryptographic strength, only
 * that neighbours in [0, n) land far apart, which two rounds already do.
 */
#include <string.h>

#include "order.h"

void rp__perm_init(struct rp__perm *p, uint64_t n, uint64_t key)
{
	uint64_t state = key;

	memset(p, 0, sizeof(*p));
	p->n = n;
	while (p->half < 32 && (1ull << (2 * p->half)) < n)
		p->half++;
	p->mask = (1ull << p->half) - 1;
	for (int r = 0; r < RP__PERM_ROUNDS; r++)
		p->key[r] = rp__rand_next(&state);
}

/* One pass of the network over [0, 4^half). */
static uint64_t feistel(const struct rp__perm *p, uint64_t x)
{
	uint64_t l = x >> p->half, r = x & p->mask;

	for (int i = 0; i < RP__PERM_ROUNDS; i++) {
		uint64_t f = rp__mix64(r ^ p->key[i]) & p->mask;
		uint64_t t = r;

		r = l ^ f;
		l = t;
	}
	return (l << p->half) | r;
}

uint64_t rp__perm_at(const struct rp__perm *p, uint64_t i)
{
	if (p->n <= 1)
		return i;
	do
		i = feistel(p, i);
	while (i >= p->n);
	return i;
}

void rp__ports_index_init(struct rp__ports_index *x,
			  const struct rp__ports *p)
{
	uint32_t n = 0, last = 0;

	memset(x, 0, sizeof(*x));
	for (uint32_t w = 0; w < 65536 / 64; w++) {
		x->before[w] = n;
		n += (uint32_t)__builtin_popcountll(p->bits[w]);
		if (p->bits[w])
			last = w * 64 + 63 - (uint32_t)__builtin_clzll(p->bits[w]);
	}
	x->count = n;
	if (n) {
		x->lo = (uint32_t)rp__ports_next(p, 0);
		x->range = last - x->lo + 1 == n;
	}
}

int rp__ports_at(const struct rp__ports_index *x, const struct rp__ports *p,
		 uint32_t rank)
{
	size_t lo = 0, hi = 65536 / 64;
	uint64_t bits;

	if (x->range)
		return (int)(x->lo + rank);
	/* the last word with fewer than rank + 1 ports before it */
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (x->before[mid] <= rank)
			lo = mid;
		else
			hi = mid;
	}
	bits = p->bits[lo];
	for (rank -= x->before[lo]; rank; rank--)
		bits &= bits - 1;
	return (int)(lo * 64) + __builtin_ctzll(bits);
}
