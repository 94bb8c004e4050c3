/*
 * output_int.h - what the output files share (not for the rest of the CLI,
 * which uses output.h): the bounded sink records are formatted into, the
 * escapes for each format, and the facts about one result that every
 * format needs (struct rec).
 *
 *   output.c        the writer: buffer, filter, flush, out_exit()
 *   output_esc.c    escapes (JSON, CSV, text, XML), addresses, errno names
 *   output_text.c   text lines (TCP, HTTP, TLS), grep lines, "Not shown"
 *   output_json.c   JSON Lines and CSV records (fields and values)
 *   output_xml.c    nmap's XML format
 *   services.c      port numbers to /etc/services names
 */
#ifndef RP_CLI_OUTPUT_INT_H
#define RP_CLI_OUTPUT_INT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "output.h"

/*
 * A bounded writer that keeps counting past its end, so the caller learns
 * the full length of what did not fit.
 */
struct sink {
	char *buf;  /* destination */
	size_t cap; /* bytes usable in buf, the NUL included */
	size_t len; /* bytes produced so far, stored or not */
};

static inline void put_mem(struct sink *k, const void *p, size_t n)
{
	if (k->len < k->cap) {
		size_t room = k->cap - k->len;

		memcpy(k->buf + k->len, p, n < room ? n : room);
	}
	k->len += n;
}

static inline void put_char(struct sink *k, char c)
{
	if (k->len < k->cap)
		k->buf[k->len] = c;
	k->len++;
}

static inline void put_str(struct sink *k, const char *s)
{
	put_mem(k, s, strlen(s));
}

/* Decimal by hand: snprintf's format parsing showed up in profiles, at
 * several numbers per record. */
static inline void put_u64(struct sink *k, uint64_t v)
{
	char tmp[24];
	char *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_mem(k, p, (size_t)(tmp + sizeof(tmp) - p));
}

static inline void put_i64(struct sink *k, int64_t i)
{
	if (i < 0)
		put_char(k, '-');
	put_u64(k, i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i);
}

static inline void put_pad(struct sink *k, size_t n)
{
	for (; n > 0; n--)
		put_char(k, ' ');
}

/* Terminates the text (truncating if need be) and returns its length. */
static inline size_t sink_end(struct sink *k)
{
	if (k->cap > 0)
		k->buf[k->len < k->cap ? k->len : k->cap - 1] = '\0';
	return k->len;
}

/* One result and what every format derives from it once. */
struct rec {
	const struct rp_result *r;
	unsigned int flags;          /* OUT_HTTP, OUT_TLS, OUT_BANNER */
	int family;                  /* AF_INET, AF_INET6, or 0: no address */
	unsigned int port;
	char ip[INET6_ADDRSTRLEN];   /* "" without an address */
	char where[INET6_ADDRSTRLEN + 16]; /* "ip:port", "[ip]:port" or "" */
	const char *service;         /* /etc/services name of the port, or NULL */
	int64_t time_ms;             /* when the result was known (Unix ms) */
};

extern const char out_hex[]; /* "0123456789abcdef" */

/* output_esc.c */
unsigned int utf8_seq(const unsigned char *s, uint32_t *cp);
void json_str(struct sink *k, const char *str);
void csv_field(struct sink *k, const char *s);
void text_str(struct sink *k, const char *str);
void text_str_last(struct sink *k, const char *str);
void text_str_max(struct sink *k, const char *str, size_t max);
void xml_str(struct sink *k, const char *str);
int addr_text(const struct sockaddr *sa, socklen_t salen,
	      char ip[INET6_ADDRSTRLEN], unsigned int *port);
void where_text(char *where, size_t size, const char *ip, int family,
		unsigned int port);
const char *error_name(const struct rp_result *r);
void rfc3339_ms(int64_t ms, char buf[32]);
const char *iso_time(int64_t t, char buf[32]);

/* output_text.c */
void text_record(struct sink *k, const struct rec *x);
void grep_record(struct sink *k, const struct rec *x);

/* output_json.c */
void json_record(struct sink *k, const struct rec *x);
void csv_record(struct sink *k, const struct rec *x);
void csv_header(struct sink *k, unsigned int flags);

/* output_xml.c: a whole record; or, to merge results of one address, the
 * <host> head, its <port> elements and xml_host_tail */
void xml_record(struct sink *k, const struct rec *x);
void xml_host_head(struct sink *k, const struct rec *x);
void xml_port(struct sink *k, const struct rec *x);
extern const char xml_host_tail[];
void xml_prolog(struct sink *k, const struct out_run *run);
void xml_epilog(struct sink *k, const struct out_run *run, int64_t end_ms,
		uint64_t hosts, bool interrupted);

#endif /* RP_CLI_OUTPUT_INT_H */
