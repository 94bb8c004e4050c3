/*
 * abi.c - structs that grow between versions, and create's error text.
 *
 * A caller's struct may be shorter than the library's (built against an
 * older header: the fields it does not know are zero, which means
 * "default") or longer (a newer header: accepted only when the bytes this
 * library does not know are all zero). This is the rule of Linux's
 * extensible syscall structs (copy_struct_from_user(), used by openat2 and
 * clone3), so a program and a library of different versions agree on
 * every field both know.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "abi.h"

int rp__struct_in(void *dst, size_t dsize, const void *src, size_t ssize,
		  size_t min)
{
	const unsigned char *s = src;

	if (ssize < min)
		return -EINVAL;
	if (ssize > dsize) {
		for (size_t i = dsize; i < ssize; i++)
			if (s[i])
				return -E2BIG;
		ssize = dsize;
	}
	memcpy(dst, src, ssize);
	memset((unsigned char *)dst + ssize, 0, dsize - ssize);
	return 0;
}

void rp__struct_out(void *dst, size_t dsize, const void *src, size_t ssize)
{
	memcpy(dst, src, dsize < ssize ? dsize : ssize);
	if (dsize > ssize)
		memset((unsigned char *)dst + ssize, 0, dsize - ssize);
}

void rp__errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen || err[0]) /* the first reason found wins */
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
