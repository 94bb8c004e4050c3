/*
 * hs_common.c - the timed handshake loop shared by the three programs (see
 * hs_common.h): options, loopback-only TCP connect, getrusage around the
 * measured handshakes, and the RESULT / FACTS output lines.
 *
 * Output (stdout), one line each:
 *   RESULT lib=.. libversion=.. label=.. n=.. ok=.. notok=.. user_us=..
 *          sys_us=.. cpu_us_per_hs=.. user_us_per_hs=.. sys_us_per_hs=..
 *          wall_us_per_hs=.. maxrss_kb=..
 *   FACTS {json of the last handshake's certificate facts}
 * or in paired mode one line per configuration:
 *   RESULT lib=.. libversion=.. label=.. n=.. ok=.. notok=.. paired=1
 *          cpu_us_per_hs=(mean) cpu_med_us=.. cpu_p10_us=.. cpu_p90_us=..
 * Exit 0 when every handshake completed (and, with --expect-ok, every
 * verdict was ok), 1 otherwise, 2 on bad usage.
 */
#define _GNU_SOURCE
#include "hs_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_storage peer;
static socklen_t peer_len;

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [options] HOST PORT   (HOST: a loopback literal)\n"
		"  -n N            measured handshakes (default 2000)\n"
		"  -w N            warm-up handshakes, not measured (default 20)\n"
		"  --name NAME     SNI and the host name verified (default tls-bench.test)\n"
		"  --rotate K      handshake i uses the name h<i mod K>.NAME\n"
		"  --ca FILE|default|none  trust anchors (default: none)\n"
		"  --alpn PROTO    protocol offered by ALPN (default http/1.1)\n"
		"  --label TEXT    echoed in the RESULT line\n"
		"  --no-facts      skip the certificate facts\n"
		"  --expect-ok     fail unless every verdict is ok\n"
		"  --tcp-only      connect and close, no TLS (the TCP share)\n"
		"  --time-limit S  give up after S seconds (default 600)\n"
		"  --variant LABEL:SPEC  paired mode, repeatable (see hs_common.h)\n"
		"  -O KEY[=VAL]    library option (see the program's header)\n",
		prog);
}

static int set_peer(const char *host, int port)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&peer;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&peer;

	memset(&peer, 0, sizeof(peer));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
			return -1;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((unsigned short)port);
		peer_len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
			return -1;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((unsigned short)port);
		peer_len = sizeof(*a6);
		return 0;
	}
	return -1;
}

/* A blocking socket connected to the peer, with 5 s I/O timeouts. */
static int tcp_connect(void)
{
	struct timeval tv = { .tv_sec = 5 };
	int one = 1;
	int fd;

	fd = socket(peer.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&peer, peer_len) < 0) {
		fprintf(stderr, "connect: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int hs_libopt(const struct hs_opts *o, const char *key, const char **val)
{
	size_t kl = strlen(key);
	int found = 0;

	for (int i = 0; i < o->n_libopts; i++) {
		const char *s = o->libopt[i];

		if (strncmp(s, key, kl) == 0 && (s[kl] == '\0' || s[kl] == '=')) {
			found = 1;
			if (val)
				*val = s[kl] ? s + kl + 1 : "";
		}
	}
	return found;
}

static int parse(struct hs_opts *o, int argc, char **argv, char **specs,
		 int *nv)
{
	static const struct option lopts[] = {
		{ "name", required_argument, NULL, 'N' },
		{ "ca", required_argument, NULL, 'C' },
		{ "alpn", required_argument, NULL, 'A' },
		{ "label", required_argument, NULL, 'L' },
		{ "no-facts", no_argument, NULL, 'F' },
		{ "expect-ok", no_argument, NULL, 'E' },
		{ "tcp-only", no_argument, NULL, 'T' },
		{ "time-limit", required_argument, NULL, 'S' },
		{ "rotate", required_argument, NULL, 'R' },
		{ "variant", required_argument, NULL, 'V' },
		{ 0 }
	};
	long limit = 600;
	int c;

	*o = (struct hs_opts){ .n = 2000, .warmup = 20, .name = "tls-bench.test",
			       .ca = "none", .alpn = "http/1.1", .label = "",
			       .facts = 1 };
	while ((c = getopt_long(argc, argv, "n:w:O:", lopts, NULL)) != -1) {
		switch (c) {
		case 'n': o->n = atol(optarg); break;
		case 'w': o->warmup = atol(optarg); break;
		case 'N': o->name = optarg; break;
		case 'C': o->ca = optarg; break;
		case 'A': o->alpn = optarg; break;
		case 'L': o->label = optarg; break;
		case 'F': o->facts = 0; break;
		case 'E': o->expect_ok = 1; break;
		case 'T': o->tcp_only = 1; break;
		case 'S': limit = atol(optarg); break;
		case 'R': o->rotate = atoi(optarg); break;
		case 'V':
			if (*nv == HS_MAX_LIBOPTS)
				return -1;
			specs[(*nv)++] = optarg;
			break;
		case 'O':
			if (o->n_libopts == HS_MAX_LIBOPTS)
				return -1;
			o->libopt[o->n_libopts++] = optarg;
			break;
		default: return -1;
		}
	}
	if (argc - optind != 2 || o->n < 1 || o->warmup < 0 || limit < 1 ||
	    o->rotate < 0 || strlen(o->name) > 200)
		return -1;
	o->host = argv[optind];
	o->port = atoi(argv[optind + 1]);
	if (o->port < 1 || o->port > 65535 || set_peer(o->host, o->port)) {
		fprintf(stderr, "%s: not a loopback address and port: %s %s\n",
			argv[0], o->host, argv[optind + 1]);
		return -1;
	}
	alarm((unsigned)limit);	/* the loop's time bound: SIGALRM ends it */
	return 0;
}

static void json_val(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void json_str(const char *key, const char *s, int comma)
{
	printf("%s\"%s\":", comma ? "," : "", key);
	json_val(s);
}

static void print_facts(const struct hs_facts *f)
{
	printf("FACTS {");
	json_str("version", f->version, 0);
	json_str("cipher", f->cipher, 1);
	json_str("alpn", f->alpn, 1);
	json_str("sni", f->sni, 1);
	json_str("subject_cn", f->subject_cn, 1);
	printf(",\"sans\":[");
	for (int i = 0; i < f->n_sans; i++) {
		if (i)
			putchar(',');
		json_val(f->sans[i]);
	}
	printf("],\"sans_dropped\":%d", f->sans_dropped);
	json_str("issuer_cn", f->issuer_cn, 1);
	json_str("issuer_org", f->issuer_org, 1);
	json_str("not_before", f->not_before, 1);
	json_str("not_after", f->not_after, 1);
	json_str("sha256", f->sha256, 1);
	printf(",\"self_signed\":%d", f->self_signed);
	json_str("key", f->key, 1);
	printf(",\"chain_len\":%d,\"verified_len\":%d", f->chain_len,
	       f->verified_len);
	json_str("verify", f->verify, 1);
	printf("}\n");
}

static double tv_us(struct timeval t)
{
	return (double)t.tv_sec * 1e6 + (double)t.tv_usec;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Handshake i: connect, handshake, close. Returns -1 on failure. */
static int one(const struct hs_lib *lib, const struct hs_opts *o, void *st,
	       long i, struct hs_facts *f)
{
	char name[256];
	int fd = tcp_connect();
	int r = 0;

	if (fd < 0)
		return -1;
	if (!o->tcp_only) {
		if (o->rotate)
			snprintf(name, sizeof(name), "h%ld.%s", i % o->rotate,
				 o->name);
		else
			snprintf(name, sizeof(name), "%s", o->name);
		memset(f, 0, sizeof(*f));
		f->self_signed = -1;
		f->verified_len = -1;
		r = lib->handshake(st, o, name, fd, f);
	}
	close(fd);
	return r;
}

static int single(const struct hs_lib *lib, struct hs_opts *o)
{
	static struct hs_facts f;
	struct rusage r0, r1;
	long ok = 0, notok = 0, i;
	double w0, w1, user, sys;
	void *st = NULL;

	if (!o->tcp_only && !(st = lib->setup(o)))
		return 1;
	for (i = 0; i < o->warmup; i++) {
		if (one(lib, o, st, i, &f))
			return 1;
	}
	getrusage(RUSAGE_SELF, &r0);
	w0 = now_us();
	for (i = 0; i < o->n; i++) {
		if (one(lib, o, st, o->warmup + i, &f)) {
			fprintf(stderr, "handshake %ld of %ld failed\n", i + 1, o->n);
			return 1;
		}
		if (o->tcp_only || f.verify_ok)
			ok++;
		else
			notok++;
	}
	w1 = now_us();
	getrusage(RUSAGE_SELF, &r1);
	user = tv_us(r1.ru_utime) - tv_us(r0.ru_utime);
	sys = tv_us(r1.ru_stime) - tv_us(r0.ru_stime);
	printf("RESULT lib=%s libversion=%s label=%s n=%ld ok=%ld notok=%ld "
	       "user_us=%.0f sys_us=%.0f cpu_us_per_hs=%.1f user_us_per_hs=%.1f "
	       "sys_us_per_hs=%.1f wall_us_per_hs=%.1f maxrss_kb=%ld\n",
	       o->tcp_only ? "tcp" : lib->name,
	       o->tcp_only ? "-" : lib->version(), o->label[0] ? o->label : "-",
	       o->n, ok, notok, user, sys, (user + sys) / (double)o->n,
	       user / (double)o->n, sys / (double)o->n, (w1 - w0) / (double)o->n,
	       r1.ru_maxrss);
	if (!o->tcp_only) {
		print_facts(&f);
		lib->teardown(st);
	}
	fflush(stdout);
	if (o->expect_ok && notok) {
		fprintf(stderr, "%ld of %ld verdicts were not ok (last: %s)\n",
			notok, o->n, f.verify);
		return 1;
	}
	return 0;
}

/* One configuration of paired mode. */
struct variant {
	struct hs_opts o;	/* the base options plus this SPEC */
	char spec[512];		/* copy of LABEL:SPEC, cut into tokens */
	void *st;		/* the library's state for it */
	double *cpu_us;		/* thread CPU of each measured handshake */
	long done;		/* handshakes so far, warm-up included */
	long ok, notok;
};

/* Fills v from "LABEL:key[=val],..." on top of base. */
static int variant_parse(struct variant *v, const struct hs_opts *base,
			 const char *text)
{
	char *colon, *tok, *save = NULL;

	v->o = *base;
	snprintf(v->spec, sizeof(v->spec), "%s", text);
	if (!(colon = strchr(v->spec, ':')))
		return -1;
	*colon = '\0';
	v->o.label = v->spec;
	for (tok = strtok_r(colon + 1, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "ca=", 3) == 0)
			v->o.ca = tok + 3;
		else if (strcmp(tok, "nofacts") == 0)
			v->o.facts = 0;
		else if (strcmp(tok, "tcponly") == 0)
			v->o.tcp_only = 1;
		else if (strncmp(tok, "rotate=", 7) == 0)
			v->o.rotate = atoi(tok + 7);
		else if (v->o.n_libopts < HS_MAX_LIBOPTS)
			v->o.libopt[v->o.n_libopts++] = tok;
		else
			return -1;
	}
	return 0;
}

static double thread_cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Handshake of variant v, timed. Returns -1 on failure. */
static int paired_one(const struct hs_lib *lib, struct variant *v,
		      struct hs_facts *f)
{
	double t0 = thread_cpu_us();
	long i = v->done++;

	if (one(lib, &v->o, v->st, i, f)) {
		fprintf(stderr, "%s: handshake %ld failed\n", v->o.label, i + 1);
		return -1;
	}
	if (i < v->o.warmup)
		return 0;
	v->cpu_us[i - v->o.warmup] = thread_cpu_us() - t0;
	v->o.tcp_only || f->verify_ok ? v->ok++ : v->notok++;
	return 0;
}

static void paired_report(const struct hs_lib *lib, struct variant *v)
{
	double sum = 0;
	long n = v->o.n;

	for (long i = 0; i < n; i++)
		sum += v->cpu_us[i];
	qsort(v->cpu_us, (size_t)n, sizeof(double), cmp_double);
	printf("RESULT lib=%s libversion=%s label=%s n=%ld ok=%ld notok=%ld "
	       "paired=1 cpu_us_per_hs=%.1f cpu_med_us=%.1f cpu_p10_us=%.1f "
	       "cpu_p90_us=%.1f\n",
	       lib->name, lib->version(), v->o.label, n, v->ok, v->notok,
	       sum / (double)n, v->cpu_us[n / 2], v->cpu_us[n / 10],
	       v->cpu_us[n * 9 / 10]);
}

static int paired(const struct hs_lib *lib, const struct hs_opts *base,
		  char **specs, int nv)
{
	static struct variant v[HS_MAX_LIBOPTS];
	static struct hs_facts f;
	int rc = 0;

	for (int j = 0; j < nv; j++) {
		if (variant_parse(&v[j], base, specs[j])) {
			fprintf(stderr, "bad --variant: %s\n", specs[j]);
			return 2;
		}
		v[j].cpu_us = calloc((size_t)base->n, sizeof(double));
		if (!v[j].cpu_us)
			return 1;
		if (!v[j].o.tcp_only && !(v[j].st = lib->setup(&v[j].o)))
			return 1;
	}
	for (long c = 0; c < base->warmup + base->n; c++) {
		for (int j = 0; j < nv; j++) {
			if (paired_one(lib, &v[(c + j) % nv], &f))
				return 1;
		}
	}
	for (int j = 0; j < nv; j++) {
		paired_report(lib, &v[j]);
		/* With no trust anchors nothing can verify: not a failure. */
		if (base->expect_ok && v[j].notok &&
		    strcmp(v[j].o.ca, "none") != 0) {
			fprintf(stderr, "%s: %ld verdicts were not ok\n",
				v[j].o.label, v[j].notok);
			rc = 1;
		}
		if (v[j].st)
			lib->teardown(v[j].st);
		free(v[j].cpu_us);
	}
	fflush(stdout);
	return rc;
}

int hs_main(const struct hs_lib *lib, int argc, char **argv)
{
	struct hs_opts o;
	char *specs[HS_MAX_LIBOPTS];
	int nv = 0;

	if (parse(&o, argc, argv, specs, &nv)) {
		usage(argv[0]);
		return 2;
	}
	if (nv > 0 && !o.tcp_only)
		return paired(lib, &o, specs, nv);
	return single(lib, &o);
}

void hs_copy(char *dst, size_t cap, const void *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	if (len)	/* src may be NULL when there is nothing (no ALPN) */
		memcpy(dst, src, len);
	dst[len] = '\0';
}

void hs_hex(char *dst, const unsigned char *src, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 15];
	}
	dst[2 * len] = '\0';
}

void hs_tm_iso(char *dst, size_t cap, const void *tm)
{
	strftime(dst, cap, "%Y-%m-%dT%H:%M:%SZ", (const struct tm *)tm);
}

void hs_time_iso(char *dst, size_t cap, long long unix_seconds)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;

	gmtime_r(&t, &tm);
	hs_tm_iso(dst, cap, &tm);
}

void hs_san_ip(struct hs_facts *f, const unsigned char *a, size_t len)
{
	char text[INET6_ADDRSTRLEN] = "?";

	if (f->n_sans == HS_MAX_SANS) {
		f->sans_dropped++;
		return;
	}
	if (len == 4)
		inet_ntop(AF_INET, a, text, sizeof(text));
	else if (len == 16)
		inet_ntop(AF_INET6, a, text, sizeof(text));
	snprintf(f->sans[f->n_sans++], HS_STR, "IP:%s", text);
}

void hs_san_dns(struct hs_facts *f, const void *name, size_t len)
{
	char *dst;

	if (f->n_sans == HS_MAX_SANS) {
		f->sans_dropped++;
		return;
	}
	dst = f->sans[f->n_sans++];
	memcpy(dst, "DNS:", 4);
	hs_copy(dst + 4, HS_STR - 4, name, len);
}

void hs_key(struct hs_facts *f, const char *type, int bits)
{
	snprintf(f->key, sizeof(f->key), "%s-%d", type, bits);
}
