/*
 * test_conservation_random.c - "every accepted target gets exactly one
 * result" (ringprobe.h, rp_engine_submit()) as a property, over random
 * rounds, where test_tcp_conservation.c checks one fixed mix.
 *
 * A round is one engine, TCP or HTTP, with a random concurrency and a few
 * hundred to 1500 targets, each of a random class:
 *
 *   tcp   open (our accept-close server), closed, filtered (nft drop),
 *         a name that resolves to our server, a name that does not
 *         (NXDOMAIN), a preset INVALID status;
 *   http  /fixed or /204 (ok), /slow and /hang (timeout), /reset, /garbage
 *         (protocol-error), closed, filtered, names, a preset status.
 *
 * Targets go in through a pull source or by rp_engine_submit() (also from
 * inside result callbacks). Random probes in flight are cancelled with
 * rp_engine_cancel(), between turns and from callbacks, and a callback
 * cancels its own probe (-EALREADY). A round ends by draining, or with
 * rp_engine_stop() from the loop, from a callback or from another thread
 * at a random moment, or with rp_engine_destroy() in flight.
 *
 * Every round must give: one result per accepted target (pulled, or
 * submitted with 0) and none for the others; each with the index, user
 * pointer and input of the target it was submitted as; a status its class
 * allows, CANCELLED only after a cancel that returned 0 (then always) or
 * a stop; nothing from destroy after a drained run; engine stats that
 * agree (t_check_stats()).
 *
 * The seed is printed; RP_CONS_SEED=S repeats the choices (not the
 * timing). Rounds go on until RP_CONS_PROBES results (default 10000, 1000
 * under valgrind), with no round started after 40 s: a NOTE says so if a
 * busy machine got fewer. Runs in a private network namespace (root).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ringprobe.h"
#include "t_dns.h"
#include "t_net.h"
#include "t_scen.h"
#include "t_server.h"

#define BUDGET_S 40       /* no round starts later */
#define ROUND_MS 20000    /* a round still running then fails */
#define NPORTS 8          /* ports of each server */

enum cls {
	C_OPEN,           /* tcp: our accept-close server; http: /fixed */
	C_CLOSED,         /* T_CLOSED_LO..T_CLOSED_HI: nobody listens */
	C_FILTERED,       /* T_FILT_LO..T_FILT_HI: dropped */
	C_NAME,           /* h<N>.test: 127.0.0.1, our server's port */
	C_NXNAME,         /* nx<N>.test: NXDOMAIN */
	C_PRESET,         /* rp_target.status INVALID: never probed */
	C_SLOW,           /* http /slow: a body byte per 100 ms */
	C_HANG,           /* http /hang: no answer */
	C_RESET,          /* http /reset: RST after part of the body */
	C_GARBAGE,        /* http /garbage: not HTTP */
	C__COUNT
};

static const char *const cls_name[C__COUNT] = {
	"open", "closed", "filtered", "name", "nxname", "preset", "slow",
	"hang", "reset", "garbage",
};

#define B(s) (1u << RP_STATUS_##s)
/* The statuses each class allows, tcp and http; an http probe that needs
 * our server to answer may also time out (a starved server). */
static const unsigned allowed[2][C__COUNT] = {
	{ B(OPEN), B(CLOSED), B(FILTERED), B(OPEN), B(DNS_ERROR),
	  B(INVALID) },
	{ B(OK) | B(TIMEOUT), B(CLOSED), B(FILTERED), B(OK) | B(TIMEOUT),
	  B(DNS_ERROR), B(INVALID), B(TIMEOUT), B(TIMEOUT),
	  B(RESET) | B(TIMEOUT), B(PROTOCOL_ERROR) | B(TIMEOUT) },
};
/* Out of 100, per kind. */
static const unsigned weight[2][C__COUNT] = {
	{ 30, 25, 15, 15, 10, 5 },
	{ 30, 10, 10, 15, 8, 4, 4, 4, 8, 7 },
};

enum { M_PULL, M_SUBMIT };
enum { E_DRAIN, E_STOP_LOOP, E_STOP_CB, E_STOP_THREAD, E_DESTROY };
static const char *const end_name[] = { "drain", "stop", "stop-in-callback",
					"stop-from-thread", "destroy" };
enum { CX_NONE, CX_TOOK, CX_ALREADY };
enum { S_NEW, S_INFLIGHT, S_DONE };

/* What the scenario set up: servers and resolver, in its namespace. */
struct env {
	int tcp_ports[NPORTS];
	int http_ports[NPORTS];
	char servers[64];             /* the resolver, "127.0.0.1:PORT" */
};

struct tg {
	char input[48];               /* "#<index> <class>" */
	char name[24];                /* with C_NAME, C_NXNAME */
	const char *path;             /* http */
	uint16_t port;
	uint8_t cls;
	uint8_t cancel;               /* CX_* */
	uint8_t state;                /* S_* */
	uint32_t pos;                 /* in fl[] while in flight */
};

struct round {
	struct t_scen *sc;
	const struct env *env;
	struct rp_engine *e;
	struct t_rec *r;
	struct tg *tg;
	uint64_t *fl;                 /* indexes in flight */
	uint64_t nfl;
	uint64_t n;                   /* targets of the round */
	uint64_t next;                /* 0..next-1 were accepted */
	int http;
	int mode;                     /* M_* */
	int end;                      /* E_* */
	uint64_t stop_at;             /* results before the stop/destroy */
	double stop_s;                /* E_STOP_THREAD: when */
	int shut;                     /* submit said -ESHUTDOWN */
	int stopping;                 /* CANCELLED allowed from now on */
	int destroying;               /* results now come from destroy */
	unsigned took, already, dns_timeouts;
	uint64_t plan;                /* generator of the round's shape */
	uint64_t act;                 /* of what is done while it runs (the
	                               * timing decides how often it is
	                               * asked, so it is kept apart) */
};

static uint64_t g_seed;

/* splitmix64, on the state *s */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A number in 0..n-1 from the state *s. */
static uint64_t below(uint64_t *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

/* ---- targets ------------------------------------------------------------- */

static void plan_target(struct round *rd, uint64_t i)
{
	struct tg *g = &rd->tg[i];
	const int *ports = rd->http ? rd->env->http_ports : rd->env->tcp_ports;
	unsigned w = (unsigned)below(&rd->plan, 100), c = 0;

	while (c + 1 < C__COUNT && w >= weight[rd->http][c])
		w -= weight[rd->http][c++];
	g->cls = (uint8_t)c;
	g->port = (uint16_t)ports[below(&rd->plan, NPORTS)];
	g->path = below(&rd->plan, 4) ? "/fixed" : "/204";
	switch (c) {
	case C_CLOSED:
		g->port = (uint16_t)(T_CLOSED_LO +
				     below(&rd->plan,
					   T_CLOSED_HI - T_CLOSED_LO + 1));
		break;
	case C_FILTERED:
		g->port = (uint16_t)(T_FILT_LO +
				     below(&rd->plan,
					   T_FILT_HI - T_FILT_LO + 1));
		break;
	case C_NAME:
		snprintf(g->name, sizeof(g->name), "h%u.test",
			 (unsigned)below(&rd->plan, 300));
		break;
	case C_NXNAME:
		snprintf(g->name, sizeof(g->name), "nx%u.test",
			 (unsigned)below(&rd->plan, 300));
		break;
	case C_SLOW: g->path = "/slow"; break;
	case C_HANG: g->path = "/hang"; break;
	case C_RESET: g->path = "/reset"; break;
	case C_GARBAGE: g->path = "/garbage"; break;
	default: break;
	}
	snprintf(g->input, sizeof(g->input), "#%" PRIu64 " %s", i,
		 cls_name[c]);
}

static void make_target(struct round *rd, uint64_t i, struct rp_target *t)
{
	struct tg *g = &rd->tg[i];

	t_target_v4(t, g->port, i);
	t->user = g;
	t->input = g->input;
	if (rd->http)
		t->path = g->path;
	if (g->name[0]) {
		t->addrlen = 0;
		t->name = g->name;
		t->port = g->port;
	}
	if (g->cls == C_PRESET) {
		t->addrlen = 0;
		t->status = RP_STATUS_INVALID;
		t->err = -EINVAL;
		t->detail = "preset by the test";
	}
}

static void accepted(struct round *rd, uint64_t i)
{
	struct tg *g = &rd->tg[i];

	g->state = S_INFLIGHT;
	g->pos = (uint32_t)rd->nfl;
	rd->fl[rd->nfl++] = i;
	rd->next = i + 1;
}

static void finished(struct round *rd, uint64_t i)
{
	struct tg *g = &rd->tg[i];
	uint64_t last = rd->fl[--rd->nfl];

	rd->fl[g->pos] = last;
	rd->tg[last].pos = g->pos;
	g->state = S_DONE;
}

/* The pull source: the round's targets in order. */
static int pull(void *arg, struct rp_target *t)
{
	struct round *rd = arg;

	if (rd->next >= rd->n)
		return -1;
	make_target(rd, rd->next, t);
	accepted(rd, rd->next);
	return 1;
}

/* Submits targets in order until the engine refuses one (at most max). */
static void feed(struct round *rd, int max)
{
	struct rp_target t;

	for (; max > 0 && rd->next < rd->n && !rd->shut; max--) {
		make_target(rd, rd->next, &t);
		int rc = rp_engine_submit(rd->e, &t);

		if (rc == 0) {
			accepted(rd, rd->next);
			continue;
		}
		if (rc == -ESHUTDOWN)
			rd->shut = 1;
		else
			CHECK(rd->sc, rc == -EAGAIN, "submit #%" PRIu64 ": %s",
			      rd->next, rp_strerror(rc));
		return;
	}
}

/* rp_engine_cancel() on a random probe in flight. */
static void cancel_random(struct round *rd)
{
	uint64_t i;
	int rc;

	if (!rd->nfl || rd->stopping)
		return;
	i = rd->fl[below(&rd->act, rd->nfl)];
	if (rd->tg[i].cancel != CX_NONE)
		return;
	rc = rp_engine_cancel(rd->e, i);
	if (rc == 0) {
		rd->tg[i].cancel = CX_TOOK;
		rd->took++;
	} else if (rc == -EALREADY) {
		rd->tg[i].cancel = CX_ALREADY;
		rd->already++;
	} else {
		CHECK(rd->sc, 0, "cancel(#%" PRIu64 ") in flight: %s", i,
		      rp_strerror(rc));
	}
}

/* ---- results ------------------------------------------------------------- */

static void check_status(struct round *rd, const struct tg *g,
			 const struct rp_result *res)
{
	int s = (int)res->status;
	int ok = s > 0 && s < RP_STATUS__COUNT &&
		 (allowed[rd->http][g->cls] >> s & 1);

	if (!ok && g->cls == C_NAME && s == RP_STATUS_DNS_ERROR &&
	    res->detail && !strcmp(res->detail, "timeout")) {
		rd->dns_timeouts++; /* a starved resolver, not a wrong one */
		ok = 1;
	}
	if (s == RP_STATUS_CANCELLED)
		ok = g->cancel == CX_TOOK || rd->stopping;
	if (g->cancel == CX_TOOK)
		ok = s == RP_STATUS_CANCELLED;
	if (g->cancel == CX_ALREADY)
		ok = ok && s != RP_STATUS_CANCELLED;
	CHECK(rd->sc, ok, "'%s': %s (detail %s, cancel %d, stopping %d)",
	      g->input, t_sname(s), res->detail ? res->detail : "-", g->cancel,
	      rd->stopping);
}

/* t_rec's hook, after t_on_result() has checked and counted res. */
static void on_result(struct t_rec *r, const struct rp_result *res)
{
	struct round *rd = r->hook_arg;
	struct t_scen *sc = rd->sc;
	uint64_t i = res->index;

	if (i >= rd->n)
		return; /* counted as out of range */
	struct tg *g = &rd->tg[i];
	CHECK(sc, res->user == g, "#%" PRIu64 ": user %p, submitted %p", i,
	      res->user, (void *)g);
	CHECK(sc, res->input && !strcmp(res->input, g->input),
	      "#%" PRIu64 ": input '%s', submitted '%s'", i,
	      res->input ? res->input : "(null)", g->input);
	if (g->state != S_INFLIGHT) {
		CHECK(sc, 0, "'%s': a result while %s", g->input,
		      g->state == S_NEW ? "never accepted" : "already done");
		return;
	}
	finished(rd, i);
	check_status(rd, g, res);
	if (rd->destroying)
		return; /* the engine is going away: no calls */
	if (!below(&rd->act, 16))
		CHECK(sc, rp_engine_cancel(rd->e, i) == -EALREADY,
		      "'%s': cancel from its own callback", g->input);
	if (!below(&rd->act, 32))
		cancel_random(rd);
	if (rd->end == E_STOP_CB && !rd->stopping && r->n >= rd->stop_at) {
		rd->stopping = 1;
		rp_engine_stop(rd->e);
	}
	if (rd->mode == M_SUBMIT)
		feed(rd, 1);
}

/* ---- rounds -------------------------------------------------------------- */

struct plan {
	uint32_t conc;
	uint32_t retries;
};

/* The round's shape, from its generator. */
static struct plan plan_round(struct round *rd, uint64_t left)
{
	static const uint32_t concs[] = { 32, 128, 512, 2048 };
	struct plan p;
	unsigned e = (unsigned)below(&rd->plan, 100);

	rd->http = (int)below(&rd->plan, 2);
	rd->n = 300 + below(&rd->plan, 1200);
	if (rd->n > left + 100)
		rd->n = left + 100;
	rd->mode = (int)below(&rd->plan, 2);
	rd->end = e < 40 ? E_DRAIN : 1 + (int)((e - 40) / 15);
	rd->stop_at = below(&rd->plan, rd->n / 2 + 1);
	rd->stop_s = 0.01 + (double)below(&rd->plan, 300) / 1000;
	p.conc = concs[below(&rd->plan, 4)];
	p.retries = (uint32_t)below(&rd->plan, 2);
	if (rd->http && p.conc < 128)
		p.conc = 128; /* /slow and /hang hold a slot for the timeout */
	return p;
}

static struct rp_engine_opts round_opts(const struct round *rd,
					struct plan p)
{
	struct rp_engine_opts o = {
		.concurrency = p.conc,
		.connect_timeout_ns = 150 * 1000000ull,
		.timeout_ns = 1500 * 1000000ull,
		.retries = p.retries,
		.kind = rd->http ? RP_PROBE_HTTP : RP_PROBE_TCP,
	};

	o.dns.servers = rd->env->servers;
	o.dns.no_hosts = 1;
	o.dns.timeout_ns = 500 * 1000000ull;
	o.dns.tries = 2;
	return o;
}

/* Turns until the round ends its way, then the engine goes. */
static void run_round(struct round *rd)
{
	struct t_watchdog w;
	uint64_t t0 = t_now_ns();
	int rc = 1;

	if (rd->end == E_STOP_THREAD) {
		rd->stopping = 1; /* any moment from now */
		t_watchdog_start(&w, rd->e, rd->stop_s);
	}
	if (rd->mode == M_PULL)
		rp_engine_set_source(rd->e, pull, rd);
	while (rc > 0 || (rd->mode == M_SUBMIT && rd->next < rd->n &&
			  !rd->shut)) {
		if (rd->mode == M_SUBMIT)
			feed(rd, INT32_MAX);
		rc = rp_engine_run(rd->e, 10);
		CHECK(rd->sc, rc >= 0, "rp_engine_run: %s", rp_strerror(rc));
		if (!below(&rd->act, 8))
			cancel_random(rd);
		if (!rd->stopping && rd->r->n >= rd->stop_at &&
		    (rd->end == E_STOP_LOOP || rd->end == E_DESTROY)) {
			rd->stopping = 1;
			if (rd->end == E_DESTROY)
				break;
			rp_engine_stop(rd->e);
		}
		if (rc < 0 || t_ms_since(t0) > ROUND_MS) {
			CHECK(rd->sc, rc < 0, "round still running after "
			      "%d ms", ROUND_MS);
			break;
		}
	}
	if (rd->end == E_STOP_THREAD)
		t_watchdog_end(&w);
	if (rd->end != E_DESTROY) {
		CHECK(rd->sc, rp_engine_run(rd->e, 0) == 0,
		      "not idle after the run");
		t_check_stats(rd->sc, rd->e, rd->r);
	}
	uint64_t before = rd->r->n;
	rd->destroying = 1;
	rp_engine_destroy(rd->e);
	CHECK(rd->sc, rd->end == E_DESTROY || rd->r->n == before,
	      "%" PRIu64 " results from destroy after the run ended",
	      rd->r->n - before);
}

/* One round; returns its results. */
static uint64_t round_once(struct t_scen *sc, const struct env *env,
			   unsigned k, uint64_t left)
{
	struct round rd = { .sc = sc, .env = env };
	uint64_t t0 = t_now_ns(), n;

	/* Round k's shape depends on the seed and k only. */
	rd.plan = g_seed ^ (0x9e3779b97f4a7c15ull * (k + 1));
	rd.act = ~rd.plan;
	struct plan p = plan_round(&rd, left);

	rd.tg = calloc(rd.n, sizeof(*rd.tg));
	rd.fl = calloc(rd.n, sizeof(*rd.fl));
	if (!rd.tg || !rd.fl)
		abort();
	for (uint64_t i = 0; i < rd.n; i++)
		plan_target(&rd, i);
	rd.r = t_rec_new(sc, rd.n, 0);
	rd.r->hook = on_result;
	rd.r->hook_arg = &rd;
	rd.e = t_engine_new(sc, rd.r, round_opts(&rd, p));
	if (rd.e) {
		run_round(&rd);
		t_check_each_index_once(sc, rd.r, rd.next);
		CHECK(sc, rd.nfl == 0, "%" PRIu64 " accepted targets without "
		      "a result", rd.nfl);
	}
	fprintf(stderr, "[%s] round %u: %s %s c%u retries %u, %s at %" PRIu64
		": %" PRIu64 " targets, %" PRIu64 " accepted, %" PRIu64
		" results (%" PRIu64 " cancelled; cancels took %u, already "
		"%u; dns timeouts %u), %.0f ms\n", sc->name, k,
		rd.http ? "http" : "tcp", rd.mode == M_PULL ? "pull" : "submit",
		p.conc, p.retries, end_name[rd.end], rd.stop_at, rd.n, rd.next,
		rd.r->n, rd.r->by_status[RP_STATUS_CANCELLED], rd.took,
		rd.already, rd.dns_timeouts, t_ms_since(t0));
	n = rd.r->n;
	t_rec_free(rd.r);
	free(rd.tg);
	free(rd.fl);
	return n;
}

/* ---- the scenario -------------------------------------------------------- */

static uint64_t g_probes;

/* Our servers and resolver, in the scenario's namespace. Returns 0. */
static int env_start(struct t_scen *sc, struct env *env, pid_t *tcp,
		     pid_t *http, struct t_dns_responder **dns)
{
	int rc;

	*tcp = *http = 0;
	*dns = NULL;
	if (t_drop_ports(sc, T_FILT_LO, T_FILT_HI))
		return -1;
	rc = t_server_start("accept-close", NPORTS, env->tcp_ports, tcp);
	if (rc == 0)
		rc = t_server_start("http", NPORTS, env->http_ports, http);
	if (rc == T_SKIP) {
		sc->skip = "rp_target_server not found";
		return -1;
	}
	CHECK(sc, rc == 0, "target server: %s", strerror(-rc));
	if (rc)
		return -1;
	*dns = t_dns_responder_start(0);
	CHECK(sc, *dns, "the DNS responder did not start");
	if (!*dns)
		return -1;
	snprintf(env->servers, sizeof(env->servers), "127.0.0.1:%d",
		 t_dns_responder_port(*dns));
	return 0;
}

static void body(struct t_scen *sc)
{
	struct env env;
	struct t_dns_responder *dns;
	pid_t tcp, http;
	uint64_t t0 = t_now_ns(), total = 0;
	unsigned k = 0;

	if (env_start(sc, &env, &tcp, &http, &dns) == 0) {
		for (; total < g_probes && !sc->fails; k++) {
			if (t_ms_since(t0) > BUDGET_S * 1000.0)
				break;
			total += round_once(sc, &env, k, g_probes - total);
		}
	}
	t_dns_responder_stop(dns);
	t_server_stop(http);
	t_server_stop(tcp);
	if (sc->skip)
		return;
	fprintf(stderr, "[%s] seed %" PRIu64 ": %u rounds, %" PRIu64
		" results in %.0f ms\n", sc->name, g_seed, k, total,
		t_ms_since(t0));
	if (total < g_probes && !sc->fails)
		fprintf(stderr, "[%s] NOTE: %" PRIu64 " of %" PRIu64
			" results within %d s (a busy machine)\n", sc->name,
			total, g_probes, BUDGET_S);
	CHECK(sc, total > 0, "no round ran");
}

static void test_conservation_random(void **state)
{
	struct t_scen sc = { .name = "conservation_random", .netns = 1,
			     .expect_direct = 1, .fn = body,
			     .limit_s = BUDGET_S + 3 * ROUND_MS / 1000 };

	(void)state;
	t_run_scenario(&sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conservation_random),
	};
	const char *seed = getenv("RP_CONS_SEED");
	const char *probes = getenv("RP_CONS_PROBES");
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	g_seed = seed ? strtoull(seed, NULL, 10)
		      : (uint64_t)ts.tv_nsec % 1000000;
	g_probes = probes ? strtoull(probes, NULL, 10)
			  : t_on_valgrind() ? 1000 : 10000;
	fprintf(stderr, "seed %" PRIu64 " (RP_CONS_SEED=%" PRIu64
		" repeats the choices), %" PRIu64 " results wanted\n", g_seed,
		g_seed, g_probes);
	return cmocka_run_group_tests(tests, t_scen_group_setup, NULL);
}
