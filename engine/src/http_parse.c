/*
 * http_parse.c - one HTTP/1.1 response, parsed incrementally with llhttp.
 *
 * This module owns the llhttp settings shared by every probe's parser, the
 * callbacks that pick out of the byte stream what a probe result keeps
 * (status, reason, Server, Content-Type, Location, body count, a 64-bit
 * FNV-1a hash of the body and the page title), the streaming <title>
 * scanner with its entity decoder, and the mapping of llhttp's return codes
 * and EOF quirks onto MORE / DONE / TRUNCATED / ERROR.
 *
 * Bytes are never buffered: llhttp hands out spans that point into the
 * caller's receive buffer, and any element (a header value, the title, the
 * "<title" tag itself) may arrive in pieces across feed() calls. Every
 * callback therefore accumulates into bounded fields of struct
 * rp__http_parse. Nothing is allocated: the struct lives in a probe slot.
 *
 * The outcome must not depend on how recv split the response, and llhttp
 * alone does not promise that: it hands out a span when the element ends
 * or the buffer does, but drops the pending span when it finds an error.
 * Hence three rules:
 *  - the header limit is applied to the bytes given to llhttp, never to
 *    spans, so whether the limit or a malformed byte comes first is a
 *    matter of wire position;
 *  - a kept field (reason, header value) counts once its line is
 *    complete: one still open when the parse stops is reported empty;
 *  - fields are decoded as UTF-8 one byte at a time, with the decoder's
 *    state kept between spans.
 *
 * Every string handed out is UTF-8 without control characters (the rule
 * is in ringprobe.h at struct rp_http_info): a scanned server chooses
 * these bytes, and they end up in terminals and spreadsheets.
 *
 * Choices worth knowing:
 *  - Interim 1xx responses are skipped (their kept fields reset), except a
 *    101 that llhttp reports as an upgrade, which is final.
 *  - The header limit counts wire bytes from the first status line to the
 *    end of the final response's headers (1xx responses included) and,
 *    separately, the bytes of the trailers after a chunked body.
 *  - The title is only looked for while Content-Type is absent or contains
 *    "html": a JSON or text body that mentions <title> has no title.
 */
#include "http_parse.h"

#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

#define TITLE_RAW_CAP (RP__TITLE_MAX - 1)
/* title_len counts raw title bytes seen, saturating here: anything at
 * least TITLE_RAW_CAP + strlen("</title") still means "cut". */
#define TITLE_COUNT_MAX (RP__TITLE_MAX + 8)

/* The kept field being filled; also the index into p->len[]. */
enum value_target {
	V_NONE = 0,
	V_SERVER,
	V_CTYPE,
	V_LOCATION,
	V_REASON,
};

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

static struct rp__http_parse *from(llhttp_t *parser) { return parser->data; }

/* ASCII only, whatever the locale. */
static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

static bool name_is(const char *s, size_t n, const char *name)
{
	if (strlen(name) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != name[i])
			return false;
	return true;
}

static bool has_html(const char *s)
{
	for (; *s; s++)
		if (lower(s[0]) == 'h' && lower(s[1]) == 't' &&
		    lower(s[2]) == 'm' && lower(s[3]) == 'l')
			return true;
	return false;
}

/* ---- text handed out ------------------------------------------------- */

/*
 * What a result's strings may hold: they come from whoever answered, and
 * end up in terminals and spreadsheets, so they are UTF-8 without control
 * characters (C0, DEL, C1, tab included): anything else is U+FFFD.
 */
static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

static size_t utf8_encode(uint32_t cp, char *out)
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
 * U+FFFD, as WHATWG's decoder does. Returns how many code points are in
 * out[]: 0 inside a sequence, 1, or 2 when c broke a sequence (U+FFFD for
 * it, then c read afresh).
 */
static unsigned int u8_feed(struct rp__u8 *d, unsigned char c, uint32_t out[2])
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

static char *field_buf(struct rp__http_parse *p, unsigned int t, size_t *cap)
{
	*cap = RP__HDR_VALUE_MAX;
	switch (t) {
	case V_SERVER:
		return p->server;
	case V_CTYPE:
		return p->content_type;
	case V_LOCATION:
		return p->location_text;
	case V_REASON:
		*cap = RP__REASON_MAX;
		return p->reason;
	}
	return NULL;
}

/*
 * Adds one character to the field being filled. The first that does not
 * fit ends the field: nothing after it is kept, so the field never holds
 * part of a sequence, nor text that did not follow what it holds.
 */
static void field_put(struct rp__http_parse *p, uint32_t cp)
{
	unsigned int t = p->value_target;
	size_t cap, len = p->len[t], n;
	char *dst = field_buf(p, t, &cap);
	char u[4];

	if (!dst || p->field_full)
		return;
	n = utf8_encode(cp, u);
	if (n > cap - 1 - len) {
		p->field_full = true;
		return;
	}
	memcpy(dst + len, u, n);
	len += n;
	dst[len] = '\0';
	p->len[t] = (uint8_t)len;
	/* Trailing blanks are not part of a header value: remember where
	 * the text before them ends. */
	if (cp != ' ' && cp != '\t')
		p->field_keep = (uint8_t)len;
}

/* Appends a span to the field being filled, as valid UTF-8 without
 * controls. Lengths are kept apart from the text, and the decoder state
 * lives in *p, so spans cut anywhere add up to the same field. */
static void append(struct rp__http_parse *p, const char *at, size_t n)
{
	uint32_t cp[2];

	if (p->value_target == V_NONE)
		return;
	if (p->value_target == V_LOCATION) {
		/* The bytes themselves, for following the redirect. */
		size_t len = p->location_len, room = RP__HDR_VALUE_MAX - 1 - len;
		size_t k = n < room ? n : room;

		memcpy(p->location + len, at, k);
		p->location[len + k] = '\0';
		p->location_len = (uint8_t)(len + k);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned int k = u8_feed(&p->u8, (unsigned char)at[i], cp);

		for (unsigned int j = 0; j < k; j++)
			field_put(p, cp[j]);
	}
}

/* The field's line is complete: a sequence still open is ill-formed.
 * trim drops trailing blanks (header values). */
static void field_close(struct rp__http_parse *p, bool trim)
{
	unsigned int t = p->value_target;
	size_t cap;
	char *dst = field_buf(p, t, &cap);

	if (dst && p->u8.need)
		field_put(p, 0xFFFD);
	if (dst && trim) {
		p->len[t] = p->field_keep;
		dst[p->field_keep] = '\0';
	}
	if (t == V_LOCATION) {
		size_t len = p->location_len;

		while (len > 0 && (p->location[len - 1] == ' ' ||
				   p->location[len - 1] == '\t'))
			len--;
		p->location[len] = '\0';
		p->location_len = (uint8_t)len;
	}
	p->u8.need = 0;
	p->field_full = false;
	p->field_keep = 0;
	p->value_target = V_NONE;
}

/* Forgets what an interim (1xx) response left behind. */
static void reset_kept(struct rp__http_parse *p)
{
	p->status_code = 0;
	p->content_length = -1;
	p->reason[0] = '\0';
	p->server[0] = '\0';
	p->content_type[0] = '\0';
	p->location[0] = '\0';
	p->location_text[0] = '\0';
	p->location_len = 0;
	memset(p->len, 0, sizeof(p->len));
	p->hdr_seen = 0;
	p->value_target = V_REASON; /* the next status line's */
	p->field_len = 0;
	p->u8.need = 0;
	p->field_full = false;
	p->field_keep = 0;
}

/* ---- title ------------------------------------------------------------ */

static int digit_value(char c, bool hex)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
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
	*out = cp; /* the rest of what is not text: see utf8_encode() */
	return true;
}

/*
 * Turns the raw title bytes into p->title: UTF-8 decoded (U+FFFD for what
 * is not), entities decoded, whitespace runs collapsed to one space,
 * trimmed, controls replaced (see is_control()), and at most
 * RP__TITLE_MAX - 1 bytes of whole characters. Pure function of the raw
 * bytes, so calling it again is harmless.
 */
static void title_finish(struct rp__http_parse *p)
{
	size_t raw_len =
	    p->title_len < TITLE_RAW_CAP ? p->title_len : TITLE_RAW_CAP;
	bool cut = p->title_len > raw_len;
	const char *raw = p->title_raw;
	struct rp__u8 d = {0};
	size_t out = 0, i = 0;
	bool space = false;

	if (p->title_state != T_TEXT && p->title_state != T_DONE)
		return;
	/* Half an entity at the cut is noise: end the text before it. */
	for (size_t k = raw_len; cut && k > 0 && raw_len - k < 12; k--) {
		char c = lower(raw[k - 1]);

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
			ncp = u8_feed(&d, (unsigned char)raw[i], cp);
		}
		i += used;
		for (unsigned int j = 0; j < ncp; j++) {
			char unit[4];
			size_t ulen;

			if (cp[j] < 0x80 && is_ws((char)cp[j])) {
				space = out > 0;
				continue;
			}
			ulen = utf8_encode(cp[j], unit);
			if (out + space + ulen > RP__TITLE_MAX - 1) {
				p->title[out] = '\0';
				return;
			}
			if (space)
				p->title[out++] = ' ';
			space = false;
			memcpy(p->title + out, unit, ulen);
			out += ulen;
		}
	}
	p->title[out] = '\0';
}

/* Feeds body bytes to the title scanner; see enum title_state. */
static void title_scan(struct rp__http_parse *p, const char *at, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = at[i];

		switch (p->title_state) {
		case T_SEEK:
			if (lower(c) == title_open[p->title_match]) {
				if (++p->title_match == OPEN_LEN) {
					p->title_state = T_NAME_END;
					p->title_match = 0;
				}
			} else {
				p->title_match = c == '<';
			}
			break;
		case T_NAME_END:
			if (c == '>') {
				p->title_state = T_TEXT;
			} else if (is_ws(c) || c == '/') {
				p->title_state = T_ATTR;
			} else { /* "<titles>" and the like */
				p->title_state = T_SEEK;
				p->title_match = c == '<';
			}
			break;
		case T_ATTR:
			if (c == '>')
				p->title_state = T_TEXT;
			else if (c == '"')
				p->title_state = T_ATTR_DQ;
			else if (c == '\'')
				p->title_state = T_ATTR_SQ;
			break;
		case T_ATTR_DQ:
			if (c == '"')
				p->title_state = T_ATTR;
			break;
		case T_ATTR_SQ:
			if (c == '\'')
				p->title_state = T_ATTR;
			break;
		case T_TEXT:
			/* Keep every byte, the end tag's too: once "</title"
			 * is complete its 7 bytes come off the count. */
			if (p->title_len < TITLE_RAW_CAP)
				p->title_raw[p->title_len] = c;
			if (p->title_len < TITLE_COUNT_MAX)
				p->title_len++;
			if (lower(c) == title_close[p->title_match]) {
				if (++p->title_match == CLOSE_LEN) {
					p->title_len -= CLOSE_LEN;
					title_finish(p);
					p->title_state = T_DONE;
					return;
				}
			} else {
				p->title_match = c == '<';
			}
			break;
		default: /* T_DONE, T_OFF */
			return;
		}
	}
}

/* ---- llhttp callbacks ------------------------------------------------- */

static int on_status(llhttp_t *parser, const char *at, size_t n)
{
	append(from(parser), at, n);
	return 0;
}

static int on_status_complete(llhttp_t *parser)
{
	struct rp__http_parse *p = from(parser);

	/* Known this early so that a response cut in its headers still
	 * reports it; a 1xx is only final once it proves an upgrade. */
	if (parser->status_code / 100 != 1)
		p->status_code = parser->status_code;
	field_close(p, false);
	return 0;
}

static int on_header_field(llhttp_t *parser, const char *at, size_t n)
{
	struct rp__http_parse *p = from(parser);

	if (p->headers_done || p->field_len == UINT8_MAX)
		return 0; /* a trailer, or a name too long to matter */
	if (n > sizeof(p->field) - 1 - p->field_len) {
		p->field_len = UINT8_MAX;
		return 0;
	}
	memcpy(p->field + p->field_len, at, n);
	p->field_len += (uint8_t)n;
	return 0;
}

static int on_header_field_complete(llhttp_t *parser)
{
	struct rp__http_parse *p = from(parser);
	size_t n = p->field_len;
	uint8_t t = V_NONE;

	p->field_len = 0;
	p->value_target = V_NONE;
	if (n == UINT8_MAX)
		return 0;
	if (name_is(p->field, n, "server"))
		t = V_SERVER;
	else if (name_is(p->field, n, "content-type"))
		t = V_CTYPE;
	else if (name_is(p->field, n, "location"))
		t = V_LOCATION;
	/* A repeated header keeps its first value. */
	if (t != V_NONE && !(p->hdr_seen & 1u << t)) {
		p->hdr_seen |= (uint8_t)(1u << t);
		p->value_target = t;
	}
	return 0;
}

static int on_header_value(llhttp_t *parser, const char *at, size_t n)
{
	append(from(parser), at, n);
	return 0;
}

static int on_header_value_complete(llhttp_t *parser)
{
	field_close(from(parser), true);
	return 0;
}

static int on_headers_complete(llhttp_t *parser)
{
	struct rp__http_parse *p = from(parser);

	/* 1xx is interim, except an upgrade (101 with Upgrade and
	 * Connection: upgrade), after which HTTP is over. An interim
	 * response ends with its headers (RFC 9110 15.2), but llhttp 8.1
	 * reads a body for one with Content-Length or chunked: 1 says no. */
	if (parser->status_code / 100 == 1 && !parser->upgrade)
		return 1;
	p->headers_done = true;
	p->status_code = parser->status_code;
	if (parser->flags & F_CONTENT_LENGTH)
		p->content_length = parser->content_length > INT64_MAX
					? INT64_MAX
					: (int64_t)parser->content_length;
	if (p->content_type[0] && !has_html(p->content_type))
		p->title_state = T_OFF;
	/* 1: no body. llhttp knows that of 204 and 304 only when they come
	 * without Content-Length; with one it would wait for the body. */
	if (p->head || p->status_code == 204 || p->status_code == 304)
		return 1;
	return 0;
}

static int on_body(llhttp_t *parser, const char *at, size_t n)
{
	struct rp__http_parse *p = from(parser);
	uint64_t room = p->max_body - p->body_bytes;
	size_t keep = n > room ? (size_t)room : n;
	uint64_t h = p->body_hash;

	if (p->truncated)
		return HPE_PAUSED;
	for (size_t i = 0; i < keep; i++) {
		h ^= (unsigned char)at[i];
		h *= FNV_PRIME;
	}
	p->body_hash = h;
	p->body_bytes += keep;
	title_scan(p, at, keep);
	if (keep < n) {
		p->truncated = true;
		return HPE_PAUSED;
	}
	return 0;
}

/* The last chunk: trailers follow, counted against the header limit from
 * here on. Pausing gives feed() the exact place where they start. */
static int on_chunk_header(llhttp_t *parser)
{
	struct rp__http_parse *p = from(parser);

	if (parser->content_length != 0 || p->trailers)
		return 0;
	p->trailers = true;
	p->trailer_pause = true;
	return HPE_PAUSED;
}

static int on_message_complete(llhttp_t *parser)
{
	struct rp__http_parse *p = from(parser);

	if (!p->headers_done) { /* an interim 1xx: on to the next one */
		reset_kept(p);
		return 0;
	}
	p->complete = true;
	return HPE_PAUSED; /* one response is all we read */
}

static const llhttp_settings_t settings = {
    .on_status = on_status,
    .on_status_complete = on_status_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_message_complete = on_message_complete,
};

/* ---- API -------------------------------------------------------------- */

static enum rp__http_state state_of(const struct rp__http_parse *p)
{
	if (p->error)
		return RP__HTTP_ERROR;
	if (p->truncated)
		return RP__HTTP_TRUNCATED;
	if (p->complete)
		return RP__HTTP_DONE;
	return RP__HTTP_MORE;
}

/* llhttp's reasons are string literals (llhttp.c, api.c), so the pointer
 * stays valid for as long as the result needs it. */
static const char *llhttp_reason(const struct rp__http_parse *p,
				 llhttp_errno_t err)
{
	const char *r = llhttp_get_error_reason(&p->parser);

	return r && *r ? r : llhttp_errno_name(err);
}

/* The state once llhttp returned err; decodes the title on the way out. */
static enum rp__http_state settle(struct rp__http_parse *p, llhttp_errno_t err)
{
	enum rp__http_state st;

	switch (err) {
	case HPE_OK:
		break;
	case HPE_PAUSED_UPGRADE:
		/* Whatever follows a 101 is another protocol. */
		p->complete = true;
		break;
	case HPE_PAUSED:
		/* Only we pause: the response is complete or truncated. */
		if (!p->complete && !p->truncated && !p->error)
			p->error = "unexpected pause";
		break;
	default:
		if (!p->error) /* ours, e.g. "headers too large", wins */
			p->error = llhttp_reason(p, err);
		break;
	}
	st = state_of(p);
	if (st != RP__HTTP_MORE)
		title_finish(p);
	return st;
}

void rp__http_parse_init(struct rp__http_parse *p, bool head, uint64_t max_body,
			 uint32_t max_header)
{
	memset(p, 0, sizeof(*p));
	llhttp_init(&p->parser, HTTP_RESPONSE, &settings);
	p->parser.data = p;
	p->head = head;
	p->max_body = max_body;
	p->max_header = max_header;
	p->content_length = -1;
	p->body_hash = FNV_OFFSET;
	p->title_state = T_SEEK;
	p->value_target = V_REASON;
}

/*
 * Where the header limit applies (status lines and headers, then
 * trailers), llhttp is given no byte past it: the limit then is an error
 * only at the byte that crosses it, and only if llhttp found nothing wrong
 * before that byte.
 */
enum rp__http_state rp__http_parse_feed(struct rp__http_parse *p,
					const char *buf, size_t n)
{
	enum rp__http_state st = state_of(p);

	if (st != RP__HTTP_MORE || n == 0)
		return st; /* errors are sticky; late bytes ignored */
	p->any_byte = true;
	while (n > 0 && st == RP__HTTP_MORE) {
		uint32_t *count = NULL;
		size_t take = n;
		llhttp_errno_t err;

		if (!p->headers_done)
			count = &p->header_bytes;
		else if (p->trailers)
			count = &p->trailer_bytes;
		if (count) {
			if (*count >= p->max_header) {
				p->error = "headers too large";
				return settle(p, HPE_OK);
			}
			if (take > p->max_header - *count)
				take = p->max_header - *count;
		}
		err = llhttp_execute(&p->parser, buf, take);
		if (err == HPE_PAUSED && p->trailer_pause) {
			/* Body bytes up to here: the trailers start. */
			take = (size_t)(llhttp_get_error_pos(&p->parser) - buf);
			p->trailer_pause = false;
			llhttp_resume(&p->parser);
			err = HPE_OK;
		} else if (count) {
			*count += (uint32_t)take;
		}
		buf += take;
		n -= take;
		st = settle(p, err);
	}
	return st;
}

enum rp__http_state rp__http_parse_eof(struct rp__http_parse *p)
{
	enum rp__http_state st = state_of(p);
	llhttp_errno_t err;

	if (st != RP__HTTP_MORE)
		return st;
	/* llhttp_finish says OK to an EOF before any byte... */
	if (!p->any_byte) {
		p->error = "empty reply";
		return RP__HTTP_ERROR;
	}
	/* ...and, in MORE, the parser is neither paused nor in error, so
	 * finish really runs: it completes a read-until-EOF body (our
	 * on_message_complete then pauses it) or reports truncation. */
	err = llhttp_finish(&p->parser);
	if (err == HPE_OK && !p->complete)
		/* A clean point, but the final response never started:
		 * nothing but 1xx responses (or blank lines) came. */
		p->error = "EOF before a final response";
	return settle(p, err);
}

void rp__http_parse_info(const struct rp__http_parse *p,
			 struct rp_http_info *info)
{
	/* A field whose line is still open may yet change, or be dropped
	 * with the span llhttp was holding when it found an error. */
	unsigned int open = p->value_target;

	info->status_code = p->status_code;
	info->reason = open == V_REASON ? "" : p->reason;
	info->content_length = p->content_length;
	info->body_bytes = p->body_bytes;
	info->truncated = p->truncated;
	info->content_type = open == V_CTYPE ? "" : p->content_type;
	info->server = open == V_SERVER ? "" : p->server;
	info->location = open == V_LOCATION ? "" : p->location_text;
	info->title = p->title;
	info->body_hash = p->body_hash;
}
