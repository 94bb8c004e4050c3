/*
 * http_text.h - the text an HTTP probe result hands out (internal): bytes
 * a server chose, turned into UTF-8 without control characters one byte
 * at a time, and the streaming <title> scanner (http_text.c).
 */
#ifndef RP_HTTP_TEXT_H
#define RP_HTTP_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP__TITLE_MAX 256     /* kept bytes of the title, after decoding */

/* A UTF-8 decoder's state between bytes (see rp__u8_feed()). */
struct rp__u8 {
	uint32_t cp;                  /* bits so far */
	uint8_t need;                 /* continuation bytes still to come */
	uint8_t lo, hi;               /* range of the next one */
};

/* The <title> scanner: zeroed, it looks for "<title" in what it is fed. */
struct rp__title {
	uint8_t state;                /* enum title_state in the .c */
	uint16_t len;                 /* raw bytes seen (saturating) */
	uint16_t match;               /* bytes of a tag matched so far */
	char raw[RP__TITLE_MAX];      /* raw title bytes, cut at the bound */
	char text[RP__TITLE_MAX];     /* the title handed out, once finished */
};

/* ASCII only, whatever the locale. */
static inline char rp__lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Feeds one byte to a UTF-8 decoder. Returns how many code points are in
 * out[]: 0 inside a sequence, 1, or 2 when c broke a sequence (U+FFFD for
 * it, then c read afresh). */
unsigned int rp__u8_feed(struct rp__u8 *d, unsigned char c, uint32_t out[2]);

/* Writes cp to out as UTF-8 (1 to 4 bytes, returned); what may not be
 * handed out (a control, a surrogate, past U+10FFFF) becomes U+FFFD. */
size_t rp__utf8_encode(uint32_t cp, char *out);

/* The body is not HTML: stop looking for a title. */
void rp__title_off(struct rp__title *t);

/* Feeds body bytes to the scanner. */
void rp__title_scan(struct rp__title *t, const char *at, size_t n);

/* Decodes what was found into t->text (always a string, "" if none). A
 * pure function of the raw bytes: calling it again is harmless. */
void rp__title_finish(struct rp__title *t);

#endif
