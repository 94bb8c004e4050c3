/*
 * tls_lean.h - a library context for the TLS stage whose certificate
 * parsing skips OpenSSL 3.0's costliest step (tls_lean.c).
 */
#ifndef RP_TLS_LEAN_H
#define RP_TLS_LEAN_H

#include <openssl/types.h>

struct rp__tls_lean {
	OSSL_LIB_CTX *libctx;         /* for SSL_CTX_new_ex(), or NULL */
	OSSL_PROVIDER *prov;          /* the thin provider loaded in it */
};

/* Returns 0 with l set, or -1 with l zeroed: then use the default
 * context (NULL). Thread-safe. */
int rp__tls_lean_open(struct rp__tls_lean *l);
/* Frees what open made (after every SSL_CTX using it); zeroed is fine. */
void rp__tls_lean_close(struct rp__tls_lean *l);

#endif
