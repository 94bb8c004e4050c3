/*
 * hs_common.h - what the three handshake loops (openssl_hs.c, gnutls_hs.c,
 * wolfssl_hs.c) share: options, the timed loop, TCP connect, the
 * certificate facts and their JSON line.
 *
 * Each program supplies one struct hs_lib: setup once, then one call per
 * handshake that takes a connected TCP socket, does a full TLS handshake
 * with verification (host name included), fills struct hs_facts and closes
 * the TLS side (close_notify). The loop owns the socket: it connects before
 * and closes after, so TCP costs the same for every library, and
 * `--tcp-only` measures that part alone.
 *
 * Paired mode (`--variant LABEL:SPEC`, repeated): several configurations
 * of one library in one process, set up side by side, their handshakes
 * interleaved one by one (the order rotated every cycle) and each timed
 * with CLOCK_THREAD_CPUTIME_ID, so load from elsewhere on the machine hits
 * every configuration alike; one RESULT line per configuration. SPEC is a
 * comma-separated list: ca=FILE|default|none, nofacts, rotate=K, tcponly,
 * and library options (key or key=value, as -O). Differences of a few percent
 * show up here that separate processes minutes apart cannot resolve.
 *
 * Verification never fails the handshake here (a scanner records the
 * verdict, it does not refuse the server); the loop counts verdicts and
 * `--expect-ok` makes any verdict other than "ok" fail the run, so a
 * benchmark cannot pass while skipping the work.
 */
#ifndef HS_COMMON_H
#define HS_COMMON_H

#include <stddef.h>

#define HS_MAX_SANS 16		/* SANs kept; more are counted, not stored */
#define HS_STR 256		/* bound of every string taken from a cert */
#define HS_MAX_LIBOPTS 16

struct hs_facts {
	char version[16];		/* "TLSv1.3" */
	char cipher[64];		/* IANA or library name of the suite */
	char alpn[32];			/* protocol chosen, "" if none */
	char sni[HS_STR];		/* the server name we sent, "" if none */
	char subject_cn[HS_STR];	/* leaf subject CN */
	char sans[HS_MAX_SANS][HS_STR];	/* "DNS:name" or "IP:addr" */
	int n_sans;			/* stored in sans[] */
	int sans_dropped;		/* more than HS_MAX_SANS */
	char issuer_cn[HS_STR];		/* leaf issuer CN */
	char issuer_org[HS_STR];	/* leaf issuer O */
	char not_before[24];		/* ISO 8601 UTC, "2025-01-02T03:04:05Z" */
	char not_after[24];
	char sha256[65];		/* hex SHA-256 of the leaf's DER */
	int self_signed;		/* 1, 0, -1 = library cannot tell */
	char key[32];			/* "EC-256", "RSA-2048", "ED25519-256" */
	int chain_len;			/* certificates the server sent */
	int verified_len;		/* verified chain incl. anchor, -1 n/a */
	int verify_ok;			/* 1 if the verdict is "ok" */
	char verify[160];		/* "ok" or the library's reason */
};

/* Options every program takes; lib-specific ones come as -O key[=value]. */
struct hs_opts {
	const char *host;		/* IPv4/IPv6 literal, loopback */
	int port;
	long n;				/* measured handshakes */
	long warmup;			/* unmeasured handshakes first */
	const char *name;		/* SNI and the name verified */
	int rotate;			/* K > 0: handshake i uses "h<i%K>.name" */
	const char *ca;			/* PEM file, "default" or "none" */
	const char *alpn;		/* one protocol offered */
	const char *label;		/* echoed in the RESULT line */
	int facts;			/* extract the facts (default 1) */
	int expect_ok;			/* fail on any verdict but ok */
	int tcp_only;			/* connect + close, no TLS */
	int n_libopts;
	const char *libopt[HS_MAX_LIBOPTS]; /* "-O" values, in order */
};

struct hs_lib {
	const char *name;		/* "openssl", "gnutls", "wolfssl" */
	const char *(*version)(void);	/* runtime library version */
	/*
	 * Once per configuration, before the loop: the state handshake()
	 * and teardown() get. Returns NULL after printing why it failed.
	 */
	void *(*setup)(const struct hs_opts *o);
	/*
	 * One full handshake on connected socket fd with server name name
	 * (SNI and verification), then close_notify. Fills f (zeroed by the
	 * caller; the verdict always, the rest when o->facts). Returns 0 when
	 * the handshake completed (whatever the verdict), -1 after printing
	 * why it failed. Must not close fd.
	 */
	int (*handshake)(void *st, const struct hs_opts *o, const char *name,
			 int fd, struct hs_facts *f);
	void (*teardown)(void *st);
};

/* Parses argv, runs the loop with lib, prints RESULT and FACTS lines. */
int hs_main(const struct hs_lib *lib, int argc, char **argv);

/* Is key (e.g. "bio") among the -O options? Sets *val to what follows
 * '=' ("" if nothing). The last occurrence wins. */
int hs_libopt(const struct hs_opts *o, const char *key, const char **val);

/* Helpers for the libraries' fact extraction. */
void hs_copy(char *dst, size_t cap, const void *src, size_t len);
void hs_hex(char *dst, const unsigned char *src, size_t len); /* 2*len+1 */
void hs_time_iso(char *dst, size_t cap, long long unix_seconds);
void hs_tm_iso(char *dst, size_t cap, const void *struct_tm);
/* "IP:" + text of a 4- or 16-byte address; other lengths: "IP:?". */
void hs_san_ip(struct hs_facts *f, const unsigned char *a, size_t len);
void hs_san_dns(struct hs_facts *f, const void *name, size_t len);
void hs_key(struct hs_facts *f, const char *type, int bits);

#endif
