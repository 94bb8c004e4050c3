/*
 * main.c - the ringprobe command line: the usage text, the arguments
 * parsed into a struct cli, the demo, and main(). The scan itself (signals,
 * the workers, progress and summary) runs in scan.c, behind scan.h.
 *
 * The CLI uses only the public header: if it needs something from the
 * engine, that becomes API.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "scan.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s tcp [options] [TARGET...]\n"
		"       %s http [options] [TARGET...]\n"
		"       %s tls [options] [TARGET...]\n"
		"       %s demo [options]\n"
		"\n"
		"Probes TCP ports (tcp), fetches one HTTP/1.1 response per target\n"
		"(http, https), or does a TLS handshake and reports the certificate\n"
		"(tls), with io_uring, printing one result per target as each probe\n"
		"completes. TARGET: IP, HOST, IP:PORT, HOST:PORT, [IPv6]:PORT, CIDR,\n"
		"a range (10.0.0.1-254, 10.0.0-3.*, 10.0.0.250-10.0.1.5, ::1-::5),\n"
		"or a URL http[s]://HOST[:PORT]/PATH.\n"
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
		"      --stats-json FILE    write the engine counters to FILE as JSON\n"
		"      --threads N          engines (one ring each) on N threads sharing\n"
		"                           the input and -c (default: the CPUs available)\n"
		"  -q, --quiet              no progress, summary or per-line diagnostics\n"
		"\nnames (hostname targets):\n"
		"      --resolver LIST      DNS servers IP[:PORT],[IPv6]:PORT (default\n"
		"                           /etc/resolv.conf)\n"
		"      --dns-timeout D      per try (default 2s)\n"
		"      --dns-retries N      extra tries per server (default 1)\n"
		"      --dns-concurrency N  lookups in flight (default 64)\n"
		"  -4, -6                   only IPv4 / only IPv6 addresses\n"
		"      --no-hosts           do not read /etc/hosts\n"
		"      --all-addrs          probe every address of a name (up to 8),\n"
		"                           one result each (default: the first)\n"
		"  -n, --no-resolve         never resolve: a name is an invalid line\n"
		"\ntcp only:\n"
		"      --banner             read the first line each open port sends;\n"
		"                           the banner field (text: 'banner: LINE')\n"
		"      --banner-wait D      how long to wait for it (default 2s)\n"
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
		"      --scheme S           http, https or auto (default) for targets that\n"
		"                           are not URLs: auto is https on 443 and 8443;\n"
		"                           -p items may say it: -p https:443,http:80\n"
		"      --follow N           follow up to N redirects (default 0: report\n"
		"                           them; http(s):// and absolute paths only) on\n"
		"                           the target's own host (name or address)\n"
		"      --follow-any-host    ... and to any other host too\n"
		"\ntls and https:\n"
		"      --sni NAME           server name to send to targets given as an\n"
		"                           address (names and URLs send their host)\n"
		"      --alpn LIST          offer these ALPN protocols (h2,http/1.1)\n"
		"      --cacert FILE        trust these CA certificates (PEM) instead of\n"
		"                           the system's\n"
		"      --verify             a certificate that does not verify is a\n"
		"                           tls-error (default: reported in 'verify')\n"
		"      --tls-min V, --tls-max V\n"
		"                           TLS versions to allow: 1.0, 1.1, 1.2, 1.3\n"
		"                           (1.0 and 1.1 lower OpenSSL's security level)\n"
		"      --handshake-timeout D\n"
		"                           whole TLS handshake (default: up to --timeout)\n"
		"      --expiring-within DAYS\n"
		"                           print only results whose certificate expires\n"
		"                           within DAYS (or has expired)\n"
		"  -h, --help               this help\n"
		"  -V, --version            print the version\n"
		"\n"
		"Exit: 0 done, 1 runtime failure, 2 usage or input error, 130 interrupted.\n"
		"SIGUSR1 or SIGQUIT prints the probes in flight and the counters.\n",
		prog, prog, prog, prog, DEFAULT_CONCURRENCY);
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

/* "IP[:PORT],[IPv6]:PORT,IPv6,..." as c-ares takes it: 0 if well formed. */
static int check_resolvers(const char *list)
{
	char item[80], addr[80];
	struct in6_addr a;
	const char *p = list;

	for (;;) {
		size_t n = strcspn(p, ",");
		const char *port = NULL;

		if (n == 0 || n >= sizeof(item))
			return -EINVAL;
		memcpy(item, p, n);
		item[n] = '\0';
		if (item[0] == '[') {
			char *end = strchr(item, ']');

			if (!end || (end[1] && end[1] != ':'))
				return -EINVAL;
			*end = '\0';
			snprintf(addr, sizeof(addr), "%s", item + 1);
			port = end[1] ? end + 2 : NULL;
			if (inet_pton(AF_INET6, addr, &a) != 1)
				return -EINVAL;
		} else if (inet_pton(AF_INET6, item, &a) != 1) {
			char *colon = strchr(item, ':');

			if (colon) {
				*colon = '\0';
				port = colon + 1;
			}
			if (inet_pton(AF_INET, item, &a) != 1)
				return -EINVAL;
		}
		if (port) {
			uint64_t v;

			if (parse_uint(port, 65535, &v) < 0 || v == 0)
				return -EINVAL;
		}
		p += n;
		if (!*p)
			return 0;
		p++;
	}
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

/* "1.0" .. "1.3" to an rp_tls_version, or -1. */
static int parse_tls_version(const char *s)
{
	static const char *const names[] = { "1.0", "1.1", "1.2", "1.3" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return RP_TLS_1_0 + i;
	return -1;
}

/* "h2,http/1.1": names of 1 to 255 printable bytes. */
static bool alpn_ok(const char *s)
{
	size_t n;

	do {
		n = strcspn(s, ",");
		if (n == 0 || n > 255)
			return false;
		for (size_t i = 0; i < n; i++)
			if (s[i] <= ' ' || s[i] >= 0x7f)
				return false;
		s += n;
	} while (*s++ == ',');
	return true;
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
	OPT_ALL_ADDRS,
	OPT_THREADS,
	OPT_FOLLOW,
	OPT_FOLLOW_ANY_HOST,
	OPT_STATS_JSON,
	OPT_BANNER,
	OPT_BANNER_WAIT,
	OPT_SNI,
	OPT_ALPN,
	OPT_CACERT,
	OPT_VERIFY,
	OPT_TLS_MIN,
	OPT_TLS_MAX,
	OPT_HANDSHAKE_TIMEOUT,
	OPT_EXPIRING_WITHIN,
	OPT_SCHEME,
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
	{ "all-addrs", no_argument, NULL, OPT_ALL_ADDRS },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "follow", required_argument, NULL, OPT_FOLLOW },
	{ "follow-any-host", no_argument, NULL, OPT_FOLLOW_ANY_HOST },
	{ "stats-json", required_argument, NULL, OPT_STATS_JSON },
	{ "banner", no_argument, NULL, OPT_BANNER },
	{ "banner-wait", required_argument, NULL, OPT_BANNER_WAIT },
	{ "sni", required_argument, NULL, OPT_SNI },
	{ "alpn", required_argument, NULL, OPT_ALPN },
	{ "cacert", required_argument, NULL, OPT_CACERT },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "tls-min", required_argument, NULL, OPT_TLS_MIN },
	{ "tls-max", required_argument, NULL, OPT_TLS_MAX },
	{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
	{ "expiring-within", required_argument, NULL, OPT_EXPIRING_WITHIN },
	{ "scheme", required_argument, NULL, OPT_SCHEME },
	{ "quiet", no_argument, NULL, 'q' },
	{ "no-resolve", no_argument, NULL, 'n' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int parse_args(struct cli *c, int argc, char **argv)
{
	uint64_t v;
	int opt, f;

	while ((opt = getopt_long(argc, argv, "p:i:c:r:f:o:H:46nqhV", long_opts,
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
			if (check_resolvers(optarg) < 0)
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
		case OPT_BANNER_WAIT:
			if (rp_parse_duration(optarg, &v) < 0 || v == 0)
				return die_usage("bad --banner-wait '%s': want a "
						 "duration like 2s or 500ms",
						 optarg);
			c->eo.banner_wait_ns = v;
			/* a wait means banners are wanted */
			__attribute__((fallthrough));
		case OPT_BANNER:
			if (c->http || c->tls)
				return die_usage("--banner and --banner-wait "
						 "are for tcp");
			c->banner = true;
			c->eo.kind = RP_PROBE_BANNER;
			break;
		case OPT_SNI:
			if (!optarg[0] || strlen(optarg) > 253 ||
			    strpbrk(optarg, " \t\r\n"))
				return die_usage("bad --sni '%s': want a host "
						 "name", optarg);
			c->eo.tls.sni = optarg;
			break;
		case OPT_ALPN:
			if (!alpn_ok(optarg))
				return die_usage("bad --alpn '%s': want a list "
						 "like h2,http/1.1", optarg);
			c->eo.tls.alpn = optarg;
			break;
		case OPT_CACERT:
			if (access(optarg, R_OK) < 0)
				return die_usage("--cacert %s: %s", optarg,
						 strerror(errno));
			c->eo.tls.cafile = optarg;
			break;
		case OPT_VERIFY:
			c->eo.tls.verify = 1;
			break;
		case OPT_TLS_MIN:
		case OPT_TLS_MAX:
			f = parse_tls_version(optarg);
			if (f < 0)
				return die_usage("bad --tls-%s '%s': want 1.0, "
						 "1.1, 1.2 or 1.3",
						 opt == OPT_TLS_MIN ? "min" : "max",
						 optarg);
			if (opt == OPT_TLS_MIN)
				c->eo.tls.min_version = f;
			else
				c->eo.tls.max_version = f;
			break;
		case OPT_HANDSHAKE_TIMEOUT:
			if (rp_parse_duration(optarg, &v) < 0 || v == 0)
				return die_usage("bad --handshake-timeout '%s': "
						 "want a duration like 3s",
						 optarg);
			c->eo.tls.handshake_timeout_ns = v;
			break;
		case OPT_SCHEME:
			if (!strcmp(optarg, "auto"))
				c->scheme = RP_SCHEME_AUTO;
			else if (!strcmp(optarg, "http"))
				c->scheme = RP_SCHEME_HTTP;
			else if (!strcmp(optarg, "https"))
				c->scheme = RP_SCHEME_HTTPS;
			else
				return die_usage("bad --scheme '%s': want http, "
						 "https or auto", optarg);
			break;
		case OPT_EXPIRING_WITHIN:
			if (parse_uint(optarg, 100000, &v) < 0)
				return die_usage("bad --expiring-within '%s': "
						 "want days, 0 to 100000",
						 optarg);
			c->expiring = (int)v;
			break;
		case OPT_FOLLOW:
			if (parse_uint(optarg, 20, &v) < 0)
				return die_usage("bad --follow '%s': want 0 to "
						 "20 redirects", optarg);
			c->eo.http.follow = (uint32_t)v;
			break;
		case OPT_FOLLOW_ANY_HOST:
			c->eo.http.follow_any_host = 1;
			break;
		case OPT_THREADS:
			if (parse_uint(optarg, 256, &v) < 0 || v == 0)
				return die_usage("bad --threads '%s': want 1 to "
						 "256", optarg);
			c->threads = (uint32_t)v;
			break;
		case OPT_STATS_JSON:
			c->stats_json = optarg;
			break;
		case OPT_ALL_ADDRS:
			c->eo.dns.all_addrs = 1;
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
		case 'n':
			c->no_resolve = 1;
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
	if (c->eo.tls.min_version && c->eo.tls.max_version &&
	    c->eo.tls.min_version > c->eo.tls.max_version)
		return die_usage("--tls-min is above --tls-max");
	if (c->quiet) {
		c->progress = 0;
		c->summary = c->stats = false;
	}
	return 0;
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
static _Atomic int demo_found;

static void demo_result(const struct rp_result *r)
{
	if (r->status == RP_STATUS_OPEN && r->addr) {
		uint16_t p = ntohs(((const struct sockaddr_in *)r->addr)->sin_port);

		for (int i = 0; i < 3; i++)
			if (p == demo_ports[i])
				demo_found++;
	}
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
	c->observe = demo_result;
	rc = cli_scan(c, 1, args);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	if (rc == EXIT_OK && demo_found != 3) {
		fprintf(stderr, "demo: FAILED: found %d of the 3 listeners\n",
			(int)demo_found);
		return EXIT_RUNTIME;
	}
	if (rc == EXIT_OK)
		fprintf(stderr, "demo: found all 3 listeners\n");
	return rc;
}

int main(int argc, char **argv)
{
	struct cli c = { .progress = -1, .format = OUT_TEXT, .expiring = -1 };
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
	if (strcmp(cmd, "tcp") && strcmp(cmd, "http") && strcmp(cmd, "tls") &&
	    strcmp(cmd, "demo"))
		return die_usage("unknown command '%s': want tcp, http, tls or "
				 "demo", cmd);
	if (!strcmp(cmd, "http")) {
		c.http = true;
		c.eo.kind = RP_PROBE_HTTP;
	} else if (!strcmp(cmd, "tls")) {
		c.tls = true;
		c.eo.kind = RP_PROBE_TLS;
	}

	c.inputs = calloc((size_t)argc, sizeof(*c.inputs));
	c.headers = calloc((size_t)argc, sizeof(*c.headers));
	if (!c.inputs || !c.headers)
		return EXIT_RUNTIME;
	rc = parse_args(&c, argc - 1, argv + 1);
	if (rc == 0) {
		cli_install_signals();
		if (!strcmp(cmd, "demo"))
			rc = demo(&c);
		else
			rc = cli_scan(&c, argc - 1 - optind, argv + 1 + optind);
	}
	free(c.inputs);
	free(c.headers);
	free(c.match_status);
	free(c.filter_status);
	return rc;
}
