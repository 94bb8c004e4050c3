/*
 * stage_tls.c - the TLS stage: a full handshake on the probe's connected
 * socket, with OpenSSL doing the crypto on memory BIOs and the ring moving
 * the ciphertext: sends from a copy of what OpenSSL wrote, receives into
 * the engine's buffer ring. Like every stage it has one op (with its link
 * timeout) in flight at a time.
 *
 *   HANDSHAKING --done--> the next stage (http over us), or OK (tls)
 *      | OpenSSL wrote a flight: SEND it, then go on
 *      | OpenSSL wants bytes: RECV, give them to it, go on
 *      +-- alert, not TLS, peer closed: TLS_ERROR   no time left: TIMEOUT
 *
 * The whole handshake shares one absolute link timeout, min(start +
 * handshake timeout, deadline), so a server that trickles bytes cannot
 * stretch it.
 *
 * TLS probes under way are capped (rp_engine_opts.max_handshakes): a
 * handshake holds ~43 KiB of OpenSSL's state while it waits for the
 * server. The place is taken before the connect (admit()), not after: a
 * probe that waited connected would hold a silent connection, which a
 * server that serves one connection at a time would wait on (while our
 * handshake on it waited for that server) and one with a short idle
 * timeout would close. A probe past the cap waits its turn in a FIFO,
 * its one op a long timeout that its turn cancels (so cancel, stop and
 * destroy end it like any probe); the wait is not part of its timeouts,
 * as a per-host wait is not. The place is given back when the handshake
 * ends, or the probe.
 *
 * The certificate is verified (trust store, host name or address) but a
 * failure only fails the probe with rp_tls_opts.verify. The context lives
 * in tls_lean.c's library context, where certificates parse cheaper.
 *
 * Once the handshake is done, the stage is the transport of the stages
 * after it (slot.xport): their messages go through SSL_write and their
 * reads through SSL_read, and their sends and receives complete as
 * on_sent and on_data. Plain targets of an http engine pass straight on.
 *
 * After every OpenSSL call what it wrote is sent before anything else:
 * SSL_read too may write (a key update, an alert).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "abi.h"
#include "stage.h"
#include "tls_cert.h"
#include "tls_lean.h"

enum { MODE_OFF = 0, MODE_HANDSHAKE, MODE_CARRY };

#define RP_MAX_HANDSHAKES_DEFAULT 1024u

struct tls_slot {
	SSL *ssl;                     /* owns rbio and wbio */
	BIO *rbio;                    /* ciphertext in (received) */
	BIO *wbio;                    /* ciphertext out (to send) */
	unsigned char *out;           /* ciphertext being sent */
	uint32_t out_len, out_off;
	uint32_t msg_len;             /* plaintext of the upper's message */
	uint8_t mode;
	uint8_t msg_sent;             /* the upper's message is out: tell it */
	uint8_t want;                 /* the upper waits for bytes */
	uint8_t delivering;           /* deliver() is handing bytes up */
	uint64_t start_ns;            /* handshake started */
	uint32_t tls_us;              /* handshake time, once done */
	uint32_t wprev, wnext;        /* waiting for a place: the FIFO's
	                               * links, slot index + 1 (0: none) */
	uint8_t waiting;              /* in that FIFO, its wait op in flight */
	uint8_t permit;               /* holds one of the cap's places */
	uint64_t wait_ns;             /* the wait began */
};

struct tls {
	unsigned k;                   /* this stage's index in the kind */
	SSL_CTX *ctx;
	struct rp__tls_lean lean;     /* ctx's library context (tls_lean.c) */
	char *sni;                    /* for targets given as an address */
	bool verify;
	uint64_t timeout_ns;          /* whole handshake */
	uint32_t cap;                 /* handshakes under way at most */
	uint32_t busy;                /* under way (permits held) */
	uint32_t whead, wtail;        /* the waiting FIFO (slot index + 1) */
	const EVP_MD *sha256;         /* fetched once */
	struct rp_tls_info info;      /* the result being delivered */
	struct rp__tls_facts facts;   /* and its strings */
	char rbuf[RP_BUF_SIZE];       /* plaintext handed up */
};

static struct tls *state(const struct rp_engine *e)
{
	return rp__stage_state(e, &rp__stage_tls);
}

static struct tls_slot *priv(const struct rp_engine *e, const struct slot *s)
{
	return rp__priv(e, s, state(e)->k);
}

/* "h2,http/1.1" as ALPN's wire format: each name after its length. */
static int alpn_wire(const char *list, unsigned char *out, size_t cap,
		     unsigned *len)
{
	size_t n = 0;

	while (*list) {
		size_t l = strcspn(list, ",");

		if (l == 0 || l > 255 || n + 1 + l > cap)
			return -EINVAL;
		out[n++] = (unsigned char)l;
		memcpy(out + n, list, l);
		n += l;
		list += l + (list[l] == ',');
	}
	*len = (unsigned)n;
	return 0;
}

static int set_versions(struct rp_engine *e, SSL_CTX *ctx,
			const struct rp_tls_opts *o)
{
	int lo = o->min_version, hi = o->max_version;

	if ((lo && (lo < RP_TLS_1_0 || lo > RP_TLS_1_3)) ||
	    (hi && (hi < RP_TLS_1_0 || hi > RP_TLS_1_3)) || (lo && hi && lo > hi)) {
		rp__errf(e->err, e->errlen, "tls.min_version, max_version: %#x, "
			 "%#x is no range of rp_tls_version", lo, hi);
		return -EINVAL;
	}
	/* Debian's OpenSSL refuses TLS 1.0 and 1.1 at its default security
	 * level (2): asking for them means level 0, the legacy ciphers and
	 * SHA-1 signatures they need. */
	if ((lo && lo < RP_TLS_1_2) || (hi && hi < RP_TLS_1_2)) {
		SSL_CTX_set_security_level(ctx, 0);
		if (!SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0"))
			return -EINVAL;
	}
	if ((lo && !SSL_CTX_set_min_proto_version(ctx, lo)) ||
	    (hi && !SSL_CTX_set_max_proto_version(ctx, hi)))
		return -EINVAL;
	return 0;
}

static void tls_release(struct rp_engine *e, void *st)
{
	struct tls *t = st;

	(void)e;
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	rp__tls_lean_close(&t->lean);
	EVP_MD_free((EVP_MD *)t->sha256);
	free(t->sni);
	free(t);
}

/* One context for the engine: read-only once probes run. */
static int make_ctx(struct rp_engine *e, struct tls *t)
{
	const struct rp_engine_opts *eo = &e->o;
	const struct rp_tls_opts *o = &eo->tls;
	const char *alpn = o->alpn;
	unsigned char wire[256];
	unsigned wlen;
	int ret;

	/* Certificates parse cheaper there; if it cannot be had, the
	 * default context (NULL) does the same work. */
	rp__tls_lean_open(&t->lean);
	t->ctx = SSL_CTX_new_ex(t->lean.libctx, NULL, TLS_client_method());
	if (!t->ctx)
		return -ENOMEM;
	/* Every probe a full handshake, and no memory kept per idle one. */
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET |
					    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
	/* The handshake goes on whatever the certificate: the verdict is
	 * read after it (SSL_get_verify_result), and judged there. */
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
	/* The trust store read into memory once, not looked up in a
	 * directory at every verification. */
	if (!SSL_CTX_load_verify_file(t->ctx, o->cafile ? o->cafile
							 : X509_get_default_cert_file()) &&
	    o->cafile) {
		rp__errf(e->err, e->errlen, "tls.cafile: %s holds no PEM "
			 "certificate that can be read", o->cafile);
		return -ENOENT;
	}
	ERR_clear_error(); /* a system without a bundle verifies nothing */
	ret = set_versions(e, t->ctx, o);
	if (ret < 0)
		return ret;
	if (!alpn && eo->kind == RP_PROBE_HTTP)
		alpn = "http/1.1";
	if (alpn && alpn[0]) {
		if (alpn_wire(alpn, wire, sizeof(wire), &wlen) < 0 ||
		    SSL_CTX_set_alpn_protos(t->ctx, wire, wlen) != 0) {
			rp__errf(e->err, e->errlen, "tls.alpn: not a list of "
				 "protocol names like h2,http/1.1");
			return -EINVAL;
		}
	}
	return 0;
}

static int tls_init(struct rp_engine *e, void **out)
{
	struct tls *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	t->k = (unsigned)rp__stage_find(e, &rp__stage_tls);
	t->verify = e->o.tls.verify != 0;
	t->timeout_ns = e->o.tls.handshake_timeout_ns
				? e->o.tls.handshake_timeout_ns
				: UINT64_MAX / 2;
	t->cap = e->o.max_handshakes ? e->o.max_handshakes
				     : RP_MAX_HANDSHAKES_DEFAULT;
	t->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	ret = t->sha256 ? make_ctx(e, t) : -ENOMEM;
	if (ret == 0 && e->o.tls.sni) {
		t->sni = strdup(e->o.tls.sni);
		if (!t->sni)
			ret = -ENOMEM;
		else if (!rp__wire_text_ok(t->sni) || strlen(t->sni) > 253)
			ret = -EINVAL;
		if (ret == -EINVAL)
			rp__errf(e->err, e->errlen, "tls.sni: want a host name "
				 "of printable characters, at most 253");
	}
	if (ret < 0) {
		tls_release(e, t);
		return ret;
	}
	*out = t;
	return 0;
}

/* The server name of a target: its name, or its URL's host unless that
 * is an address. */
static int tls_take(struct rp_engine *e, struct slot *s,
		    const struct rp_target *t)
{
	const char *h = t->name;
	size_t n = h ? strlen(h) : 0;
	char tmp[RP_HOST_MAX];
	struct in6_addr a;

	if (!h && t->host && t->host[0] != '[') {
		h = t->host;
		n = strcspn(h, ":");
		if (n < sizeof(tmp)) {
			memcpy(tmp, h, n);
			tmp[n] = '\0';
			if (inet_pton(AF_INET, tmp, &a) == 1)
				n = 0; /* an address: no name */
		}
	}
	rp__set_host(e, s, h ? h : "", n);
	return 0;
}

/* ---- the cap on handshakes under way ----------------------------------- */

static struct slot *slot_at(struct rp_engine *e, uint32_t i1)
{
	return &e->slots[i1 - 1u];
}

static void wait_push(struct rp_engine *e, struct tls *t, struct slot *s)
{
	struct tls_slot *ts = priv(e, s);
	uint32_t i1 = slot_idx(e, s) + 1u;

	ts->wprev = t->wtail;
	ts->wnext = 0;
	if (t->wtail)
		priv(e, slot_at(e, t->wtail))->wnext = i1;
	else
		t->whead = i1;
	t->wtail = i1;
	ts->waiting = 1;
	e->st.tls_waiting++;
}

static void wait_unlink(struct rp_engine *e, struct tls *t, struct slot *s)
{
	struct tls_slot *ts = priv(e, s);

	if (ts->wprev)
		priv(e, slot_at(e, ts->wprev))->wnext = ts->wnext;
	else
		t->whead = ts->wnext;
	if (ts->wnext)
		priv(e, slot_at(e, ts->wnext))->wprev = ts->wprev;
	else
		t->wtail = ts->wprev;
	ts->wprev = ts->wnext = 0;
	ts->waiting = 0;
	e->st.tls_waiting--;
}

static void take_permit(struct tls *t, struct tls_slot *ts)
{
	ts->permit = 1;
	t->busy++;
}

/* The probe's handshake is over (or never began): its place goes to the
 * probe that waited longest, whose wait op is cancelled; that completion
 * starts its connect (waited()). A stop gives none: every waiter is
 * being cancelled. */
static void put_permit(struct rp_engine *e, struct slot *s)
{
	struct tls *t = state(e);
	struct tls_slot *ts = priv(e, s);
	struct slot *w;

	if (!ts->permit)
		return;
	ts->permit = 0;
	t->busy--;
	if (e->stopping || !t->whead || t->busy >= t->cap)
		return;
	w = slot_at(e, t->whead);
	wait_unlink(e, t, w);
	take_permit(t, priv(e, w));
	rp__cancel_op(e, w);
}

/* ---- the ring side ------------------------------------------------------ */

static void arm(struct rp_engine *e, struct slot *s, bool send)
{
	struct tls_slot *ts = priv(e, s);
	struct io_uring_sqe *sqe = rp__ring_reserve(&e->r, 2);

	if (!sqe) {
		rp__finish(e, s, RP_STATUS_ERROR, -EBUSY);
		return;
	}
	if (send)
		io_uring_prep_send(sqe, slot_fd(e, s), ts->out + ts->out_off,
				   ts->out_len - ts->out_off, MSG_NOSIGNAL);
	else
		rp__prep_recv_buf(e, s, sqe);
	rp__link_op(e, s, sqe, send ? RP__OP_SEND : RP__OP_RECV,
		    IORING_TIMEOUT_ABS);
}

/* Past the cap: wait in line, with a timeout op far away as the probe's
 * op in flight (routed to this stage) until put_permit() cancels it. */
static void wait_turn(struct rp_engine *e, struct slot *s)
{
	struct tls *t = state(e);
	struct tls_slot *ts = priv(e, s);
	struct io_uring_sqe *sqe = rp__ring_reserve(&e->r, 1);

	if (!sqe) {
		rp__finish(e, s, RP_STATUS_ERROR, -EBUSY);
		return;
	}
	if (s->phase != PHASE_CONNECTING)
		rp__set_phase(e, s, PHASE_CONNECTING);
	s->stage = (uint8_t)t->k;
	s->xport = 0;
	s->expire_ns = UINT64_MAX; /* no timer of ours: a cancel is a cancel */
	rp__ts_set(s, e->now_ns + RP_TIMEOUT_MAX_NS);
	io_uring_prep_timeout(sqe, &s->ts, 0, IORING_TIMEOUT_ABS);
	sqe->user_data = rp__ud(s->gen, slot_idx(e, s), RP__OP_WAIT);
	s->op = RP__OP_WAIT;
	s->ops = 1;
	ts->wait_ns = e->now_ns;
	wait_push(e, t, s);
}

/* Before the connect: a place, or the line. */
static bool tls_admit(struct rp_engine *e, struct slot *s)
{
	struct tls *t = state(e);
	struct tls_slot *ts = priv(e, s);

	if (!s->tls || ts->permit)
		return true;
	if (t->busy < t->cap) {
		take_permit(t, ts);
		return true;
	}
	wait_turn(e, s);
	return false;
}

static void tls_resume(struct rp_engine *e, struct slot *s)
{
	arm(e, s, false);
}

/* Sends what OpenSSL wrote, if anything: true if a send is now in flight
 * (or the probe ended). */
static bool flush(struct rp_engine *e, struct slot *s)
{
	struct tls_slot *ts = priv(e, s);
	size_t n = BIO_ctrl_pending(ts->wbio);

	if (!n)
		return false;
	ts->out = malloc(n);
	if (!ts->out) {
		rp__finish(e, s, RP_STATUS_ERROR, -ENOMEM);
		return true;
	}
	ts->out_len = (uint32_t)BIO_read(ts->wbio, ts->out, (int)n);
	ts->out_off = 0;
	arm(e, s, true);
	return true;
}

/* OpenSSL's reason for the last failure, for detail (static text). */
static const char *reason(void)
{
	unsigned long err = ERR_peek_last_error();
	const char *r = err ? ERR_reason_error_string(err) : NULL;

	return r ? r : "connection closed during the handshake";
}

static void handshake_done(struct rp_engine *e, struct slot *s)
{
	struct tls *t = state(e);
	struct tls_slot *ts = priv(e, s);

	ts->tls_us = (uint32_t)((e->now_ns - ts->start_ns) / 1000u);
	put_permit(e, s);
	if (t->verify && SSL_get_verify_result(ts->ssl) != X509_V_OK) {
		s->detail = "certificate verification failed";
		rp__finish(e, s, RP_STATUS_TLS_ERROR, 0);
		return;
	}
	if (t->k + 1u == s->nstages) { /* tls: the handshake is the answer */
		rp__finish(e, s, RP_STATUS_OK, 0);
		return;
	}
	ts->mode = MODE_CARRY;
	s->xport = (uint8_t)(t->k + 1);
	rp__stage_done(e, s);
}

static void handshake(struct rp_engine *e, struct slot *s)
{
	struct tls_slot *ts = priv(e, s);
	int r, err;

	ERR_clear_error();
	r = SSL_do_handshake(ts->ssl);
	err = SSL_get_error(ts->ssl, r);
	if (flush(e, s))
		return; /* goes on once it is sent */
	if (r == 1) {
		handshake_done(e, s);
	} else if (err == SSL_ERROR_WANT_READ) {
		arm(e, s, false);
	} else {
		s->detail = reason();
		rp__finish(e, s, RP_STATUS_TLS_ERROR, 0);
	}
}

/* Hands decrypted bytes up while the upper stage keeps asking. A loop,
 * not recursion: the upper's rp__recv() from inside rp__data() only sets
 * want. Returns when the upper stops asking, OpenSSL needs ciphertext, or
 * the stream ended. */
static void deliver(struct rp_engine *e, struct slot *s)
{
	struct tls_slot *ts = priv(e, s);
	char *buf = state(e)->rbuf;
	int n, err;

	ts->delivering = 1;
	while (ts->want) {
		ts->want = 0;
		ERR_clear_error();
		n = SSL_read(ts->ssl, buf, RP_BUF_SIZE);
		if (n > 0) {
			rp__data(e, s, buf, n);
			if (!ts->ssl)
				return; /* the probe ended or moved on */
			continue;
		}
		err = SSL_get_error(ts->ssl, n);
		ts->delivering = 0;
		if (err == SSL_ERROR_WANT_READ) {
			ts->want = 1;
			if (!flush(e, s))
				arm(e, s, false);
		} else if (err == SSL_ERROR_ZERO_RETURN) {
			rp__data(e, s, NULL, 0);
		} else {
			s->detail = reason();
			rp__data(e, s, NULL, -EPROTO);
		}
		return;
	}
	ts->delivering = 0;
}

/* The next step, with no op in flight. */
static void progress(struct rp_engine *e, struct slot *s)
{
	struct tls_slot *ts = priv(e, s);

	if (flush(e, s))
		return;
	if (ts->mode == MODE_HANDSHAKE) {
		handshake(e, s);
	} else if (ts->msg_sent) {
		ts->msg_sent = 0;
		rp__sent(e, s, (int)ts->msg_len);
	} else if (ts->want) {
		deliver(e, s);
	}
}

/* An op of ours failed or timed out. */
static void io_failed(struct rp_engine *e, struct slot *s, int res)
{
	struct tls_slot *ts = priv(e, s);

	if (ts->mode == MODE_CARRY) { /* the upper decides */
		if (ts->msg_sent) {
			ts->msg_sent = 0;
			rp__sent(e, s, res);
		} else {
			rp__data(e, s, NULL, res);
		}
		return;
	}
	switch (rp__classify(e, s, res)) {
	case END_CANCELLED:
		rp__finish(e, s, RP_STATUS_CANCELLED, 0);
		return;
	case END_TIMEOUT:
		rp__finish(e, s, RP_STATUS_TIMEOUT, 0);
		return;
	case END_RESET:
		s->detail = "connection reset during the handshake";
		rp__finish(e, s, RP_STATUS_TLS_ERROR, res);
		return;
	default:
		rp__finish(e, s, RP_STATUS_ERROR, res);
		return;
	}
}


/* The wait op of a probe in line ended: its turn came (it holds a
 * permit: put_permit() cancelled the op), or the op failed. Its clocks
 * skip the wait. */
static void waited(struct rp_engine *e, struct slot *s, int res)
{
	struct tls_slot *ts = priv(e, s);
	uint64_t w = e->now_ns - ts->wait_ns;

	if (ts->waiting)
		wait_unlink(e, state(e), s);
	if (!ts->permit || res != -ECANCELED) {
		rp__finish(e, s, res == -ETIME ? RP_STATUS_TIMEOUT
					       : RP_STATUS_ERROR, res);
		return;
	}
	s->start_ns += w;
	s->deadline_ns += w;
	rp__slot_go(e, s);
}

static void tls_on_cqe(struct rp_engine *e, struct slot *s,
		       const struct io_uring_cqe *cqe)
{
	struct tls_slot *ts = priv(e, s);
	int res = cqe->res;

	if (rp__ud_op(cqe->user_data) == RP__OP_WAIT) {
		waited(e, s, res);
		return;
	}
	if (rp__ud_op(cqe->user_data) == RP__OP_SEND) {
		if (res < 0) {
			io_failed(e, s, res);
			return;
		}
		ts->out_off += (uint32_t)res;
		if (ts->out_off < ts->out_len) {
			arm(e, s, true); /* short send: the rest */
			return;
		}
		free(ts->out);
		ts->out = NULL;
		progress(e, s);
		return;
	}
	if (res == -ENOBUFS) {
		rp__buf_wait(e, s);
		return;
	}
	if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		BIO_write(ts->rbio, rp__buf_data(e, cqe), res);
		rp__buf_put(e, cqe);
	} else {
		rp__buf_put(e, cqe);
		if (res != 0) {
			io_failed(e, s, res < 0 ? res : -EIO);
			return;
		}
		BIO_set_mem_eof_return(ts->rbio, 0); /* the peer closed */
	}
	progress(e, s);
}

/* ---- the stage ---------------------------------------------------------- */

static void tls_start(struct rp_engine *e, struct slot *s)
{
	struct tls *t = state(e);
	struct tls_slot *ts = priv(e, s);
	const char *name = rp__host(e, s);
	char ip[INET6_ADDRSTRLEN] = "";
	const void *a;

	if (!s->tls) {
		rp__stage_done(e, s); /* plain http */
		return;
	}
	rp__set_phase(e, s, PHASE_HANDSHAKING);
	/* admit() gave it a place; a connect retried after a timeout (its
	 * socket closed, the place given back) goes on past the cap */
	if (!ts->permit)
		take_permit(t, ts);
	ts->ssl = SSL_new(t->ctx);
	ts->rbio = BIO_new(BIO_s_mem());
	ts->wbio = BIO_new(BIO_s_mem());
	if (!ts->ssl || !ts->rbio || !ts->wbio) {
		BIO_free(ts->rbio);
		BIO_free(ts->wbio);
		SSL_free(ts->ssl);
		ts->ssl = NULL;
		ts->rbio = ts->wbio = NULL;
		rp__done(e, s, RP_STATUS_ERROR, -ENOMEM);
		return;
	}
	SSL_set_bio(ts->ssl, ts->rbio, ts->wbio);
	SSL_set_connect_state(ts->ssl);
	if (!name[0] && t->sni)
		name = t->sni;
	/* The certificate must name what we asked for: the name, else the
	 * address we connected to. */
	if (name[0]) {
		SSL_set_tlsext_host_name(ts->ssl, name);
		SSL_set1_host(ts->ssl, name);
	} else {
		a = s->addr.ss_family == AF_INET
			    ? (const void *)&((struct sockaddr_in *)&s->addr)->sin_addr
			    : (const void *)&((struct sockaddr_in6 *)&s->addr)->sin6_addr;
		inet_ntop(s->addr.ss_family, a, ip, sizeof(ip));
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ts->ssl), ip);
	}
	ts->mode = MODE_HANDSHAKE;
	ts->start_ns = e->now_ns;
	rp__arm_expiry(e, s, t->timeout_ns);
	progress(e, s);
}

/* The upper stage's message: encrypted whole, then sent. */
static void tls_send(struct rp_engine *e, struct slot *s,
		     const struct msghdr *msg)
{
	struct tls_slot *ts = priv(e, s);
	size_t total = 0;

	ERR_clear_error();
	for (size_t i = 0; i < msg->msg_iovlen; i++) {
		const struct iovec *v = &msg->msg_iov[i];

		if (!v->iov_len)
			continue;
		/* Memory BIOs take everything: a write is all or error. */
		if (SSL_write(ts->ssl, v->iov_base, (int)v->iov_len) <= 0) {
			s->detail = reason();
			rp__sent(e, s, -EPROTO);
			return;
		}
		total += v->iov_len;
	}
	ts->msg_len = (uint32_t)total;
	ts->msg_sent = 1;
	progress(e, s);
}

static void tls_recv(struct rp_engine *e, struct slot *s)
{
	struct tls_slot *ts = priv(e, s);

	ts->want = 1;
	if (!ts->delivering)
		progress(e, s);
}

static void tls_info(struct rp_engine *e, struct slot *s, struct rp_result *r)
{
	struct tls *t = state(e);
	struct tls_slot *ts = priv(e, s);
	const char *sni;

	if (!ts->ssl)
		return; /* a plain target, or it never started */
	rp__tls_facts(&t->facts, &t->info, ts->ssl, t->sha256, time(NULL));
	/* The SSL goes with the connection, before the result is out. */
	sni = SSL_get_servername(ts->ssl, TLSEXT_NAMETYPE_host_name);
	snprintf(t->facts.sni, sizeof(t->facts.sni), "%s", sni ? sni : "");
	t->info.sni = t->facts.sni;
	t->info.tls_us = ts->tls_us;
	r->tls = &t->info;
}

static void tls_disconnect(struct rp_engine *e, struct slot *s)
{
	struct tls_slot *ts = priv(e, s);

	if (ts->waiting)
		wait_unlink(e, state(e), s);
	put_permit(e, s);
	SSL_free(ts->ssl);
	free(ts->out);
	memset(ts, 0, sizeof(*ts));
}

const struct rp__stage_ops rp__stage_tls = {
	.name = "tls",
	.priv_size = sizeof(struct tls_slot),
	.sends_first = true,
	.uses_bufs = true,
	.init = tls_init,
	.release = tls_release,
	.take = tls_take,
	.admit = tls_admit,
	.start = tls_start,
	.on_cqe = tls_on_cqe,
	.resume = tls_resume,
	.send = tls_send,
	.recv = tls_recv,
	.info = tls_info,
	.disconnect = tls_disconnect,
};
