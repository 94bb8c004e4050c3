/*
 * lex.h - the byte classes and small parsers that the target-text parsers
 * (target.c, ports.c, duration.c, expand.c) share: blanks, digits, hex
 * digits, a bounded unsigned decimal, and set_err() for their messages.
 *
 * Internal to the target module, and deliberately not in target.h: that
 * header is included by the source and the HTTP stage too, and these
 * short names should not reach them.
 */
#ifndef RP_LEX_H
#define RP_LEX_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

__attribute__((format(printf, 3, 4))) static inline void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

static inline bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * Parses s[0, n) as an unsigned decimal of at most maxdigits digits.
 * Returns 0, -1 if it is empty or not all digits, -2 if too long.
 */
static inline int parse_uint(const char *s, size_t n, size_t maxdigits,
			     unsigned long *v)
{
	size_t i;

	*v = 0;
	if (!n)
		return -1;
	for (i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return -1;
	if (n > maxdigits)
		return -2;
	for (i = 0; i < n; i++)
		*v = *v * 10 + (unsigned long)(s[i] - '0');
	return 0;
}

#endif /* RP_LEX_H */
