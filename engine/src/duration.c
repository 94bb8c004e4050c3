/*
 * duration.c - the public rp_parse_duration(): "500ms", "1.5s", "2m" to
 * nanoseconds, at most a day.
 *
 * It uses integers only: each unit is a multiple of a power of ten
 * nanoseconds, so a fraction scales exactly. Strict like the target
 * parser: no sign, no blanks, no exponent.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ringprobe.h"
#include "lex.h"

#define NS_PER_DAY (86400ULL * 1000000000ULL)

/*
 * A unit is mult * 10^exp nanoseconds, so that a fraction can be scaled
 * exactly with integers: the first exp + 2 fraction digits are kept.
 */
static const struct {
	const char *name;
	uint64_t mult;
	unsigned int exp;
} units[] = {
	{ "ns", 1, 0 },	 { "us", 1, 3 },  { "ms", 1, 6 },
	{ "s", 1, 9 },	 { "m", 6, 10 },  { "h", 36, 11 },
};

static uint64_t pow10u(unsigned int e)
{
	uint64_t v = 1;

	while (e--)
		v *= 10;
	return v;
}

int rp_parse_duration(const char *s, uint64_t *ns)
{
	const char *p = s, *frac = NULL;
	size_t fraclen = 0, u, i;
	uint64_t ip = 0, unit, fv = 0, total;
	unsigned int keep;
	bool big = false;

	if (!s || !ns || !is_digit(*p))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		if (ip > NS_PER_DAY)
			big = true;
		else
			ip = ip * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		frac = ++p;
		while (is_digit(*p))
			p++;
		fraclen = (size_t)(p - frac);
		if (!fraclen)
			return -EINVAL;
	}
	if (!*p) {
		u = 3; /* a bare number is seconds */
	} else {
		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
			if (!strcmp(p, units[u].name))
				break;
		if (u == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
	}
	if (big)
		return -ERANGE;
	unit = units[u].mult * pow10u(units[u].exp);
	if (ip > NS_PER_DAY / unit)
		return -ERANGE;
	total = ip * unit;

	/* fv = the fraction * 10^keep, truncated; mult * fv < 2^63 */
	keep = units[u].exp + 2;
	for (i = 0; i < keep; i++)
		fv = fv * 10 + (i < fraclen ? (uint64_t)(frac[i] - '0') : 0);
	total += units[u].mult * fv / 100;
	if (total > NS_PER_DAY)
		return -ERANGE;
	*ns = total;
	return 0;
}
