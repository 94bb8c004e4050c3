/*
 * test_tls_lean.c - the TLS stage's library context (tls_lean.c): with
 * OpenSSL before 3.2 it opens, certificates of every key kind parse in it
 * with a usable public key (their signatures verify), an SSL_CTX made in
 * it has the TLS groups and every cipher suite of the default context,
 * and it offers no decoders beyond
 * SubjectPublicKeyInfo (a PEM private key does not load: the point of it).
 * From 3.2 on it must refuse to open, and the stage uses the default.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls_lean.h"

static bool lean_expected(void)
{
	return OpenSSL_version_num() < 0x30200000L;
}

/* A self-signed certificate on a new key of kind type, as DER. */
static int cert_der(const char *type, EVP_PKEY **key, unsigned char **der)
{
	EVP_PKEY *k;
	X509 *x = X509_new();
	int n;

	EVP_PKEY_CTX *g = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

	k = NULL;
	assert_non_null(g);
	assert_int_equal(EVP_PKEY_keygen_init(g), 1);
	if (!strcmp(type, "EC"))
		assert_true(EVP_PKEY_CTX_set_group_name(g, "P-256") > 0);
	else if (!strncmp(type, "RSA", 3))
		assert_true(EVP_PKEY_CTX_set_rsa_keygen_bits(g, 2048) > 0);
	assert_int_equal(EVP_PKEY_generate(g, &k), 1);
	EVP_PKEY_CTX_free(g);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"lean", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, (!strcmp(type, "ED25519") ||
				     !strcmp(type, "ED448"))
					    ? NULL
					    : EVP_sha256()) > 0);
	*der = NULL;
	n = i2d_X509(x, der);
	assert_true(n > 0);
	X509_free(x);
	*key = k;
	return n;
}

static void test_opens_when_needed(void **st)
{
	struct rp__tls_lean l;

	(void)st;
	assert_int_equal(rp__tls_lean_open(&l), lean_expected() ? 0 : -1);
	assert_true((l.libctx != NULL) == lean_expected());
	rp__tls_lean_close(&l);
	assert_null(l.libctx);
	rp__tls_lean_close(&l); /* zeroed: nothing */
}

static void test_certificates_parse(void **st)
{
	static const char *kinds[] = { "EC", "RSA", "RSA-PSS", "ED25519",
				       "ED448" };
	struct rp__tls_lean l;

	(void)st;
	if (rp__tls_lean_open(&l) < 0)
		skip();
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		EVP_PKEY *k, *pub;
		unsigned char *der;
		const unsigned char *p;
		int n = cert_der(kinds[i], &k, &der);
		X509 *x = X509_new_ex(l.libctx, NULL);

		p = der;
		assert_non_null(d2i_X509(&x, &p, n));
		pub = X509_get0_pubkey(x);
		assert_non_null(pub);
		assert_true(EVP_PKEY_is_a(pub, kinds[i]));
		assert_int_equal(EVP_PKEY_eq(pub, k), 1);
		assert_int_equal(X509_verify(x, pub), 1);
		X509_free(x);
		OPENSSL_free(der);
		EVP_PKEY_free(k);
	}
	rp__tls_lean_close(&l);
}

static void test_ssl_ctx_has_groups(void **st)
{
	struct rp__tls_lean l;
	SSL_CTX *ctx;

	(void)st;
	if (rp__tls_lean_open(&l) < 0)
		skip();
	ctx = SSL_CTX_new_ex(l.libctx, NULL, TLS_client_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set1_groups_list(ctx, "X25519:P-256:ffdhe2048"),
			 1);
	assert_int_equal(SSL_CTX_set1_sigalgs_list(ctx, "ECDSA+SHA256:"
						   "rsa_pss_rsae_sha256:ed25519"),
			 1);
	SSL_CTX_free(ctx);
	rp__tls_lean_close(&l);
}

/* The cipher suites an SSL_CTX of context lc can offer, at security
 * level 0 (everything libssl knows), as one string. */
static void suites(OSSL_LIB_CTX *lc, char *out, size_t cap)
{
	SSL_CTX *ctx = SSL_CTX_new_ex(lc, NULL, TLS_client_method());
	STACK_OF(SSL_CIPHER) *sk;
	size_t n = 0;

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL:"
						  "@SECLEVEL=0"),
			 1);
	SSL_CTX_set_security_level(ctx, 0);
	sk = SSL_CTX_get_ciphers(ctx);
	out[0] = '\0';
	for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		const char *name = SSL_CIPHER_get_name(sk_SSL_CIPHER_value(sk, i));

		n += (size_t)snprintf(out + n, cap - n, "%s ", name);
		assert_true(n < cap);
	}
	SSL_CTX_free(ctx);
}

/* The ciphers it keeps are all libssl can use: the same suites as in the
 * default context, TLS 1.3's and the legacy ones alike. */
static void test_same_cipher_suites(void **st)
{
	static char in_default[16384], in_lean[16384];
	struct rp__tls_lean l;

	(void)st;
	if (rp__tls_lean_open(&l) < 0)
		skip();
	suites(NULL, in_default, sizeof(in_default));
	suites(l.libctx, in_lean, sizeof(in_lean));
	assert_string_equal(in_lean, in_default);
	assert_non_null(strstr(in_lean, "TLS_CHACHA20_POLY1305_SHA256"));
	assert_non_null(strstr(in_lean, "ECDHE-RSA-AES128-SHA "));
	assert_non_null(strstr(in_lean, "ECDHE-ECDSA-ARIA256-GCM-SHA384 "));
	assert_non_null(strstr(in_lean, "ECDHE-ECDSA-AES256-CCM8 "));
	assert_non_null(strstr(in_lean, "ECDHE-RSA-CAMELLIA256-SHA384 "));
	rp__tls_lean_close(&l);
}

/* Decoders a context has for a PEM EC private key. */
static int pem_key_decoders(OSSL_LIB_CTX *lc)
{
	EVP_PKEY *k = NULL;
	OSSL_DECODER_CTX *d = OSSL_DECODER_CTX_new_for_pkey(
		&k, "PEM", NULL, "EC", EVP_PKEY_KEYPAIR, lc, NULL);
	int n;

	assert_non_null(d);
	n = OSSL_DECODER_CTX_get_num_decoders(d);
	OSSL_DECODER_CTX_free(d);
	return n;
}

/* What it leaves out: the default context can decode a PEM private key,
 * the lean one has no decoder for it. */
static void test_only_spki_decoders(void **st)
{
	struct rp__tls_lean l;

	(void)st;
	assert_true(pem_key_decoders(NULL) > 0);
	if (rp__tls_lean_open(&l) < 0)
		skip();
	assert_int_equal(pem_key_decoders(l.libctx), 0);
	rp__tls_lean_close(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opens_when_needed),
		cmocka_unit_test(test_certificates_parse),
		cmocka_unit_test(test_ssl_ctx_has_groups),
		cmocka_unit_test(test_same_cipher_suites),
		cmocka_unit_test(test_only_spki_decoders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
