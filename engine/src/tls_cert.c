/*
 * tls_cert.c - what a handshake and the server's leaf certificate say, as
 * rp_tls_info. Everything taken from the certificate is the server's
 * text: converted to UTF-8 by OpenSSL, then bounded and cleaned like
 * every string the library hands out.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "http_text.h"
#include "tls_cert.h"

/* Text from a certificate as UTF-8 without controls: the decoder and
 * encoder HTTP text uses, so both hand out the same kind of string. */
void rp__tls_text(char *dst, size_t cap, const unsigned char *src, size_t len)
{
	struct rp__u8 dec = { 0 };
	uint32_t cp[2];
	size_t d = 0;
	char enc[4];

	for (size_t i = 0; i <= len; i++) {
		unsigned int n;

		if (i < len) {
			n = rp__u8_feed(&dec, src[i], cp);
		} else if (dec.need) { /* cut inside a character */
			cp[0] = 0xfffdu;
			n = 1;
		} else {
			break;
		}
		for (unsigned int j = 0; j < n; j++) {
			size_t k = rp__utf8_encode(cp[j], enc);

			if (d + k + 1 > cap)
				goto out;
			memcpy(dst + d, enc, k);
			d += k;
		}
	}
out:
	dst[d] = '\0';
}

/* The first entry nid of name, as clean text (or ""). */
static const char *name_entry(const X509_NAME *name, int nid, char *dst)
{
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	const ASN1_STRING *v;
	unsigned char *u = NULL;
	int n;

	dst[0] = '\0';
	if (i < 0)
		return dst;
	v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	n = ASN1_STRING_to_UTF8(&u, v);
	if (n >= 0) /* BMPString, T61String ... as UTF-8 */
		rp__tls_text(dst, RP__TLS_TEXT, u, (size_t)n);
	else /* not what its type says: the bytes, cleaned */
		rp__tls_text(dst, RP__TLS_TEXT, ASN1_STRING_get0_data(v),
			     (size_t)ASN1_STRING_length(v));
	OPENSSL_free(u);
	ERR_clear_error();
	return dst;
}

/* subjectAltName's DNS names and addresses, the first RP_TLS_SANS_MAX. */
static void sans(struct rp__tls_facts *f, struct rp_tls_info *in, X509 *leaf)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL,
					       NULL);
	int n = gens ? sk_GENERAL_NAME_num(gens) : 0;

	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ip[INET6_ADDRSTRLEN], *dst;
		const ASN1_STRING *v;

		if (g->type != GEN_DNS && g->type != GEN_IPADD)
			continue;
		if (in->nsans_total++ >= RP_TLS_SANS_MAX)
			continue;
		dst = f->san[in->nsans];
		v = g->type == GEN_DNS ? g->d.dNSName : g->d.iPAddress;
		if (g->type == GEN_DNS) {
			rp__tls_text(dst, RP__TLS_TEXT, ASN1_STRING_get0_data(v),
				     (size_t)ASN1_STRING_length(v));
		} else if (ASN1_STRING_length(v) == 4 ||
			   ASN1_STRING_length(v) == 16) {
			inet_ntop(ASN1_STRING_length(v) == 4 ? AF_INET : AF_INET6,
				  ASN1_STRING_get0_data(v), ip, sizeof(ip));
			strcpy(dst, ip);
		} else {
			strcpy(dst, "?"); /* a malformed address */
		}
		f->sans[in->nsans++] = dst;
	}
	GENERAL_NAMES_free(gens);
	in->sans = f->sans;
}

static int64_t asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

/* "EC-256", "RSA-2048", "ED25519", ... */
static const char *key_name(char *dst, size_t cap, X509 *leaf)
{
	EVP_PKEY *k = X509_get0_pubkey(leaf);
	const char *type;

	if (!k)
		return "";
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		type = "RSA";
		break;
	case EVP_PKEY_EC:
		type = "EC";
		break;
	case EVP_PKEY_DSA:
		type = "DSA";
		break;
	case EVP_PKEY_ED25519:
		return "ED25519";
	case EVP_PKEY_ED448:
		return "ED448";
	default:
		type = "other";
		break;
	}
	snprintf(dst, cap, "%s-%d", type, EVP_PKEY_get_bits(k));
	return dst;
}

static void fingerprint(char *hex, X509 *leaf, const EVP_MD *sha256)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	hex[0] = '\0';
	if (!X509_digest(leaf, sha256, md, &n) || n != 32)
		return;
	for (unsigned i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

void rp__tls_cert_facts(struct rp__tls_facts *f, struct rp_tls_info *in,
			X509 *leaf, const EVP_MD *sha256, time_t now)
{
	int64_t left;

	in->has_cert = 1;
	in->subject_cn = name_entry(X509_get_subject_name(leaf), NID_commonName,
				    f->subject_cn);
	in->issuer_cn = name_entry(X509_get_issuer_name(leaf), NID_commonName,
				   f->issuer_cn);
	in->issuer_org = name_entry(X509_get_issuer_name(leaf),
				    NID_organizationName, f->issuer_org);
	sans(f, in, leaf);
	in->not_before = asn1_time(X509_get0_notBefore(leaf));
	in->not_after = asn1_time(X509_get0_notAfter(leaf));
	/* Whole days, rounded down: -1 from the first second after expiry. */
	left = in->not_after - (int64_t)now;
	in->days_left = (int32_t)(left >= 0 ? left / 86400
					    : -((-left + 86399) / 86400));
	fingerprint(f->sha256, leaf, sha256);
	in->sha256 = f->sha256;
	in->self_signed = X509_self_signed(leaf, 1) == 1;
	in->key = key_name(f->key, sizeof(f->key), leaf);
	ERR_clear_error(); /* X509_self_signed may leave some */
}

void rp__tls_facts(struct rp__tls_facts *f, struct rp_tls_info *in,
		   const SSL *ssl, const EVP_MD *sha256, time_t now)
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	const unsigned char *alpn = NULL;
	unsigned alen = 0;
	long v;

	rp__tls_info_clear(f, in);
	if (SSL_is_init_finished(ssl)) {
		in->version = SSL_get_version(ssl);
		in->cipher = SSL_get_cipher_name(ssl);
	}
	SSL_get0_alpn_selected(ssl, &alpn, &alen);
	rp__tls_text(f->alpn, sizeof(f->alpn), alpn, alen);
	if (!leaf)
		return;
	rp__tls_cert_facts(f, in, leaf, sha256, now);
	in->chain_len = chain ? (uint32_t)sk_X509_num(chain) : 1;
	v = SSL_get_verify_result(ssl);
	in->verify_code = v;
	in->verify = v == X509_V_OK ? "ok" : X509_verify_cert_error_string(v);
}

void rp__tls_info_clear(struct rp__tls_facts *f, struct rp_tls_info *in)
{
	memset(in, 0, sizeof(*in));
	in->version = in->cipher = in->subject_cn = in->issuer_cn = "";
	in->issuer_org = in->sha256 = in->key = in->verify = in->sni = "";
	f->alpn[0] = '\0';
	in->alpn = f->alpn;
	in->sans = f->sans;
}
