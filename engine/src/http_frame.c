/*
 * http_frame.c - the parts of a response's framing that llhttp 8.1 cannot
 * read leniently.
 *
 * Real servers send responses that curl and browsers read without a word
 * and that llhttp, strict by default, refuses: bare LF line endings, a
 * control byte in a header value, Content-Length twice with the same
 * value, Content-Length next to Transfer-Encoding, whitespace around a
 * chunk size. http_parse.c sets llhttp's lenient flags for what they
 * cover (header values, Content-Length with Transfer-Encoding) and hands
 * the rest to this module, which reads it the way curl does:
 *
 *  - rp__lines_scan() watches the header section's bytes, which llhttp
 *    now accepts with bare LFs, so the result can say so;
 *  - Content-Length is taken away from llhttp (its value is read here,
 *    then llhttp is told the length), because 8.1 has no flag for a
 *    repeated header;
 *  - Transfer-Encoding is checked here: a coding other than chunked
 *    (last) and identity cannot be decoded, so the response is refused;
 *  - a chunked body is decoded here: llhttp is told the body runs to EOF
 *    and hands us its raw bytes, because 8.1 refuses a bare LF after the
 *    chunk size, and in its loose mode skips the two bytes after chunk
 *    data whatever they are.
 *
 * What stays an error is what cannot be read without a guess: two
 * different Content-Length values, one that is not a number or does not
 * fit, a chunk size without a hex digit, chunk data not followed by a
 * line end. Everything here is fed byte by byte with its state kept in
 * the struct, so a response cut anywhere reads the same.
 *
 * The rp__frame_*() functions are the glue: what the llhttp callbacks
 * hand over, and what llhttp is told back (its header_state and flags,
 * which 8.1 reads again after each callback). Rewriting the bytes before
 * llhttp sees them would have been the other way; but a rewriter has to
 * know where the body and each chunk start, which is the framing all over
 * again, and it would move the wire positions the header limit counts.
 */
#include "http_frame.h"

#include <string.h>

#include "http_text.h"

/* llhttp 8.1's header states (src/llhttp/constants.ts, HEADER_STATE):
 * which special header on_header_field_complete() has just named. */
#define HS_GENERAL 0
#define HS_CONTENT_LENGTH 2
#define HS_TRANSFER_ENCODING 3

/* The header value being read (struct rp__frame.value). */
enum frame_value {
	FV_NONE = 0,
	FV_CONTENT_LENGTH,
	FV_TRANSFER_ENCODING,
};

/* ---- what was odd --------------------------------------------------------- */

static const char *const odd_names[] = {
	"bare LF",
	"control byte in header",
	"whitespace before first header",
	"duplicate Content-Length",
	"Content-Length with Transfer-Encoding",
	"odd chunk size line",
};

const char *rp__odd_text(unsigned int odd, char *buf)
{
	size_t len = 9;

	if (!odd)
		return NULL;
	memcpy(buf, "lenient: ", len + 1);
	for (size_t i = 0; i < sizeof(odd_names) / sizeof(odd_names[0]); i++) {
		size_t n = strlen(odd_names[i]);

		if (!(odd & 1u << i))
			continue;
		if (len > 9) {
			memcpy(buf + len, "; ", 2);
			len += 2;
		}
		memcpy(buf + len, odd_names[i], n + 1);
		len += n;
	}
	return buf;
}

/* ---- the header section's lines ------------------------------------------ */

void rp__lines_scan(struct rp__lines *l, const char *at, size_t n,
		    uint8_t *odd)
{
	for (size_t i = 0; i < n; i++) {
		char c = at[i];

		if (c == '\n') {
			if (!l->cr)
				*odd |= RP__ODD_BARE_LF;
			/* A blank line ends a header section: a status line
			 * comes next (after a 1xx). */
			if (!l->text)
				l->line = 0;
			else if (l->line < 2)
				l->line++;
			l->text = false;
			l->cr = false;
			continue;
		}
		if (l->line == 1 && !l->text && !l->cr &&
		    (c == ' ' || c == '\t'))
			*odd |= RP__ODD_FIRST_WS;
		if (c != '\r')
			l->text = true;
		l->cr = c == '\r';
	}
}

/* ---- Content-Length ------------------------------------------------------- */

enum clen_state {
	CL_OWS = 0, /* before an element's digits */
	CL_DIGITS,  /* in them */
	CL_AFTER,   /* whitespace after them */
};

void rp__clen_begin(struct rp__clen *c)
{
	c->cur = 0;
	c->st = CL_OWS;
	c->any = false;
	c->error = NULL;
}

/* An element of the list is complete (RFC 9110 8.6: the same value
 * repeated, as a list or in several headers, may be read as one). */
static void clen_element(struct rp__clen *c)
{
	if (c->st == CL_OWS)
		return; /* an empty element */
	c->any = true;
	if (!c->seen) {
		c->value = c->cur;
		c->seen = true;
	} else if (c->cur == c->value) {
		c->dup = true;
	} else {
		c->error = "Conflicting Content-Length";
	}
	c->cur = 0;
	c->st = CL_OWS;
}

void rp__clen_feed(struct rp__clen *c, const char *at, size_t n)
{
	for (size_t i = 0; i < n && !c->error; i++) {
		char ch = at[i];

		if (ch >= '0' && ch <= '9') {
			uint64_t d = (uint64_t)(ch - '0');

			if (c->st == CL_AFTER) /* "6 6" */
				c->error = "Invalid character in Content-Length";
			else if (c->cur > ((uint64_t)INT64_MAX - d) / 10)
				c->error = "Content-Length overflow";
			c->cur = c->cur * 10 + d;
			c->st = CL_DIGITS;
		} else if (ch == ' ' || ch == '\t') {
			if (c->st == CL_DIGITS)
				c->st = CL_AFTER;
		} else if (ch == ',') {
			clen_element(c);
		} else {
			c->error = "Invalid character in Content-Length";
		}
	}
}

const char *rp__clen_end(struct rp__clen *c)
{
	if (!c->error)
		clen_element(c);
	if (!c->error && !c->any)
		c->error = "Empty Content-Length";
	return c->error;
}

/* ---- Transfer-Encoding ---------------------------------------------------- */

enum te_state {
	TE_OWS = 0, /* before a coding */
	TE_TOKEN,   /* in it */
	TE_AFTER,   /* whitespace after it */
};

void rp__te_begin(struct rp__te *t)
{
	t->len = 0;
	t->st = TE_OWS;
}

static void te_token(struct rp__te *t)
{
	if (t->st == TE_OWS)
		return; /* an empty element */
	t->present = true;
	if (t->chunked) /* chunked must be the last coding */
		t->bad = true;
	if (t->len == 7 && !memcmp(t->tok, "chunked", 7))
		t->chunked = true;
	else if (!(t->len == 8 && !memcmp(t->tok, "identity", 8)))
		t->bad = true;
	t->len = 0;
	t->st = TE_OWS;
}

void rp__te_feed(struct rp__te *t, const char *at, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = at[i];

		if (ch == ',') {
			te_token(t);
		} else if (ch == ' ' || ch == '\t') {
			if (t->st == TE_TOKEN)
				t->st = TE_AFTER;
		} else if (t->st == TE_AFTER) {
			t->bad = true; /* "chunked x" */
		} else {
			if (t->len < sizeof(t->tok) - 1)
				t->tok[t->len] = rp__lower(ch);
			if (t->len < sizeof(t->tok))
				t->len++;
			t->st = TE_TOKEN;
		}
	}
}

const char *rp__te_end(struct rp__te *t)
{
	te_token(t);
	return t->bad ? "Unsupported Transfer-Encoding" : NULL;
}

/* ---- chunked -------------------------------------------------------------- */

enum chunked_state {
	CH_SIZE = 0,  /* the chunk size line, up to its first non-hex byte */
	CH_EXT,       /* the rest of that line, to LF */
	CH_DATA,      /* chunk data */
	CH_DATA_END,  /* the line end after it */
	CH_TRAILER,   /* trailer lines, to an empty one */
	CH_DONE,
};

enum chunk_rest { /* what followed the size on its line */
	REST_NONE = 0,
	REST_WS,      /* whitespace only, so far */
	REST_EXT,     /* an extension (';'), maybe after whitespace */
	REST_JUNK,    /* anything else */
};

void rp__chunked_init(struct rp__chunked *c, uint32_t max_trailer)
{
	memset(c, 0, sizeof(*c));
	c->max_trailer = max_trailer;
}

bool rp__chunked_done(const struct rp__chunked *c)
{
	return c->st == CH_DONE;
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = rp__lower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* The chunk size line ended (in CRLF if cr). */
static void size_line_end(struct rp__chunked *c, bool cr, uint8_t *odd)
{
	if (!cr)
		*odd |= RP__ODD_BARE_LF;
	if (c->lead_ws || c->rest == REST_WS || c->rest == REST_JUNK)
		*odd |= RP__ODD_CHUNK_LINE;
	c->cr = false;
	c->text = false;
	c->st = c->left ? CH_DATA : CH_TRAILER;
}

static void size_byte(struct rp__chunked *c, char ch)
{
	int d = hex_value(ch);

	if (d >= 0) {
		if (c->left > ((uint64_t)INT64_MAX - (uint64_t)d) / 16)
			c->error = "Chunk size overflow";
		c->left = c->left * 16 + (uint64_t)d;
		c->digits = true;
	} else if (!c->digits && (ch == ' ' || ch == '\t')) {
		c->lead_ws = true;
	} else if (!c->digits) {
		c->error = "Invalid character in chunk size";
	} else {
		c->st = CH_EXT;
		c->rest = REST_NONE;
	}
}

/* After the size: anything up to LF (curl reads it so), but the result
 * says so unless it is nothing or an extension. */
static void ext_byte(struct rp__chunked *c, char ch, uint8_t *odd)
{
	if (c->cr) {
		c->cr = false;
		if (ch == '\n') {
			size_line_end(c, true, odd);
			return;
		}
		if (c->rest != REST_EXT) /* a CR that did not end the line */
			c->rest = REST_JUNK;
	}
	if (ch == '\r') {
		c->cr = true;
	} else if (ch == '\n') {
		size_line_end(c, false, odd);
	} else if (c->rest == REST_NONE || c->rest == REST_WS) {
		c->rest = ch == ' ' || ch == '\t' ? REST_WS
			  : ch == ';'		  ? REST_EXT
						  : REST_JUNK;
	}
}

static void data_end_byte(struct rp__chunked *c, char ch, uint8_t *odd)
{
	if (ch == '\r') {
		c->cr = true;
	} else if (ch == '\n') {
		if (!c->cr)
			*odd |= RP__ODD_BARE_LF;
		c->cr = false;
		c->digits = false;
		c->lead_ws = false;
		c->st = CH_SIZE;
	} else {
		c->error = "Expected LF after chunk data";
	}
}

/* Trailers are not kept, only bounded like headers and ended. */
static void trailer_byte(struct rp__chunked *c, char ch, uint8_t *odd)
{
	if (++c->trailer_bytes > c->max_trailer) {
		c->error = "headers too large";
	} else if (ch == '\0') {
		c->error = "NUL byte in header";
	} else if (ch == '\n') {
		if (!c->cr)
			*odd |= RP__ODD_BARE_LF;
		if (!c->text)
			c->st = CH_DONE;
		c->text = false;
		c->cr = false;
	} else {
		if (ch != '\r')
			c->text = true;
		c->cr = ch == '\r';
	}
}

size_t rp__chunked_step(struct rp__chunked *c, const char *at, size_t n,
			bool *data, uint8_t *odd)
{
	size_t i = 0;

	*data = false;
	if (c->st == CH_DATA && !c->error) {
		i = n < c->left ? n : (size_t)c->left;
		c->left -= i;
		if (!c->left)
			c->st = CH_DATA_END;
		*data = true;
		return i;
	}
	while (i < n && !c->error && c->st != CH_DATA && c->st != CH_DONE) {
		char ch = at[i++];

		switch (c->st) {
		case CH_SIZE:
			size_byte(c, ch);
			if (c->st == CH_EXT) /* this byte is the line's too */
				ext_byte(c, ch, odd);
			break;
		case CH_EXT:
			ext_byte(c, ch, odd);
			break;
		case CH_DATA_END:
			data_end_byte(c, ch, odd);
			break;
		default: /* CH_TRAILER */
			trailer_byte(c, ch, odd);
			break;
		}
	}
	return i;
}

/* ---- what llhttp is told -------------------------------------------------- */

void rp__frame_name(struct rp__frame *f, llhttp_t *parser)
{
	f->value = FV_NONE;
	if (parser->header_state == HS_CONTENT_LENGTH) {
		parser->header_state = HS_GENERAL;
		f->value = FV_CONTENT_LENGTH;
		rp__clen_begin(&f->clen);
	} else if (parser->header_state == HS_TRANSFER_ENCODING) {
		f->value = FV_TRANSFER_ENCODING;
		rp__te_begin(&f->te);
	}
}

void rp__frame_value(struct rp__frame *f, const char *at, size_t n)
{
	if (f->value == FV_CONTENT_LENGTH)
		rp__clen_feed(&f->clen, at, n);
	else if (f->value == FV_TRANSFER_ENCODING)
		rp__te_feed(&f->te, at, n);
}

const char *rp__frame_value_end(struct rp__frame *f, llhttp_t *parser)
{
	const char *err = NULL;

	if (f->value == FV_CONTENT_LENGTH) {
		err = rp__clen_end(&f->clen);
		parser->content_length = f->clen.value;
		parser->flags |= F_CONTENT_LENGTH;
	} else if (f->value == FV_TRANSFER_ENCODING) {
		err = rp__te_end(&f->te);
	}
	f->value = FV_NONE;
	return err;
}

void rp__frame_interim(struct rp__frame *f)
{
	memset(&f->clen, 0, sizeof(f->clen));
	memset(&f->te, 0, sizeof(f->te));
	f->value = FV_NONE;
}

void rp__frame_headers_end(struct rp__frame *f)
{
	if (f->clen.dup)
		f->odd |= RP__ODD_DUP_CL;
	if (f->clen.seen && f->te.present)
		f->odd |= RP__ODD_CL_TE;
}

void rp__frame_body(struct rp__frame *f, llhttp_t *parser,
		    uint32_t max_trailer)
{
	parser->flags &= ~F_CHUNKED;
	if (!f->te.present) {
		parser->flags &= ~F_TRANSFER_ENCODING;
		return;
	}
	parser->flags |= F_TRANSFER_ENCODING;
	if (f->te.chunked && !parser->upgrade) {
		f->chunked = true;
		rp__chunked_init(&f->ch, max_trailer);
	}
}
