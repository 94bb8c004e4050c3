/*
 * parse.c - the values options take (parse.h). The HTTP checks are the
 * engine's own rules (engine/src/http_request.c), applied here as well so
 * that a bad --method, --user-agent or -H is refused naming the option
 * instead of making rp_engine_create() fail with -EINVAL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "ringprobe.h"

int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	uint64_t mul = 1;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	default: break;
	}
	if (*end || v > (1ull << 40) / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int parse_duration(const char *s, uint64_t *ns)
{
	size_t n = strlen(s);

	if (rp_parse_duration(s, ns) < 0)
		return -1;
	/* The library reads a bare number as seconds; a person who types
	 * 1000 may well mean milliseconds, so the CLI asks. */
	if (n && s[n - 1] >= '0' && s[n - 1] <= '9')
		return PARSE_NO_UNIT;
	return 0;
}

/* One resolver item "IP", "IP:PORT", "IPv6" or "[IPv6]:PORT". */
static int resolver_ok(char *item)
{
	struct in6_addr a;
	const char *port = NULL;
	uint64_t v;

	if (item[0] == '[') {
		char *end = strchr(item, ']');

		if (!end || (end[1] && end[1] != ':'))
			return -1;
		*end = '\0';
		port = end[1] ? end + 2 : NULL;
		if (inet_pton(AF_INET6, item + 1, &a) != 1)
			return -1;
	} else if (inet_pton(AF_INET6, item, &a) != 1) {
		char *colon = strchr(item, ':');

		if (colon) {
			*colon = '\0';
			port = colon + 1;
		}
		if (inet_pton(AF_INET, item, &a) != 1)
			return -1;
	}
	if (port && (parse_uint(port, 65535, &v) < 0 || v == 0))
		return -1;
	return 0;
}

int parse_resolvers(const char *list)
{
	char item[80];
	const char *p = list;

	for (;;) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= sizeof(item))
			return -1;
		memcpy(item, p, n);
		item[n] = '\0';
		if (resolver_ok(item) < 0)
			return -1;
		p += n;
		if (!*p)
			return 0;
		p++;
	}
}

int parse_status_list(const char *s, uint8_t **bitmap)
{
	uint8_t *b = *bitmap ? *bitmap : calloc(1000, 1);
	const char *p = s;

	if (!b)
		return -1;
	*bitmap = b;
	for (;;) {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;

		if (end == p || lo < 100 || lo > 999)
			return -1;
		p = end;
		if (*p == '-') {
			hi = strtoul(++p, &end, 10);
			if (end == p || hi < lo || hi > 999)
				return -1;
			p = end;
		}
		memset(b + lo, 1, hi - lo + 1);
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			return -1;
	}
}

int parse_tls_version(const char *s)
{
	static const char *const names[] = { "1.0", "1.1", "1.2", "1.3" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return RP_TLS_1_0 + i;
	return -1;
}

bool alpn_ok(const char *s)
{
	size_t n;

	do {
		n = strcspn(s, ",");
		if (n == 0 || n > 255)
			return false;
		for (size_t i = 0; i < n; i++)
			if (s[i] <= ' ' || s[i] >= 0x7f)
				return false;
		s += n;
	} while (*s++ == ',');
	return true;
}

bool http_token(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c))
			return false;
	}
	return true;
}

bool http_value(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < ' ' && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}
