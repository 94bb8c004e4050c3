/*
 * scan.c - running a scan: one engine per worker thread, all pulling from
 * one shared target source, each writing whole records through its own
 * buffer (flushes are serialised, so lines never interleave); signals,
 * the progress line, snapshots and the summary over all of them.
 *
 * Signals are handled on the main thread only (the workers block them):
 * the handler calls rp_engine_stop(), which is async-signal-safe, on
 * engines that stay allocated until every worker has finished and the
 * signals are blocked again.
 *
 * Three other paths read another worker's engine pointer, and each is
 * closed before any engine is destroyed (engines go only once every worker
 * is done and the main thread releases them):
 *  - the source's reader thread, through source_ready(): the main thread
 *    clears the notify first, and rp_source_set_notify() waits for a call
 *    in progress; g_workers itself outlives the reader (rp_source_destroy
 *    joins it);
 *  - a worker's on_result() seeing stdout closed: it stops the others only
 *    while its own worker is not done, so before any release;
 *  - a worker whose engine failed to start: it stops the others before it
 *    says it is done.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "resume.h"
#include "scan.h"
#include "tally.h"
#include "util.h"

#define SLOWEST_MAX 5
#define FD_RESERVE 32        /* descriptors kept for everything but sockets */
#define ENGINE_FD_RESERVE 16 /* what rp_engine_create() keeps per engine
                              * (engine.c: concurrency + 16 <= the limit) */
#define TURN_MS 200
#define FLUSH_MS 5            /* longest a result waits in the buffer */
#define FLUSH_BYTES (32 * 1024)
/* --resume: sequence numbers of the records in a worker's buffer, at
 * most one per 16 bytes of it (records are longer), plus one written on
 * its own (a record over OUT_BUF_SIZE). */
#define PENDING_MAX (OUT_BUF_SIZE / 16 + 1)

#define SNAP_OLDEST 20 /* probes a snapshot lists (--snapshot-all: all) */
#define SNAP_PHASES 16
#define PROGRESS_TTY_MS 200      /* redraw period on a terminal */
#define PROGRESS_FILE_MS 5000    /* a plain line this often to a file */
#define RATE_WINDOW 8            /* progress samples for the recent rate */

struct snap_probe {
	uint64_t index, age_us;
	uint32_t attempt;
	const char *phase;            /* the engine's static text */
	char addr[64];
	char input[RP_INPUT_MAX];
};

/* A worker's part of a SIGUSR1 snapshot: probes by phase, the oldest. */
struct snap {
	const char *phase[SNAP_PHASES];
	uint64_t by_phase[SNAP_PHASES];
	uint32_t inflight;
	struct snap_probe oldest[SNAP_OLDEST]; /* oldest first */
	int noldest;
	struct rp_stats st;
};

struct slow {
	uint64_t elapsed_us;
	char addr[64];
	char status[16];
};

struct worker {
	struct cli *c;
	struct rp_source *src;
	struct rp_engine *_Atomic e;  /* NULL until created */
	struct rp_engine_opts eo;
	struct out out;
	pthread_t th;
	_Atomic uint64_t results;     /* read by the progress line */
	_Atomic uint64_t found;       /* open (tcp) / ok (http, tls) results */
	_Atomic uint32_t inflight;
	_Atomic uint32_t waiting;     /* on per-host limits */
	_Atomic bool done;
	uint64_t invalid;
	uint64_t by_class[10];        /* HTTP results by status class */
	struct tally tally;           /* TLS versions, verdicts, expiries */
	struct slow slowest[SLOWEST_MAX];
	int nslow;
	unsigned snap_seen;
	struct snap snap;             /* its part of the last snapshot */
	_Atomic unsigned snap_done;   /* the snapshot seq it answered */
	int ret;                      /* engine create/run failure */
	char err[200];                /* why create failed, or "" */
	struct rp_stats st;           /* final counters */
	uint64_t *pending;            /* --resume: numbers of the records
	                               * buffered, done once written */
	size_t npending;
};

static struct worker *g_workers;
static struct resume *g_resume;  /* --resume, or NULL */
static unsigned g_nworkers;
static volatile sig_atomic_t g_interrupted;
static _Atomic unsigned g_snapshot_seq;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
/* Engines are destroyed on their own threads (their rings belong to
 * them), but only once the main thread has blocked the signals whose
 * handlers use them. */
static pthread_mutex_t release_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t release_cond = PTHREAD_COND_INITIALIZER;
static bool g_release;
static uint64_t g_start_ns;
/* Workers post to it when they finish, so the main thread sleeps until
 * then (or until a signal or a progress tick) instead of polling. */
static int g_done_fd = -1;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void worker_finished(struct worker *w)
{
	atomic_store(&w->done, true);
	if (g_done_fd >= 0)
		eventfd_write(g_done_fd, 1);
}

static void stop_all(void)
{
	for (unsigned i = 0; i < g_nworkers; i++) {
		struct rp_engine *e = atomic_load(&g_workers[i].e);

		if (e)
			rp_engine_stop(e);
	}
}

/* ---- signals ----------------------------------------------------------- */

static void on_stop_signal(int sig)
{
	(void)sig;
	if (g_interrupted)
		out_exit(EXIT_INTERRUPTED); /* second Ctrl-C: now */
	g_interrupted = 1;
	stop_all();
}

static void on_snapshot_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&g_snapshot_seq, 1);
	for (unsigned i = 0; i < g_nworkers; i++) {
		struct rp_engine *e = atomic_load(&g_workers[i].e);

		if (e)
			rp_engine_wake(e);
	}
}

void cli_install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_snapshot_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void handled_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGQUIT);
}

/* ---- results ----------------------------------------------------------- */

/* Keeps slow[] (n of at most SLOWEST_MAX) sorted slowest first. */
static void add_slow(struct slow *slow, int *n, const struct slow *x)
{
	int i = *n < SLOWEST_MAX ? (*n)++ : SLOWEST_MAX - 1;

	if (*n == SLOWEST_MAX && i == SLOWEST_MAX - 1 &&
	    slow[i].elapsed_us >= x->elapsed_us)
		return;
	while (i > 0 && slow[i - 1].elapsed_us < x->elapsed_us) {
		slow[i] = slow[i - 1];
		i--;
	}
	slow[i] = *x;
}

static bool status_listed(const uint8_t *list, const struct rp_result *r)
{
	return r->http && r->http->status_code > 0 &&
	       r->http->status_code < 1000 && list[r->http->status_code];
}

/* --resume: the writer wrote the worker's buffer (the output lock still
 * held): the records in it are done. */
static void on_written(void *arg)
{
	struct worker *w = arg;

	resume_done(g_resume, w->pending, w->npending);
	w->npending = 0;
}

/* --resume: result r has its record in the buffer (written) or was left
 * out of the output; either way it counts as done once nothing it
 * wrote can be lost. */
static void keep_state(struct worker *w, const struct rp_result *r,
		       bool written)
{
	if (w->out.err)
		return; /* the run stops: not done */
	if (!written) {
		resume_done(g_resume, &r->seq, 1);
		return;
	}
	if (w->out.len == 0) { /* written on its own: out_result() of a
				* record over OUT_BUF_SIZE, which engine
				* results cannot make */
		resume_done(g_resume, &r->seq, 1);
		return;
	}
	if (w->npending == PENDING_MAX) /* cannot happen: see PENDING_MAX */
		out_flush(&w->out);
	if (w->npending < PENDING_MAX)
		w->pending[w->npending++] = r->seq;
}

/* Whether r passes the filters that leave results out of the output
 * (--open is the writer's). */
static bool wanted(const struct cli *c, const struct rp_result *r)
{
	if (c->match_status && !status_listed(c->match_status, r))
		return false;
	if (c->filter_status && status_listed(c->filter_status, r))
		return false;
	return c->expiring < 0 || (r->tls && r->tls->has_cert &&
				   r->tls->days_left <= c->expiring);
}

static void on_result(const struct rp_result *r, void *arg)
{
	struct worker *w = arg;
	struct cli *c = w->c;

	atomic_fetch_add_explicit(&w->results, 1, memory_order_relaxed);
	if (r->status == RP_STATUS_OPEN || r->status == RP_STATUS_OK)
		atomic_fetch_add_explicit(&w->found, 1, memory_order_relaxed);
	if (r->http && r->http->status_code > 0 && r->http->status_code < 1000)
		w->by_class[r->http->status_code / 100]++;
	if (r->status == RP_STATUS_INVALID) {
		w->invalid++;
		if (!c->quiet)
			fprintf(stderr, "%s: %s\n", prog,
				r->detail ? r->detail : "invalid target");
	}
	if (c->summary)
		tally_add(&w->tally, r);
	if (r->addr && c->summary) {
		struct slow x = { .elapsed_us = r->elapsed_us };

		out_where(r->addr, r->addrlen, x.addr, sizeof(x.addr));
		snprintf(x.status, sizeof(x.status), "%s",
			 rp_status_name(r->status));
		add_slow(w->slowest, &w->nslow, &x);
	}
	if (c->observe)
		c->observe(r);
	/* --resume: a cancelled probe is not done; the resumed run probes
	 * it, so no record of it may be in the output. */
	if (g_resume && r->status == RP_STATUS_CANCELLED)
		return;
	if (!wanted(c, r)) {
		if (g_resume)
			keep_state(w, r, false);
		return;
	}
	uint64_t records = w->out.records;
	out_result(&w->out, r); /* drops non-open ones under --open */
	if (g_resume)
		keep_state(w, r, w->out.records != records);
	/* stdout closed: end quietly. Not once this worker is done (results
	 * from rp_engine_destroy()): other engines may be going away. */
	if (w->out.err && !atomic_load(&w->done))
		stop_all();
}

/* ---- progress, snapshot, summary --------------------------------------- */

/* The progress line's state (main thread only). */
static struct {
	bool tty;                   /* stderr is a terminal: redraw in place */
	bool shown;                 /* a line is on the terminal now */
	uint64_t last_ns;           /* when the last line was printed */
	uint64_t t[RATE_WINDOW];    /* samples for the recent rate */
	uint64_t n[RATE_WINDOW];
	unsigned next;
} g_prog;

/* Results per second over the last RATE_WINDOW samples (the recent
 * rate, not the average since the start). */
static double recent_rate(uint64_t now, uint64_t done)
{
	unsigned old = g_prog.next; /* the oldest sample, once full */
	double rate = 0;

	if (!g_prog.t[old])
		old = 0;
	if (g_prog.t[old] && now > g_prog.t[old])
		rate = (double)(done - g_prog.n[old]) * 1e9 /
		       (double)(now - g_prog.t[old]);
	g_prog.t[g_prog.next] = now;
	g_prog.n[g_prog.next] = done;
	g_prog.next = (g_prog.next + 1) % RATE_WINDOW;
	return rate;
}

/*
 * "42% 27531/65535 done, 9812/s, 3 open, 4096 in flight, 120 waiting on
 * per-host limits, 3.1s, ETA 4s": on a terminal redrawn in place every
 * PROGRESS_TTY_MS; to a file or pipe a plain line every PROGRESS_FILE_MS.
 */
static void progress_line(const struct cli *c, struct rp_source *src)
{
	uint64_t now = now_ns(), done = 0, found = 0;
	double secs = (double)(now - g_start_ns) / 1e9, rate;
	int64_t total = rp_source_total(src);
	uint32_t inflight = 0, waiting = 0;
	char pct[16] = "", tot[32] = "?", eta[32] = "?", wait[64] = "";

	if (now - g_prog.last_ns < (g_prog.tty ? PROGRESS_TTY_MS
					       : PROGRESS_FILE_MS) * 1000000ull)
		return;
	g_prog.last_ns = now;
	for (unsigned i = 0; i < g_nworkers; i++) {
		struct worker *w = &g_workers[i];

		done += atomic_load_explicit(&w->results, memory_order_relaxed);
		found += atomic_load_explicit(&w->found, memory_order_relaxed);
		inflight += atomic_load_explicit(&w->inflight,
						 memory_order_relaxed);
		waiting += atomic_load_explicit(&w->waiting,
						memory_order_relaxed);
	}
	rate = recent_rate(now, done);
	if (total > 0) {
		snprintf(pct, sizeof(pct), "%.0f%% ",
			 100.0 * (double)done / (double)total);
		snprintf(tot, sizeof(tot), "%" PRId64, total);
		if (rate > 0 && (uint64_t)total >= done)
			snprintf(eta, sizeof(eta), "%.0fs",
				 (double)((uint64_t)total - done) / rate);
	}
	if (waiting)
		snprintf(wait, sizeof(wait), ", %u waiting on per-host limits",
			 waiting);
	pthread_mutex_lock(&err_lock);
	fprintf(stderr, "%s%s%" PRIu64 "/%s done, %.0f/s, %" PRIu64 " %s, %u "
		"in flight%s, %.1fs, ETA %s%s", g_prog.tty ? "\r\033[K" : "",
		pct, done, tot, rate, found, c->http || c->tls ? "ok" : "open",
		inflight, wait, secs, eta, g_prog.tty ? "" : "\n");
	g_prog.shown = g_prog.tty;
	pthread_mutex_unlock(&err_lock);
}

/* Takes the progress line off the terminal (before other text). */
static void progress_clear(void)
{
	if (g_prog.shown)
		fprintf(stderr, "\r\033[K");
	g_prog.shown = false;
}

static void print_probe(const struct rp_probe_info *pi, void *arg)
{
	char a[64];

	(void)arg;
	out_where(pi->addr, pi->addrlen, a, sizeof(a));
	fprintf(stderr, "  #%-8" PRIu64 " %-24s %-11s attempt %u, %.3f s  (%s)\n",
		pi->index, a, pi->phase, pi->attempt, (double)pi->age_us / 1e6,
		pi->input);
}

static void print_counters(const struct rp_stats *st, double secs)
{
	double per_probe = st->completed ? 1.0 / (double)st->completed : 0;

	fprintf(stderr,
		"engine: %s sockets, setup flags 0x%x, %u slots, max in flight %u\n"
		"  SQEs %" PRIu64 ", ring enters %" PRIu64 " (%.3f per probe), "
		"CQEs %" PRIu64 " (%.1f per enter), stale CQEs %" PRIu64 "\n"
		"  connect attempts %" PRIu64 ", other syscalls %" PRIu64
		" (%.3f per probe), %.1f s\n",
		st->direct ? "in-ring direct" : "fallback (syscall)",
		st->setup_flags, st->concurrency, st->max_inflight, st->sqes,
		st->enters, (double)st->enters * per_probe, st->cqes,
		st->enters ? (double)st->cqes / (double)st->enters : 0,
		st->stale_cqes, st->attempts, st->syscalls_other,
		(double)st->syscalls_other * per_probe, secs);
}

static void snap_count(struct snap *sn, const char *phase, uint64_t n)
{
	for (int i = 0; i < SNAP_PHASES; i++) {
		if (!sn->phase[i])
			sn->phase[i] = phase;
		if (!strcmp(sn->phase[i], phase)) {
			sn->by_phase[i] += n;
			return;
		}
	}
}

/* Keeps oldest[] (noldest of at most SNAP_OLDEST) sorted oldest first. */
static void snap_keep(struct snap *sn, const struct snap_probe *p)
{
	int i = sn->noldest < SNAP_OLDEST ? sn->noldest++ : SNAP_OLDEST - 1;

	if (sn->noldest == SNAP_OLDEST && i == SNAP_OLDEST - 1 &&
	    sn->oldest[i].age_us >= p->age_us)
		return;
	while (i > 0 && sn->oldest[i - 1].age_us < p->age_us) {
		sn->oldest[i] = sn->oldest[i - 1];
		i--;
	}
	sn->oldest[i] = *p;
}

static void snap_probe(const struct rp_probe_info *pi, void *arg)
{
	struct worker *w = arg;
	struct snap_probe p = {
		.index = pi->index, .age_us = pi->age_us,
		.attempt = pi->attempt, .phase = pi->phase,
	};

	snap_count(&w->snap, pi->phase, 1);
	if (w->c->snapshot_all) { /* every probe, printed as it is seen */
		print_probe(pi, NULL);
		return;
	}
	out_where(pi->addr, pi->addrlen, p.addr, sizeof(p.addr));
	snprintf(p.input, sizeof(p.input), "%s", pi->input);
	snap_keep(&w->snap, &p);
}

/* A worker's part of a SIGUSR1 snapshot, from its own thread (the
 * engine's); the main thread prints the whole. */
static void snapshot(struct worker *w, struct rp_engine *e, unsigned seq)
{
	memset(&w->snap, 0, sizeof(w->snap));
	rp_engine_stats(e, &w->snap.st);
	w->snap.inflight = w->snap.st.inflight;
	if (w->c->snapshot_all) {
		pthread_mutex_lock(&err_lock);
		progress_clear();
		rp_engine_inflight(e, snap_probe, w);
		pthread_mutex_unlock(&err_lock);
	} else {
		rp_engine_inflight(e, snap_probe, w);
	}
	atomic_store(&w->snap_done, seq);
}

/*
 * The main thread's part: waits (up to a second) for every running worker
 * to answer snapshot seq, then prints the probes in flight by phase, the
 * SNAP_OLDEST oldest of all (--snapshot-all: the workers listed every
 * probe already) and the engines' counters.
 */
static void snapshot_print(unsigned seq)
{
	static struct snap all;
	static struct rp_stats st;
	uint64_t end = now_ns() + 1000000000ull;
	const char *sep = " (";

	for (unsigned i = 0; i < g_nworkers; i++)
		while (atomic_load(&g_workers[i].snap_done) != seq &&
		       !atomic_load(&g_workers[i].done) && now_ns() < end)
			usleep(1000);
	memset(&all, 0, sizeof(all));
	memset(&st, 0, sizeof(st));
	for (unsigned i = 0; i < g_nworkers; i++) {
		struct snap *sn = &g_workers[i].snap;

		if (atomic_load(&g_workers[i].snap_done) != seq)
			continue;
		all.inflight += sn->inflight;
		for (int k = 0; k < SNAP_PHASES && sn->phase[k]; k++)
			snap_count(&all, sn->phase[k], sn->by_phase[k]);
		for (int k = 0; k < sn->noldest; k++)
			snap_keep(&all, &sn->oldest[k]);
		rp_stats_merge(&st, &sn->st);
	}
	pthread_mutex_lock(&err_lock);
	progress_clear();
	fprintf(stderr, "ringprobe snapshot: %u probes in flight", all.inflight);
	for (int k = 0; k < SNAP_PHASES && all.phase[k]; k++) {
		fprintf(stderr, "%s%s %" PRIu64, sep, all.phase[k],
			all.by_phase[k]);
		sep = ", ";
	}
	fprintf(stderr, "%s\n", all.phase[0] ? ")" : "");
	if (all.noldest)
		fprintf(stderr, "oldest %d:\n", all.noldest);
	for (int k = 0; k < all.noldest; k++) {
		const struct snap_probe *p = &all.oldest[k];

		fprintf(stderr, "  #%-8" PRIu64 " %-24s %-11s attempt %u, "
			"%.3f s  (%s)\n", p->index, p->addr, p->phase,
			p->attempt, (double)p->age_us / 1e6, p->input);
	}
	print_counters(&st, (double)(now_ns() - g_start_ns) / 1e9);
	pthread_mutex_unlock(&err_lock);
}

static void summary(const struct cli *c, const struct rp_stats *st,
		    const struct tally *tally, uint64_t results,
		    const uint64_t *by_class,
		    const struct slow *slow, int nslow, double secs,
		    int64_t total)
{
	fprintf(stderr, "\n%" PRIu64 " results in %.2f s (%.0f/s):", results,
		secs, secs > 0 ? (double)results / secs : 0);
	for (int s = 1; s < RP_STATUS__COUNT; s++)
		if (st->by_status[s])
			fprintf(stderr, " %s %" PRIu64, rp_status_name(s),
				st->by_status[s]);
	fputc('\n', stderr);
	fprintf(stderr, "order: %s, seed %" PRIu64, c->no_shuffle ? "input order"
		: "shuffled", c->seed);
	if (c->shards)
		fprintf(stderr, ", shard %" PRIu32 "/%" PRIu32, c->shard,
			c->shards);
	fputc('\n', stderr);
	if (c->http) {
		fprintf(stderr, "http status:");
		for (int k = 1; k < 10; k++)
			if (by_class[k])
				fprintf(stderr, " %dxx %" PRIu64, k, by_class[k]);
		fputc('\n', stderr);
	}
	tally_print(tally);
	if (g_interrupted) {
		if (total >= 0)
			fprintf(stderr, "interrupted: %" PRIu64
				" targets never started\n",
				(uint64_t)total - results);
		else
			fprintf(stderr, "interrupted: %" PRIu64 " targets done; "
				"the rest of the input was never started\n",
				results);
	}
	if (st->rtt_count)
		fprintf(stderr,
			"connect rtt (answered connects): min %" PRIu64
			" us, p50 %" PRIu64 " us, p90 %" PRIu64 " us, p99 %"
			PRIu64 " us, max %" PRIu64 " us\n",
			st->rtt_min_us, rp_stats_percentile(st, 50),
			rp_stats_percentile(st, 90),
			rp_stats_percentile(st, 99), st->rtt_max_us);
	if (nslow) {
		fprintf(stderr, "slowest:");
		for (int i = 0; i < nslow; i++)
			fprintf(stderr, " %s %s %.3f s;", slow[i].addr,
				slow[i].status,
				(double)slow[i].elapsed_us / 1e6);
		fputc('\n', stderr);
	}
	if (c->stats)
		print_counters(st, secs);
}

/* --stats-json: the merged counters as one JSON object. */
static int write_stats_json(const struct cli *c, const struct rp_stats *st,
			    uint64_t results, double secs, unsigned threads,
			    uint64_t excluded)
{
	FILE *f = fopen(c->stats_json, "we");

	if (!f)
		return -errno;
	fprintf(f, "{\"seed\":%" PRIu64 ",\"shuffle\":%s,", c->seed,
		c->no_shuffle ? "false" : "true");
	if (c->shards)
		fprintf(f, "\"shard\":%" PRIu32 ",\"shards\":%" PRIu32 ",",
			c->shard, c->shards);
	fprintf(f, "\"results\":%" PRIu64 ",\"seconds\":%.6f,"
		"\"probes_per_s\":%.1f,\"threads\":%u,\"concurrency\":%u,"
		"\"direct\":%s,\"setup_flags\":%u,\"by_status\":{",
		results, secs, secs > 0 ? (double)results / secs : 0, threads,
		st->concurrency, st->direct ? "true" : "false",
		st->setup_flags);
	for (int s = 1; s < RP_STATUS__COUNT; s++)
		fprintf(f, "%s\"%s\":%" PRIu64, s > 1 ? "," : "",
			rp_status_name(s), st->by_status[s]);
	fprintf(f, "},\"sqes\":%" PRIu64 ",\"enters\":%" PRIu64
		",\"cqes\":%" PRIu64 ",\"stale_cqes\":%" PRIu64
		",\"attempts\":%" PRIu64 ",\"syscalls_other\":%" PRIu64
		",\"max_inflight\":%u,\"excluded_in_ranges\":%" PRIu64
		",\"rtt_us\":{\"count\":%" PRIu64
		",\"min\":%" PRIu64 ",\"p50\":%" PRIu64 ",\"p90\":%" PRIu64
		",\"p99\":%" PRIu64 ",\"max\":%" PRIu64 "}}\n",
		st->sqes, st->enters, st->cqes, st->stale_cqes, st->attempts,
		st->syscalls_other, st->max_inflight, excluded, st->rtt_count,
		st->rtt_min_us, rp_stats_percentile(st, 50),
		rp_stats_percentile(st, 90), rp_stats_percentile(st, 99),
		st->rtt_max_us);
	return fclose(f) == 0 ? 0 : -errno;
}

/* ---- workers ----------------------------------------------------------- */

static void source_ready(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < g_nworkers; i++) {
		struct rp_engine *e = atomic_load(&g_workers[i].e);

		if (e)
			rp_engine_wake(e);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct rp_engine *e;
	struct rp_stats st;
	int ret;

	/* The ring belongs to the thread that creates it. */
	ret = rp_engine_create_ex(&e, &w->eo, sizeof(w->eo), w->err,
				  sizeof(w->err));
	if (ret < 0) {
		w->ret = ret;
		/* The others stop too: the run failed. Before we say we are
		 * done, or their engines could be released under us. */
		stop_all();
		worker_finished(w);
		return NULL;
	}
	atomic_store(&w->e, e);
	if (g_interrupted)
		rp_engine_stop(e);
	rp_engine_set_source(e, rp_source_next, w->src);
	uint64_t flushed = now_ns();
	/* Results go out within FLUSH_MS of their completion: a write per
	 * turn would be a syscall per few probes at high rates. */
	while ((ret = rp_engine_run(e, w->out.len ? FLUSH_MS : TURN_MS)) > 0) {
		uint64_t now = now_ns();

		if (w->out.len >= FLUSH_BYTES ||
		    (w->out.len && now - flushed >= FLUSH_MS * 1000000ull)) {
			out_flush(&w->out);
			flushed = now;
		}
		if (w->c->progress) { /* only the progress line reads it */
			rp_engine_stats(e, &st);
			atomic_store_explicit(&w->inflight, st.inflight,
					      memory_order_relaxed);
			atomic_store_explicit(&w->waiting,
					      st.host_waiting,
					      memory_order_relaxed);
		}
		unsigned seq = atomic_load(&g_snapshot_seq);
		if (seq != w->snap_seen) {
			w->snap_seen = seq;
			snapshot(w, e, seq);
		}
	}
	out_flush(&w->out);
	w->ret = ret;
	rp_engine_stats(e, &w->st);
	worker_finished(w);

	pthread_mutex_lock(&release_lock);
	while (!g_release)
		pthread_cond_wait(&release_cond, &release_lock);
	pthread_mutex_unlock(&release_lock);
	atomic_store(&w->e, NULL);
	rp_engine_destroy(e);
	return NULL;
}

static void discard_result(const struct rp_result *r, void *arg)
{
	(void)r;
	(void)arg;
}

/* Whether this kernel lets the engine keep its sockets in the ring's own
 * file table (rp_stats.direct): asks a one-slot engine. */
static bool sockets_direct(void)
{
	struct rp_engine_opts o = { .concurrency = 1,
				    .on_result = discard_result };
	struct rp_engine *e;
	struct rp_stats st;

	if (rp_engine_create(&e, &o) < 0)
		return false;
	rp_engine_stats(e, &st);
	rp_engine_destroy(e);
	return st.direct;
}

/*
 * Raises RLIMIT_NOFILE's soft limit to what the concurrency needs. When the
 * hard limit is too low for it, a concurrency the user did not ask for is
 * lowered to fit (saying so); one asked for with -c is refused.
 *
 * Sockets in a ring's own file table (direct descriptors, when the kernel
 * has them) take no descriptor of the process: the limit bounds each
 * ring's table instead, so the threads together hold threads x the limit.
 * Otherwise every socket is a descriptor of the process.
 */
static int raise_nofile(uint32_t *concurrency, unsigned threads,
			bool explicit_c, bool quiet)
{
	struct rlimit rl;
	rlim_t room = FD_RESERVE + (rlim_t)threads * ENGINE_FD_RESERVE;
	rlim_t need = (rlim_t)*concurrency + room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		rlim_t fit = rl.rlim_max > room ? rl.rlim_max - room : 0;
		rlim_t per = rl.rlim_max - ENGINE_FD_RESERVE;

		if (rl.rlim_max <= room) {
			fprintf(stderr, "%s: the RLIMIT_NOFILE hard limit %llu "
				"is too low: %u threads need %llu descriptors "
				"of their own before any probe (ulimit -Hn, "
				"limits.conf)\n", prog,
				(unsigned long long)rl.rlim_max, threads,
				(unsigned long long)room + 1);
			return -EMFILE;
		}
		/* the probe engine needs its own room: ask at the limit */
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		if (sockets_direct()) {
			/* each engine's table: its share and its reserve */
			rlim_t share = (*concurrency + threads - 1) / threads;

			if (share <= per) {
				need = rl.rlim_max;
				goto raise;
			}
			fit = per * threads;
		}
		if (explicit_c || fit < threads) {
			fprintf(stderr,
				"%s: concurrency %u does not fit: the "
				"RLIMIT_NOFILE hard limit is %llu: raise it "
				"(ulimit -Hn, limits.conf) or use -c %llu or "
				"less\n", prog, *concurrency,
				(unsigned long long)rl.rlim_max,
				(unsigned long long)fit);
			return -EMFILE;
		}
		if (!quiet)
			fprintf(stderr, "%s: concurrency %llu, not %u: the "
				"RLIMIT_NOFILE hard limit is %llu (ulimit -Hn)\n",
				prog, (unsigned long long)fit, *concurrency,
				(unsigned long long)rl.rlim_max);
		*concurrency = (uint32_t)fit;
		need = rl.rlim_max;
	}
raise:
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		fprintf(stderr, "%s: cannot raise RLIMIT_NOFILE to %llu: %s\n",
			prog, (unsigned long long)need, strerror(errno));
		return -errno;
	}
	return 0;
}

static unsigned cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	return 1;
}

/* The port list the source gets. */
static const char *source_ports(const struct cli *c)
{
	return c->ports	      ? c->ports
	       : c->top_ports ? NULL /* --top-ports alone */
	       : c->http      ? "80"
	       : c->tls	      ? "443"
			      : NULL;
}

static int open_source(struct cli *c, struct rp_source **src, int nargs,
		       char **args)
{
	char err[400] = "";
	bool deflt = !c->ports && !c->top_ports; /* no port list given */
	struct rp_source_opts so = {
		.ports = source_ports(c),
		.scheme = c->scheme,
		/* tcp's default is nmap's top 100; without nmap's table a
		 * target that needs it says so (top_ports_soft) */
		.top_ports = c->top_ports ? c->top_ports
			     : deflt && !c->http && !c->tls ? DEFAULT_TOP_PORTS
							    : 0,
		.top_ports_soft = !c->top_ports,
		.services = getenv("RINGPROBE_NMAP_SERVICES"),
		.exclude_ports = c->exclude_ports,
		.exclude = c->exclude,
		.no_resolve = c->no_resolve,
	};
	int ret;

	order_source_opts(c, &so);

	if (g_resume)
		resume_source_opts(g_resume, &so);
	ret = rp_source_create(src, &so, err, sizeof(err));

	if (ret < 0 && c->top_ports && (!c->ports || strstr(err, "nmap")))
		return die_usage("--top-ports %u: %s", c->top_ports,
				 err[0] ? err : rp_strerror(ret));
	if (ret < 0)
		return die_usage("bad --ports: %s",
				 err[0] ? err : rp_strerror(ret));
	for (int i = 0; i < nargs; i++)
		if (rp_source_add_arg(*src, args[i]) < 0) {
			fprintf(stderr, "%s: out of memory\n", prog);
			return EXIT_RUNTIME;
		}
	for (int i = 0; i < c->ninputs; i++) {
		ret = rp_source_add_file(*src, c->inputs[i]);
		if (ret < 0) {
			fprintf(stderr, "%s: cannot read targets from '%s': %s\n",
				prog, c->inputs[i], rp_strerror(ret));
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/* How many ports a -p list names ("22,80,8000-8100", "-" = all). */
static uint64_t count_ports(const char *list)
{
	uint64_t n = 0;

	while (list && *list) {
		size_t len = strcspn(list, ",");
		unsigned long a = 1, b = 65535;
		char *end;

		if (len == 1 && list[0] == '-') {
			n += 65535;
		} else {
			a = strtoul(list, &end, 10);
			if (end != list && *end == '-')
				b = strtoul(end + 1, &end, 10);
			else
				b = a;
			n += b >= a ? b - a + 1 : 1;
		}
		list += len + (list[len] == ',');
	}
	return n;
}

/* What XML's prolog says: the command line, the ports, the start. */
static void run_info(const struct cli *c, struct out_run *run, char *cmd,
		     size_t size)
{
	size_t len = 0;

	cmd[0] = '\0';
	for (int i = 0; i < c->argc && len + 1 < size; i++)
		len += (size_t)snprintf(cmd + len, size - len, "%s%s",
					i ? " " : "", c->argv[i]);
	run->args = cmd;
	run->ports = c->ports ? c->ports : "";
	run->nports = count_ports(c->ports);
	run->start_ms = out_now_ms();
}

static void engine_error(int ret, const char *detail)
{
	const char *why = "";

	switch (ret) {
	case -EMFILE:
		why = " (concurrency above RLIMIT_NOFILE)";
		break;
	case -EINVAL:
	case -E2BIG:
		break;
	case -EPERM: /* from io_uring_setup(2) */
		why = ": io_uring is not permitted here (disabled by "
		      "/proc/sys/kernel/io_uring_disabled, or blocked by a "
		      "seccomp policy, as container runtimes do by default; "
		      "see docs/SCALE-OUT.md for a profile that allows it)";
		break;
	case -ENOSYS:
		why = ": this kernel has no io_uring";
		break;
	}
	fprintf(stderr, "%s: cannot start the engine: %s%s%s%s\n", prog,
		rp_strerror(ret), why, detail[0] ? ": " : "", detail);
}

/*
 * Per-host limits are kept by each engine for its own probes, so over n
 * engines the cap is shared out (each engine at least 1: so no more
 * engines than the cap), and a host delay, which engines could not keep
 * between them, runs one engine. --max-handshakes is shared out the same
 * way. Returns the number of engines.
 */
static unsigned capped_threads(struct cli *c, unsigned n)
{
	c->eo.max_per_host = c->max_per_host < 0 ? DEFAULT_MAX_PER_HOST
						 : (uint32_t)c->max_per_host;
	if (c->eo.host_delay_ns)
		return 1;
	if (c->eo.max_per_host && n > c->eo.max_per_host)
		n = c->eo.max_per_host;
	if (c->eo.max_handshakes && n > c->eo.max_handshakes)
		n = c->eo.max_handshakes;
	return n;
}

int cli_scan(struct cli *c, int nargs, char **args)
{
	struct rp_source *src = NULL;
	struct rp_dns_cache *names = NULL;
	static struct out_run run;
	static char cmdline[4096];
	int fd = STDOUT_FILENO, rc;
	unsigned n = 0;
	sigset_t sigs, old;

	if (nargs == 0 && c->ninputs == 0)
		return die_usage("%s", "no targets: give TARGET arguments or "
				 "-i FILE ('-i -' reads stdin)");
	if (c->format == OUT_XML && (c->http || c->tls))
		return die_usage("%s", "-f xml (nmap's XML format) is for tcp "
				 "scans; use -f jsonl or csv here");
	services_load(NULL);
	if (c->resume) {
		struct resume_order ord = { .explicit_seed = c->seed_set,
					    .seed = c->seed,
					    .shard = c->shard,
					    .shards = c->shards };

		rc = resume_open(&g_resume, c, source_ports(c), nargs, args,
				 &ord, &fd);
		if (rc != EXIT_OK)
			return rc;
		c->seed = ord.seed; /* the state's, when continuing a run */
		if (resume_complete(g_resume)) {
			if (!c->quiet)
				fprintf(stderr, "%s: the run kept in '%s' is "
					"complete: nothing to do\n", prog,
					c->resume);
			resume_close(g_resume);
			g_resume = NULL;
			return EXIT_OK;
		}
	}
	rc = open_source(c, &src, nargs, args);
	if (rc != EXIT_OK)
		goto out_source;
	bool explicit_c = c->eo.concurrency != 0;
	if (!explicit_c)
		c->eo.concurrency = DEFAULT_CONCURRENCY;
	n = c->threads ? c->threads : cpus();
	if (n > c->eo.concurrency)
		n = c->eo.concurrency;
	/* The rate is shared exactly: no thread may get less than one probe
	 * per second (rounding that up broke the total), so a rate below the
	 * thread count runs on fewer threads. */
	if (c->eo.rate && n > c->eo.rate) {
		if (c->threads && !c->quiet)
			fprintf(stderr, "%s: --rate %u runs on %u threads, not "
				"%u: each starts one probe per second at least\n",
				prog, c->eo.rate, c->eo.rate, n);
		n = c->eo.rate;
	}
	n = capped_threads(c, n);
	if (raise_nofile(&c->eo.concurrency, n, explicit_c, c->quiet) < 0) {
		rc = EXIT_USAGE;
		goto out_source;
	}
	if (n > c->eo.concurrency)
		n = c->eo.concurrency;
	if (c->output && !g_resume) {
		fd = open(c->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			  0644);
		if (fd < 0) {
			fprintf(stderr, "%s: cannot write '%s': %s\n", prog,
				c->output, strerror(errno));
			rc = EXIT_RUNTIME;
			goto out_source;
		}
	}
	g_workers = calloc(n, sizeof(*g_workers));
	if (!g_workers || rp_dns_cache_create(&names, 0) < 0) {
		rc = EXIT_RUNTIME;
		goto out_workers;
	}
	c->eo.dns.shared = names; /* each name resolved once, not per thread */
	c->eo.exclude = c->exclude; /* every connect is checked */
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = &g_workers[i];

		w->c = c;
		w->src = src;
		w->eo = c->eo;
		/* Split concurrency and rate; the first engines take the
		 * remainders. */
		w->eo.concurrency = c->eo.concurrency / n +
				    (i < c->eo.concurrency % n);
		w->eo.rate = c->eo.rate / n + (i < c->eo.rate % n);
		/* Per-host limits hold over all engines: the cap is shared
		 * out exactly (capped_threads() made n <= the cap). */
		w->eo.max_per_host = c->eo.max_per_host / n +
				     (i < c->eo.max_per_host % n);
		if (c->eo.max_handshakes) /* else the engine's default */
			w->eo.max_handshakes = c->eo.max_handshakes / n +
					       (i < c->eo.max_handshakes % n);
		if (c->eo.dns.concurrency) {
			w->eo.dns.concurrency = c->eo.dns.concurrency / n +
						(i < c->eo.dns.concurrency % n);
			if (!w->eo.dns.concurrency)
				w->eo.dns.concurrency = 1;
		} else {
			w->eo.dns.concurrency = (64 + n - 1) / n; /* 64 in all */
		}
		w->eo.on_result = on_result;
		w->eo.arg = w;
		if (out_init(&w->out, fd, c->format,
			     (c->only_open ? OUT_ONLY_OPEN : 0) |
				     (c->all ? OUT_ALL : 0) |
				     (c->http ? OUT_HTTP | OUT_TLS : 0) |
				     (c->tls ? OUT_TLS : 0) |
				     (c->banner ? OUT_BANNER : 0)) < 0) {
			fprintf(stderr, "%s: out of memory\n", prog);
			rc = EXIT_RUNTIME;
			goto out_workers;
		}
		w->out.lock = &out_lock;
		w->out.run = &run;
		if (g_resume) {
			w->pending = calloc(PENDING_MAX, sizeof(*w->pending));
			if (!w->pending) {
				rc = EXIT_RUNTIME;
				goto out_workers;
			}
			w->out.written = on_written;
			w->out.written_arg = w;
		}
	}
	g_nworkers = n;
	rp_source_set_notify(src, source_ready, NULL);
	g_prog.tty = isatty(STDERR_FILENO);
	if (c->progress < 0)
		c->progress = g_prog.tty;

	run_info(c, &run, cmdline, sizeof(cmdline));
	if (!g_resume || !resume_appending(g_resume))
		out_header(&g_workers[0].out);
	out_flush(&g_workers[0].out);
	/* from here on the output holds what the state says it does */
	if (g_resume && resume_save(g_resume, &out_lock, false) < 0) {
		rc = EXIT_RUNTIME;
		goto out_workers;
	}
	g_start_ns = now_ns();
	g_done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* Workers inherit a mask that blocks the signals the main thread
	 * handles. */
	handled_signals(&sigs);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	unsigned started = 0;
	for (; started < n; started++)
		if (pthread_create(&g_workers[started].th, NULL, worker_main,
				   &g_workers[started]))
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (started < n) {
		fprintf(stderr, "%s: cannot start threads\n", prog);
		stop_all();
		for (unsigned i = started; i < n; i++)
			atomic_store(&g_workers[i].done, true);
		rc = EXIT_RUNTIME;
	}

	/* The main thread waits, shows progress, and takes the signals. */
	unsigned snap_seen = 0;
	for (;;) {
		bool all = true;

		for (unsigned i = 0; i < n; i++)
			all = all && atomic_load(&g_workers[i].done);
		if (all)
			break;
		/* Until a worker finishes, a signal comes (EINTR), or it is
		 * time for the progress line. */
		struct pollfd pfd = { .fd = g_done_fd, .events = POLLIN };
		eventfd_t ignored;

		if (poll(&pfd, 1, c->progress || g_done_fd < 0 ? 50
				  : g_resume			? 250
								: -1) > 0)
			eventfd_read(g_done_fd, &ignored);
		if (g_resume)
			resume_tick(g_resume, &out_lock);
		unsigned seq = atomic_load(&g_snapshot_seq);
		if (seq != snap_seen) {
			snap_seen = seq;
			snapshot_print(seq);
		}
		if (c->progress && now_ns() - g_start_ns > 250000000ull)
			progress_line(c, src);
	}
	/* Engines go away next: no signal handler and no call from the
	 * source's reader may touch them from now on. The reader may still
	 * be streaming input (a stop while stdin flows, `... | head`). */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	rp_source_set_notify(src, NULL, NULL);
	pthread_mutex_lock(&release_lock);
	g_release = true;
	pthread_cond_broadcast(&release_cond);
	pthread_mutex_unlock(&release_lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(g_workers[i].th, NULL);
	if (g_done_fd >= 0) {
		close(g_done_fd);
		g_done_fd = -1;
	}
	progress_clear();

	/* Everything from every engine. */
	static struct rp_stats st;
	static struct tally tally;
	uint64_t results = 0, invalid = 0, by_class[10] = { 0 }, hosts = 0;
	uint64_t hidden[RP_STATUS__COUNT] = { 0 };
	struct slow slow[SLOWEST_MAX];
	int nslow = 0, fail = 0, out_err = 0;
	const char *fail_why = "";
	memset(&st, 0, sizeof(st));
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = &g_workers[i];

		rp_stats_merge(&st, &w->st);
		results += atomic_load(&w->results);
		invalid += w->invalid;
		for (int k = 0; k < 10; k++)
			by_class[k] += w->by_class[k];
		tally_merge(&tally, &w->tally);
		for (int k = 0; k < RP_STATUS__COUNT; k++)
			hidden[k] += w->out.hidden[k];
		hosts += w->out.hosts;
		for (int k = 0; k < w->nslow; k++)
			add_slow(slow, &nslow, &w->slowest[k]);
		if (w->ret < 0 && !fail) {
			fail = w->ret;
			fail_why = w->err;
		}
		if (w->out.err && !out_err)
			out_err = w->out.err;
	}
	/* Text's "Not shown" line, XML's closing elements. */
	out_footer(&g_workers[0].out, hidden, hosts, g_interrupted);
	out_flush(&g_workers[0].out);
	if (g_workers[0].out.err && !out_err)
		out_err = g_workers[0].out.err;
	double secs = (double)(now_ns() - g_start_ns) / 1e9;
	if (fail) {
		if (!st.concurrency) /* no engine got going */
			engine_error(fail, fail_why);
		else
			fprintf(stderr, "%s: engine failure: %s\n", prog,
				rp_strerror(fail));
		rc = EXIT_RUNTIME;
	}
	int64_t total = rp_source_total(src);
	if (g_resume && total >= 0) /* the rest of them: this run's part */
		total -= (int64_t)resume_before(g_resume);
	if (c->summary)
		summary(c, &st, &tally, results, by_class, slow, nslow, secs,
			total);
	if (c->summary && g_resume && resume_appending(g_resume))
		fprintf(stderr, "resumed: %" PRIu64 " targets were done before "
			"this run\n", resume_before(g_resume));
	if (c->summary && (c->exclude || c->exclude_ports))
		fprintf(stderr, "excluded %" PRIu64 " targets in ranges (an "
			"excluded address or port: not probed, no result)\n",
			rp_source_excluded(src));
	if (c->stats_json) {
		int ret = write_stats_json(c, &st, results, secs, n,
					   rp_source_excluded(src));

		if (ret < 0) {
			fprintf(stderr, "%s: cannot write '%s': %s\n", prog,
				c->stats_json, rp_strerror(ret));
			if (rc == EXIT_OK)
				rc = EXIT_RUNTIME;
		}
	}
	if (rp_source_error(src)) {
		/* The lines read before it were probed, the files after it
		 * too: the run is complete but for that file's rest. */
		fprintf(stderr, "%s: reading targets from '%s' failed: %s\n",
			prog, rp_source_error_file(src),
			rp_strerror(rp_source_error(src)));
		if (rc == EXIT_OK)
			rc = EXIT_USAGE;
	}
	if (rc == EXIT_OK && invalid)
		rc = EXIT_INVALID;
	if (g_resume) {
		bool complete = !g_interrupted && !fail && !out_err &&
				!rp_source_error(src);

		if (resume_save(g_resume, &out_lock, complete) < 0) {
			if (rc == EXIT_OK)
				rc = EXIT_RUNTIME;
		} else if (!complete && !c->quiet) {
			fprintf(stderr, "%s: state kept in '%s': the same "
				"command continues the run\n", prog, c->resume);
		}
	}
	if (g_interrupted)
		rc = EXIT_INTERRUPTED;
	else if (out_err && out_err != -EPIPE) {
		fprintf(stderr, "%s: writing results to %s%s%s failed: %s\n",
			prog, c->output ? "'" : "",
			c->output ? c->output : "standard output",
			c->output ? "'" : "", rp_strerror(out_err));
		rc = EXIT_RUNTIME;
	}

out_workers:
	for (unsigned i = 0; g_workers && i < n; i++)
		out_release(&g_workers[i].out);
	rp_dns_cache_destroy(names);
out_source:
	if (fd != STDOUT_FILENO)
		close(fd);
	resume_close(g_resume);
	g_resume = NULL;
	/* Joins the reader first: source_ready() reads g_workers. */
	rp_source_destroy(src);
	g_nworkers = 0;
	for (unsigned i = 0; g_workers && i < n; i++)
		free(g_workers[i].pending);
	free(g_workers);
	g_workers = NULL;
	return rc;
}
