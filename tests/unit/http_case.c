/*
 * http_case.c - the harness of the HTTP response parser's unit tests: a
 * recorded response fed whole, split in two at every byte boundary, one
 * byte at a time and in random pieces; every way must give exactly the
 * expected result. Each chunk lives in its own heap block of exactly its
 * size, freed right after the feed, so the sanitizers catch a parser that
 * reads past a chunk or keeps a pointer into one. The body hash is
 * checked against an FNV-1a computed here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_case.h"

uint64_t http_case_fnv1a(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void copy(char *dst, size_t cap, const char *src)
{
	assert_non_null(src);
	assert_true(strlen(src) < cap);
	strcpy(dst, src);
}

static void take(struct http_snap *s, struct rp__http_parse *p)
{
	struct rp_http_info info;

	memset(&info, 0, sizeof(info));
	info.url = "untouched";
	info.connect_us = 11;
	info.ttfb_us = 22;
	info.total_us = 33;
	rp__http_parse_info(p, &info);
	assert_string_equal(info.url, "untouched");
	assert_int_equal(info.connect_us, 11);
	assert_int_equal(info.ttfb_us, 22);
	assert_int_equal(info.total_us, 33);
	s->status_code = info.status_code;
	s->content_length = info.content_length;
	s->body_bytes = info.body_bytes;
	s->body_hash = info.body_hash;
	s->truncated = info.truncated;
	s->error = p->error;
	copy(s->reason, sizeof(s->reason), info.reason);
	copy(s->server, sizeof(s->server), info.server);
	copy(s->content_type, sizeof(s->content_type), info.content_type);
	copy(s->location, sizeof(s->location), info.location);
	copy(s->title, sizeof(s->title), info.title);
	copy(s->lenient, sizeof(s->lenient),
	     rp__http_parse_lenient(p) ? rp__http_parse_lenient(p) : "");
}

static int feed_copy(struct rp__http_parse *p, const char *buf, size_t n)
{
	char *chunk = malloc(n ? n : 1);
	int st;

	assert_non_null(chunk);
	memcpy(chunk, buf, n);
	st = rp__http_parse_feed(p, chunk, n);
	memset(chunk, 0xAA, n); /* a kept pointer would now read junk */
	free(chunk);
	return st;
}

/* Feeds c->resp cut at the ncuts ascending offsets in cuts. */
void http_case_once(const struct tcase *c, const size_t *cuts, size_t ncuts,
		struct http_snap *s)
{
	static const char late[] = "HTTP/1.1 200 OK\r\nServer: late\r\n"
				   "Content-Length: 0\r\n\r\n";
	struct rp__http_parse p;
	struct http_snap again;
	size_t from = 0;
	int st = MORE, prev = MORE;

	memset(s, 0, sizeof(*s));
	rp__http_parse_init(&p, c->head, c->max_body ? c->max_body : 1 << 20,
			    c->max_header ? c->max_header : 64 << 10);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : c->len;

		st = feed_copy(&p, c->resp + from, to - from);
		/* Once final, a state never changes. */
		if (prev != MORE)
			assert_int_equal(st, prev);
		prev = st;
		from = to;
	}
	s->pre = st;
	if (c->eof) {
		st = rp__http_parse_eof(&p);
		if (s->pre != MORE)
			assert_int_equal(st, s->pre);
		assert_int_equal(rp__http_parse_eof(&p), st);
	}
	s->state = st;
	take(s, &p);
	if (st == MORE)
		return;
	/* Whatever comes later changes nothing. */
	assert_int_equal(feed_copy(&p, S(late)), st);
	assert_int_equal(rp__http_parse_eof(&p), st);
	memset(&again, 0, sizeof(again));
	take(&again, &p);
	again.pre = s->pre;
	again.state = s->state;
	assert_memory_equal(&again, s, sizeof(again));
}

void http_case_check(const struct tcase *c, const struct http_snap *s, const char *mode,
		  size_t cut)
{
	const struct expect *x = &c->x;

	/* cmocka stops at the first failed assert: say which run it was. */
	if (s->state != x->state || (c->eof && s->pre != x->pre) ||
	    s->status_code != x->status_code ||
	    s->content_length != x->content_length ||
	    s->body_bytes != x->body_len || s->truncated != x->truncated ||
	    s->body_hash != http_case_fnv1a(x->body, x->body_len) ||
	    strcmp(s->reason, x->reason ? x->reason : "") ||
	    strcmp(s->server, x->server ? x->server : "") ||
	    strcmp(s->content_type, x->content_type ? x->content_type : "") ||
	    strcmp(s->location, x->location ? x->location : "") ||
	    strcmp(s->title, x->title ? x->title : "") ||
	    (x->error == NULL) != (s->error == NULL) ||
	    (x->error && strcmp(s->error, x->error)) ||
	    strcmp(s->lenient, x->lenient ? x->lenient : ""))
		print_error("%s: mode %s, cut %zu: error [%s] title [%s] "
			    "lenient [%s]\n",
			    c->name, mode, cut, s->error ? s->error : "-",
			    s->title, s->lenient);
	assert_int_equal(s->state, x->state);
	if (c->eof)
		assert_int_equal(s->pre, x->pre);
	assert_int_equal(s->status_code, x->status_code);
	assert_string_equal(s->reason, x->reason ? x->reason : "");
	assert_true(s->content_length == x->content_length);
	assert_string_equal(s->server, x->server ? x->server : "");
	assert_string_equal(s->content_type,
			    x->content_type ? x->content_type : "");
	assert_string_equal(s->location, x->location ? x->location : "");
	assert_string_equal(s->title, x->title ? x->title : "");
	assert_int_equal(s->body_bytes, x->body_len);
	assert_int_equal(s->truncated, x->truncated);
	assert_int_equal(s->body_hash, http_case_fnv1a(x->body, x->body_len));
	if (x->error) {
		assert_non_null(s->error);
		assert_string_equal(s->error, x->error);
	} else {
		assert_null(s->error);
	}
	assert_string_equal(s->lenient, x->lenient ? x->lenient : "");
}

void http_case_run(void **state)
{
	struct tcase *c = *state;
	size_t *cuts;
	struct http_snap s;

	if (c->build)
		c->build(c);
	cuts = calloc(c->len + 1, sizeof(*cuts));
	assert_non_null(cuts);

	http_case_once(c, NULL, 0, &s);
	http_case_check(c, &s, "whole", 0);

	for (size_t i = 1; i < c->len; i++) {
		http_case_once(c, &i, 1, &s);
		http_case_check(c, &s, "split", i);
	}

	for (size_t i = 1; i < c->len; i++)
		cuts[i - 1] = i;
	http_case_once(c, cuts, c->len ? c->len - 1 : 0, &s);
	http_case_check(c, &s, "bytewise", 0);

	/* Random pieces of 1..16 bytes, reproducibly. */
	srand(1);
	for (int r = 0; r < 20; r++) {
		size_t n = 0, at = 0;

		for (;;) {
			at += 1 + (size_t)rand() % 16;
			if (at >= c->len)
				break;
			cuts[n++] = at;
		}
		http_case_once(c, cuts, n, &s);
		http_case_check(c, &s, "random", (size_t)r);
	}
	free(cuts);
}

/* ---- responses built at run time --------------------------------------- */
