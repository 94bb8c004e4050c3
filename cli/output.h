/*
 * output.h - result writers of the ringprobe CLI: text for people, JSON
 * Lines, CSV and nmap's XML for programs, grep lines for the next tool.
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

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringprobe.h"

enum out_format {
	OUT_TEXT,
	OUT_JSONL,
	OUT_CSV,
	OUT_GREP,  /* an "ip:port" or URL per open/ok result, nothing else */
	OUT_XML,   /* nmap's XML format (tcp), see output_xml.c */
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
	OUT_ALL = 1u << 4,       /* text: every result (--all), not only
	                          * those out_shown() picks */
};

/*
 * Which results a writer writes (out_shown()): with OUT_ONLY_OPEN, open
 * (tcp) or ok (http, tls) ones only, whatever the format. Otherwise JSON
 * Lines, CSV and XML write every result (the accounting contract: one
 * record per target); grep writes open/ok ones only; text, for people,
 * writes the open/ok ones and the errors a person must act on, which are
 * about the input or this machine rather than the targets: invalid input
 * lines, names that did not resolve (dns-error) and local errors (error:
 * no ports, no memory...). With OUT_ALL text writes every result. What a
 * writer leaves out is counted by status in hidden[], and text output
 * ends with out_not_shown()'s line ("Not shown: 65,530 closed, 2
 * filtered").
 */

/*
 * TCP records have these fields, in this order (JSON keys, and the CSV
 * header):
 *
 *   input index ip port status rtt_us attempts elapsed_us dns_us error
 *   detail [banner] [TLS fields] time addr service
 *
 * Every record (TCP, HTTP, TLS) ends with the same three fields: time,
 * when the result was known, as RFC 3339 UTC with milliseconds
 * ("2026-11-30T10:04:05.123Z"); addr, the probed address as "ip:port" or
 * "[ipv6]:port" (null without an address); service, the port's name in
 * /etc/services for tcp (null when it has none, or without an address).
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
	uint64_t skipped;       /* results left out (see out_shown()) */
	uint64_t hidden[RP_STATUS__COUNT]; /* the same, by status */
	const struct out_run *run; /* for out_header()/out_footer(): XML */
	int64_t (*clock_ms)(void); /* the time field's clock (out_now_ms) */
	char xml_ip[INET6_ADDRSTRLEN]; /* XML: the address of the <host>
	                         * element that ends the buffer ... */
	size_t xml_end;         /* ... when it ends at buf + xml_end */
	uint64_t hosts;         /* XML: <host> elements written */
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

/* "text", "jsonl" (or "json"), "csv", "grep" or "xml" (any case) to an
 * OUT_* value; -1 otherwise. */
int out_format_parse(const char *s);

/* What the XML prolog and epilog say about the run. */
struct out_run {
	const char *args;  /* the command line */
	const char *ports; /* the port list ("" if none) */
	uint64_t nports;   /* how many ports it names */
	int64_t start_ms;  /* Unix time in ms when the scan started */
};

/* Whether a writer with these flags writes r (the rules above). */
bool out_shown(enum out_format f, unsigned int flags,
	       const struct rp_result *r);

/* Unix time in milliseconds (CLOCK_REALTIME). */
int64_t out_now_ms(void);

/*
 * "Not shown: 65,530 closed, 2 filtered\n" for the counts in hidden[]
 * (by status, in status order, thousands separated by commas), into buf
 * like snprintf; "" when every count is 0.
 */
size_t out_not_shown(char *buf, size_t cap,
		     const uint64_t hidden[RP_STATUS__COUNT]);

/*
 * Port numbers to names from a services(5) file (tcp entries, the first
 * name of each port), for the service field and column. Loaded once, by
 * the first call (path NULL: /etc/services); without the file every
 * port's name is NULL. services_name() is safe from any thread after
 * services_load() returned.
 */
void services_load(const char *path);
const char *services_name(unsigned int port);

/*
 * Sets up a writer on fd (which stays the caller's) and allocates its
 * buffer. Returns: 0, -EINVAL for an unknown format, -ENOMEM.
 */
int out_init(struct out *o, int fd, enum out_format f, unsigned int flags);

/* Frees the buffer. Does not flush: call out_flush() first. */
void out_release(struct out *o);

/* Buffers the CSV header row (the HTTP one with OUT_HTTP), or XML's prolog
 * (o->run must be set); nothing for the other formats. */
void out_header(struct out *o);

/*
 * Buffers the end of the output, after every result: text's "Not shown"
 * line for hidden[] (the counts of every writer of the run, summed), XML's
 * <runstats> and closing tag (hosts: <host> elements of every writer);
 * nothing for the other formats.
 */
void out_footer(struct out *o, const uint64_t hidden[RP_STATUS__COUNT],
		uint64_t hosts, bool interrupted);

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
 * Formats one result as one record (a line, with its '\n'; for XML a
 * <host> element, or a <target> or <output> one for a result without an
 * address; for grep nothing unless out_shown()) in format f, into buf of
 * cap bytes, like snprintf: the text is NUL-terminated when cap > 0, and
 * the return value is the record's full length without the NUL, so a
 * return value >= cap means buf was too small. flags: OUT_HTTP for an HTTP
 * record, 0 for a TCP one (other bits are ignored). time_ms: when the
 * result was known, Unix time in milliseconds (the time field).
 */
size_t out_format_result(char *buf, size_t cap, enum out_format f,
			 unsigned int flags, const struct rp_result *r,
			 int64_t time_ms);

#endif /* RP_CLI_OUTPUT_H */
