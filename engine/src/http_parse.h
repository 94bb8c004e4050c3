/*
 * http_parse.h - one HTTP/1.1 response parsed incrementally with llhttp,
 * keeping only what a probe result needs (internal).
 *
 * The engine feeds bytes as they arrive from recv, chunk by chunk, and the
 * parser never buffers the response: it keeps the status, a few headers,
 * body counts, a running body hash and the page title, all bounded.
 */
#ifndef RP_HTTP_PARSE_H
#define RP_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "http_frame.h"
#include "http_text.h"
#include "ringprobe.h"

#define RP__HDR_VALUE_MAX 128 /* kept bytes of server, content-type, location */
#define RP__REASON_MAX 64     /* kept bytes of the reason phrase */

enum rp__http_state {
	RP__HTTP_MORE = 0,       /* need more bytes */
	RP__HTTP_DONE,           /* a final response is complete */
	RP__HTTP_TRUNCATED,      /* headers done, body reached max_body */
	RP__HTTP_ERROR,          /* malformed or truncated: see error */
};

struct rp__http_parse {
	llhttp_t parser;
	bool head;                    /* request was HEAD: no body */
	uint64_t max_body;
	uint32_t max_header;
	uint32_t header_bytes;        /* wire bytes of status lines and
				       * headers so far */
	bool body_pause;              /* paused where the body starts */
	bool headers_done;            /* of the final (non-1xx) response */
	bool complete;                /* final response complete */
	bool truncated;               /* body went past max_body */
	bool any_byte;                /* anything received at all */
	int status_code;
	int64_t content_length;       /* -1 if absent */
	uint64_t body_bytes;
	uint64_t body_hash;           /* FNV-1a 64 over the body bytes read */
	const char *error;            /* static reason, or llhttp's */
	char reason[RP__REASON_MAX];
	char server[RP__HDR_VALUE_MAX];
	char content_type[RP__HDR_VALUE_MAX];
	char location[RP__HDR_VALUE_MAX]; /* the bytes as received (trailing
				       * blanks dropped, cut at the bound),
				       * for following a redirect */
	char location_text[RP__HDR_VALUE_MAX]; /* as handed out: UTF-8
				       * without controls */
	struct rp__title title;       /* the title scanner and its text */
	struct rp__frame frame;       /* framing read by http_frame.c, and
				       * what was read leniently (odd) */
	char odd_text[RP__ODD_TEXT_MAX]; /* rp__http_parse_lenient()'s */
	bool field_space;             /* a space in the header name */
	/* private: header name being read, which value it fills */
	char field[32];
	uint8_t field_len;
	uint8_t value_target;         /* field being filled, enum in .c */
	uint8_t len[5];               /* bytes in each kept field */
	uint8_t location_len;         /* bytes in location */
	uint8_t field_keep;           /* field length without trailing
				       * blanks */
	bool field_full;              /* a character did not fit */
	struct rp__u8 u8;             /* of the field being filled */
	uint8_t hdr_seen;             /* kept headers already seen (bits) */
};

/* Starts a parse of one response; max_body/max_header as in rp_http_opts
 * (already defaulted). */
void rp__http_parse_init(struct rp__http_parse *p, bool head,
			 uint64_t max_body, uint32_t max_header);

/* Feeds the next n bytes received. Returns the state after them: MORE
 * (feed more), DONE, TRUNCATED or ERROR (p->error says why). Bytes after a
 * DONE or TRUNCATED response are ignored. */
enum rp__http_state rp__http_parse_feed(struct rp__http_parse *p,
					const char *buf, size_t n);

/* The peer closed the connection (recv returned 0): DONE if that completes
 * a read-until-EOF body, else ERROR ("empty reply" if nothing came,
 * llhttp's reason for truncation otherwise). */
enum rp__http_state rp__http_parse_eof(struct rp__http_parse *p);

/* What was odd but read all the same, for the result's detail:
 * "lenient: bare LF; duplicate Content-Length" (see http_frame.h for the
 * list), or NULL if nothing was. Points into p. */
const char *rp__http_parse_lenient(struct rp__http_parse *p);

/* Fills the HTTP fields of *info from the parse so far (strings point
 * into p; UTF-8 without controls, see struct rp_http_info). url and
 * timings are left to the caller. */
void rp__http_parse_info(const struct rp__http_parse *p,
			 struct rp_http_info *info);

#endif
