/*
 * Unit tests for http_parse.c: recorded responses, each run every way by
 * http_case.c (whole, split at every byte, bytewise, random pieces).
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

static char big[4096];
static char big_body[2048];

static size_t put(size_t at, const char *s)
{
	size_t n = strlen(s);

	assert_true(at + n < sizeof(big));
	memcpy(big + at, s, n);
	return at + n;
}

static void fill_body(size_t n)
{
	/* Bytes of every value, so the hash sees more than ASCII. */
	for (size_t i = 0; i < n; i++)
		big_body[i] = (char)(i * 7 + i / 256);
}

/* 1500 bytes with Content-Length, read up to 300: a title at the start. */
static void build_huge_cl(struct tcase *c)
{
	size_t n = 0;

	fill_body(1500);
	memcpy(big_body, "<title>Big one</title>", 22);
	n = put(n, "HTTP/1.1 200 OK\r\nContent-Length: 1500\r\n\r\n");
	assert_true(n + 1500 < sizeof(big));
	memcpy(big + n, big_body, 1500);
	c->resp = big;
	c->len = n + 1500;
	c->x.body = big_body;
}

/* Chunked, read up to 300, with the title starting at 290 and ending
 * beyond what is kept: the title is what was kept of it. */
static void build_huge_chunked(struct tcase *c)
{
	static const size_t sizes[] = {100, 1, 150, 600, 40};
	size_t n = 0, off = 0;
	char line[32];

	memset(big_body, 'x', 891);
	memcpy(big_body + 290, "<title>Cutting off here</title>", 31);
	n = put(n, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		   "Content-Type: text/html\r\n\r\n");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(line, sizeof(line), "%zx\r\n", sizes[i]);
		n = put(n, line);
		memcpy(big + n, big_body + off, sizes[i]);
		n += sizes[i];
		off += sizes[i];
		n = put(n, "\r\n");
	}
	n = put(n, "0\r\n\r\n");
	c->resp = big;
	c->len = n;
	c->x.body = big_body;
}

/* Exactly max_body bytes: complete, not truncated. */
static void build_exact(struct tcase *c)
{
	size_t n = 0;

	fill_body(300);
	n = put(n, "HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n");
	memcpy(big + n, big_body, 300);
	c->resp = big;
	c->len = n + 300;
	c->x.body = big_body;
}

static char title_want[RP__TITLE_MAX];

static void build_title(struct tcase *c, const char *raw, const char *want)
{
	size_t n = 0;

	n = put(n, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
		   "<html><title>");
	n = put(n, raw);
	n = put(n, "</title></html>");
	c->resp = big;
	c->len = n;
	c->x.body = strstr(big, "<html>");
	c->x.body_len = n - (size_t)(c->x.body - big);
	assert_true(strlen(want) < sizeof(title_want));
	strcpy(title_want, want);
	c->x.title = title_want;
}

static char *repeat(char *dst, char ch, size_t n)
{
	memset(dst, ch, n);
	dst[n] = '\0';
	return dst + n;
}

/* 254 ASCII bytes, then a 2-byte sequence cut after its first byte. */
static void build_title_utf8_a(struct tcase *c)
{
	char raw[400], want[300];

	strcpy(repeat(raw, 'a', 254), "\xc3\xa9 tail");
	repeat(want, 'a', 254);
	build_title(c, raw, want);
}

/* Leading space, 250 bytes, a whole 3-byte sequence, then one cut after
 * its first byte: the whole one stays, the cut one goes. */
static void build_title_utf8_b(struct tcase *c)
{
	char raw[400], want[300];

	raw[0] = ' ';
	strcpy(repeat(raw + 1, 'b', 250), "\xe2\x82\xac\xe2\x82\xac");
	strcpy(repeat(want, 'b', 250), "\xe2\x82\xac");
	build_title(c, raw, want);
}

/* An emoji entity decoded to 4 bytes, then an entity cut at the bound,
 * which is dropped rather than left half. */
static void build_title_entity_cut(struct tcase *c)
{
	char raw[400], want[300], *r;

	r = repeat(raw, 'c', 230);
	r = stpcpy(r, "&#x1F600;&amp;");
	r = repeat(r, 'd', 5);
	strcpy(r, "&#x1F601;"); /* raw byte 255 is its '0' */
	r = repeat(want, 'c', 230);
	r = stpcpy(r, "\xf0\x9f\x98\x80&");
	repeat(r, 'd', 5);
	build_title(c, raw, want);
}

/* The Server value of header_bound_utf8 is 40 x and 50 bad bytes. */
static void build_bound_utf8(struct tcase *c)
{
	static char want[RP__HDR_VALUE_MAX];
	static const char mark[] = "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80";
	char *r = big, *w = want;
	const char *at;

	memcpy(big, c->resp, c->len);
	at = memmem(big, c->len, mark, 10);
	assert_non_null(at);
	r = (char *)at;
	memmove(r + 50, r + 10, c->len - (size_t)(r + 10 - big));
	memset(r, 0x80, 50);
	c->resp = big;
	c->len += 40;
	w = repeat(w, 'x', 40);
	for (int i = 0; i < 29; i++) /* 40 + 29 * 3 = 127 */
		w = stpcpy(w, "\xef\xbf\xbd");
	c->x.server = want;
}

static void build_title_replacements(struct tcase *c)
{
	char raw[200], want[300], *w = want;

	memset(raw, 0xff, 100);
	raw[100] = '\0';
	for (int i = 0; i < 85; i++)
		w = stpcpy(w, "\xef\xbf\xbd");
	build_title(c, raw, want);
}

/* ---- the table -------------------------------------------------------- */

#define FIXED_BODY                                                             \
	"<html><head><title>Hello, World</title></head>"                       \
	"<body>hi</body></html>"
#define CHUNKED_BODY "<html><title>Chunked</TITLE></html>"
#define ENTITY_TITLE                                                           \
	"\n\t  Caf&eacute; &amp; Bar &lt;3&gt; &quot;q&quot; "                 \
	"&apos;a&#39; x&nbsp;&#160;y &#169;&#xA9;&#X263a; "                    \
	"&#xZZ; &bogus; &#0; &#1114112; &#55296; AT&T &amp\r\n "
#define ENTITY_BODY                                                            \
	"<html><head><TITLE lang=\"e>n\" data-x='a>b'>" ENTITY_TITLE           \
	"</TiTlE></head></html>"
#define FRIENDS_BODY                                                           \
	"<titl<titles>nope</titles><<title\n class=x>Yes "                     \
	"</ <</title><title>Second</title>"
#define X36 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define FFFD "\xef\xbf\xbd"
#define FFFD3 FFFD FFFD FFFD
/* Remote text in a terminal: ESC sequences, BEL, DEL, C1, and bytes that
 * are not UTF-8, raw and as character references. */
#define NASTY_TITLE                                                            \
	"&#27;[2J&#155;&#129;\x1b\x07\x7f\xc2\x9b\xff&#9;x&#x7f;&#150;"
#define NASTY_BODY "<title>" NASTY_TITLE "</title>"
#define BAD_UTF8                                                               \
	"\xc2\x9b" "1\xff" "2\xc3(3\xe0\x80\xaf" "4\xed\xa0\x80" "5"           \
	"\xf4\x90\x80\x80" "6\xe2\x82"
#define X40 X36 "xxxx"
#define LONG_CT "text/html; " X40 X40 X40 X40

static struct tcase cases[] = {
    {"fixed_content_length",
     S("HTTP/1.1 200 OK\r\nServer: nginx/1.25.3\r\n"
       "Content-Type: text/html; charset=utf-8\r\n"
       "Content-Length: 68\r\n\r\n" FIXED_BODY),
     .x = {DONE, 0, 200, "OK", 68, "nginx/1.25.3", "text/html; charset=utf-8",
	   NULL, "Hello, World", NULL, S(FIXED_BODY), 0}},
    {"eof_after_done",
     S("HTTP/1.1 200 OK\r\nContent-Length: 68\r\n\r\n" FIXED_BODY), .eof = true,
     .x = {DONE, DONE, 200, "OK", 68, NULL, NULL, NULL, "Hello, World", NULL,
	   S(FIXED_BODY), 0}},
    {"chunked_title_split",
     S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
       "Content-Type: text/html\r\n\r\n"
       "9;ext=1\r\n<html><ti\r\n"
       "8;name=\"quoted; value\";flag\r\ntle>Chun\r\n"
       "7\r\nked</TI\r\n"
       "b\r\nTLE></html>\r\n"
       "0\r\nServer: from-trailer\r\n\r\n"),
     .x = {DONE, 0, 200, "OK", -1, NULL, "text/html", NULL, "Chunked", NULL,
	   S(CHUNKED_BODY), 0}},
    {"body_until_eof",
     S("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
       "Connection: close\r\n\r\n<title>Until EOF</title>\n<p>rest</p>\n"),
     .eof = true,
     .x = {DONE, MORE, 200, "OK", -1, NULL, "text/html", NULL, "Until EOF",
	   NULL, S("<title>Until EOF</title>\n<p>rest</p>\n"), 0}},
    {"http10_until_eof",
     S("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nno title here"), .eof = true,
     .x = {DONE, MORE, 200, "OK", -1, "old", NULL, NULL, NULL, NULL,
	   S("no title here"), 0}},
    {"head_with_content_length",
     S("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
       "Content-Length: 1234\r\n\r\n"),
     .head = true,
     .x = {DONE, 0, 200, "OK", 1234, NULL, "text/html", NULL, NULL, NULL, NULL,
	   0, 0}},
    {"get_with_content_length_waits", /* same bytes, not HEAD */
     S("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
       "Content-Length: 1234\r\n\r\n"),
     .eof = true,
     .x = {ERR, MORE, 200, "OK", 1234, NULL, "text/html", NULL, NULL,
	   "Invalid EOF state", NULL, 0, 0}},
    {"no_content_204", S("HTTP/1.1 204 No Content\r\nServer: api\r\n\r\n"),
     .x = {DONE, 0, 204, "No Content", -1, "api", NULL, NULL, NULL, NULL, NULL,
	   0, 0}},
    {"not_modified_304_with_length",
     S("HTTP/1.1 304 Not Modified\r\nETag: \"abc\"\r\n"
       "Content-Length: 500\r\n\r\n"),
     .x = {DONE, 0, 304, "Not Modified", 500, NULL, NULL, NULL, NULL, NULL,
	   NULL, 0, 0}},
    {"continue_then_200",
     S("HTTP/1.1 100 Continue\r\nServer: interim\r\n\r\n"
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
     .x = {DONE, 0, 200, "OK", 2, NULL, NULL, NULL, NULL, NULL, S("ok"), 0}},
    {"early_hints_then_200",
     S("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n"
       "Content-Type: text/plain\r\nLocation: /hint\r\n\r\n"
       "HTTP/1.1 200 Fine\r\nContent-Type: text/html\r\n"
       "Content-Length: 22\r\n\r\n<title>Hinted</title>\n"),
     .x = {DONE, 0, 200, "Fine", 22, NULL, "text/html", NULL, "Hinted", NULL,
	   S("<title>Hinted</title>\n"), 0}},
    /* A 1xx never has a body (RFC 9110 15.2), whatever its headers say;
     * llhttp would read one, and count it as the final response's. */
    {"interim_with_content_length",
     S("HTTP/1.1 103 Early Hints\r\nContent-Length: 2\r\n\r\n"
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
     .x = {DONE, 0, 200, "OK", 2, NULL, NULL, NULL, NULL, NULL, S("ok"), 0}},
    {"interim_chunked",
     S("HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\n"
       "HTTP/1.1 204 No Content\r\n\r\n"),
     .x = {DONE, 0, 204, "No Content", -1, NULL, NULL, NULL, NULL, NULL,
	   NULL, 0, 0}},
    {"upgrade_101",
     S("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade\r\n\r\n\x81\x05hello"),
     .x = {DONE, 0, 101, "Switching Protocols", -1, NULL, NULL, NULL, NULL,
	   NULL, NULL, 0, 0}},
    {"interim_only_then_eof", S("HTTP/1.1 100 Continue\r\n\r\n"), .eof = true,
     .x = {ERR, MORE, 0, NULL, -1, NULL, NULL, NULL, NULL,
	   "EOF before a final response", NULL, 0, 0}},
    {"garbage", S("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"),
     .x = {ERR, 0, 0, NULL, -1, NULL, NULL, NULL, NULL, "Expected HTTP/", NULL,
	   0, 0}},
    {"bad_header_after_status",
     S("HTTP/1.1 200 OK\r\nServer: s\r\nBad Header\r\n\r\n"),
     .x = {ERR, 0, 200, "OK", -1, "s", NULL, NULL, NULL, "Invalid header token",
	   NULL, 0, 0}},
    {"short_content_length",
     S("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
       "<title>short</title>"),
     .eof = true,
     .x = {ERR, MORE, 200, "OK", 100, NULL, NULL, NULL, "short",
	   "Invalid EOF state", S("<title>short</title>"), 0}},
    {"truncated_chunked",
     S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "10\r\nonly part"),
     .eof = true,
     .x = {ERR, MORE, 200, "OK", -1, NULL, NULL, NULL, NULL,
	   "Invalid EOF state", S("only part"), 0}},
    {"chunked_missing_last_chunk",
     S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "4\r\nfull\r\n"),
     .eof = true,
     .x = {ERR, MORE, 200, "OK", -1, NULL, NULL, NULL, NULL,
	   "Invalid EOF state", S("full"), 0}},
    {"eof_mid_headers",
     S("HTTP/1.1 502 Bad Gateway\r\nServer: half\r\nContent-Ty"), .eof = true,
     .x = {ERR, MORE, 502, "Bad Gateway", -1, "half", NULL, NULL, NULL,
	   "Invalid EOF state", NULL, 0, 0}},
    {"empty_reply", "", 0, .eof = true,
     .x = {ERR, MORE, 0, NULL, -1, NULL, NULL, NULL, NULL, "empty reply", NULL,
	   0, 0}},
    {"huge_body_content_length", .max_body = 300, .eof = true,
     .build = build_huge_cl,
     .x = {TRUNC, TRUNC, 200, "OK", 1500, NULL, NULL, NULL, "Big one", NULL,
	   NULL, 300, 1}},
    {"huge_body_chunked", .max_body = 300, .build = build_huge_chunked,
     .x = {TRUNC, 0, 200, "OK", -1, NULL, "text/html", NULL, "Cut", NULL, NULL,
	   300, 1}},
    {"body_exactly_max_body", .max_body = 300, .build = build_exact,
     .x = {DONE, 0, 200, "OK", 300, NULL, NULL, NULL, NULL, NULL, NULL, 300,
	   0}},
    /* The limit is on wire bytes: 17 + 19 + 2 here. */
    {"headers_at_limit", S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
     .max_header = 38,
     .x = {DONE, 0, 200, "OK", 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0}},
    {"headers_over_limit", S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
     .max_header = 37,
     .x = {ERR, 0, 200, "OK", -1, NULL, NULL, NULL, NULL, "headers too large",
	   NULL, 0, 0}},
    {"headers_too_large",
     S("HTTP/1.1 200 OK\r\nServer: big\r\nX-A: " X40 X40 "\r\n"
       "X-B: " X40 "\r\nContent-Length: 0\r\n\r\n"),
     .max_header = 100,
     .x = {ERR, 0, 200, "OK", -1, "big", NULL, NULL, NULL, "headers too large",
	   NULL, 0, 0}},
    /* Trailers have a limit of their own: 47 bytes of head, then 47 of
     * trailers ("X-T: ", 38 bytes, two CRLF). */
    {"trailers_at_limit",
     S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "2\r\nok\r\n0\r\nX-T: " X36 "xx\r\n\r\n"),
     .max_header = 47,
     .x = {DONE, 0, 200, "OK", -1, NULL, NULL, NULL, NULL, NULL, S("ok"), 0}},
    {"trailers_over_limit",
     S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "2\r\nok\r\n0\r\nX-T: " X36 "xxx\r\n\r\n"),
     .max_header = 47,
     .x = {ERR, 0, 200, "OK", -1, NULL, NULL, NULL, NULL, "headers too large",
	   S("ok"), 0}},
    {"headers_repeated_and_bounded",
     S("HTTP/1.1 301 Moved Permanently With A Reason Phrase Much Longer "
       "Than Sixty-Four Bytes\r\n"
       "X-Some-Very-Long-Header-Name-Beyond-32: v\r\n"
       "server: first-server\r\nSERVER: second-server\r\n"
       "X-Server: no\r\nServer-Timing: no\r\n"
       "Location:   https://example.com/new?a=1&b=2  \t \r\n"
       "location: /other\r\nContent-Type: " LONG_CT "\r\n"
       "content-type: text/plain\r\nContent-Length: 0\r\n\r\n"),
     .x = {DONE, 0, 301,
	   "Moved Permanently With A Reason Phrase Much Longer "
	   "Than Sixty-F",
	   0, "first-server", "text/html; " X40 X40 X36,
	   "https://example.com/new?a=1&b=2", NULL, NULL, NULL, 0, 0}},
    {"header_empty_first_value",
     S("HTTP/1.1 200 OK\r\nServer:\r\nServer: later\r\n"
       "Content-Length: 0\r\n\r\n"),
     .x = {DONE, 0, 200, "OK", 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0}},
    {"bytes_after_complete_ignored",
     S("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
       "HTTP/1.1 500 Nope\r\nServer: late\r\n\r\n\x01garbage"),
     .x = {DONE, 0, 200, "OK", 2, NULL, NULL, NULL, NULL, NULL, S("ok"), 0}},
    {"title_entities_and_whitespace",
     S("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" ENTITY_BODY),
     .eof = true,
     .x = {DONE, MORE, 200, "OK", -1, NULL, "text/html", NULL,
	   "Caf&eacute; & Bar <3> \"q\" 'a' x y "
	   "\xc2\xa9\xc2\xa9\xe2\x98\xba &#xZZ; &bogus; "
	   "\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd AT&T &amp",
	   NULL, S(ENTITY_BODY), 0}},
    {"title_unclosed",
     S("HTTP/1.1 200 OK\r\n\r\n"
       "<html><title>Unclosed\n\n   title  \t text "),
     .eof = true,
     .x = {DONE, MORE, 200, "OK", -1, NULL, NULL, NULL, "Unclosed title text",
	   NULL, S("<html><title>Unclosed\n\n   title  \t text "), 0}},
    {"title_false_friends",
     S("HTTP/1.1 200 OK\r\nContent-Type: "
       "application/xhtml+xml\r\n\r\n" FRIENDS_BODY),
     .eof = true,
     .x = {DONE, MORE, 200, "OK", -1, NULL, "application/xhtml+xml", NULL,
	   "Yes </ <", NULL, S(FRIENDS_BODY), 0}},
    {"title_empty",
     S("HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n<title> \n</title>"),
     .x = {DONE, 0, 200, "OK", 17, NULL, NULL, NULL, NULL, NULL,
	   S("<title> \n</title>"), 0}},
    {"title_not_html",
     S("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
       "Content-Length: 24\r\n\r\n{\"t\":\"<title>x</title>\"}"),
     .x = {DONE, 0, 200, "OK", 24, NULL, "application/json", NULL, NULL, NULL,
	   S("{\"t\":\"<title>x</title>\"}"), 0}},
    /* Each of these once came out differently whole and split. A NUL in
     * the reason is refused, however the span was cut (as curl does:
     * C-string readers would end the line there). */
    {"reason_nul", S("HTTP/1.1 200 O\0K\r\n\r\n"), .eof = true,
     .x = {ERR, ERR, 0, NULL, -1, NULL, NULL, NULL, NULL,
	   "NUL byte in header", NULL, 0, 0}},
    /* The limit is crossed inside the Server value: the value's line
     * never completed, so it is not kept, whatever piece arrived. */
    {"server_across_header_limit",
     S("HTTP/1.1 200 OK\r\nServer: " X40 X40 "\r\nContent-Length: 0\r\n\r\n"),
     .max_header = 64,
     .x = {ERR, 0, 200, "OK", -1, NULL, NULL, NULL, NULL, "headers too large",
	   NULL, 0, 0}},
    /* A bad name byte beyond the limit: the limit comes first on the
     * wire, so it is the error, even when llhttp gets the whole name in
     * one span and finds the bad byte before handing it out. */
    {"bad_token_past_header_limit",
     S("HTTP/1.1 200 OK\r\nX-" X40 "xxxxxxxxxxxxxxxxxx(bad: v\r\n\r\n"),
     .max_header = 64,
     .x = {ERR, 0, 200, "OK", -1, NULL, NULL, NULL, NULL, "headers too large",
	   NULL, 0, 0}},
    {"bad_token_within_header_limit",
     S("HTTP/1.1 200 OK\r\nX-aa(a: v\r\n\r\n"), .max_header = 64,
     .x = {ERR, 0, 200, "OK", -1, NULL, NULL, NULL, NULL,
	   "Invalid header token", NULL, 0, 0}},
    /* What the library hands out is UTF-8 without controls: each bad
     * byte or control is U+FFFD, tab too (but trailing blanks go). */
    {"reason_controls",
     S("HTTP/1.1 200 A\x1b[2J\x07\x7f\xc2\x9b\xff\tZ\r\n"
       "Content-Length: 0\r\n\r\n"),
     .x = {DONE, 0, 200, "A" FFFD "[2J" FFFD3 FFFD FFFD "Z", 0, NULL,
	   NULL, NULL, NULL, NULL, NULL, 0, 0,
	   "lenient: control byte in header"}},
    /* Maximal subparts, as WHATWG: "\xe0\x80\xaf" is three. */
    {"header_bad_utf8",
     S("HTTP/1.1 200 OK\r\nServer: " BAD_UTF8 " \t\r\n"
       "Location: a\tb\r\nContent-Length: 0\r\n\r\n"),
     .x = {DONE, 0, 200, "OK", 0,
	   FFFD "1" FFFD "2" FFFD "(3" FFFD3 "4" FFFD3 "5" FFFD FFFD3 "6" FFFD,
	   NULL, "a" FFFD "b", NULL, NULL, NULL, 0, 0}},
    /* 126 bytes, then a 2-byte character that does not fit: nothing
     * after it is kept either. 40 x and 50 bad bytes: 29 U+FFFD fit. */
    {"header_bound_utf8",
     S("HTTP/1.1 200 OK\r\nLocation: " X40 X40 X40 "xxxxxx\xc3\xa9yy\r\n"
       "Server: " X40 "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\r\n"
       "Content-Length: 0\r\n\r\n"),
     .build = build_bound_utf8,
     .x = {DONE, 0, 200, "OK", 0, NULL, NULL, X40 X40 X40 "xxxxxx", NULL,
	   NULL, NULL, 0, 0}},
    {"title_controls",
     S("HTTP/1.1 200 OK\r\n\r\n" NASTY_BODY), .eof = true,
     .x = {DONE, MORE, 200, "OK", -1, NULL, NULL, NULL,
	   FFFD "[2J\xe2\x80\xba" FFFD3 FFFD FFFD FFFD " x" FFFD
	   "\xe2\x80\x93",
	   NULL, S(NASTY_BODY), 0}},
    {"title_bad_utf8",
     S("HTTP/1.1 200 OK\r\n\r\n<title>" BAD_UTF8 "&amp;\xe2\x82</title>"),
     .eof = true,
     .x = {DONE, MORE, 200, "OK", -1, NULL, NULL, NULL,
	   FFFD "1" FFFD "2" FFFD "(3" FFFD3 "4" FFFD3 "5" FFFD FFFD3 "6" FFFD
	   "&" FFFD,
	   NULL, S("<title>" BAD_UTF8 "&amp;\xe2\x82</title>"), 0}},
    /* 100 bad bytes: 85 U+FFFD are 255 bytes, the bound. */
    {"title_bound_replacements", .build = build_title_replacements,
     .eof = true, .x = {DONE, MORE, 200, "OK", -1, NULL, "text/html"}},
    {"title_long_utf8_cut_2byte", .build = build_title_utf8_a, .eof = true,
     .x = {DONE, MORE, 200, "OK", -1, NULL, "text/html"}},
    {"title_long_utf8_cut_3byte", .build = build_title_utf8_b, .eof = true,
     .x = {DONE, MORE, 200, "OK", -1, NULL, "text/html"}},
    {"title_long_entity_cut", .build = build_title_entity_cut, .eof = true,
     .x = {DONE, MORE, 200, "OK", -1, NULL, "text/html"}},
};

/* The reference hash is FNV-1a 64 and the parser agrees with it. */
static void test_fnv_reference(void **state)
{
	struct tcase c = cases[0];
	struct http_snap s;

	(void)state;
	http_case_once(&c, NULL, 0, &s);
	http_case_check(&c, &s, "whole", 0);
	assert_int_equal(s.body_hash, http_case_fnv1a(S(FIXED_BODY)));
	assert_true(s.body_hash != http_case_fnv1a(S(FIXED_BODY "x")));
	/* Empty input hashes to the FNV-1a offset basis. */
	assert_int_equal(http_case_fnv1a("", 0), 0xcbf29ce484222325ull);
}

/* The three ways of feeding must agree on the exact header count too. */
static void test_header_bytes_independent_of_split(void **state)
{
	static const char r[] = "HTTP/1.1 200 OK\r\nServer: x\r\n"
				"Content-Length: 0\r\n\r\n";
	struct rp__http_parse p;
	uint32_t whole;

	(void)state;
	rp__http_parse_init(&p, false, 100, 1000);
	assert_int_equal(rp__http_parse_feed(&p, r, sizeof(r) - 1), DONE);
	whole = p.header_bytes;
	assert_int_equal(whole, sizeof(r) - 1);
	rp__http_parse_init(&p, false, 100, 1000);
	for (size_t i = 0; i < sizeof(r) - 1; i++)
		rp__http_parse_feed(&p, r + i, 1);
	assert_int_equal(p.header_bytes, whole);
	assert_true(p.complete);
}

/* Following a redirect takes the Location's own bytes (percent-encoded
 * later), and tells a cut one by its length; only the text handed out is
 * cleaned. */
static void test_location_raw_for_follow(void **state)
{
	static const char r[] =
	    "HTTP/1.1 302 Found\r\nLocation: /a\tb\xff" "c \t\r\n"
	    "Content-Length: 0\r\n\r\n";
	static const char cut[] =
	    "HTTP/1.1 302 Found\r\nLocation: /" X40 X40 X40 "xxxxx\xc3\xa9\r\n"
	    "Content-Length: 0\r\n\r\n";
	struct rp__http_parse p;
	struct rp_http_info info;

	(void)state;
	rp__http_parse_init(&p, false, 100, 1000);
	assert_int_equal(rp__http_parse_feed(&p, r, sizeof(r) - 1), DONE);
	assert_string_equal(p.location, "/a\tb\xff" "c");
	rp__http_parse_info(&p, &info);
	assert_string_equal(info.location, "/a" FFFD "b" FFFD "c");

	rp__http_parse_init(&p, false, 100, 1000);
	assert_int_equal(rp__http_parse_feed(&p, cut, sizeof(cut) - 1), DONE);
	assert_int_equal(strlen(p.location), sizeof(p.location) - 1);
	rp__http_parse_info(&p, &info);
	assert_int_equal(strlen(info.location), 126);
}

int main(void)
{
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0]) + 3];

	for (size_t i = 0; i < n; i++) {
		tests[i] = (struct CMUnitTest){.name = cases[i].name,
					       .test_func = http_case_run,
					       .initial_state = &cases[i]};
	}
	tests[n] = (struct CMUnitTest)cmocka_unit_test(test_fnv_reference);
	tests[n + 1] = (struct CMUnitTest)cmocka_unit_test(
	    test_header_bytes_independent_of_split);
	tests[n + 2] = (struct CMUnitTest)cmocka_unit_test(
	    test_location_raw_for_follow);
	return _cmocka_run_group_tests("http_parse", tests, n + 3, NULL, NULL);
}
