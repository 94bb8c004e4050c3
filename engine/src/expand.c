/*
 * expand.c - the lazy expansion of a parsed target over a port set.
 *
 * A spec from target.c and a set from ports.c make a sequence of
 * sockaddrs, address-major ("10.0.0.0/30" with "22,80" gives .0:22, .0:80,
 * .1:22, ...), produced one at a time by struct rp__iter in O(1) memory:
 * a /8 costs no more than one address. Every spec with addresses (an
 * address, a CIDR block, a range) is an address space of naddrs
 * addresses indexed by ordinal, and rp__spec_addr() maps an ordinal to
 * its address; a hostname has no address yet and yields only its ports.
 * rp__spec_count() says up front how many targets that makes, and
 * rp__spec_at() makes the k-th of them directly, for the source's
 * shuffled order (order.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "lex.h"
#include "order.h"
#include "target.h"

/* Expandable: an address or block, a hostname (one target per port,
 * resolved later by the engine), or a URL (its port is always set, so it
 * yields exactly one target). */
static bool expandable(const struct rp__spec *spec)
{
	return spec->kind == RP__SPEC_ADDR || spec->kind == RP__SPEC_CIDR4 ||
	       spec->kind == RP__SPEC_CIDR6 || spec->kind == RP__SPEC_RANGE ||
	       spec->kind == RP__SPEC_OCTETS ||
	       spec->kind == RP__SPEC_HOSTNAME ||
	       (spec->kind == RP__SPEC_URL && spec->port);
}

/* Targets per port: the addresses, or 1 for a name. */
static uint64_t spec_naddrs(const struct rp__spec *spec)
{
	return spec->family ? spec->naddrs : 1;
}

uint64_t rp__spec_count(const struct rp__spec *spec,
			const struct rp__ports *ports)
{
	if (spec->kind == RP__SPEC_URL)
		return 1;
	if (!expandable(spec))
		return 0;
	if (spec->port)
		return spec_naddrs(spec);
	return ports ? spec_naddrs(spec) * ports->count : 0;
}

int rp__iter_init(struct rp__iter *it, const struct rp__spec *spec,
		  const struct rp__ports *ports, char *err, size_t errlen)
{
	memset(it, 0, sizeof(*it));
	if (!expandable(spec)) {
		set_err(err, errlen, "not an address, block, hostname or URL");
		return -EINVAL;
	}
	if (!spec->port && (!ports || !ports->count)) {
		set_err(err, errlen, "no port: give ip:port or -p");
		return -EINVAL;
	}
	it->spec = spec;
	it->ports = ports;
	return 0;
}

int rp__iter_next(struct rp__iter *it, struct sockaddr_storage *ss,
		  socklen_t *len)
{
	const struct rp__spec *spec = it->spec;
	uint64_t idx;
	int port;

	if (!spec)
		return 0;
	if (spec->port) {
		if (it->addr >= spec_naddrs(spec))
			return 0;
		port = spec->port;
		idx = it->addr++;
	} else {
		port = rp__ports_next(it->ports, it->port);
		if (port < 0) {
			if (it->addr < spec_naddrs(spec))
				it->addr++;
			port = rp__ports_next(it->ports, 0);
		}
		if (it->addr >= spec_naddrs(spec))
			return 0;
		idx = it->addr;
	}
	it->port = port;

	if (!spec->family) {
		/* a name: no address yet, only it->port */
		memset(ss, 0, sizeof(*ss));
		*len = 0;
		return 1;
	}
	rp__spec_addr(spec, idx, port, ss, len);
	return 1;
}

/* OCTETS: the ordinal as a mixed-radix number, last octet fastest. */
static uint32_t octets_at(const struct rp__spec *spec, uint64_t idx)
{
	uint32_t a = 0;
	int i;

	for (i = 3; i >= 0; i--) {
		uint64_t n = (uint64_t)(spec->oct_hi[i] - spec->oct_lo[i]) + 1;

		a |= (uint32_t)(spec->oct_lo[i] + idx % n) << (8 * (3 - i));
		idx /= n;
	}
	return a;
}

void rp__spec_addr(const struct rp__spec *spec, uint64_t idx, int port,
		   struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (spec->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr.s_addr =
			htonl(spec->kind == RP__SPEC_OCTETS
				      ? octets_at(spec, idx)
				      : ntohl(spec->addr.v4.s_addr) +
						(uint32_t)idx);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		unsigned carry = 0;
		int i;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = spec->addr.v6;
		/* first address + idx, a 128-bit sum byte by byte */
		for (i = 15; i >= 0 && (idx || carry); i--) {
			unsigned v = sin6->sin6_addr.s6_addr[i] +
				     (unsigned)(idx & 0xff) + carry;

			sin6->sin6_addr.s6_addr[i] = (uint8_t)v;
			carry = v >> 8;
			idx >>= 8;
		}
		*len = sizeof(*sin6);
	}
}

int rp__spec_at(const struct rp__spec *spec, const struct rp__ports *ports,
		const struct rp__ports_index *pidx, uint64_t k,
		struct sockaddr_storage *ss, socklen_t *len)
{
	uint64_t idx = k;
	int port = spec->port;

	if (!port) {
		idx = k / pidx->count;
		port = rp__ports_at(pidx, ports, (uint32_t)(k % pidx->count));
	}
	if (!spec->family) { /* a name: no address yet, only the port */
		memset(ss, 0, sizeof(*ss));
		*len = 0;
	} else {
		rp__spec_addr(spec, idx, port, ss, len);
	}
	return port;
}
