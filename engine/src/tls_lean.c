/*
 * tls_lean.c - the OpenSSL library context of the TLS stage's SSL_CTX: the
 * default provider's algorithms, seen through a thin provider of ours that
 * offers all of them but, of its decoders, only those of
 * SubjectPublicKeyInfo and, of its ciphers, only those libssl uses.
 *
 * Why: OpenSSL 3.0 and 3.1 build a public-key decoder for every
 * certificate they parse (OSSL_DECODER_CTX_new_for_pkey): a walk over
 * every decoder of the context once per decoder it keeps, and over every
 * method of the context (ciphers, digests, ...) to list the key managers.
 * That was a fifth of a client's CPU per full handshake (perf/profile
 * --tls-phases). 3.2 caches the result (openssl PR #21426); Debian 12 has
 * 3.0. A certificate needs only the 13 SubjectPublicKeyInfo decoders of
 * the default provider's 40 (no PEM, PVK, MSBLOB or private-key ones: the
 * client decodes nothing else), and libssl fetches 16 of its 124
 * ciphers; the rest only make every walk longer. Measured: 590 -> 515 us
 * of client CPU per handshake with the decoders alone, and ~7% less again
 * with the ciphers (perf/bench_http --tls, W7).
 *
 * The thin provider hands out the default provider's own algorithm
 * tables and provider context, so every algorithm is the default
 * provider's code, unchanged; only the context's lists are shorter.
 * test_tls_lean checks that the cipher suites libssl can offer are the
 * same as in the default context. With OpenSSL 3.2 or later, or if any
 * step fails, the stage uses the default context instead
 * (rp__tls_lean_open() fails).
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>

#include "tls_lean.h"

#define LEAN_NAME "ringprobe-lean"
#define KEEP_MAX 64

static OSSL_LIB_CTX *base;            /* ours, for the default provider */
static OSSL_PROVIDER *dflt;           /* loaded in base; both live as long
                                       * as the process */
static OSSL_ALGORITHM spki[KEEP_MAX + 1]; /* its SPKI decoders, then zeros */
static OSSL_ALGORITHM tls_ciphers[KEEP_MAX + 1]; /* the ciphers libssl fetches */

/* Every cipher OpenSSL 3.0's libssl fetches (ssl_ciph.c), by the first of
 * its names. Those of the legacy provider (DES, RC4, RC2, IDEA, SEED) are
 * not in the default one anyway. */
static const char *const tls_cipher_names[] = {
	"AES-128-CBC", "AES-256-CBC", "AES-128-GCM", "AES-256-GCM",
	"AES-128-CCM", "AES-256-CCM", "ChaCha20-Poly1305", "DES-EDE3-CBC",
	"CAMELLIA-128-CBC", "CAMELLIA-256-CBC", "ARIA-128-GCM", "ARIA-256-GCM",
	"AES-128-CBC-HMAC-SHA1", "AES-256-CBC-HMAC-SHA1",
	"AES-128-CBC-HMAC-SHA256", "AES-256-CBC-HMAC-SHA256",
};
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const OSSL_ALGORITHM *lean_query(void *provctx, int op, int *no_cache)
{
	(void)provctx;
	if (op == OSSL_OP_DECODER || op == OSSL_OP_CIPHER) {
		*no_cache = 0;
		return op == OSSL_OP_DECODER ? spki : tls_ciphers;
	}
	return OSSL_PROVIDER_query_operation(dflt, op, no_cache);
}

static void lean_unquery(void *provctx, int op, const OSSL_ALGORITHM *algs)
{
	(void)provctx;
	if (op != OSSL_OP_DECODER && op != OSSL_OP_CIPHER)
		OSSL_PROVIDER_unquery_operation(dflt, op, algs);
}

/* TLS-GROUP and TLS-SIGALG: what libssl offers comes from here. */
static int lean_caps(void *provctx, const char *capability, OSSL_CALLBACK *cb,
		     void *arg)
{
	(void)provctx;
	return OSSL_PROVIDER_get_capabilities(dflt, capability, cb, arg);
}

static const OSSL_PARAM *lean_gettable(void *provctx)
{
	(void)provctx;
	return OSSL_PROVIDER_gettable_params(dflt);
}

static int lean_get_params(void *provctx, OSSL_PARAM params[])
{
	(void)provctx;
	return OSSL_PROVIDER_get_params(dflt, params);
}

/* The provider context is the default provider's: not ours to free. */
static void lean_teardown(void *provctx)
{
	(void)provctx;
}

static const OSSL_DISPATCH lean_dispatch[] = {
	{ OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))lean_teardown },
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))lean_query },
	{ OSSL_FUNC_PROVIDER_UNQUERY_OPERATION, (void (*)(void))lean_unquery },
	{ OSSL_FUNC_PROVIDER_GET_CAPABILITIES, (void (*)(void))lean_caps },
	{ OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))lean_gettable },
	{ OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))lean_get_params },
	{ 0, NULL },
};

static int lean_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
		     const OSSL_DISPATCH **out, void **provctx)
{
	(void)handle;
	(void)in;
	*provctx = OSSL_PROVIDER_get0_provider_ctx(dflt);
	*out = lean_dispatch;
	return *provctx != NULL;
}

/* The algorithms of operation op that keep() wants, into out (zeros
 * after them). Returns how many, or -1 if they do not fit. */
static int pick(OSSL_PROVIDER *p, int op, bool (*keep)(const OSSL_ALGORITHM *),
		OSSL_ALGORITHM *out)
{
	const OSSL_ALGORITHM *all, *a;
	int no_cache = 0, n = 0;

	all = OSSL_PROVIDER_query_operation(p, op, &no_cache);
	for (a = all; a && a->algorithm_names; a++) {
		if (!keep(a))
			continue;
		if (n == KEEP_MAX) {
			n = -1; /* not the provider we know: keep out */
			break;
		}
		out[n++] = *a;
	}
	OSSL_PROVIDER_unquery_operation(p, op, all);
	return n;
}

static bool is_spki(const OSSL_ALGORITHM *a)
{
	return a->property_definition &&
	       strstr(a->property_definition, "structure=SubjectPublicKeyInfo");
}

static bool is_tls_cipher(const OSSL_ALGORITHM *a)
{
	size_t n = strcspn(a->algorithm_names, ":");

	for (size_t i = 0; i < sizeof(tls_cipher_names) /
				       sizeof(tls_cipher_names[0]); i++)
		if (strlen(tls_cipher_names[i]) == n &&
		    !strncasecmp(a->algorithm_names, tls_cipher_names[i], n))
			return true;
	return false;
}

/* Once per process: the default provider, in a context of our own (so
 * the application's default context stays as its configuration made it:
 * a FIPS-only one stays FIPS-only), and what we take of it. Leaves dflt
 * NULL when the lean context cannot be had. */
static void setup(void)
{
	OSSL_PROVIDER *p;

	if (OpenSSL_version_num() >= 0x30200000L)
		return; /* the decoder cache is there */
	base = OSSL_LIB_CTX_new();
	p = base ? OSSL_PROVIDER_load(base, "default") : NULL;
	if (p && pick(p, OSSL_OP_DECODER, is_spki, spki) > 0 &&
	    pick(p, OSSL_OP_CIPHER, is_tls_cipher, tls_ciphers) > 0) {
		dflt = p;
		return;
	}
	if (p)
		OSSL_PROVIDER_unload(p);
	OSSL_LIB_CTX_free(base);
	base = NULL;
}

int rp__tls_lean_open(struct rp__tls_lean *l)
{
	memset(l, 0, sizeof(*l));
	pthread_once(&once, setup);
	if (!dflt)
		return -1;
	l->libctx = OSSL_LIB_CTX_new();
	if (l->libctx && OSSL_PROVIDER_add_builtin(l->libctx, LEAN_NAME,
						   lean_init))
		l->prov = OSSL_PROVIDER_load(l->libctx, LEAN_NAME);
	if (!l->prov) {
		rp__tls_lean_close(l);
		return -1;
	}
	return 0;
}

void rp__tls_lean_close(struct rp__tls_lean *l)
{
	if (l->prov)
		OSSL_PROVIDER_unload(l->prov);
	OSSL_LIB_CTX_free(l->libctx);
	memset(l, 0, sizeof(*l));
}
