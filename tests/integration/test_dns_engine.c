/*
 * test_dns_engine.c - name resolution through the engine API (targets with
 * rp_target.name), against resolvers on loopback only:
 *
 *  - a dnsmasq started by the test (posix_spawn, stopped by its PID) that
 *    serves eNNNN.test from a hosts file: A only, A + AAAA (::1), or AAAA
 *    only; other .test names are NXDOMAIN, other names REFUSED;
 *  - an in-process responder (t_dns.h) that answers "rN.test" after a
 *    chosen delay and counts the queries and the lookups waiting at once
 *    (a very long delay makes it a resolver that never answers, which
 *    still sees what was asked).
 *
 * Scenarios:
 *  resolve        N names in -> N results, each index exactly once, the
 *                 address the hosts file gives (IPv4 preferred for names
 *                 with both), the target's port, CLOSED on a closed port,
 *                 dns_us > 0; NXDOMAIN and REFUSED names -> DNS_ERROR with
 *                 the reason; a repeated name gives the same address; the
 *                 stats agree.
 *  family         AF_INET6 / AF_INET: the right address, or DNS_ERROR
 *                 "no address" when the name has none of that family.
 *  timeout        a resolver that never answers, 200 ms per try, one try:
 *                 DNS_ERROR "timeout" in about that time.
 *  stop_inflight  rp_engine_stop() with 300 lookups in flight (the default
 *                 concurrency, 64, waiting at the resolver): every accepted
 *                 target CANCELLED once, promptly; rp_engine_run returns 0.
 *  cancel_one     rp_engine_cancel(index) on resolving targets (one with a
 *                 name of its own, one sharing its name with another
 *                 target): CANCELLED promptly, the others resolve and probe
 *                 normally afterwards (the shared name included).
 *  destroy_inflight rp_engine_destroy() with lookups in flight: each
 *                 accepted target reported once, CANCELLED.
 *  concurrency_1  dns.concurrency = 1, 50 names: all resolve, correctly,
 *                 never more than one name at the resolver at once, each
 *                 asked once.
 *  cache          one name, 30 targets at once: one query per type.
 *
 * Every wait is bounded; timing limits are scaled up under valgrind and
 * ASan. RP_TEST_FILTER=<cmocka glob> runs a subset.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "ringprobe.h"
#include "t_dns.h"
#include "t_net.h"

#define MAXN 2048
#define NE 600 /* eNNNN.test names in the hosts file */
#define MAX_PRINT 20

/* ---- fixture -------------------------------------------------------- */

static char g_dir[64];
static char g_hosts[128];
static int g_port;        /* dnsmasq */
static pid_t g_pid;
static char g_servers[64]; /* "127.0.0.1:PORT" */
static int g_closed;      /* a TCP port nobody listens on */
static double g_slow = 1; /* time limits are multiplied by this */

/* The hosts-file kind of eNNNN.test. */
enum ekind { E_V4, E_DUAL, E_V6 };

static enum ekind e_kind(unsigned i)
{
	return i % 10 == 7 ? E_V6 : i % 10 == 3 ? E_DUAL : E_V4;
}

static struct in_addr e_addr(unsigned i)
{
	struct in_addr a;

	a.s_addr = htonl((127u << 24) | (3u << 16) | ((i / 250u) << 8) |
			 (1u + i % 250u));
	return a;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double ms_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e6;
}

static int pick_closed_port(void)
{
	static const int cand[] = {9, 7, 13, 19, 37, 42, 79, 1, 3, 1023};
	static uint8_t bm[4][8192];
	const char *ips[4] = {"127.0.0.1", "127.3.0.1", "127.4.0.1", "::1"};

	for (int k = 0; k < 4; k++)
		if (t_listening_ports(ips[k], bm[k]) < 0)
			return -1;
	for (size_t c = 0; c < sizeof(cand) / sizeof(cand[0]); c++) {
		int busy = 0;
		for (int k = 0; k < 4; k++)
			busy |= t_bit(bm[k], (unsigned)cand[c]);
		if (!busy)
			return cand[c];
	}
	return -1;
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/rp_test_dns_engine.XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	snprintf(g_hosts, sizeof(g_hosts), "%s/hosts", g_dir);
	FILE *f = fopen(g_hosts, "w");
	if (!f)
		return -1;
	for (unsigned i = 0; i < NE; i++) {
		char ip[INET_ADDRSTRLEN];
		struct in_addr a = e_addr(i);
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		if (e_kind(i) != E_V6)
			fprintf(f, "%s e%04u.test\n", ip, i);
		if (e_kind(i) != E_V4)
			fprintf(f, "::1 e%04u.test\n", i);
	}
	if (fclose(f))
		return -1;
	int rc = t_dnsmasq_start(g_hosts, NULL, 0, &g_port, &g_pid);
	if (rc) {
		fprintf(stderr, "dnsmasq did not start: %s\n",
			rc == T_SKIP ? "not installed" : strerror(-rc));
		return -1;
	}
	snprintf(g_servers, sizeof(g_servers), "127.0.0.1:%d", g_port);
	g_closed = pick_closed_port();
	if (g_closed < 0) {
		fprintf(stderr, "no closed port found\n");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	t_dnsmasq_stop(g_pid);
	g_pid = 0;
	unlink(g_hosts);
	rmdir(g_dir);
	return 0;
}

/* ---- recorder ----------------------------------------------------------- */

struct rec {
	uint32_t n;                   /* results */
	uint32_t out_of_range;        /* index >= MAXN */
	uint32_t problems;            /* invariant violations */
	const char *const *inputs;    /* expected input per index, or NULL */
	uint8_t cnt[MAXN];
	uint8_t st[MAXN];
	struct sockaddr_storage addr[MAXN];
	socklen_t alen[MAXN];
	char detail[MAXN][64];
	uint32_t dns_us[MAXN];
	uint32_t attempts[MAXN];
	uint64_t t_ns[MAXN];
	uint64_t by_status[RP_STATUS__COUNT];
};

static void problem(struct rec *r, const char *fmt, ...)
{
	va_list ap;

	if (r->problems++ >= MAX_PRINT)
		return;
	fprintf(stderr, "  problem: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Checks the invariants every result must meet (no cmocka asserts here:
 * a longjmp out of the engine's callback would leave it broken) and
 * records the result. */
static void on_result(const struct rp_result *res, void *arg)
{
	struct rec *r = arg;
	unsigned long long ix = (unsigned long long)res->index;
	int s = (int)res->status;

	if (s <= RP_STATUS_NONE || s >= RP_STATUS__COUNT) {
		problem(r, "index %llu: status %d", ix, s);
		s = RP_STATUS_ERROR;
	}
	if ((res->addr == NULL) != (res->addrlen == 0))
		problem(r, "index %llu: addr %p, addrlen %u", ix,
			(const void *)res->addr, (unsigned)res->addrlen);
	if (s == RP_STATUS_DNS_ERROR) {
		if (res->addr || res->attempts)
			problem(r, "index %llu: dns-error with an address or "
				   "%u attempts", ix, res->attempts);
		if (!res->detail || !res->detail[0])
			problem(r, "index %llu: dns-error without detail", ix);
	}
	if (!res->input)
		problem(r, "index %llu: input NULL", ix);
	else if (r->inputs && res->index < MAXN && r->inputs[res->index] &&
		 strcmp(res->input, r->inputs[res->index]))
		problem(r, "index %llu: input '%s', expected '%s'", ix,
			res->input, r->inputs[res->index]);
	r->n++;
	r->by_status[s]++;
	if (res->index >= MAXN) {
		r->out_of_range++;
		return;
	}
	uint64_t i = res->index;
	if (r->cnt[i] < 255)
		r->cnt[i]++;
	r->st[i] = (uint8_t)s;
	r->t_ns[i] = now_ns();
	r->dns_us[i] = res->dns_us;
	r->attempts[i] = res->attempts;
	r->alen[i] = res->addrlen;
	if (res->addr && res->addrlen <= sizeof(r->addr[i]))
		memcpy(&r->addr[i], res->addr, res->addrlen);
	snprintf(r->detail[i], sizeof(r->detail[i]), "%s",
		 res->detail ? res->detail : "");
}

static struct rec *rec_new(void)
{
	struct rec *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	return r;
}

static const char *sname(int s)
{
	return rp_status_name((enum rp_status)s);
}

/* "ip:port" of result i, for messages. */
static const char *addr_str(const struct rec *r, uint64_t i, char *buf,
			    size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "-";
	int port = -1;
	const struct sockaddr_storage *ss = &r->addr[i];

	if (!r->alen[i]) {
		snprintf(buf, len, "(none)");
		return buf;
	}
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
	}
	snprintf(buf, len, "%s:%d", ip, port);
	return buf;
}

/* Result i was probed at a (AF_INET) or ::1 (a NULL), port port. */
static int addr_is(const struct rec *r, uint64_t i, const struct in_addr *a,
		   int port)
{
	const struct sockaddr_storage *ss = &r->addr[i];

	if (a) {
		const struct sockaddr_in *s4 = (const void *)ss;
		return r->alen[i] >= sizeof(*s4) && ss->ss_family == AF_INET &&
		       s4->sin_addr.s_addr == a->s_addr &&
		       ntohs(s4->sin_port) == port;
	}
	const struct sockaddr_in6 *s6 = (const void *)ss;
	return r->alen[i] >= sizeof(*s6) && ss->ss_family == AF_INET6 &&
	       !memcmp(&s6->sin6_addr, &in6addr_loopback, 16) &&
	       ntohs(s6->sin6_port) == port;
}

/* Indexes 0..n-1 exactly once each, nothing else; returns failures. */
static int check_each_once(const struct rec *r, uint32_t n)
{
	int bad = 0;

	if (r->n != n) {
		fprintf(stderr, "  %u results for %u targets\n", r->n, n);
		bad++;
	}
	if (r->out_of_range) {
		fprintf(stderr, "  %u results with an unknown index\n",
			r->out_of_range);
		bad++;
	}
	for (uint32_t i = 0; i < n && i < MAXN; i++)
		if (r->cnt[i] != 1 && bad++ < MAX_PRINT)
			fprintf(stderr, "  index %u: %u results\n", i,
				r->cnt[i]);
	return bad;
}

/* Every result CANCELLED; returns failures. */
static int check_all_cancelled(const struct rec *r)
{
	if (r->by_status[RP_STATUS_CANCELLED] == r->n)
		return 0;
	fprintf(stderr, "  %llu of %u results CANCELLED\n",
		(unsigned long long)r->by_status[RP_STATUS_CANCELLED], r->n);
	return 1;
}

/* ---- engine plumbing ---------------------------------------------------- */

struct src {
	const char *const *names;
	const uint16_t *ports;        /* or NULL: g_closed */
	uint32_t n;
	uint32_t next;                /* targets handed out (accepted) */
};

static int src_pull(void *arg, struct rp_target *t)
{
	struct src *s = arg;

	if (s->next >= s->n)
		return -1;
	uint32_t i = s->next++;
	memset(t, 0, sizeof(*t));
	t->name = s->names[i];
	t->input = s->names[i];
	t->port = s->ports ? s->ports[i] : (uint16_t)g_closed;
	t->index = i;
	return 1;
}

static struct rp_engine *engine_new(struct rec *r, const char *servers,
				    const struct rp_dns_opts *dns)
{
	struct rp_engine_opts o;
	struct rp_engine *e = NULL;

	memset(&o, 0, sizeof(o));
	o.on_result = on_result;
	o.arg = r;
	o.connect_timeout_ns = 2000000000ull;
	/* The overall deadline covers resolution; these tests are about the
	 * resolver's own timing, which valgrind stretches ten times. */
	o.timeout_ns = 60000000000ull;
	if (dns)
		o.dns = *dns;
	o.dns.servers = servers;
	int rc = rp_engine_create(&e, &o);
	if (rc)
		fprintf(stderr, "rp_engine_create: %s\n", rp_strerror(rc));
	assert_int_equal(rc, 0);
	assert_non_null(e);
	return e;
}

/* Runs turns until rp_engine_run returns <= 0 or ms pass; returns the last
 * run result (1 if time ran out). */
static int run_for(struct rp_engine *e, double ms)
{
	uint64_t t0 = now_ns();
	int rc = 1;

	for (int turn = 0; turn < 10000000 && ms_since(t0) < ms; turn++) {
		rc = rp_engine_run(e, 10);
		if (rc <= 0)
			break;
	}
	return rc;
}

/* Runs to completion within ms; on a timeout, stops, drains and fails. */
static void run_to_end(struct rp_engine *e, double ms, const char *what)
{
	int rc = run_for(e, ms);

	if (rc == 1) {
		fprintf(stderr, "  %s: still running after %.0f ms\n", what, ms);
		rp_engine_stop(e);
		run_for(e, 2000 * g_slow);
	}
	if (rc < 0)
		fprintf(stderr, "  %s: rp_engine_run: %s\n", what,
			rp_strerror(rc));
	assert_int_equal(rc, 0);
}

/* n names "<prefix><i>.test", i zero-padded to 4 digits with pad. */
static char **names_gen(const char *prefix, int pad, uint32_t n)
{
	char **v = calloc(n + 1, sizeof(*v));

	assert_non_null(v);
	for (uint32_t i = 0; i < n; i++) {
		v[i] = malloc(64);
		assert_non_null(v[i]);
		if (pad)
			snprintf(v[i], 64, "%s%04u.test", prefix, i);
		else
			snprintf(v[i], 64, "%s%u.test", prefix, i);
	}
	return v;
}

static void names_free(char **v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- resolve ------------------------------------------------------------ */

static void test_resolve(void **state)
{
	(void)state;
	enum { NX = NE, REF = NE + 1, DUP0 = NE + 2, NDUP = 5,
	       N = NE + 2 + NDUP };
	char **names = names_gen("e", 1, N);
	snprintf(names[NX], 64, "missing.test");
	snprintf(names[REF], 64, "outside.invalid");
	for (unsigned i = DUP0; i < N; i++)
		snprintf(names[i], 64, "e0001.test");
	struct rec *r = rec_new();
	r->inputs = (const char *const *)names;
	struct src s = {(const char *const *)names, NULL, N, 0};
	struct rp_engine *e = engine_new(r, g_servers, NULL);

	rp_engine_set_source(e, src_pull, &s);
	uint64_t t0 = now_ns();
	run_to_end(e, 30000 * g_slow, "resolve");
	fprintf(stderr, "  %u names resolved and probed in %.0f ms\n", N,
		ms_since(t0));

	int bad = check_each_once(r, N);
	char buf[80];
	for (unsigned i = 0; i < N; i++) {
		unsigned want = i >= DUP0 ? 1 : i;
		if (i == NX || i == REF)
			continue;
		struct in_addr a = e_addr(want);
		int ok = r->st[i] == RP_STATUS_CLOSED &&
			 addr_is(r, i, e_kind(want) == E_V6 ? NULL : &a,
				 g_closed);
		if (!ok && bad++ < MAX_PRINT)
			fprintf(stderr,
				"  %s (%s): %s at %s (%s), expected closed at "
				"%s\n",
				names[i],
				e_kind(want) == E_V6	 ? "AAAA only"
				: e_kind(want) == E_DUAL ? "A and AAAA"
							 : "A only",
				sname(r->st[i]), addr_str(r, i, buf, sizeof(buf)),
				r->detail[i],
				e_kind(want) == E_V6 ? "::1" : inet_ntoa(a));
		if (i < NE && r->dns_us[i] == 0 && bad++ < MAX_PRINT)
			fprintf(stderr, "  %s: dns_us 0 on its first lookup\n",
				names[i]);
	}
	if (r->st[NX] != RP_STATUS_DNS_ERROR ||
	    !strstr(r->detail[NX], "NXDOMAIN")) {
		fprintf(stderr, "  missing.test: %s '%s', expected dns-error "
				"NXDOMAIN\n",
			sname(r->st[NX]), r->detail[NX]);
		bad++;
	}
	if (r->st[REF] != RP_STATUS_DNS_ERROR) {
		fprintf(stderr, "  outside.invalid (REFUSED): %s '%s', expected "
				"dns-error\n",
			sname(r->st[REF]), r->detail[REF]);
		bad++;
	} else {
		fprintf(stderr, "  REFUSED gives detail '%s'\n", r->detail[REF]);
	}

	struct rp_stats st;
	rp_engine_stats(e, &st);
	if (st.completed != N || st.by_status[RP_STATUS_DNS_ERROR] != 2 ||
	    st.by_status[RP_STATUS_CLOSED] != N - 2 || st.inflight != 0) {
		fprintf(stderr, "  stats: completed %llu, dns-error %llu, "
				"closed %llu, inflight %u\n",
			(unsigned long long)st.completed,
			(unsigned long long)st.by_status[RP_STATUS_DNS_ERROR],
			(unsigned long long)st.by_status[RP_STATUS_CLOSED],
			st.inflight);
		bad++;
	}
	rp_engine_destroy(e);
	assert_int_equal(r->n, N); /* nothing more from destroy */
	assert_int_equal(r->problems, 0);
	assert_int_equal(bad, 0);
	free(r);
	names_free(names, N);
}

/* ---- family ------------------------------------------------------------- */

static void family_case(int family, const unsigned *which, int n,
			const int *want) /* 4, 6, or 0 = no address */
{
	char **names = names_gen("x", 0, (uint32_t)n);
	struct rec *r = rec_new();
	struct rp_dns_opts d;
	char buf[80];
	int bad = 0;

	for (int i = 0; i < n; i++)
		snprintf(names[i], 64, "e%04u.test", which[i]);
	memset(&d, 0, sizeof(d));
	d.family = family;
	struct src s = {(const char *const *)names, NULL, (uint32_t)n, 0};
	struct rp_engine *e = engine_new(r, g_servers, &d);
	rp_engine_set_source(e, src_pull, &s);
	run_to_end(e, 10000 * g_slow, "family");
	bad += check_each_once(r, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		struct in_addr a = e_addr(which[i]);
		int ok;
		if (want[i] == 0)
			ok = r->st[i] == RP_STATUS_DNS_ERROR &&
			     strstr(r->detail[i], "no address");
		else
			ok = r->st[i] == RP_STATUS_CLOSED &&
			     addr_is(r, (uint64_t)i, want[i] == 4 ? &a : NULL,
				     g_closed);
		if (!ok) {
			bad++;
			fprintf(stderr,
				"  family %s, %s: %s at %s '%s', expected %s\n",
				family == AF_INET ? "AF_INET" : "AF_INET6",
				names[i], sname(r->st[i]),
				addr_str(r, (uint64_t)i, buf, sizeof(buf)),
				r->detail[i],
				want[i] == 0   ? "dns-error 'no address'"
				: want[i] == 4 ? "closed at its A record"
					       : "closed at ::1");
		}
	}
	rp_engine_destroy(e);
	assert_int_equal(r->problems, 0);
	assert_int_equal(bad, 0);
	free(r);
	names_free(names, (uint32_t)n);
}

static void test_family(void **state)
{
	(void)state;
	/* e0000 A only, e0003 A + AAAA, e0007 AAAA only */
	static const unsigned which[] = {0, 3, 7};
	static const int want6[] = {0, 6, 6};
	static const int want4[] = {4, 4, 0};

	family_case(AF_INET6, which, 3, want6);
	family_case(AF_INET, which, 3, want4);
}

/* ---- timeout ------------------------------------------------------------ */

static void test_timeout(void **state)
{
	(void)state;
	int sport;
	int sink = t_udp_sink(&sport);
	assert_true(sink >= 0);
	char servers[64];
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", sport);
	const char *names[] = {"t1.test", "t2.test"};
	struct rec *r = rec_new();
	struct rp_dns_opts d;
	memset(&d, 0, sizeof(d));
	d.timeout_ns = 200000000ull;
	d.tries = 1;
	struct src s = {names, NULL, 2, 0};
	struct rp_engine *e = engine_new(r, servers, &d);
	rp_engine_set_source(e, src_pull, &s);

	uint64_t t0 = now_ns();
	run_to_end(e, 5000 * g_slow, "timeout");
	double ms = ms_since(t0);
	int bad = check_each_once(r, 2);
	for (int i = 0; i < 2; i++)
		if (r->st[i] != RP_STATUS_DNS_ERROR ||
		    !strstr(r->detail[i], "timeout")) {
			fprintf(stderr, "  %s: %s '%s', expected dns-error "
					"timeout\n",
				names[i], sname(r->st[i]), r->detail[i]);
			bad++;
		}
	fprintf(stderr, "  silent resolver, 200 ms x 1 try: %.0f ms\n", ms);
	if (ms < 150 || ms > 1000 * g_slow) {
		fprintf(stderr, "  took %.0f ms, expected 200 ms + margin\n", ms);
		bad++;
	}
	rp_engine_destroy(e);
	close(sink);
	assert_int_equal(r->problems, 0);
	assert_int_equal(bad, 0);
	free(r);
}

/* ---- stop / destroy with lookups in flight ------------------------------ */

/* A resolver that never answers but counts: the responder with a delay
 * far longer than any test. */
static struct t_dns_responder *silent_counting(char *servers, size_t len)
{
	struct t_dns_responder *rs = t_dns_responder_start(600000);

	assert_non_null(rs);
	snprintf(servers, len, "127.0.0.1:%d", t_dns_responder_port(rs));
	return rs;
}

/* Runs turns until the resolver has seen `names` distinct names waiting,
 * or their number stopped growing for a while, or ms pass; fails if any
 * result arrives meanwhile. */
static void fill(struct rp_engine *e, struct t_dns_responder *rs,
		 struct rec *r, int names, double ms)
{
	uint64_t t0 = now_ns(), tgrow = now_ns();
	int last = 0;

	while (ms_since(t0) < ms && last < names &&
	       ms_since(tgrow) < 300 * g_slow) {
		int rc = rp_engine_run(e, 10);
		assert_int_equal(rc, 1);
		int now = t_dns_responder_max_pending(rs);
		if (now > last) {
			last = now;
			tgrow = now_ns();
		}
	}
	/* a little longer: nothing more may be asked, nothing may finish */
	run_for(e, 50 * g_slow);
	if (r->n)
		fprintf(stderr, "  %u results before any answer, e.g. index 0: "
				"%s '%s'\n",
			r->n, sname(r->st[0]), r->detail[0]);
	assert_int_equal(r->n, 0);
}

static void test_stop_inflight(void **state)
{
	(void)state;
	enum { N = 300 };
	char servers[64];
	struct t_dns_responder *rs = silent_counting(servers, sizeof(servers));
	char **names = names_gen("s", 1, N);
	struct rec *r = rec_new();
	struct rp_dns_opts d;
	memset(&d, 0, sizeof(d));
	d.timeout_ns = 5000000000ull;
	struct src s = {(const char *const *)names, NULL, N, 0};
	struct rp_engine *e = engine_new(r, servers, &d);
	rp_engine_set_source(e, src_pull, &s);

	fill(e, rs, r, 64, 3000 * g_slow);
	int inflight = t_dns_responder_max_pending(rs);
	fprintf(stderr, "  %d names at the resolver at once (the documented "
			"default concurrency is 64), %u targets accepted\n",
		inflight, s.next);

	uint64_t t0 = now_ns();
	rp_engine_stop(e);
	int rc = run_for(e, 3000 * g_slow);
	double ms = ms_since(t0);
	fprintf(stderr, "  stop -> run returned %d after %.1f ms, %u results\n",
		rc, ms, r->n);
	int bad = check_each_once(r, s.next) + check_all_cancelled(r);
	uint32_t n_before = r->n;
	rp_engine_destroy(e);
	t_dns_responder_stop(rs);
	uint32_t problems = r->problems, n_after = r->n;
	free(r);
	names_free(names, N);

	assert_int_equal(problems, 0);
	assert_int_equal(rc, 0);
	assert_true(ms < 500 * g_slow);
	assert_int_equal(n_after, n_before);
	assert_int_equal(bad, 0);
	assert_true(s.next >= (uint32_t)inflight);
	/* last: the stop itself worked even if the default differs */
	assert_int_equal(inflight, 64);
}

static void test_destroy_inflight(void **state)
{
	(void)state;
	enum { N = 200 };
	char servers[64];
	struct t_dns_responder *rs = silent_counting(servers, sizeof(servers));
	char **names = names_gen("d", 1, N);
	struct rec *r = rec_new();
	struct rp_dns_opts d;
	memset(&d, 0, sizeof(d));
	d.timeout_ns = 5000000000ull;
	d.concurrency = N;
	struct src s = {(const char *const *)names, NULL, N, 0};
	struct rp_engine *e = engine_new(r, servers, &d);
	rp_engine_set_source(e, src_pull, &s);

	fill(e, rs, r, N, 3000 * g_slow);
	uint64_t t0 = now_ns();
	rp_engine_destroy(e);
	double ms = ms_since(t0);
	fprintf(stderr, "  destroy with %d lookups in flight: %.1f ms, %u "
			"results for %u accepted\n",
		t_dns_responder_max_pending(rs), ms, r->n, s.next);
	int bad = check_each_once(r, s.next) + check_all_cancelled(r);
	int pend = t_dns_responder_max_pending(rs);
	t_dns_responder_stop(rs);
	assert_int_equal(r->problems, 0);
	assert_int_equal(pend, N);
	assert_int_equal(s.next, N);
	assert_true(ms < 1000 * g_slow);
	assert_int_equal(bad, 0);
	free(r);
	names_free(names, N);
}

/* ---- cancel one --------------------------------------------------------- */

static void test_cancel_one(void **state)
{
	(void)state;
	/* 0..9: rN.test; 10 and 11: both r100.test (one lookup, two
	 * targets). Cancelled: 3 (own name) and 10 (shared name). */
	enum { N = 12, C1 = 3, C2 = 10 };
	const int delay = (int)(600 * g_slow);
	struct t_dns_responder *rs = t_dns_responder_start(delay);
	assert_non_null(rs);
	char servers[64];
	snprintf(servers, sizeof(servers), "127.0.0.1:%d",
		 t_dns_responder_port(rs));
	char **names = names_gen("r", 0, N);
	snprintf(names[10], 64, "r100.test");
	snprintf(names[11], 64, "r100.test");
	struct rec *r = rec_new();
	r->inputs = (const char *const *)names;
	struct rp_dns_opts d;
	memset(&d, 0, sizeof(d));
	d.timeout_ns = (uint64_t)delay * 4 * 1000000ull; /* > the delay */
	d.tries = 1;
	struct rp_engine *e = engine_new(r, servers, &d);

	for (unsigned i = 0; i < N; i++) {
		struct rp_target t;
		memset(&t, 0, sizeof(t));
		t.name = names[i];
		t.input = names[i];
		t.port = (uint16_t)g_closed;
		t.index = i;
		assert_int_equal(rp_engine_submit(e, &t), 0);
	}
	/* until all 11 names are at the resolver */
	uint64_t t0 = now_ns();
	while (ms_since(t0) < delay / 2 && t_dns_responder_max_pending(rs) < 11)
		assert_int_equal(rp_engine_run(e, 10), 1);
	int pend = t_dns_responder_max_pending(rs);
	assert_int_equal(r->n, 0);

	uint64_t tc = now_ns();
	int rc1 = rp_engine_cancel(e, C1);
	int rc2 = rp_engine_cancel(e, C2);
	while (ms_since(tc) < delay / 2 && !(r->cnt[C1] && r->cnt[C2]))
		assert_int_equal(rp_engine_run(e, 10), 1);
	double ms1 = r->cnt[C1] ? (double)(r->t_ns[C1] - tc) / 1e6 : -1;
	double ms2 = r->cnt[C2] ? (double)(r->t_ns[C2] - tc) / 1e6 : -1;
	uint32_t others_early = r->n - r->cnt[C1] - r->cnt[C2];
	fprintf(stderr, "  cancel -> %d/%d; CANCELLED after %.1f / %.1f ms; "
			"%u other results meanwhile\n",
		rc1, rc2, ms1, ms2, others_early);

	run_to_end(e, 4 * delay + 5000 * g_slow, "cancel_one");
	int bad = check_each_once(r, N);
	char buf[80];
	for (unsigned i = 0; i < N; i++) {
		struct in_addr a = t_dns_rname_addr(i >= 10 ? 100 : i);
		int ok = (i == C1 || i == C2)
				 ? r->st[i] == RP_STATUS_CANCELLED
				 : r->st[i] == RP_STATUS_CLOSED &&
					   addr_is(r, i, &a, g_closed);
		if (!ok && bad++ < MAX_PRINT)
			fprintf(stderr, "  index %u (%s): %s at %s '%s'\n", i,
				names[i], sname(r->st[i]),
				addr_str(r, i, buf, sizeof(buf)), r->detail[i]);
	}
	int rc3 = rp_engine_cancel(e, C1);
	rp_engine_destroy(e);
	t_dns_responder_stop(rs);

	assert_int_equal(r->problems, 0);
	assert_int_equal(pend, 11);
	assert_int_equal(rc1, 0);
	assert_int_equal(rc2, 0);
	assert_true(ms1 >= 0 && ms1 < 200 * g_slow);
	assert_true(ms2 >= 0 && ms2 < 200 * g_slow);
	assert_int_equal(others_early, 0);
	assert_int_equal(rc3, -ENOENT);
	assert_int_equal(bad, 0);
	free(r);
	names_free(names, N);
}

/* ---- concurrency 1 ------------------------------------------------------ */

static void test_concurrency_1(void **state)
{
	(void)state;
	enum { N = 50 };
	struct t_dns_responder *rs = t_dns_responder_start(10);
	assert_non_null(rs);
	char servers[64];
	snprintf(servers, sizeof(servers), "127.0.0.1:%d",
		 t_dns_responder_port(rs));
	char **names = names_gen("r", 0, N);
	struct rec *r = rec_new();
	struct rp_dns_opts d;
	memset(&d, 0, sizeof(d));
	d.concurrency = 1;
	d.family = AF_INET;
	struct src s = {(const char *const *)names, NULL, N, 0};
	struct rp_engine *e = engine_new(r, servers, &d);
	rp_engine_set_source(e, src_pull, &s);
	uint64_t t0 = now_ns();
	run_to_end(e, 20000 * g_slow, "concurrency_1");
	double ms = ms_since(t0);
	int bad = check_each_once(r, N);
	char buf[80];
	int asked_once = 0;
	for (unsigned i = 0; i < N; i++) {
		struct in_addr a = t_dns_rname_addr(i);
		if (!(r->st[i] == RP_STATUS_CLOSED &&
		      addr_is(r, i, &a, g_closed)) &&
		    bad++ < MAX_PRINT)
			fprintf(stderr, "  %s: %s at %s '%s'\n", names[i],
				sname(r->st[i]),
				addr_str(r, i, buf, sizeof(buf)), r->detail[i]);
		asked_once += t_dns_responder_count(rs, names[i], T_DNS_A) == 1;
	}
	int maxp = t_dns_responder_max_pending(rs);
	int total = t_dns_responder_total(rs);
	fprintf(stderr, "  %d names, concurrency 1: %.0f ms, at most %d at the "
			"resolver, %d queries\n",
		N, ms, maxp, total);
	rp_engine_destroy(e);
	t_dns_responder_stop(rs);
	assert_int_equal(r->problems, 0);
	assert_int_equal(bad, 0);
	assert_int_equal(maxp, 1);
	assert_int_equal(asked_once, N);
	assert_int_equal(total, N);
	free(r);
	names_free(names, N);
}

/* ---- cache -------------------------------------------------------------- */

static void test_cache(void **state)
{
	(void)state;
	enum { N = 30 };
	struct t_dns_responder *rs = t_dns_responder_start((int)(50 * g_slow));
	assert_non_null(rs);
	char servers[64];
	snprintf(servers, sizeof(servers), "127.0.0.1:%d",
		 t_dns_responder_port(rs));
	char **names = names_gen("r", 0, N);
	for (unsigned i = 0; i < N; i++)
		snprintf(names[i], 64, "r7.test");
	struct rec *r = rec_new();
	struct src s = {(const char *const *)names, NULL, N, 0};
	struct rp_engine *e = engine_new(r, servers, NULL);
	rp_engine_set_source(e, src_pull, &s);
	run_to_end(e, 10000 * g_slow, "cache");
	int bad = check_each_once(r, N);
	struct in_addr a = t_dns_rname_addr(7);
	char buf[80];
	for (unsigned i = 0; i < N; i++)
		if (!(r->st[i] == RP_STATUS_CLOSED &&
		      addr_is(r, i, &a, g_closed)) &&
		    bad++ < MAX_PRINT)
			fprintf(stderr, "  index %u: %s at %s '%s'\n", i,
				sname(r->st[i]),
				addr_str(r, i, buf, sizeof(buf)), r->detail[i]);
	int na = t_dns_responder_count(rs, "r7.test", T_DNS_A);
	int naaaa = t_dns_responder_count(rs, "r7.test", T_DNS_AAAA);
	fprintf(stderr, "  30 targets, one name: %d A and %d AAAA queries\n",
		na, naaaa);
	rp_engine_destroy(e);
	t_dns_responder_stop(rs);
	assert_int_equal(r->problems, 0);
	assert_int_equal(bad, 0);
	assert_int_equal(na, 1);
	assert_true(naaaa <= 1);
	free(r);
	names_free(names, N);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_family),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_stop_inflight),
		cmocka_unit_test(test_cancel_one),
		cmocka_unit_test(test_destroy_inflight),
		cmocka_unit_test(test_concurrency_1),
		cmocka_unit_test(test_cache),
	};

	if (!t_dnsmasq_path()) {
		printf("SKIP: dnsmasq is not installed (Debian package "
		       "dnsmasq-base)\n");
		return T_SKIP;
	}
	if (t_on_valgrind())
		g_slow = 10;
#if defined(__SANITIZE_ADDRESS__)
	g_slow = 3;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	g_slow = 3;
#endif
#endif
	/* A hang inside the engine cannot be unwound: end the process. */
	alarm(280);
	if (getenv("RP_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RP_TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
