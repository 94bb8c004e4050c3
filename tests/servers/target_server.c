/*
 * target_server.c - a small TCP target for tests, perf runs and the demo.
 *
 *   rp_target_server [--bind ADDR] [--ports N | --port P ...]
 *                    [--mode accept-close|http|raw] [--dir DIR]
 *                    [--backlog N] [--max-seconds S]
 *
 * Opens listening TCP sockets on ADDR (default 127.0.0.1; an IPv6 literal
 * such as ::1 works too), on N ephemeral ports (default 1) or on the given
 * ports, prints each bound port on its own line to stdout and flushes, so a
 * test can read exactly as many lines as it asked for and then probe. It
 * then serves connections in one epoll loop until SIGTERM or SIGINT, or
 * until max-seconds have passed (default 300, so a forgotten server never
 * outlives a test run by much). Exit status 0 on a signal or the time limit,
 * 1 on a setup failure, 2 on bad usage.
 *
 * Behaviours are chosen by --mode; each mode is one on_accept function.
 *
 *  accept-close  accept, then close at once, so the prober sees OPEN and
 *                the server holds nothing (the default)
 *  http          read one request (up to CRLFCRLF, at most 16 KiB), then
 *                answer as the request path says; see http_routes below:
 *
 *    /fixed        200, Content-Length, Server: rp-target, text/html,
 *                  title "Fixed Page" (FIXED_BODY)
 *    /chunked      200 chunked, several chunks, title "Chunked Title"
 *    /eof          200 without Content-Length: body, then close
 *    /huge         200 with a 50 MiB body (Content-Length), written as the
 *                  socket allows until done or the peer goes away
 *    /slow         200, Content-Length 100, one body byte every 100 ms
 *    /garbage      512 random bytes that are not HTTP, then close
 *    /reset        status line and headers (Content-Length 1000), 10 body
 *                  bytes, 50 ms later an RST (SO_LINGER 0 + close)
 *    /204 /304     no body
 *    /redirect     301, Location: /fixed
 *    /redirect-abs 302, Location: http://127.0.0.1:PORT/fixed, the address
 *                  and port the connection came in on ([::1] for IPv6)
 *    /redirect-https  301, Location: https://127.0.0.1/
 *    /redirect-rel 301, Location: fixed (relative, no leading '/')
 *    /loop         301, Location: /loop (a redirect loop)
 *    /to?LOC       302, Location: LOC percent-decoded (any redirect a test
 *                  needs: another host or port, another scheme, a space;
 *                  400 if LOC decodes to a CR, LF or NUL)
 *    /show/...     200, title = the request target as received (to see
 *                  how a client encoded it)
 *    /continue     "100 Continue", 50 ms later a 200 titled "After Continue"
 *    /split-title  200 Content-Length, body in 4 writes 30 ms apart that
 *                  split the title tags: "<ti|tle>Split |Title</ti|tle>"
 *    /hang         never answer; close when the client does
 *    /bigheaders   200 with 100 KiB of headers, title "Big Headers"
 *    /entities     title "A &amp; B &lt;C&gt; &#x263A; &quot;q&quot;"
 *    /head-cl      Content-Length 5000 for any method, the body unless HEAD
 *    /echo         200, title "ua=U|x-test=X|host=H" from those request
 *                  headers ("-" if absent), then the request head as
 *                  received in the body
 *    /headers      200, title "host,user-agent,...|host=H": the request's
 *                  header names in order, lowercased, and its Host
 *    /hostile      a title with ESC sequences, quotes, commas, CR and LF,
 *                  and a Server header with quotes and commas
 *    anything else 404 with a small body
 *
 *                HEAD requests get headers only, everywhere. Every answer
 *                says Connection: close; after the last byte the server
 *                shuts its side down and reads until the client closes (at
 *                most 5 s), so it never resets a connection by accident.
 *  raw           read one request like http, then send the bytes of the
 *                file DIR/NAME (--dir DIR; NAME is the path's last
 *                segment: letters, digits, '.', '_', '-', not starting
 *                with '.') exactly as they are, whatever the method, and
 *                close the same way; 404 if there is no such file. For
 *                replaying recorded responses, malformed ones included.
 *
 * One thread, one epoll loop, non-blocking sockets, per-connection state;
 * delays are per-connection timerfds in the same epoll set.
 *
 * No engine dependency: this is plain sockets, so a broken engine can never
 * break the thing it is tested against.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "srv_common.h"

#define MAX_LISTENERS 1024

struct server;
struct conn;

enum mode {
	MODE_ACCEPT_CLOSE, /* accept and close immediately */
	MODE_HTTP,         /* one HTTP request, answered by path */
	MODE_RAW,          /* one HTTP request, answered with a file's bytes */
};

struct mode_desc {
	const char *name; /* --mode value */
	/* takes ownership of the accepted fd */
	void (*on_accept)(struct server *sv, int fd);
};

static void accept_close(struct server *sv, int fd);
static void http_accept(struct server *sv, int fd);

static const struct mode_desc modes[] = {
	[MODE_ACCEPT_CLOSE] = {"accept-close", accept_close},
	[MODE_HTTP] = {"http", http_accept},
	[MODE_RAW] = {"raw", http_accept},
};

/* What an epoll event points at (data.ptr). */
enum ev_kind {
	EV_SIGNAL,
	EV_LISTENER,
	EV_CONN,  /* a connection's socket */
	EV_TIMER, /* a connection's timerfd */
};

struct ev_tag {
	enum ev_kind kind;
	int idx; /* listener index */
};

struct server {
	const char *bind_addr;     /* --bind */
	int nports;                /* --ports N (ephemeral) */
	int fixed[MAX_LISTENERS];  /* --port P ... */
	int nfixed;                /* how many --port */
	int backlog;               /* listen(2) backlog */
	double max_seconds;        /* lifetime limit */
	const struct mode_desc *mode;
	const char *dir;           /* --dir: raw mode's files */
	int lfd[MAX_LISTENERS];    /* listening sockets */
	int nl;                    /* how many are open */
	uint64_t accepted;         /* connections served */
	int ep;                    /* the epoll set */
	struct ev_tag ltag[MAX_LISTENERS]; /* epoll tags of the listeners */
	struct conn *conns;        /* live HTTP connections */
	struct conn *dead;         /* closed, freed after the event batch */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: rp_target_server [--bind ADDR] [--ports N | --port P "
		   "...]\n"
		   "                        [--mode accept-close|http|raw] "
		   "[--dir DIR]\n"
		   "                        [--backlog N] [--max-seconds S]\n");
}

static int parse_args(struct server *sv, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		long n;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!v) {
			fprintf(stderr, "rp_target_server: %s: missing value\n",
				a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--bind")) {
			sv->bind_addr = v;
		} else if (!strcmp(a, "--dir")) {
			sv->dir = v;
		} else if (!strcmp(a, "--ports")) {
			if (srv_parse_long(v, 1, MAX_LISTENERS, &n))
				goto bad;
			sv->nports = (int)n;
		} else if (!strcmp(a, "--port")) {
			if (sv->nfixed == MAX_LISTENERS ||
			    srv_parse_long(v, 1, 65535, &n))
				goto bad;
			sv->fixed[sv->nfixed++] = (int)n;
		} else if (!strcmp(a, "--backlog")) {
			if (srv_parse_long(v, 1, 1 << 20, &n))
				goto bad;
			sv->backlog = (int)n;
		} else if (!strcmp(a, "--max-seconds")) {
			if (srv_parse_seconds(v, &sv->max_seconds))
				goto bad;
		} else if (!strcmp(a, "--mode")) {
			sv->mode = NULL;
			for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]);
			     m++)
				if (!strcmp(v, modes[m].name))
					sv->mode = &modes[m];
			if (!sv->mode)
				goto bad;
		} else {
			fprintf(stderr, "rp_target_server: unknown option %s\n",
				a);
			return -1;
		}
		continue;
bad:
		fprintf(stderr, "rp_target_server: bad value for %s: %s\n", a,
			v);
		return -1;
	}
	if ((sv->mode == &modes[MODE_RAW]) != (sv->dir != NULL)) {
		fprintf(stderr, "rp_target_server: --dir goes with --mode raw, "
				"and only with it\n");
		return -1;
	}
	if (sv->nports && sv->nfixed) {
		fprintf(stderr, "rp_target_server: --ports and --port are "
				"exclusive\n");
		return -1;
	}
	return 0;
}

/* ---- accept-close ------------------------------------------------------ */

static void accept_close(struct server *sv, int fd)
{
	(void)sv;
	close(fd);
}

/* ---- http -------------------------------------------------------------- */

#define REQ_MAX 16384          /* request head limit, CRLFCRLF included */
#define DRAIN_MS 5000          /* lingering close: wait for the client */
#define HUGE_BODY (50u << 20)  /* /huge body length */
#define PATTERN_LEN 65536      /* bytes per SEG_GEN send */

#define FIXED_BODY                                                             \
	"<html><head><title>Fixed Page</title></head><body>hello</body></html>"

/* One step of a connection's answer, done in order. */
enum seg_kind {
	SEG_DATA,  /* send buf[off..len) */
	SEG_GEN,   /* send `left` more bytes of "0123456789abcdef"...; off
	            * counts those sent */
	SEG_DELAY, /* wait ms */
	SEG_RST,   /* abort: SO_LINGER 0 + close */
	SEG_HANG,  /* send nothing more; close when the client does */
	SEG_CLOSE, /* shut down our side, read until the client closes */
};

struct seg {
	enum seg_kind kind;
	char *buf;
	size_t len, off;
	uint64_t left;
	int ms;
};

enum conn_state {
	C_READ,  /* reading the request head */
	C_SEND,  /* running the segments */
	C_HANG,  /* reading and discarding until EOF */
	C_DRAIN, /* our side shut down; reading until EOF or the timer */
};

struct conn {
	struct ev_tag tag;   /* EV_CONN */
	struct ev_tag ttag;  /* EV_TIMER */
	struct server *sv;
	int fd;
	int tfd;             /* timerfd, -1 until first needed */
	enum conn_state st;
	uint32_t events;     /* current epoll interest of fd */
	int waiting;         /* a SEG_DELAY timer is armed */
	int dead;
	int head;            /* the request was HEAD: no body bytes */
	struct seg *segs;
	int nseg, cap, cur;
	size_t rlen;
	struct conn *prev, *next;
	char req[REQ_MAX + 1];
};

#define CONN_OF(p, member)                                                     \
	((struct conn *)(void *)((char *)(p) - offsetof(struct conn, member)))

static void conn_kill(struct conn *c)
{
	struct server *sv = c->sv;

	if (c->dead)
		return;
	c->dead = 1;
	if (c->fd >= 0)
		close(c->fd);
	if (c->tfd >= 0)
		close(c->tfd);
	c->fd = c->tfd = -1;
	for (int i = 0; i < c->nseg; i++)
		free(c->segs[i].buf);
	free(c->segs);
	c->segs = NULL;
	c->nseg = 0;
	/* unlink from the live list, park on the dead list: events of this
	 * batch may still point at it */
	if (c->prev)
		c->prev->next = c->next;
	else
		sv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = sv->dead;
	sv->dead = c;
}

static void reap_dead(struct server *sv)
{
	while (sv->dead) {
		struct conn *c = sv->dead;
		sv->dead = c->next;
		free(c);
	}
}

static void want(struct conn *c, uint32_t events)
{
	if (c->dead || c->events == events)
		return;
	struct epoll_event ev = {.events = events, .data.ptr = &c->tag};
	if (epoll_ctl(c->sv->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		conn_kill(c);
		return;
	}
	c->events = events;
}

static int arm_timer(struct conn *c, int ms)
{
	if (c->tfd < 0) {
		c->tfd = timerfd_create(CLOCK_MONOTONIC,
					TFD_NONBLOCK | TFD_CLOEXEC);
		if (c->tfd < 0)
			return -1;
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.ptr = &c->ttag};
		if (epoll_ctl(c->sv->ep, EPOLL_CTL_ADD, c->tfd, &ev) < 0)
			return -1;
	}
	struct itimerspec its = {
		.it_value = {.tv_sec = ms / 1000,
			     .tv_nsec = (long)(ms % 1000) * 1000000L + 1},
	};
	return timerfd_settime(c->tfd, 0, &its, NULL);
}

static struct seg *add_seg(struct conn *c, enum seg_kind kind)
{
	if (c->nseg == c->cap) {
		int cap = c->cap ? c->cap * 2 : 16;
		struct seg *s = realloc(c->segs, (size_t)cap * sizeof(*s));
		if (!s) {
			perror("rp_target_server: realloc");
			exit(1);
		}
		c->segs = s;
		c->cap = cap;
	}
	struct seg *s = &c->segs[c->nseg++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	return s;
}

static void add_data(struct conn *c, const void *p, size_t n)
{
	struct seg *s = add_seg(c, SEG_DATA);
	s->buf = malloc(n ? n : 1);
	if (!s->buf) {
		perror("rp_target_server: malloc");
		exit(1);
	}
	memcpy(s->buf, p, n);
	s->len = n;
}

static void add_str(struct conn *c, const char *s)
{
	add_data(c, s, strlen(s));
}

/* Body bytes: dropped for HEAD requests. */
static void add_body(struct conn *c, const void *p, size_t n)
{
	if (!c->head)
		add_data(c, p, n);
}

static void add_fmt(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void add_fmt(struct conn *c, const char *fmt, ...)
{
	char *p = NULL;
	va_list ap;

	va_start(ap, fmt);
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0) {
		perror("rp_target_server: vasprintf");
		exit(1);
	}
	struct seg *s = add_seg(c, SEG_DATA);
	s->buf = p;
	s->len = (size_t)n;
}

static void add_delay(struct conn *c, int ms)
{
	add_seg(c, SEG_DELAY)->ms = ms;
}

/* Status line and the common headers. clen < 0: no Content-Length.
 * extra: more header lines, each ending in CRLF, or "". */
static void add_head(struct conn *c, int code, const char *reason,
		     const char *ctype, long long clen, const char *extra)
{
	add_fmt(c, "HTTP/1.1 %d %s\r\nServer: rp-target\r\n", code, reason);
	if (ctype)
		add_fmt(c, "Content-Type: %s\r\n", ctype);
	if (clen >= 0)
		add_fmt(c, "Content-Length: %lld\r\n", clen);
	add_fmt(c, "%sConnection: close\r\n\r\n", extra);
}

/* A complete answer with a Content-Length body. */
static void add_page(struct conn *c, int code, const char *reason,
		     const char *ctype, const char *body, const char *extra)
{
	size_t n = strlen(body);

	add_head(c, code, reason, ctype, (long long)n, extra);
	add_body(c, body, n);
}

static void r_fixed(struct conn *c)
{
	add_page(c, 200, "OK", "text/html", FIXED_BODY, "");
}

static void r_chunked(struct conn *c)
{
	static const char *const chunks[] = {
		"<html><head>", "<title>Chunked ", "Title</title></head>",
		"<body>several chunks</body></html>\n",
	};

	add_head(c, 200, "OK", "text/html", -1,
		 "Transfer-Encoding: chunked\r\n");
	if (c->head)
		return;
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		add_fmt(c, "%zx\r\n%s\r\n", strlen(chunks[i]), chunks[i]);
		add_delay(c, 10);
	}
	add_str(c, "0\r\n\r\n");
}

static void r_eof(struct conn *c)
{
	add_head(c, 200, "OK", "text/html", -1, "");
	add_body(c, "<html><head><title>Until EOF</title></head>"
		    "<body>read me until the connection closes</body></html>\n",
		 strlen("<html><head><title>Until EOF</title></head>"
			"<body>read me until the connection closes</body>"
			"</html>\n"));
}

static void r_huge(struct conn *c)
{
	add_head(c, 200, "OK", "application/octet-stream", HUGE_BODY, "");
	if (!c->head)
		add_seg(c, SEG_GEN)->left = HUGE_BODY;
}

static void r_slow(struct conn *c)
{
	add_head(c, 200, "OK", "text/plain", 100, "");
	if (c->head)
		return;
	for (int i = 0; i < 100; i++) {
		add_delay(c, 100);
		add_data(c, &"abcdefghijklmnopqrstuvwxyz"[i % 26], 1);
	}
}

static void r_garbage(struct conn *c)
{
	unsigned char buf[512];
	uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)c;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)(x >> 32);
	}
	buf[0] = 0x00; /* never "HTTP/" */
	add_data(c, buf, sizeof(buf));
}

static void r_reset(struct conn *c)
{
	add_head(c, 200, "OK", "text/html", 1000, "");
	add_str(c, "<html><hea");
	add_delay(c, 50);
	add_seg(c, SEG_RST);
}

static void r_204(struct conn *c)
{
	add_head(c, 204, "No Content", NULL, -1, "");
}

static void r_304(struct conn *c)
{
	add_head(c, 304, "Not Modified", NULL, -1, "ETag: \"rp\"\r\n");
}

static void r_redirect(struct conn *c)
{
	add_page(c, 301, "Moved Permanently", "text/html",
		 "<html><head><title>Moved</title></head></html>\n",
		 "Location: /fixed\r\n");
}

/* A 301 or 302 to location, with a small body. */
static void add_redirect(struct conn *c, int code, const char *location)
{
	char extra[1100];

	snprintf(extra, sizeof(extra), "Location: %s\r\n", location);
	add_page(c, code, code == 301 ? "Moved Permanently" : "Found",
		 "text/html",
		 "<html><head><title>Moved</title></head></html>\n", extra);
}

/* An absolute http URL to /fixed on the address and port this connection
 * came in on (the listener's own), so following it needs no other
 * server. */
static void r_redirect_abs(struct conn *c)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "127.0.0.1", url[128];
	int port = 0;

	if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const void *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
			port = ntohs(s6->sin6_port);
		} else if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *s4 = (const void *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
			port = ntohs(s4->sin_port);
		}
	}
	snprintf(url, sizeof(url), "http://%s%s%s:%d/fixed",
		 ss.ss_family == AF_INET6 ? "[" : "", ip,
		 ss.ss_family == AF_INET6 ? "]" : "", port);
	add_redirect(c, 302, url);
}

static void r_redirect_https(struct conn *c)
{
	add_redirect(c, 301, "https://127.0.0.1/");
}

static void r_redirect_rel(struct conn *c)
{
	add_redirect(c, 301, "fixed");
}

static void r_loop(struct conn *c)
{
	add_redirect(c, 301, "/loop");
}

/* The request target (the second word of the request line) as received:
 * *len bytes at the returned pointer. */
static const char *req_target(const struct conn *c, size_t *len)
{
	const char *t = c->req + strcspn(c->req, " \r\n");

	while (*t == ' ')
		t++;
	*len = strcspn(t, " \r\n");
	return t;
}

static int hexval(char x)
{
	if (x >= '0' && x <= '9')
		return x - '0';
	x = (char)(x | 0x20);
	return x >= 'a' && x <= 'f' ? x - 'a' + 10 : -1;
}

/* 302 to the percent-decoded query. */
static void r_to(struct conn *c)
{
	char loc[1024];
	size_t tl, o = 0;
	const char *t = req_target(c, &tl), *q = memchr(t, '?', tl);
	size_t i = q ? (size_t)(q + 1 - t) : tl;

	for (; i < tl && o + 1 < sizeof(loc); i++) {
		int hi = i + 2 < tl ? hexval(t[i + 1]) : -1;
		int lo = i + 2 < tl ? hexval(t[i + 2]) : -1;

		if (t[i] == '%' && hi >= 0 && lo >= 0) {
			loc[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			loc[o++] = t[i];
		}
	}
	loc[o] = '\0';
	if (strlen(loc) != o || strpbrk(loc, "\r\n")) {
		add_page(c, 400, "Bad Request", "text/plain", "bad LOC\n", "");
		return;
	}
	add_redirect(c, 302, loc);
}

/* 200 titled with the request target as received. */
static void r_show(struct conn *c)
{
	size_t tl;
	const char *t = req_target(c, &tl);
	char body[1200];

	snprintf(body, sizeof(body), "<html><head><title>%.*s</title></head>"
		 "</html>\n", (int)(tl < 1024 ? tl : 1024), t);
	add_page(c, 200, "OK", "text/html", body, "");
}

static void r_continue(struct conn *c)
{
	add_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
	add_delay(c, 50);
	add_page(c, 200, "OK", "text/html",
		 "<html><head><title>After Continue</title></head>"
		 "<body>after 100</body></html>\n",
		 "");
}

static void r_split_title(struct conn *c)
{
	static const char *const parts[] = {
		"<html><head><ti", "tle>Split ", "Title</ti",
		"tle></head><body>split</body></html>\n",
	};
	size_t total = 0;

	for (size_t i = 0; i < 4; i++)
		total += strlen(parts[i]);
	add_head(c, 200, "OK", "text/html", (long long)total, "");
	if (c->head)
		return;
	for (size_t i = 0; i < 4; i++) {
		if (i)
			add_delay(c, 30);
		add_str(c, parts[i]);
	}
}

static void r_hang(struct conn *c)
{
	add_seg(c, SEG_HANG);
}

static void r_bigheaders(struct conn *c)
{
	char line[1100];

	add_str(c, "HTTP/1.1 200 OK\r\nServer: rp-target\r\n"
		   "Content-Type: text/html\r\n");
	/* 100 lines of 1024 bytes = 100 KiB */
	for (int i = 0; i < 100; i++) {
		int n = snprintf(line, sizeof(line), "X-Filler-%03d: ", i);
		memset(line + n, 'a' + i % 26, (size_t)(1022 - n));
		line[1022] = '\r';
		line[1023] = '\n';
		add_data(c, line, 1024);
	}
	static const char body[] =
		"<html><head><title>Big Headers</title></head></html>\n";
	add_fmt(c, "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		sizeof(body) - 1);
	add_body(c, body, sizeof(body) - 1);
}

static void r_entities(struct conn *c)
{
	add_page(c, 200, "OK", "text/html",
		 "<html><head><title>A &amp; B &lt;C&gt; &#x263A; "
		 "&quot;q&quot;</title></head></html>\n",
		 "");
}

static void r_head_cl(struct conn *c)
{
	char body[5000];

	memset(body, 'h', sizeof(body));
	add_head(c, 200, "OK", "text/plain", sizeof(body), "");
	add_body(c, body, sizeof(body));
}

/* The value of request header name (case-insensitive), HTML-escaped into
 * out; "-" if absent. */
static void req_header(const struct conn *c, const char *name, char *out,
		       size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = strstr(c->req, "\r\n");

	snprintf(out, outlen, "-");
	while (p && p[2] != '\r') {
		const char *line = p + 2;
		p = strstr(line, "\r\n");
		if (!p || strncasecmp(line, name, nl) || line[nl] != ':')
			continue;
		const char *v = line + nl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		size_t o = 0;
		for (; v < p && o + 6 < outlen; v++) {
			const char *e = *v == '&'   ? "&amp;"
					: *v == '<' ? "&lt;"
					: *v == '>' ? "&gt;"
						    : NULL;
			if (e) {
				memcpy(out + o, e, strlen(e));
				o += strlen(e);
			} else {
				out[o++] = *v;
			}
		}
		out[o] = '\0';
		return;
	}
}

static void r_echo(struct conn *c)
{
	char ua[256], xt[256], host[256];

	/* The title carries what a probe's JSON can show; the body has the
	 * whole request head for people with curl. */
	req_header(c, "User-Agent", ua, sizeof(ua));
	req_header(c, "X-Test", xt, sizeof(xt));
	req_header(c, "Host", host, sizeof(host));
	char *title = NULL;
	int tl = asprintf(&title, "<html><head><title>ua=%s|x-test=%s|host=%s"
				  "</title></head><body><pre>\n",
			  ua, xt, host);
	if (tl < 0) {
		perror("rp_target_server: asprintf");
		exit(1);
	}
	static const char tail[] = "</pre></body></html>\n";
	add_head(c, 200, "OK", "text/html",
		 (long long)((size_t)tl + c->rlen + sizeof(tail) - 1), "");
	add_body(c, title, (size_t)tl);
	add_body(c, c->req, c->rlen);
	add_body(c, tail, sizeof(tail) - 1);
	free(title);
}

/* /headers: the title lists the request's header names in order,
 * lowercased, then "|host=" and its first Host value. */
static void r_headers(struct conn *c)
{
	char names[2048], host[256], body[2400];
	size_t n = 0;
	const char *p = strstr(c->req, "\r\n");

	names[0] = '\0';
	while (p && p[2] != '\r' && n + 80 < sizeof(names)) {
		const char *line = p + 2;
		size_t len = strcspn(line, ":\r");

		p = strstr(line, "\r\n");
		for (size_t i = 0; i < len && i < 64; i++)
			names[n++] = (char)tolower((unsigned char)line[i]);
		names[n++] = ',';
		names[n] = '\0';
	}
	if (n)
		names[n - 1] = '\0';
	req_header(c, "Host", host, sizeof(host));
	int bl = snprintf(body, sizeof(body), "<title>%s|host=%s</title>\n",
			  names, host);
	add_head(c, 200, "OK", "text/html", bl, "");
	add_body(c, body, (size_t)bl);
}

static void r_hostile(struct conn *c)
{
	static const char body[] =
		"<html><head><title>\x1b[31mRED\x1b[0m \"quoted\", comma,"
		"\nnew\r\nline\x1b]0;pwned\x07 end</title></head></html>\n";

	add_fmt(c, "HTTP/1.1 200 OK\r\nServer: evil \"srv\", x\r\n"
		   "Content-Type: text/html\r\nContent-Length: %zu\r\n"
		   "Connection: close\r\n\r\n",
		sizeof(body) - 1);
	add_body(c, body, sizeof(body) - 1);
}

static void r_404(struct conn *c)
{
	add_page(c, 404, "Not Found", "text/html",
		 "<html><head><title>Not Found</title></head></html>\n", "");
}

static const struct {
	const char *path;
	void (*fn)(struct conn *c);
} http_routes[] = {
	{"/fixed", r_fixed},
	{"/chunked", r_chunked},
	{"/eof", r_eof},
	{"/huge", r_huge},
	{"/slow", r_slow},
	{"/garbage", r_garbage},
	{"/reset", r_reset},
	{"/204", r_204},
	{"/304", r_304},
	{"/redirect", r_redirect},
	{"/redirect-abs", r_redirect_abs},
	{"/redirect-https", r_redirect_https},
	{"/redirect-rel", r_redirect_rel},
	{"/loop", r_loop},
	{"/to", r_to},
	{"/continue", r_continue},
	{"/split-title", r_split_title},
	{"/hang", r_hang},
	{"/bigheaders", r_bigheaders},
	{"/entities", r_entities},
	{"/head-cl", r_head_cl},
	{"/echo", r_echo},
	{"/headers", r_headers},
	{"/hostile", r_hostile},
};

/* Raw mode: the bytes of the file named by the last segment of the path
 * (t, pl bytes), as they are; a name that could leave the directory, or
 * no such file, gets a 404. */
static void r_file(struct conn *c, const char *t, size_t pl)
{
	const char *name = t;
	char path[4096];
	FILE *f = NULL;

	for (size_t i = 0; i < pl; i++)
		if (t[i] == '/')
			name = t + i + 1;
	pl -= (size_t)(name - t);
	if (pl > 0 && name[0] != '.' &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") >= pl &&
	    snprintf(path, sizeof(path), "%s/%.*s", c->sv->dir, (int)pl,
		     name) < (int)sizeof(path))
		f = fopen(path, "rb");
	if (!f) {
		r_404(c);
		return;
	}
	for (;;) {
		char buf[65536];
		size_t n = fread(buf, 1, sizeof(buf), f);

		if (n == 0)
			break;
		add_data(c, buf, n);
	}
	fclose(f);
}

/* Chooses the answer for the request head in c->req (NUL-terminated). */
static void plan_answer(struct conn *c)
{
	char *eol = strstr(c->req, "\r\n");
	size_t ml, tl;
	const char *m = c->req, *t;

	if (eol)
		*eol = '\0';
	ml = strcspn(m, " ");
	t = m + ml;
	while (*t == ' ')
		t++;
	tl = strcspn(t, " ");
	c->head = ml == 4 && !memcmp(m, "HEAD", 4);
	/* absolute form: skip "scheme://authority" */
	if (tl > 7 && !strncmp(t, "http://", 7)) {
		const char *p = memchr(t + 7, '/', tl - 7);
		tl -= p ? (size_t)(p - t) : tl;
		t = p ? p : t + tl;
	}
	size_t pl = strcspn(t, "? ");
	if (pl > tl)
		pl = tl;
	if (eol)
		*eol = '\r';
	if (c->sv->mode == &modes[MODE_RAW]) {
		r_file(c, t, pl);
		return;
	} else if (pl > 6 && !memcmp(t, "/show/", 6)) {
		r_show(c);
		return;
	}
	for (size_t i = 0; i < sizeof(http_routes) / sizeof(http_routes[0]);
	     i++) {
		if (strlen(http_routes[i].path) == pl &&
		    !memcmp(http_routes[i].path, t, pl)) {
			http_routes[i].fn(c);
			return;
		}
	}
	r_404(c);
}

/* Runs segments until one has to wait (socket full, a delay) or the
 * connection ends. */
static void run_plan(struct conn *c)
{
	/* SEG_GEN bytes: "0123456789abcdef" repeated */
	static char pattern[PATTERN_LEN + 16];

	if (!pattern[0])
		for (size_t i = 0; i < sizeof(pattern); i++)
			pattern[i] = "0123456789abcdef"[i % 16];

	while (!c->dead && c->cur < c->nseg) {
		struct seg *s = &c->segs[c->cur];
		ssize_t n;

		switch (s->kind) {
		case SEG_DATA:
		case SEG_GEN:
			for (;;) {
				if (s->kind == SEG_DATA) {
					if (s->off == s->len)
						break;
					n = send(c->fd, s->buf + s->off,
						 s->len - s->off, MSG_NOSIGNAL);
				} else {
					if (!s->left)
						break;
					/* continue the pattern where the last
					 * (maybe partial) send stopped */
					size_t k = s->left < PATTERN_LEN
							   ? (size_t)s->left
							   : PATTERN_LEN;
					n = send(c->fd,
						 pattern + s->off % 16, k,
						 MSG_NOSIGNAL);
				}
				if (n < 0) {
					if (errno == EINTR)
						continue;
					if (errno == EAGAIN ||
					    errno == EWOULDBLOCK) {
						want(c, EPOLLOUT);
						return;
					}
					conn_kill(c); /* EPIPE, ECONNRESET */
					return;
				}
				if (s->kind == SEG_DATA)
					s->off += (size_t)n;
				else {
					s->left -= (uint64_t)n;
					s->off += (size_t)n;
				}
			}
			c->cur++;
			break;
		case SEG_DELAY:
			c->cur++;
			if (arm_timer(c, s->ms) < 0) {
				conn_kill(c);
				return;
			}
			c->waiting = 1;
			want(c, 0); /* errors and hangups only */
			return;
		case SEG_RST: {
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
			conn_kill(c);
			return;
		}
		case SEG_HANG:
			c->cur = c->nseg;
			c->st = C_HANG;
			want(c, EPOLLIN);
			return;
		case SEG_CLOSE:
			c->cur++;
			break;
		}
	}
	if (c->dead)
		return;
	/* Done (or an explicit SEG_CLOSE): lingering close. */
	shutdown(c->fd, SHUT_WR);
	c->st = C_DRAIN;
	if (arm_timer(c, DRAIN_MS) < 0) {
		conn_kill(c);
		return;
	}
	want(c, EPOLLIN);
}

/* Reads and throws away what is readable; kills on EOF or error. */
static void discard_input(struct conn *c)
{
	char buf[16384];

	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		conn_kill(c);
		return;
	}
}

static void read_request(struct conn *c)
{
	for (;;) {
		if (c->rlen == REQ_MAX) {
			c->st = C_SEND;
			add_page(c, 431, "Request Header Fields Too Large",
				 "text/plain", "request head too large\n", "");
			run_plan(c);
			return;
		}
		ssize_t n = recv(c->fd, c->req + c->rlen, REQ_MAX - c->rlen, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_kill(c); /* closed before a whole request */
			return;
		}
		size_t from = c->rlen > 3 ? c->rlen - 3 : 0;
		c->rlen += (size_t)n;
		c->req[c->rlen] = '\0';
		char *end = memmem(c->req + from, c->rlen - from, "\r\n\r\n", 4);
		if (end) {
			/* one request per connection: bytes after the head
			 * (a body, a pipelined request) are ignored */
			c->rlen = (size_t)(end + 4 - c->req);
			c->req[c->rlen] = '\0';
			c->st = C_SEND;
			plan_answer(c);
			run_plan(c);
			return;
		}
	}
}

static void http_accept(struct server *sv, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return;
	}
	c->tag.kind = EV_CONN;
	c->ttag.kind = EV_TIMER;
	c->sv = sv;
	c->fd = fd;
	c->tfd = -1;
	c->st = C_READ;
	c->events = EPOLLIN;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->tag};
	if (epoll_ctl(sv->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->next = sv->conns;
	if (sv->conns)
		sv->conns->prev = c;
	sv->conns = c;
}

static void on_conn_event(struct conn *c, uint32_t events)
{
	if (c->dead)
		return;
	switch (c->st) {
	case C_READ:
		read_request(c);
		break;
	case C_HANG:
	case C_DRAIN:
		discard_input(c);
		break;
	case C_SEND:
		if (events & (EPOLLERR | EPOLLHUP)) {
			conn_kill(c);
			break;
		}
		if (!c->waiting && (events & EPOLLOUT))
			run_plan(c);
		break;
	}
}

static void on_timer_event(struct conn *c)
{
	uint64_t ticks;

	if (c->dead)
		return;
	if (read(c->tfd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return;
	if (c->st == C_DRAIN) {
		conn_kill(c); /* the client never closed */
		return;
	}
	if (c->st == C_SEND && c->waiting) {
		c->waiting = 0;
		run_plan(c);
	}
}

/* Accepts everything pending on one listener. */
static void drain_accepts(struct server *sv, int lfd)
{
	/* Bounded so one busy listener cannot starve the others or the
	 * signal check; epoll is level-triggered and reports it again. */
	for (int i = 0; i < 4096; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or an aborted connection */
		sv->accepted++;
		sv->mode->on_accept(sv, fd);
	}
}

static int serve(struct server *sv, int sfd)
{
	struct epoll_event evs[64];
	struct ev_tag stag = {.kind = EV_SIGNAL};
	int rc = 0;

	sv->ep = epoll_create1(EPOLL_CLOEXEC);
	if (sv->ep < 0) {
		perror("rp_target_server: epoll_create1");
		return 1;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &stag};
	if (epoll_ctl(sv->ep, EPOLL_CTL_ADD, sfd, &ev) < 0)
		goto fail;
	for (int i = 0; i < sv->nl; i++) {
		sv->ltag[i].kind = EV_LISTENER;
		sv->ltag[i].idx = i;
		ev.data.ptr = &sv->ltag[i];
		if (epoll_ctl(sv->ep, EPOLL_CTL_ADD, sv->lfd[i], &ev) < 0)
			goto fail;
	}

	double deadline = srv_now() + sv->max_seconds;
	for (;;) {
		double left = deadline - srv_now();
		if (left <= 0)
			break;
		int ms = left > 1.0 ? 1000 : (int)(left * 1000) + 1;
		int n = epoll_wait(sv->ep, evs, 64, ms);
		if (n < 0 && errno != EINTR)
			goto fail;
		for (int i = 0; i < n; i++) {
			struct ev_tag *t = evs[i].data.ptr;
			switch (t->kind) {
			case EV_SIGNAL:
				goto out; /* SIGTERM or SIGINT */
			case EV_LISTENER:
				drain_accepts(sv, sv->lfd[t->idx]);
				break;
			case EV_CONN:
				on_conn_event(CONN_OF(t, tag), evs[i].events);
				break;
			case EV_TIMER:
				on_timer_event(CONN_OF(t, ttag));
				break;
			}
		}
		reap_dead(sv);
	}
	goto out;

fail:
	perror("rp_target_server: epoll");
	rc = 1;
out:
	while (sv->conns)
		conn_kill(sv->conns);
	reap_dead(sv);
	close(sv->ep);
	return rc;
}

int main(int argc, char **argv)
{
	struct server sv = {
		.bind_addr = "127.0.0.1",
		.backlog = 4096,
		.max_seconds = 300,
		.mode = &modes[MODE_ACCEPT_CLOSE],
	};
	int rc = 1;

	if (parse_args(&sv, argc, argv)) {
		usage(stderr);
		return 2;
	}
	if (!sv.nports && !sv.nfixed)
		sv.nports = 1;

	int sfd = srv_signalfd("rp_target_server");
	if (sfd < 0)
		return 1;

	int want = sv.nfixed ? sv.nfixed : sv.nports;
	for (int i = 0; i < want; i++) {
		int port;
		int fd = srv_listen("rp_target_server", sv.bind_addr,
				    sv.nfixed ? sv.fixed[i] : 0, sv.backlog, &port);
		if (fd < 0)
			goto out_close;
		sv.lfd[sv.nl++] = fd;
		printf("%d\n", port);
	}
	if (fflush(stdout) != 0)
		goto out_close;

	rc = serve(&sv, sfd);

out_close:
	for (int i = 0; i < sv.nl; i++)
		close(sv.lfd[i]);
	close(sfd);
	return rc;
}
