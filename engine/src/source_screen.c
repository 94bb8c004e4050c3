/*
 * source_screen.c - what the target source keeps out: the exclude list
 * (rp_source_opts.exclude) and the excluded ports, and what it adds to
 * the port list: nmap's top ports.
 *
 * Two kinds of target meet an exclude list here. A target inside a block
 * (a CIDR line: many addresses the user did not name one by one) whose
 * address or port is excluded is skipped: never produced, counted in
 * rp_source_excluded(), and left out of the line's count up front so that
 * rp_source_total() stays the number of targets produced. A single target
 * (an address line, each port of it, a URL, a name with its own port) is
 * produced all the same, EXCLUDED, so that it has its one result like any
 * other target the user wrote. Names are resolved later, by the engine,
 * which checks every address it connects to against its own
 * rp_engine_opts.exclude (stage_connect.c): that is the guarantee; this
 * is where blocks are thinned out cheaply and counted.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "source.h"

static _Thread_local char tl_xdetail[32];

int rp__screen_setup(struct rp_source *s, const struct rp_source_opts *o,
		     char *err, size_t errlen)
{
	int r;

	s->exclude = o->exclude;
	if (o->exclude_ports) {
		r = rp__ports_parse(&s->xports, o->exclude_ports, err, errlen);
		if (r)
			return r;
	}
	if (o->top_ports) {
		const char *path = o->services ? o->services
					       : RP_NMAP_SERVICES;
		char why[200];

		/* the top N of the ports not excluded, as nmap counts */
		r = rp__ports_top(&s->ports, path, o->top_ports, &s->xports,
				  why, sizeof(why));
		if (r && !o->top_ports_soft) {
			if (err && errlen)
				snprintf(err, errlen, "%s", why);
			return r;
		}
		if (r)
			snprintf(s->noport, sizeof(s->noport),
				 "no port: give ip:port or -p (the %u most "
				 "common ports are not available: %s)",
				 o->top_ports, why);
	}
	rp__ports_remove(&s->ports, &s->xports);
	return 0;
}

/* A block of addresses, not a single one: an address line or a URL is
 * one address; everything else that has addresses is a block. */
static bool is_block(const struct line *l)
{
	return l->spec.family && l->spec.kind != RP__SPEC_ADDR &&
	       l->spec.kind != RP__SPEC_URL;
}

/* The excluded addresses of the block of l. */
static uint64_t block_excluded(const struct rp_source *s,
			       const struct line *l)
{
	const struct rp__spec *sp = &l->spec;
	uint64_t last = sp->naddrs - 1;

	if (sp->family == AF_INET) {
		uint32_t lo = ntohl(sp->addr.v4.s_addr);

		return rp__exclude_count4(s->exclude, lo, lo + (uint32_t)last);
	}
	struct rp__u128 lo = rp__u128_load(sp->addr.v6.s6_addr), hi = lo;

	hi.lo += last; /* host bits are zero: no carry */
	if (IN6_IS_ADDR_V4MAPPED(&sp->addr.v6)) {
		/* two sets decide (rp__exclude_sa()): ask for each address
		 * of this rare kind of block (at most 2^20) */
		struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
		uint64_t n = 0;

		for (uint64_t i = 0; i <= last; i++) {
			uint32_t v = htonl((uint32_t)lo.lo + (uint32_t)i);

			a.sin6_addr = sp->addr.v6;
			memcpy(&a.sin6_addr.s6_addr[12], &v, 4);
			n += rp__exclude_sa(s->exclude,
					    (const struct sockaddr *)&a, NULL);
		}
		return n;
	}
	return rp__exclude_count6(s->exclude, lo, hi);
}

uint64_t rp__screen_skipped(const struct rp_source *s, const struct line *l)
{
	uint64_t ports;

	if (l->err || !is_block(l))
		return 0;
	if (l->spec.port)
		return rp__ports_has(&s->xports, l->spec.port)
			       ? l->spec.naddrs
			       : block_excluded(s, l);
	ports = s->ports.count; /* excluded ports are not in it */
	return ports && s->exclude ? block_excluded(s, l) * ports : 0;
}

bool rp__screen(struct rp_source *s, const struct line *l, int port,
		struct rp_target *t)
{
	bool xport = rp__ports_has(&s->xports, port);

	if (!xport && (!t->addrlen ||
		       !rp__exclude_sa(s->exclude,
				       (const struct sockaddr *)&t->addr,
				       &s->xcache)))
		return false;
	if (is_block(l)) {
		s->excluded++;
		return true;
	}
	t->status = RP_STATUS_EXCLUDED;
	t->name = NULL;
	t->port = 0;
	t->detail = NULL;
	if (xport) {
		snprintf(tl_xdetail, sizeof(tl_xdetail), "port %d excluded",
			 port);
		t->detail = tl_xdetail;
	}
	return false;
}
