/*
 * http_request.h - what an HTTP probe sends (http_request.c): the request
 * pieces every probe of an engine shares, the Host value and target of
 * each request, and where a redirect leads.
 */
#ifndef RP_HTTP_REQUEST_H
#define RP_HTTP_REQUEST_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http_parse.h"
#include "ringprobe.h"

#define RP__HOST_MAX 272              /* Host header value */
#define RP__PATH_MAX 1024             /* request target */

struct rp__http_request {
	char *prefix;                 /* "GET " */
	size_t prefix_len;
	char *tail;                   /* "\r\nUser-Agent: ...\r\n\r\n" */
	size_t tail_len;
	bool head;                    /* method is HEAD: no body */
	bool host_set;                /* an extra header says Host: then
	                               * host is its value, NULL to send none */
	char *host;
	size_t host_len;
};

/* Builds them from o: ringprobe's headers, each replaced by an extra one
 * of the same name (an empty value: not sent), then the extra ones.
 * Returns 0, -EINVAL when a method, User-Agent or header could inject or
 * break a line (or a Host value is too long), or -ENOMEM. Free with
 * rp__http_request_free() either way. */
int rp__http_request_build(struct rp__http_request *h,
			   const struct rp_http_opts *o, char *err,
			   size_t errlen);
void rp__http_request_free(struct rp__http_request *h);

/* One request of a probe (the first, or one a redirect led to) and the
 * response it got. */
struct rp__http_hop {
	struct rp__http_parse p;      /* the response */
	struct sockaddr_storage addr; /* where the request went */
	socklen_t addrlen;
	bool started;                 /* connected and sending */
	bool tls;                     /* https */
	bool vhost;                   /* send rp__http_request.host instead:
	                               * the target's own host (the first
	                               * request, redirects to a path) */
	uint32_t connect_us;          /* connect round trip */
	uint64_t sent_ns;             /* request fully sent */
	uint64_t first_ns;            /* first response byte */
	uint64_t done_ns;             /* response complete */
	uint16_t host_len;
	uint16_t path_len;
	char host[RP__HOST_MAX];      /* Host value */
	char path[RP__PATH_MAX];      /* request target */
};

/* Sets the hop's Host value and request target for target t: path, and
 * t->host, else its name, else its address, with ":port" unless it is the
 * scheme's default (80, 443 with tls). Returns 0 or -ENAMETOOLONG. */
int rp__http_hop_target(struct rp__http_hop *h, const char *path,
			const struct rp_target *t, bool tls);

/* The host a probe was sent to, which a redirect may not leave unless
 * rp_http_opts.follow_any_host says so: its name if it was probed by name,
 * else its address. */
struct rp__http_origin {
	int family;                   /* AF_INET, AF_INET6; 0: by name */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	char name[254];               /* by name: as given */
};

/* Records t's host (its name, or the address in t->addr). */
void rp__http_origin_set(struct rp__http_origin *o, const struct rp_target *t);

/* What became of a redirect (rp__http_redirect()). */
enum rp__redirect {
	RP__REDIRECT_FOLLOW = 0,      /* go on: next is set */
	RP__REDIRECT_OTHER_HOST,      /* to another host: out of scope */
	RP__REDIRECT_HTTPS,           /* https, and the engine has no TLS */
	RP__REDIRECT_SCHEME,          /* a scheme other than http(s) */
	RP__REDIRECT_RELATIVE,        /* a relative reference ("a/b", "?q") */
	RP__REDIRECT_BAD,             /* malformed, or cut at its bound */
	RP__REDIRECT_TOO_LONG,        /* too long once encoded */
};

/*
 * Works out where the Location of from's response leads: an absolute path
 * (same Host value, address and scheme), an http:// or (with tls_ok)
 * https:// URL, or a "//host/..." one (the same scheme); next->tls says
 * which.
 * On RP__REDIRECT_FOLLOW, next gets its Host value, request target and
 * address (addrlen 0 when name, 256 bytes, is set: a name to resolve
 * first, port *port). Whatever the outcome, what gets the text a reason
 * should quote (what_len bytes at most, NUL-terminated): the other host
 * for OTHER_HOST, the Location (percent-encoded) otherwise, "" if that
 * does not fit.
 */
enum rp__redirect rp__http_redirect(const struct rp__http_hop *from,
				    const struct rp__http_origin *o,
				    bool any_host, bool tls_ok,
				    struct rp__http_hop *next,
				    char *name, uint16_t *port, char *what,
				    size_t what_len);

/* A short reason for an outcome other than FOLLOW ("scheme not
 * supported"). */
const char *rp__redirect_reason(enum rp__redirect r);

#endif
