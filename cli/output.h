/*
 * output.h - result writers of the ringprobe CLI: text for people, JSON
 * Lines and CSV for programs.
 *
 * Results are formatted into one buffer allocated at init and written with
 * write(2) only when the buffer is full or the caller flushes (once per loop
 * turn), so output is prompt without a syscall per result. A record is never
 * split between two flushes. Once a write fails (EPIPE when the reader went
 * away, or any other error), the error is kept in o->err, buffered data is
 * dropped and every later call does nothing: the caller checks o->err and
 * stops the run quietly.
 */
#ifndef RP_CLI_OUTPUT_H
#define RP_CLI_OUTPUT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ringprobe.h"

enum out_format {
	OUT_TEXT,
	OUT_JSONL,
	OUT_CSV,
};

/* Flags for out_init(); out_format_result() takes them too (OUT_HTTP,
 * OUT_BANNER and OUT_TLS matter there). */
enum {
	OUT_ONLY_OPEN = 1u << 0, /* write OPEN results only (with OUT_HTTP or
	                          * OUT_TLS: OK results only) */
	OUT_HTTP = 1u << 1,      /* HTTP records (`ringprobe http`): the
	                          * fields of rp_result.http, see below */
	OUT_BANNER = 1u << 2,    /* TCP records with a last field, banner
	                          * (`ringprobe tcp --banner`) */
	OUT_TLS = 1u << 3,       /* the TLS fields after the others (`ringprobe
	                          * tls`: after the TCP fields; `ringprobe
	                          * http`: after the HTTP fields), see below */
};

/*
 * TCP records have these fields, in this order (JSON keys, and the CSV
 * header):
 *
 *   input index ip port status rtt_us attempts elapsed_us dns_us error
 *   detail
 *
 * ip and port are null when the result has no address (invalid and
 * dns-error results were never probed). dns_us, always a number, is the
 * name resolution time: 0 when there was none or the run's cache answered;
 * text lines show it (" dns N.NNN ms" after the time) only when it is not
 * 0. error is the errno's name where it says more than status, null
 * otherwise (a dns-error has one only for a local failure); detail is the
 * reason text or null (for dns-error, the resolver's reason: "NXDOMAIN",
 * "SERVFAIL", ...). With OUT_BANNER a last field follows, banner: the
 * first line the server sent (rp_result.banner; "" if none came in time,
 * null if it never connected); text lines end with "  banner: LINE".
 *
 * HTTP records (OUT_HTTP) have the same fields for every result, in this
 * order (JSON keys, and the CSV header):
 *
 *   input index url ip port status http_status reason content_length
 *   body_bytes truncated content_type server location redirects title
 *   body_hash connect_us ttfb_us total_us attempts elapsed_us dns_us error
 *   detail
 *
 * input, index, ip, port, status, attempts, elapsed_us, dns_us, error and
 * detail are as in TCP records. When r->http is NULL (never connected), url,
 * connect_us, ttfb_us and total_us are null; they come from r->http
 * otherwise. The response fields (http_status, reason, content_length,
 * content_type, server, location, title, body_hash) are null unless a
 * response status was parsed (r->http set and status_code != 0); then the
 * strings are as received ("" for a missing header), content_length is null
 * when absent (-1), and body_hash is 16 lowercase hex digits. body_bytes
 * (0 without a response), truncated (true/false; "true"/"false" in CSV)
 * and redirects (how many redirects were followed, url being then the
 * last URL requested; 0 when r->http is NULL) are never null. CSV writes
 * null as an empty field, and puts a "'" before a string that starts with
 * =, +, -, @, tab or CR (a formula to a spreadsheet). Text lines (one per result, for people) are
 * described at format_http_text() in output.c.
 *
 * With OUT_TLS these fields follow, from rp_result.tls:
 *
 *   tls_version cipher alpn sni cert_subject_cn cert_sans cert_issuer_cn
 *   cert_issuer_org cert_not_before cert_not_after cert_days_left
 *   cert_sha256 cert_self_signed cert_key chain_len verify tls_us
 *
 * All are null when the probe did no handshake (r->tls NULL: not
 * connected, or a plain http target). tls_version, cipher and tls_us are
 * null unless the handshake completed; alpn and sni are null when none
 * was chosen or sent. The cert_ fields, chain_len and verify are null
 * unless the server sent a certificate; then cert_sans is a JSON array of
 * strings (in CSV one cell, the names separated by spaces), the times are
 * ISO 8601 UTC ("2027-01-01T00:00:00Z"), cert_days_left a signed number
 * (negative once expired), cert_self_signed true/false, and verify "ok" or
 * OpenSSL's reason ("certificate has expired", "self-signed
 * certificate", "hostname mismatch", ...).
 */

/* Size of the output buffer. A record longer than this (impossible for
 * engine results, whose strings are bounded by RP_INPUT_MAX) is written by
 * itself from a temporary buffer. */
#define OUT_BUF_SIZE (64 * 1024)

struct out {
	int fd;                 /* where records go; not owned */
	enum out_format format; /* OUT_* */
	unsigned int flags;     /* OUT_ONLY_OPEN, OUT_HTTP */
	char *buf;              /* OUT_BUF_SIZE bytes, allocated by out_init */
	size_t len;             /* bytes buffered */
	size_t cap;             /* size of buf */
	int err;                /* negative errno of the first failed write
	                         * (or -ENOMEM); 0 while all is well */
	uint64_t records;       /* records accepted (buffered or written) */
	uint64_t skipped;       /* results left out by OUT_ONLY_OPEN */
	uint64_t bytes;         /* bytes written to fd */
	uint64_t writes;        /* write(2) calls that wrote something */
	pthread_mutex_t *lock;  /* held around each write of records, when
	                         * writers of several threads share the fd
	                         * (NULL: none); set after out_init */
	void (*written)(void *arg); /* called after each successful write
	                         * of records, the lock still held (NULL:
	                         * none); set after out_init */
	void *written_arg;
};

/* Writes "ip:port", "[ipv6]:port", or "-" without a usable address, to buf
 * (size bytes, NUL-terminated): the text format's address column. */
void out_where(const struct sockaddr *sa, socklen_t salen, char *buf,
	       size_t size);

/* "text", "jsonl" (or "json") or "csv" to an OUT_* value; -1 otherwise. */
int out_format_parse(const char *s);

/*
 * Sets up a writer on fd (which stays the caller's) and allocates its
 * buffer. Returns: 0, -EINVAL for an unknown format, -ENOMEM.
 */
int out_init(struct out *o, int fd, enum out_format f, unsigned int flags);

/* Frees the buffer. Does not flush: call out_flush() first. */
void out_release(struct out *o);

/* Buffers the CSV header row (the HTTP one with OUT_HTTP); nothing for the
 * other formats. */
void out_header(struct out *o);

/*
 * Formats one result and buffers it, flushing first when the buffer cannot
 * take it. Check o->err afterwards if a flush may have failed.
 */
void out_result(struct out *o, const struct rp_result *r);

/*
 * Writes everything buffered, retrying on EINTR, partial writes and EAGAIN
 * (a non-blocking fd is waited for with poll). Returns: 0, or o->err (for
 * example -EPIPE) once any write has failed.
 */
int out_flush(struct out *o);

/*
 * Ends the process with _exit(status) at once, but not in the middle of a
 * write of records: a thread inside one is given up to OUT_EXIT_WAIT_MS to
 * finish it (a write to a file takes microseconds; one to a pipe nobody
 * reads would never end), and no thread starts another. For a forced stop
 * (a second Ctrl-C): the output then ends with a whole record, as after a
 * clean stop. Async-signal-safe; does not return.
 */
#define OUT_EXIT_WAIT_MS 1000
void out_exit(int status) __attribute__((noreturn));

/*
 * Formats one result as one record (a line, with its '\n') in format f, into
 * buf of cap bytes, like snprintf: the text is NUL-terminated when cap > 0,
 * and the return value is the record's full length without the NUL, so a
 * return value >= cap means buf was too small. flags: OUT_HTTP for an HTTP
 * record, 0 for a TCP one (other bits are ignored).
 */
size_t out_format_result(char *buf, size_t cap, enum out_format f,
			 unsigned int flags, const struct rp_result *r);

#endif /* RP_CLI_OUTPUT_H */
