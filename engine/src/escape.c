/*
 * escape.c - making untrusted bytes safe to show and safe to send.
 *
 * rp__escape() quotes a bad target line in a diagnostic as printable ASCII
 * ("\xHH"), cut to fit; rp__pct_encode() and rp__spec_path() make a URL's
 * path and query fit for the HTTP request line ("%XX"), never cutting
 * inside an escape. Both only ever write into the caller's buffer.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "target.h"

char *rp__escape(char *dst, size_t dstsize, const char *src, size_t len)
{
	size_t need = 0, o = 0, i;
	bool cut;

	if (dstsize < 4) {
		if (dstsize)
			dst[0] = '\0';
		return dst;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		need += (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') ?
				1 : 4;
	}
	cut = need + 1 > dstsize;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t w = (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') ?
				   1 : 4;

		if (o + w + (cut ? 3 : 0) + 1 > dstsize)
			break;
		if (w == 1)
			dst[o] = (char)c;
		else
			snprintf(dst + o, 5, "\\x%02x", c);
		o += w;
	}
	if (cut) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

/* True for the bytes a request-target may not carry raw (RFC 9112 3.2:
 * it is printable ASCII without a blank). */
static bool needs_pct(unsigned char c)
{
	return c <= ' ' || c >= 0x7f;
}

/*
 * Writes src[0, n) to dst from offset o on, percent-encoded, stopping
 * before the first byte whose encoding would leave no room for the NUL:
 * a cut never splits a "%XX". Returns the new offset; *all says whether
 * every byte made it.
 */
static size_t pct_encode(char *dst, size_t dstsize, size_t o,
			 const char *src, size_t n, bool *all)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t w = needs_pct(c) ? 3 : 1;

		if (o + w + 1 > dstsize)
			break;
		if (w == 1) {
			dst[o++] = (char)c;
			continue;
		}
		dst[o++] = '%';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 15];
	}
	dst[o] = '\0';
	*all = i == n;
	return o;
}

int rp__pct_encode(char *dst, size_t dstsize, const char *src, size_t len)
{
	bool all;
	size_t o;

	if (!dstsize)
		return -ENAMETOOLONG;
	o = pct_encode(dst, dstsize, 0, src, len, &all);
	if (!all || o > INT_MAX)
		return -ENAMETOOLONG;
	return (int)o;
}

char *rp__spec_path(const struct rp__spec *spec, const char *input,
		    char *dst, size_t dstsize)
{
	const char *p = input + spec->path_off;
	size_t n = spec->path_len, o = 0;
	bool all;

	if (!dstsize)
		return dst;
	if (spec->kind == RP__SPEC_URL && (!n || p[0] != '/') && dstsize > 1)
		dst[o++] = '/';
	if (spec->kind != RP__SPEC_URL)
		n = 0;
	/* The parser lets no such byte into a URL; encoding anyway keeps
	 * the request line whole should that ever change. */
	pct_encode(dst, dstsize, o, p, n, &all);
	return dst;
}
