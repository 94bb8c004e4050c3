/*
 * http_parse.c - one HTTP/1.1 response, parsed incrementally with llhttp.
 *
 * This module owns the llhttp settings shared by every probe's parser, the
 * callbacks that pick out of the byte stream what a probe result keeps
 * (status, reason, Server, Content-Type, Location, body count, a 64-bit
 * FNV-1a hash of the body and the page title, whose text and scanner are
 * http_text.c's), and the mapping of llhttp's return codes and EOF quirks
 * onto MORE / DONE / TRUNCATED / ERROR.
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

/* The kept field being filled; also the index into p->len[]. */
enum value_target {
	V_NONE = 0,
	V_SERVER,
	V_CTYPE,
	V_LOCATION,
	V_REASON,
};

static struct rp__http_parse *from(llhttp_t *parser) { return parser->data; }

static bool name_is(const char *s, size_t n, const char *name)
{
	if (strlen(name) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (rp__lower(s[i]) != name[i])
			return false;
	return true;
}

static bool has_html(const char *s)
{
	for (; *s; s++)
		if (rp__lower(s[0]) == 'h' && rp__lower(s[1]) == 't' &&
		    rp__lower(s[2]) == 'm' && rp__lower(s[3]) == 'l')
			return true;
	return false;
}

/* ---- kept fields ------------------------------------------------------ */

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
	n = rp__utf8_encode(cp, u);
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
		unsigned int k = rp__u8_feed(&p->u8, (unsigned char)at[i], cp);

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
		rp__title_off(&p->title);
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
	rp__title_scan(&p->title, at, keep);
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
		rp__title_finish(&p->title);
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
	info->title = p->title.text;
	info->body_hash = p->body_hash;
}
