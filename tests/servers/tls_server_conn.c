/*
 * tls_server_conn.c - rp_tls_server's OpenSSL side: the SSL_CTX for a mode,
 * and the thread that serves one connection (see tls_server.c for what
 * each mode does).
 *
 * Each connection drives its SSL through memory BIOs: every byte the
 * server sends passes through flush_out, where slow mode delays it, and
 * every byte it reads through fill_in.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "tls_server.h"

#define REQ_MAX 16384		 /* request head limit, CRLFCRLF included */
#define HELLO_MAX (16384 + 2048) /* a TLS record's largest body */
#define DRAIN_SECONDS 5		 /* wait for the client's close at the end */

/* ---- the SSL_CTX ------------------------------------------------------ */

static void ssl_fail(const char *what, const char *file)
{
	char buf[256];

	ERR_error_string_n(ERR_peek_last_error(), buf, sizeof(buf));
	fprintf(stderr, PROG ": %s %s: %s\n", what, file ? file : "", buf);
}

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned inlen, void *arg)
{
	struct server *sv = arg;
	unsigned char *sel;
	unsigned char len;

	(void)ssl;
	if (SSL_select_next_proto(&sel, &len, sv->alpn, sv->alpn_len, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	*outlen = len;
	return SSL_TLSEXT_ERR_OK;
}

static int fail_hello(SSL *ssl, int *al, void *arg)
{
	(void)ssl;
	(void)arg;
	*al = SSL_AD_HANDSHAKE_FAILURE;
	return SSL_CLIENT_HELLO_ERROR;
}

/* Adds every certificate in --chain after the leaf; says how many. */
static int load_chain(struct server *sv)
{
	BIO *in = BIO_new_file(sv->chain, "r");
	X509 *x;
	int n = 0;
	long bytes = 0;

	if (!in) {
		ssl_fail("cannot open", sv->chain);
		return -1;
	}
	while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL))) {
		bytes += i2d_X509(x, NULL);
		if (!SSL_CTX_add0_chain_cert(sv->ctx, x)) {
			X509_free(x);
			BIO_free(in);
			ssl_fail("cannot add chain certificate from",
				 sv->chain);
			return -1;
		}
		n++;
	}
	BIO_free(in);
	ERR_clear_error(); /* the end of the file is a PEM "error" */
	if (!n) {
		fprintf(stderr, PROG ": %s: no certificate\n", sv->chain);
		return -1;
	}
	if (sv->mode->flags & M_NEEDS_CHAIN)
		fprintf(stderr,
			PROG ": chain: %d certificates, %ld bytes DER\n", n,
			bytes);
	return 0;
}

int tls_make_ctx(struct server *sv)
{
	const struct mode_desc *m = sv->mode;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		ssl_fail("SSL_CTX_new", NULL);
		return -1;
	}
	sv->ctx = ctx;
	if (m->flags & M_SECLEVEL0) {
		SSL_CTX_set_security_level(ctx, 0);
		if (!SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0")) {
			ssl_fail("cipher list", NULL);
			return -1;
		}
	}
	if (!SSL_CTX_set_min_proto_version(ctx, m->min_version) ||
	    !SSL_CTX_set_max_proto_version(ctx, m->max_version)) {
		ssl_fail("protocol versions", NULL);
		return -1;
	}
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (SSL_CTX_use_certificate_chain_file(ctx, sv->cert) != 1) {
		ssl_fail("cannot load certificate", sv->cert);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, sv->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ssl_fail("cannot use key", sv->key);
		return -1;
	}
	if (sv->chain && load_chain(sv))
		return -1;
	if (sv->alpn_len)
		SSL_CTX_set_alpn_select_cb(ctx, on_alpn, sv);
	if (m->flags & M_ALERT)
		SSL_CTX_set_client_hello_cb(ctx, fail_hello, NULL);
	return 0;
}

/* ---- moving bytes ----------------------------------------------------- */

/* Waits ms; returns -1 early if the client hung up or we are stopping. */
static int slow_wait(struct conn *c, int ms)
{
	struct pollfd p = {.fd = c->fd, .events = POLLRDHUP};

	if (atomic_load(&c->sv->stopping))
		return -1;
	return poll(&p, 1, ms) == 0 ? 0 : -1;
}

static int send_all(struct conn *c, const char *p, size_t n, int slow)
{
	while (n) {
		size_t chunk = slow ? 1 : n;
		if (slow && slow_wait(c, c->sv->slow_ms))
			return -1;
		ssize_t w = send(c->fd, p, chunk, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Sends what OpenSSL wrote to wbio; slow sends it a byte at a time. */
static int flush_out(struct conn *c, int slow)
{
	char buf[4096];
	int n;

	while ((n = BIO_read(c->wbio, buf, sizeof(buf))) > 0)
		if (send_all(c, buf, (size_t)n, slow))
			return -1;
	return 0;
}

/* One recv into rbio; returns its result (0 = EOF, -1 = error/idle). */
static ssize_t fill_in(struct conn *c)
{
	char buf[16384];
	ssize_t n;

	do
		n = recv(c->fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n > 0 && BIO_write(c->rbio, buf, (int)n) != n)
		return -1;
	return n;
}

enum tls_op { OP_HANDSHAKE, OP_READ, OP_WRITE };

/*
 * Runs one SSL call to completion over the socket: flushes whatever it
 * wrote, feeds it input while it wants more. Returns the call's positive
 * result, 0 if the client closed, -1 on a TLS or socket error.
 */
static int tls_call(struct conn *c, enum tls_op op, void *buf, int len)
{
	int slow_mode = op == OP_HANDSHAKE && (c->sv->mode->flags & M_SLOW);

	for (;;) {
		int r;

		ERR_clear_error();
		if (op == OP_HANDSHAKE)
			r = SSL_do_handshake(c->ssl);
		else if (op == OP_READ)
			r = SSL_read(c->ssl, buf, len);
		else
			r = SSL_write(c->ssl, buf, len);
		int err = r > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
		/* Flush even on failure: that is how an alert goes out. Slow
		 * mode trickles only what is sent before the handshake is
		 * complete (not TLS 1.3's session tickets after it). */
		if (flush_out(c, slow_mode && !SSL_is_init_finished(c->ssl)))
			return -1;
		if (r > 0)
			return r;
		if (err == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (err != SSL_ERROR_WANT_READ)
			return -1;
		ssize_t n = fill_in(c);
		if (n <= 0)
			return (int)n;
	}
}

static int recv_full(int fd, unsigned char *p, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Reads the first TLS record (the ClientHello) whole; 0 or -1. */
static int read_hello(struct conn *c)
{
	unsigned char buf[HELLO_MAX];

	if (recv_full(c->fd, buf, 5))
		return -1;
	size_t len = (size_t)buf[3] << 8 | buf[4];
	if (buf[0] != 0x16 || len > sizeof(buf))
		return 0; /* not TLS: nothing more to wait for */
	return recv_full(c->fd, buf, len);
}

/* Reads and drops input until EOF or the idle timeout. */
static void drain(int fd)
{
	char buf[4096];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EINTR))
			return;
	}
}

/* ---- behaviours ------------------------------------------------------- */

static void serve_http(struct conn *c)
{
	char req[REQ_MAX];
	char out[1024];
	char body[256];
	int n = 0;

	while (n < (int)sizeof(req) && !memmem(req, (size_t)n, "\r\n\r\n", 4)) {
		int r = tls_call(c, OP_READ, req + n, (int)sizeof(req) - n);
		if (r <= 0)
			return;
		n += r;
	}
	int blen =
	    snprintf(body, sizeof(body),
		     "<!DOCTYPE html>\n<html><head><title>" PROG
		     " %s</title></head>\n<body><p>served over TLS by " PROG
		     "</p></body></html>\n",
		     c->sv->mode->name);
	int head = n >= 5 && !memcmp(req, "HEAD ", 5);
	int olen = snprintf(out, sizeof(out),
			    "HTTP/1.1 200 OK\r\nServer: rp-tls-server\r\n"
			    "Content-Type: text/html\r\nContent-Length: %d\r\n"
			    "Connection: close\r\n\r\n%s",
			    blen, head ? "" : body);
	if (tls_call(c, OP_WRITE, out, olen) == olen)
		atomic_fetch_add(&c->sv->responses, 1);
}

static void serve_tls(struct conn *c)
{
	c->ssl = SSL_new(c->sv->ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->rbio || !c->wbio) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		return;
	}
	SSL_set_bio(c->ssl, c->rbio, c->wbio); /* the SSL owns them now */
	SSL_set_accept_state(c->ssl);
	if (tls_call(c, OP_HANDSHAKE, NULL, 0) != 1)
		return;
	atomic_fetch_add(&c->sv->handshakes, 1);
	serve_http(c);
	ERR_clear_error();
	SSL_shutdown(c->ssl); /* queues close_notify */
	flush_out(c, 0);
}

static void serve_garbage(struct conn *c)
{
	static const char line[] = "this is not TLS: rp_tls_server garbage\r\n";
	char buf[512];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = line[i % (sizeof(line) - 1)];
	send_all(c, buf, sizeof(buf), 0);
}

void *tls_conn_main(void *arg)
{
	struct conn *c = arg;
	struct server *sv = c->sv;

	if (sv->mode->kind == K_TLS) {
		serve_tls(c);
	} else if (read_hello(c) == 0) {
		if (sv->mode->kind == K_SILENT)
			drain(c->fd);
		else if (sv->mode->kind == K_GARBAGE)
			serve_garbage(c);
	}
	if (sv->mode->kind != K_CLOSE) {
		/* Our side is done: FIN, then let the client close first so
		 * that unread input never turns our close into a reset. */
		struct timeval tv = {.tv_sec = DRAIN_SECONDS};
		shutdown(c->fd, SHUT_WR);
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		drain(c->fd);
	}
	SSL_free(c->ssl);
	c->ssl = NULL;
	/* Free this thread's OpenSSL state (its error queue) now: the thread
	 * is detached, and main may exit as soon as we signal, before the
	 * thread-exit destructor would run (LeakSanitizer saw the 904 bytes). */
	OPENSSL_thread_stop();

	pthread_mutex_lock(&sv->lock);
	close(c->fd);
	c->fd = -1;
	sv->active--;
	pthread_cond_signal(&sv->gone);
	pthread_mutex_unlock(&sv->lock);
	return NULL;
}
