/*
 * order.h - the order targets leave the source in (internal to
 * libringprobe): a seeded bijection on [0, n) with O(1) memory, a small
 * seeded random generator, and random access to the k-th port of a set.
 * See order.c for the choices.
 */
#ifndef RP_ORDER_H
#define RP_ORDER_H

#include <stdint.h>

#include "target.h"

#define RP__PERM_ROUNDS 4

/* A keyed permutation of [0, n). Plain data, no allocation. */
struct rp__perm {
	uint64_t n;
	uint64_t mask;			/* (1 << half) - 1 */
	unsigned half;			/* bits per Feistel half */
	uint64_t key[RP__PERM_ROUNDS];	/* round keys */
};

/* A 64-bit mixing function (splitmix64's finaliser): a bijection on
 * uint64_t whose output bits each depend on every input bit. */
static inline uint64_t rp__mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The next value of a splitmix64 generator whose state is *state. */
static inline uint64_t rp__rand_next(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ull;
	return rp__mix64(*state);
}

/* A uniform-enough integer in [0, n) (n >= 1) from the generator: the
 * high half of the draw scaled by n (bias below n / 2^32). */
static inline uint32_t rp__rand_below(uint64_t *state, uint32_t n)
{
	return (uint32_t)(((rp__rand_next(state) >> 32) * n) >> 32);
}

/* Sets p to a permutation of [0, n) (any n, 0 included) chosen by key. */
void rp__perm_init(struct rp__perm *p, uint64_t n, uint64_t key);

/* The image of i (i < n) under p: a bijection of [0, n). */
uint64_t rp__perm_at(const struct rp__perm *p, uint64_t i);

/* Random access to a port set: the rank-th smallest port. */
struct rp__ports_index {
	uint32_t count;			/* ports in the set */
	uint32_t lo;			/* the smallest; the set is lo.. lo +
					 * count - 1 when range is set */
	int range;			/* the set is one contiguous range */
	uint32_t before[65536 / 64];	/* ports in bits[0, w) */
};

void rp__ports_index_init(struct rp__ports_index *x,
			  const struct rp__ports *p);

/* The rank-th smallest port of p (rank < x->count). */
int rp__ports_at(const struct rp__ports_index *x, const struct rp__ports *p,
		 uint32_t rank);

/*
 * Target k (k < rp__spec_count(spec, ports)) of a spec rp__iter_init()
 * accepts, in the iterator's order (address-major: k = address ordinal x
 * ports + port rank), made directly (expand.c): fills *ss and *len as
 * rp__iter_next() does and returns the port. pidx indexes ports.
 */
int rp__spec_at(const struct rp__spec *spec, const struct rp__ports *ports,
		const struct rp__ports_index *pidx, uint64_t k,
		struct sockaddr_storage *ss, socklen_t *len);

#endif /* RP_ORDER_H */
