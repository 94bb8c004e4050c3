/*
 * target.h - parsing of target text and port lists, and the lazy expansion
 * of a parsed target over a port set (internal to libringprobe).
 *
 * Everything here is pure: no I/O, no threads, no allocation. The target
 * source (source.c) feeds it lines; the fuzz harness feeds it anything.
 * One file per section below: ports.c, target.c (target lines), expand.c
 * (rp__spec_count() and rp__iter) and escape.c (rp__spec_path() and the
 * helpers).
 */
#ifndef RP_TARGET_H
#define RP_TARGET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest target line or argument, in bytes, not counting "\n" or "\r\n". */
#define RP__LINE_MAX 1024

/* ---- port sets --------------------------------------------------------- */

/*
 * A set of TCP ports 1..65535 as a bitmap, with a one-bit-per-word summary
 * so that walking a sparse set ("22,65535") costs a few word tests per step.
 * Plain data: zero-initialised (or rp__ports_clear()) means empty.
 */
struct rp__ports {
	uint64_t bits[65536 / 64];	/* bit p set: port p is in the set */
	uint64_t words[65536 / 64 / 64]; /* bit w set: bits[w] != 0 */
	uint64_t https[65536 / 64];	/* port p listed as "https:P" */
	uint64_t http[65536 / 64];	/* port p listed as "http:P" */
	uint32_t count;			/* ports in the set */
};

void rp__ports_clear(struct rp__ports *p);

/* Adds ports lo..hi (1 <= lo <= hi <= 65535; others are ignored). */
void rp__ports_add(struct rp__ports *p, int lo, int hi);

bool rp__ports_has(const struct rp__ports *p, int port);

/*
 * Parses a port list: items separated by ",", each a port "80" or an
 * inclusive range "8000-8100", blanks allowed around items and around "-",
 * and each may carry a scheme, "https:443" or "http:8080-8090" (kept in
 * https/http: what rp__ports_tls() reads). Overlapping items are fine (the
 * set counts each port once; a port listed with both schemes is https).
 * Returns: 0 with *p holding exactly the listed ports, or -EINVAL with *p
 * empty and a message naming the offending item in err (may be NULL; at
 * most errlen bytes, NUL-terminated).
 */
int rp__ports_parse(struct rp__ports *p, const char *spec, char *err,
		    size_t errlen);

/* Removes every port of q from p (schemes are kept: they only matter for
 * ports in the set). */
void rp__ports_remove(struct rp__ports *p, const struct rp__ports *q);

/*
 * Adds to p the n most common TCP ports of nmap's frequency table at path
 * (the "name port/tcp frequency" lines of nmap-services) that are not in
 * skip (may be NULL), as nmap's --top-ports with --exclude-ports: by
 * frequency, highest first, ties by port number; all of them if the
 * table has fewer.
 * Returns 0, or -errno with a message naming the file in err: the open
 * error (-ENOENT: not installed), or -EINVAL if it has no TCP entry.
 */
int rp__ports_top(struct rp__ports *p, const char *path, uint32_t n,
		  const struct rp__ports *skip, char *err, size_t errlen);

/* Does a target on port speak TLS (HTTP probes)? Its scheme in the list
 * if it has one, else scheme (an RP_SCHEME_*: AUTO means https on 443 and
 * 8443 only). */
bool rp__ports_tls(const struct rp__ports *p, int port, int scheme);

/* The smallest port in the set greater than `after` (pass 0 for the first
 * one), or -1 if there is none. */
int rp__ports_next(const struct rp__ports *p, int after);

/* ---- target lines ------------------------------------------------------ */

enum rp__spec_kind {
	RP__SPEC_EMPTY = 0,	/* blank or only a comment */
	RP__SPEC_ADDR,		/* one IPv4 or IPv6 address */
	RP__SPEC_CIDR4,		/* an IPv4 block */
	RP__SPEC_CIDR6,		/* an IPv6 block, at most 2^20 addresses */
	RP__SPEC_HOSTNAME,	/* a DNS name, resolved by the engine */
	RP__SPEC_URL,		/* an http:// or https:// URL: one address
				 * (or a DNS name) and one port */
	RP__SPEC_RANGE,		/* first-last addresses, IPv4 or IPv6 (at
				 * most 2^20 addresses for IPv6) */
	RP__SPEC_OCTETS,	/* an IPv4 octet range "10.0.0-3.1-10" */
};

/* The scheme of a URL line. */
enum rp__scheme {
	RP__SCHEME_NONE = 0,	/* not a URL */
	RP__SCHEME_HTTP,	/* http:// */
	RP__SCHEME_HTTPS,	/* https:// (parsed; this build has no TLS) */
};

/* Smallest IPv6 prefix accepted: /108 leaves 2^20 addresses. */
#define RP__CIDR6_MIN_PREFIX 108

/* One parsed target line. */
struct rp__spec {
	enum rp__spec_kind kind;
	int family;		/* AF_INET or AF_INET6 for ADDR and CIDR*,
				 * else 0 */
	uint16_t port;		/* the line's own port, 0 if none given */
	uint8_t prefix;		/* prefix length; 32 or 128 for ADDR */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;			/* the address; for CIDR the network
				 * (host bits cleared) */
	uint64_t naddrs;	/* addresses covered: 1 for ADDR, 2^(bits -
				 * prefix) for CIDR, 0 otherwise */
	size_t off;		/* the target text (comment stripped, blanks
				 * trimmed) is input[off, off + len) */
	size_t len;
	size_t host_len;	/* HOSTNAME: the name is input[off, off +
				 * host_len), without ":port"; URL with a
				 * name: input[auth_off, auth_off +
				 * host_len). As written: case kept, and a
				 * trailing "." too (so up to 254 bytes) */
	enum rp__scheme scheme;	/* URL: HTTP or HTTPS, else NONE */
	size_t auth_off;	/* URL: the authority as written ("host",
				 * "host:port", "[v6]:port"), the Host
				 * header value, is input[auth_off,
				 * auth_off + auth_len) */
	size_t auth_len;
	size_t path_off;	/* URL: path and query, without the
				 * fragment, is input[path_off, path_off +
				 * path_len); it may be empty or start with
				 * "?": see rp__spec_path() */
	size_t path_len;
	uint8_t oct_lo[4];	/* OCTETS: each octet runs oct_lo..oct_hi */
	uint8_t oct_hi[4];
};

/*
 * Parses one line of target text, `len` bytes (NUL bytes in it are seen
 * and rejected). Blanks (space, tab, CR, LF, VT, FF) around the target are
 * ignored. A "#" starts a comment, except inside a URL: a URL runs from
 * its scheme to the first blank, and a "#" in it starts its fragment; so
 * "http://h/p#top # note" is the URL "http://h/p#top" and a comment, and
 * a line whose first non-blank byte is "#" is always a comment.
 * Accepted forms:
 *
 *   1.2.3.4  1.2.3.4:80          ADDR (IPv4: exactly four decimal parts,
 *                                0-255, no leading zeros: "010" could mean
 *                                octal to inet_aton, so it is rejected)
 *   ::1  [::1]  [::1]:80         ADDR (a bare IPv6 address never carries a
 *                                port: "::1:80" is the address ::1:80)
 *   10.0.0.0/8  10.0.0.0/8:80    CIDR4, host bits may be set (normalised)
 *   2001:db8::/120  [2001:db8::/120]:80
 *                                CIDR6, prefix /108../128
 *   10.0.0.1-254  10.0.0-3.1-10  10.0.*.1  10.0.0.1-9:80
 *                                OCTETS: each octet "N", "N-M" (N <= M)
 *                                or "*" (0-255), as in nmap
 *   10.0.0.250-10.0.1.5  [::1-::5]:80  2001:db8::1-2001:db8::ff
 *                                RANGE: first-last, inclusive, first <=
 *                                last; IPv6 at most 2^20 addresses. Text
 *                                of only digits, dots, "-" and "*" is
 *                                never a hostname: if it is no address
 *                                or range, the line is invalid
 *   example.com  example.com:80  HOSTNAME: letters, digits, "-" and "_",
 *                                labels 1-63 bytes not starting or ending
 *                                with "-", at most 253 bytes, one optional
 *                                trailing "."
 *
 *   http://HOST[:PORT][PATH][#FRAGMENT]
 *                                URL: scheme case-insensitive; HOST an
 *                                IPv4 address, "[IPv6]" or a hostname as
 *                                above; PORT default 80 (443 for https),
 *                                an empty one is an error; PATH starts
 *                                with "/" or "?" (the path and query, sent
 *                                as the request target; default "/"); the
 *                                fragment is dropped. No userinfo
 *                                ("user@"); every byte printable ASCII (no
 *                                blanks, controls or bytes >= 0x80:
 *                                percent-encode them). "https://" parses
 *                                the same way (scheme HTTPS); any other
 *                                scheme is rejected.
 *
 * Ports are 1-65535, at most 5 digits. IPv6 zone ids ("fe80::1%eth0") are
 * rejected.
 * Returns: 0 with *out filled (kind EMPTY for a blank line), or -EINVAL
 * with a reason in err (without the text itself). out->off and out->len
 * are set even on error, so callers can quote the text.
 */
int rp__target_parse(const char *text, size_t len, struct rp__spec *out,
		     char *err, size_t errlen);

/*
 * The number of targets a parsed ADDR, CIDR or HOSTNAME line expands to
 * with this port set: naddrs (1 for a hostname) if the line has its own
 * port, else that times the ports in the set. A URL is always 1 (it has
 * its own port and ignores the set), whether it names an address or a
 * host. 0 for EMPTY, or when no port is available.
 */
uint64_t rp__spec_count(const struct rp__spec *spec,
			const struct rp__ports *ports);

/*
 * Address ranges (range.c): s[0, n) is text of digits, dots, "-" and "*"
 * (range4) or an IPv6 text with a "-" (range6). Fills out->kind (ADDR,
 * OCTETS or RANGE), family, addr, naddrs, oct_lo/oct_hi. Returns 0, or
 * -EINVAL with a reason naming the part at fault.
 */
int rp__range4_parse(const char *s, size_t n, struct rp__spec *out,
		     char *err, size_t errlen);
int rp__range6_parse(const char *s, size_t n, struct rp__spec *out,
		     char *err, size_t errlen);

/*
 * The address at ordinal idx (0 <= idx < naddrs) of a spec with an
 * address (ADDR, CIDR*, RANGE, OCTETS: ascending order), with `port`:
 * *ss zeroed and filled, *len its size. O(1): the address space of a
 * spec is indexable by position, whatever its shape.
 */
void rp__spec_addr(const struct rp__spec *spec, uint64_t idx, int port,
		   struct sockaddr_storage *ss, socklen_t *len);

/*
 * The HTTP request target of a URL spec parsed from `input`, written to
 * dst (NUL-terminated, at most dstsize bytes, cut if it does not fit, but
 * never inside a "%XX"): the path and query as written, "/" if empty,
 * with "/" put in front of a bare "?query", and percent-encoded as by
 * rp__pct_encode(). "" for other kinds. Returns dst.
 */
char *rp__spec_path(const struct rp__spec *spec, const char *input,
		    char *dst, size_t dstsize);

/*
 * Expansion of one ADDR, CIDR or HOSTNAME spec over a port set, one target
 * at a time (a URL yields its one target on its own port), address-major
 * (for each address in ascending order, each port in ascending order). A
 * hostname, or a URL naming one, has no address yet: it yields one
 * target per port with *len = 0, and the port is it->port. O(1) memory;
 * spec and ports must outlive the iterator.
 */
struct rp__iter {
	const struct rp__spec *spec;
	const struct rp__ports *ports;
	uint64_t addr;		/* ordinal of the current address */
	int port;		/* the port of the target last yielded (for
				 * every kind), 0 = none yet */
};

/* Returns 0, or -EINVAL with a message when the spec is EMPTY, or when it
 * has no port and the port set is empty ("no port: give ip:port or -p").
 * The scheme is not looked at: callers report https first. */
int rp__iter_init(struct rp__iter *it, const struct rp__spec *spec,
		  const struct rp__ports *ports, char *err, size_t errlen);

/* Returns 1 with *ss and *len filled (*ss zeroed and *len 0 for a name;
 * it->port holds the target's port either way), or 0 when the expansion
 * is over. */
int rp__iter_next(struct rp__iter *it, struct sockaddr_storage *ss,
		  socklen_t *len);

/* ---- helpers ----------------------------------------------------------- */

/*
 * Writes src[0, len) to dst as text fit for a request-target, which is
 * printable ASCII without a blank: every other byte (controls, space,
 * 0x7f, bytes >= 0x80) becomes "%XX", uppercase hex. The rest, "%"
 * included, is kept as it is, so an existing "%XX" stays and encoding
 * twice changes nothing. Returns the length written (dst NUL-terminated),
 * or -ENAMETOOLONG if that needs more than dstsize bytes (dst then holds
 * a prefix that ends between two encoded bytes).
 */
int rp__pct_encode(char *dst, size_t dstsize, const char *src, size_t len);

/*
 * Writes src[0, len) to dst as printable ASCII: bytes outside 0x20..0x7e
 * and "\\" and "'" become "\xHH"; if it does not fit in dstsize bytes, the
 * text is cut at a character boundary and ends with "...". dst is always
 * NUL-terminated (dstsize >= 4). Returns dst.
 */
char *rp__escape(char *dst, size_t dstsize, const char *src, size_t len);

#endif /* RP_TARGET_H */
