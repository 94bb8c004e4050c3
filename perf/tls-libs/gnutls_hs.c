/*
 * gnutls_hs.c - full TLS handshakes in a loop with GnuTLS (Debian 12:
 * 3.7.9), for comparison with openssl_hs.c (see hs_common.h).
 *
 * Set up once: one certificate credentials object holding the trust
 * anchors (--ca FILE: gnutls_certificate_set_x509_trust_file; default:
 * gnutls_certificate_set_x509_system_trust, i.e. Debian's bundle; none:
 * nothing) and one priority cache, "NORMAL:-GROUP-ALL:+GROUP-X25519" (the
 * same single key share as the others). Per handshake: gnutls_init, SNI,
 * ALPN, the socket as transport, gnutls_handshake, then
 * gnutls_certificate_verify_peers3 with the host name (GnuTLS verifies
 * only when asked; asking after the handshake records the verdict without
 * aborting, as a scanner wants), the facts from the leaf's DER, and
 * gnutls_bye(SHUT_WR).
 *
 * -O prio=STRING   another priority string (e.g. NORMAL)
 */
#include "hs_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/* One configuration: what setup() builds once. */
struct gtls {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
};

static const char *version(void)
{
	return gnutls_check_version(NULL);
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "gnutls: %s: %s\n", what, gnutls_strerror(err));
	return -1;
}

static void teardown(void *st)
{
	struct gtls *t = st;

	if (t->prio)
		gnutls_priority_deinit(t->prio);
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	free(t);
}

static void *setup(const struct hs_opts *o)
{
	const char *p = "NORMAL:-GROUP-ALL:+GROUP-X25519";
	struct gtls *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return NULL;
	hs_libopt(o, "prio", &p);
	if ((r = gnutls_certificate_allocate_credentials(&t->cred)) < 0) {
		fail("credentials", r);
		goto out_free;
	}
	if (strcmp(o->ca, "default") == 0)
		r = gnutls_certificate_set_x509_system_trust(t->cred);
	else if (strcmp(o->ca, "none") != 0)
		r = gnutls_certificate_set_x509_trust_file(t->cred, o->ca,
							   GNUTLS_X509_FMT_PEM);
	else
		r = 0;
	if (r < 0) {
		fail(o->ca, r);
		goto out_free;
	}
	if ((r = gnutls_priority_init(&t->prio, p, NULL)) < 0) {
		fail(p, r);
		goto out_free;
	}
	return t;
out_free:
	teardown(t);
	return NULL;
}

static void dn_entry(gnutls_x509_crt_t crt, int issuer, const char *oid,
		     char *dst)
{
	size_t size = HS_STR;
	int r = issuer
		? gnutls_x509_crt_get_issuer_dn_by_oid(crt, oid, 0, 0, dst, &size)
		: gnutls_x509_crt_get_dn_by_oid(crt, oid, 0, 0, dst, &size);

	if (r < 0)
		dst[0] = '\0';
}

static void sans(gnutls_x509_crt_t crt, struct hs_facts *f)
{
	char buf[HS_STR];

	for (unsigned i = 0;; i++) {
		size_t size = sizeof(buf);
		int r = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size,
							     NULL);

		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (r == GNUTLS_SAN_DNSNAME)
			hs_san_dns(f, buf, size);
		else if (r == GNUTLS_SAN_IPADDRESS)
			hs_san_ip(f, (unsigned char *)buf, size);
		else if (r < 0 && r != GNUTLS_E_SHORT_MEMORY_BUFFER)
			break;
	}
}

static void key_facts(gnutls_x509_crt_t crt, struct hs_facts *f)
{
	unsigned int bits = 0;
	int alg = gnutls_x509_crt_get_pk_algorithm(crt, &bits);
	const char *type;

	switch (alg) {
	case GNUTLS_PK_ECDSA: type = "EC"; break;
	case GNUTLS_PK_RSA: type = "RSA"; break;
	case GNUTLS_PK_RSA_PSS: type = "RSA-PSS"; break;
	case GNUTLS_PK_EDDSA_ED25519: type = "ED25519"; break;
	case GNUTLS_PK_EDDSA_ED448: type = "ED448"; break;
	default: type = "other"; break;
	}
	hs_key(f, type, (int)bits);
}

static void leaf_facts(const gnutls_datum_t *der, struct hs_facts *f)
{
	unsigned char md[32];
	size_t mdlen = sizeof(md);
	gnutls_x509_crt_t crt;

	if (gnutls_fingerprint(GNUTLS_DIG_SHA256, der, md, &mdlen) == 0)
		hs_hex(f->sha256, md, mdlen);
	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) == 0) {
		dn_entry(crt, 0, GNUTLS_OID_X520_COMMON_NAME, f->subject_cn);
		sans(crt, f);
		dn_entry(crt, 1, GNUTLS_OID_X520_COMMON_NAME, f->issuer_cn);
		dn_entry(crt, 1, GNUTLS_OID_X520_ORGANIZATION_NAME,
			 f->issuer_org);
		hs_time_iso(f->not_before, sizeof(f->not_before),
			    gnutls_x509_crt_get_activation_time(crt));
		hs_time_iso(f->not_after, sizeof(f->not_after),
			    gnutls_x509_crt_get_expiration_time(crt));
		f->self_signed = gnutls_x509_crt_check_issuer(crt, crt) ? 1 : 0;
		key_facts(crt, f);
	}
	gnutls_x509_crt_deinit(crt);
}

static void facts(gnutls_session_t s, const char *name, struct hs_facts *f)
{
	const gnutls_datum_t *certs;
	gnutls_datum_t alpn;
	unsigned int n = 0;
	const char *suite = gnutls_ciphersuite_get(s);

	snprintf(f->version, sizeof(f->version), "%s",
		 gnutls_protocol_get_name(gnutls_protocol_get_version(s)));
	snprintf(f->cipher, sizeof(f->cipher), "%s", suite ? suite : "");
	if (gnutls_alpn_get_selected_protocol(s, &alpn) == 0)
		hs_copy(f->alpn, sizeof(f->alpn), alpn.data, alpn.size);
	/* The name we set: gnutls_server_name_get() answers on servers. */
	hs_copy(f->sni, sizeof(f->sni), name, strlen(name));
	certs = gnutls_certificate_get_peers(s, &n);
	f->chain_len = (int)n;
	if (n > 0)
		leaf_facts(&certs[0], f);
}

static void verify(gnutls_session_t s, const char *name, struct hs_facts *f)
{
	unsigned int status = 0;
	gnutls_datum_t text;
	int r = gnutls_certificate_verify_peers3(s, name, &status);

	f->verify_ok = r == 0 && status == 0;
	if (f->verify_ok) {
		strcpy(f->verify, "ok");
	} else if (r < 0) {
		snprintf(f->verify, sizeof(f->verify), "%s", gnutls_strerror(r));
	} else if (gnutls_certificate_verification_status_print(
			   status, GNUTLS_CRT_X509, &text, 0) == 0) {
		hs_copy(f->verify, sizeof(f->verify), text.data, text.size);
		gnutls_free(text.data);
	}
}

static int handshake(void *st, const struct hs_opts *o, const char *name,
		     int fd, struct hs_facts *f)
{
	struct gtls *t = st;
	gnutls_datum_t alpn = { (unsigned char *)o->alpn,
				(unsigned)strlen(o->alpn) };
	gnutls_session_t s;
	int r;

	if ((r = gnutls_init(&s, GNUTLS_CLIENT)) < 0)
		return fail("init", r);
	if ((r = gnutls_priority_set(s, t->prio)) < 0 ||
	    (r = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred)) < 0 ||
	    (r = gnutls_server_name_set(s, GNUTLS_NAME_DNS, name,
					strlen(name))) < 0 ||
	    (r = gnutls_alpn_set_protocols(s, &alpn, 1, 0)) < 0) {
		fail("session setup", r);
		goto out_deinit;
	}
	gnutls_transport_set_int(s, fd);
	do
		r = gnutls_handshake(s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0) {
		fail("handshake", r);
		goto out_deinit;
	}
	verify(s, name, f);
	if (o->facts)
		facts(s, name, f);
	r = gnutls_bye(s, GNUTLS_SHUT_WR);
	if (r < 0)
		fail("bye", r);
out_deinit:
	gnutls_deinit(s);
	return r < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct hs_lib lib = {
		.name = "gnutls",
		.version = version,
		.setup = setup,
		.handshake = handshake,
		.teardown = teardown,
	};

	return hs_main(&lib, argc, argv);
}
