/*
 * wolfssl_hs.c - full TLS handshakes in a loop with wolfSSL (Debian 12:
 * 5.5.4, built with OPENSSL_ALL, TLS 1.3, SNI, ALPN, SESSION_CERTS and
 * KEEP_PEER_CERT, so the X509 name and extension calls below exist), for
 * comparison with openssl_hs.c (see hs_common.h).
 *
 * Set up once: one WOLFSSL_CTX (wolfSSLv23_client_method) with the trust
 * anchors (--ca FILE: wolfSSL_CTX_load_verify_locations; default:
 * wolfSSL_CTX_load_system_CA_certs; none: nothing) and groups {X25519}.
 * Verification: WOLFSSL_VERIFY_PEER with a callback that records the first
 * error and returns 1, so a bad certificate is reported, not refused
 * (wolfSSL skips the chain's signatures under VERIFY_NONE, so NONE would
 * not do the work). wolfSSL_check_domain_name() adds the host name check.
 * Per handshake: wolfSSL_new, SNI, ALPN, the socket (wolfSSL's own socket
 * I/O), wolfSSL_connect, the facts, wolfSSL_shutdown (close_notify).
 */
#include "hs_common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/openssl/x509v3.h>	/* GEN_DNS, GEN_IPADD */

static int first_err;		/* first verify error of this handshake */

static const char *version(void)
{
	return wolfSSL_lib_version();
}

static int fail(const char *what, WOLFSSL *ssl, int r)
{
	char buf[WOLFSSL_MAX_ERROR_SZ];
	int err = ssl ? wolfSSL_get_error(ssl, r) : r;

	fprintf(stderr, "wolfssl: %s: %d %s\n", what, err,
		wolfSSL_ERR_error_string((unsigned long)err, buf));
	return -1;
}

static int on_verify(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	if (!preverify && !first_err)
		first_err = wolfSSL_X509_STORE_CTX_get_error(store);
	return 1;
}

static void teardown(void *st)
{
	wolfSSL_CTX_free(st);
	wolfSSL_Cleanup();	/* reference counted, like wolfSSL_Init */
}

/* The state is the WOLFSSL_CTX. */
static void *setup(const struct hs_opts *o)
{
	int groups[] = { WOLFSSL_ECC_X25519 };
	int r = WOLFSSL_SUCCESS;
	WOLFSSL_CTX *ctx;

	if ((r = wolfSSL_Init()) != WOLFSSL_SUCCESS) {
		fail("init", NULL, r);
		return NULL;
	}
	if (!(ctx = wolfSSL_CTX_new(wolfSSLv23_client_method()))) {
		fail("CTX_new", NULL, 0);
		wolfSSL_Cleanup();
		return NULL;
	}
	if (strcmp(o->ca, "default") == 0)
		r = wolfSSL_CTX_load_system_CA_certs(ctx);
	else if (strcmp(o->ca, "none") != 0)
		r = wolfSSL_CTX_load_verify_locations(ctx, o->ca, NULL);
	if (r != WOLFSSL_SUCCESS) {
		fail(o->ca, NULL, r);
		goto out_free;
	}
	if ((r = wolfSSL_CTX_set_groups(ctx, groups, 1)) != WOLFSSL_SUCCESS) {
		fail("groups", NULL, r);
		goto out_free;
	}
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, on_verify);
	return ctx;
out_free:
	teardown(ctx);
	return NULL;
}

static void name_entry(WOLFSSL_X509_NAME *name, int nid, char *dst)
{
	if (wolfSSL_X509_NAME_get_text_by_NID(name, nid, dst, HS_STR) < 0)
		dst[0] = '\0';
}

static void sans(WOLFSSL_X509 *leaf, struct hs_facts *f)
{
	WOLFSSL_STACK *gens = wolfSSL_X509_get_ext_d2i(leaf, NID_subject_alt_name,
						       NULL, NULL);
	int n = gens ? wolfSSL_sk_GENERAL_NAME_num(gens) : 0;

	for (int i = 0; i < n; i++) {
		WOLFSSL_GENERAL_NAME *g = wolfSSL_sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_DNS)
			hs_san_dns(f, wolfSSL_ASN1_STRING_data(g->d.dNSName),
				   (size_t)wolfSSL_ASN1_STRING_length(g->d.dNSName));
		else if (g->type == GEN_IPADD)
			hs_san_ip(f, wolfSSL_ASN1_STRING_data(g->d.iPAddress),
				  (size_t)wolfSSL_ASN1_STRING_length(g->d.iPAddress));
	}
	if (gens)
		wolfSSL_GENERAL_NAMES_free(gens);
}

static void asn1_time(const WOLFSSL_ASN1_TIME *t, char *dst, size_t cap)
{
	struct tm tm;

	if (t && wolfSSL_ASN1_TIME_to_tm(t, &tm) == WOLFSSL_SUCCESS)
		hs_tm_iso(dst, cap, &tm);
}

static void key_facts(WOLFSSL_X509 *leaf, struct hs_facts *f)
{
	WOLFSSL_EVP_PKEY *pk = wolfSSL_X509_get_pubkey(leaf);
	const char *type;

	if (!pk)
		return;
	switch (wolfSSL_EVP_PKEY_base_id(pk)) {
	case EVP_PKEY_EC: type = "EC"; break;
	case EVP_PKEY_RSA: type = "RSA"; break;
	default: type = "other"; break;
	}
	hs_key(f, type, wolfSSL_EVP_PKEY_bits(pk));
	wolfSSL_EVP_PKEY_free(pk);
}

static void leaf_facts(WOLFSSL_X509 *leaf, struct hs_facts *f)
{
	WOLFSSL_X509_NAME *issuer = wolfSSL_X509_get_issuer_name(leaf);
	unsigned char md[32];
	unsigned int mdlen = 0;

	name_entry(wolfSSL_X509_get_subject_name(leaf), NID_commonName,
		   f->subject_cn);
	sans(leaf, f);
	name_entry(issuer, NID_commonName, f->issuer_cn);
	name_entry(issuer, NID_organizationName, f->issuer_org);
	asn1_time(wolfSSL_X509_get_notBefore(leaf), f->not_before,
		  sizeof(f->not_before));
	asn1_time(wolfSSL_X509_get_notAfter(leaf), f->not_after,
		  sizeof(f->not_after));
	if (wolfSSL_X509_digest(leaf, wolfSSL_EVP_sha256(), md, &mdlen) ==
	    WOLFSSL_SUCCESS)
		hs_hex(f->sha256, md, mdlen);
	f->self_signed = wolfSSL_X509_check_issued(leaf, leaf) == 0;
	key_facts(leaf, f);
}

/*
 * The store's error is a negative wolfSSL code (a host name mismatch is
 * DOMAIN_NAME_MISMATCH, -322) or an OpenSSL-numbered X509_V_ERR_* code
 * that wolfSSL_X509_verify_cert_error_string() has no text for (a
 * self-signed leaf is 18): those few get OpenSSL's words here.
 */
static const char *reason(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_NOT_YET_VALID: return "certificate is not yet valid";
	case X509_V_ERR_CERT_HAS_EXPIRED: return "certificate has expired";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: return "self-signed certificate";
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return "self-signed certificate in certificate chain";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		return "unable to get local issuer certificate";
	default: return wolfSSL_X509_verify_cert_error_string(err);
	}
}

static void verdict(struct hs_facts *f)
{
	if (f->verify_ok)
		strcpy(f->verify, "ok");
	else
		snprintf(f->verify, sizeof(f->verify), "%s (%d)",
			 reason(first_err), first_err);
}

static void facts(WOLFSSL *ssl, const char *name, struct hs_facts *f)
{
	int cs = wolfSSL_get_current_cipher_suite(ssl);
	WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(ssl);
	WOLFSSL_X509 *leaf = wolfSSL_get_peer_certificate(ssl);
	unsigned short alen = 0;
	char *alpn = NULL;

	snprintf(f->version, sizeof(f->version), "%s", wolfSSL_get_version(ssl));
	snprintf(f->cipher, sizeof(f->cipher), "%s",
		 wolfSSL_get_cipher_name_iana_from_suite(
			 (unsigned char)(cs >> 8), (unsigned char)cs));
	if (wolfSSL_ALPN_GetProtocol(ssl, &alpn, &alen) == WOLFSSL_SUCCESS)
		hs_copy(f->alpn, sizeof(f->alpn), alpn, alen);
	/* The name we set (wolfSSL_get_servername() answers only when the
	 * server acknowledged it). */
	hs_copy(f->sni, sizeof(f->sni), name, strlen(name));
	f->chain_len = chain ? wolfSSL_get_chain_count(chain) : 0;
	if (leaf) {
		leaf_facts(leaf, f);
		wolfSSL_X509_free(leaf);
	}
}

static int handshake(void *st, const struct hs_opts *o, const char *name,
		     int fd, struct hs_facts *f)
{
	WOLFSSL *ssl = wolfSSL_new(st);
	int r;

	if (!ssl)
		return fail("new", NULL, 0);
	first_err = 0;
	if ((r = wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, name,
				(unsigned short)strlen(name))) != WOLFSSL_SUCCESS ||
	    (r = wolfSSL_UseALPN(ssl, (char *)o->alpn, (unsigned)strlen(o->alpn),
				 WOLFSSL_ALPN_CONTINUE_ON_MISMATCH)) != WOLFSSL_SUCCESS ||
	    (r = wolfSSL_check_domain_name(ssl, name)) != WOLFSSL_SUCCESS ||
	    (r = wolfSSL_set_fd(ssl, fd)) != WOLFSSL_SUCCESS) {
		fail("session setup", NULL, r);
		goto out_free;
	}
	if ((r = wolfSSL_connect(ssl)) != WOLFSSL_SUCCESS) {
		fail("handshake", ssl, r);
		goto out_free;
	}
	f->verify_ok = first_err == 0;
	verdict(f);
	if (o->facts)
		facts(ssl, name, f);
	wolfSSL_shutdown(ssl);	/* sends close_notify, does not wait */
	r = WOLFSSL_SUCCESS;
out_free:
	wolfSSL_free(ssl);
	return r == WOLFSSL_SUCCESS ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct hs_lib lib = {
		.name = "wolfssl",
		.version = version,
		.setup = setup,
		.handshake = handshake,
		.teardown = teardown,
	};

	return hs_main(&lib, argc, argv);
}
