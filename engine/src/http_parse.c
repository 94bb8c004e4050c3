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
 * Hence these rules:
 *  - the header limit is applied to the bytes given to llhttp, never to
 *    spans, so whether the limit or a malformed byte comes first is a
 *    matter of wire position;
 *  - a kept field (reason, header value) counts once its line is
 *    complete: one still open when the parse stops is reported empty;
 *  - fields are decoded as UTF-8 one byte at a time, with the decoder's
 *    state kept between spans;
 *  - a span with a byte we refuse is taken up to that byte only, and a
 *    refused response keeps no note of what was read leniently.
 *
 * Every string handed out is UTF-8 without control characters (the rule
 * is in ringprobe.h at struct rp_http_info): a scanned server chooses
 * these bytes, and they end up in terminals and spreadsheets.
 *
 * Responses are read leniently where they are still unambiguous, the way
 * curl and browsers read them: llhttp's lenient flags for header values
 * (control bytes, bare LF) and for Content-Length next to
 * Transfer-Encoding (which frames the body, as RFC 9112 6.3 says), and
 * http_frame.c for what 8.1 has no flag for (a repeated Content-Length,
 * a chunked body with bare LFs or whitespace). What was odd is recorded
 * (rp__http_parse_lenient()). Still refused: a NUL byte in the status line
 * or a header, a space in a header name or before its colon, a status
 * code below 100, and what http_frame.c cannot read without a guess.
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

/*
 * Bytes of the status line or a header value: a NUL is refused, as curl
 * and browsers refuse it (what a header says would depend on whether its
 * reader stops at the NUL); other control bytes are read, and noted.
 * Returns how many bytes come before a NUL (n if none), and sets the
 * error if one does.
 */
static size_t check_bytes(struct rp__http_parse *p, const char *at, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)at[i];

		if (c == 0) {
			p->error = "NUL byte in header";
			return i;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7F)
			p->frame.odd |= RP__ODD_CONTROL;
	}
	return n;
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
	rp__frame_interim(&p->frame);
}

/* ---- llhttp callbacks ------------------------------------------------- */

/* The bytes before a NUL are kept as they would be had the span been cut
 * there: how spans are cut depends on how recv cut the response. */
static int on_status(llhttp_t *parser, const char *at, size_t n)
{
	struct rp__http_parse *p = from(parser);
	size_t ok = check_bytes(p, at, n);

	append(p, at, ok);
	return ok < n ? -1 : 0;
}

static int on_status_complete(llhttp_t *parser)
{
	struct rp__http_parse *p = from(parser);

	/* llhttp 8.1 takes "HTTP/1.1 2 OK" for a status 2. */
	if (parser->status_code < 100) {
		p->error = "Invalid response status";
		return -1;
	}
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

	/* Lenient llhttp lets a space before the colon through, after a
	 * few names ("Content-Length :"); other readers take such a line for
	 * another header or for none, so it stays refused. */
	if (memchr(at, ' ', n))
		p->field_space = true;
	if (p->field_len == UINT8_MAX)
		return 0; /* a name too long to matter */
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

	if (p->field_space) {
		p->error = "Invalid header field char";
		return -1;
	}
	p->field_len = 0;
	p->value_target = V_NONE;
	rp__frame_name(&p->frame, parser);
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
	struct rp__http_parse *p = from(parser);
	size_t ok = check_bytes(p, at, n);

	append(p, at, ok);
	rp__frame_value(&p->frame, at, ok);
	return ok < n ? -1 : 0;
}

static int on_header_value_complete(llhttp_t *parser)
{
	struct rp__http_parse *p = from(parser);
	const char *err;

	field_close(p, true);
	err = rp__frame_value_end(&p->frame, parser);
	if (err) {
		p->error = err;
		return -1;
	}
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
	rp__frame_headers_end(&p->frame);
	if (p->content_type[0] && !has_html(p->content_type))
		rp__title_off(&p->title);
	/* 1: no body. llhttp knows that of 204 and 304 only when they come
	 * without Content-Length; with one it would wait for the body. */
	if (p->head || p->status_code == 204 || p->status_code == 304)
		return 1;
	rp__frame_body(&p->frame, parser, p->max_header);
	/* Pausing gives feed() the exact place where the headers end. */
	p->body_pause = true;
	return HPE_PAUSED;
}

/* Body bytes, decoded: counted, hashed and scanned up to max_body. Returns
 * false once past it (the response is then truncated). */
static bool take_body(struct rp__http_parse *p, const char *at, size_t n)
{
	uint64_t room = p->max_body - p->body_bytes;
	size_t keep = n > room ? (size_t)room : n;
	uint64_t h = p->body_hash;

	for (size_t i = 0; i < keep; i++) {
		h ^= (unsigned char)at[i];
		h *= FNV_PRIME;
	}
	p->body_hash = h;
	p->body_bytes += keep;
	rp__title_scan(&p->title, at, keep);
	if (keep < n)
		p->truncated = true;
	return keep == n;
}

static int chunked_body(struct rp__http_parse *p, const char *at, size_t n)
{
	while (n > 0) {
		bool data;
		size_t used = rp__chunked_step(&p->frame.ch, at, n, &data,
					       &p->frame.odd);

		if (p->frame.ch.error) {
			p->error = p->frame.ch.error;
			return -1;
		}
		if (data && !take_body(p, at, used))
			return HPE_PAUSED;
		if (rp__chunked_done(&p->frame.ch)) {
			p->complete = true;
			return HPE_PAUSED; /* one response is all we read */
		}
		at += used;
		n -= used;
	}
	return 0;
}

static int on_body(llhttp_t *parser, const char *at, size_t n)
{
	struct rp__http_parse *p = from(parser);

	if (p->truncated || p->complete)
		return HPE_PAUSED;
	if (p->frame.chunked)
		return chunked_body(p, at, n);
	return take_body(p, at, n) ? 0 : HPE_PAUSED;
}

static int on_message_complete(llhttp_t *parser)
{
	struct rp__http_parse *p = from(parser);

	if (!p->headers_done) { /* an interim 1xx: on to the next one */
		reset_kept(p);
		return 0;
	}
	if (p->frame.chunked && !rp__chunked_done(&p->frame.ch)) {
		/* EOF (llhttp reads the chunked body as one to EOF). */
		p->error = "Invalid EOF state";
		return -1;
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
	/* A refused response was not read leniently; and how far llhttp got
	 * past the byte it refused depends on where the bytes were cut. */
	if (st == RP__HTTP_ERROR)
		p->frame.odd = 0;
	return st;
}

void rp__http_parse_init(struct rp__http_parse *p, bool head, uint64_t max_body,
			 uint32_t max_header)
{
	memset(p, 0, sizeof(*p));
	llhttp_init(&p->parser, HTTP_RESPONSE, &settings);
	llhttp_set_lenient_headers(&p->parser, 1);
	llhttp_set_lenient_chunked_length(&p->parser, 1);
	p->parser.data = p;
	p->head = head;
	p->max_body = max_body;
	p->max_header = max_header;
	p->content_length = -1;
	p->body_hash = FNV_OFFSET;
	p->value_target = V_REASON;
}

/* How far llhttp read: all it was given, or up to where it stopped. */
static size_t consumed(const struct rp__http_parse *p, llhttp_errno_t err,
		       const char *buf, size_t take)
{
	const char *at = llhttp_get_error_pos(&p->parser);

	if (err == HPE_OK || !at || at < buf || at > buf + take)
		return take;
	return (size_t)(at - buf);
}

/*
 * While the header limit applies (status lines and headers), llhttp is
 * given no byte past it: the limit then is an error only at the byte that
 * crosses it, and only if llhttp found nothing wrong before that byte.
 * The bytes llhttp read as headers are also watched for line endings
 * (rp__lines_scan()); on_headers_complete() pauses so that no body byte
 * is taken for one.
 */
enum rp__http_state rp__http_parse_feed(struct rp__http_parse *p,
					const char *buf, size_t n)
{
	enum rp__http_state st = state_of(p);
	bool resumed = false;

	if (st != RP__HTTP_MORE || n == 0)
		return st; /* errors are sticky; late bytes ignored */
	p->any_byte = true;
	/* After the pause, llhttp runs on (even on no bytes) to learn the
	 * body's framing, which may end the response at once. */
	while (st == RP__HTTP_MORE && (n > 0 || resumed)) {
		bool head = !p->headers_done;
		size_t take = n, used;
		llhttp_errno_t err;

		if (head) {
			if (p->header_bytes >= p->max_header) {
				p->error = "headers too large";
				return settle(p, HPE_OK);
			}
			if (take > p->max_header - p->header_bytes)
				take = p->max_header - p->header_bytes;
		}
		err = llhttp_execute(&p->parser, buf, take);
		used = consumed(p, err, buf, take);
		if (head) {
			rp__lines_scan(&p->frame.lines, buf, used,
				       &p->frame.odd);
			p->header_bytes += (uint32_t)used;
		}
		resumed = err == HPE_PAUSED && p->body_pause;
		if (resumed) {
			p->body_pause = false; /* the body starts here */
			llhttp_resume(&p->parser);
			err = HPE_OK;
		}
		buf += used;
		n -= used;
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

const char *rp__http_parse_lenient(struct rp__http_parse *p)
{
	return rp__odd_text(p->frame.odd, p->odd_text);
}
