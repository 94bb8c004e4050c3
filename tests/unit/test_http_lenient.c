/*
 * Unit tests for reading odd responses leniently (http_parse.c with
 * http_frame.c), each run every way by http_case.c (whole, split at every
 * byte, bytewise, random pieces).
 *
 * The contract (README, Results/HTTP): a response that is odd but still
 * unambiguous is read the way curl reads it, its status and strings
 * handed out as usual and what was odd named in the lenient text (the
 * result's detail); one whose framing would need a guess is a protocol
 * error.
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

#define FFFD "\xef\xbf\xbd"
#define PAGE "<title>Odd &amp; read</title>"
#define TITLE "Odd & read"
#define OK200 "HTTP/1.1 200 OK\r\n"
#define CHUNKED "Transfer-Encoding: chunked\r\n"

/* A 200 read fine, with this Server, body and lenient text. */
#define READ(srv_, body_, cl_, note_)                                          \
	{                                                                      \
		.state = DONE, .status_code = 200, .reason = "OK",             \
		.content_length = (cl_), .server = (srv_), .title = TITLE,     \
		.body = (body_), .body_len = sizeof(body_) - 1,                \
		.lenient = (note_)                                             \
	}

/* Refused: why, and what was known by then. */
#define REFUSED(status_, why_)                                                 \
	{                                                                      \
		.state = ERR, .status_code = (status_),                        \
		.reason = (status_) ? "OK" : NULL, .content_length = -1,       \
		.error = (why_)                                                \
	}

static struct tcase cases[] = {
    /* ---- odd, and read ---------------------------------------------- */
    {"bare_lf_everywhere",
     S("HTTP/1.1 200 OK\nServer: lf\nContent-Length: 29\n\n" PAGE),
     .x = READ("lf", PAGE, 29, "lenient: bare LF")},
    {"bare_lf_one_header",
     S(OK200 "Server: lf\nContent-Length: 29\r\n\r\n" PAGE),
     .x = READ("lf", PAGE, 29, "lenient: bare LF")},
    {"bare_lf_interim_then_final",
     S("HTTP/1.1 100 Continue\n\n" OK200 "Server: s\r\n"
       "Content-Length: 29\r\n\r\n" PAGE),
     .x = READ("s", PAGE, 29, "lenient: bare LF")},
    /* A terminal escape in Server: read, and handed out harmless. */
    {"control_in_server",
     S(OK200 "Server: \x1b[2Jevil\x07\r\nContent-Length: 29\r\n\r\n" PAGE),
     .x = READ(FFFD "[2Jevil" FFFD, PAGE, 29,
	       "lenient: control byte in header")},
    {"control_in_other_header",
     S(OK200 "X-Junk: a\x01\x7f" "b\r\nServer: s\r\nContent-Length: 29\r\n"
       "\r\n" PAGE),
     .x = READ("s", PAGE, 29, "lenient: control byte in header")},
    {"duplicate_content_length",
     S(OK200 "Content-Length: 29\r\nServer: s\r\nContent-Length: 29\r\n\r\n"
       PAGE "and more"),
     .x = READ("s", PAGE, 29, "lenient: duplicate Content-Length")},
    {"content_length_list",
     S(OK200 "Server: s\r\nContent-Length: 29, 029 ,\t29,\r\n\r\n" PAGE),
     .x = READ("s", PAGE, 29, "lenient: duplicate Content-Length")},
    /* Whitespace around a field value is not part of it (RFC 9110 5.5). */
    {"content_length_whitespace",
     S(OK200 "Server: s\r\nContent-Length: \t 29 \t \r\n\r\n" PAGE),
     .x = READ("s", PAGE, 29, NULL)},
    /* Transfer-Encoding frames the body (RFC 9112 6.3), here chunked. */
    {"content_length_and_chunked",
     S(OK200 "Content-Length: 5\r\nServer: s\r\n" CHUNKED "\r\n"
       "1d\r\n" PAGE "\r\n0\r\n\r\n"),
     .x = READ("s", PAGE, 5, "lenient: Content-Length with Transfer-Encoding")},
    /* ...and here to EOF: identity is no coding at all. */
    {"content_length_and_identity",
     S(OK200 "Transfer-Encoding: identity\r\nContent-Length: 5\r\n"
       "Server: s\r\n\r\n" PAGE),
     .eof = true,
     .x = {.state = DONE, .pre = MORE, .status_code = 200, .reason = "OK",
	   .content_length = 5, .server = "s", .title = TITLE, .body = PAGE,
	   .body_len = sizeof(PAGE) - 1,
	   .lenient = "lenient: Content-Length with Transfer-Encoding"}},
    {"chunked_bare_lf",
     S(OK200 "Server: s\r\n" CHUNKED "\r\n"
       "10\n<title>Odd &amp;\n" "d\n read</title>\n0\nX-T: v\n\n"),
     .x = READ("s", PAGE, -1, "lenient: bare LF")},
    {"chunk_size_whitespace",
     S(OK200 "Server: s\r\n" CHUNKED "\r\n"
       " \t10 \r\n<title>Odd &amp;\r\nd\t;ext\r\n read</title>\r\n"
       "0  \r\n\r\n"),
     .x = READ("s", PAGE, -1, "lenient: odd chunk size line")},
    {"chunk_size_junk",
     S(OK200 "Server: s\r\n" CHUNKED "\r\n"
       "1dzz\r\n" PAGE "\r\n0 x\r\n\r\n"),
     .x = READ("s", PAGE, -1, "lenient: odd chunk size line")},
    /* Extensions, quoted or not, CRs before the line end: all normal. */
    {"chunk_extensions_and_crs",
     S(OK200 "Server: s\r\n" CHUNKED "\r\n"
       "1d;a=\"b c\";d\r\n" PAGE "\r\r\n0;e\r\nT: \x7fv\r\n\r\n"),
     .x = READ("s", PAGE, -1, NULL)},
    {"whitespace_before_first_header",
     S(OK200 " X-Folded: v\r\nServer: s\r\nContent-Length: 29\r\n\r\n" PAGE),
     .x = READ("s", PAGE, 29, "lenient: whitespace before first header")},
    /* Every note at once, in their fixed order. */
    {"every_note",
     S("HTTP/1.1 200 OK\n X: \x1b\r\nContent-Length: 5\r\n"
       "Content-Length: 5\r\nServer: s\r\n" CHUNKED "\r\n"
       "1d \n" PAGE "\r\n0\r\n\r\n"),
     .x = READ("s", PAGE, 5,
	       "lenient: bare LF; control byte in header; whitespace before "
	       "first header; duplicate Content-Length; Content-Length with "
	       "Transfer-Encoding; odd chunk size line")},
    /* HEAD: Content-Length twice says the same, and no body is read. */
    {"head_duplicate_content_length",
     S(OK200 "Content-Length: 29\r\nContent-Length: 29\r\n\r\n"), .head = true,
     .x = {.state = DONE, .status_code = 200, .reason = "OK",
	   .content_length = 29,
	   .lenient = "lenient: duplicate Content-Length"}},

    /* A body's own line ends are nobody's business. */
    {"bare_lf_in_body_only",
     S(OK200 "Server: s\r\nContent-Length: 31\r\n\r\n\n" PAGE "\n"),
     .x = READ("s", "\n" PAGE "\n", 31, NULL)},
    {"bare_lf_in_chunk_data_only",
     S(OK200 "Server: s\r\n" CHUNKED "\r\n1f\r\n\n" PAGE "\n\r\n0\r\n\r\n"),
     .x = READ("s", "\n" PAGE "\n", -1, NULL)},

    /* ---- ambiguous, or unreadable: refused --------------------------- */
    {"content_length_conflict",
     S(OK200 "Content-Length: 29\r\nContent-Length: 30\r\n\r\n" PAGE "x"),
     .x = REFUSED(200, "Conflicting Content-Length")},
    {"content_length_list_conflict",
     S(OK200 "Content-Length: 29, 30\r\n\r\n" PAGE "x"),
     .x = REFUSED(200, "Conflicting Content-Length")},
    {"content_length_not_a_number",
     S(OK200 "Content-Length: 29x\r\n\r\n" PAGE),
     .x = REFUSED(200, "Invalid character in Content-Length")},
    {"content_length_two_numbers",
     S(OK200 "Content-Length: 2 9\r\n\r\n" PAGE),
     .x = REFUSED(200, "Invalid character in Content-Length")},
    {"content_length_negative", S(OK200 "Content-Length: -29\r\n\r\n" PAGE),
     .x = REFUSED(200, "Invalid character in Content-Length")},
    {"content_length_empty", S(OK200 "Content-Length: \t\r\n\r\n" PAGE),
     .x = REFUSED(200, "Empty Content-Length")},
    {"content_length_overflow",
     S(OK200 "Content-Length: 36893488147419103232\r\n\r\n" PAGE),
     .x = REFUSED(200, "Content-Length overflow")},
    /* "Content-Length :" is the header to some readers, not to others. */
    {"space_before_colon", S(OK200 "Content-Length : 29\r\n\r\n" PAGE),
     .x = REFUSED(200, "Invalid header field char")},
    {"nul_in_header",
     S(OK200 "Server: a\0b\r\nContent-Length: 29\r\n\r\n" PAGE),
     .x = REFUSED(200, "NUL byte in header")},
    /* RFC 9112 2.2 lets a recipient refuse a bare CR; curl does. */
    {"bare_cr_in_header",
     S(OK200 "Server: a\rb\r\nContent-Length: 29\r\n\r\n" PAGE),
     .x = REFUSED(200, "Missing expected LF after header value")},
    {"status_single_digit", S("HTTP/1.1 2 OK\r\nContent-Length: 0\r\n\r\n"),
     .x = REFUSED(0, "Invalid response status")},
    {"transfer_encoding_gzip",
     S(OK200 "Transfer-Encoding: gzip, chunked\r\n\r\n1d\r\n" PAGE "\r\n"),
     .x = REFUSED(200, "Unsupported Transfer-Encoding")},
    {"transfer_encoding_chunked_not_last",
     S(OK200 "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n"
       "\r\n" PAGE),
     .x = REFUSED(200, "Unsupported Transfer-Encoding")},
    {"chunk_size_without_digit",
     S(OK200 CHUNKED "\r\n;ext\r\n" PAGE "\r\n0\r\n\r\n"),
     .x = REFUSED(200, "Invalid character in chunk size")},
    {"chunk_size_overflow",
     S(OK200 CHUNKED "\r\n8000000000000000\r\n" PAGE),
     .x = REFUSED(200, "Chunk size overflow")},
    {"chunk_data_too_long",
     S(OK200 CHUNKED "\r\n1c\r\n" PAGE "\r\n0\r\n\r\n"),
     .x = {.state = ERR, .status_code = 200, .reason = "OK",
	   .content_length = -1, .title = TITLE,
	   .body = "<title>Odd &amp; read</title", .body_len = 28,
	   .error = "Expected LF after chunk data"}},
    {"chunk_trailer_nul",
     S(OK200 CHUNKED "\r\n0\r\nX: a\0b\r\n\r\n"),
     .x = REFUSED(200, "NUL byte in header")},
};

int main(void)
{
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0])];

	for (size_t i = 0; i < n; i++) {
		tests[i] = (struct CMUnitTest){.name = cases[i].name,
					       .test_func = http_case_run,
					       .initial_state = &cases[i]};
	}
	return _cmocka_run_group_tests("http_lenient", tests, n, NULL, NULL);
}
