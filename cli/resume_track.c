/*
 * resume_track.c - the sequence numbers done in a run with --resume: a
 * watermark w (every number below it is done) and a bitmap of those
 * above, a ring of 64-bit words whose first word holds w and that moves
 * up with it. Memory follows the spread of the numbers in flight (a probe
 * that takes long while thousands finish after it), not the size of the
 * scan. The caller locks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "resume.h"

#define RANGES_PER_LINE 256

static uint64_t *word(struct track *t, size_t k)
{
	return &t->bits[(t->head + k) & (t->nwords - 1)];
}

int track_init(struct track *t, uint64_t w)
{
	memset(t, 0, sizeof(*t));
	t->nwords = 64;
	t->bits = calloc(t->nwords, sizeof(uint64_t));
	if (!t->bits)
		return -ENOMEM;
	t->w = t->top = w;
	t->base = w & ~63ull;
	if (w % 64)
		t->bits[0] = (1ull << (w % 64)) - 1;
	return 0;
}

/* Makes room for at least need words. */
static int track_grow(struct track *t, size_t need)
{
	size_t n = t->nwords;
	uint64_t *b;

	while (n < need)
		n *= 2;
	b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t k = 0; k < t->nwords; k++)
		b[k] = *word(t, k);
	free(t->bits);
	t->bits = b;
	t->nwords = n;
	t->head = 0;
	return 0;
}

bool track_has(struct track *t, uint64_t seq)
{
	uint64_t k = (seq - t->base) / 64;

	if (seq < t->w)
		return true;
	return k < t->nwords && (*word(t, k) >> ((seq - t->base) % 64) & 1);
}

int track_set(struct track *t, uint64_t seq)
{
	uint64_t k;

	if (seq < t->w)
		return 0;
	k = (seq - t->base) / 64;
	if (k >= t->nwords && track_grow(t, k + 1) < 0)
		return -ENOMEM;
	*word(t, k) |= 1ull << ((seq - t->base) % 64);
	if (seq >= t->top)
		t->top = seq + 1;
	t->changes++;
	while (*word(t, 0) == ~0ull) {
		*word(t, 0) = 0;
		t->head = (t->head + 1) & (t->nwords - 1);
		t->base += 64;
	}
	t->w = t->base + (uint64_t)__builtin_ctzll(~*word(t, 0));
	return 0;
}

/* Caller holds r->lock. */
void track_lines(struct track *t, struct sbuf *b)
{
	uint64_t s = t->w;
	int n = 0;

	while (s < t->top) {
		uint64_t e;

		while (s < t->top && !track_has(t, s))
			s++;
		if (s >= t->top)
			break;
		for (e = s; e + 1 < t->top && track_has(t, e + 1); e++)
			;
		sb_printf(b, n ? "," : "done ");
		sb_printf(b, e > s ? "%" PRIu64 "-%" PRIu64 : "%" PRIu64, s, e);
		if (++n == RANGES_PER_LINE) {
			sb_printf(b, "\n");
			n = 0;
		}
		s = e + 1;
	}
	if (n)
		sb_printf(b, "\n");
}

/* Writes text to path through path.tmp: write, fsync, rename, and fsync
 * the directory. Returns 0 or -errno. */
