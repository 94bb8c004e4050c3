/*
 * fuzz_http.c - the HTTP response path (http_parse.c and llhttp): status
 * line, header capture under a small header limit, the title scanner and
 * entity decoder, body count and hash under a small body limit, EOF.
 *
 * Input: a 6-byte header, then split points, then the response.
 *   [0]     flags: 1 HEAD, 2 EOF after the bytes, 4 a 64 KiB header
 *           limit, 8 a 1 MiB body limit
 *   [1..2]  header limit 1..512 (little endian, unless flag 4)
 *   [3..4]  body limit 0..1023 (unless flag 8)
 *   [5]     k: the low 4 bits say how many split points follow
 *   k bytes gaps between split points (1 + byte each)
 * The response is parsed whole, cut at those points, and (when short)
 * one byte at a time; every way must give the same result (what was read
 * leniently included), and every result (after each feed too, as a
 * timeout would see it) must keep the promises of struct rp_http_info:
 * strings UTF-8 without controls within their bounds, body_bytes within
 * max_body, and a lenient text that is none or "lenient: " and names.
 */
#include <string.h>

#include "fuzz.h"
#include "http_parse.h"

#define BYTEWISE_MAX 512

struct snap {
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
	char location_raw[RP__HDR_VALUE_MAX];
	char title[RP__TITLE_MAX];
	char lenient[RP__ODD_TEXT_MAX];
};

struct params {
	bool head, eof;
	uint32_t max_header;
	uint64_t max_body;
};

static void check_str(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	CHECK(n <= max);
	CHECK(fuzz_clean_text(s, n));
}

/* The lenient text: none, or "lenient: " and names, "; " between. */
static void check_lenient(struct rp__http_parse *p, char *out)
{
	const char *t = rp__http_parse_lenient(p);
	size_t n;

	out[0] = '\0';
	CHECK((t == NULL) == (p->frame.odd == 0));
	if (!t)
		return;
	n = strnlen(t, RP__ODD_TEXT_MAX);
	CHECK(n < RP__ODD_TEXT_MAX);
	CHECK(n > 9 && !memcmp(t, "lenient: ", 9));
	CHECK(t[n - 1] != ' ' && t[n - 1] != ';');
	memcpy(out, t, n + 1);
}

static void copy(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap);

	CHECK(n < cap);
	memcpy(dst, src, n + 1);
}

/* What the parse says now, checked against the promises. */
static void take(struct snap *s, struct rp__http_parse *p,
		 const struct params *pa, int state)
{
	struct rp_http_info in;

	memset(&in, 0, sizeof(in));
	rp__http_parse_info(p, &in);
	check_str(in.reason, RP__REASON_MAX - 1);
	check_str(in.server, RP__HDR_VALUE_MAX - 1);
	check_str(in.content_type, RP__HDR_VALUE_MAX - 1);
	check_str(in.location, RP__HDR_VALUE_MAX - 1);
	check_str(in.title, RP__TITLE_MAX - 1);
	CHECK(strnlen(p->location, sizeof(p->location)) < sizeof(p->location));
	if (in.title[0]) {
		size_t n = strlen(in.title);

		CHECK(in.title[0] != ' ' && in.title[n - 1] != ' ');
		CHECK(!strstr(in.title, "  "));
	}
	CHECK(in.body_bytes <= pa->max_body);
	CHECK(!in.truncated || in.body_bytes == pa->max_body);
	CHECK((state == RP__HTTP_ERROR) == (p->error != NULL));
	if (pa->head)
		CHECK(in.body_bytes == 0);

	s->state = state;
	s->status_code = in.status_code;
	s->content_length = in.content_length;
	s->body_bytes = in.body_bytes;
	s->body_hash = in.body_hash;
	s->truncated = in.truncated;
	s->error = p->error;
	copy(s->reason, sizeof(s->reason), in.reason);
	copy(s->server, sizeof(s->server), in.server);
	copy(s->content_type, sizeof(s->content_type), in.content_type);
	copy(s->location, sizeof(s->location), in.location);
	copy(s->location_raw, sizeof(s->location_raw), p->location);
	copy(s->title, sizeof(s->title), in.title);
	check_lenient(p, s->lenient);
}

static int feed(struct rp__http_parse *p, const struct params *pa,
		const uint8_t *d, size_t n)
{
	/* Exactly the piece, freed at once: a read past it or a pointer
	 * kept into it is ASan's to see. */
	char *chunk = malloc(n ? n : 1);
	struct snap s;
	int st;

	CHECK(chunk);
	memcpy(chunk, d, n);
	st = rp__http_parse_feed(p, chunk, n);
	memset(chunk, 0xAA, n);
	free(chunk);
	take(&s, p, pa, st);
	return st;
}

static void run(const struct params *pa, const uint8_t *d, size_t n,
		const size_t *cuts, size_t ncuts, struct snap *out)
{
	static const char late[] = "HTTP/1.1 200 OK\r\nServer: late\r\n\r\n";
	struct rp__http_parse p;
	struct snap again;
	size_t from = 0;
	int st = RP__HTTP_MORE, prev = RP__HTTP_MORE;

	memset(out, 0, sizeof(*out));
	rp__http_parse_init(&p, pa->head, pa->max_body, pa->max_header);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : n;

		st = feed(&p, pa, d + from, to - from);
		if (prev != RP__HTTP_MORE) /* final states stay */
			CHECK(st == prev);
		prev = st;
		from = to;
	}
	if (pa->eof) {
		int e = rp__http_parse_eof(&p);

		CHECK(e != RP__HTTP_MORE);
		if (st != RP__HTTP_MORE)
			CHECK(e == st);
		CHECK((int)rp__http_parse_eof(&p) == e);
		take(out, &p, pa, e);
	} else {
		take(out, &p, pa, st);
	}
	out->pre = st;
	if (out->state == RP__HTTP_MORE)
		return;
	/* Nothing that comes later changes anything. */
	CHECK(feed(&p, pa, (const uint8_t *)late, sizeof(late) - 1) ==
	      out->state);
	CHECK((int)rp__http_parse_eof(&p) == out->state);
	memset(&again, 0, sizeof(again));
	take(&again, &p, pa, out->state);
	again.pre = out->pre;
	CHECK(!memcmp(&again, out, sizeof(again)));
}

static void same(const struct snap *a, const struct snap *b)
{
	CHECK(a->pre == b->pre);
	CHECK(a->state == b->state);
	CHECK(a->status_code == b->status_code);
	CHECK(a->content_length == b->content_length);
	CHECK(a->body_bytes == b->body_bytes);
	CHECK(a->body_hash == b->body_hash);
	CHECK(a->truncated == b->truncated);
	CHECK((a->error == NULL) == (b->error == NULL));
	CHECK(!a->error || !strcmp(a->error, b->error));
	CHECK(!strcmp(a->reason, b->reason));
	CHECK(!strcmp(a->server, b->server));
	CHECK(!strcmp(a->content_type, b->content_type));
	CHECK(!strcmp(a->location, b->location));
	CHECK(!strcmp(a->location_raw, b->location_raw));
	CHECK(!strcmp(a->title, b->title));
	CHECK(!strcmp(a->lenient, b->lenient));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct params pa;
	struct snap whole, split;
	size_t cuts[16] = { 0 }, ncuts = 0, k, at = 0, n;
	const uint8_t *resp;

	if (size < 6)
		return 0;
	pa.head = data[0] & 1;
	pa.eof = data[0] & 2;
	pa.max_header = data[0] & 4 ? 64 << 10
				    : 1 + (uint32_t)(data[1] | data[2] << 8) % 512;
	pa.max_body = data[0] & 8 ? 1 << 20
				  : (uint64_t)(data[3] | data[4] << 8) % 1024;
	k = data[5] & 15;
	if (size < 6 + k)
		return 0;
	resp = data + 6 + k;
	n = size - 6 - k;
	for (size_t i = 0; i < k; i++) {
		at += 1 + (size_t)data[6 + i];
		if (at >= n)
			break;
		cuts[ncuts++] = at;
	}

	run(&pa, resp, n, NULL, 0, &whole);
	run(&pa, resp, n, cuts, ncuts, &split);
	same(&whole, &split);
	if (n <= BYTEWISE_MAX) {
		size_t *all = malloc((n ? n : 1) * sizeof(*all));

		CHECK(all);
		for (size_t i = 1; i < n; i++)
			all[i - 1] = i;
		run(&pa, resp, n, all, n ? n - 1 : 0, &split);
		same(&whole, &split);
		free(all);
	}
	return 0;
}
