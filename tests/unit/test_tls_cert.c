/*
 * test_tls_cert.c - the certificate facts of rp_tls_info (tls_cert.c), on
 * certificates made here with OpenSSL's API: names with hostile bytes,
 * many SANs, validity windows around now, keys of each kind, self-signed
 * or not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "tls_cert.h"

static const EVP_MD *sha256;
static EVP_PKEY *ec_key, *ca_key;

static EVP_PKEY *keygen(const char *type, const char *arg)
{
	EVP_PKEY *k = NULL;

	if (!strcmp(type, "EC"))
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", arg);
	else if (!strcmp(type, "RSA"))
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, type);
	assert_non_null(k);
	return k;
}

/* Adds NAME=value: UTF-8 text as a UTF8String, or with len given the
 * bytes as a T61String (read as Latin-1: every byte a character). */
static void name_add(X509_NAME *n, const char *field, const char *v, int len)
{
	assert_true(X509_NAME_add_entry_by_txt(n, field, len < 0
							 ? V_ASN1_UTF8STRING
							 : V_ASN1_T61STRING,
					       (const unsigned char *)v, len,
					       -1, 0) > 0);
}

struct spec {
	const char *cn;               /* NULL: no CN */
	int cn_len;                   /* -1: strlen */
	const char *issuer_o;
	const char *san;              /* subjectAltName text, or NULL */
	long nb, na;                  /* validity, seconds from now */
	EVP_PKEY *key;                /* the subject's key */
	EVP_PKEY *signer;             /* NULL: self-signed */
	const char *issuer_cn;        /* issuer CN when signer is not NULL */
};

static X509 *make(const struct spec *sp, time_t now)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	/* Entries go straight into the certificate's names: copying a name
	 * re-encodes it, which a name with bad UTF-8 does not survive. */
	if (sp->cn)
		name_add(X509_get_subject_name(x), "CN", sp->cn, sp->cn_len);
	if (sp->signer) {
		name_add(X509_get_issuer_name(x), "CN", sp->issuer_cn, -1);
		if (sp->issuer_o)
			name_add(X509_get_issuer_name(x), "O", sp->issuer_o, -1);
	} else if (sp->cn) {
		name_add(X509_get_issuer_name(x), "CN", sp->cn, sp->cn_len);
	}
	X509_time_adj_ex(X509_getm_notBefore(x), 0, sp->nb, &now);
	X509_time_adj_ex(X509_getm_notAfter(x), 0, sp->na, &now);
	X509_set_pubkey(x, sp->key);
	if (sp->san) {
		X509_EXTENSION *ext;

		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
					  sp->san);
		assert_non_null(ext);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, sp->signer ? sp->signer : sp->key,
			      EVP_sha256()) > 0);
	return x;
}

/* Is s valid UTF-8 without C0, DEL or C1, and shorter than cap? */
static void assert_clean(const char *s, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;

	assert_true(strlen(s) < cap);
	while (*p) {
		assert_true(*p >= 0x20 && *p != 0x7f);
		if (*p == 0xc2)
			assert_true(p[1] >= 0xa0); /* no C1 */
		p++;
	}
}

static int setup(void **st)
{
	(void)st;
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	ec_key = keygen("EC", "P-256");
	ca_key = keygen("EC", "P-256");
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	EVP_MD_free((EVP_MD *)sha256);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(ca_key);
	return 0;
}

static void facts(X509 *x, time_t now, struct rp__tls_facts *f,
		  struct rp_tls_info *in)
{
	rp__tls_info_clear(f, in);
	rp__tls_cert_facts(f, in, x, sha256, now);
}

static void test_names_and_sans(void **st)
{
	time_t now = time(NULL);
	static struct rp__tls_facts f;
	struct rp_tls_info in;
	struct spec sp = {
		.cn = "good.test", .cn_len = -1, .key = ec_key,
		.signer = ca_key, .issuer_cn = "Test CA",
		.issuer_o = "Test Org",
		.san = "DNS:good.test,IP:127.0.0.1,IP:::1,DNS:*.good.test,"
		       "email:a@b.test",
		.nb = -3600, .na = 10 * 86400 + 60,
	};
	X509 *x = make(&sp, now);

	(void)st;
	facts(x, now, &f, &in);
	assert_int_equal(in.has_cert, 1);
	assert_string_equal(in.subject_cn, "good.test");
	assert_string_equal(in.issuer_cn, "Test CA");
	assert_string_equal(in.issuer_org, "Test Org");
	/* DNS names and addresses only, in order; the email is not one */
	assert_int_equal(in.nsans, 4);
	assert_int_equal(in.nsans_total, 4);
	assert_string_equal(in.sans[0], "good.test");
	assert_string_equal(in.sans[1], "127.0.0.1");
	assert_string_equal(in.sans[2], "::1");
	assert_string_equal(in.sans[3], "*.good.test");
	assert_int_equal(in.self_signed, 0);
	assert_string_equal(in.key, "EC-256");
	assert_int_equal(in.days_left, 10);
	assert_true(in.not_after - in.not_before == 10 * 86400 + 60 + 3600);
	X509_free(x);
}

static void test_many_sans_bounded(void **st)
{
	time_t now = time(NULL);
	static struct rp__tls_facts f;
	struct rp_tls_info in;
	char san[2048] = "";
	struct spec sp = {
		.cn = "many", .cn_len = -1, .key = ec_key, .nb = 0,
		.na = 86400, .san = san,
	};
	X509 *x;

	(void)st;
	for (int i = 0; i < 40; i++)
		snprintf(san + strlen(san), sizeof(san) - strlen(san),
			 "%sDNS:h%d.test", i ? "," : "", i);
	x = make(&sp, now);
	facts(x, now, &f, &in);
	assert_int_equal(in.nsans, RP_TLS_SANS_MAX);
	assert_int_equal(in.nsans_total, 40);
	assert_string_equal(in.sans[0], "h0.test");
	assert_string_equal(in.sans[RP_TLS_SANS_MAX - 1], "h15.test");
	X509_free(x);
}

static void test_hostile_names_cleaned(void **st)
{
	time_t now = time(NULL);
	static struct rp__tls_facts f;
	struct rp_tls_info in;
	/* ESC [2J, BEL, DEL, a C1 (U+009B), e-acute, then text */
	static const char cn[] = "a\x1b[2J\x07\x7f\x9b\xe9" "b";
	struct spec sp = {
		.cn = cn, .cn_len = (int)sizeof(cn) - 1, .key = ec_key,
		.nb = 0, .na = 86400, .san = "DNS:x\x01y.test",
	};
	X509 *x;

	(void)st;
	x = make(&sp, now);
	facts(x, now, &f, &in);
	assert_clean(in.subject_cn, RP__TLS_TEXT);
	assert_string_equal(in.subject_cn, "a\xef\xbf\xbd[2J\xef\xbf\xbd"
					   "\xef\xbf\xbd\xef\xbf\xbd"
					   "\xc3\xa9" "b");
	assert_int_equal(in.nsans, 1);
	assert_string_equal(in.sans[0], "x\xef\xbf\xbdy.test");
	X509_free(x);
}

static void test_long_name_cut_whole(void **st)
{
	char src[400], dst[RP__TLS_TEXT];

	(void)st;
	/* 'a' then 3-byte characters: 255 bytes hold 'a' + 84 of them */
	src[0] = 'a';
	for (int i = 0; i < 133; i++)
		memcpy(src + 1 + 3 * i, "\xe2\x82\xac", 3); /* U+20AC */
	rp__tls_text(dst, sizeof(dst), (const unsigned char *)src, 400);
	assert_int_equal(strlen(dst), 1 + 3 * 84);
	assert_clean(dst, sizeof(dst));
	/* a truncated sequence at the end becomes one U+FFFD, as does each
	 * byte that cannot start one, an overlong form, a surrogate */
	rp__tls_text(dst, sizeof(dst), (const unsigned char *)"x\xe2\x82", 3);
	assert_string_equal(dst, "x\xef\xbf\xbd");
	rp__tls_text(dst, sizeof(dst),
		     (const unsigned char *)"\xff\xc0\xaf\xed\xa0\x80z", 7);
	assert_string_equal(dst, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				 "z");
}

static void test_days_left(void **st)
{
	time_t now = time(NULL);
	static struct rp__tls_facts f;
	struct rp_tls_info in;
	static const struct { long na; int days; } cases[] = {
		{ 86400 * 3 + 5, 3 }, { 86399, 0 }, { 0, 0 }, { -1, -1 },
		{ -86400, -1 }, { -86401, -2 },
	};

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spec sp = { .cn = "d", .cn_len = -1, .key = ec_key,
				   .nb = -10 * 86400, .na = cases[i].na };
		X509 *x = make(&sp, now);

		facts(x, now, &f, &in);
		assert_int_equal(in.days_left, cases[i].days);
		assert_true(in.not_after == (int64_t)now + cases[i].na);
		X509_free(x);
	}
}

static void test_self_signed_and_keys(void **st)
{
	time_t now = time(NULL);
	static struct rp__tls_facts f;
	struct rp_tls_info in;
	EVP_PKEY *rsa = keygen("RSA", NULL), *ed = keygen("ED25519", NULL);
	struct spec sp = { .cn = "s", .cn_len = -1, .nb = 0, .na = 86400 };
	X509 *x;

	(void)st;
	sp.key = rsa;
	x = make(&sp, now);
	facts(x, now, &f, &in);
	assert_int_equal(in.self_signed, 1);
	assert_string_equal(in.key, "RSA-2048");
	X509_free(x);

	sp.key = ed;
	sp.signer = ca_key; /* issuer name "s" == subject, another key */
	sp.issuer_cn = "s";
	x = make(&sp, now);
	facts(x, now, &f, &in);
	assert_int_equal(in.self_signed, 0);
	assert_string_equal(in.key, "ED25519");
	assert_string_equal(in.issuer_org, "");
	X509_free(x);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
}

static void test_fingerprint_and_no_cn(void **st)
{
	time_t now = time(NULL);
	static struct rp__tls_facts f;
	struct rp_tls_info in;
	struct spec sp = { .cn = NULL, .key = ec_key, .nb = 0, .na = 86400 };
	unsigned char *der = NULL, md[32];
	char hex[65];
	int n;
	X509 *x = make(&sp, now);

	(void)st;
	facts(x, now, &f, &in);
	assert_string_equal(in.subject_cn, "");
	assert_int_equal(in.nsans, 0);
	/* the fingerprint is SHA-256 over the DER encoding */
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	assert_true(EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL));
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(in.sha256, hex);
	OPENSSL_free(der);
	X509_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_sans),
		cmocka_unit_test(test_many_sans_bounded),
		cmocka_unit_test(test_hostile_names_cleaned),
		cmocka_unit_test(test_long_name_cut_whole),
		cmocka_unit_test(test_days_left),
		cmocka_unit_test(test_self_signed_and_keys),
		cmocka_unit_test(test_fingerprint_and_no_cn),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
