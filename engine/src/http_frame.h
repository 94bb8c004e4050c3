/*
 * http_frame.h - the parts of a response's framing that llhttp 8.1 cannot
 * read leniently, read by us instead (internal; http_frame.c): the line
 * endings of the header section, Content-Length and Transfer-Encoding
 * values, and the chunked body.
 */
#ifndef RP_HTTP_FRAME_H
#define RP_HTTP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

/* What was odd in a response read leniently, as bits (rp__odd_text()
 * names them). */
#define RP__ODD_BARE_LF    0x01u /* a line ended in LF alone */
#define RP__ODD_CONTROL    0x02u /* a control byte in the status line or a
				  * header value */
#define RP__ODD_FIRST_WS   0x04u /* the first header line began with
				  * whitespace */
#define RP__ODD_DUP_CL     0x08u /* Content-Length more than once, same
				  * value */
#define RP__ODD_CL_TE      0x10u /* Content-Length and Transfer-Encoding:
				  * the latter framed the body */
#define RP__ODD_CHUNK_LINE 0x20u /* whitespace or junk around a chunk size */
#define RP__ODD_TEXT_MAX   160   /* room for rp__odd_text() with every bit */

/* Writes "lenient: bare LF; duplicate Content-Length" (the bits of odd, in
 * the order above) to buf (RP__ODD_TEXT_MAX bytes). Returns buf, or NULL
 * if odd is 0. */
const char *rp__odd_text(unsigned int odd, char *buf);

/* Watches the bytes of the header section (status lines and headers,
 * interim responses' included) for what llhttp accepts without saying. */
struct rp__lines {
	uint8_t line;                 /* 0 status line, 1 first header, 2 later */
	bool text;                    /* this line has more than CR so far */
	bool cr;                      /* the last byte was CR */
};

void rp__lines_scan(struct rp__lines *l, const char *at, size_t n,
		    uint8_t *odd);

/* Content-Length, read by us: llhttp 8.1 refuses a repeated header or a
 * list even when every value is the same. Zeroed: no header yet. */
struct rp__clen {
	uint64_t value;               /* the first value */
	uint64_t cur;                 /* digits of the element being read */
	uint8_t st;                   /* where in an element (enum in .c) */
	bool seen;                    /* a value was read */
	bool dup;                     /* more than one, all the same */
	bool any;                     /* this header has an element */
	const char *error;            /* this header cannot be read: why */
};

void rp__clen_begin(struct rp__clen *c);      /* a header's value starts */
void rp__clen_feed(struct rp__clen *c, const char *at, size_t n);
/* The header's value is complete: NULL, or why the response cannot be
 * framed ("Conflicting Content-Length", ...). */
const char *rp__clen_end(struct rp__clen *c);

/* Transfer-Encoding, checked by us: only chunked (last) and identity can
 * be decoded. Zeroed: no header yet. */
struct rp__te {
	char tok[9];                  /* the coding being read, lower case */
	uint8_t len;                  /* its length; past 8: not ours */
	uint8_t st;                   /* where in a token (enum in .c) */
	bool present;                 /* a coding was named */
	bool chunked;                 /* the last coding is chunked */
	bool bad;                     /* a coding we cannot decode */
};

void rp__te_begin(struct rp__te *t);
void rp__te_feed(struct rp__te *t, const char *at, size_t n);
const char *rp__te_end(struct rp__te *t);  /* NULL, or the reason */

/* A chunked body, decoded by us: llhttp 8.1 refuses a chunk size line
 * that ends in a bare LF and, after chunk data, skips two bytes whatever
 * they are. Reads what curl reads: [SP/HT]* HEX+ then anything to LF;
 * data; CR* LF; after the last chunk, trailer lines to an empty one. */
struct rp__chunked {
	uint64_t left;                /* data bytes still due in this chunk */
	uint32_t trailer_bytes;       /* wire bytes of the trailers so far */
	uint32_t max_trailer;         /* limit on those (max_header) */
	uint8_t st;                   /* enum in .c */
	uint8_t rest;                 /* what followed the size (enum in .c) */
	bool digits;                  /* the size has a hex digit */
	bool lead_ws;                 /* whitespace before the size */
	bool cr;                      /* the last byte was CR */
	bool text;                    /* this line has more than CR so far */
	const char *error;            /* set once: why it cannot be read */
};

void rp__chunked_init(struct rp__chunked *c, uint32_t max_trailer);

/* Reads from at[0..n): either framing bytes, or data. Returns the bytes
 * used (at least 1 unless done or failed); *data says they are chunk data
 * (at[0..used)), which the caller takes as body. */
size_t rp__chunked_step(struct rp__chunked *c, const char *at, size_t n,
			bool *data, uint8_t *odd);

bool rp__chunked_done(const struct rp__chunked *c);  /* all read */

/* All of it, for one response: what http_parse.c's llhttp callbacks hand
 * over. Zeroed: nothing read yet. */
struct rp__frame {
	struct rp__lines lines;       /* the header section's line ends */
	struct rp__clen clen;         /* Content-Length */
	struct rp__te te;             /* Transfer-Encoding */
	struct rp__chunked ch;        /* the body, if chunked */
	bool chunked;                 /* it is: ch reads it */
	uint8_t value;                /* header value it reads (enum in .c) */
	uint8_t odd;                  /* RP__ODD_* so far */
};

/* A header's name ended (on_header_field_complete): a framing header's
 * value is ours to read, and Content-Length's is no longer llhttp's. */
void rp__frame_name(struct rp__frame *f, llhttp_t *parser);
/* Bytes of the header's value. */
void rp__frame_value(struct rp__frame *f, const char *at, size_t n);
/* The value ended: NULL, or why the response cannot be framed. Tells
 * llhttp the Content-Length read. */
const char *rp__frame_value_end(struct rp__frame *f, llhttp_t *parser);
/* An interim (1xx) response ended: its headers frame nothing. */
void rp__frame_interim(struct rp__frame *f);
/* The final response's headers ended: what they had that was odd. */
void rp__frame_headers_end(struct rp__frame *f);
/* Its body follows: frames it by our reading of Transfer-Encoding (then
 * llhttp reads to EOF, and a chunked body is ours to decode with trailers
 * up to max_trailer bytes), else by Content-Length or EOF as llhttp does. */
void rp__frame_body(struct rp__frame *f, llhttp_t *parser,
		    uint32_t max_trailer);

#endif
