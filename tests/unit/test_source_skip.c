/*
 * test_source_skip.c - rp_source_opts.skip_first and .skip, and
 * rp_target.seq, from the contract in ringprobe.h ("Resuming a run"):
 * every target made gets the next sequence number; a skipped target keeps
 * its number and index and the later ones keep theirs, so a run that skips
 * what another run did produces exactly the rest, numbered as there.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ringprobe.h"

#define MAXT 256

struct seen {
	size_t n;
	uint64_t seq[MAXT], index[MAXT];
	char input[MAXT][64];
	int status[MAXT];
};

/* What the skip function was shown, and which seqs it says to skip. */
struct skipper {
	uint64_t every;          /* skip seq % every == 0 */
	size_t calls;
	uint64_t last_seq;
	int in_order;
};

static int skip_fn(void *arg, const struct rp_target *t)
{
	struct skipper *k = arg;

	if (k->calls && t->seq <= k->last_seq)
		k->in_order = 0;
	if (t->index != t->seq || !t->input)
		k->in_order = 0;
	k->calls++;
	k->last_seq = t->seq;
	return t->seq % k->every == 0;
}

static char *tmpfile_with(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/rp_test_skip_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* Every target of a source made with these options over the arguments
 * and the file. */
static void run(const struct rp_source_opts *o, const char *file,
		struct seen *out)
{
	static const char *const args[] = { "10.0.0.0/30", "bad line",
					    "10.9.9.9:7" };
	struct rp_source *s = NULL;
	struct rp_target t;
	time_t end = time(NULL) + 20;
	int r;

	memset(out, 0, sizeof(*out));
	assert_int_equal(rp_source_create(&s, o, NULL, 0), 0);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(rp_source_add_arg(s, args[i]), 0);
	assert_int_equal(rp_source_add_file(s, file), 0);
	while ((r = rp_source_next(s, &t)) != -1) {
		if (r == 0) { /* the reader has not got there yet */
			assert_true(time(NULL) < end);
			usleep(1000);
			continue;
		}
		assert_true(out->n < MAXT);
		out->seq[out->n] = t.seq;
		out->index[out->n] = t.index;
		out->status[out->n] = (int)t.status;
		snprintf(out->input[out->n], 64, "%s", t.input);
		out->n++;
	}
	assert_int_equal(rp_source_produced(s), out->n);
	size_t invalid = 0;
	for (size_t i = 0; i < out->n; i++)
		invalid += out->status[i] == RP_STATUS_INVALID;
	assert_int_equal(rp_source_invalid(s), invalid);
	rp_source_destroy(s);
}

static void test_seq_numbers(void **state)
{
	struct rp_source_opts o = { .ports = "1-3" };
	char *path = tmpfile_with("10.1.0.0/31\nnot an address\n10.2.0.1:9\n");
	static struct seen all;

	(void)state;
	run(&o, path, &all);
	/* 4 x 3 + 1 + 1, then 2 x 3 + 1 + 1 */
	assert_int_equal(all.n, 22);
	for (size_t i = 0; i < all.n; i++) {
		assert_int_equal(all.seq[i], i);
		assert_int_equal(all.index[i], i);
	}
	unlink(path);
}

static void test_skip(void **state)
{
	char *path = tmpfile_with("10.1.0.0/31\nnot an address\n10.2.0.1:9\n"
				  "# a comment\n\n10.3.0.0/31\n");
	static struct seen all, rest;
	struct skipper k = { .every = 3, .in_order = 1 };
	struct rp_source_opts o = { .ports = "1-3" };
	size_t j = 0;

	(void)state;
	run(&o, path, &all);
	assert_int_equal(all.n, 28);
	o.skip_first = 5;
	o.skip = skip_fn;
	o.skip_arg = &k;
	run(&o, path, &rest);
	/* exactly the targets from seq 5 on with seq % 3 != 0, each with
	 * the number, index and text it had in the full run */
	for (size_t i = 0; i < all.n; i++) {
		if (i < 5 || i % 3 == 0)
			continue;
		assert_true(j < rest.n);
		assert_int_equal(rest.seq[j], all.seq[i]);
		assert_int_equal(rest.index[j], all.index[i]);
		assert_int_equal(rest.status[j], all.status[i]);
		assert_string_equal(rest.input[j], all.input[i]);
		j++;
	}
	assert_int_equal(rest.n, j);
	/* skip saw every target past skip_first, once, in order */
	assert_int_equal(k.calls, all.n - 5);
	assert_true(k.in_order);
	unlink(path);
}

static void test_skip_everything(void **state)
{
	char *path = tmpfile_with("10.1.0.0/31\n");
	struct rp_source_opts o = { .ports = "1-3", .skip_first = 1000 };
	static struct seen none;

	(void)state;
	run(&o, path, &none);
	assert_int_equal(none.n, 0);
	unlink(path);
}

/* The engine echoes rp_target.seq in rp_result.seq: bad lines pulled
 * from a source (reported without a probe, so no network is needed). */
static uint64_t echoed[8];
static size_t nechoed;

static void on_result(const struct rp_result *r, void *arg)
{
	(void)arg;
	if (nechoed < 8)
		echoed[nechoed++] = r->seq * 1000 + r->index;
}

static void test_seq_echoed(void **state)
{
	struct rp_source_opts so = { .skip_first = 1 };
	struct rp_engine_opts eo = { .concurrency = 4, .on_result = on_result };
	struct rp_source *s = NULL;
	struct rp_engine *e = NULL;
	int found = 0;

	(void)state;
	assert_int_equal(rp_source_create(&s, &so, NULL, 0), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(rp_source_add_arg(s, "no such target!"), 0);
	if (rp_engine_create(&e, &eo) < 0) {
		rp_source_destroy(s);
		skip();
	}
	rp_engine_set_source(e, rp_source_next, s);
	assert_int_equal(rp_engine_run_all(e), 0);
	rp_engine_destroy(e);
	rp_source_destroy(s);
	assert_int_equal(nechoed, 3);
	for (size_t i = 0; i < nechoed; i++)
		found |= echoed[i] == 1001 ? 1 : echoed[i] == 2002 ? 2
			 : echoed[i] == 3003 ? 4 : 8;
	assert_int_equal(found, 7);
}

/* An older header's rp_target (up to .tls) gets only what it has. */
static void test_older_target(void **state)
{
	size_t v1 = offsetof(struct rp_target, tls) + sizeof(int);
	unsigned char buf[sizeof(struct rp_target) + 16];
	struct rp_source *s = NULL;

	(void)state;
	assert_int_equal(rp_source_create(&s, NULL, NULL, 0), 0);
	assert_int_equal(rp_source_add_arg(s, "10.0.0.1:5"), 0);
	assert_int_equal(rp_source_add_arg(s, "10.0.0.1:6"), 0);
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(rp_source_next_ex(s, (struct rp_target *)buf, v1), 1);
	for (size_t i = v1; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xaa);
	assert_int_equal(rp_source_next_ex(s, (struct rp_target *)buf, v1 - 1),
			 -1);
	/* the plain function is the first version's too */
	assert_int_equal((rp_source_next)(s, (struct rp_target *)buf), 1);
	for (size_t i = v1; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xaa);
	rp_source_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_numbers),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_skip_everything),
		cmocka_unit_test(test_seq_echoed),
		cmocka_unit_test(test_older_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
