/*
 * tally.c - the TLS part of the summary (see tally.h).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "output.h"
#include "tally.h"

static const char *const versions[TALLY_VERSIONS] = {
	"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "other",
};

static int version_index(const char *v)
{
	for (int i = 0; i < TALLY_VERSIONS - 1; i++)
		if (!strcmp(v, versions[i]))
			return i;
	return TALLY_VERSIONS - 1;
}

static void count_verdict(struct tally *t, const char *v, uint64_t n)
{
	for (int i = 0; i < TALLY_VERDICTS; i++) {
		if (!t->verdict[i])
			t->verdict[i] = v;
		if (!strcmp(t->verdict[i], v)) {
			t->by_verdict[i] += n;
			return;
		}
	}
	t->verdict_other += n;
}

/* Keeps soonest[] sorted by expiry, soonest first. */
static void add_cert(struct tally *t, const struct tally_cert *c)
{
	int i = t->nsoonest;

	if (i == TALLY_SOONEST) {
		if (t->soonest[i - 1].not_after <= c->not_after)
			return;
		i--;
	} else {
		t->nsoonest++;
	}
	while (i > 0 && t->soonest[i - 1].not_after > c->not_after) {
		t->soonest[i] = t->soonest[i - 1];
		i--;
	}
	t->soonest[i] = *c;
}

void tally_add(struct tally *t, const struct rp_result *r)
{
	const struct rp_tls_info *tls = r->tls;
	struct tally_cert c;

	if (!tls)
		return;
	if (tls->version[0])
		t->by_version[version_index(tls->version)]++;
	if (!tls->has_cert)
		return;
	count_verdict(t, tls->verify, 1);
	c.not_after = tls->not_after;
	c.days_left = tls->days_left;
	out_where(r->addr, r->addrlen, c.addr, sizeof(c.addr));
	snprintf(c.cn, sizeof(c.cn), "%s", tls->subject_cn);
	add_cert(t, &c);
}

void tally_merge(struct tally *dst, const struct tally *src)
{
	for (int i = 0; i < TALLY_VERSIONS; i++)
		dst->by_version[i] += src->by_version[i];
	for (int i = 0; i < TALLY_VERDICTS && src->verdict[i]; i++)
		count_verdict(dst, src->verdict[i], src->by_verdict[i]);
	dst->verdict_other += src->verdict_other;
	for (int i = 0; i < src->nsoonest; i++)
		add_cert(dst, &src->soonest[i]);
}

void tally_print(const struct tally *t)
{
	bool any = false;

	for (int i = 0; i < TALLY_VERSIONS; i++)
		any |= t->by_version[i] != 0;
	if (!any && !t->verdict[0])
		return;
	fprintf(stderr, "tls versions:");
	for (int i = 0; i < TALLY_VERSIONS; i++)
		if (t->by_version[i])
			fprintf(stderr, " %s %" PRIu64, versions[i],
				t->by_version[i]);
	fprintf(stderr, "\nverify:");
	for (int i = 0; i < TALLY_VERDICTS && t->verdict[i]; i++)
		fprintf(stderr, " %s %" PRIu64 ";", t->verdict[i],
			t->by_verdict[i]);
	if (t->verdict_other)
		fprintf(stderr, " other %" PRIu64 ";", t->verdict_other);
	fprintf(stderr, "\nexpiring soonest:");
	for (int i = 0; i < t->nsoonest; i++)
		fprintf(stderr, " %s CN=%s %" PRId32 "d;", t->soonest[i].addr,
			t->soonest[i].cn, t->soonest[i].days_left);
	fputc('\n', stderr);
}
