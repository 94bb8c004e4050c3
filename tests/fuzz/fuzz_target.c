/*
 * fuzz_target.c - the target-line grammar (target.c): rp__target_parse()
 * with the expansion of what it accepts, the port-list parser,
 * rp_parse_duration() and the two encoders, rp__pct_encode() and
 * rp__escape(), and the target source (source.c) fed the lines as
 * arguments.
 *
 * Input: the first line (up to the first '\n') is a target line, the rest
 * a port list; the whole input is also parsed as one line, and as a
 * duration. Expansion is bounded (EXPAND_MAX targets per input): a /0 over
 * every port is 2^48 of them. What is asserted is the contract in
 * target.h, not merely "no crash".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "ringprobe.h"
#include "target.h"

#define EXPAND_MAX 2048
#define TEXT_MAX (2 * RP__LINE_MAX)

static bool printable_no_blank(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* A NUL-terminated copy of d[0, n), cut at TEXT_MAX. */
static char *cstr(const uint8_t *d, size_t n)
{
	char *s;

	if (n > TEXT_MAX)
		n = TEXT_MAX;
	s = malloc(n + 1);
	CHECK(s);
	memcpy(s, d, n);
	s[n] = '\0';
	return s;
}

static void check_ports(const char *spec, struct rp__ports *ports)
{
	char err[64];
	uint32_t seen = 0;
	int r, prev = 0, port;

	memset(err, 'x', sizeof(err));
	r = rp__ports_parse(ports, spec, err, sizeof(err));
	CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		CHECK(memchr(err, '\0', sizeof(err)) && err[0]);
		CHECK(ports->count == 0);
		CHECK(rp__ports_next(ports, 0) == -1);
		return;
	}
	/* The walk sees each port once, in order, and no other. */
	while ((port = rp__ports_next(ports, prev)) > 0) {
		CHECK(port > prev && port <= 65535);
		CHECK(rp__ports_has(ports, port));
		seen++;
		prev = port;
	}
	CHECK(port == -1);
	CHECK(seen == ports->count);
	CHECK(!rp__ports_has(ports, 0));
}

static void check_duration(const char *s)
{
	uint64_t ns = 12345;
	int r = rp_parse_duration(s, &ns);

	CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r == 0)
		CHECK(ns <= 86400ULL * 1000000000ULL);
}

/* Expands *sp over ports, at most EXPAND_MAX targets, checking order,
 * ports and addresses against the spec. */
static void check_expand(const struct rp__spec *sp,
			 const struct rp__ports *ports)
{
	struct rp__iter it;
	struct sockaddr_storage ss;
	socklen_t len;
	uint64_t count = rp__spec_count(sp, ports), n = 0;
	char err[64];
	int r = rp__iter_init(&it, sp, ports, err, sizeof(err));
	unsigned char prev_addr[16] = { 0 };
	int prev_port = 0;

	if (r < 0) {
		CHECK(r == -EINVAL);
		CHECK(count == 0 || sp->kind == RP__SPEC_URL);
		return;
	}
	CHECK(count > 0);
	while (n < EXPAND_MAX && rp__iter_next(&it, &ss, &len)) {
		unsigned char addr[16] = { 0 };
		int port = it.port;

		CHECK(port >= 1 && port <= 65535);
		CHECK(sp->port ? port == sp->port : rp__ports_has(ports, port));
		if (!sp->family) {
			CHECK(len == 0);
		} else if (sp->family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)&ss;
			uint32_t a = ntohl(sin->sin_addr.s_addr);
			uint32_t net = ntohl(sp->addr.v4.s_addr);
			uint32_t mask = sp->prefix ? ~0u << (32 - sp->prefix) : 0;

			CHECK(len == sizeof(*sin) && sin->sin_family == AF_INET);
			CHECK(ntohs(sin->sin_port) == port);
			if (sp->kind == RP__SPEC_OCTETS) {
				for (int i = 0; i < 4; i++) {
					unsigned o = a >> (24 - 8 * i) & 0xff;

					CHECK(o >= sp->oct_lo[i] &&
					      o <= sp->oct_hi[i]);
				}
			} else if (sp->kind == RP__SPEC_RANGE) {
				CHECK(a >= net && a - net < sp->naddrs);
			} else {
				CHECK((a & mask) == net);
			}
			memcpy(addr, &sin->sin_addr, 4);
		} else {
			const struct sockaddr_in6 *sin6 = (const void *)&ss;

			CHECK(len == sizeof(*sin6) &&
			      sin6->sin6_family == AF_INET6);
			CHECK(ntohs(sin6->sin6_port) == port);
			if (sp->kind != RP__SPEC_RANGE) {
				CHECK(sp->prefix >= RP__CIDR6_MIN_PREFIX);
				/* the first 12 bytes are the network's */
				CHECK(!memcmp(&sin6->sin6_addr, &sp->addr.v6,
					      12));
			}
			memcpy(addr, &sin6->sin6_addr, 16);
		}
		/* address-major, ascending: (address, port) only grows */
		if (n > 0) {
			int c = memcmp(addr, prev_addr, 16);

			CHECK(c > 0 || (c == 0 && port > prev_port));
		}
		memcpy(prev_addr, addr, 16);
		prev_port = port;
		n++;
	}
	CHECK(n <= count);
	if (count <= EXPAND_MAX)
		CHECK(n == count);
}

static void check_line(const char *text, size_t len,
		       const struct rp__ports *ports)
{
	struct rp__spec sp;
	char err[80], path[64], big[3 * RP__LINE_MAX + 8];
	int r;

	memset(err, 'x', sizeof(err));
	r = rp__target_parse(text, len, &sp, err, sizeof(err));
	CHECK(r == 0 || r == -EINVAL);
	CHECK(memchr(err, '\0', sizeof(err)));
	CHECK(sp.off <= len && sp.len <= len - sp.off);
	if (r < 0) {
		CHECK(err[0] != '\0');
		CHECK(sp.kind == RP__SPEC_EMPTY);
		return;
	}
	switch (sp.kind) {
	case RP__SPEC_EMPTY:
		CHECK(sp.len == 0);
		break;
	case RP__SPEC_ADDR:
		CHECK(sp.naddrs == 1);
		CHECK(sp.prefix == (sp.family == AF_INET ? 32 : 128));
		break;
	case RP__SPEC_CIDR4:
		CHECK(sp.family == AF_INET && sp.prefix <= 32);
		CHECK(sp.naddrs == 1ull << (32 - sp.prefix));
		break;
	case RP__SPEC_CIDR6:
		CHECK(sp.family == AF_INET6);
		CHECK(sp.prefix >= RP__CIDR6_MIN_PREFIX && sp.prefix <= 128);
		CHECK(sp.naddrs == 1ull << (128 - sp.prefix));
		break;
	case RP__SPEC_RANGE:
		CHECK(sp.family == AF_INET || sp.family == AF_INET6);
		CHECK(sp.naddrs >= 1);
		CHECK(sp.family == AF_INET || sp.naddrs <= 1ull << 20);
		break;
	case RP__SPEC_OCTETS: {
		uint64_t n = 1;

		CHECK(sp.family == AF_INET);
		for (int i = 0; i < 4; i++) {
			CHECK(sp.oct_lo[i] <= sp.oct_hi[i]);
			n *= (uint64_t)(sp.oct_hi[i] - sp.oct_lo[i]) + 1;
		}
		CHECK(sp.naddrs == n);
		break;
	}
	case RP__SPEC_HOSTNAME:
		CHECK(sp.family == 0 && sp.naddrs == 0);
		CHECK(sp.host_len >= 1 && sp.host_len <= 254);
		CHECK(sp.host_len <= sp.len);
		break;
	case RP__SPEC_URL:
		CHECK(sp.scheme == RP__SCHEME_HTTP ||
		      sp.scheme == RP__SCHEME_HTTPS);
		CHECK(sp.port >= 1);
		CHECK(sp.auth_off >= sp.off && sp.auth_len >= 1);
		CHECK(sp.auth_off + sp.auth_len <= sp.off + sp.len);
		CHECK(sp.path_off + sp.path_len <= sp.off + sp.len);
		CHECK(sp.family ? sp.naddrs == 1 : sp.naddrs == 0);
		if (!sp.family)
			CHECK(sp.host_len >= 1 && sp.host_len <= sp.auth_len);
		/* The request target is printable, starts with "/", and a
		 * short buffer holds a prefix of it. */
		rp__spec_path(&sp, text, big, sizeof(big));
		CHECK(big[0] == '/' && printable_no_blank(big));
		for (size_t cap = 1; cap <= sizeof(path); cap += 7) {
			size_t n;

			rp__spec_path(&sp, text, path, cap);
			n = strlen(path);
			CHECK(n < cap && printable_no_blank(path));
			CHECK(!strncmp(path, big, n));
		}
		break;
	default:
		CHECK(0);
	}
	if (sp.kind != RP__SPEC_EMPTY)
		CHECK(sp.len > 0);
	check_expand(&sp, ports);
}

/* Text that goes on the wire: no control byte or space (rp_target). */
static bool wire_safe(const char *s)
{
	return s == NULL || printable_no_blank(s);
}

/*
 * The target source over the lines of d as arguments, with spec as its
 * port list: one result per target, every string within bounds, and the
 * rp_target rules (name XOR address, port only with name, host, path and
 * name safe for the wire, a detail with every status).
 */
static void check_source(const char *spec, const uint8_t *d, size_t n)
{
	struct rp_source_opts o = { .ports = spec[0] ? spec : NULL };
	struct rp_source *src;
	struct rp_target t;
	char err[128];
	uint64_t got = 0;
	int64_t total;
	int r, lines = 0;

	r = rp_source_create(&src, &o, err, sizeof(err));
	if (r < 0) {
		CHECK(r == -EINVAL && err[0]);
		return;
	}
	while (n > 0 && lines < 8) {
		const uint8_t *nl = memchr(d, '\n', n);
		size_t len = nl ? (size_t)(nl - d) : n;
		char *line = cstr(d, len);

		CHECK(rp_source_add_arg(src, line) == 0);
		free(line);
		lines++;
		len += nl != NULL;
		d += len;
		n -= len;
	}
	total = rp_source_total(src);
	while (got < EXPAND_MAX && (r = rp_source_next(src, &t)) == 1) {
		CHECK(t.index == got);
		CHECK(t.input && strlen(t.input) <= RP__LINE_MAX + 7);
		CHECK(wire_safe(t.host) && wire_safe(t.path) &&
		      wire_safe(t.name));
		if (t.status == RP_STATUS_NONE) {
			CHECK(!t.detail);
			if (t.name) {
				CHECK(t.addrlen == 0 && t.port >= 1);
				CHECK(strlen(t.name) >= 1 &&
				      strlen(t.name) <= 253);
			} else {
				CHECK(t.addrlen > 0 && t.port == 0);
			}
			if (t.path)
				CHECK(t.host && t.path[0] == '/');
		} else {
			CHECK(t.status == RP_STATUS_INVALID ||
			      t.status == RP_STATUS_ERROR);
			CHECK(t.err < 0 && t.detail && !t.name && !t.port);
			CHECK(t.addrlen == 0);
		}
		got++;
	}
	if (got < EXPAND_MAX) {
		CHECK(r == -1);
		CHECK(total < 0 || (uint64_t)total == got);
	}
	CHECK(rp_source_produced(src) == got);
	rp_source_destroy(src);
}

/* Percent-encoding gives a request-target and is idempotent; escaping
 * gives printable ASCII within its bound. */
static void check_encoders(const uint8_t *d, size_t n)
{
	char enc[256], enc2[256], esc[64];
	int r, r2;

	r = rp__pct_encode(enc, sizeof(enc), (const char *)d, n);
	CHECK(r == -ENAMETOOLONG || (r >= 0 && (size_t)r == strlen(enc)));
	CHECK(strlen(enc) < sizeof(enc));
	CHECK(printable_no_blank(enc));
	if (r >= 0) {
		r2 = rp__pct_encode(enc2, sizeof(enc2), enc, (size_t)r);
		CHECK(r2 == r && !strcmp(enc, enc2));
	}
	for (size_t cap = 0; cap <= sizeof(esc); cap += 5) {
		rp__escape(esc, cap, (const char *)d, n);
		if (cap) {
			CHECK(strlen(esc) < cap);
			for (const char *s = esc; *s; s++)
				CHECK(*s >= 0x20 && *s < 0x7f);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rp__ports ports;
	static const struct rp__ports none;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t line_len = nl ? (size_t)(nl - data) : size;
	char *line = cstr(data, line_len), *spec, *whole;

	spec = nl ? cstr(nl + 1, size - line_len - 1) : cstr(data, 0);
	whole = cstr(data, size);

	check_ports(spec, &ports);
	check_duration(whole);
	check_duration(line);
	check_line(line, line_len > TEXT_MAX ? TEXT_MAX : line_len, &ports);
	check_line((const char *)data, size, &none);
	check_encoders(data, size);
	check_source(spec, data, size);

	free(line);
	free(spec);
	free(whole);
	return 0;
}
