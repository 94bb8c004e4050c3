/*
 * main.c - the ringprobe command line: argument parsing, signals, the
 * progress line, the summary, and the loop over rp_engine_run().
 *
 * The CLI uses only the public header: if it needs something from the
 * engine, that becomes API. Results are formatted as they arrive and
 * written once per loop turn (out_flush), so output is prompt without a
 * write per result.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "ringprobe.h"

#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130
#define DEFAULT_CONCURRENCY 4096
#define SLOWEST_MAX 5
#define FD_RESERVE 32 /* descriptors kept for everything but sockets */

struct slow {
	uint64_t elapsed_us;
	char addr[64];
	char status[16];
};

struct cli {
	/* options */
	const char *ports;
	const char **inputs;
	int ninputs;
	struct rp_engine_opts eo;
	enum out_format format;
	const char *output;
	bool only_open;
	int progress; /* -1 auto, 0 off, 1 on */
	bool summary;
	bool stats;
	bool quiet;
	bool http;                    /* `ringprobe http` */
	const char **headers;         /* -H lines, NULL-terminated */
	int nheaders;
	uint8_t *match_status;        /* --match-status bitmap of 0..999 */
	uint8_t *filter_status;       /* --filter-status bitmap */
	uint64_t by_class[10];        /* HTTP results by status class */
	/* run state */
	struct out out;
	struct rp_source *src;
	uint64_t results;
	uint64_t invalid;
	uint64_t start_ns;
	struct slow slowest[SLOWEST_MAX];
	int nslow;
	bool progress_shown;
};

static struct rp_engine *volatile g_engine;
static volatile sig_atomic_t g_interrupted;
static volatile sig_atomic_t g_snapshot;

static const char *prog = "ringprobe";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s tcp [options] [TARGET...]\n"
		"       %s http [options] [TARGET...]\n"
		"       %s demo [options]\n"
		"\n"
		"Probes TCP ports (tcp) or fetches one HTTP/1.1 response per target\n"
		"(http) with io_uring, printing one result per target as each probe\n"
		"completes. TARGET: IP, HOST, IP:PORT, HOST:PORT, [IPv6]:PORT, CIDR,\n"
		"or a URL http://HOST[:PORT]/PATH.\n"
		"\n"
		"  -p, --ports LIST         ports for targets without one (22,80,8000-8100)\n"
		"  -i, --input FILE         read targets from FILE, one per line ('-' = stdin)\n"
		"  -c, --concurrency N      probes in flight (default %d)\n"
		"  -r, --rate N             new probes per second (0 = unlimited, default)\n"
		"      --connect-timeout D  per connect attempt (default 1s; e.g. 500ms)\n"
		"      --timeout D          overall per probe, retries included (default 5s)\n"
		"      --retries N          re-probe filtered targets N more times (default 0)\n"
		"  -f, --format F           text | jsonl | csv (default text)\n"
		"  -o, --output FILE        write results to FILE instead of stdout\n"
		"      --open               print only open results\n"
		"      --progress           live progress line on stderr (default: if a tty)\n"
		"      --no-progress        no progress line\n"
		"      --summary            counts, latency and slowest targets on stderr\n"
		"      --stats              engine counters in the summary (implies --summary)\n"
		"  -q, --quiet              no progress, summary or per-line diagnostics\n"
		"\nnames (hostname targets):\n"
		"      --resolver LIST      DNS servers IP[:PORT],[IPv6]:PORT (default\n"
		"                           /etc/resolv.conf)\n"
		"      --dns-timeout D      per try (default 2s)\n"
		"      --dns-retries N      extra tries per server (default 1)\n"
		"      --dns-concurrency N  lookups in flight (default 64)\n"
		"  -4, -6                   only IPv4 / only IPv6 addresses\n"
		"      --no-hosts           do not read /etc/hosts\n"
		"\nhttp only:\n"
		"      --path PATH          request target for non-URL targets (default /)\n"
		"      --method M           request method (default GET; HEAD reads no body)\n"
		"  -H, --header 'N: V'      extra request header (repeatable)\n"
		"      --user-agent UA      User-Agent (default ringprobe/VERSION)\n"
		"      --max-body N         body bytes read at most (default 1M; k/M/G)\n"
		"      --max-header N       status line + headers at most (default 64k)\n"
		"      --read-timeout D     per send/receive (default: up to --timeout)\n"
		"      --match-status LIST  print only these HTTP statuses (200,300-399)\n"
		"      --filter-status LIST do not print these HTTP statuses\n"
		"  -h, --help               this help\n"
		"  -V, --version            print the version\n"
		"\n"
		"Exit: 0 done, 1 runtime failure, 2 usage or input error, 130 interrupted.\n"
		"SIGUSR1 or SIGQUIT prints the probes in flight and the counters.\n",
		prog, prog, prog, DEFAULT_CONCURRENCY);
}

__attribute__((format(printf, 1, 2)))
static int die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	return EXIT_USAGE;
}

/* Strict unsigned parse: digits only, within max. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Bytes with an optional binary suffix: 512, 64k, 1M, 2G. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	uint64_t mul = 1;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	switch (*end) {
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	default: break;
	}
	if (*end || v > (1ull << 40) / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

/* "200,301-308" into a bitmap of status codes 100..999. */
static int parse_status_list(const char *s, uint8_t **bitmap)
{
	uint8_t *b = *bitmap ? *bitmap : calloc(1000, 1);
	const char *p = s;

	if (!b)
		return -ENOMEM;
	*bitmap = b;
	for (;;) {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;

		if (end == p || lo < 100 || lo > 999)
			return -EINVAL;
		p = end;
		if (*p == '-') {
			hi = strtoul(++p, &end, 10);
			if (end == p || hi < lo || hi > 999)
				return -EINVAL;
			p = end;
		}
		memset(b + lo, 1, hi - lo + 1);
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			return -EINVAL;
	}
}

/* ---- signals ----------------------------------------------------------- */

static void on_stop_signal(int sig)
{
	(void)sig;
	if (g_interrupted)
		_exit(EXIT_INTERRUPTED); /* second Ctrl-C: now */
	g_interrupted = 1;
	if (g_engine)
		rp_engine_stop(g_engine);
}

static void on_snapshot_signal(int sig)
{
	(void)sig;
	g_snapshot = 1;
	if (g_engine)
		rp_engine_wake(g_engine);
}

static void install_signals(void)
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

/* ---- results ----------------------------------------------------------- */

static void addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "";

	if (!sa) {
		snprintf(buf, len, "-");
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

static void track_slowest(struct cli *c, const struct rp_result *r)
{
	int i = c->nslow < SLOWEST_MAX ? c->nslow++ : SLOWEST_MAX - 1;

	if (i == SLOWEST_MAX - 1 && c->nslow == SLOWEST_MAX &&
	    c->slowest[i].elapsed_us >= r->elapsed_us)
		return;
	/* Insertion into a sorted array of five. */
	while (i > 0 && c->slowest[i - 1].elapsed_us < r->elapsed_us) {
		c->slowest[i] = c->slowest[i - 1];
		i--;
	}
	c->slowest[i].elapsed_us = r->elapsed_us;
	addr_text(r->addr, c->slowest[i].addr, sizeof(c->slowest[i].addr));
	snprintf(c->slowest[i].status, sizeof(c->slowest[i].status), "%s",
		 rp_status_name(r->status));
}

static void on_result(const struct rp_result *r, void *arg)
{
	struct cli *c = arg;

	c->results++;
	if (r->http && r->http->status_code > 0 && r->http->status_code < 1000)
		c->by_class[r->http->status_code / 100]++;
	if (r->status == RP_STATUS_INVALID) {
		c->invalid++;
		if (!c->quiet)
			fprintf(stderr, "%s: %s\n", prog,
				r->detail ? r->detail : "invalid target");
	}
	if (r->addr)
		track_slowest(c, r);
	if (c->match_status && !(r->http && r->http->status_code > 0 &&
				 r->http->status_code < 1000 &&
				 c->match_status[r->http->status_code]))
		return;
	if (c->filter_status && r->http && r->http->status_code > 0 &&
	    r->http->status_code < 1000 &&
	    c->filter_status[r->http->status_code])
		return;
	out_result(&c->out, r); /* drops non-open ones under --open */
	if (c->out.err)
		rp_engine_stop(g_engine); /* stdout closed: end quietly */
}

/* ---- progress and summary ---------------------------------------------- */

static void progress_line(struct cli *c, struct rp_engine *e)
{
	struct rp_stats st;
	double secs = (double)(now_ns() - c->start_ns) / 1e9;
	int64_t total = rp_source_total(c->src);
	char tot[32] = "?", eta[32] = "?";

	rp_engine_stats(e, &st);
	double rate = secs > 0 ? (double)c->results / secs : 0;
	if (total >= 0) {
		snprintf(tot, sizeof(tot), "%" PRId64, total);
		if (rate > 0) {
			double left = (double)((uint64_t)total - c->results) / rate;
			snprintf(eta, sizeof(eta), "%.0fs", left < 0 ? 0 : left);
		}
	}
	fprintf(stderr,
		"\r\033[K%" PRIu64 "/%s done, %.0f/s, %u in flight, %.1fs, ETA %s",
		c->results, tot, rate, st.inflight, secs, eta);
	c->progress_shown = true;
}

static void progress_clear(struct cli *c)
{
	if (c->progress_shown)
		fprintf(stderr, "\r\033[K");
	c->progress_shown = false;
}

static void print_probe(const struct rp_probe_info *pi, void *arg)
{
	char a[64];

	(void)arg;
	addr_text(pi->addr, a, sizeof(a));
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

static void snapshot(struct cli *c, struct rp_engine *e)
{
	struct rp_stats st;

	progress_clear(c);
	rp_engine_stats(e, &st);
	fprintf(stderr, "ringprobe snapshot: %u probes in flight\n", st.inflight);
	rp_engine_inflight(e, print_probe, NULL);
	print_counters(&st, (double)(now_ns() - c->start_ns) / 1e9);
}

static void summary(struct cli *c, struct rp_engine *e)
{
	struct rp_stats st;
	double secs = (double)(now_ns() - c->start_ns) / 1e9;
	int64_t total = rp_source_total(c->src);

	rp_engine_stats(e, &st);
	fprintf(stderr, "\n%" PRIu64 " results in %.2f s (%.0f/s):", c->results,
		secs, secs > 0 ? (double)c->results / secs : 0);
	for (int s = 1; s < RP_STATUS__COUNT; s++)
		if (st.by_status[s])
			fprintf(stderr, " %s %" PRIu64, rp_status_name(s),
				st.by_status[s]);
	fputc('\n', stderr);
	if (c->http) {
		fprintf(stderr, "http status:");
		for (int k = 1; k < 10; k++)
			if (c->by_class[k])
				fprintf(stderr, " %dxx %" PRIu64, k,
					c->by_class[k]);
		fputc('\n', stderr);
	}
	if (g_interrupted) {
		if (total >= 0)
			fprintf(stderr, "interrupted: %" PRIu64
				" targets never started\n",
				(uint64_t)total - c->results);
		else
			fprintf(stderr, "interrupted: %" PRIu64 " targets done; "
				"the rest of the input was never started\n",
				c->results);
	}
	if (st.rtt_count)
		fprintf(stderr,
			"connect rtt (answered connects): min %" PRIu64 " us, p50 %"
			PRIu64 " us, p90 %" PRIu64 " us, p99 %" PRIu64
			" us, max %" PRIu64 " us\n",
			st.rtt_min_us, rp_stats_percentile(&st, 50),
			rp_stats_percentile(&st, 90),
			rp_stats_percentile(&st, 99), st.rtt_max_us);
	if (c->nslow) {
		fprintf(stderr, "slowest:");
		for (int i = 0; i < c->nslow; i++)
			fprintf(stderr, " %s %s %.3f s;", c->slowest[i].addr,
				c->slowest[i].status,
				(double)c->slowest[i].elapsed_us / 1e6);
		fputc('\n', stderr);
	}
	if (c->stats)
		print_counters(&st, secs);
}

/* ---- setup ------------------------------------------------------------- */

/* Raises RLIMIT_NOFILE's soft limit to what the concurrency needs. */
static int raise_nofile(uint32_t concurrency)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)concurrency + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		fprintf(stderr,
			"%s: concurrency %u needs %llu file descriptors, but the "
			"RLIMIT_NOFILE hard limit is %llu: raise it (ulimit -Hn, "
			"limits.conf) or use -c %llu or less\n",
			prog, concurrency, (unsigned long long)need,
			(unsigned long long)rl.rlim_max,
			(unsigned long long)(rl.rlim_max > FD_RESERVE
						     ? rl.rlim_max - FD_RESERVE
						     : 0));
		return -EMFILE;
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		fprintf(stderr, "%s: cannot raise RLIMIT_NOFILE to %llu: %s\n",
			prog, (unsigned long long)need, strerror(errno));
		return -errno;
	}
	return 0;
}

static void source_ready(void *arg)
{
	(void)arg;
	if (g_engine)
		rp_engine_wake(g_engine);
}

enum {
	OPT_CONNECT_TIMEOUT = 256,
	OPT_TIMEOUT,
	OPT_RETRIES,
	OPT_OPEN,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_SUMMARY,
	OPT_STATS,
	OPT_PATH,
	OPT_METHOD,
	OPT_USER_AGENT,
	OPT_MAX_BODY,
	OPT_MAX_HEADER,
	OPT_READ_TIMEOUT,
	OPT_MATCH_STATUS,
	OPT_FILTER_STATUS,
	OPT_RESOLVER,
	OPT_DNS_TIMEOUT,
	OPT_DNS_RETRIES,
	OPT_DNS_CONCURRENCY,
	OPT_NO_HOSTS,
};

static const struct option long_opts[] = {
	{ "ports", required_argument, NULL, 'p' },
	{ "input", required_argument, NULL, 'i' },
	{ "concurrency", required_argument, NULL, 'c' },
	{ "rate", required_argument, NULL, 'r' },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "format", required_argument, NULL, 'f' },
	{ "output", required_argument, NULL, 'o' },
	{ "open", no_argument, NULL, OPT_OPEN },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "summary", no_argument, NULL, OPT_SUMMARY },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "path", required_argument, NULL, OPT_PATH },
	{ "method", required_argument, NULL, OPT_METHOD },
	{ "header", required_argument, NULL, 'H' },
	{ "user-agent", required_argument, NULL, OPT_USER_AGENT },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "max-header", required_argument, NULL, OPT_MAX_HEADER },
	{ "read-timeout", required_argument, NULL, OPT_READ_TIMEOUT },
	{ "match-status", required_argument, NULL, OPT_MATCH_STATUS },
	{ "filter-status", required_argument, NULL, OPT_FILTER_STATUS },
	{ "resolver", required_argument, NULL, OPT_RESOLVER },
	{ "dns-timeout", required_argument, NULL, OPT_DNS_TIMEOUT },
	{ "dns-retries", required_argument, NULL, OPT_DNS_RETRIES },
	{ "dns-concurrency", required_argument, NULL, OPT_DNS_CONCURRENCY },
	{ "no-hosts", no_argument, NULL, OPT_NO_HOSTS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int parse_args(struct cli *c, int argc, char **argv)
{
	uint64_t v;
	int opt, f;

	while ((opt = getopt_long(argc, argv, "p:i:c:r:f:o:H:46qhV", long_opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'p':
			c->ports = optarg;
			break;
		case 'i':
			c->inputs[c->ninputs++] = optarg;
			break;
		case 'c':
			if (parse_uint(optarg, 1000000, &v) < 0 || v == 0)
				return die_usage("bad --concurrency '%s': "
						 "want 1 to 1000000", optarg);
			c->eo.concurrency = (uint32_t)v;
			break;
		case 'r':
			if (parse_uint(optarg, 100000000, &v) < 0)
				return die_usage("bad --rate '%s': want probes "
						 "per second, 0 = unlimited",
						 optarg);
			c->eo.rate = (uint32_t)v;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (rp_parse_duration(optarg, &v) < 0 || v == 0)
				return die_usage("bad --connect-timeout '%s': "
						 "want a duration like 500ms",
						 optarg);
			c->eo.connect_timeout_ns = v;
			break;
		case OPT_TIMEOUT:
			if (rp_parse_duration(optarg, &v) < 0 || v == 0)
				return die_usage("bad --timeout '%s': want a "
						 "duration like 5s", optarg);
			c->eo.timeout_ns = v;
			break;
		case OPT_RETRIES:
			if (parse_uint(optarg, 100, &v) < 0)
				return die_usage("bad --retries '%s': want 0 "
						 "to 100", optarg);
			c->eo.retries = (uint32_t)v;
			break;
		case 'f':
			f = out_format_parse(optarg);
			if (f < 0)
				return die_usage("bad --format '%s': want text, "
						 "jsonl or csv", optarg);
			c->format = (enum out_format)f;
			break;
		case 'o':
			c->output = optarg;
			break;
		case OPT_OPEN:
			c->only_open = true;
			break;
		case OPT_PROGRESS:
			c->progress = 1;
			break;
		case OPT_NO_PROGRESS:
			c->progress = 0;
			break;
		case OPT_SUMMARY:
			c->summary = true;
			break;
		case OPT_PATH:
			if (optarg[0] != '/' || strpbrk(optarg, " \r\n"))
				return die_usage("bad --path '%s': want /PATH "
						 "without spaces", optarg);
			c->eo.http.path = optarg;
			break;
		case OPT_METHOD:
			c->eo.http.method = optarg;
			break;
		case 'H':
			if (!strchr(optarg, ':') || strpbrk(optarg, "\r\n"))
				return die_usage("bad --header '%s': want "
						 "'Name: value'", optarg);
			c->headers[c->nheaders++] = optarg;
			c->eo.http.headers = c->headers;
			break;
		case OPT_USER_AGENT:
			c->eo.http.user_agent = optarg;
			break;
		case OPT_MAX_BODY:
			if (parse_size(optarg, &v) < 0)
				return die_usage("bad --max-body '%s': want "
						 "bytes like 65536 or 1M",
						 optarg);
			c->eo.http.max_body = v ? v : 1; /* 0 = none at all */
			break;
		case OPT_MAX_HEADER:
			if (parse_size(optarg, &v) < 0 || v == 0 ||
			    v > UINT32_MAX)
				return die_usage("bad --max-header '%s': want "
						 "bytes like 65536 or 64k",
						 optarg);
			c->eo.http.max_header = (uint32_t)v;
			break;
		case OPT_READ_TIMEOUT:
			if (rp_parse_duration(optarg, &v) < 0 || v == 0)
				return die_usage("bad --read-timeout '%s': want "
						 "a duration like 2s", optarg);
			c->eo.http.io_timeout_ns = v;
			break;
		case OPT_MATCH_STATUS:
		case OPT_FILTER_STATUS:
			if (parse_status_list(optarg, opt == OPT_MATCH_STATUS
							      ? &c->match_status
							      : &c->filter_status) < 0)
				return die_usage("bad status list '%s': want "
						 "codes and ranges like "
						 "200,300-399", optarg);
			break;
		case OPT_RESOLVER:
			if (!optarg[0] || strpbrk(optarg, " \t"))
				return die_usage("bad --resolver '%s': want "
						 "IP[:PORT],[IPv6]:PORT,...",
						 optarg);
			c->eo.dns.servers = optarg;
			break;
		case OPT_DNS_TIMEOUT:
			if (rp_parse_duration(optarg, &v) < 0 ||
			    v < 1000000ull)
				return die_usage("bad --dns-timeout '%s': want a "
						 "duration of 1ms or more",
						 optarg);
			c->eo.dns.timeout_ns = v;
			break;
		case OPT_DNS_RETRIES:
			if (parse_uint(optarg, 20, &v) < 0)
				return die_usage("bad --dns-retries '%s': want 0 "
						 "to 20", optarg);
			c->eo.dns.tries = (uint32_t)v + 1;
			break;
		case OPT_DNS_CONCURRENCY:
			if (parse_uint(optarg, 100000, &v) < 0 || v == 0)
				return die_usage("bad --dns-concurrency '%s': "
						 "want 1 to 100000", optarg);
			c->eo.dns.concurrency = (uint32_t)v;
			break;
		case OPT_NO_HOSTS:
			c->eo.dns.no_hosts = 1;
			break;
		case '4':
			c->eo.dns.family = AF_INET;
			break;
		case '6':
			c->eo.dns.family = AF_INET6;
			break;
		case OPT_STATS:
			c->stats = c->summary = true;
			break;
		case 'q':
			c->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'V':
			printf("ringprobe %s\n", rp_version());
			exit(EXIT_OK);
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return EXIT_USAGE;
		}
	}
	if (c->quiet) {
		c->progress = 0;
		c->summary = c->stats = false;
	}
	return 0;
}

/* Runs the scan described by c over the targets in argv. */
static int scan(struct cli *c, int nargs, char **args)
{
	struct rp_engine *e = NULL;
	char err[256] = "";
	int fd = STDOUT_FILENO, ret, rc = EXIT_OK;

	if (nargs == 0 && c->ninputs == 0)
		return die_usage("%s", "no targets: give TARGET arguments or "
				 "-i FILE ('-i -' reads stdin)");
	struct rp_source_opts so = {
		.ports = c->ports ? c->ports : c->http ? "80" : NULL,
	};
	ret = rp_source_create(&c->src, &so, err, sizeof(err));
	if (ret < 0)
		return die_usage("bad --ports: %s", err[0] ? err : rp_strerror(ret));
	for (int i = 0; i < nargs; i++)
		if (rp_source_add_arg(c->src, args[i]) < 0) {
			fprintf(stderr, "%s: out of memory\n", prog);
			rc = EXIT_RUNTIME;
			goto out_source;
		}
	for (int i = 0; i < c->ninputs; i++) {
		ret = rp_source_add_file(c->src, c->inputs[i]);
		if (ret < 0) {
			fprintf(stderr, "%s: cannot read targets from '%s': %s\n",
				prog, c->inputs[i], rp_strerror(ret));
			rc = EXIT_USAGE;
			goto out_source;
		}
	}

	if (!c->eo.concurrency)
		c->eo.concurrency = DEFAULT_CONCURRENCY;
	if (raise_nofile(c->eo.concurrency) < 0) {
		rc = EXIT_USAGE;
		goto out_source;
	}
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
	if (out_init(&c->out, fd, c->format,
		     (c->only_open ? OUT_ONLY_OPEN : 0) |
			     (c->http ? OUT_HTTP : 0)) < 0) {
		fprintf(stderr, "%s: out of memory\n", prog);
		rc = EXIT_RUNTIME;
		goto out_fd;
	}

	if (!c->eo.on_result)
		c->eo.on_result = on_result;
	c->eo.arg = c;
	ret = rp_engine_create(&e, &c->eo);
	if (ret < 0) {
		fprintf(stderr, "%s: cannot start the engine: %s%s\n", prog,
			rp_strerror(ret),
			ret == -EMFILE ? " (concurrency above RLIMIT_NOFILE)" :
			ret == -EINVAL ? " (check --method, --header, --path, "
					 "--resolver)" :
			ret == -EPERM ? " (is io_uring disabled? see "
					"/proc/sys/kernel/io_uring_disabled)" : "");
		rc = EXIT_RUNTIME;
		goto out_writer;
	}
	g_engine = e;
	rp_source_set_notify(c->src, source_ready, NULL);
	rp_engine_set_source(e, rp_source_next, c->src);
	if (c->progress < 0)
		c->progress = isatty(STDERR_FILENO);

	out_header(&c->out);
	c->start_ns = now_ns();
	uint64_t next_progress = c->start_ns;
	while ((ret = rp_engine_run(e, 200)) > 0) {
		out_flush(&c->out);
		if (g_snapshot) {
			g_snapshot = 0;
			snapshot(c, e);
		}
		if (c->progress && now_ns() >= next_progress) {
			progress_line(c, e);
			next_progress = now_ns() + 250000000ull;
		}
	}
	out_flush(&c->out);
	progress_clear(c);
	if (ret < 0) {
		fprintf(stderr, "%s: engine failure: %s\n", prog,
			rp_strerror(ret));
		rc = EXIT_RUNTIME;
	}
	if (c->summary)
		summary(c, e);
	if (rc == EXIT_OK && rp_source_error(c->src)) {
		fprintf(stderr, "%s: reading targets failed: %s\n", prog,
			rp_strerror(rp_source_error(c->src)));
		rc = EXIT_USAGE;
	}
	if (rc == EXIT_OK && c->invalid)
		rc = EXIT_USAGE;
	if (g_interrupted)
		rc = EXIT_INTERRUPTED;
	else if (c->out.err && c->out.err != -EPIPE && rc == EXIT_OK) {
		fprintf(stderr, "%s: writing results failed: %s\n", prog,
			rp_strerror(c->out.err));
		rc = EXIT_RUNTIME;
	}
	g_engine = NULL;
	rp_engine_destroy(e);
out_writer:
	out_release(&c->out);
out_fd:
	if (fd != STDOUT_FILENO)
		close(fd);
out_source:
	rp_source_destroy(c->src);
	return rc;
}

/*
 * `ringprobe demo`: the main job on a built-in default that needs no
 * network: opens three listeners on 127.0.0.1 and scans all 65535 ports of
 * 127.0.0.1, printing the open ones and a summary, and checks that the
 * three were found.
 */
static int listen_any(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static uint16_t demo_ports[3];
static int demo_found;

static void demo_result(const struct rp_result *r, void *arg)
{
	if (r->status == RP_STATUS_OPEN && r->addr) {
		uint16_t p = ntohs(((const struct sockaddr_in *)r->addr)->sin_port);

		for (int i = 0; i < 3; i++)
			if (p == demo_ports[i])
				demo_found++;
	}
	on_result(r, arg);
}

static int demo(struct cli *c)
{
	int fds[3], rc;
	char *args[] = { "127.0.0.1" };

	for (int i = 0; i < 3; i++) {
		fds[i] = listen_any(&demo_ports[i]);
		if (fds[i] < 0) {
			fprintf(stderr, "%s: demo: cannot listen on 127.0.0.1: "
				"%s\n", prog, strerror(errno));
			return EXIT_RUNTIME;
		}
	}
	fprintf(stderr, "demo: listening on 127.0.0.1 ports %u %u %u; "
		"scanning 127.0.0.1:1-65535\n",
		demo_ports[0], demo_ports[1], demo_ports[2]);
	c->ports = "1-65535";
	c->only_open = true;
	if (!c->quiet)
		c->summary = true;
	c->eo.on_result = demo_result; /* scan() keeps a set on_result */
	rc = scan(c, 1, args);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	if (rc == EXIT_OK && demo_found != 3) {
		fprintf(stderr, "demo: FAILED: found %d of the 3 listeners\n",
			demo_found);
		return EXIT_RUNTIME;
	}
	if (rc == EXIT_OK)
		fprintf(stderr, "demo: found all 3 listeners\n");
	return rc;
}

int main(int argc, char **argv)
{
	struct cli c = { .progress = -1, .format = OUT_TEXT };
	const char *cmd;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("ringprobe %s\n", rp_version());
		return EXIT_OK;
	}
	if (strcmp(cmd, "tcp") && strcmp(cmd, "http") && strcmp(cmd, "demo"))
		return die_usage("unknown command '%s': want tcp, http or demo",
				 cmd);
	if (!strcmp(cmd, "http")) {
		c.http = true;
		c.eo.kind = RP_PROBE_HTTP;
	}

	c.inputs = calloc((size_t)argc, sizeof(*c.inputs));
	c.headers = calloc((size_t)argc, sizeof(*c.headers));
	if (!c.inputs || !c.headers)
		return EXIT_RUNTIME;
	rc = parse_args(&c, argc - 1, argv + 1);
	if (rc == 0) {
		install_signals();
		if (!strcmp(cmd, "demo"))
			rc = demo(&c);
		else
			rc = scan(&c, argc - 1 - optind, argv + 1 + optind);
	}
	free(c.inputs);
	free(c.headers);
	free(c.match_status);
	free(c.filter_status);
	return rc;
}
