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

#include "scan.h"
#include "tally.h"
#include "util.h"

#define SLOWEST_MAX 5
#define FD_RESERVE 32        /* descriptors kept for everything but sockets */
#define ENGINE_FD_RESERVE 16 /* what rp_engine_create() keeps per engine */
#define TURN_MS 200
#define FLUSH_MS 5            /* longest a result waits in the buffer */
#define FLUSH_BYTES (32 * 1024)

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
	_Atomic uint32_t inflight;
	_Atomic bool done;
	uint64_t invalid;
	uint64_t by_class[10];        /* HTTP results by status class */
	struct tally tally;           /* TLS versions, verdicts, expiries */
	struct slow slowest[SLOWEST_MAX];
	int nslow;
	unsigned snap_seen;
	int ret;                      /* engine create/run failure */
	char err[200];                /* why create failed, or "" */
	struct rp_stats st;           /* final counters */
};

static struct worker *g_workers;
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

static void on_result(const struct rp_result *r, void *arg)
{
	struct worker *w = arg;
	struct cli *c = w->c;

	atomic_fetch_add_explicit(&w->results, 1, memory_order_relaxed);
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
	if (c->match_status && !status_listed(c->match_status, r))
		return;
	if (c->filter_status && status_listed(c->filter_status, r))
		return;
	if (c->expiring >= 0 && (!r->tls || !r->tls->has_cert ||
				 r->tls->days_left > c->expiring))
		return;
	out_result(&w->out, r); /* drops non-open ones under --open */
	/* stdout closed: end quietly. Not once this worker is done (results
	 * from rp_engine_destroy()): other engines may be going away. */
	if (w->out.err && !atomic_load(&w->done))
		stop_all();
}

/* ---- progress, snapshot, summary --------------------------------------- */

static uint64_t total_results(void)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < g_nworkers; i++)
		n += atomic_load_explicit(&g_workers[i].results,
					  memory_order_relaxed);
	return n;
}

static void progress_line(struct rp_source *src)
{
	double secs = (double)(now_ns() - g_start_ns) / 1e9;
	int64_t total = rp_source_total(src);
	uint64_t done = total_results();
	uint32_t inflight = 0;
	char tot[32] = "?", eta[32] = "?";

	for (unsigned i = 0; i < g_nworkers; i++)
		inflight += atomic_load_explicit(&g_workers[i].inflight,
						 memory_order_relaxed);
	double rate = secs > 0 ? (double)done / secs : 0;
	if (total >= 0) {
		snprintf(tot, sizeof(tot), "%" PRId64, total);
		if (rate > 0 && (uint64_t)total >= done)
			snprintf(eta, sizeof(eta), "%.0fs",
				 (double)((uint64_t)total - done) / rate);
	}
	pthread_mutex_lock(&err_lock);
	fprintf(stderr,
		"\r\033[K%" PRIu64 "/%s done, %.0f/s, %u in flight, %.1fs, ETA %s",
		done, tot, rate, inflight, secs, eta);
	pthread_mutex_unlock(&err_lock);
}

static void progress_clear(void)
{
	fprintf(stderr, "\r\033[K");
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

/* A worker's part of a SIGUSR1 snapshot, from its own thread. */
static void snapshot(struct worker *w, struct rp_engine *e)
{
	struct rp_stats st;

	rp_engine_stats(e, &st);
	pthread_mutex_lock(&err_lock);
	fprintf(stderr, "\r\033[Kringprobe snapshot (engine %u): %u probes in "
		"flight\n", (unsigned)(w - g_workers), st.inflight);
	rp_engine_inflight(e, print_probe, NULL);
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
static int write_stats_json(const char *path, const struct rp_stats *st,
			    uint64_t results, double secs, unsigned threads)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fprintf(f, "{\"results\":%" PRIu64 ",\"seconds\":%.6f,"
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
		",\"max_inflight\":%u,\"rtt_us\":{\"count\":%" PRIu64
		",\"min\":%" PRIu64 ",\"p50\":%" PRIu64 ",\"p90\":%" PRIu64
		",\"p99\":%" PRIu64 ",\"max\":%" PRIu64 "}}\n",
		st->sqes, st->enters, st->cqes, st->stale_cqes, st->attempts,
		st->syscalls_other, st->max_inflight, st->rtt_count,
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
		}
		unsigned seq = atomic_load(&g_snapshot_seq);
		if (seq != w->snap_seen) {
			w->snap_seen = seq;
			snapshot(w, e);
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

/*
 * Raises RLIMIT_NOFILE's soft limit to what the concurrency needs. When the
 * hard limit is too low for it, a concurrency the user did not ask for is
 * lowered to fit (saying so); one asked for with -c is refused.
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

		if (explicit_c || fit < threads) {
			fprintf(stderr,
				"%s: concurrency %u needs %llu file descriptors, "
				"but the RLIMIT_NOFILE hard limit is %llu: raise "
				"it (ulimit -Hn, limits.conf) or use -c %llu or "
				"less\n", prog, *concurrency,
				(unsigned long long)need,
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

static int open_source(struct cli *c, struct rp_source **src, int nargs,
		       char **args)
{
	char err[256] = "";
	struct rp_source_opts so = {
		.ports = c->ports ? c->ports
			 : c->http ? "80"
			 : c->tls  ? "443"
				   : NULL,
		.scheme = c->scheme,
		.no_resolve = c->no_resolve,
	};
	int ret = rp_source_create(src, &so, err, sizeof(err));

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
		      "seccomp policy, as container runtimes do by default)";
		break;
	case -ENOSYS:
		why = ": this kernel has no io_uring";
		break;
	}
	fprintf(stderr, "%s: cannot start the engine: %s%s%s%s\n", prog,
		rp_strerror(ret), why, detail[0] ? ": " : "", detail);
}

int cli_scan(struct cli *c, int nargs, char **args)
{
	struct rp_source *src = NULL;
	struct rp_dns_cache *names = NULL;
	int fd = STDOUT_FILENO, rc;
	unsigned n;
	sigset_t sigs, old;

	if (nargs == 0 && c->ninputs == 0)
		return die_usage("%s", "no targets: give TARGET arguments or "
				 "-i FILE ('-i -' reads stdin)");
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
	if (raise_nofile(&c->eo.concurrency, n, explicit_c, c->quiet) < 0) {
		rc = EXIT_USAGE;
		goto out_source;
	}
	if (n > c->eo.concurrency)
		n = c->eo.concurrency;
	if (c->output) {
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
				     (c->http ? OUT_HTTP | OUT_TLS : 0) |
				     (c->tls ? OUT_TLS : 0) |
				     (c->banner ? OUT_BANNER : 0)) < 0) {
			fprintf(stderr, "%s: out of memory\n", prog);
			rc = EXIT_RUNTIME;
			goto out_workers;
		}
		w->out.lock = &out_lock;
	}
	g_nworkers = n;
	rp_source_set_notify(src, source_ready, NULL);
	if (c->progress < 0)
		c->progress = isatty(STDERR_FILENO);

	out_header(&g_workers[0].out);
	out_flush(&g_workers[0].out);
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
	bool shown = false;
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

		if (poll(&pfd, 1, c->progress || g_done_fd < 0 ? 50 : -1) > 0)
			eventfd_read(g_done_fd, &ignored);
		if (c->progress && now_ns() - g_start_ns > 250000000ull) {
			progress_line(src);
			shown = true;
		}
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
	if (shown)
		progress_clear();

	/* Everything from every engine. */
	static struct rp_stats st;
	static struct tally tally;
	uint64_t results = 0, invalid = 0, by_class[10] = { 0 };
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
		for (int k = 0; k < w->nslow; k++)
			add_slow(slow, &nslow, &w->slowest[k]);
		if (w->ret < 0 && !fail) {
			fail = w->ret;
			fail_why = w->err;
		}
		if (w->out.err && !out_err)
			out_err = w->out.err;
	}
	double secs = (double)(now_ns() - g_start_ns) / 1e9;
	if (fail) {
		if (!st.concurrency) /* no engine got going */
			engine_error(fail, fail_why);
		else
			fprintf(stderr, "%s: engine failure: %s\n", prog,
				rp_strerror(fail));
		rc = EXIT_RUNTIME;
	}
	if (c->summary)
		summary(c, &st, &tally, results, by_class, slow, nslow, secs,
			rp_source_total(src));
	if (c->stats_json) {
		int ret = write_stats_json(c->stats_json, &st, results, secs, n);

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
	if (fd != STDOUT_FILENO)
		close(fd);
out_source:
	/* Joins the reader first: source_ready() reads g_workers. */
	rp_source_destroy(src);
	g_nworkers = 0;
	free(g_workers);
	g_workers = NULL;
	return rc;
}
