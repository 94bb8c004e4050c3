/*
 * parse.h - the values options take (parse.c): numbers, sizes,
 * durations, lists and the HTTP strings that go on the wire, each checked
 * strictly so that a bad value is a usage error naming the option, never
 * a failure of the engine later.
 */
#ifndef RP_CLI_PARSE_H
#define RP_CLI_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* A duration without a unit ("1000"): the caller's hint is "1000ms or
 * 1000s". */
#define PARSE_NO_UNIT (-2)

/* Digits only, at most max: 0 or -1. */
int parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Bytes with an optional binary suffix (512, 64k, 1M, 2G): 0 or -1. */
int parse_size(const char *s, uint64_t *out);

/* rp_parse_duration() with a unit required: 0, -1, or PARSE_NO_UNIT. */
int parse_duration(const char *s, uint64_t *ns);

/* "IP[:PORT],[IPv6]:PORT,IPv6,..." as c-ares takes it: 0 or -1. */
int parse_resolvers(const char *list);

/* "200,301-308" into *bitmap (1000 bytes, allocated on first use): 0 or
 * -1. */
int parse_status_list(const char *s, uint8_t **bitmap);

/* "1.0" .. "1.3" to an RP_TLS_*, or -1. */
int parse_tls_version(const char *s);

/* "h2,http/1.1": names of 1 to 255 printable bytes. */
bool alpn_ok(const char *s);

/* An HTTP token (RFC 9110 5.6.2): a method, a header name. */
bool http_token(const char *s, size_t n);

/* An HTTP field value: no control byte but tab. */
bool http_value(const char *s);

#endif
