/*
 * fuzz_cert.c - libFuzzer harness for the certificate facts (tls_cert.c):
 * the input is a DER certificate as a server would send it. Whatever
 * OpenSSL accepts, every string of rp_tls_info must be clean text within
 * its bound, and the SAN list within RP_TLS_SANS_MAX; whatever it does not
 * accept never reaches the facts.
 */
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fuzz.h"
#include "tls_cert.h"

static void check_text(const char *s)
{
	size_t n = strlen(s);

	CHECK(n < RP__TLS_TEXT);
	CHECK(fuzz_clean_text(s, n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rp__tls_facts f;
	static const EVP_MD *sha256;
	const unsigned char *p = data;
	struct rp_tls_info in;
	X509 *x;

	if (!sha256)
		sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	x = d2i_X509(NULL, &p, (long)size);
	if (!x)
		return 0;
	rp__tls_info_clear(&f, &in);
	rp__tls_cert_facts(&f, &in, x, sha256, (time_t)1800000000);
	CHECK(in.has_cert == 1);
	check_text(in.subject_cn);
	check_text(in.issuer_cn);
	check_text(in.issuer_org);
	CHECK(in.nsans <= RP_TLS_SANS_MAX && in.nsans <= in.nsans_total);
	for (uint32_t i = 0; i < in.nsans; i++)
		check_text(in.sans[i]);
	CHECK(strlen(in.sha256) == 64 || in.sha256[0] == '\0');
	CHECK(strlen(in.key) < sizeof(f.key));
	X509_free(x);
	return 0;
}
