/*
 * ringprobe.h - the public API of libringprobe, an io_uring network probe
 * engine.
 *
 * An engine owns one io_uring and a fixed table of probe slots sized by its
 * concurrency limit. Targets go in (submitted one by one, or pulled from a
 * source when a slot is free); exactly one result per accepted target comes
 * out through the result callback, in completion order.
 *
 * Conventions:
 *  - Calls return 0 (or a count) on success and a negative errno on failure.
 *    The global errno is never part of the contract.
 *  - Option structs are zero-initialised and zero means "default".
 *  - Structs grow at their end only. The calls that take a caller's
 *    struct (rp_engine_create(), rp_engine_submit(), rp_engine_stats(),
 *    rp_stats_merge(), rp_source_create(), rp_source_next()) are macros that pass the
 *    struct's size as the caller's header knows it to an _ex function.
 *    The library zero-extends a shorter struct from an older program (zero
 *    is "default") and accepts a longer one from a newer header only when
 *    the bytes it does not know are zero (-E2BIG otherwise), as Linux's
 *    extensible syscall structs do (openat2, clone3); structs it fills
 *    (rp_stats) get what both know. So a program built against an older
 *    header keeps working with a newer library of the same major version.
 *    The plain names are functions as well, for taking their address and
 *    for bindings that call symbols: they take the struct's first version,
 *    the fields up to rp_engine_opts.dns, rp_target.tls, rp_stats.rtt_hist
 *    and rp_source_opts.scheme.
 *    Structs nested by value (rp_http_opts, rp_tls_opts, rp_dns_opts)
 *    keep their layout for the SONAME's life: later options of theirs go
 *    at the end of rp_engine_opts. Structs the library hands out
 *    (rp_result and what it points to, rp_probe_info) grow at their end;
 *    a program reads only the fields its header has. rp_stats.by_status
 *    has room for RP_STATUS_SLOTS statuses, so new statuses do not move
 *    the fields after it.
 *  - One engine per thread: every call except rp_engine_stop() and
 *    rp_engine_wake() must be made from the thread that created the engine.
 *  - Inside the result callback the engine may be called, with limits: see
 *    rp_result_fn.
 *  - The library installs no signal handlers, starts no threads of its own
 *    (except a target source reading a file, see rp_source_add_file()) and
 *    writes nothing to stdout or stderr.
 *
 * The SONAME is libringprobe.so.0; within it, structs only grow (above).
 */
#ifndef RINGPROBE_H
#define RINGPROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ringprobe/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RP_BUILDING_LIBRARY) && defined(__GNUC__)
#define RP_API __attribute__((visibility("default")))
#else
#define RP_API
#endif

/* Version of the library actually linked, as a string like "0.1.0". */
RP_API const char *rp_version(void);

/* The same as a number, RP_VERSION_HEX's encoding ((major << 16) |
 * (minor << 8) | patch): compare it with RP_VERSION_HEX, the header's, to
 * check at run time that the library is at least as new as the header. */
RP_API unsigned rp_version_number(void);

/*
 * Probe outcomes. A probe outcome is not an error of the call that made it:
 * every accepted target ends in exactly one of these.
 *
 *  OPEN         the TCP handshake completed
 *  CLOSED       the target refused the connection (RST)
 *  FILTERED     no answer before the connect timeout, after all retries, or
 *               the overall per-probe deadline passed
 *  UNREACHABLE  the network or host is unreachable (ICMP or no route)
 *  ERROR        a local or unexpected failure; rp_result.err has the errno,
 *               rp_result.detail may explain (for example local port
 *               exhaustion, or a hostname this build cannot resolve)
 *  CANCELLED    cancelled by rp_engine_cancel(), rp_engine_cancel_id(),
 *               rp_engine_stop() or rp_engine_destroy()
 *  INVALID      the target text could not be parsed, or a submitted
 *               target's own method or headers were refused (err
 *               -EINVAL); detail says why
 *
 * HTTP probes add:
 *  OK              a response was received and parsed (rp_result.http);
 *                  with redirects followed, the last one, even when a
 *                  later hop failed (see "Redirects" below).
 *                  An odd but unambiguous response is read the way curl
 *                  reads it, and detail then names what was odd:
 *                  "lenient: " and, in this order, joined by "; ", any of
 *                  "bare LF", "control byte in header", "whitespace
 *                  before first header", "duplicate Content-Length",
 *                  "Content-Length with Transfer-Encoding", "odd chunk
 *                  size line". NULL if nothing was.
 *  TIMEOUT         connected, but the response did not complete in time
 *  RESET           the connection was reset after connecting
 *  PROTOCOL_ERROR  the response was malformed, ambiguous (for example two
 *                  different Content-Length values, a transfer coding
 *                  other than chunked, a NUL byte in a header) or
 *                  truncated; detail has the reason
 *
 * Hostname targets add:
 *  DNS_ERROR    the name did not resolve; detail has the resolver's reason
 *               ("NXDOMAIN", "SERVFAIL", "timeout", "no address", ...),
 *               or "no socket" with err -EMFILE or -ENFILE when no
 *               descriptor was left to ask a resolver with
 *
 * TLS probes (RP_PROBE_TLS, and https targets of RP_PROBE_HTTP) add:
 *  TLS_ERROR    the TLS handshake failed (a fatal alert, bytes that are not
 *               TLS, the peer closed, or with rp_tls_opts.verify a
 *               certificate that does not verify); detail has the reason.
 *               A handshake that does not complete in time is TIMEOUT.
 *               A completed handshake is OK (RP_PROBE_TLS) or goes on to
 *               HTTP, whatever the verification said (rp_tls_info.verify).
 *
 * Exclude lists (rp_engine_opts.exclude, rp_source_opts.exclude) add:
 *  EXCLUDED     the target's address (or its port, rp_source_opts.
 *               exclude_ports) is excluded: nothing was sent to it.
 *               rp_result.addr is that address when it is known (a
 *               name's address once resolved), attempts is 0
 */
#define RP_STATUS_MAP(X)                                                       \
	X(OPEN, "open")                                                        \
	X(CLOSED, "closed")                                                    \
	X(FILTERED, "filtered")                                                \
	X(UNREACHABLE, "unreachable")                                          \
	X(ERROR, "error")                                                      \
	X(CANCELLED, "cancelled")                                              \
	X(INVALID, "invalid")                                                  \
	X(OK, "ok")                                                            \
	X(TIMEOUT, "timeout")                                                  \
	X(RESET, "reset")                                                      \
	X(PROTOCOL_ERROR, "protocol-error")                                    \
	X(DNS_ERROR, "dns-error")                                              \
	X(TLS_ERROR, "tls-error")                                              \
	X(EXCLUDED, "excluded")

enum rp_status {
	RP_STATUS_NONE = 0, /* not an outcome: "probe this target" */
#define RP_STATUS_ENUM(name, str) RP_STATUS_##name,
	RP_STATUS_MAP(RP_STATUS_ENUM)
#undef RP_STATUS_ENUM
	RP_STATUS__COUNT
};

/* "open", "closed", ...; "none" for RP_STATUS_NONE, "?" if out of range. */
RP_API const char *rp_status_name(enum rp_status s);

/* Parses a status name back; returns the status or -EINVAL. */
RP_API int rp_status_parse(const char *name);

/* "ECONNREFUSED" for -ECONNREFUSED or ECONNREFUSED; "E?" if unknown. */
RP_API const char *rp_errno_name(int err);

/* Human text for a negative errno returned by an rp_ call. */
RP_API const char *rp_strerror(int err);

/*
 * One target. The engine copies what it needs at submit: `input` (truncated
 * to RP_INPUT_MAX - 1 bytes) and the address; the caller may reuse the struct
 * as soon as the submit call returns. `host`, `path` and `name` go on the
 * wire: a control byte (below 0x20, or 0x7f) or a space in them makes the
 * target malformed (-EINVAL), so no caller string can inject a header.
 */
#define RP_INPUT_MAX 256

struct rp_target {
	struct sockaddr_storage addr; /* IPv4 or IPv6 address with the port */
	socklen_t addrlen;            /* 0 when status is set, except that
	                               * an EXCLUDED target may carry the
	                               * address it names (it is reported
	                               * as rp_result.addr) */
	const char *input;            /* original input text, or NULL */
	uint64_t index;               /* caller's ordinal, echoed in result */
	void *user;                   /* caller's pointer, echoed in result */
	enum rp_status status;        /* NONE: probe it; anything else: report
	                               * this outcome without probing (sources
	                               * use it so that bad input lines still
	                               * give exactly one result) */
	int err;                      /* with status: negative errno, or 0 */
	const char *detail;           /* with status: reason text, copied
	                               * (truncated to RP_INPUT_MAX - 1) */
	const char *host;             /* HTTP: Host header value (a source sets
	                               * it for URL lines only); NULL: the
	                               * address, with ":port" unless 80
	                               * (443 for tls targets) */
	const char *path;             /* HTTP: request target; NULL: the
	                               * engine's rp_http_opts.path */
	const char *name;             /* a hostname to resolve first (copied;
	                               * at most 253 bytes); addr is then
	                               * unused and port gives the port */
	uint16_t port;                /* with name: the port to probe */
	int tls;                      /* RP_PROBE_HTTP: 1 = https (a TLS
	                               * handshake first); RP_PROBE_TLS
	                               * targets always do TLS */
	uint64_t seq;                 /* a source's sequence number (see
	                               * rp_source_next()); not used by the
	                               * engine, echoed in rp_result.seq */
	/*
	 * Per-target choices: zero (NULL) keeps the engine's, from
	 * rp_engine_opts, so one engine can run a mix of checks.
	 */
	int kind;                     /* 0, or RP_TARGET_KIND(k): probe kind k
	                               * instead of the engine's. The engine's
	                               * kind must include k's steps: an
	                               * RP_PROBE_HTTP engine also runs TCP and
	                               * TLS probes (with its ALPN, http/1.1 by
	                               * default), TLS and BANNER engines also
	                               * TCP ones; any other k is -EINVAL */
	uint64_t connect_timeout_ns;  /* 0: rp_engine_opts.connect_timeout_ns
	                               * (at most RP_TIMEOUT_MAX_NS) */
	uint64_t timeout_ns;          /* 0: rp_engine_opts.timeout_ns (at
	                               * most RP_TIMEOUT_MAX_NS) */
	const char *method;           /* HTTP: NULL: the engine's method */
	const char *const *headers;   /* HTTP: NULL: the engine's extra
	                               * headers; else the ones this request
	                               * sends instead (the rules of
	                               * rp_http_opts.headers; copied). A bad
	                               * method or header is not refused at
	                               * submit: the result is INVALID, its
	                               * detail says why */
	/* A target of another kind than the engine's keeps the engine's
	 * options: its timeouts (an HTTP engine's 10 s default included),
	 * TLS options and ALPN. */
};

/* rp_target.kind for probe kind k (0 there means the engine's kind). */
#define RP_TARGET_KIND(k) ((int)(k) + 1)

/*
 * What an HTTP probe learned; strings are bounded, decoded and borrowed
 * for the duration of the callback.
 *
 * The strings taken from the response (reason, content_type, server,
 * location, title) are valid UTF-8 without control characters: each byte
 * sequence that is not UTF-8 (one U+FFFD per maximal ill-formed subpart)
 * and each C0 control (tab and NUL included), DEL or C1 control becomes
 * U+FFFD, so they are safe to print. Trailing blanks of header values
 * are dropped, and the title's whitespace is collapsed first. Bounds, in
 * bytes without the NUL: reason 63, header values 127, title 255; a
 * string is cut before the first character that does not fit, never
 * inside one. A header value or reason whose line never completed (the
 * response stopped in it) is "".
 */
struct rp_http_info {
	const char *url;              /* "http://host/path" as requested */
	int status_code;              /* final (non-1xx) status, 0 if none */
	const char *reason;           /* reason phrase ("" if none) */
	int64_t content_length;       /* Content-Length, -1 if absent */
	uint64_t body_bytes;          /* body bytes read (decoded chunks) */
	int truncated;                /* stopped at max_body */
	const char *content_type;     /* header value or "" */
	const char *server;           /* header value or "" */
	const char *location;         /* header value or "" */
	const char *title;            /* first <title>, whitespace collapsed,
	                               * common entities decoded, or "" */
	uint64_t body_hash;           /* 64-bit FNV-1a of the body read */
	uint32_t connect_us;          /* connect round trip */
	uint32_t ttfb_us;             /* request sent -> first response byte */
	uint32_t total_us;            /* connect start -> response complete */
	uint32_t redirects;           /* redirects followed to get this
	                               * response (url is the one requested
	                               * for it); see "Redirects" below */
};

/*
 * What a TLS handshake showed (RP_PROBE_TLS, https), borrowed for the
 * duration of the callback. Strings are "" when not known (no handshake,
 * no certificate) and, taken from the certificate, bounded (255 bytes) and
 * valid UTF-8 without control characters (as in rp_http_info).
 */
#define RP_TLS_SANS_MAX 16
struct rp_tls_info {
	const char *version;          /* "TLSv1.3", "TLSv1.2", ... */
	const char *cipher;           /* "TLS_AES_128_GCM_SHA256", ... */
	const char *alpn;             /* protocol the server chose */
	const char *sni;              /* server name sent ("" if none) */
	int has_cert;                 /* a leaf certificate was received; the
	                               * cert_ and verify fields need one */
	const char *subject_cn;       /* leaf subject commonName */
	const char *issuer_cn;        /* leaf issuer commonName */
	const char *issuer_org;       /* leaf issuer organizationName */
	const char *const *sans;      /* DNS names and IP addresses (as text)
	                               * of subjectAltName, in order */
	uint32_t nsans;               /* at most RP_TLS_SANS_MAX */
	uint32_t nsans_total;         /* how many the certificate has */
	int64_t not_before;           /* validity, Unix seconds (UTC) */
	int64_t not_after;
	int32_t days_left;            /* whole days from now to not_after,
	                               * negative once expired */
	const char *sha256;           /* SHA-256 of the leaf (DER), 64 hex */
	int self_signed;              /* issuer == subject, and its own key
	                               * verifies its signature */
	const char *key;              /* "EC-256", "RSA-2048", "ED25519" */
	uint32_t chain_len;           /* certificates the server sent */
	const char *verify;           /* "ok", or why verification failed
	                               * (OpenSSL's text: "certificate has
	                               * expired", "hostname mismatch", ...) */
	long verify_code;             /* X509_V_OK (0) or the X509_V_ERR_ code */
	uint32_t tls_us;              /* handshake: first byte sent -> done */
};

/*
 * The result of one probe, borrowed for the duration of the callback only.
 */
struct rp_result {
	const char *input;            /* the target's input text ("" if none) */
	uint64_t index;               /* rp_target.index */
	void *user;                   /* rp_target.user */
	const struct sockaddr *addr;  /* probed address; NULL if never probed */
	socklen_t addrlen;            /* 0 if addr is NULL */
	enum rp_status status;        /* the outcome */
	int err;                      /* negative errno behind ERROR and
	                               * UNREACHABLE (and the raw connect
	                               * result otherwise), 0 if none */
	const char *detail;           /* extra reason text, or NULL (HTTP:
	                               * also why a redirect was not followed,
	                               * or how the hop it led to failed) */
	uint32_t rtt_us;              /* connect round trip of the last attempt
	                               * (OPEN, CLOSED, UNREACHABLE), else 0.
	                               * A completed connect: the kernel's
	                               * TCP_INFO tcpi_rtt (SYN/SYN-ACK). Else
	                               * (refused, unreachable): from the turn
	                               * that queued the connect to the wait
	                               * that posted its answer, an upper
	                               * bound with queueing included */
	uint32_t attempts;            /* connect attempts made (0 if none) */
	uint64_t elapsed_us;          /* from first submission to result */
	uint32_t dns_us;              /* name resolution time (0: none, or
	                               * answered from the run's cache) */
	const struct rp_http_info *http; /* HTTP probes that connected, else
	                               * NULL */
	const struct rp_tls_info *tls; /* TLS probes and https targets that
	                               * connected, else NULL */
	const char *banner;           /* RP_PROBE_BANNER probes that
	                               * connected: the first line the server
	                               * sent (at most 255 bytes, line ending
	                               * dropped, bytes other than printable
	                               * ASCII as '?'; "" if it sent none in
	                               * time), else NULL */
	uint64_t seq;                 /* rp_target.seq */
	int kind;                     /* the rp_probe_kind the probe ran
	                               * (the engine's, or the target's) */
	uint64_t id;                  /* the probe's handle, as
	                               * rp_engine_submit_id() gave it; 0 for
	                               * targets submitted or pulled without
	                               * one */
};

/*
 * The result callback, called from rp_engine_run() (and from
 * rp_engine_destroy() for probes still in flight). Inside it the program
 * may call rp_engine_submit(), rp_engine_submit_id(), rp_engine_cancel(),
 * rp_engine_cancel_id(), rp_engine_stop(),
 * rp_engine_wake(), rp_engine_stats(), rp_engine_inflight() and
 * rp_engine_timeout() on the same engine; rp_engine_run(),
 * rp_engine_run_all() and rp_engine_destroy() are refused with -EBUSY.
 * The probe being reported keeps its slot until the callback returns, so
 * a submit from the callback never reuses it and *r stays intact.
 */
typedef void (*rp_result_fn)(const struct rp_result *r, void *arg);

/*
 * A pull source: the engine calls it from rp_engine_run() whenever a slot
 * is free (and the rate limit allows). Fill *t and return 1; return 0 when
 * no target is available right now (call rp_engine_wake() once one is); or
 * return -1 when the source is exhausted for good. Strings in *t must stay
 * valid until the next call of the function.
 */
typedef int (*rp_pull_fn)(void *arg, struct rp_target *t);

/* Engine flags (rp_engine_opts.flags). */
enum {
	/* Do not use in-ring socket creation, direct descriptors or in-ring
	 * setsockopt even when the kernel has them: use socket(2) and
	 * setsockopt(2), and the ring for connect and close. Also forced by
	 * the environment variable RINGPROBE_FALLBACK=1. */
	RP_ENGINE_FALLBACK = 1u << 0,
};

/* What a probe does once connected. */
enum rp_probe_kind {
	RP_PROBE_TCP = 0,             /* connect, report, close */
	RP_PROBE_HTTP,                /* connect, send a request, parse the
	                               * response with llhttp, close */
	RP_PROBE_BANNER,              /* connect, read the first line the
	                               * server sends (rp_result.banner); the
	                               * port is OPEN whatever it sends */
	RP_PROBE_TLS,                 /* connect, TLS handshake, report the
	                               * certificate (rp_result.tls), close */
};

/* TLS versions (rp_tls_opts.min_version, max_version). */
enum rp_tls_version {
	RP_TLS_DEFAULT = 0,
	RP_TLS_1_0 = 0x0301,
	RP_TLS_1_1 = 0x0302,
	RP_TLS_1_2 = 0x0303,
	RP_TLS_1_3 = 0x0304,
};

/* TLS options (zero = default), for RP_PROBE_TLS and https targets. Every
 * handshake is a full one (no session is resumed) and is verified against
 * the trust store, host name included; the verdict is reported, and fails
 * the probe only with verify. */
struct rp_tls_opts {
	const char *sni;              /* server name for targets given as an
	                               * address (a name's or URL's host is
	                               * sent otherwise); NULL: none */
	const char *alpn;             /* protocols offered, "h2,http/1.1";
	                               * NULL: none (https: "http/1.1") */
	const char *cafile;           /* PEM file of trust anchors, read at
	                               * create; NULL: the system's store */
	int min_version;              /* enum rp_tls_version; default: the
	                               * library's (TLS 1.2); 1.0 and 1.1 lower
	                               * OpenSSL's security level to 0 */
	int max_version;              /* default: the highest (TLS 1.3) */
	int verify;                   /* 1: a certificate that does not verify
	                               * ends the probe TLS_ERROR */
	uint64_t handshake_timeout_ns;/* whole handshake; default: the rest of
	                               * the overall timeout */
};

/* HTTP probe options (zero = default). */
struct rp_http_opts {
	const char *method;           /* default "GET"; "HEAD" reads no body */
	const char *path;             /* for targets without one; default "/" */
	const char *user_agent;       /* default "ringprobe/VERSION" */
	const char *const *headers;   /* extra "Name: value" lines, NULL-
	                               * terminated, copied at create. One
	                               * named as ringprobe's own (Host,
	                               * User-Agent, Accept, Connection)
	                               * replaces it, and an empty value
	                               * ("Accept:") sends none; the others
	                               * are added. Sent as given: a
	                               * Content-Length or Connection header
	                               * here is the caller's to get right */
	uint64_t max_body;            /* body bytes read at most; default 1 MiB;
	                               * past it the result is truncated */
	uint32_t max_header;          /* status line + headers; default 64 KiB */
	uint64_t io_timeout_ns;       /* per send/receive; default: the rest of
	                               * the overall timeout */
	uint32_t follow;              /* redirects (301/302/303/307/308 with an
	                               * http or https Location; https needs
	                               * the TLS stage, which HTTP engines
	                               * have) followed at most, within
	                               * the same deadline; 0: report them. See
	                               * "Redirects" below */
	int follow_any_host;          /* 1: follow redirects to any host; 0:
	                               * only to the probe's own host */
};

/*
 * Redirects (rp_http_opts.follow > 0). A redirect is followed, in the same
 * slot and within the same deadline, when its Location is an absolute
 * path ("/x"), an http:// URL or a "//host/x" one, and leads to the host
 * the probe was sent to: the same name if the target was given by name
 * (compared without case or a trailing dot), the same address if it was
 * given by address; port and path may change, and a name is never the
 * same host as an address. follow_any_host lifts that scope. The Location
 * is percent-encoded before it goes on the wire (a space becomes %20).
 *
 * The result is always about the last response received:
 * rp_http_info.url, .redirects and every response field are those of that
 * response, and rp_result.addr is the address that sent it. When the
 * probe stops at a redirect it does not follow, the status is OK (the
 * redirect is the answer) and rp_result.detail says why:
 *   "redirect limit N reached"            N redirects followed already
 *   "redirect to other host not followed: HOST"
 *   "redirect to LOC not followed: REASON"  a Location it cannot follow:
 *                                          another scheme, https (no TLS
 *                                          in this build), a relative
 *                                          reference, one too long
 * When a hop a redirect led to fails (refused, filtered, reset, timed
 * out, a malformed response, a name that does not resolve), the status is
 * OK too, with the response that redirected there, err 0, and
 *   "redirect to URL failed: STATUS" (and " (DETAIL)" when the failure
 *                                     had one)
 * A probe cancelled during a later hop is CANCELLED, with the last
 * response in rp_result.http. A hop to an excluded address
 * (rp_engine_opts.exclude) is never connected to: it fails as
 * "redirect to URL failed: excluded".
 */

/* Name resolution options (zero = default). Resolution runs inside the
 * engine's loop (c-ares, its sockets polled through the ring). */
struct rp_dns_opts {
	const char *servers;          /* "IP[:PORT],[IPv6]:PORT,..."; NULL:
	                               * /etc/resolv.conf */
	uint64_t timeout_ns;          /* per try; default 2 s */
	uint32_t tries;               /* per server; default 2 */
	uint32_t concurrency;         /* lookups in flight; default 64 */
	int family;                   /* AF_UNSPEC (default: first address,
	                               * IPv4 preferred), AF_INET, AF_INET6 */
	uint32_t cache_size;          /* names remembered; default 16384
	                               * (about 5 MB at most) */
	int no_hosts;                 /* 1: skip /etc/hosts */
	int all_addrs;                /* 1: probe every address of a name (up
	                               * to 8, IPv4 first): one result per
	                               * address, all with the target's index;
	                               * else only the first */
	struct rp_dns_cache *shared;  /* names resolved by one engine serve
	                               * the others using the same cache (one
	                               * lookup per name per run across
	                               * threads); must outlive them; NULL:
	                               * this engine's own cache only */
};

struct rp_dns_cache;

/* A name cache that engines on several threads share (see
 * rp_dns_opts.shared): thread-safe, bounded to size names (0: 16384).
 * Returns 0, -EINVAL (size above RP_DNS_CACHE_MAX) or -ENOMEM. */
RP_API int rp_dns_cache_create(struct rp_dns_cache **out, uint32_t size);

/* Frees it; every engine using it must be destroyed first. */
RP_API void rp_dns_cache_destroy(struct rp_dns_cache *c);

/* Upper bounds of option values; rp_engine_create() refuses more with
 * -EINVAL. */
#define RP_TIMEOUT_MAX_NS (86400ull * 1000000000ull) /* any *_timeout_ns: a day */
#define RP_FOLLOW_MAX 64              /* rp_http_opts.follow */
#define RP_DNS_TRIES_MAX 100          /* rp_dns_opts.tries */
#define RP_DNS_CACHE_MAX (1u << 24)   /* rp_dns_opts.cache_size, and the size
                                       * of rp_dns_cache_create() */

struct rp_exclude; /* an exclude list: see "exclude lists" below */

struct rp_engine_opts {
	uint32_t concurrency;         /* probe slots; default 1024 */
	uint32_t rate;                /* new probes per second, 0 = unlimited;
	                               * counts submitted and pulled targets */
	uint64_t connect_timeout_ns;  /* per connect attempt; default 1 s */
	uint64_t timeout_ns;          /* overall per probe; default 5 s (TCP,
	                               * BANNER, TLS), 10 s (HTTP) */
	uint32_t retries;             /* extra attempts for filtered; default 0 */
	uint64_t banner_wait_ns;      /* RP_PROBE_BANNER: how long to wait
	                               * for the banner after connecting;
	                               * default 2 s (within timeout_ns) */
	uint32_t flags;               /* RP_ENGINE_* */
	rp_result_fn on_result;       /* required */
	void *arg;                    /* passed to on_result */
	enum rp_probe_kind kind;      /* RP_PROBE_TCP (default), HTTP,
	                               * BANNER or TLS */
	struct rp_http_opts http;     /* with RP_PROBE_HTTP */
	struct rp_tls_opts tls;       /* with RP_PROBE_TLS and https targets */
	struct rp_dns_opts dns;       /* for targets with a name */
	const struct rp_exclude *exclude; /* addresses never connected to
	                               * (NULL: none): a probe whose address
	                               * is in it ends EXCLUDED before any
	                               * socket is made, whether the address
	                               * came with the target, from a name
	                               * (every address with all_addrs) or
	                               * from a redirect. Shared, read-only:
	                               * it must outlive the engine and not
	                               * change while the engine exists */
	/* Per-host limits, on the address a probe connects to (after name
	 * resolution; the port does not count). A probe that would pass one
	 * waits in its slot (rp_stats.host_waiting) while probes to other
	 * addresses go on; the time it waits is not part of any timeout (its
	 * clocks, elapsed_us included, start when it leaves the wait), and
	 * cancel, stop and destroy end it CANCELLED like any probe. Memory
	 * stays fixed: a table of 2 x concurrency addresses (at least 65,536
	 * with a delay), allocated at create when a limit is set; a probe to
	 * a new address that finds it full waits until an entry's delay
	 * ends. */
	uint32_t max_per_host;        /* probes in flight to one address at
	                               * once; 0 = unlimited */
	uint64_t host_delay_ns;       /* least time between the starts of two
	                               * probes to one address; 0 = none */
	/* TLS probes (tls probes and https targets) connecting or in their
	 * handshake at once; default 1024. A handshake holds ~43 KiB of
	 * OpenSSL's state while it waits for the server. A probe past it
	 * waits in its slot before connecting (rp_stats.tls_waiting), in
	 * the order probes came, and takes the place when a handshake ends;
	 * like a per-host wait, the wait is not part of any timeout (its
	 * clocks, elapsed_us included, skip it), and cancel, stop and
	 * destroy end it CANCELLED like any probe. Throughput is at most
	 * the cap divided by the time a connect and handshake take (a
	 * server that never answers holds a place for the handshake
	 * timeout). UINT32_MAX: no cap. */
	uint32_t max_handshakes;
};

struct rp_engine;

/*
 * Creates an engine on the calling thread: the ring (with the best setup
 * flags the kernel accepts), the slot table, the fixed-file table, and for
 * TLS one OpenSSL context with the trust store read in. Nothing is
 * allocated per probe afterwards, except what OpenSSL allocates for a TLS
 * connection (about 40 KiB while a handshake is under way; freed when the
 * connection goes).
 * Returns: 0 and *out on success; -EINVAL for bad options (a value above
 * its RP_*_MAX bound, a control byte in an HTTP string, where only header
 * values may hold a tab, a bad ALPN list, SNI or TLS version), -ENOENT
 * when rp_tls_opts.cafile cannot be read as PEM certificates, -ENOMEM,
 * -EMFILE when the concurrency exceeds what RLIMIT_NOFILE allows (raise the
 * soft limit first), or the ring setup error (-ENOSYS, -EPERM when io_uring
 * is disabled); -E2BIG when opts comes from a newer header and sets a field
 * this library does not know.
 * rp_engine_create_ex() is the same with the size of *opts as the caller
 * knows it (see "Structs grow" at the top) and an error buffer: on failure,
 * err (if not NULL) receives up to errlen bytes saying which option was bad
 * and why ("timeout_ns: above RP_TIMEOUT_MAX_NS", "http.method: not an HTTP
 * token ...").
 */
RP_API int rp_engine_create(struct rp_engine **out,
			    const struct rp_engine_opts *opts);
RP_API int rp_engine_create_ex(struct rp_engine **out,
			       const struct rp_engine_opts *opts,
			       size_t opts_size, char *err, size_t errlen);
#define rp_engine_create(out, opts)                                            \
	rp_engine_create_ex((out), (opts), sizeof(struct rp_engine_opts), NULL, 0)

/*
 * Cancels whatever is in flight, waits for the kernel to let go of it, and
 * frees the engine. Probes still in flight are reported as CANCELLED first,
 * so the one-result-per-submit rule holds even here. Should the kernel hold
 * on to a probe for more than 5 s, that probe is reported CANCELLED with
 * detail "abandoned" all the same, and the engine is freed.
 * Returns 0 (also for NULL), or -EBUSY from inside a result callback
 * (nothing is done then).
 */
RP_API int rp_engine_destroy(struct rp_engine *e);

/*
 * Starts probing one target now if a slot is free.
 * Returns: 0 when accepted: on_result will then be called exactly once for
 * it (once per address of its name with rp_dns_opts.all_addrs), from a
 * later rp_engine_run(), never from inside this call; -EAGAIN when every
 * slot is busy or the rate limit (rp_engine_opts.rate) allows no new probe
 * yet (run the engine, or wait rp_engine_timeout(), and try again);
 * -ESHUTDOWN after rp_engine_stop(); -EINVAL for a malformed target. When
 * it fails, on_result is never called for it. The probe's clocks (its
 * timeouts, elapsed_us) start at this call.
 */
RP_API int rp_engine_submit(struct rp_engine *e, const struct rp_target *t);
RP_API int rp_engine_submit_ex(struct rp_engine *e, const struct rp_target *t,
			       size_t target_size);
#define rp_engine_submit(e, t)                                                 \
	rp_engine_submit_ex((e), (t), sizeof(struct rp_target))

/* Sets (or with fn NULL clears) the pull source. */
RP_API void rp_engine_set_source(struct rp_engine *e, rp_pull_fn fn,
				 void *arg);

/*
 * Does one bounded turn of the loop: pulls targets into free slots, submits
 * all prepared work with one io_uring_enter, waits up to timeout_ms for a
 * completion (-1: until one arrives, 0: do not wait), dispatches every
 * completion (calling on_result), and returns.
 * Whatever the turn queued (a request after a connect, a retry, a close)
 * has reached the kernel when it returns.
 * Returns: 1 while work remains (probes in flight, or the source not yet
 * exhausted), 0 when everything submitted has its result and the source is
 * exhausted (or the engine was stopped and has drained), -EBUSY from inside
 * a result callback, or another negative errno on a fatal ring failure.
 */
RP_API int rp_engine_run(struct rp_engine *e, int timeout_ms);

/* Runs turns until rp_engine_run() returns 0 or an error; returns that. */
RP_API int rp_engine_run_all(struct rp_engine *e);

/*
 * Cancels the probe submitted with this index (the most recent one not
 * yet cancelled if several share it, so that repeated calls cancel them
 * all).
 * Returns: 0 when the cancel took (or it was cancelled already): that
 * probe's one result will be CANCELLED (and it will come from a later
 * rp_engine_run()), even if its answer had reached the kernel but not yet
 * the engine; -EALREADY
 * when its outcome is already decided and about to be reported as it is
 * (or is being reported: a cancel from its own callback); -ENOENT when no
 * probe with this index is in flight.
 */
RP_API int rp_engine_cancel(struct rp_engine *e, uint64_t index);

/*
 * rp_engine_submit_ex() that also hands out the probe's handle: *id (when
 * id is not NULL) is set when the target is accepted, to a value never 0
 * and never the same for two probes of this engine while either is in
 * flight; rp_result.id carries it. Returns as rp_engine_submit().
 */
RP_API int rp_engine_submit_id(struct rp_engine *e, const struct rp_target *t,
			       size_t target_size, uint64_t *id);

/*
 * Cancels the probe with this handle in O(1) (rp_engine_cancel() looks
 * through every slot). Returns as rp_engine_cancel(): 0, -EALREADY, or
 * -ENOENT when no probe with this handle is in flight (its result was
 * already delivered, or the handle is no handle of this engine's).
 */
RP_API int rp_engine_cancel_id(struct rp_engine *e, uint64_t id);

/*
 * Asks the engine to stop: no new targets are taken, everything in flight
 * is cancelled and reported CANCELLED, and rp_engine_run() then returns 0.
 * A probe whose own timeout was already due when the stop was asked (its
 * answer not yet reaped) reports that timeout instead: FILTERED for a
 * connect, TIMEOUT for a later phase.
 * Safe from any thread and from a signal handler (an atomic flag and an
 * eventfd write). With direct descriptors (rp_stats.direct), the sockets
 * of the probes it cancels are not closed one by one: the kernel closes
 * them all when rp_engine_destroy() releases the ring (so a stop at
 * -c 4096 takes milliseconds). Destroy a stopped engine soon: until then
 * those sockets stay open (a cancelled connect's keeps retransmitting its
 * SYN, an established one holds its connection).
 */
RP_API void rp_engine_stop(struct rp_engine *e);

/*
 * Wakes the engine from a wait, for example when a pull source that
 * returned 0 has targets again. Safe from any thread and signal handler.
 */
RP_API void rp_engine_wake(struct rp_engine *e);

/*
 * For embedders with their own poll/epoll loop: a file descriptor that
 * becomes readable whenever the engine has something to do that is not
 * due to a timer (completions to process, work the kernel has for it, a
 * rp_engine_stop() or rp_engine_wake()). Created on first call (an eventfd
 * registered with the ring); the engine owns and closes it. Returns the fd
 * or -errno.
 *
 * The loop contract (libuv's backend fd and timeout, curl's
 * curl_multi_timeout):
 *
 *     fd = rp_engine_fd(e);
 *     for (;;) {
 *         (submit targets until rp_engine_submit() returns -EAGAIN)
 *         wait until fd is readable (POLLIN), at most rp_engine_timeout(e)
 *             milliseconds (-1: no limit);
 *         if (rp_engine_run(e, 0) <= 0) break;   (readable or timed out)
 *     }
 *
 * The caller need not read the fd: rp_engine_run() drains it (reading it
 * too is harmless). Level- and edge-triggered polling both work. A loop
 * that honours both the fd and rp_engine_timeout() never stalls; one that
 * ignores the timeout stalls when a rate limit, a DNS retry or a deadline
 * is all that is left.
 */
RP_API int rp_engine_fd(struct rp_engine *e);

/*
 * Milliseconds until the engine next needs a turn though its fd may stay
 * quiet (the rate limit lets a probe start, c-ares retries a query, a
 * deadline passes for a probe waiting for its name): 0 means call
 * rp_engine_run() now, -1 means no timer is pending (only the fd matters).
 * Rounded up, so a wait of that long is never early.
 */
RP_API int rp_engine_timeout(struct rp_engine *e);

/* Engine counters, cumulative since create. */
#define RP_HIST_BUCKETS 1024
#define RP_STATUS_SLOTS 32            /* room for statuses yet to come */
struct rp_stats {
	uint64_t by_status[RP_STATUS_SLOTS]; /* results by rp_status */
	uint64_t submitted;           /* targets accepted */
	uint64_t completed;           /* results delivered */
	uint64_t attempts;            /* connect attempts (with retries) */
	uint64_t sqes;                /* SQEs submitted */
	uint64_t enters;              /* io_uring_enter calls */
	uint64_t cqes;                /* CQEs reaped */
	uint64_t stale_cqes;          /* CQEs for an already-finished probe */
	uint64_t syscalls_other;      /* socket/setsockopt calls (fallback) */
	uint32_t inflight;            /* probes in flight now */
	uint32_t max_inflight;        /* most probes in flight at once */
	uint32_t concurrency;         /* slots */
	uint32_t direct;              /* 1 if in-ring sockets are used */
	uint32_t setup_flags;         /* io_uring setup flags in effect */
	/* connect RTTs of OPEN and CLOSED results, in microseconds, in
	 * log-linear buckets: use rp_stats_percentile(). */
	uint64_t rtt_count;
	uint64_t rtt_min_us;
	uint64_t rtt_max_us;
	uint32_t rtt_hist[RP_HIST_BUCKETS];
	uint32_t host_waiting;        /* of inflight: probes waiting now for a
	                               * per-host limit (max_per_host,
	                               * host_delay_ns) */
	uint32_t tls_waiting;         /* of inflight: connected probes waiting
	                               * now for a handshake slot
	                               * (max_handshakes) */
};

/* Copies the engine's counters into *st (st_size: its size, as the
 * caller's header knows it). */
RP_API void rp_engine_stats(const struct rp_engine *e, struct rp_stats *st);
RP_API void rp_engine_stats_ex(const struct rp_engine *e, struct rp_stats *st,
			       size_t st_size);
#define rp_engine_stats(e, st)                                                 \
	rp_engine_stats_ex((e), (st), sizeof(struct rp_stats))

/* Adds src's counters into dst (sums; max for maxima, min for minima);
 * both are st_size bytes long, as the caller's header knows them. */
RP_API void rp_stats_merge(struct rp_stats *dst, const struct rp_stats *src);
RP_API void rp_stats_merge_ex(struct rp_stats *dst, const struct rp_stats *src,
			      size_t st_size);
#define rp_stats_merge(dst, src)                                               \
	rp_stats_merge_ex((dst), (src), sizeof(struct rp_stats))

/* The p-th percentile (0..100) of the RTT histogram, in microseconds
 * (upper bound of its bucket, within about 6%); 0 if empty. */
RP_API uint64_t rp_stats_percentile(const struct rp_stats *st, double p);

/* One in-flight probe as seen by rp_engine_inflight(). */
struct rp_probe_info {
	const char *input;
	uint64_t index;
	const struct sockaddr *addr;
	socklen_t addrlen;
	const char *phase;            /* "connecting", "cancelling", ... */
	uint32_t attempt;             /* 1-based */
	uint64_t age_us;              /* since the probe's first submission */
};

/*
 * Calls fn once for each probe in flight (a debugging snapshot, the answer
 * to "why is my scan stuck": O(concurrency), not for the hot path).
 * Returns the number of probes visited.
 */
RP_API int rp_engine_inflight(const struct rp_engine *e,
			      void (*fn)(const struct rp_probe_info *pi,
					 void *arg),
			      void *arg);

/* ---- targets ---------------------------------------------------------- */

/*
 * Parses a duration: a decimal number with unit ns, us, ms, s, m or h
 * ("500ms", "1.5s", "2m"); a bare number means seconds.
 * Returns 0 and *ns, or -EINVAL (junk, negative, missing number) or
 * -ERANGE (more than a day).
 */
RP_API int rp_parse_duration(const char *s, uint64_t *ns);

/*
 * A target source turns target text into rp_targets, lazily: lines are read
 * incrementally, CIDR blocks and port lists are expanded one target at a
 * time, so memory does not grow with the length of the input.
 *
 * Accepted target text, one per argument or line: IPv4 "192.0.2.1", IPv6
 * "2001:db8::1", "ip:port", "[v6]:port", IPv4 CIDR "192.0.2.0/24", IPv6
 * CIDR with at most 2^20 addresses, and URLs "http[s]://IP[:PORT]/PATH" (one
 * target each, with rp_target.host = the authority as written and .path =
 * path and query; the fragment is dropped). "#" starts a comment, except
 * inside a URL token, where it starts the fragment; blank lines are
 * skipped. An https:// URL gives a target with .tls = 1 (port 443 unless
 * given). A target with a port is probed on that port only;
 * one without is probed on every port of the source's port list. A
 * hostname ("example.test", "example.test:22", or in a URL) gives targets
 * with rp_target.name and .port set, which the engine resolves; text that
 * cannot be parsed gives one INVALID result whose detail names it
 * ("FILE:LINE: reason").
 */
struct rp_source;

/* Which targets that are not URLs speak TLS first (rp_target.tls), for
 * RP_PROBE_HTTP engines (others ignore it). */
enum rp_scheme {
	RP_SCHEME_AUTO = 0,           /* https on ports 443 and 8443 */
	RP_SCHEME_HTTP,               /* none */
	RP_SCHEME_HTTPS,              /* all */
};

struct rp_source_opts {
	const char *ports;            /* port list "22,80,8000-8100"; NULL:
	                               * targets must carry their own port. An
	                               * item may name its scheme, "https:443",
	                               * "http:8080-8090": it wins over scheme */
	int scheme;                   /* enum rp_scheme, for targets without
	                               * a URL (a URL's scheme decides for it) */
	/* Resuming (see "Resuming a run" below): */
	uint64_t skip_first;          /* the targets of sequence numbers 0 to
	                               * skip_first - 1 are not produced */
	int (*skip)(void *arg, const struct rp_target *t);
	                              /* called for each later target, fully
	                               * filled in (seq and index included),
	                               * before it is produced: nonzero means
	                               * it is not; NULL: none is skipped */
	void *skip_arg;               /* passed to skip */
	uint32_t top_ports;           /* also the N most common TCP ports of
	                               * nmap's frequency table (services)
	                               * that exclude_ports does not name,
	                               * added to ports; 0: none */
	const char *services;         /* that table; NULL: RP_NMAP_SERVICES */
	int top_ports_soft;           /* 1: a table that cannot be read is no
	                               * error: the source goes on without
	                               * those ports, and a target left with
	                               * no port is INVALID, its detail naming
	                               * the missing table */
	const char *exclude_ports;    /* port list never probed: removed from
	                               * ports and top_ports, and a target
	                               * that names one ("192.0.2.1:25", a
	                               * URL) is EXCLUDED */
	const struct rp_exclude *exclude; /* addresses never produced for
	                               * probing. A target inside a block
	                               * (CIDR) whose address is in it is
	                               * skipped: not produced, not in
	                               * rp_source_total(), counted by
	                               * rp_source_excluded(). A target of a
	                               * single address (an address line, each
	                               * of its ports, a URL with an address)
	                               * is produced EXCLUDED with that address,
	                               * so it still has its one result. Names
	                               * are resolved by the engine: give the
	                               * engines the same set
	                               * (rp_engine_opts.exclude). Read-only;
	                               * must outlive the source */
	/* Order and shards. All zero: input order, every target. */
	int shuffle;                  /* 1: a pseudo-random order set by seed
	                               * (see rp_source_next()) */
	uint64_t seed;                /* the order's key: same inputs, options
	                               * and seed give the same order */
	uint32_t shuffle_window;      /* lines held to shuffle among; 0:
	                               * RP_SHUFFLE_WINDOW, at most 1 << 24 */
	uint32_t shard;               /* this part, 0 <= shard < shards */
	uint32_t shards;              /* parts; 0 or 1: the whole input */
	int no_resolve;               /* never resolve (nmap -n): a line naming
	                               * a host (a hostname, or a URL with one)
	                               * is one INVALID target whose detail says
	                               * so. Addresses and ranges are never
	                               * resolved either way */
	void (*gone)(void *arg, uint64_t seq);
	                              /* resuming: called with skip_arg for
	                               * each sequence number from skip_first
	                               * on that gives this source no target
	                               * (another shard's, or an address
	                               * excluded inside a block), so that the
	                               * run can count it done; NULL: none */
};

#define RP_SHUFFLE_WINDOW 65536

/* Where Debian's nmap-common puts nmap's port frequency table. */
#define RP_NMAP_SERVICES "/usr/share/nmap/nmap-services"

/*
 * Resuming a run. rp_source_next() gives every target it makes a
 * sequence number, rp_target.seq: 0, 1, 2, ... in the order it makes
 * them, a deterministic order for the same inputs and options. A skipped
 * target keeps its number and its index, and the targets after it keep
 * theirs, so a run that records which numbers got their results can be
 * continued by another process, with skip_first = the first number not
 * yet done and skip saying which later ones were: the targets it then
 * produces are exactly the rest, with the same seq and index as in the
 * first run. The engine echoes seq in rp_result.seq. seq is the target's
 * position in the order targets are drawn (see rp_source_next()): with
 * shards, a source's own positions only; a position whose target is
 * excluded inside a block has no target.
 *
 * skip is called from rp_source_next() with the source's lock held (and
 * so never by two threads at once, in sequence-number order): it must not
 * call the source. Skipped targets are not counted by
 * rp_source_produced() or rp_source_invalid(). Skipping the first
 * skip_first targets still makes them, one by one, in the calls of
 * rp_source_next() that follow (at tens of millions a second for
 * addresses, at the input's reading speed for files).
 */

/* Returns 0 and *out, -EINVAL with the ports spec bad, shard >= shards
 * or shuffle_window too large (message in err),
 * -E2BIG for a newer header's opts setting a field this library does not
 * know, or -ENOMEM. err (may be NULL) receives a message of at most errlen
 * bytes. opts may be NULL (all defaults). */
RP_API int rp_source_create(struct rp_source **out,
			    const struct rp_source_opts *opts, char *err,
			    size_t errlen);
RP_API int rp_source_create_ex(struct rp_source **out,
			       const struct rp_source_opts *opts,
			       size_t opts_size, char *err, size_t errlen);
#define rp_source_create(out, opts, err, errlen)                               \
	rp_source_create_ex((out), (opts), sizeof(struct rp_source_opts),      \
			    (err), (errlen))

/* Frees the source, stopping and joining its reader thread. */
RP_API void rp_source_destroy(struct rp_source *s);

/* Appends one target argument (copied). Returns 0 or -ENOMEM. */
RP_API int rp_source_add_arg(struct rp_source *s, const char *text);

/*
 * Appends a file of targets, one per line; "-" is standard input. Files are
 * read in the order added, after all arguments, by a reader thread that
 * stays a bounded amount ahead of the consumer, so a slow pipe never blocks
 * the engine's loop. Returns 0, or -errno if the file cannot be opened
 * (nothing is added then).
 */
RP_API int rp_source_add_file(struct rp_source *s, const char *path);

/*
 * Sets a function the reader thread calls when targets become available
 * after rp_source_next() returned 0 (typically wrapping rp_engine_wake()).
 * When this returns, no call of the previous function is in progress or
 * will start: after rp_source_set_notify(s, NULL, NULL) whatever it used
 * (an engine) may be freed.
 */
RP_API void rp_source_set_notify(struct rp_source *s, void (*fn)(void *),
				 void *arg);

/*
 * Produces the next target. Returns 1 with *t filled (its strings valid
 * until the next call; seq is its sequence number, see "Resuming a run"),
 * 0 when none is available yet (the notify function will be called), -1
 * at the end of all input. Thread-safe: several engines
 * may pull from one source. Usable directly as an rp_pull_fn:
 * rp_engine_set_source(e, rp_source_next, s) gives the engine whole
 * targets (seq included), whatever the plain function's version.
 * rp_source_next_ex() takes the size of *t as the caller's header knows
 * it (see "Structs grow" at the top) and fills what both know; -1 if
 * t_size is below the first version's.
 *
 *
 * t->index is the target's position in the input after expansion
 * (arguments first, then files; a line's targets address-major, ports
 * ascending), whatever the order it is produced in. Without shuffle,
 * targets come in index order. With shuffle, the source keeps a window of
 * up to shuffle_window lines, taken in input order, and each target comes
 * from a line of the window picked at random; a line's own targets (a
 * CIDR x ports) come in the order of a keyed permutation of them, so a
 * block is spread over its whole length in O(1) memory. The order depends
 * only on the input, the options and the seed, never on timing or on how
 * many engines pull: to keep it so, a shuffling source waits (returns 0)
 * until its window is full or the input is over, so a slow pipe is not
 * probed before shuffle_window lines (or its end) have arrived.
 *
 * With shards = N > 1, the targets at positions I, I + N, I + 2N, ... of
 * that order (counting every target, bad lines included) are produced and
 * the others skipped: N sources with the same inputs, options and seed
 * and shard = 0 .. N-1 produce disjoint parts, whose union is the whole,
 * each within one target of 1/N of it. rp_source_produced(),
 * rp_source_total() and rp_source_invalid() count this shard's targets.
 */
RP_API int rp_source_next(void *source, struct rp_target *t);
RP_API int rp_source_next_ex(void *source, struct rp_target *t,
			     size_t t_size);
#define rp_source_next(source, t)                                              \
	rp_source_next_ex((source), (t), sizeof(struct rp_target))

/* Targets produced so far. */
RP_API uint64_t rp_source_produced(const struct rp_source *s);

/* The total number of targets once it is known (all input read and sized),
 * else -1. */
RP_API int64_t rp_source_total(const struct rp_source *s);

/* Counts of bad lines (INVALID targets) produced so far. */
RP_API uint64_t rp_source_invalid(const struct rp_source *s);

/* Targets inside blocks skipped so far because their address (or port) is
 * excluded (rp_source_opts.exclude, exclude_ports). */
RP_API uint64_t rp_source_excluded(const struct rp_source *s);

/* If reading a file failed (I/O error, or a directory: -EISDIR), the
 * negative errno of the first failure; else 0. A file whose read fails
 * gives the lines read from it before the failure (a partial last line
 * is dropped), and the files after it are still read. */
RP_API int rp_source_error(const struct rp_source *s);

/* The name of the file of that first failure ("<stdin>" for standard
 * input), valid until rp_source_destroy(); NULL if none failed. */
RP_API const char *rp_source_error_file(const struct rp_source *s);

/* ---- exclude lists ------------------------------------------------------ */

/*
 * A set of IPv4 and IPv6 addresses never to probe (a blocklist), for
 * rp_engine_opts.exclude and rp_source_opts.exclude. Kept as sorted,
 * merged ranges: a lookup is a binary search, and a million blocks take
 * about 8 MB (IPv4) and load in well under a second.
 *
 * Text, for lists and files alike: items separated by commas or blanks,
 * "#" starts a comment to the end of the line, blank lines are skipped.
 * An item is an address ("192.0.2.1", "2001:db8::1"), a CIDR block
 * ("192.0.2.0/24", "2001:db8::/32", "0.0.0.0/0", "::/0"; host bits are
 * ignored) or a range of one family ("192.0.2.10-192.0.2.20"). IPv4
 * addresses spelled as IPv4-mapped IPv6 ("::ffff:192.0.2.0/120") are
 * excluded in both spellings; an IPv6 item that merely covers the mapped
 * space ("::/0") excludes the mapped spelling, not the IPv4 addresses.
 *
 * Building is not thread-safe; once built and handed to engines and
 * sources the set is only read (from any number of threads) and must not
 * change.
 */
struct rp_exclude;

/* Returns 0 and an empty set in *out, or -ENOMEM. */
RP_API int rp_exclude_create(struct rp_exclude **out);

/* Frees it (NULL is fine); nothing may use it any more. */
RP_API void rp_exclude_destroy(struct rp_exclude *x);

/*
 * Adds the items of a list ("192.0.2.0/24,2001:db8::1"). Each call sorts
 * and merges the whole set: add many items in one list or file, not one
 * call each. Returns 0; -EINVAL for a bad item or an empty list, with err
 * "'ITEM': reason"; -ENOMEM. A call that fails adds nothing. err (may be
 * NULL) receives at most errlen bytes, NUL-terminated.
 */
RP_API int rp_exclude_add(struct rp_exclude *x, const char *list, char *err,
			  size_t errlen);

/*
 * Adds the items of a file ("-" is standard input), any number per line.
 * Returns 0; -EINVAL with err "FILE:LINE: 'ITEM': reason" (or a line over
 * 1024 bytes); -errno when it cannot be read, with err "FILE: reason";
 * -ENOMEM. A call that fails adds nothing.
 */
RP_API int rp_exclude_add_file(struct rp_exclude *x, const char *path,
			       char *err, size_t errlen);

/* 1 if the address of sa (AF_INET or AF_INET6; the port is ignored) is in
 * the set, else 0 (also for NULL x or sa, or another family). */
RP_API int rp_exclude_has(const struct rp_exclude *x,
			  const struct sockaddr *sa);

/* The number of disjoint ranges the set holds, both families. */
RP_API size_t rp_exclude_ranges(const struct rp_exclude *x);

#ifdef __cplusplus
}
#endif

#endif /* RINGPROBE_H */
