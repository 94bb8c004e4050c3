/*
 * args.c - every option of the command line: one row of cli_opts[] each
 * (names, argument, subcommands, help, what a good value is) and the
 * function that puts its value into struct cli. opts.c reads argv and
 * writes the --help texts from this table alone.
 *
 * A set function returns 0, OPT_BAD when the value is not what the row's
 * `want` says, or an exit code after saying what is wrong itself.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "parse.h"
#include "util.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* ---- targets, pace, timeouts ------------------------------------------- */

/* -p LIST, repeatable (the lists add up, as nmap's do); -p- is every
 * port. */
static int set_ports(struct cli *c, const char *a)
{
	size_t have = c->ports_buf ? strlen(c->ports_buf) : 0;
	char *p;

	if (!strcmp(a, "-"))
		a = "1-65535";
	if (!c->http && strchr(a, ':'))
		return die_usage("bad --ports '%s': a scheme (https:443) is for "
				 "http targets", a);
	p = realloc(c->ports_buf, have + strlen(a) + 2);
	if (!p)
		return die_usage("out of memory");
	if (have)
		p[have++] = ',';
	strcpy(p + have, a);
	c->ports = c->ports_buf = p;
	return 0;
}

/* --top-ports N: nmap's N most common TCP ports, added to -p's. */
static int set_top_ports(struct cli *c, const char *a)
{
	uint64_t v;

	if (parse_uint(a, 65535, &v) < 0 || v == 0)
		return OPT_BAD;
	c->top_ports = (uint32_t)v;
	return 0;
}

/* --exclude-ports LIST: a port list, checked as the engine reads them. */
static int set_exclude_ports(struct cli *c, const char *a)
{
	struct rp_source_opts so = { .ports = a };
	struct rp_source *s;
	char err[256];
	int r = rp_source_create(&s, &so, err, sizeof(err));

	if (r < 0)
		return die_usage("bad --exclude-ports: %s",
				 err[0] ? err : rp_strerror(r));
	rp_source_destroy(s);
	c->exclude_ports = a;
	return 0;
}

/* --exclude LIST, --exclude-file FILE: into c->exclude. */
static int add_exclude(struct cli *c, bool file, const char *a)
{
	char err[400];
	int r;

	if (!c->exclude && rp_exclude_create(&c->exclude) < 0)
		return die_usage("out of memory");
	r = file ? rp_exclude_add_file(c->exclude, a, err, sizeof(err))
		 : rp_exclude_add(c->exclude, a, err, sizeof(err));
	if (r < 0)
		return die_usage("bad --exclude%s: %s", file ? "-file" : "",
				 err[0] ? err : rp_strerror(r));
	return 0;
}

static int set_exclude(struct cli *c, const char *a)
{
	return add_exclude(c, false, a);
}

static int set_exclude_file(struct cli *c, const char *a)
{
	return add_exclude(c, true, a);
}

/* --seed, --shard, --shuffle-window, --no-shuffle: order.c. */
static int set_seed(struct cli *c, const char *a)
{
	return order_option(c, "seed", a);
}

static int set_shard(struct cli *c, const char *a)
{
	return order_option(c, "shard", a);
}

static int set_shuffle_window(struct cli *c, const char *a)
{
	return order_option(c, "shuffle-window", a);
}

static int set_no_shuffle(struct cli *c, const char *a)
{
	return order_option(c, "no-shuffle", a);
}

static int set_input(struct cli *c, const char *a)
{
	c->inputs[c->ninputs++] = a;
	return 0;
}

static int set_concurrency(struct cli *c, const char *a)
{
	uint64_t v;

	if (parse_uint(a, 1000000, &v) < 0 || v == 0)
		return OPT_BAD;
	c->eo.concurrency = (uint32_t)v;
	return 0;
}

static int set_rate(struct cli *c, const char *a)
{
	uint64_t v;

	if (parse_uint(a, 100000000, &v) < 0)
		return OPT_BAD;
	c->eo.rate = (uint32_t)v;
	return 0;
}

static int set_threads(struct cli *c, const char *a)
{
	uint64_t v;

	if (parse_uint(a, 256, &v) < 0 || v == 0)
		return OPT_BAD;
	c->threads = (uint32_t)v;
	return 0;
}

/* A duration above zero into *ns. */
static int set_duration(const char *a, uint64_t *ns)
{
	uint64_t v;
	int ret = parse_duration(a, &v);

	if (ret < 0)
		return ret == PARSE_NO_UNIT ? PARSE_NO_UNIT : OPT_BAD;
	if (v == 0)
		return OPT_BAD;
	*ns = v;
	return 0;
}

static int set_max_per_host(struct cli *c, const char *a)
{
	uint64_t v;

	if (parse_uint(a, 1000000, &v) < 0)
		return OPT_BAD;
	c->max_per_host = (int64_t)v;
	return 0;
}

static int set_host_delay(struct cli *c, const char *a)
{
	int r = set_duration(a, &c->eo.host_delay_ns);

	return r ? r : c->eo.host_delay_ns > RP_TIMEOUT_MAX_NS ? OPT_BAD : 0;
}


static int set_connect_timeout(struct cli *c, const char *a)
{
	return set_duration(a, &c->eo.connect_timeout_ns);
}

static int set_timeout(struct cli *c, const char *a)
{
	return set_duration(a, &c->eo.timeout_ns);
}

static int set_retries(struct cli *c, const char *a)
{
	uint64_t v;

	if (parse_uint(a, 100, &v) < 0)
		return OPT_BAD;
	c->eo.retries = (uint32_t)v;
	return 0;
}

/* ---- results ----------------------------------------------------------- */

/* -f, without regard to case. */
static int set_format(struct cli *c, const char *a)
{
	char low[16];
	size_t i;
	int f;

	for (i = 0; a[i] && i < sizeof(low) - 1; i++)
		low[i] = (char)(a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i]);
	low[i] = '\0';
	f = a[i] ? -1 : out_format_parse(low);
	if (f < 0)
		return OPT_BAD;
	c->format = (enum out_format)f;
	return 0;
}

/* -o FILE; "-" is standard output. */
static int set_output(struct cli *c, const char *a)
{
	c->output = strcmp(a, "-") ? a : NULL;
	return 0;
}

static int set_open(struct cli *c, const char *a)
{
	(void)a;
	c->only_open = true;
	return 0;
}

static int set_all(struct cli *c, const char *a)
{
	(void)a;
	c->all = true;
	return 0;
}

static int set_snapshot_all(struct cli *c, const char *a)
{
	(void)a;
	c->snapshot_all = true;
	return 0;
}

static int set_progress(struct cli *c, const char *a)
{
	(void)a;
	c->progress = 1;
	return 0;
}

static int set_no_progress(struct cli *c, const char *a)
{
	(void)a;
	c->progress = 0;
	return 0;
}

static int set_summary(struct cli *c, const char *a)
{
	(void)a;
	c->summary = true;
	return 0;
}

static int set_stats(struct cli *c, const char *a)
{
	(void)a;
	c->stats = c->summary = true;
	return 0;
}

static int set_stats_json(struct cli *c, const char *a)
{
	c->stats_json = a;
	return 0;
}

static int set_resume(struct cli *c, const char *a)
{
	c->resume = a;
	return 0;
}

static int set_quiet(struct cli *c, const char *a)
{
	(void)a;
	c->quiet = true;
	return 0;
}

/* ---- names ------------------------------------------------------------- */

static int set_resolver(struct cli *c, const char *a)
{
	if (parse_resolvers(a) < 0)
		return OPT_BAD;
	c->eo.dns.servers = a;
	return 0;
}

static int set_dns_timeout(struct cli *c, const char *a)
{
	int ret = set_duration(a, &c->eo.dns.timeout_ns);

	return ret == 0 && c->eo.dns.timeout_ns < 1000000ull ? OPT_BAD : ret;
}

static int set_dns_retries(struct cli *c, const char *a)
{
	uint64_t v;

	if (parse_uint(a, 20, &v) < 0)
		return OPT_BAD;
	c->eo.dns.tries = (uint32_t)v + 1;
	return 0;
}

static int set_dns_concurrency(struct cli *c, const char *a)
{
	uint64_t v;

	if (parse_uint(a, 100000, &v) < 0 || v == 0)
		return OPT_BAD;
	c->eo.dns.concurrency = (uint32_t)v;
	return 0;
}

static int set_ipv4(struct cli *c, const char *a)
{
	(void)a;
	c->eo.dns.family = AF_INET;
	return 0;
}

static int set_ipv6(struct cli *c, const char *a)
{
	(void)a;
	c->eo.dns.family = AF_INET6;
	return 0;
}

static int set_no_hosts(struct cli *c, const char *a)
{
	(void)a;
	c->eo.dns.no_hosts = 1;
	return 0;
}

static int set_no_resolve(struct cli *c, const char *a)
{
	(void)a;
	c->no_resolve = 1;
	return 0;
}

static int set_all_addrs(struct cli *c, const char *a)
{
	(void)a;
	c->eo.dns.all_addrs = 1;
	return 0;
}

/* ---- tcp --------------------------------------------------------------- */

static int set_banner(struct cli *c, const char *a)
{
	(void)a;
	c->banner = true;
	c->eo.kind = RP_PROBE_BANNER;
	return 0;
}

/* A wait means banners are wanted. */
static int set_banner_wait(struct cli *c, const char *a)
{
	int ret = set_duration(a, &c->eo.banner_wait_ns);

	return ret ? ret : set_banner(c, NULL);
}

/* ---- http -------------------------------------------------------------- */

static int set_path(struct cli *c, const char *a)
{
	if (a[0] != '/' || strpbrk(a, " \t\r\n"))
		return OPT_BAD;
	c->eo.http.path = a;
	return 0;
}

static int set_method(struct cli *c, const char *a)
{
	if (!http_token(a, strlen(a)))
		return OPT_BAD;
	c->eo.http.method = a;
	return 0;
}

/* -H 'Name: value'; 'Name:' drops a header ringprobe would send. */
static int set_header(struct cli *c, const char *a)
{
	const char *colon = strchr(a, ':');

	if (!colon || !http_token(a, (size_t)(colon - a)) ||
	    !http_value(colon + 1))
		return OPT_BAD;
	c->headers[c->nheaders++] = a;
	c->eo.http.headers = c->headers;
	return 0;
}

static int set_user_agent(struct cli *c, const char *a)
{
	if (!a[0] || !http_value(a))
		return OPT_BAD;
	c->eo.http.user_agent = a;
	return 0;
}

static int set_max_body(struct cli *c, const char *a)
{
	uint64_t v;

	if (parse_size(a, &v) < 0)
		return OPT_BAD;
	c->eo.http.max_body = v ? v : 1; /* 0 = none at all */
	return 0;
}

static int set_max_header(struct cli *c, const char *a)
{
	uint64_t v;

	if (parse_size(a, &v) < 0 || v == 0 || v > UINT32_MAX)
		return OPT_BAD;
	c->eo.http.max_header = (uint32_t)v;
	return 0;
}

static int set_read_timeout(struct cli *c, const char *a)
{
	return set_duration(a, &c->eo.http.io_timeout_ns);
}

static int set_match_status(struct cli *c, const char *a)
{
	return parse_status_list(a, &c->match_status) < 0 ? OPT_BAD : 0;
}

static int set_filter_status(struct cli *c, const char *a)
{
	return parse_status_list(a, &c->filter_status) < 0 ? OPT_BAD : 0;
}

static int set_follow(struct cli *c, const char *a)
{
	uint64_t v;

	if (parse_uint(a, 20, &v) < 0)
		return OPT_BAD;
	c->eo.http.follow = (uint32_t)v;
	return 0;
}

static int set_follow_any_host(struct cli *c, const char *a)
{
	(void)a;
	c->eo.http.follow_any_host = 1;
	return 0;
}

static int set_scheme(struct cli *c, const char *a)
{
	if (!strcmp(a, "auto"))
		c->scheme = RP_SCHEME_AUTO;
	else if (!strcmp(a, "http"))
		c->scheme = RP_SCHEME_HTTP;
	else if (!strcmp(a, "https"))
		c->scheme = RP_SCHEME_HTTPS;
	else
		return OPT_BAD;
	return 0;
}

/* ---- tls --------------------------------------------------------------- */

static int set_sni(struct cli *c, const char *a)
{
	if (!a[0] || strlen(a) > 253 || strpbrk(a, " \t\r\n"))
		return OPT_BAD;
	c->eo.tls.sni = a;
	return 0;
}

static int set_alpn(struct cli *c, const char *a)
{
	if (!alpn_ok(a))
		return OPT_BAD;
	c->eo.tls.alpn = a;
	return 0;
}

static int set_cacert(struct cli *c, const char *a)
{
	if (access(a, R_OK) < 0)
		return die_usage("--cacert %s: %s", a, strerror(errno));
	c->eo.tls.cafile = a;
	return 0;
}

static int set_verify(struct cli *c, const char *a)
{
	(void)a;
	c->eo.tls.verify = 1;
	return 0;
}

static int set_tls_min(struct cli *c, const char *a)
{
	int v = parse_tls_version(a);

	if (v < 0)
		return OPT_BAD;
	c->eo.tls.min_version = v;
	return 0;
}

static int set_tls_max(struct cli *c, const char *a)
{
	int v = parse_tls_version(a);

	if (v < 0)
		return OPT_BAD;
	c->eo.tls.max_version = v;
	return 0;
}

static int set_handshake_timeout(struct cli *c, const char *a)
{
	return set_duration(a, &c->eo.tls.handshake_timeout_ns);
}

static int set_max_handshakes(struct cli *c, const char *a)
{
	uint64_t v;

	if (parse_uint(a, 1000000, &v) < 0)
		return OPT_BAD;
	/* 0: no cap (the engine's 0 is its default) */
	c->eo.max_handshakes = v ? (uint32_t)v : UINT32_MAX;
	return 0;
}

static int set_expiring_within(struct cli *c, const char *a)
{
	uint64_t v;

	if (parse_uint(a, 100000, &v) < 0)
		return OPT_BAD;
	c->expiring = (int)v;
	return 0;
}

/* ---- the table --------------------------------------------------------- */

#define HTTP_TLS (CMD_HTTP | CMD_TLS)
#define DUR "a duration with a unit, like 500ms or 2s"

/* opts.c answers --help and --version itself: they need no set(). */
const struct opt cli_opts[] = {
	{ "ports", 'p', "LIST", CMD_SCAN, SECT_RUN,
	  "ports for targets without one: 22,80,8000-8100;\n"
	  "-p- is all; repeatable (the lists add up)",
	  "ports and ranges like 22,80,8000-8100", set_ports },
	{ "top-ports", 0, "N", CMD_SCAN, SECT_RUN,
	  "the N most common TCP ports (nmap's table), added\n"
	  "to -p's; tcp without -p: --top-ports 100",
	  "1 to 65535", set_top_ports },
	{ "exclude-ports", 0, "LIST", CMD_SCAN, SECT_RUN,
	  "never probe these ports", NULL, set_exclude_ports },
	{ "exclude", 0, "LIST", CMD_SCAN, SECT_RUN,
	  "never probe these addresses, CIDR blocks or\n"
	  "ranges (10.0.0.0/8,192.0.2.1-192.0.2.9,::1)", NULL, set_exclude },
	{ "exclude-file", 0, "FILE", CMD_SCAN, SECT_RUN,
	  "... nor those of FILE (one or more a line, #)", NULL,
	  set_exclude_file },
	{ "seed", 0, "N", CMD_SCAN, SECT_RUN,
	  "the order's key: the same seed, inputs and options\n"
	  "give the same order (default: random, shown in\n"
	  "the summary)", NULL, set_seed },
	{ "shard", 0, "I/N", CMD_SCAN, SECT_RUN,
	  "probe part I (0-based) of N; needs --seed", NULL, set_shard },
	{ "shuffle-window", 0, "N", CMD_SCAN, SECT_RUN,
	  "input lines shuffled among (default 65536)", NULL,
	  set_shuffle_window },
	{ "no-shuffle", 0, NULL, CMD_SCAN, SECT_RUN,
	  "probe in input order", NULL, set_no_shuffle },
	{ "input", 'i', "FILE", CMD_SCAN, SECT_RUN,
	  "read targets from FILE, one per line ('-' = stdin;\n"
	  "-iL works too); repeatable", NULL, set_input },
	{ "concurrency", 'c', "N", CMD_ALL, SECT_RUN,
	  "probes in flight (default " STR(DEFAULT_CONCURRENCY) ")",
	  "1 to 1000000", set_concurrency },
	{ "rate", 'r', "N", CMD_ALL, SECT_RUN,
	  "new probes per second, over all threads\n"
	  "(0 = unlimited, default)",
	  "probes per second, 0 = unlimited", set_rate },
	{ "max-per-host", 0, "N", CMD_ALL, SECT_RUN,
	  "probes in flight to one address (default "
	  STR(DEFAULT_MAX_PER_HOST) ",\n0 = no limit)",
	  "0 to 1000000", set_max_per_host },
	{ "host-delay", 0, "D", CMD_ALL, SECT_RUN,
	  "least time between two probes to one address\n"
	  "(e.g. 10ms; default none)", DUR, set_host_delay },
	{ "threads", 0, "N", CMD_ALL, SECT_RUN,
	  "engines (one ring each) on N threads sharing\n"
	  "the input, -c and -r (default: the CPUs available)",
	  "1 to 256", set_threads },
	{ "connect-timeout", 0, "D", CMD_ALL, SECT_RUN,
	  "per connect attempt (default 1s; e.g. 500ms)", DUR,
	  set_connect_timeout },
	{ "timeout", 0, "D", CMD_ALL, SECT_RUN,
	  "overall per probe, retries included (default 5s)", DUR,
	  set_timeout },
	{ "retries", 0, "N", CMD_ALL, SECT_RUN,
	  "re-probe filtered targets N more times (default 0)", "0 to 100",
	  set_retries },
	{ "format", 'f', "F", CMD_ALL, SECT_OUT,
	  "text | jsonl | csv | grep | xml (default text)\n"
	  "text: open/ok results and input errors, then\n"
	  "'Not shown: N closed, ...'; jsonl, csv, xml:\n"
	  "every result; grep: ip:port or URL per open/ok",
	  "text, jsonl, csv, grep or xml", set_format },
	{ "output", 'o', "FILE", CMD_ALL, SECT_OUT,
	  "write results to FILE ('-' = stdout, the default)", NULL,
	  set_output },
	{ "open", 0, NULL, CMD_SCAN, SECT_OUT,
	  "print only open (tcp) / ok (http, tls) results", NULL, set_open },
	{ "all", 0, NULL, CMD_SCAN, SECT_OUT, "text: print every result", NULL,
	  set_all },
	{ "snapshot-all", 0, NULL, CMD_ALL, SECT_OUT,
	  "SIGUSR1 snapshot lists every probe in flight\n"
	  "(default: the 20 oldest)", NULL, set_snapshot_all },
	{ "progress", 0, NULL, CMD_ALL, SECT_OUT,
	  "live progress line on stderr (default: if a tty)", NULL,
	  set_progress },
	{ "no-progress", 0, NULL, CMD_ALL, SECT_OUT, "no progress line", NULL,
	  set_no_progress },
	{ "summary", 0, NULL, CMD_ALL, SECT_OUT,
	  "counts, latency and slowest targets on stderr", NULL,
	  set_summary },
	{ "stats", 0, NULL, CMD_ALL, SECT_OUT,
	  "engine counters in the summary (implies --summary)", NULL,
	  set_stats },
	{ "stats-json", 0, "FILE", CMD_ALL, SECT_OUT,
	  "write the engine counters to FILE as JSON", NULL, set_stats_json },
	{ "resume", 0, "FILE", CMD_SCAN, SECT_OUT,
	  "keep the run's state in FILE; the same command\n"
	  "again continues it, appending to -o (jsonl, csv)", NULL,
	  set_resume },
	{ "quiet", 'q', NULL, CMD_ALL, SECT_OUT,
	  "no progress, summary or per-line diagnostics", NULL, set_quiet },
	{ "resolver", 0, "LIST", CMD_SCAN, SECT_NAMES,
	  "DNS servers IP[:PORT],[IPv6]:PORT (default\n/etc/resolv.conf)",
	  "IP[:PORT],[IPv6]:PORT,...", set_resolver },
	{ "dns-timeout", 0, "D", CMD_SCAN, SECT_NAMES, "per try (default 2s)",
	  "a duration of 1ms or more, with a unit", set_dns_timeout },
	{ "dns-retries", 0, "N", CMD_SCAN, SECT_NAMES,
	  "extra tries per server (default 1)", "0 to 20", set_dns_retries },
	{ "dns-concurrency", 0, "N", CMD_SCAN, SECT_NAMES,
	  "lookups in flight (default 64)", "1 to 100000",
	  set_dns_concurrency },
	{ NULL, '4', NULL, CMD_SCAN, SECT_NAMES, "only IPv4 addresses", NULL,
	  set_ipv4 },
	{ NULL, '6', NULL, CMD_SCAN, SECT_NAMES, "only IPv6 addresses", NULL,
	  set_ipv6 },
	{ "no-hosts", 0, NULL, CMD_SCAN, SECT_NAMES, "do not read /etc/hosts",
	  NULL, set_no_hosts },
	{ "all-addrs", 0, NULL, CMD_SCAN, SECT_NAMES,
	  "probe every address of a name (up to 8),\n"
	  "one result each (default: the first)", NULL, set_all_addrs },
	{ "no-resolve", 'n', NULL, CMD_SCAN, SECT_NAMES,
	  "never resolve: a name is an invalid line", NULL, set_no_resolve },
	{ "banner", 0, NULL, CMD_TCP, SECT_TCP,
	  "read the first line each open port sends;\n"
	  "the banner field (text: 'banner: LINE')", NULL, set_banner },
	{ "banner-wait", 0, "D", CMD_TCP, SECT_TCP,
	  "how long to wait for it (default 2s; implies\n--banner)", DUR,
	  set_banner_wait },
	{ "path", 0, "PATH", CMD_HTTP, SECT_HTTP,
	  "request target for non-URL targets (default /)",
	  "/PATH without blanks", set_path },
	{ "method", 0, "M", CMD_HTTP, SECT_HTTP,
	  "request method (default GET; HEAD reads no body)",
	  "a method like GET or HEAD (a token: no blanks)", set_method },
	{ "header", 'H', "'N: V'", CMD_HTTP, SECT_HTTP,
	  "request header (repeatable); it replaces a header\n"
	  "ringprobe sends of that name (Host, User-Agent,\n"
	  "Accept, Connection); 'N:' drops that header",
	  "'Name: value' (no control bytes)", set_header },
	{ "user-agent", 0, "UA", CMD_HTTP, SECT_HTTP,
	  "User-Agent (default ringprobe/VERSION)",
	  "a non-empty value without control bytes", set_user_agent },
	{ "max-body", 0, "N", CMD_HTTP, SECT_HTTP,
	  "body bytes read at most (default 1M; k/M/G)",
	  "bytes like 65536 or 1M", set_max_body },
	{ "max-header", 0, "N", CMD_HTTP, SECT_HTTP,
	  "status line + headers at most (default 64k)",
	  "bytes like 65536 or 64k", set_max_header },
	{ "read-timeout", 0, "D", CMD_HTTP, SECT_HTTP,
	  "per send/receive (default: up to --timeout)", DUR,
	  set_read_timeout },
	{ "match-status", 0, "LIST", CMD_HTTP, SECT_HTTP,
	  "print only these HTTP statuses (200,300-399)",
	  "codes and ranges like 200,300-399", set_match_status },
	{ "filter-status", 0, "LIST", CMD_HTTP, SECT_HTTP,
	  "do not print these HTTP statuses",
	  "codes and ranges like 200,300-399", set_filter_status },
	{ "scheme", 0, "S", CMD_HTTP, SECT_HTTP,
	  "http, https or auto (default) for targets that\n"
	  "are not URLs: auto is https on 443 and 8443;\n"
	  "-p items may say it: -p https:443,http:80",
	  "http, https or auto", set_scheme },
	{ "follow", 0, "N", CMD_HTTP, SECT_HTTP,
	  "follow up to N redirects (default 0: report\n"
	  "them; http(s):// and absolute paths only) on\n"
	  "the target's own host (name or address)",
	  "0 to 20 redirects", set_follow },
	{ "follow-any-host", 0, NULL, CMD_HTTP, SECT_HTTP,
	  "... and to any other host too", NULL, set_follow_any_host },
	{ "sni", 0, "NAME", HTTP_TLS, SECT_TLS,
	  "server name to send to targets given as an\n"
	  "address (names and URLs send their host)", "a host name",
	  set_sni },
	{ "alpn", 0, "LIST", HTTP_TLS, SECT_TLS,
	  "offer these ALPN protocols (h2,http/1.1)",
	  "a list like h2,http/1.1", set_alpn },
	{ "cacert", 0, "FILE", HTTP_TLS, SECT_TLS,
	  "trust these CA certificates (PEM) instead of\nthe system's", NULL,
	  set_cacert },
	{ "verify", 0, NULL, HTTP_TLS, SECT_TLS,
	  "a certificate that does not verify is a\n"
	  "tls-error (default: reported in 'verify')", NULL, set_verify },
	{ "tls-min", 0, "V", HTTP_TLS, SECT_TLS,
	  "lowest TLS version: 1.0, 1.1, 1.2 (default), 1.3\n"
	  "(1.0 and 1.1 lower OpenSSL's security level)",
	  "1.0, 1.1, 1.2 or 1.3", set_tls_min },
	{ "tls-max", 0, "V", HTTP_TLS, SECT_TLS,
	  "highest TLS version (default 1.3)", "1.0, 1.1, 1.2 or 1.3",
	  set_tls_max },
	{ "handshake-timeout", 0, "D", HTTP_TLS, SECT_TLS,
	  "whole TLS handshake (default: up to --timeout)", DUR,
	  set_handshake_timeout },
	{ "max-handshakes", 0, "N", HTTP_TLS, SECT_TLS,
	  "TLS probes connecting or handshaking at once,\n"
	  "over all threads (default 1024 per thread);\n"
	  "more wait their turn before connecting;\n"
	  "0 = no limit", "0 to 1000000", set_max_handshakes },
	{ "expiring-within", 0, "DAYS", HTTP_TLS, SECT_TLS,
	  "print only results whose certificate expires\n"
	  "within DAYS (or has expired)", "days, 0 to 100000",
	  set_expiring_within },
	{ "help", 'h', NULL, CMD_ALL, SECT_MISC, "this help", NULL, NULL },
	{ "version", 'V', NULL, CMD_ALL, SECT_MISC, "print the version", NULL,
	  NULL },
};

const size_t cli_nopts = sizeof(cli_opts) / sizeof(cli_opts[0]);
