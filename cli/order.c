/*
 * order.c - the CLI's order and shard options (--seed, --shard,
 * --shuffle-window, --no-shuffle): parsed here into struct cli, checked
 * together once all options are read, and handed to the engine's source
 * (rp_source_opts), which owns the permutation and the shards.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "scan.h"
#include "util.h"

/* A decimal number 0..max, nothing else. */
static int number(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int order_option(struct cli *c, const char *name, const char *arg)
{
	uint64_t i, n;

	if (!strcmp(name, "seed")) {
		if (number(arg, UINT64_MAX, &c->seed) < 0)
			return die_usage("bad --seed '%s': want a number, 0 "
					 "to %" PRIu64, arg, UINT64_MAX);
		c->seed_set = true;
	} else if (!strcmp(name, "shard")) {
		const char *slash = arg ? strchr(arg, '/') : NULL;
		char first[24];

		if (!slash || (size_t)(slash - arg) >= sizeof(first))
			return die_usage("bad --shard '%s': want I/N, e.g. "
					 "0/4", arg);
		memcpy(first, arg, (size_t)(slash - arg));
		first[slash - arg] = '\0';
		if (number(first, UINT32_MAX, &i) < 0 ||
		    number(slash + 1, UINT32_MAX, &n) < 0 || n == 0 || i >= n)
			return die_usage("bad --shard '%s': want I/N with 0 <= "
					 "I < N (0-based), e.g. 0/4", arg);
		c->shard = (uint32_t)i;
		c->shards = (uint32_t)n;
	} else if (!strcmp(name, "shuffle-window")) {
		if (number(arg, RP_WINDOW_MAX, &n) < 0 || n == 0)
			return die_usage("bad --shuffle-window '%s': want 1 to "
					 "%u lines", arg, RP_WINDOW_MAX);
		c->shuffle_window = (uint32_t)n;
	} else if (!strcmp(name, "no-shuffle")) {
		c->no_shuffle = true;
	}
	return 0;
}

int order_finish(struct cli *c)
{
	if (c->shards && !c->seed_set)
		return die_usage("--shard %" PRIu32 "/%" PRIu32 " needs --seed "
				 "N: every shard must walk the same order, so "
				 "give them all the same seed", c->shard,
				 c->shards);
	if (!c->seed_set &&
	    getrandom(&c->seed, sizeof(c->seed), 0) != sizeof(c->seed)) {
		fprintf(stderr, "%s: cannot pick a random --seed: %s\n", prog,
			strerror(errno));
		return EXIT_RUNTIME;
	}
	return 0;
}

void order_source_opts(const struct cli *c, struct rp_source_opts *so)
{
	so->shuffle = !c->no_shuffle;
	so->seed = c->seed;
	so->shuffle_window = c->shuffle_window;
	so->shard = c->shard;
	so->shards = c->shards;
}
