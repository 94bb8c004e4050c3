/*
 * http_text.c - the text an HTTP probe result hands out.
 *
 * What a result's strings may hold: they come from whoever answered, and
 * end up in terminals and spreadsheets, so they are UTF-8 without control
 * characters (C0, DEL, C1, tab included): anything else is U+FFFD. Fields
 * arrive in pieces across receive buffers, so the decoder is fed a byte
 * at a time and keeps its state between pieces.
 *
 * The title scanner works the same way: body bytes go through a small
 * state machine that finds the first <title ...> start tag (attributes and
 * quoted '>' included), keeps the raw text up to "</title" within a bound,
 * and decodes it once at the end: UTF-8, the common entities and numeric
 * character references, whitespace collapsed.
 */
#include "http_text.h"

#include <string.h>

#define TITLE_RAW_CAP (RP__TITLE_MAX - 1)
/* len counts raw title bytes seen, saturating here: anything at least
 * TITLE_RAW_CAP + strlen("</title") still means "cut". */
#define TITLE_COUNT_MAX (RP__TITLE_MAX + 8)

enum title_state {
	T_SEEK = 0, /* looking for "<title" */
	T_NAME_END, /* after "<title": '>' or attributes must follow */
	T_ATTR,	    /* inside the start tag, after its name */
	T_ATTR_DQ,  /* inside a "quoted" attribute value */
	T_ATTR_SQ,  /* inside a 'quoted' attribute value */
	T_TEXT,	    /* collecting raw text until "</title" */
	T_DONE,	    /* end tag seen, title decoded */
	T_OFF,	    /* not scanning: the body is not HTML */
};

static const char title_open[] = "<title";
static const char title_close[] = "</title";
#define OPEN_LEN (sizeof(title_open) - 1)
#define CLOSE_LEN (sizeof(title_close) - 1)

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

/* ---- UTF-8 -------------------------------------------------------------- */

/*
 * What a result's strings may hold: they come from whoever answered, and
 * end up in terminals and spreadsheets, so they are UTF-8 without control
 * characters (C0, DEL, C1, tab included): anything else is U+FFFD.
 */
static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

size_t rp__utf8_encode(uint32_t cp, char *out)
{
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || is_control(cp))
		cp = 0xFFFD;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * A UTF-8 decoder fed one byte at a time, so that a field arriving in
 * spans decodes exactly as it would whole. It accepts the well-formed
 * sequences of Unicode's table 3-7 (no overlongs, surrogates or values
 * past U+10FFFF) and turns each maximal ill-formed subpart into one
 * U+FFFD, as WHATWG's decoder does.
 */
unsigned int rp__u8_feed(struct rp__u8 *d, unsigned char c, uint32_t out[2])
{
	unsigned int n = 0;

	if (d->need) {
		if (c >= d->lo && c <= d->hi) {
			d->cp = d->cp << 6 | (c & 0x3Fu);
			d->lo = 0x80;
			d->hi = 0xBF;
			if (--d->need)
				return 0;
			out[0] = d->cp;
			return 1;
		}
		d->need = 0;
		out[n++] = 0xFFFD;
	}
	d->lo = 0x80;
	d->hi = 0xBF;
	if (c < 0x80) {
		out[n++] = c;
	} else if (c >= 0xC2 && c <= 0xDF) {
		d->need = 1;
		d->cp = c & 0x1Fu;
	} else if (c >= 0xE0 && c <= 0xEF) {
		d->need = 2;
		d->cp = c & 0x0Fu;
		if (c == 0xE0)
			d->lo = 0xA0; /* overlong */
		else if (c == 0xED)
			d->hi = 0x9F; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		d->need = 3;
		d->cp = c & 0x07u;
		if (c == 0xF0)
			d->lo = 0x90; /* overlong */
		else if (c == 0xF4)
			d->hi = 0x8F; /* past U+10FFFF */
	} else {
		out[n++] = 0xFFFD;
	}
	return n;
}

/* ---- title -------------------------------------------------------------- */

void rp__title_off(struct rp__title *t)
{
	t->state = T_OFF;
}

static int digit_value(char c, bool hex)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = rp__lower(c);
	if (hex && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Windows-1252 for &#128; to &#159;, as HTML reads them (WHATWG, numeric
 * character reference end state); 0: no such character, a C1 control.
 */
static const uint16_t cp1252[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
    0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

/*
 * Decodes the entity at s (s[0] == '&', n bytes available) into *out.
 * Returns true and sets *used, or returns false when it is not an entity
 * we know (the '&' is then kept as text).
 */
static bool entity(const char *s, size_t n, uint32_t *out, size_t *used)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {
	    {"amp;", '&'},  {"lt;", '<'},    {"gt;", '>'},
	    {"quot;", '"'}, {"apos;", '\''}, {"nbsp;", ' '},
	};
	uint32_t cp = 0;
	size_t i = 2, digits = 0;
	bool hex = false;

	for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
		size_t len = strlen(named[k].name);

		if (n - 1 >= len && memcmp(s + 1, named[k].name, len) == 0) {
			*out = (unsigned char)named[k].c;
			*used = len + 1;
			return true;
		}
	}
	if (n < 2 || s[1] != '#')
		return false;
	if (i < n && (s[i] == 'x' || s[i] == 'X')) {
		hex = true;
		i++;
	}
	/* At most 8 digits: no overflow, and anything longer is not ours. */
	for (; i < n && digits < 8; i++, digits++) {
		int d = digit_value(s[i], hex);

		if (d < 0)
			break;
		cp = cp * (hex ? 16 : 10) + (uint32_t)d;
	}
	if (digits == 0 || i >= n || s[i] != ';')
		return false;
	*used = i + 1;
	if (cp == 0xA0) /* &#160; like &nbsp; */
		cp = ' ';
	else if (cp >= 0x80 && cp <= 0x9F && cp1252[cp - 0x80])
		cp = cp1252[cp - 0x80];
	*out = cp; /* the rest of what is not text: see rp__utf8_encode() */
	return true;
}

/*
 * Turns the raw title bytes into t->text: UTF-8 decoded (U+FFFD for what
 * is not), entities decoded, whitespace runs collapsed to one space,
 * trimmed, controls replaced (see is_control()), and at most
 * RP__TITLE_MAX - 1 bytes of whole characters. Pure function of the raw
 * bytes, so calling it again is harmless.
 */
void rp__title_finish(struct rp__title *t)
{
	size_t raw_len = t->len < TITLE_RAW_CAP ? t->len : TITLE_RAW_CAP;
	bool cut = t->len > raw_len;
	const char *raw = t->raw;
	struct rp__u8 d = {0};
	size_t out = 0, i = 0;
	bool space = false;

	if (t->state != T_TEXT && t->state != T_DONE)
		return;
	/* Half an entity at the cut is noise: end the text before it. */
	for (size_t k = raw_len; cut && k > 0 && raw_len - k < 12; k--) {
		char c = rp__lower(raw[k - 1]);

		if (c == '&') {
			raw_len = k - 1;
			break;
		}
		if (c != '#' && digit_value(c, false) < 0 &&
		    !(c >= 'a' && c <= 'z'))
			break;
	}
	for (bool end = false; !end;) {
		uint32_t cp[2];
		unsigned int ncp = 0;
		size_t used = 1;

		if (i == raw_len) {
			/* A sequence open at the end is ill-formed, unless
			 * the cut split it: then it goes. */
			end = true;
			if (d.need && !cut)
				cp[ncp++] = 0xFFFD;
			used = 0;
		} else if (raw[i] == '&' && d.need) {
			/* Ends the sequence: '&' is read again next turn. */
			d.need = 0;
			cp[ncp++] = 0xFFFD;
			used = 0;
		} else if (raw[i] == '&' && entity(raw + i, raw_len - i, cp, &used)) {
			ncp = 1;
		} else {
			ncp = rp__u8_feed(&d, (unsigned char)raw[i], cp);
		}
		i += used;
		for (unsigned int j = 0; j < ncp; j++) {
			char unit[4];
			size_t ulen;

			if (cp[j] < 0x80 && is_ws((char)cp[j])) {
				space = out > 0;
				continue;
			}
			ulen = rp__utf8_encode(cp[j], unit);
			if (out + space + ulen > RP__TITLE_MAX - 1) {
				t->text[out] = '\0';
				return;
			}
			if (space)
				t->text[out++] = ' ';
			space = false;
			memcpy(t->text + out, unit, ulen);
			out += ulen;
		}
	}
	t->text[out] = '\0';
}

/* See enum title_state. */
void rp__title_scan(struct rp__title *t, const char *at, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = at[i];

		switch (t->state) {
		case T_SEEK:
			if (rp__lower(c) == title_open[t->match]) {
				if (++t->match == OPEN_LEN) {
					t->state = T_NAME_END;
					t->match = 0;
				}
			} else {
				t->match = c == '<';
			}
			break;
		case T_NAME_END:
			if (c == '>') {
				t->state = T_TEXT;
			} else if (is_ws(c) || c == '/') {
				t->state = T_ATTR;
			} else { /* "<titles>" and the like */
				t->state = T_SEEK;
				t->match = c == '<';
			}
			break;
		case T_ATTR:
			if (c == '>')
				t->state = T_TEXT;
			else if (c == '"')
				t->state = T_ATTR_DQ;
			else if (c == '\'')
				t->state = T_ATTR_SQ;
			break;
		case T_ATTR_DQ:
			if (c == '"')
				t->state = T_ATTR;
			break;
		case T_ATTR_SQ:
			if (c == '\'')
				t->state = T_ATTR;
			break;
		case T_TEXT:
			/* Keep every byte, the end tag's too: once "</title"
			 * is complete its 7 bytes come off the count. */
			if (t->len < TITLE_RAW_CAP)
				t->raw[t->len] = c;
			if (t->len < TITLE_COUNT_MAX)
				t->len++;
			if (rp__lower(c) == title_close[t->match]) {
				if (++t->match == CLOSE_LEN) {
					t->len -= CLOSE_LEN;
					rp__title_finish(t);
					t->state = T_DONE;
					return;
				}
			} else {
				t->match = c == '<';
			}
			break;
		default: /* T_DONE, T_OFF */
			return;
		}
	}
}
