/*
 * resume_fp.c - the fingerprint of a run for --resume: every option that
 * changes which targets there are, in what order, or what their results
 * (and records) are, and the inputs themselves, as "key = value" pairs a
 * user can read. A resumed run must have the same; when it differs, the
 * keys say what changed ("--ports was '1-100', now '1-200'").
 *
 * Left out on purpose: what only changes how fast or how loudly the run
 * goes (-c, -r, --threads, --dns-concurrency, progress, summary, stats,
 * -q, --stats-json).
 *
 * An input file is fingerprinted by its name, size, modification time and
 * an FNV-1a hash of its first and last 64 KiB: reading it all would cost
 * as much as the scan's own reading, and any edit changes the time. Input
 * that cannot be read again (stdin, a pipe) cannot be resumed: refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resume.h"
#include "util.h"

#define HASH_SPAN (64 * 1024)

int fp_add(struct fp *f, const char *key, const char *val)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 64;
		struct fp_item *v = realloc(f->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->v = v;
		f->cap = cap;
	}
	f->v[f->n].key = strdup(key);
	f->v[f->n].val = strdup(val ? val : "(none)");
	if (!f->v[f->n].key || !f->v[f->n].val) {
		free(f->v[f->n].key);
		free(f->v[f->n].val);
		return -ENOMEM;
	}
	f->n++;
	return 0;
}

void fp_free(struct fp *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].key);
		free(f->v[i].val);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

#define FNV_START 0xcbf29ce484222325ull

static int add_u64(struct fp *f, const char *key, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return fp_add(f, key, buf);
}

/* A duration as the options take it: "default" for 0, else "2s",
 * "500ms", "250us" or "N ns". */
static int add_dur(struct fp *f, const char *key, uint64_t ns)
{
	static const struct { uint64_t div; const char *unit; } u[] = {
		{ 1000000000ull, "s" }, { 1000000ull, "ms" }, { 1000ull, "us" },
		{ 1, "ns" },
	};
	char buf[40] = "default";

	for (size_t i = 0; ns && i < sizeof(u) / sizeof(u[0]); i++)
		if (ns % u[i].div == 0) {
			snprintf(buf, sizeof(buf), "%" PRIu64 "%s",
				 ns / u[i].div, u[i].unit);
			break;
		}
	return fp_add(f, key, buf);
}

/* A --match-status/--filter-status bitmap as its ranges: "200,300-399". */
static int add_status(struct fp *f, const char *key, const uint8_t *b)
{
	char buf[4096] = "";
	size_t len = 0;

	for (int c = 0; b && c < 1000; c++) {
		int e = c;

		if (!b[c])
			continue;
		while (e + 1 < 1000 && b[e + 1])
			e++;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					e > c ? "%s%d-%d" : "%s%d", len ? "," : "",
					c, e);
		c = e;
	}
	return fp_add(f, key, b ? buf : NULL);
}

/* Hashes n bytes of fd from at into *h. Returns 0 or -errno. */
static int hash_range(int fd, off_t at, off_t n, uint64_t *h)
{
	char buf[4096];

	while (n > 0) {
		ssize_t r = pread(fd, buf, n < (off_t)sizeof(buf)
					   ? (size_t)n : sizeof(buf), at);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO; /* shorter than it said: changing */
		*h = fnv(*h, buf, (size_t)r);
		at += r;
		n -= r;
	}
	return 0;
}

/* "-i #N name/size/mtime/hash": one input file. */
static int add_input(struct fp *f, int i, const char *path)
{
	char key[64], val[64];
	struct stat st;
	uint64_t h = FNV_START;
	int fd, r = 0;

	if (!strcmp(path, "-") || stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: --resume needs inputs it can read again: "
			"'%s' is %s\n", prog, path,
			!strcmp(path, "-") ? "standard input"
					   : "not a regular file");
		return EXIT_USAGE;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot read targets from '%s': %s\n", prog,
			path, strerror(errno));
		return EXIT_USAGE;
	}
	/* the first and the last HASH_SPAN bytes (once where they overlap) */
	off_t size = st.st_size, second = size - HASH_SPAN;

	if (second < HASH_SPAN)
		second = HASH_SPAN;
	r = hash_range(fd, 0, size < HASH_SPAN ? size : HASH_SPAN, &h);
	if (!r && size > second)
		r = hash_range(fd, second, size - second, &h);
	if (r < 0) {
		fprintf(stderr, "%s: cannot read targets from '%s': %s\n", prog,
			path, strerror(-r));
		close(fd);
		return EXIT_USAGE;
	}
	close(fd);
	snprintf(key, sizeof(key), "-i #%d name", i + 1);
	r = fp_add(f, key, path);
	snprintf(key, sizeof(key), "-i #%d size", i + 1);
	r = r ? r : add_u64(f, key, (uint64_t)st.st_size);
	snprintf(key, sizeof(key), "-i #%d modification time", i + 1);
	snprintf(val, sizeof(val), "%lld.%09ld", (long long)st.st_mtim.tv_sec,
		 st.st_mtim.tv_nsec);
	r = r ? r : fp_add(f, key, val);
	snprintf(key, sizeof(key), "-i #%d content hash", i + 1);
	snprintf(val, sizeof(val), "%016" PRIx64, h);
	r = r ? r : fp_add(f, key, val);
	return r ? EXIT_RUNTIME : EXIT_OK;
}

/* Strings joined by '\n' (-H lines). */
static int add_list(struct fp *f, const char *key, const char *const *v)
{
	size_t len = 1;
	char *s;
	int r;

	for (size_t i = 0; v && v[i]; i++)
		len += strlen(v[i]) + 1;
	s = calloc(1, len);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; v && v[i]; i++) {
		if (i)
			strcat(s, "\n");
		strcat(s, v[i]);
	}
	r = fp_add(f, key, s);
	free(s);
	return r;
}

static const char *kind_name(enum rp_probe_kind k)
{
	switch (k) {
	case RP_PROBE_HTTP: return "http";
	case RP_PROBE_BANNER: return "tcp --banner";
	case RP_PROBE_TLS: return "tls";
	default: return "tcp";
	}
}

static const char *format_name(enum out_format f)
{
	return f == OUT_JSONL ? "jsonl" : f == OUT_CSV ? "csv" : "other";
}

/* The options; inputs and arguments are added by fp_build(). */
static int add_options(struct fp *f, const struct cli *c, const char *ports,
		       const struct resume_order *ord)
{
	const struct rp_engine_opts *e = &c->eo;
	char shard[32] = "none";
	int r = 0;

	if (ord->shards)
		snprintf(shard, sizeof(shard), "%u/%u", ord->shard, ord->shards);
	r |= fp_add(f, "command", kind_name(e->kind));
	r |= fp_add(f, "--ports", ports);
	r |= add_u64(f, "--scheme", (uint64_t)c->scheme);
	r |= fp_add(f, "--shard", shard);
	r |= fp_add(f, "--no-shuffle", c->no_shuffle ? "yes" : "no");
	r |= add_u64(f, "--shuffle-window", c->shuffle_window);
	r |= add_u64(f, "--top-ports", c->top_ports);
	r |= fp_add(f, "--exclude-ports", c->exclude_ports);
	r |= fp_add(f, "--format", format_name(c->format));
	r |= fp_add(f, "--output", c->output);
	r |= fp_add(f, "--open", c->only_open ? "yes" : "no");
	r |= add_dur(f, "--connect-timeout", e->connect_timeout_ns);
	r |= add_dur(f, "--timeout", e->timeout_ns);
	r |= add_u64(f, "--retries", e->retries);
	r |= add_dur(f, "--banner-wait", e->banner_wait_ns);
	r |= fp_add(f, "--method", e->http.method);
	r |= fp_add(f, "--path", e->http.path);
	r |= fp_add(f, "--user-agent", e->http.user_agent);
	r |= add_list(f, "--header", e->http.headers);
	r |= add_u64(f, "--max-body", e->http.max_body);
	r |= add_u64(f, "--max-header", e->http.max_header);
	r |= add_dur(f, "--read-timeout", e->http.io_timeout_ns);
	r |= add_u64(f, "--follow", e->http.follow);
	r |= add_u64(f, "--follow-any-host", (uint64_t)e->http.follow_any_host);
	r |= add_status(f, "--match-status", c->match_status);
	r |= add_status(f, "--filter-status", c->filter_status);
	r |= fp_add(f, "--sni", e->tls.sni);
	r |= fp_add(f, "--alpn", e->tls.alpn);
	r |= fp_add(f, "--cacert", e->tls.cafile);
	r |= add_u64(f, "--verify", (uint64_t)e->tls.verify);
	r |= add_u64(f, "--tls-min", (uint64_t)e->tls.min_version);
	r |= add_u64(f, "--tls-max", (uint64_t)e->tls.max_version);
	r |= add_dur(f, "--handshake-timeout", e->tls.handshake_timeout_ns);
	if (c->expiring >= 0)
		r |= add_u64(f, "--expiring-within", (uint64_t)c->expiring);
	else
		r |= fp_add(f, "--expiring-within", NULL);
	r |= fp_add(f, "--resolver", e->dns.servers);
	r |= add_dur(f, "--dns-timeout", e->dns.timeout_ns);
	r |= add_u64(f, "--dns-retries", e->dns.tries);
	r |= fp_add(f, "-4/-6", e->dns.family == AF_INET    ? "-4"
				: e->dns.family == AF_INET6 ? "-6"
							    : "both");
	r |= add_u64(f, "--no-hosts", (uint64_t)e->dns.no_hosts);
	return r;
}

int fp_build(struct fp *f, const struct cli *c, const char *ports,
	     int nargs, char **args, const struct resume_order *ord)
{
	uint64_t h = FNV_START;
	char val[64];
	int rc;

	if (add_options(f, c, ports, ord))
		return EXIT_RUNTIME;
	for (int i = 0; i < nargs; i++)
		h = fnv(h, args[i], strlen(args[i]) + 1);
	snprintf(val, sizeof(val), "%d, hash %016" PRIx64, nargs, h);
	if (fp_add(f, "TARGET arguments", val))
		return EXIT_RUNTIME;
	snprintf(val, sizeof(val), "%d", c->ninputs);
	if (fp_add(f, "-i files", val))
		return EXIT_RUNTIME;
	for (int i = 0; i < c->ninputs; i++)
		if ((rc = add_input(f, i, c->inputs[i])) != EXIT_OK)
			return rc;
	return EXIT_OK;
}
