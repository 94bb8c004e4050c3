/*
 * http_request.c - what an HTTP probe sends: the parts of the request
 * that every probe of an engine shares, built once from the options (and
 * the rules for what the options may put on the wire); the Host value
 * and target of each request; and where a redirect leads, which is also
 * where the redirect scope is kept.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "abi.h"
#include "http_request.h"
#include "ringprobe/version.h"
#include "target.h"

/*
 * What the options and targets may put on the wire. A CR or LF in any of
 * them would end the request line or a header and let the string add
 * headers of its own (or a second request); other control bytes and a
 * space in the request line break it as surely. So: the method is a token,
 * the path and the target's strings have no control byte and no space,
 * and a header value (User-Agent, the extra headers) has no control byte
 * but tab, which RFC 9110 5.5 allows there and which ends nothing. Bytes
 * >= 0x80 pass where no token is required: they inject nothing.
 */
static bool is_tchar(unsigned char c)
{
	return c > ' ' && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static bool is_token_n(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return false;
	return true;
}

static bool is_token(const char *s)
{
	return is_token_n(s, strlen(s));
}

static bool is_field_value(const char *v)
{
	for (; *v; v++)
		if (((unsigned char)*v < ' ' && *v != '\t') || *v == 0x7f)
			return false;
	return true;
}

/* "Name: value", the name a token. */
static bool is_header_line(const char *h)
{
	const char *colon = strchr(h, ':');

	return colon && is_token_n(h, (size_t)(colon - h)) &&
	       is_field_value(colon + 1);
}

/* The headers ringprobe sends of its own after Host, in this order. */
static const char *const builtin[] = { "User-Agent", "Accept", "Connection" };
#define NBUILTIN (sizeof(builtin) / sizeof(builtin[0]))

/* Is header line hd (valid) named name? */
static bool named(const char *hd, const char *name)
{
	size_t n = strlen(name);

	return !strncasecmp(hd, name, n) && hd[n] == ':';
}

/* Its value without the blanks before it: "" asks that the header of that
 * name not be sent at all (curl's -H 'Name:'). */
static const char *value_of(const char *hd)
{
	const char *v = strchr(hd, ':') + 1;

	return v + strspn(v, " \t");
}

/* Does an extra header take the place of the one named name? */
static bool replaced(const struct rp_http_opts *o, const char *name)
{
	for (const char *const *hd = o->headers; hd && *hd; hd++)
		if (named(*hd, name))
			return true;
	return false;
}

/*
 * The Host header: the last extra "Host:" line replaces the one each
 * request gets from its target (rp__http_hop.vhost says where it
 * applies); an empty one drops it.
 */
static int host_override(struct rp__http_request *h,
			 const struct rp_http_opts *o)
{
	const char *v = NULL;

	for (const char *const *hd = o->headers; hd && *hd; hd++)
		if (named(*hd, "Host"))
			v = value_of(*hd);
	if (!v)
		return 0;
	h->host_set = true;
	if (!*v)
		return 0;
	h->host_len = strlen(v);
	if (h->host_len >= RP__HOST_MAX)
		return -EINVAL;
	h->host = strdup(v);
	return h->host ? 0 : -ENOMEM;
}

/*
 * Builds the shared pieces of the request from the options. An extra
 * header replaces ringprobe's own of the same name (without regard to
 * case), as curl's -H does, and one with an empty value is not sent.
 */
int rp__http_request_build(struct rp__http_request *h,
			   const struct rp_http_opts *o, char *err,
			   size_t errlen)
{
	const char *method = o->method ? o->method : "GET";
	const char *ua = o->user_agent ? o->user_agent
				       : "ringprobe/" RP_VERSION_STRING;
	const char *values[NBUILTIN] = { ua, "*/*", "close" };
	size_t len = 5; /* the closing "\r\n\r\n" and sprintf's NUL */
	char *p;
	int ret;

	if (!is_token(method)) {
		rp__errf(err, errlen, "http.method: not an HTTP token (letters, "
			 "digits and !#$%%&'*+-.^_`|~)");
		return -EINVAL;
	}
	if (!is_field_value(ua)) {
		rp__errf(err, errlen, "http.user_agent: holds a control "
			 "byte");
		return -EINVAL;
	}
	h->head = strcmp(method, "HEAD") == 0;
	h->prefix_len = strlen(method) + 1;
	h->prefix = malloc(h->prefix_len + 1);
	if (!h->prefix)
		return -ENOMEM;
	snprintf(h->prefix, h->prefix_len + 1, "%s ", method);
	for (const char *const *hd = o->headers; hd && *hd; hd++) {
		if (!is_header_line(*hd)) {
			rp__errf(err, errlen, "http.headers[%d]: not 'Name: "
				 "value' without control bytes",
				 (int)(hd - o->headers));
			return -EINVAL;
		}
		len += strlen(*hd) + 2;
	}
	ret = host_override(h, o);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < NBUILTIN; i++)
		len += strlen(builtin[i]) + strlen(values[i]) + 4;
	h->tail = p = malloc(len);
	if (!h->tail)
		return -ENOMEM;
	for (size_t i = 0; i < NBUILTIN; i++)
		if (!replaced(o, builtin[i]))
			p += sprintf(p, "\r\n%s: %s", builtin[i], values[i]);
	for (const char *const *hd = o->headers; hd && *hd; hd++)
		if (*value_of(*hd) && !named(*hd, "Host"))
			p += sprintf(p, "\r\n%s", *hd);
	p += sprintf(p, "\r\n\r\n");
	h->tail_len = (size_t)(p - h->tail);
	return 0;
}

void rp__http_request_free(struct rp__http_request *h)
{
	free(h->prefix);
	free(h->tail);
	free(h->host);
	h->prefix = h->tail = h->host = NULL;
}

/* ---- the Host value and target of a request -------------------------- */

/* Sets the hop's Host value: name (bracketed for IPv6) and ":port" unless
 * port is 0 (the scheme's default). */
static int set_host(struct rp__http_hop *h, const char *name, size_t len,
		    bool v6, unsigned int port)
{
	char num[6], *d = num + sizeof(num); /* ":65535" */
	size_t nd = 0;
	char *p = h->host;

	if (port) {
		do {
			*--d = (char)('0' + port % 10);
			port /= 10;
		} while (port);
		*--d = ':';
		nd = (size_t)(num + sizeof(num) - d);
	}
	if (len + 2 * v6 + nd >= sizeof(h->host))
		return -ENAMETOOLONG;
	if (v6)
		*p++ = '[';
	memcpy(p, name, len);
	p += len;
	if (v6)
		*p++ = ']';
	memcpy(p, d, nd);
	p += nd;
	*p = '\0';
	h->host_len = (uint16_t)(p - h->host);
	return 0;
}

/* port, or 0 if it is the default of the scheme. */
static unsigned int non_default(bool tls, unsigned int port)
{
	return port == (tls ? 443u : 80u) ? 0 : port;
}

int rp__http_hop_target(struct rp__http_hop *h, const char *path,
			const struct rp_target *t, bool tls)
{
	size_t plen = strlen(path);
	char ip[INET6_ADDRSTRLEN];

	if (plen >= sizeof(h->path))
		return -ENAMETOOLONG;
	memcpy(h->path, path, plen + 1);
	h->path_len = (uint16_t)plen;
	h->tls = tls;
	if (t->host) /* as written */
		return set_host(h, t->host, strlen(t->host), false, 0);
	if (t->name)
		return set_host(h, t->name, strlen(t->name), false,
				non_default(tls, t->port));
	if (t->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)&t->addr;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		return set_host(h, ip, strlen(ip), true,
				non_default(tls, ntohs(a->sin6_port)));
	}
	const struct sockaddr_in *a = (const void *)&t->addr;

	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	return set_host(h, ip, strlen(ip), false,
			non_default(tls, ntohs(a->sin_port)));
}

/* ---- redirects --------------------------------------------------------- */

void rp__http_origin_set(struct rp__http_origin *o, const struct rp_target *t)
{
	memset(o, 0, sizeof(*o));
	if (t->name) {
		snprintf(o->name, sizeof(o->name), "%s", t->name);
	} else if (t->addr.ss_family == AF_INET6) {
		o->family = AF_INET6;
		o->addr.v6 = ((const struct sockaddr_in6 *)&t->addr)->sin6_addr;
	} else {
		o->family = AF_INET;
		o->addr.v4 = ((const struct sockaddr_in *)&t->addr)->sin_addr;
	}
}

/* Names compare without case and without a trailing dot. */
static bool same_name(const char *a, const char *b, size_t blen)
{
	size_t alen = strlen(a);

	if (alen && a[alen - 1] == '.')
		alen--;
	if (blen && b[blen - 1] == '.')
		blen--;
	return alen == blen && strncasecmp(a, b, alen) == 0;
}

/*
 * Is the host of URL u (parsed into sp) the one the probe was sent to?
 * By name, only the same name is; by address, only the same address.
 * Port and scheme do not count. A name is never compared with an
 * address: what a name resolves to is learnt only by following it.
 */
static bool same_host(const struct rp__http_origin *o,
		      const struct rp__spec *sp, const char *u)
{
	if (!o->family)
		return !sp->family && same_name(o->name, u + sp->auth_off,
						 sp->host_len);
	if (sp->family != o->family)
		return false;
	return o->family == AF_INET
		       ? sp->addr.v4.s_addr == o->addr.v4.s_addr
		       : !memcmp(&sp->addr.v6, &o->addr.v6, sizeof(o->addr.v6));
}

/* The host of URL u as text: the name as written, or the address. */
static void host_text(const struct rp__spec *sp, const char *u, char *buf,
		      size_t len)
{
	if (sp->family)
		inet_ntop(sp->family, &sp->addr, buf, (socklen_t)len);
	else
		snprintf(buf, len, "%.*s", (int)sp->host_len, u + sp->auth_off);
}

/* The length of the scheme s starts with (RFC 3986: a letter, then
 * letters, digits, "+", "-" or ".", then ":"), else 0. */
static size_t uri_scheme(const char *s)
{
	size_t i = 0;

	if (!((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
		return 0;
	while (s[++i])
		if (!strchr("+-.", s[i]) && !((s[i] | 0x20) >= 'a' &&
		     (s[i] | 0x20) <= 'z') && !(s[i] >= '0' && s[i] <= '9'))
			break;
	return s[i] == ':' ? i : 0;
}

/* Where the URL u (parsed into sp) leads: next's Host value, target and
 * address, or the name to resolve. */
static enum rp__redirect url_target(const struct rp__spec *sp, const char *u,
				    struct rp__http_hop *next, char *name,
				    uint16_t *port)
{
	if (sp->auth_len >= sizeof(next->host))
		return RP__REDIRECT_TOO_LONG;
	memcpy(next->host, u + sp->auth_off, sp->auth_len);
	next->host[sp->auth_len] = '\0';
	next->host_len = (uint16_t)sp->auth_len;
	next->vhost = false; /* a -H Host is for the target's own host */
	rp__spec_path(sp, u, next->path, sizeof(next->path));
	next->path_len = (uint16_t)strlen(next->path);
	memset(&next->addr, 0, sizeof(next->addr));
	next->addrlen = 0;
	*port = sp->port;
	if (!sp->family) { /* a name (at most 254 bytes): resolved first */
		memcpy(name, u + sp->auth_off, sp->host_len);
		name[sp->host_len] = '\0';
	} else if (sp->family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&next->addr;

		a->sin_family = AF_INET;
		a->sin_addr = sp->addr.v4;
		a->sin_port = htons(sp->port);
		next->addrlen = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&next->addr;

		a->sin6_family = AF_INET6;
		a->sin6_addr = sp->addr.v6;
		a->sin6_port = htons(sp->port);
		next->addrlen = sizeof(*a);
	}
	return RP__REDIRECT_FOLLOW;
}

enum rp__redirect rp__http_redirect(const struct rp__http_hop *from,
				    const struct rp__http_origin *o,
				    bool any_host, bool tls_ok,
				    struct rp__http_hop *next,
				    char *name, uint16_t *port, char *what,
				    size_t what_len)
{
	const char *loc = from->p.location;
	size_t len = strlen(loc), slen;
	char buf[6 + RP__PATH_MAX], err[64];
	char *enc = buf + 6, *u = enc;
	struct rp__spec sp;
	int n;

	name[0] = '\0';
	what[0] = '\0';
	/*
	 * The Location is the server's text, and what it asks for goes into
	 * our request line: a space or tab there would split it, and a CR or
	 * LF (which llhttp does not let into a value, but this is cheap)
	 * would end it. So every byte a request-target may not carry raw
	 * becomes %XX first, as browsers do: in the path that is the fix, in
	 * the host it makes the URL invalid (not followed).
	 */
	n = rp__pct_encode(enc, RP__PATH_MAX, loc, len);
	if (n < 0)
		return RP__REDIRECT_TOO_LONG;
	snprintf(what, what_len, "%s", enc);
	if (len + 1 >= sizeof(from->p.location))
		return RP__REDIRECT_TOO_LONG; /* cut at its bound */
	if (!n)
		return RP__REDIRECT_BAD;
	if (enc[0] == '/' && enc[1] != '/') { /* an absolute path */
		n = (int)strcspn(enc, "#"); /* the fragment stays here */
		memcpy(next->host, from->host, from->host_len + 1u);
		next->host_len = from->host_len;
		memcpy(next->path, enc, (size_t)n);
		next->path[n] = '\0';
		next->path_len = (uint16_t)n;
		next->addr = from->addr;
		next->addrlen = from->addrlen;
		next->tls = from->tls;
		next->vhost = from->vhost; /* the same host: the same Host */
		return RP__REDIRECT_FOLLOW;
	}
	if (enc[0] == '/') { /* "//host/path": the same scheme */
		const char *sch = from->tls ? "https:" : "http:";
		size_t k = strlen(sch);

		u = memcpy(enc - k, sch, k);
		n += (int)k;
	} else if (!(slen = uri_scheme(enc))) {
		return RP__REDIRECT_RELATIVE;
	} else if (slen == 5 && !strncasecmp(enc, "https", 5)) {
		if (!tls_ok)
			return RP__REDIRECT_HTTPS;
	} else if (slen != 4 || strncasecmp(enc, "http", 4)) {
		return RP__REDIRECT_SCHEME;
	}
	if (rp__target_parse(u, (size_t)n, &sp, err, sizeof(err)) < 0 ||
	    sp.kind != RP__SPEC_URL || sp.off || sp.len != (size_t)n)
		return RP__REDIRECT_BAD;
	if (!any_host && !same_host(o, &sp, u)) {
		host_text(&sp, u, what, what_len);
		return RP__REDIRECT_OTHER_HOST;
	}
	next->tls = sp.scheme == RP__SCHEME_HTTPS;
	return url_target(&sp, u, next, name, port);
}

const char *rp__redirect_reason(enum rp__redirect r)
{
	switch (r) {
	case RP__REDIRECT_FOLLOW:
		return "followed";
	case RP__REDIRECT_OTHER_HOST:
		return "other host";
	case RP__REDIRECT_HTTPS:
		return "https needs TLS, which this engine does not do";
	case RP__REDIRECT_SCHEME:
		return "scheme not supported";
	case RP__REDIRECT_RELATIVE:
		return "relative Location not supported";
	case RP__REDIRECT_TOO_LONG:
		return "Location too long";
	case RP__REDIRECT_BAD:
	default:
		return "bad Location";
	}
}
