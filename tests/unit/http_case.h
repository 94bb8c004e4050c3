/*
 * http_case.h - the harness of the HTTP response parser's unit tests
 * (http_case.c): a recorded response and what parsing it must give, run
 * fed whole, split in two at every byte boundary, one byte at a time and
 * in random pieces.
 */
#ifndef RP_TEST_HTTP_CASE_H
#define RP_TEST_HTTP_CASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_parse.h"

#define S(lit) lit, sizeof(lit) - 1

enum {
	MORE = RP__HTTP_MORE,
	DONE = RP__HTTP_DONE,
	TRUNC = RP__HTTP_TRUNCATED,
	ERR = RP__HTTP_ERROR
};

struct expect {
	int state; /* after eof if the case sends one */
	int pre;   /* after the last feed (eof cases) */
	int status_code;
	const char *reason;
	int64_t content_length;
	const char *server;
	const char *content_type;
	const char *location;
	const char *title;
	const char *error; /* exact text, NULL: none */
	const char *body;  /* the body bytes kept */
	size_t body_len;
	int truncated;
	const char *lenient; /* rp__http_parse_lenient()'s text, NULL: none */
};

struct tcase {
	const char *name;
	const char *resp;
	size_t len;
	bool head;
	uint64_t max_body;   /* 0: 1 MiB */
	uint32_t max_header; /* 0: 64 KiB */
	bool eof;	     /* the peer closes after the bytes */
	struct expect x;
	void (*build)(struct tcase *c); /* fills resp and x at run time */
};

/* What one run produced, copied out of rp_http_info. */
struct http_snap {
	int pre, state;
	int status_code;
	int64_t content_length;
	uint64_t body_bytes, body_hash;
	int truncated;
	const char *error;
	char reason[RP__REASON_MAX];
	char server[RP__HDR_VALUE_MAX];
	char content_type[RP__HDR_VALUE_MAX];
	char location[RP__HDR_VALUE_MAX];
	char title[RP__TITLE_MAX];
	char lenient[RP__ODD_TEXT_MAX];
};

/* FNV-1a 64 of s[0..n), computed here as the reference. */
uint64_t http_case_fnv1a(const char *s, size_t n);

/* Feeds c->resp cut at the ncuts ascending offsets in cuts into *s. */
void http_case_once(const struct tcase *c, const size_t *cuts, size_t ncuts,
		    struct http_snap *s);

/* Asserts that *s is c->x; mode and cut say which run it was. */
void http_case_check(const struct tcase *c, const struct http_snap *s,
		     const char *mode, size_t cut);

/* A cmocka test: *state is the struct tcase, run every way. */
void http_case_run(void **state);

#endif
