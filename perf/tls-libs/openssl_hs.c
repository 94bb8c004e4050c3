/*
 * openssl_hs.c - full TLS handshakes in a loop with OpenSSL 3, the way the
 * engine would do them, and the same with each tuning undone in turn (see
 * hs_common.h for the loop and docs/TLS-LIBRARIES.md for the numbers).
 *
 * Tuned (the default): one SSL_CTX for the run; the trust store built once
 * from --ca FILE into an X509_STORE (X509_STORE_load_file) and shared with
 * SSL_CTX_set1_cert_store; SSL_CTX_set_session_cache_mode(OFF); groups
 * "X25519"; SHA-256 fetched once (EVP_MD_fetch) for the fingerprint; a new
 * SSL per handshake driven through two memory BIOs, ciphertext moved with
 * send(2)/recv(2) as the engine's ring would. Verification runs on every
 * handshake (OpenSSL verifies the server chain whatever the verify mode;
 * SSL_VERIFY_NONE only keeps a failure from aborting) with the host name
 * set by SSL_set1_host; the verdict is SSL_get_verify_result().
 *
 * -O options (each undoes or changes one thing):
 *   bio=socket         SSL_set_fd (a socket BIO) instead of memory BIOs
 *   ctx-per-hs         a new SSL_CTX per handshake, its trust loaded into it
 *                      each time (from --ca FILE, or the default paths)
 *   ctx-per-hs=shared  a new SSL_CTX per handshake sharing the one store
 *   fetch=implicit     X509_digest(EVP_sha256()) (fetched on every call)
 *   cache=default      leave the session cache mode as it is
 *   groups=default     OpenSSL's default group list; groups=NAMES sets one
 *   reuse              one SSL for the run: SSL_set_session(NULL) +
 *                      SSL_clear between handshakes (memory BIOs only)
 *   release-buffers    SSL_MODE_RELEASE_BUFFERS
 *   floor              no TLS: the handshake's public-key crypto alone
 * --ca default is SSL_CTX_set_default_verify_paths (Debian: the bundle
 * /usr/lib/ssl/cert.pem loaded into memory plus the hashed directory
 * /usr/lib/ssl/certs, or $SSL_CERT_FILE / $SSL_CERT_DIR, looked up on each
 * miss); --ca none loads nothing, as wrk does (SSL_VERIFY_NONE, no trust
 * anchors): verification then stops at the leaf's missing issuer, before
 * any signature of the chain is checked.
 */
#include "hs_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/*
 * -O floor: no TLS, only the handshake's public-key crypto as `openssl
 * speed` times it (contexts made once, then EVP_PKEY_derive and
 * EVP_PKEY_verify in a loop): two X25519 derives (the key generation
 * counted as one more) and three ECDSA P-256 verifies. In paired mode this
 * is the crypto floor under the same load as the handshakes beside it.
 */
struct floor {
	EVP_PKEY *x1, *x2, *ec;	/* two X25519 keys, one P-256 key */
	EVP_PKEY_CTX *derive;	/* x1 with peer x2 */
	EVP_PKEY_CTX *verify;	/* ec, verify_init done */
	unsigned char dgst[32];	/* "signed" digest */
	unsigned char sig[80];	/* ECDSA signature of dgst */
	size_t siglen;
};

/* One configuration: what setup() builds once. */
struct ossl {
	struct floor *floor;	/* -O floor */
	SSL_CTX *ctx;		/* the run's context (not with ctx-per-hs) */
	X509_STORE *store;	/* built once from --ca FILE */
	EVP_MD *sha256;		/* fetched once, unless fetch=implicit */
	SSL *reused;		/* with -O reuse */
	int use_mem_bio;	/* memory BIOs (default) or a socket BIO */
	int ctx_per_hs;		/* 1: load trust each time, 2: shared */
	int reuse;		/* -O reuse */
};

static const char *version(void)
{
	return OpenSSL_version(OPENSSL_VERSION_STRING);
}

static int fail(const char *what)
{
	fprintf(stderr, "openssl: %s: ", what);
	ERR_print_errors_fp(stderr);
	fputc('\n', stderr);
	return -1;
}

static int load_trust(const struct ossl *t, SSL_CTX *c,
		      const struct hs_opts *o)
{
	if (strcmp(o->ca, "none") == 0)
		return 0;
	if (strcmp(o->ca, "default") == 0)
		return SSL_CTX_set_default_verify_paths(c) == 1 ? 0 : -1;
	if (t->store && t->ctx_per_hs != 1) {
		SSL_CTX_set1_cert_store(c, t->store);	/* takes a reference */
		return 0;
	}
	return SSL_CTX_load_verify_file(c, o->ca) == 1 ? 0 : -1;
}

static SSL_CTX *ctx_new(const struct ossl *t, const struct hs_opts *o)
{
	unsigned char alpn[256];
	size_t alen = strlen(o->alpn);
	const char *groups = "X25519";
	SSL_CTX *c;

	if (alen == 0 || alen > 254 || !(c = SSL_CTX_new(TLS_client_method())))
		return NULL;
	if (load_trust(t, c, o))
		goto out_free;
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	if (!hs_libopt(o, "cache", NULL))
		SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	hs_libopt(o, "groups", &groups);
	if (strcmp(groups, "default") != 0 &&
	    SSL_CTX_set1_groups_list(c, groups) != 1)
		goto out_free;
	alpn[0] = (unsigned char)alen;
	memcpy(alpn + 1, o->alpn, alen);
	if (SSL_CTX_set_alpn_protos(c, alpn, (unsigned)alen + 1) != 0)
		goto out_free;
	if (hs_libopt(o, "release-buffers", NULL))
		SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
	return c;
out_free:
	SSL_CTX_free(c);
	return NULL;
}

static void floor_free(struct floor *fl)
{
	if (!fl)
		return;
	EVP_PKEY_CTX_free(fl->derive);
	EVP_PKEY_CTX_free(fl->verify);
	EVP_PKEY_free(fl->x1);
	EVP_PKEY_free(fl->x2);
	EVP_PKEY_free(fl->ec);
	free(fl);
}

static struct floor *floor_new(void)
{
	struct floor *fl = calloc(1, sizeof(*fl));
	EVP_PKEY_CTX *sign = NULL;
	int ok;

	if (!fl)
		return NULL;
	fl->siglen = sizeof(fl->sig);
	memset(fl->dgst, 0x5a, sizeof(fl->dgst));
	ok = (fl->x1 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519")) &&
	     (fl->x2 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519")) &&
	     (fl->ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) &&
	     (fl->derive = EVP_PKEY_CTX_new_from_pkey(NULL, fl->x1, NULL)) &&
	     EVP_PKEY_derive_init(fl->derive) == 1 &&
	     EVP_PKEY_derive_set_peer(fl->derive, fl->x2) == 1 &&
	     (sign = EVP_PKEY_CTX_new_from_pkey(NULL, fl->ec, NULL)) &&
	     EVP_PKEY_sign_init(sign) == 1 &&
	     EVP_PKEY_sign(sign, fl->sig, &fl->siglen, fl->dgst,
			   sizeof(fl->dgst)) == 1 &&
	     (fl->verify = EVP_PKEY_CTX_new_from_pkey(NULL, fl->ec, NULL)) &&
	     EVP_PKEY_verify_init(fl->verify) == 1;
	EVP_PKEY_CTX_free(sign);
	if (!ok) {
		floor_free(fl);
		return NULL;
	}
	return fl;
}

static int floor_run(const struct floor *fl, struct hs_facts *f)
{
	unsigned char secret[32];
	size_t len;

	for (int i = 0; i < 2; i++) {
		len = sizeof(secret);
		if (EVP_PKEY_derive(fl->derive, secret, &len) != 1)
			return fail("X25519 derive");
	}
	for (int i = 0; i < 3; i++) {
		if (EVP_PKEY_verify(fl->verify, fl->sig, fl->siglen, fl->dgst,
				    sizeof(fl->dgst)) != 1)
			return fail("ECDSA verify");
	}
	f->verify_ok = 1;
	return 0;
}

static void teardown(void *st)
{
	struct ossl *t = st;

	floor_free(t->floor);
	SSL_free(t->reused);
	SSL_CTX_free(t->ctx);
	X509_STORE_free(t->store);
	EVP_MD_free(t->sha256);
	free(t);
}

static void *setup(const struct hs_opts *o)
{
	struct ossl *t = calloc(1, sizeof(*t));
	const char *v;

	if (!t)
		return NULL;
	if (hs_libopt(o, "floor", NULL)) {
		if (!(t->floor = floor_new())) {
			fail("floor setup");
			goto out_free;
		}
		return t;
	}
	t->use_mem_bio = 1;
	if (hs_libopt(o, "bio", &v))
		t->use_mem_bio = strcmp(v, "socket") != 0;
	if (hs_libopt(o, "ctx-per-hs", &v))
		t->ctx_per_hs = strcmp(v, "shared") == 0 ? 2 : 1;
	t->reuse = hs_libopt(o, "reuse", NULL);
	if (t->reuse && (!t->use_mem_bio || t->ctx_per_hs)) {
		fprintf(stderr, "openssl: reuse needs memory BIOs and one ctx\n");
		goto out_free;
	}
	if (!hs_libopt(o, "fetch", NULL) &&
	    !(t->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL))) {
		fail("EVP_MD_fetch");
		goto out_free;
	}
	if (strcmp(o->ca, "none") != 0 && strcmp(o->ca, "default") != 0 &&
	    t->ctx_per_hs != 1) {
		t->store = X509_STORE_new();
		if (!t->store || X509_STORE_load_file(t->store, o->ca) != 1) {
			fail(o->ca);
			goto out_free;
		}
	}
	if (!t->ctx_per_hs && !(t->ctx = ctx_new(t, o))) {
		fail("SSL_CTX");
		goto out_free;
	}
	return t;
out_free:
	teardown(t);
	return NULL;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Sends what the SSL wrote into its write BIO. */
static int flush_out(SSL *ssl, int fd)
{
	char buf[16384];
	int n;

	while ((n = BIO_read(SSL_get_wbio(ssl), buf, sizeof(buf))) > 0) {
		if (send_all(fd, buf, (size_t)n))
			return -1;
	}
	return 0;
}

/*
 * SSL_connect over memory BIOs: what the engine's CQE handler will do, with
 * a blocking recv(2) standing in for the ring's.
 */
static int connect_mem(SSL *ssl, int fd)
{
	char buf[16384];

	for (;;) {
		ssize_t n;
		int r;

		ERR_clear_error();
		r = SSL_connect(ssl);
		if (flush_out(ssl, fd))
			return -1;
		if (r == 1)
			return 0;
		if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ)
			return fail("handshake");
		do
			n = recv(fd, buf, sizeof(buf), 0);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			fprintf(stderr, "openssl: recv: %s\n",
				n ? strerror(errno) : "EOF");
			return -1;
		}
		BIO_write(SSL_get_rbio(ssl), buf, (int)n);
	}
}

/* Copies entry nid of name as UTF-8 ("" if absent). */
static void name_entry(const X509_NAME *name, int nid, char *dst)
{
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	unsigned char *utf8 = NULL;
	int len;

	if (i < 0)
		return;
	len = ASN1_STRING_to_UTF8(&utf8,
		X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (len >= 0)
		hs_copy(dst, HS_STR, utf8, (size_t)len);
	OPENSSL_free(utf8);
}

static void sans(X509 *leaf, struct hs_facts *f)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name,
					       NULL, NULL);

	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_DNS)
			hs_san_dns(f, ASN1_STRING_get0_data(g->d.dNSName),
				   (size_t)ASN1_STRING_length(g->d.dNSName));
		else if (g->type == GEN_IPADD)
			hs_san_ip(f, ASN1_STRING_get0_data(g->d.iPAddress),
				  (size_t)ASN1_STRING_length(g->d.iPAddress));
	}
	GENERAL_NAMES_free(gens);
}

static void asn1_time(const ASN1_TIME *t, char *dst, size_t cap)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) == 1)
		hs_tm_iso(dst, cap, &tm);
}

static void key_facts(X509 *leaf, struct hs_facts *f)
{
	EVP_PKEY *pk = X509_get0_pubkey(leaf);
	const char *type;

	if (!pk)
		return;
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_EC: type = "EC"; break;
	case EVP_PKEY_RSA: type = "RSA"; break;
	case EVP_PKEY_RSA_PSS: type = "RSA-PSS"; break;
	case EVP_PKEY_ED25519: type = "ED25519"; break;
	case EVP_PKEY_ED448: type = "ED448"; break;
	default: type = "other"; break;
	}
	hs_key(f, type, EVP_PKEY_get_bits(pk));
}

static void facts(const struct ossl *t, SSL *ssl, struct hs_facts *f)
{
	const unsigned char *alpn;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int alen = 0, mdlen = 0;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	STACK_OF(X509) *sent = SSL_get_peer_cert_chain(ssl);
	STACK_OF(X509) *verified = SSL_get0_verified_chain(ssl);
	long v = SSL_get_verify_result(ssl);

	hs_copy(f->version, sizeof(f->version), SSL_get_version(ssl),
		strlen(SSL_get_version(ssl)));
	snprintf(f->cipher, sizeof(f->cipher), "%s",
		 SSL_CIPHER_standard_name(SSL_get_current_cipher(ssl)));
	SSL_get0_alpn_selected(ssl, &alpn, &alen);
	hs_copy(f->alpn, sizeof(f->alpn), alpn, alen);
	if (sni)
		hs_copy(f->sni, sizeof(f->sni), sni, strlen(sni));
	f->chain_len = sk_X509_num(sent);
	f->verified_len = v == X509_V_OK ? sk_X509_num(verified) : -1;
	f->verify_ok = v == X509_V_OK;
	snprintf(f->verify, sizeof(f->verify), "%s",
		 f->verify_ok ? "ok" : X509_verify_cert_error_string(v));
	if (!leaf)
		return;
	name_entry(X509_get_subject_name(leaf), NID_commonName, f->subject_cn);
	sans(leaf, f);
	name_entry(X509_get_issuer_name(leaf), NID_commonName, f->issuer_cn);
	name_entry(X509_get_issuer_name(leaf), NID_organizationName,
		   f->issuer_org);
	asn1_time(X509_get0_notBefore(leaf), f->not_before,
		  sizeof(f->not_before));
	asn1_time(X509_get0_notAfter(leaf), f->not_after, sizeof(f->not_after));
	if (X509_digest(leaf, t->sha256 ? t->sha256 : EVP_sha256(), md,
			&mdlen) == 1)
		hs_hex(f->sha256, md, mdlen);
	f->self_signed = X509_self_signed(leaf, 0);
	key_facts(leaf, f);
}

/* A fresh SSL (or the reused one, cleared) with SNI, host and BIOs set. */
static SSL *ssl_for(struct ossl *t, const char *name, SSL_CTX *c, int fd)
{
	SSL *ssl = t->reused;

	if (ssl) {
		SSL_set_session(ssl, NULL);
		if (SSL_clear(ssl) != 1)
			return NULL;
		BIO_reset(SSL_get_rbio(ssl));
		BIO_reset(SSL_get_wbio(ssl));
	} else {
		if (!(ssl = SSL_new(c)))
			return NULL;
		if (t->use_mem_bio)
			SSL_set_bio(ssl, BIO_new(BIO_s_mem()),
				    BIO_new(BIO_s_mem()));
		else
			SSL_set_fd(ssl, fd);
		if (t->reuse)
			t->reused = ssl;
	}
	SSL_set_tlsext_host_name(ssl, name);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (SSL_set1_host(ssl, name) != 1) {
		if (!t->reused)
			SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

static int handshake(void *st, const struct hs_opts *o, const char *name,
		     int fd, struct hs_facts *f)
{
	struct ossl *t = st;
	SSL_CTX *c;
	SSL *ssl;
	int r = -1;

	if (t->floor)
		return floor_run(t->floor, f);
	c = t->ctx_per_hs ? ctx_new(t, o) : t->ctx;
	ssl = c ? ssl_for(t, name, c, fd) : NULL;

	if (!ssl) {
		fail("SSL_CTX/SSL setup");
		goto out_ctx;
	}
	if (t->use_mem_bio) {
		if (connect_mem(ssl, fd))
			goto out_ssl;
	} else if (SSL_connect(ssl) != 1) {
		fail("handshake");
		goto out_ssl;
	}
	if (o->facts)
		facts(t, ssl, f);
	else
		f->verify_ok = SSL_get_verify_result(ssl) == X509_V_OK;
	SSL_shutdown(ssl);	/* sends close_notify, does not wait */
	if (t->use_mem_bio && flush_out(ssl, fd))
		goto out_ssl;
	r = 0;
out_ssl:
	if (ssl != t->reused)
		SSL_free(ssl);
out_ctx:
	if (t->ctx_per_hs)
		SSL_CTX_free(c);
	return r;
}

int main(int argc, char **argv)
{
	static const struct hs_lib lib = {
		.name = "openssl",
		.version = version,
		.setup = setup,
		.handshake = handshake,
		.teardown = teardown,
	};

	return hs_main(&lib, argc, argv);
}
