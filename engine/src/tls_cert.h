/*
 * tls_cert.h - the facts of a finished (or failed) handshake and of the
 * server's certificate, as rp_tls_info: negotiated version, cipher and
 * ALPN, and the leaf's names, validity, fingerprint, key and verdict.
 */
#ifndef RP_TLS_CERT_H
#define RP_TLS_CERT_H

#include <time.h>

#include <openssl/ssl.h>

#include "ringprobe.h"

#define RP__TLS_TEXT 256 /* a string of rp_tls_info, NUL included */

/* Where rp_tls_info's strings live: one per engine, reused per result. */
struct rp__tls_facts {
	char alpn[RP__TLS_TEXT];
	char sni[RP__TLS_TEXT];
	char subject_cn[RP__TLS_TEXT];
	char issuer_cn[RP__TLS_TEXT];
	char issuer_org[RP__TLS_TEXT];
	char key[32];
	char sha256[65];
	char san[RP_TLS_SANS_MAX][RP__TLS_TEXT];
	const char *sans[RP_TLS_SANS_MAX];
};

/* Fills *in (but sni and tls_us) from ssl; its strings point into *f or
 * are OpenSSL's static text, never into ssl (which goes before the result
 * is delivered). now: the wall clock, for days_left. */
void rp__tls_facts(struct rp__tls_facts *f, struct rp_tls_info *in,
		   const SSL *ssl, const EVP_MD *sha256, time_t now);

/* Sets every string of *in to "" and every number to 0. */
void rp__tls_info_clear(struct rp__tls_facts *f, struct rp_tls_info *in);

/* Fills the certificate's part of *in from leaf: has_cert, the names,
 * sans, validity and days_left (now: the wall clock), sha256,
 * self_signed and key. */
void rp__tls_cert_facts(struct rp__tls_facts *f, struct rp_tls_info *in,
			X509 *leaf, const EVP_MD *sha256, time_t now);

/* Copies len bytes of UTF-8 text into dst (cap bytes with the NUL) as
 * valid UTF-8 without control characters: each ill-formed sequence and
 * each C0, DEL or C1 character becomes U+FFFD; cut before the first
 * character that does not fit. */
void rp__tls_text(char *dst, size_t cap, const unsigned char *src,
		  size_t len);

#endif
