/*
 * http_request.c - the parts of an HTTP probe's request that every probe
 * of an engine shares, built once from the options, and the rules for
 * what the options may put on the wire.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_request.h"
#include "ringprobe/version.h"

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

/* Builds the shared pieces of the request from the options. */
int rp__http_request_build(struct rp__http_request *h,
			   const struct rp_http_opts *o)
{
	const char *method = o->method ? o->method : "GET";
	const char *ua = o->user_agent ? o->user_agent
				       : "ringprobe/" RP_VERSION_STRING;
	size_t len;
	char *p;

	if (!is_token(method) || !is_field_value(ua))
		return -EINVAL;
	h->head = strcmp(method, "HEAD") == 0;
	h->prefix_len = strlen(method) + 1;
	h->prefix = malloc(h->prefix_len + 1);
	if (!h->prefix)
		return -ENOMEM;
	snprintf(h->prefix, h->prefix_len + 1, "%s ", method);

	len = sizeof("\r\nUser-Agent: ") + strlen(ua) +
	      sizeof("\r\nAccept: */*\r\nConnection: close") + 4;
	for (const char *const *hd = o->headers; hd && *hd; hd++) {
		if (!is_header_line(*hd))
			return -EINVAL;
		len += strlen(*hd) + 2;
	}
	h->tail = p = malloc(len);
	if (!h->tail)
		return -ENOMEM;
	p += sprintf(p, "\r\nUser-Agent: %s\r\nAccept: */*\r\nConnection: close",
		     ua);
	for (const char *const *hd = o->headers; hd && *hd; hd++)
		p += sprintf(p, "\r\n%s", *hd);
	p += sprintf(p, "\r\n\r\n");
	h->tail_len = (size_t)(p - h->tail);
	return 0;
}

void rp__http_request_free(struct rp__http_request *h)
{
	free(h->prefix);
	free(h->tail);
	h->prefix = h->tail = NULL;
}
