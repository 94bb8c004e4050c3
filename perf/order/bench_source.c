/*
 * bench_source.c - the CPU a target source spends per target, shuffled
 * against input order, through the public API only (rp_source_*): the
 * cost the seeded order adds to a scan, without the network's noise.
 *
 *   bench_source W1|W2|FILE [reps]
 *
 * W1: 127.0.0.1 x ports 1-65535; W2: 127.4.0.0/14 port 9; FILE: its
 * lines with -p 9. Prints ns per target for each mode, best of reps.
 * Build: see perf/order/run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ringprobe.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run(const char *what, int shuffle, uint64_t *n)
{
	int w1 = !strcmp(what, "W1"), w2 = !strcmp(what, "W2");
	struct rp_source_opts o = { .ports = w1 ? "1-65535" : "9",
				    .shuffle = shuffle, .seed = 1 };
	struct rp_source *s;
	struct rp_target t;
	double t0;
	int r;

	if (rp_source_create(&s, &o, NULL, 0))
		exit(1);
	if (w1 || w2)
		rp_source_add_arg(s, w1 ? "127.0.0.1" : "127.4.0.0/14");
	else
		rp_source_add_file(s, what);
	t0 = now();
	*n = 0;
	while ((r = rp_source_next(s, &t)) >= 0)
		if (r)
			++*n;
		else
			usleep(100);
	t0 = now() - t0;
	rp_source_destroy(s);
	return t0;
}

int main(int argc, char **argv)
{
	int reps = argc > 2 ? atoi(argv[2]) : 5;
	double best[2] = { 1e9, 1e9 };
	uint64_t n = 0;

	if (argc < 2)
		return 2;
	for (int i = 0; i < reps; i++)
		for (int m = 0; m < 2; m++) {
			double t = run(argv[1], m, &n);

			best[m] = t < best[m] ? t : best[m];
		}
	printf("%s: %llu targets; input order %.1f ns/target, shuffled %.1f "
	       "ns/target (process CPU, best of %d)\n",
	       argv[1], (unsigned long long)n, best[0] * 1e9 / (double)n,
	       best[1] * 1e9 / (double)n, reps);
	return 0;
}
