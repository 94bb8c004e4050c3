/*
 * fuzz.h - what the fuzz harnesses share: the libFuzzer entry point, a
 * check that aborts (so libFuzzer, and the replay driver under ctest,
 * report it as a crash whatever NDEBUG says), and the text properties the
 * harnesses assert.
 */
#ifndef RP_FUZZ_H
#define RP_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

/*
 * Length of the well-formed UTF-8 sequence at s[0, n) (RFC 3629: no
 * overlongs, surrogates or values past U+10FFFF), its code point in *cp;
 * 0 if there is none. Written apart from the code under test, on purpose.
 */
static inline size_t fuzz_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	static const struct {
		unsigned char lo, hi;	/* lead byte range */
		unsigned char lo2, hi2; /* its second byte */
		size_t len;
	} t[] = {
		{ 0xc2, 0xdf, 0x80, 0xbf, 2 }, { 0xe0, 0xe0, 0xa0, 0xbf, 3 },
		{ 0xe1, 0xec, 0x80, 0xbf, 3 }, { 0xed, 0xed, 0x80, 0x9f, 3 },
		{ 0xee, 0xef, 0x80, 0xbf, 3 }, { 0xf0, 0xf0, 0x90, 0xbf, 4 },
		{ 0xf1, 0xf3, 0x80, 0xbf, 4 }, { 0xf4, 0xf4, 0x80, 0x8f, 4 },
	};

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t c;

		if (s[0] < t[i].lo || s[0] > t[i].hi)
			continue;
		if (n < t[i].len || s[1] < t[i].lo2 || s[1] > t[i].hi2)
			return 0;
		c = s[0] & (t[i].len == 2 ? 0x1f : t[i].len == 3 ? 0x0f : 0x07);
		for (size_t k = 1; k < t[i].len; k++) {
			if ((s[k] & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (s[k] & 0x3f);
		}
		*cp = c;
		return t[i].len;
	}
	return 0;
}

static inline bool fuzz_is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* s[0, n) is UTF-8 with no control character (C0, DEL, C1). */
static inline bool fuzz_clean_text(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	while (n > 0) {
		uint32_t cp;
		size_t k = fuzz_utf8(s, n, &cp);

		if (k == 0 || fuzz_is_control(cp))
			return false;
		s += k;
		n -= k;
	}
	return true;
}

#endif /* RP_FUZZ_H */
