/*
 * tally.h - the TLS part of the summary: results by TLS version and by
 * verification verdict, and the certificates that expire soonest.
 */
#ifndef RP_CLI_TALLY_H
#define RP_CLI_TALLY_H

#include <stdint.h>

#include "ringprobe.h"

#define TALLY_VERSIONS 5  /* TLSv1 .. TLSv1.3, other */
#define TALLY_VERDICTS 16 /* distinct verify texts kept */
#define TALLY_SOONEST 5

struct tally_cert {
	int64_t not_after;
	int32_t days_left;
	char addr[64];
	char cn[64];
};

struct tally {
	uint64_t by_version[TALLY_VERSIONS];
	const char *verdict[TALLY_VERDICTS]; /* OpenSSL's static texts */
	uint64_t by_verdict[TALLY_VERDICTS];
	uint64_t verdict_other;
	struct tally_cert soonest[TALLY_SOONEST]; /* soonest first */
	int nsoonest;
};

/* Counts r (a result with r->tls, else nothing). */
void tally_add(struct tally *t, const struct rp_result *r);

/* Adds src into dst. */
void tally_merge(struct tally *dst, const struct tally *src);

/* Prints the TLS lines of the summary on stderr. */
void tally_print(const struct tally *t);

#endif
