/*
 * t_scen.c - the scenario framework of the C integration tests and what
 * scenarios of the TCP connect probe share: see t_scen.h.
 */
#include "t_scen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "t_net.h"

#define T_MAX_PRINT 40 /* failure lines printed per scenario */

/* ---- scenarios ------------------------------------------------------- */

void t_check_fail(struct t_scen *sc, int line, const char *fmt, ...)
{
	va_list ap;

	sc->fails++;
	if (sc->printed++ >= T_MAX_PRINT) {
		if (sc->printed == T_MAX_PRINT + 1)
			fprintf(stderr, "[%s] (further failures not shown)\n",
				sc->name);
		return;
	}
	fprintf(stderr, "[%s] FAIL line %d: ", sc->name, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double t_ms_since(uint64_t t0)
{
	return (double)(t_now_ns() - t0) / 1e6;
}

void t_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void *scen_thread(void *arg)
{
	struct t_scen *sc = arg;

	if (sc->netns) {
		int rc = t_netns_enter();
		if (rc == T_SKIP) {
			sc->skip = "needs root for a network namespace";
			goto out;
		}
		CHECK(sc, rc == 0, "t_netns_enter: %s", strerror(-rc));
		if (rc)
			goto out;
	}
	if (sc->setup && sc->setup(sc))
		goto out;
	sc->fn(sc);
out:
	__atomic_store_n(&sc->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

void t_run_scenario(struct t_scen *sc)
{
	pthread_t th;
	struct timespec dl;

	if (sc->limit_s <= 0)
		sc->limit_s = 60;
	assert_int_equal(pthread_create(&th, NULL, scen_thread, sc), 0);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)sc->limit_s;
	int rc = pthread_timedjoin_np(th, NULL, &dl);
	if (rc == ETIMEDOUT) {
		/* A hung engine cannot be unwound from here: fail loudly. */
		fprintf(stderr, "[%s] FAIL: still running after %.0f s\n",
			sc->name, sc->limit_s);
		fflush(stderr);
		abort();
	}
	assert_int_equal(rc, 0);
	if (sc->skip) {
		fprintf(stderr, "[%s] skipped: %s\n", sc->name, sc->skip);
		skip();
	}
	if (sc->fails)
		fprintf(stderr, "[%s] %d check(s) failed\n", sc->name,
			sc->fails);
	assert_int_equal(sc->fails, 0);
}

/* ---- watchdog ---------------------------------------------------------- */

static void *watchdog_main(void *arg)
{
	struct t_watchdog *w = arg;
	struct timespec dl;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	uint64_t ns = (uint64_t)(w->secs * 1e9);
	dl.tv_sec += (time_t)(ns / 1000000000ull);
	dl.tv_nsec += (long)(ns % 1000000000ull);
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	int rc = 0;
	while (!w->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cv, &w->mu, &dl);
	if (!w->done) {
		w->fired = 1;
		rp_engine_stop(w->e);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

void t_watchdog_start(struct t_watchdog *w, struct rp_engine *e,
		      double secs)
{
	pthread_condattr_t ca;

	memset(w, 0, sizeof(*w));
	w->e = e;
	w->secs = secs;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->th, NULL, watchdog_main, w))
		abort();
}

int t_watchdog_end(struct t_watchdog *w)
{
	pthread_mutex_lock(&w->mu);
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	return w->fired;
}

/* ---- result recorder -------------------------------------------------- */

struct t_rec *t_rec_new(struct t_scen *sc, uint64_t cap, int keep_text)
{
	struct t_rec *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	r->sc = sc;
	r->cap = cap;
	r->keep_text = keep_text;
	r->cnt = calloc(cap, 1);
	r->st = calloc(cap, 1);
	r->attempts = calloc(cap, sizeof(*r->attempts));
	r->elapsed_us = calloc(cap, sizeof(*r->elapsed_us));
	r->t_ns = calloc(cap, sizeof(*r->t_ns));
	r->input = calloc(cap, sizeof(*r->input));
	r->detail = calloc(cap, sizeof(*r->detail));
	if (!r->cnt || !r->st || !r->attempts || !r->elapsed_us || !r->t_ns ||
	    !r->input || !r->detail)
		abort();
	r->min_index = UINT64_MAX;
	return r;
}

void t_rec_free(struct t_rec *r)
{
	for (uint64_t i = 0; i < r->cap; i++) {
		free(r->input[i]);
		free(r->detail[i]);
	}
	free(r->cnt);
	free(r->st);
	free(r->attempts);
	free(r->elapsed_us);
	free(r->t_ns);
	free(r->input);
	free(r->detail);
	free(r);
}

static int addr_port(const struct sockaddr *sa)
{
	if (!sa)
		return -1;
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -1;
}

const char *t_sname(int s)
{
	return rp_status_name((enum rp_status)s);
}

/* The result callback: invariants every result must satisfy, then record. */
void t_on_result(const struct rp_result *res, void *arg)
{
	struct t_rec *r = arg;
	struct t_scen *sc = r->sc;
	int s = (int)res->status;

	CHECK(sc, s > RP_STATUS_NONE && s < RP_STATUS__COUNT,
	      "index %llu: status %d out of range",
	      (unsigned long long)res->index, s);
	if (s <= RP_STATUS_NONE || s >= RP_STATUS__COUNT)
		s = RP_STATUS_ERROR;
	CHECK(sc, res->input != NULL, "index %llu: input is NULL",
	      (unsigned long long)res->index);
	CHECK(sc, (res->addr == NULL) == (res->addrlen == 0),
	      "index %llu: addr %p with addrlen %u",
	      (unsigned long long)res->index, (const void *)res->addr,
	      (unsigned)res->addrlen);
	if (s == RP_STATUS_INVALID) {
		CHECK(sc, res->addr == NULL && res->attempts == 0,
		      "index %llu: INVALID but probed (attempts %u)",
		      (unsigned long long)res->index, res->attempts);
		CHECK(sc, res->detail && res->detail[0],
		      "index %llu: INVALID without detail",
		      (unsigned long long)res->index);
	}
	if (s == RP_STATUS_OPEN || s == RP_STATUS_CLOSED) {
		CHECK(sc, res->addr != NULL && res->attempts >= 1,
		      "index %llu: %s without address or attempts (%u)",
		      (unsigned long long)res->index, t_sname(s),
		      res->attempts);
		CHECK(sc, res->elapsed_us + 1000 >= res->rtt_us,
		      "index %llu: rtt_us %u > elapsed_us %llu",
		      (unsigned long long)res->index, res->rtt_us,
		      (unsigned long long)res->elapsed_us);
	}

	r->n++;
	r->by_status[s]++;
	r->attempts_sum += res->attempts;
	if (res->index < r->min_index)
		r->min_index = res->index;
	if (res->index > r->max_index || r->n == 1)
		r->max_index = res->index;
	if (res->index < r->cap) {
		uint64_t i = res->index;
		if (r->cnt[i] < 255)
			r->cnt[i]++;
		r->st[i] = (uint8_t)s;
		r->attempts[i] = res->attempts;
		r->elapsed_us[i] = res->elapsed_us;
		r->t_ns[i] = t_now_ns();
		if (r->keep_text && r->cnt[i] == 1) {
			r->input[i] = strdup(res->input ? res->input : "");
			r->detail[i] =
				res->detail ? strdup(res->detail) : NULL;
		}
	} else {
		r->out_of_range++;
	}
	int port = addr_port(res->addr);
	if (port >= 0) {
		if (r->pcnt[port] < 255)
			r->pcnt[port]++;
		r->pst[port] = (uint8_t)s;
		r->perr[port] = res->err;
	}
	if (r->hook)
		r->hook(r, res);
}

void t_check_each_index_once(struct t_scen *sc, const struct t_rec *r,
			     uint64_t n)
{
	uint64_t missing = 0;
	uint64_t dup = 0;

	CHECK(sc, r->n == n, "%llu results for %llu targets (indexes %llu..%llu)",
	      (unsigned long long)r->n, (unsigned long long)n,
	      (unsigned long long)r->min_index,
	      (unsigned long long)r->max_index);
	CHECK(sc, r->out_of_range == 0, "%llu results with index >= %llu",
	      (unsigned long long)r->out_of_range, (unsigned long long)n);
	for (uint64_t i = 0; i < n && i < r->cap; i++) {
		if (r->cnt[i] == 0 && missing++ < 5)
			CHECK(sc, 0, "index %llu: no result",
			      (unsigned long long)i);
		if (r->cnt[i] > 1 && dup++ < 5)
			CHECK(sc, 0, "index %llu: %u results",
			      (unsigned long long)i, r->cnt[i]);
	}
	CHECK(sc, missing == 0 && dup == 0,
	      "%llu indexes without result, %llu with several",
	      (unsigned long long)missing, (unsigned long long)dup);
}

void t_check_stats(struct t_scen *sc, struct rp_engine *e,
		   const struct t_rec *r)
{
	struct rp_stats st;

	rp_engine_stats(e, &st);
	CHECK(sc, st.completed == r->n, "stats.completed %llu, results %llu",
	      (unsigned long long)st.completed, (unsigned long long)r->n);
	CHECK(sc, st.submitted == st.completed,
	      "stats.submitted %llu != completed %llu",
	      (unsigned long long)st.submitted,
	      (unsigned long long)st.completed);
	CHECK(sc, st.inflight == 0, "stats.inflight %u after the run",
	      st.inflight);
	for (int s = RP_STATUS_NONE + 1; s < RP_STATUS__COUNT; s++)
		CHECK(sc, st.by_status[s] == r->by_status[s],
		      "stats.by_status[%s] %llu, results %llu", t_sname(s),
		      (unsigned long long)st.by_status[s],
		      (unsigned long long)r->by_status[s]);
	CHECK(sc, st.attempts == r->attempts_sum,
	      "stats.attempts %llu, sum of result attempts %llu",
	      (unsigned long long)st.attempts,
	      (unsigned long long)r->attempts_sum);
	CHECK(sc, st.direct == (uint32_t)sc->expect_direct,
	      "stats.direct %u, expected %d", st.direct, sc->expect_direct);
	if (!sc->expect_direct && st.attempts > 0)
		CHECK(sc, st.syscalls_other > 0,
		      "fallback made %llu attempts but no socket syscalls",
		      (unsigned long long)st.attempts);
}

struct rp_engine *t_engine_new(struct t_scen *sc, struct t_rec *r,
			       struct rp_engine_opts o)
{
	struct rp_engine *e = NULL;

	o.on_result = t_on_result;
	o.arg = r;
	o.flags |= sc->flags;
	int rc = rp_engine_create(&e, &o);
	CHECK(sc, rc == 0 && e, "rp_engine_create: %s", rp_strerror(rc));
	return rc ? NULL : e;
}

static void wake_engine(void *arg)
{
	rp_engine_wake(arg);
}

void t_use_source(struct rp_engine *e, struct rp_source *src)
{
	rp_source_set_notify(src, wake_engine, e);
	rp_engine_set_source(e, rp_source_next, src);
}

int t_run_until(struct rp_engine *e, int (*pred)(void *), void *arg,
		int ms)
{
	uint64_t t0 = t_now_ns();
	int rc = 1;

	for (int turn = 0; turn < 1000000; turn++) {
		if (pred && pred(arg))
			break;
		if (t_ms_since(t0) > ms)
			break;
		rc = rp_engine_run(e, 10);
		if (rc <= 0)
			break;
	}
	return rc;
}

/* ---- a pull source of 127.0.0.1:port targets, counting what it gives -- */

int t_gen_pull(void *arg, struct rp_target *t)
{
	struct t_gen *g = arg;

	if (__atomic_load_n(&g->stopped, __ATOMIC_RELAXED))
		g->pulls_after_stop++;
	if (g->next >= g->n)
		return -1;
	uint64_t i = g->next++;
	int port = g->port_of(i);

	t_target_v4(t, port, i);
	snprintf(g->text, sizeof(g->text), "127.0.0.1:%d", port);
	t->input = g->text;
	return 1;
}

void t_target_v4(struct rp_target *t, int port, uint64_t index)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&t->addr;

	memset(t, 0, sizeof(*t));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t->addrlen = sizeof(*sin);
	t->index = index;
}

/* ---- ports ------------------------------------------------------------- */

/* The calling thread's ip_local_port_range (one per network namespace). */
static void eph_range(int *lo, int *hi)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");

	if (!f || fscanf(f, "%d %d", lo, hi) != 2) {
		*lo = 32768;
		*hi = 60999;
	}
	if (f)
		fclose(f);
}

/* Ports plan: see t_scen.h. */
int t_closed_port_ok(int p)
{
	int lo, hi;

	eph_range(&lo, &hi);
	return p > 0 && p <= 65535 && (p < lo || p > hi) &&
	       (p < T_DROP_LO || p > T_DROP_HI);
}

int t_listen_at(struct t_scen *sc, int family, int port)
{
	int bound;
	int fd = t_bind_port(family, port, 1, &bound);

	CHECK(sc, fd >= 0, "listen on port %d: %s", port, strerror(-fd));
	return fd;
}

int t_reserve_port(int family, int from, int to, const uint8_t *avoid,
		   int *port)
{
	int step = from <= to ? 1 : -1;

	for (int p = from; p != to + step; p += step) {
		if (!t_closed_port_ok(p) ||
		    (avoid && t_bit(avoid, (unsigned)p)))
			continue;
		int fd = t_bind_port(family, p, 0, port);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

int t_drop_ports(struct t_scen *sc, int lo, int hi)
{
	int rc = t_nft_drop_tcp_ports(lo, hi);

	CHECK(sc, rc == 0, "nft drop %d-%d failed (%d)", lo, hi, rc);
	return rc;
}

/* ---- predicates for t_run_until() ------------------------------------ */

int t_got_index(void *arg)
{
	struct t_idx_pred *p = arg;

	return p->index < p->r->cap && p->r->cnt[p->index] > 0;
}

int t_got_all(void *arg)
{
	struct t_idx_pred *p = arg; /* index = how many */

	return p->r->n >= p->index;
}

/* ---- stops ------------------------------------------------------------- */

double t_cpu_ms(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		return 0;
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double t_thread_cpu_ms(void)
{
	return t_cpu_ms(CLOCK_THREAD_CPUTIME_ID);
}

void t_check_drain(struct t_scen *sc, const char *what, double wall_ms,
		   double cpu)
{
	CHECK(sc, wall_ms < T_DRAIN_WALL_MS,
	      "%s took %.0f ms: it waited for the timeouts", what, wall_ms);
	CHECK(sc, cpu < T_DRAIN_CPU_MS, "%s took %.0f ms of CPU", what, cpu);
}

int t_port_dropped(uint64_t i)
{
	return T_DROP_LO + (int)(i % (T_DROP_HI - T_DROP_LO + 1));
}

void t_normal_scan_after(struct t_scen *sc)
{
	int lport = T_LISTEN_LO;
	int lfd = t_listen_at(sc, AF_INET, lport);
	struct rp_target t;

	if (lfd < 0)
		return;
	struct t_rec *r = t_rec_new(sc, 64, 0);
	struct rp_engine *e = t_engine_new(sc, r, (struct rp_engine_opts){0});
	if (!e)
		goto out;
	t_target_v4(&t, lport, 0);
	CHECK(sc, rp_engine_submit(e, &t) == 0, "submit open");
	for (int i = 1; i < 40; i++) {
		int p = T_CLOSED_LO + i;

		CHECK(sc, t_closed_port_ok(p), "closed port %d is ephemeral",
		      p);
		t_target_v4(&t, p, (uint64_t)i);
		CHECK(sc, rp_engine_submit(e, &t) == 0, "submit closed %d", i);
	}
	struct t_idx_pred all = {r, 40};
	t_run_until(e, t_got_all, &all, 5000);
	CHECK(sc, rp_engine_run(e, 0) == 0, "fresh engine not idle");
	t_check_each_index_once(sc, r, 40);
	CHECK(sc, r->st[0] == RP_STATUS_OPEN, "after stop: open port got %s",
	      t_sname(r->st[0]));
	CHECK(sc, r->by_status[RP_STATUS_CLOSED] == 39,
	      "after stop: %llu closed of 39",
	      (unsigned long long)r->by_status[RP_STATUS_CLOSED]);
	t_check_stats(sc, e, r);
	rp_engine_destroy(e);
out:
	t_rec_free(r);
	close(lfd);
}

/* ---- group setup ------------------------------------------------------- */

int t_scen_group_setup(void **state)
{
	struct rlimit rl;

	(void)state;
	/* Engines size their file tables by RLIMIT_NOFILE. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* The direct-path tests expect the direct path. */
	unsetenv("RINGPROBE_FALLBACK");
	return 0;
}
