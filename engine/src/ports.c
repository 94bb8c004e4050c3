/*
 * ports.c - sets of TCP ports and the port list grammar ("22,80,8000-8100").
 *
 * A set is a bitmap with a one-bit-per-word summary (struct rp__ports), so
 * that rp__ports_next() walks a sparse set in a few word tests per step:
 * the expansion of a target over a port set (expand.c) calls it once per
 * target. Like the rest of the target module it is pure, and strict: every
 * rejected item is quoted with a reason. The one exception to "pure" is
 * rp__ports_top(), which reads nmap's port frequency table: it lives here
 * so that embedders get --top-ports through rp_source_opts as the CLI does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lex.h"
#include "ringprobe.h"
#include "target.h"

void rp__ports_clear(struct rp__ports *p)
{
	memset(p, 0, sizeof(*p));
}

void rp__ports_add(struct rp__ports *p, int lo, int hi)
{
	int port;

	if (lo < 1 || hi > 65535 || lo > hi)
		return;
	for (port = lo; port <= hi; port++) {
		unsigned int w = (unsigned int)port >> 6;
		uint64_t bit = 1ULL << (port & 63);

		if (p->bits[w] & bit)
			continue;
		p->bits[w] |= bit;
		p->words[w >> 6] |= 1ULL << (w & 63);
		p->count++;
	}
}

void rp__ports_remove(struct rp__ports *p, const struct rp__ports *q)
{
	for (unsigned int w = 0; w < 65536 / 64; w++) {
		uint64_t drop = p->bits[w] & q->bits[w];

		if (!drop)
			continue;
		p->bits[w] &= ~drop;
		p->count -= (uint32_t)__builtin_popcountll(drop);
		if (!p->bits[w])
			p->words[w >> 6] &= ~(1ULL << (w & 63));
	}
}

struct freq {
	double f;
	int port;
};

static int by_freq(const void *a, const void *b)
{
	const struct freq *x = a, *y = b;

	if (x->f != y->f)
		return x->f > y->f ? -1 : 1;
	return x->port - y->port;
}

/* Reads the "port/tcp frequency" entries of the table into *out (one per
 * port, the highest frequency if listed twice). Returns the count or
 * -errno. */
static int read_table(FILE *f, struct freq **out)
{
	double *best = calloc(65536, sizeof(*best)); /* 0: not listed */
	char *line = NULL;
	size_t cap = 0;
	int n = 0;

	*out = NULL;
	if (!best)
		return -ENOMEM;
	while (getline(&line, &cap, f) > 0) {
		char name[128], proto[8];
		unsigned port;
		double fr;

		if (line[0] == '#' ||
		    sscanf(line, "%127s %u/%7s %lf", name, &port, proto, &fr) != 4 ||
		    strcmp(proto, "tcp") || port < 1 || port > 65535 ||
		    !(fr >= 0 && fr <= 1))
			continue;
		if (best[port] == 0)
			n++;
		if (fr > best[port] || best[port] == 0)
			best[port] = fr > 0 ? fr : 1e-300; /* listed */
	}
	free(line);
	*out = malloc((size_t)(n ? n : 1) * sizeof(**out));
	if (*out) {
		n = 0;
		for (int p = 1; p < 65536; p++)
			if (best[p] > 0)
				(*out)[n++] = (struct freq){ best[p], p };
	}
	free(best);
	return *out ? n : -ENOMEM;
}

int rp__ports_top(struct rp__ports *p, const char *path, uint32_t n,
		  const struct rp__ports *skip, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	struct freq *t;
	int r;

	if (!f) {
		r = -errno;
		set_err(err, errlen, "cannot read nmap's port frequency table "
			"%s: %s%s", path, strerror(-r),
			r == -ENOENT ? " (Debian: install nmap-common)" : "");
		return r;
	}
	r = read_table(f, &t);
	fclose(f);
	if (r == 0)
		set_err(err, errlen, "%s: no TCP port with a frequency in it",
			path);
	if (r <= 0) {
		if (r < 0)
			set_err(err, errlen, "%s: %s", path, strerror(-r));
		free(t);
		return r < 0 ? r : -EINVAL;
	}
	qsort(t, (size_t)r, sizeof(*t), by_freq);
	for (int i = 0; i < r && n; i++) {
		if (skip && rp__ports_has(skip, t[i].port))
			continue;
		rp__ports_add(p, t[i].port, t[i].port);
		n--;
	}
	free(t);
	return 0;
}

static bool bit(const uint64_t *b, int port)
{
	return b[port >> 6] & (1ULL << (port & 63));
}

bool rp__ports_tls(const struct rp__ports *p, int port, int scheme)
{
	if (port < 1 || port > 65535)
		return false;
	if (bit(p->https, port))
		return true;
	if (bit(p->http, port))
		return false;
	if (scheme == RP_SCHEME_AUTO)
		return port == 443 || port == 8443;
	return scheme == RP_SCHEME_HTTPS;
}

bool rp__ports_has(const struct rp__ports *p, int port)
{
	return port >= 1 && port <= 65535 && bit(p->bits, port);
}

int rp__ports_next(const struct rp__ports *p, int after)
{
	unsigned int q, w, sw;
	uint64_t m;

	if (after < 0)
		after = 0;
	if (after >= 65535)
		return -1;
	q = (unsigned int)after + 1;
	w = q >> 6;
	m = p->bits[w] & (~0ULL << (q & 63));
	if (m)
		return (int)(w * 64 + (unsigned int)__builtin_ctzll(m));

	/* the next non-empty word after w, from the summary */
	if (++w >= 65536 / 64)
		return -1;
	sw = w >> 6;
	m = p->words[sw] & (~0ULL << (w & 63));
	while (!m) {
		if (++sw >= 65536 / 64 / 64)
			return -1;
		m = p->words[sw];
	}
	w = sw * 64 + (unsigned int)__builtin_ctzll(m);
	return (int)(w * 64 + (unsigned int)__builtin_ctzll(p->bits[w]));
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_blank(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_blank((*s)[*n - 1]))
		(*n)--;
}

/* One port of a port list item; 0 or -EINVAL with the reason in err. */
static int item_port(const char *s, size_t n, const char *item, size_t ilen,
		     unsigned long *v, char *err, size_t errlen)
{
	char q[48];
	int r;

	trim(&s, &n);
	r = parse_uint(s, n, 5, v);
	rp__escape(q, sizeof(q), item, ilen);
	if (r == -1) {
		set_err(err, errlen,
			"port list item '%s': not a port or range "
			"(like 80 or 8000-8100)", q);
		return -EINVAL;
	}
	if (r == -2) {
		set_err(err, errlen, "port list item '%s': number too long",
			q);
		return -EINVAL;
	}
	if (*v < 1 || *v > 65535) {
		set_err(err, errlen,
			"port list item '%s': port %lu out of range 1-65535", q,
			*v);
		return -EINVAL;
	}
	return 0;
}

int rp__ports_parse(struct rp__ports *p, const char *spec, char *err,
		    size_t errlen)
{
	const char *s = spec;
	unsigned int n = 1;
	int r;

	rp__ports_clear(p);
	if (!spec) {
		set_err(err, errlen, "no port list");
		return -EINVAL;
	}
	for (;; n++) {
		const char *end = strchr(s, ',');
		const char *item = s, *dash;
		size_t ilen;
		unsigned long lo, hi;

		if (!end)
			end = s + strlen(s);
		ilen = (size_t)(end - s);
		trim(&item, &ilen);
		if (!ilen) {
			if (!*end && n == 1)
				set_err(err, errlen, "empty port list");
			else
				set_err(err, errlen,
					"port list item %u is empty", n);
			goto fail;
		}
		/* "https:" or "http:": the scheme of the item's ports */
		uint64_t *scheme = NULL;
		if (ilen > 6 && !strncasecmp(item, "https:", 6)) {
			scheme = p->https;
			item += 6, ilen -= 6;
		} else if (ilen > 5 && !strncasecmp(item, "http:", 5)) {
			scheme = p->http;
			item += 5, ilen -= 5;
		}
		dash = memchr(item, '-', ilen);
		if (dash) {
			r = item_port(item, (size_t)(dash - item), item, ilen,
				      &lo, err, errlen);
			if (!r)
				r = item_port(dash + 1,
					      ilen - (size_t)(dash + 1 - item),
					      item, ilen, &hi, err, errlen);
			if (r)
				goto fail;
			if (lo > hi) {
				char q[48];

				rp__escape(q, sizeof(q), item, ilen);
				set_err(err, errlen,
					"port list item '%s': reversed range",
					q);
				goto fail;
			}
		} else {
			if (item_port(item, ilen, item, ilen, &lo, err, errlen))
				goto fail;
			hi = lo;
		}
		rp__ports_add(p, (int)lo, (int)hi);
		for (unsigned long q = lo; scheme && q <= hi; q++)
			scheme[q >> 6] |= 1ULL << (q & 63);
		if (!*end)
			break;
		s = end + 1;
	}
	return 0;
fail:
	rp__ports_clear(p);
	return -EINVAL;
}
