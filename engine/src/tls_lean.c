/*
 * tls_lean.c - the OpenSSL library context of the TLS stage's SSL_CTX: the
 * default provider's algorithms, seen through a thin provider of ours that
 * offers all of them but, of its decoders, only those of
 * SubjectPublicKeyInfo.
 *
 * Why: OpenSSL 3.0 and 3.1 build a public-key decoder for every
 * certificate they parse (OSSL_DECODER_CTX_new_for_pkey), and the build
 * walks every decoder of the context once per decoder it keeps: a fifth
 * of a client's CPU per full handshake (perf/profile --tls-phases). 3.2
 * caches the result (openssl PR #21426); Debian 12 has 3.0. A certificate
 * needs only the 13 SubjectPublicKeyInfo decoders of the default
 * provider's 40 (no PEM, PVK, MSBLOB or private-key ones), and the client
 * never decodes anything else: no client certificate, no private key.
 *
 * The thin provider hands out the default provider's own algorithm
 * tables and provider context, so every algorithm is the default
 * provider's code, unchanged; only the context's list of decoders is
 * shorter. With OpenSSL 3.2 or later, or if any step fails, the stage
 * uses the default context instead (rp__tls_lean_open() fails).
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>

#include "tls_lean.h"

#define LEAN_NAME "ringprobe-lean"
#define SPKI_MAX 64

static OSSL_PROVIDER *dflt;           /* in the default context, never unloaded */
static OSSL_ALGORITHM spki[SPKI_MAX + 1]; /* its SPKI decoders, then zeros */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const OSSL_ALGORITHM *lean_query(void *provctx, int op, int *no_cache)
{
	(void)provctx;
	if (op == OSSL_OP_DECODER) {
		*no_cache = 0;
		return spki;
	}
	return OSSL_PROVIDER_query_operation(dflt, op, no_cache);
}

static void lean_unquery(void *provctx, int op, const OSSL_ALGORITHM *algs)
{
	(void)provctx;
	if (op != OSSL_OP_DECODER)
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

/* Once per process: the default provider and its SPKI decoders. Leaves
 * dflt NULL when the lean context cannot be had. */
static void setup(void)
{
	const OSSL_ALGORITHM *all;
	OSSL_PROVIDER *p;
	int no_cache = 0;
	size_t n = 0;

	if (OpenSSL_version_num() >= 0x30200000L)
		return; /* the decoder cache is there */
	p = OSSL_PROVIDER_load(NULL, "default");
	if (!p)
		return;
	all = OSSL_PROVIDER_query_operation(p, OSSL_OP_DECODER, &no_cache);
	for (; all && all->algorithm_names; all++) {
		if (!all->property_definition ||
		    !strstr(all->property_definition,
			    "structure=SubjectPublicKeyInfo"))
			continue;
		if (n == SPKI_MAX)
			return; /* not the provider we know: keep out */
		spki[n++] = *all;
	}
	if (n)
		dflt = p;
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
