/*
 * tls_server.c - a TLS target for tests: one client-visible behaviour per
 * --mode, on OpenSSL 3.
 *
 *   rp_tls_server [--mode MODE] [--cert FILE --key FILE] [--chain FILE]
 *                 [--bind ADDR] [--port P] [--alpn LIST] [--slow-ms MS]
 *                 [--max-conns N] [--idle-seconds S] [--max-seconds S]
 *
 * Listens on ADDR (default 127.0.0.1; ::1 works too) port P (default 0:
 * ephemeral), prints the bound port on one line to stdout and flushes, then
 * serves until SIGTERM or SIGINT or until max-seconds (default 300) have
 * passed; then prints "rp_tls_server: N connections, N handshakes, N
 * responses" to stderr and exits 0. Exit 1 on a setup failure (a message
 * names the file or address), 2 on bad usage.
 *
 * --cert is a PEM file with the leaf (and optionally its chain after it),
 * --key its private key, --chain more PEM certificates sent after the leaf
 * in file order. The modes that never finish a handshake (silent, garbage,
 * close) need neither.
 *
 *  good      TLS 1.2 or 1.3; after the handshake one HTTP/1.1 request is
 *            read (up to CRLFCRLF, at most 16 KiB) and answered 200 with
 *            Content-Length, Connection: close and a text/html page titled
 *            "rp_tls_server MODE"; a HEAD request gets the headers only.
 *            Then close_notify and close. Every mode that completes the
 *            handshake serves HTTP the same way.
 *  tls12     TLS 1.2 only: a client that offers only 1.3 gets a
 *            protocol_version alert.
 *  tls13     TLS 1.3 only.
 *  tls11     TLS 1.1 only, and
 *  tls10     TLS 1.0 only. OpenSSL 3.0 refuses TLS < 1.2 at security level 1
 *            and up (SHA-1 signatures), so these set security level 0
 *            (SSL_CTX_set_security_level and the cipher string
 *            "DEFAULT:@SECLEVEL=0"). A client must do the same to connect:
 *            `openssl s_client -tls1 -cipher DEFAULT:@SECLEVEL=0`.
 *  silent    accept, read the ClientHello, never send a byte; close when
 *            the client does (or after idle-seconds without input).
 *  garbage   read the ClientHello, answer with 512 bytes of text that are
 *            not a TLS record, then close.
 *  close     read the ClientHello (the whole record, so the close is a FIN,
 *            not a reset), then close.
 *  alert     answer the ClientHello with a fatal handshake_failure alert
 *            (40) from OpenSSL's client-hello callback, then close.
 *  slow      a normal handshake, but every byte the server sends until it
 *            is complete goes out alone, slow-ms (default 1000) after the
 *            previous one (the first slow-ms after the ClientHello); stops
 *            when the client goes away. After the handshake (TLS 1.3
 *            session tickets, HTTP) bytes go at full speed.
 *  bigchain  as good; refuses to start without --chain and prints the
 *            chain's certificate count and DER size to stderr.
 *
 * --alpn LIST (e.g. h2,http/1.1) makes the server select ALPN: the first
 * protocol of LIST the client also offers; with no overlap, the handshake
 * goes on without ALPN (as nginx does). Without --alpn it ignores ALPN.
 * Whatever ALPN chose, the server speaks HTTP/1.1 only (a client that
 * got h2 and sends the HTTP/2 preface gets an HTTP/1.1 answer).
 *
 * One thread per connection, at most max-conns (default 1024) at once;
 * further connections wait in the listen backlog. A connection with no
 * input for idle-seconds (default 30) is closed. This file parses the
 * options and accepts; tls_server_conn.c builds the SSL_CTX and serves a
 * connection.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "srv_common.h"
#include "tls_server.h"

#define STACK_SIZE (256 * 1024) /* per connection thread */

static const struct mode_desc modes[] = {
    {"good", K_TLS, TLS1_2_VERSION, 0, 0},
    {"tls12", K_TLS, TLS1_2_VERSION, TLS1_2_VERSION, 0},
    {"tls13", K_TLS, TLS1_3_VERSION, TLS1_3_VERSION, 0},
    {"tls11", K_TLS, TLS1_1_VERSION, TLS1_1_VERSION, M_SECLEVEL0},
    {"tls10", K_TLS, TLS1_VERSION, TLS1_VERSION, M_SECLEVEL0},
    {"silent", K_SILENT, 0, 0, 0},
    {"garbage", K_GARBAGE, 0, 0, 0},
    {"close", K_CLOSE, 0, 0, 0},
    {"alert", K_TLS, TLS1_2_VERSION, 0, M_ALERT},
    {"slow", K_TLS, TLS1_2_VERSION, 0, M_SLOW},
    {"bigchain", K_TLS, TLS1_2_VERSION, 0, M_NEEDS_CHAIN},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--mode MODE] [--cert FILE --key FILE] "
		"[--chain FILE]\n"
		"                     [--bind ADDR] [--port P] [--alpn LIST] "
		"[--slow-ms MS]\n"
		"                     [--max-conns N] [--idle-seconds S] "
		"[--max-seconds S]\n"
		"MODE: good tls12 tls13 tls11 tls10 silent garbage close "
		"alert slow bigchain\n");
}

/* "h2,http/1.1" -> "\x02h2\x08http/1.1"; returns 0 or -1. */
static int parse_alpn(struct server *sv, const char *list)
{
	unsigned n = 0;

	for (const char *p = list;;) {
		size_t len = strcspn(p, ",");
		if (len == 0 || len > 255 || n + 1 + len > sizeof(sv->alpn))
			return -1;
		sv->alpn[n++] = (unsigned char)len;
		memcpy(sv->alpn + n, p, len);
		n += (unsigned)len;
		if (!p[len])
			break;
		p += len + 1;
	}
	sv->alpn_len = n;
	return 0;
}

static int set_mode(struct server *sv, const char *name)
{
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		if (!strcmp(name, modes[m].name)) {
			sv->mode = &modes[m];
			return 0;
		}
	}
	return -1;
}

/* Parses an integer option value in [lo, hi] into *out; 0 or -1. */
static int int_opt(const char *v, long lo, long hi, int *out)
{
	long n;

	if (srv_parse_long(v, lo, hi, &n))
		return -1;
	*out = (int)n;
	return 0;
}

/* Applies option a with value v: 0, -1 (bad value), -2 (unknown). */
static int parse_opt(struct server *sv, const char *a, const char *v)
{
	if (!strcmp(a, "--mode"))
		return set_mode(sv, v);
	if (!strcmp(a, "--alpn"))
		return parse_alpn(sv, v);
	if (!strcmp(a, "--port"))
		return int_opt(v, 0, 65535, &sv->port);
	if (!strcmp(a, "--slow-ms"))
		return int_opt(v, 1, 600000, &sv->slow_ms);
	if (!strcmp(a, "--max-conns"))
		return int_opt(v, 1, 100000, &sv->max_conns);
	if (!strcmp(a, "--idle-seconds"))
		return srv_parse_seconds(v, &sv->idle_seconds);
	if (!strcmp(a, "--max-seconds"))
		return srv_parse_seconds(v, &sv->max_seconds);
	if (!strcmp(a, "--cert"))
		sv->cert = v;
	else if (!strcmp(a, "--key"))
		sv->key = v;
	else if (!strcmp(a, "--chain"))
		sv->chain = v;
	else if (!strcmp(a, "--bind"))
		sv->bind_addr = v;
	else
		return -2;
	return 0;
}

static int parse_args(struct server *sv, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!v) {
			fprintf(stderr, PROG ": %s: missing value\n", a);
			return -1;
		}
		i++;
		int rc = parse_opt(sv, a, v);
		if (rc == -2) {
			fprintf(stderr, PROG ": unknown option %s\n", a);
			return -1;
		}
		if (rc) {
			fprintf(stderr, PROG ": bad value for %s: %s\n", a, v);
			return -1;
		}
	}
	if (sv->mode->kind == K_TLS && (!sv->cert || !sv->key)) {
		fprintf(stderr, PROG ": --mode %s needs --cert and --key\n",
			sv->mode->name);
		return -1;
	}
	if ((sv->mode->flags & M_NEEDS_CHAIN) && !sv->chain) {
		fprintf(stderr, PROG ": --mode %s needs --chain\n",
			sv->mode->name);
		return -1;
	}
	return 0;
}

/* ---- accepting -------------------------------------------------------- */

static void set_timeouts(const struct server *sv, int fd)
{
	struct timeval tv = {
	    .tv_sec = (time_t)sv->idle_seconds,
	    .tv_usec = (suseconds_t)((sv->idle_seconds -
				      (double)(time_t)sv->idle_seconds) *
				     1e6),
	};
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Hands fd to a new thread in a free slot; the caller checked there is
 * one. Returns 0, or -1 with fd closed. */
static int start_conn(struct server *sv, int fd, const pthread_attr_t *attr)
{
	struct conn *c = NULL;
	pthread_t tid;

	set_timeouts(sv, fd);
	pthread_mutex_lock(&sv->lock);
	for (int i = 0; i < sv->max_conns && !c; i++)
		if (sv->conns[i].fd < 0)
			c = &sv->conns[i];
	c->fd = fd;
	sv->active++;
	pthread_mutex_unlock(&sv->lock);
	atomic_fetch_add(&sv->accepted, 1);
	if (pthread_create(&tid, attr, tls_conn_main, c) == 0)
		return 0;
	pthread_mutex_lock(&sv->lock);
	close(fd);
	c->fd = -1;
	sv->active--;
	pthread_mutex_unlock(&sv->lock);
	return -1;
}

static int has_slot(struct server *sv)
{
	pthread_mutex_lock(&sv->lock);
	int r = sv->active < sv->max_conns;
	pthread_mutex_unlock(&sv->lock);
	return r;
}

/* Accepts until the backlog is empty or the slots are full; returns -1
 * if accepting should pause (out of slots, descriptors or threads). */
static int accept_some(struct server *sv, int lfd, const pthread_attr_t *a)
{
	while (has_slot(sv)) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return errno == EAGAIN || errno == EINTR ||
				       errno == ECONNABORTED
				   ? 0
				   : -1;
		if (start_conn(sv, fd, a))
			return -1;
	}
	return -1;
}

/* Stops every connection (their sockets are shut down, so blocked calls
 * return) and waits up to 3 s for their threads to finish. */
static void stop_all(struct server *sv)
{
	struct timespec until;

	atomic_store(&sv->stopping, 1);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 3;
	pthread_mutex_lock(&sv->lock);
	for (int i = 0; i < sv->max_conns; i++)
		if (sv->conns[i].fd >= 0)
			shutdown(sv->conns[i].fd, SHUT_RDWR);
	while (sv->active > 0)
		if (pthread_cond_timedwait(&sv->gone, &sv->lock, &until))
			break;
	pthread_mutex_unlock(&sv->lock);
}

static void serve(struct server *sv, int lfd, int sfd)
{
	pthread_attr_t attr;
	double deadline = srv_now() + sv->max_seconds;
	int paused = 0;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	for (;;) {
		double left = deadline - srv_now();
		if (left <= 0)
			break;
		struct pollfd p[2] = {
		    {.fd = sfd, .events = POLLIN},
		    {.fd = lfd, .events = paused ? 0 : POLLIN},
		};
		int ms = paused	      ? 20
			 : left > 1.0 ? 1000
				      : (int)(left * 1000) + 1;
		int n = poll(p, 2, ms);
		if (n < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break; /* SIGTERM or SIGINT */
		paused = accept_some(sv, lfd, &attr) < 0;
	}
	pthread_attr_destroy(&attr);
	stop_all(sv);
}

static int init_slots(struct server *sv)
{
	pthread_condattr_t ca;
	struct rlimit rl;

	/* One descriptor per connection: allow as many as we may. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sv->conns = calloc((size_t)sv->max_conns, sizeof(*sv->conns));
	if (!sv->conns)
		return -1;
	for (int i = 0; i < sv->max_conns; i++) {
		sv->conns[i].sv = sv;
		sv->conns[i].fd = -1;
	}
	pthread_mutex_init(&sv->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sv->gone, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

int main(int argc, char **argv)
{
	static struct server sv = {
	    .bind_addr = "127.0.0.1",
	    .mode = &modes[0],
	    .slow_ms = 1000,
	    .max_conns = 1024,
	    .idle_seconds = 30,
	    .max_seconds = 300,
	};
	int rc = 1;
	int port;

	if (parse_args(&sv, argc, argv)) {
		usage(stderr);
		return 2;
	}
	if (sv.mode->kind == K_TLS && tls_make_ctx(&sv))
		goto out_ctx;
	if (init_slots(&sv))
		goto out_ctx;
	int sfd = srv_signalfd(PROG); /* before any thread starts */
	if (sfd < 0)
		goto out_slots;
	int lfd = srv_listen(PROG, sv.bind_addr, sv.port, 4096, &port);
	if (lfd < 0)
		goto out_sfd;
	printf("%d\n", port);
	if (fflush(stdout) == 0) {
		serve(&sv, lfd, sfd);
		fprintf(stderr,
			PROG ": %lu connections, %lu handshakes, "
			     "%lu responses\n",
			atomic_load(&sv.accepted), atomic_load(&sv.handshakes),
			atomic_load(&sv.responses));
		rc = 0;
	}
	close(lfd);
out_sfd:
	close(sfd);
out_slots:
	/* A thread still running after stop_all keeps its slot: leave the
	 * slots to the exit rather than free them under it. */
	pthread_mutex_lock(&sv.lock);
	if (rc || sv.active == 0)
		free(sv.conns);
	pthread_mutex_unlock(&sv.lock);
out_ctx:
	SSL_CTX_free(sv.ctx);
	return rc;
}
