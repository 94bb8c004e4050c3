/*
 * test_order.c - unit tests for the order targets leave the source in
 * (order.c, source.c): the permutation is a bijection of [0, n) for many
 * n (0, 1, 2, primes, 2^k +- 1, powers of 4 and their neighbours),
 * deterministic per key and different across keys; random access to the
 * ports of a set; and, through the public rp_source API, that a shuffled
 * source produces every input target exactly once with its input index,
 * in an order fixed by the seed (not by the window filling up slowly),
 * that shards split it into disjoint balanced parts whose union is the
 * whole, and that the counters count only the shard's targets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "order.h"
#include "ringprobe.h"

/* ---- the permutation --------------------------------------------------- */

/* Checks p is a bijection of [0, n) and returns how many i map to i. */
static uint64_t check_bijection(const struct rp__perm *p, uint64_t n)
{
	uint8_t *seen = calloc(n ? n : 1, 1);
	uint64_t fixed = 0;

	assert_non_null(seen);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v = rp__perm_at(p, i);

		assert_true(v < n);
		assert_int_equal(seen[v], 0);
		seen[v] = 1;
		fixed += v == i;
	}
	free(seen);
	return fixed;
}

static void test_perm_bijection(void **state)
{
	static const uint64_t ns[] = {
		0, 1, 2, 3, 4, 5, 7, 13, 15, 16, 17, 31, 63, 64, 65, 97,
		127, 255, 256, 257, 1000, 1023, 1024, 1025, 4093, 4095,
		4096, 4097, 65521, 65535, 65536, 65537, 262143, 262144,
		262145, 1000003,
	};
	(void)state;
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		for (uint64_t key = 0; key < 3; key++) {
			struct rp__perm p;
			uint64_t fixed;

			rp__perm_init(&p, ns[i], key * 0x1234567ull);
			fixed = check_bijection(&p, ns[i]);
			/* a shuffle, not the identity (which has n fixed
			 * points; a random one has about 1) */
			if (ns[i] >= 64)
				assert_true(fixed < ns[i] / 8);
		}
}

static void test_perm_deterministic(void **state)
{
	struct rp__perm a, b, c;
	uint64_t n = 100000, same = 0;

	(void)state;
	rp__perm_init(&a, n, 42);
	rp__perm_init(&b, n, 42);
	rp__perm_init(&c, n, 43);
	for (uint64_t i = 0; i < n; i++) {
		assert_int_equal(rp__perm_at(&a, i), rp__perm_at(&b, i));
		same += rp__perm_at(&a, i) == rp__perm_at(&c, i);
	}
	/* two random permutations agree in about one place */
	assert_true(same < n / 100);
	/* a fixed value, so that a change of the algorithm (and so of
	 * every published seed's order) is noticed */
	static const uint64_t golden[10] = { 8, 6, 2, 7, 1, 3, 4, 5, 9, 0 };

	rp__perm_init(&a, 10, 1);
	for (uint64_t i = 0; i < 10; i++)
		assert_int_equal(rp__perm_at(&a, i), golden[i]);
}

/* Neighbours are spread: consecutive images of a /16 rarely fall in the
 * same /24 (address-major ordinals / 256 = the /24). */
static void test_perm_spread(void **state)
{
	struct rp__perm p;
	uint64_t n = 65536, same = 0;

	(void)state;
	rp__perm_init(&p, n, 7);
	for (uint64_t i = 1; i < n; i++)
		same += rp__perm_at(&p, i) / 256 == rp__perm_at(&p, i - 1) / 256;
	assert_true(same < 2 * n / 256 + 20); /* chance: n / 256 */
}

static void test_ports_at(void **state)
{
	static const char *lists[] = { "1-65535", "22", "22,80,443",
				       "1-10,63-65,127-129,65535", "80-90" };
	(void)state;
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct rp__ports p;
		struct rp__ports_index x;
		int port = 0;

		assert_int_equal(rp__ports_parse(&p, lists[i], NULL, 0), 0);
		rp__ports_index_init(&x, &p);
		assert_int_equal(x.count, p.count);
		for (uint32_t r = 0; r < x.count; r++) {
			port = rp__ports_next(&p, port);
			assert_int_equal(rp__ports_at(&x, &p, r), port);
		}
	}
}

/* ---- the source --------------------------------------------------------- */

struct run {
	uint64_t *index;	/* in production order */
	uint64_t n, invalid;
	int64_t total;
};

static char *write_lines(unsigned nlines, unsigned bad_every)
{
	static char path[] = "/tmp/rp_test_order_XXXXXX";
	char *p = strdup(path);
	int fd = mkstemp(p);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	for (unsigned i = 0; i < nlines; i++) {
		if (bad_every && i % bad_every == 3)
			fprintf(f, "bad!%u\n", i);
		else
			fprintf(f, "10.%u.%u.%u\n", (i >> 16) & 255,
				(i >> 8) & 255, i & 255);
	}
	fclose(f);
	return p;
}

static struct run produce(const char *file, const char *arg, int shuffle,
			  uint64_t seed, uint32_t window, uint32_t shard,
			  uint32_t shards)
{
	struct rp_source_opts o = { .ports = "1-3", .shuffle = shuffle,
				    .seed = seed, .shuffle_window = window,
				    .shard = shard, .shards = shards };
	struct rp_source *s;
	struct rp_target t;
	struct run r = { 0 };
	size_t cap = 1024;
	int rc;

	assert_int_equal(rp_source_create(&s, &o, NULL, 0), 0);
	if (arg)
		assert_int_equal(rp_source_add_arg(s, arg), 0);
	if (file)
		assert_int_equal(rp_source_add_file(s, file), 0);
	r.index = malloc(cap * sizeof(*r.index));
	while ((rc = rp_source_next(s, &t)) >= 0) {
		if (rc == 0) {
			usleep(1000); /* the reader is behind */
			continue;
		}
		if (r.n == cap)
			r.index = realloc(r.index, (cap *= 2) * sizeof(*r.index));
		r.index[r.n++] = t.index;
	}
	r.invalid = rp_source_invalid(s);
	r.total = rp_source_total(s);
	assert_int_equal(rp_source_produced(s), r.n);
	rp_source_destroy(s);
	return r;
}

/* Every index 0..n-1 exactly once. */
static void check_whole(const struct run *r, uint64_t n)
{
	uint8_t *seen = calloc(n, 1);

	assert_int_equal(r->n, n);
	for (uint64_t i = 0; i < r->n; i++) {
		assert_true(r->index[i] < n);
		assert_int_equal(seen[r->index[i]]++, 0);
	}
	free(seen);
}

static uint64_t in_order(const struct run *r)
{
	uint64_t k = 0;

	for (uint64_t i = 0; i < r->n; i++)
		k += r->index[i] == i;
	return k;
}

enum { LINES = 20000, BAD_EVERY = 1000 };
/* a /20 x 3 ports argument first, then the file's lines x 3 ports each
 * (bad lines one target each) */
#define ARG "192.168.0.0/20"
#define ARG_N (4096u * 3)
#define BAD_N (LINES / BAD_EVERY)
#define WHOLE (ARG_N + (LINES - BAD_N) * 3u + BAD_N)

static void test_source_shuffle(void **state)
{
	char *file = write_lines(LINES, BAD_EVERY);
	struct run plain = produce(file, ARG, 0, 0, 0, 0, 0);
	struct run a = produce(file, ARG, 1, 5, 1000, 0, 0);
	struct run b = produce(file, ARG, 1, 5, 1000, 0, 0);
	struct run c = produce(file, ARG, 1, 6, 1000, 0, 0);

	(void)state;
	check_whole(&plain, WHOLE);
	assert_int_equal(in_order(&plain), WHOLE);
	assert_int_equal(plain.invalid, BAD_N);
	assert_int_equal(plain.total, WHOLE);
	check_whole(&a, WHOLE);
	assert_int_equal(a.invalid, BAD_N);
	assert_int_equal(a.total, WHOLE);
	assert_true(in_order(&a) < WHOLE / 100);
	/* same seed: same order; another seed: another */
	assert_memory_equal(a.index, b.index, WHOLE * sizeof(*a.index));
	assert_true(memcmp(a.index, c.index, WHOLE * sizeof(*a.index)));
	unlink(file);
	free(file);
	free(plain.index);
	free(a.index);
	free(b.index);
	free(c.index);
}

static void test_source_shards(void **state)
{
	char *file = write_lines(LINES, BAD_EVERY);
	struct run whole = produce(file, ARG, 1, 9, 0, 0, 0);
	uint8_t *seen = calloc(WHOLE, 1);
	uint64_t sum = 0, bad = 0;
	enum { N = 7 };

	(void)state;
	for (uint32_t i = 0; i < N; i++) {
		struct run r = produce(file, ARG, 1, 9, 0, i, N);

		/* within one target of 1/N, and counted as such */
		assert_true(r.n >= WHOLE / N && r.n <= WHOLE / N + 1);
		assert_int_equal(r.total, r.n);
		for (uint64_t k = 0; k < r.n; k++) {
			assert_int_equal(seen[r.index[k]]++, 0);
			/* shard i has positions i, i + N, ... of the order */
			assert_int_equal(r.index[k], whole.index[i + k * N]);
		}
		sum += r.n;
		bad += r.invalid;
		free(r.index);
	}
	assert_int_equal(sum, WHOLE);
	assert_int_equal(bad, BAD_N);
	/* input order shards too */
	{
		struct run r = produce(file, ARG, 0, 0, 0, 2, 3);

		for (uint64_t k = 0; k < r.n; k++)
			assert_int_equal(r.index[k], 2 + 3 * k);
		free(r.index);
	}
	unlink(file);
	free(file);
	free(seen);
	free(whole.index);
}

/* Every port of one target once, in the order drawn; returns how many. */
static unsigned draw_ports(const char *arg, const char *ports, uint64_t seed,
			   uint32_t shard, uint32_t shards, uint16_t *out)
{
	struct rp_source_opts o = { .ports = ports, .shuffle = 1,
				    .seed = seed, .shard = shard,
				    .shards = shards };
	struct rp_source *s;
	struct rp_target t;
	unsigned n = 0;
	int rc;

	assert_int_equal(rp_source_create(&s, &o, NULL, 0), 0);
	assert_int_equal(rp_source_add_arg(s, arg), 0);
	while ((rc = rp_source_next(s, &t)) >= 0) {
		assert_int_equal(rc, 1);
		assert_true(n < 65535);
		out[n++] = ntohs(((struct sockaddr_in *)&t.addr)->sin_port);
	}
	rp_source_destroy(s);
	return n;
}

/* p[0..n-1] holds ports 1..n once each, in nruns runs of run ascending
 * neighbours starting at 1 + run k (the last one may be shorter), not
 * all of them in place. */
static void check_runs(const uint16_t *p, unsigned n, unsigned run,
		       unsigned nruns)
{
	uint8_t *seen = calloc(65536, 1);
	unsigned runs = 0, in_place = 0;

	assert_non_null(seen);
	for (unsigned i = 0; i < n; i++) {
		assert_true(p[i] >= 1 && p[i] <= n);
		assert_int_equal(seen[p[i]]++, 0);
		if ((p[i] - 1) % run == 0) {
			in_place += p[i] == runs * run + 1;
			runs++;
		} else {
			assert_true(i > 0);
			assert_int_equal(p[i], p[i - 1] + 1);
		}
	}
	assert_int_equal(runs, nruns);
	assert_true(in_place < nruns / 2); /* the runs are shuffled */
	free(seen);
}

/* How often a port is not its predecessor's neighbour. */
static unsigned jumps(const uint16_t *p, unsigned n)
{
	unsigned k = 0;

	for (unsigned i = 1; i < n; i++)
		k += p[i] != p[i - 1] + 1;
	return k;
}

/*
 * The ports of a line naming one address, when there are more than 4096,
 * are shuffled in 16 runs of neighbours (engine/src/source.c,
 * RP__PORT_RUNS): each run's ports in turn, the runs in a seeded random
 * order; every port once, shards still exact. Lines of several addresses
 * stay shuffled target by target.
 */
static void test_source_port_runs(void **state)
{
	static uint16_t p[65535], q[65535];
	unsigned n;

	(void)state;
	n = draw_ports("127.0.0.1", "1-65535", 3, 0, 0, p);
	assert_int_equal(n, 65535);
	check_runs(p, n, 4096, 16);
	/* shard 1 of 3 is positions 1, 4, 7, ... of the whole order */
	n = draw_ports("127.0.0.1", "1-65535", 3, 1, 3, q);
	assert_int_equal(n, 65535 / 3);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(q[i], p[1 + 3 * i]);
	/* just above the bound: 16 runs of 257, the last one short, for
	 * any seed (no cliff to a few runs in input order) */
	for (uint64_t seed = 1; seed <= 8; seed++) {
		n = draw_ports("127.0.0.1", "1-4097", seed, 0, 0, p);
		assert_int_equal(n, 4097);
		check_runs(p, n, 257, 16);
		unsigned total = 0;
		for (uint32_t sh = 0; sh < 3; sh++) {
			unsigned m = draw_ports("127.0.0.1", "1-4097", seed,
						sh, 3, q);
			for (unsigned i = 0; i < m; i++)
				assert_int_equal(q[i], p[sh + 3 * i]);
			total += m;
		}
		assert_int_equal(total, 4097);
	}
	/* at the bound: shuffled port by port */
	n = draw_ports("127.0.0.1", "1-4096", 3, 0, 0, p);
	assert_int_equal(n, 4096);
	assert_true(jumps(p, n) > n - n / 16);
	/* two addresses x 8192 ports (over the bound per address): still
	 * target by target, so few neighbours follow each other */
	n = draw_ports("127.0.0.0/31", "1-8192", 3, 0, 0, p);
	assert_int_equal(n, 16384);
	assert_true(jumps(p, n) > n - n / 16);
}

static void test_source_bad_opts(void **state)
{
	struct rp_source_opts o = { .shard = 4, .shards = 4 };
	struct rp_source *s = NULL;
	char err[128] = "";

	(void)state;
	assert_int_equal(rp_source_create(&s, &o, err, sizeof(err)), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(err, "shard"));
	o.shard = 0;
	o.shuffle_window = (1u << 24) + 1;
	assert_int_equal(rp_source_create(&s, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "window"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_perm_bijection),
		cmocka_unit_test(test_perm_deterministic),
		cmocka_unit_test(test_perm_spread),
		cmocka_unit_test(test_ports_at),
		cmocka_unit_test(test_source_shuffle),
		cmocka_unit_test(test_source_shards),
		cmocka_unit_test(test_source_port_runs),
		cmocka_unit_test(test_source_bad_opts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
