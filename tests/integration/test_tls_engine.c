/*
 * test_tls_engine.c - TLS through the library, as ringprobe.h describes
 * it: RP_PROBE_TLS probes end OK with rp_result.tls filled; https targets
 * (rp_target.tls) of an RP_PROBE_HTTP engine get the response and
 * rp_result.tls; a probe cancelled mid-handshake, a stop and a destroy
 * with handshakes in flight each still give exactly one result per
 * target; with rp_engine_opts.max_handshakes, probes past it wait (before
 * connecting) in the order they came, a waiter's cancel ends it alone, its
 * timeout does not run while it waits, and a handshake that ends hands its
 * place on. Run under valgrind (tests/valgrind.sh) it also checks that
 * OpenSSL's allocations go with the probes and the engine.
 *
 * The servers are tests/servers/tls_server.c (RP_TLS_SERVER, or next to
 * this binary), in child processes stopped by their PIDs; the certificate,
 * self-signed for CN=localhost and IP 127.0.0.1, is made here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ringprobe.h"

#define N 24

static char dir[] = "/tmp/rp_tls_engine.XXXXXX";
static char cert_path[PATH_MAX], key_path[PATH_MAX], server_bin[PATH_MAX];

struct server {
	pid_t pid;
	int port;
};

static struct server good, silent;

/* A self-signed EC certificate for localhost and 127.0.0.1, as PEM. */
static void make_cert(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	FILE *f;

	assert_non_null(k);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 7);
	X509_set_pubkey(x, k);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
				  "DNS:localhost,IP:127.0.0.1");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	f = fopen(cert_path, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(key_path, "w");
	assert_non_null(f);
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* Starts the TLS server in mode, and reads the port it prints. */
static int start(struct server *s, const char *mode)
{
	int p[2];
	char buf[32] = "";
	ssize_t n;

	if (pipe(p) < 0)
		return -1;
	s->pid = fork();
	if (s->pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl(server_bin, server_bin, "--mode", mode, "--cert", cert_path,
		      "--key", key_path, "--max-seconds", "120", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	s->port = n > 0 ? atoi(buf) : 0;
	return s->port > 0 ? 0 : -1;
}

static void stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
}

static int group_setup(void **st)
{
	const char *env = getenv("RP_TLS_SERVER");
	char self[PATH_MAX];
	ssize_t n;

	(void)st;
	if (env) {
		snprintf(server_bin, sizeof(server_bin), "%s", env);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return -1;
		self[n] = '\0';
		snprintf(server_bin, sizeof(server_bin), "%s/rp_tls_server",
			 dirname(self));
	}
	if (!mkdtemp(dir))
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
	make_cert();
	return start(&good, "good") || start(&silent, "silent") ? -1 : 0;
}

static int group_teardown(void **st)
{
	(void)st;
	stop(&good);
	stop(&silent);
	unlink(cert_path);
	unlink(key_path);
	rmdir(dir);
	return 0;
}

/* ---- results ---------------------------------------------------------- */

struct rec {
	unsigned got[N];              /* results per index */
	int status[N];                /* the last one's */
	int began[N];                 /* it had a handshake (r->tls set) */
	uint64_t elapsed_us[N];
	unsigned by_status[RP_STATUS__COUNT];
	unsigned tls_set;             /* results with r->tls */
	unsigned verify_ok, cert_ok, http_ok;
	struct rp_engine *e;
	int cancel_half;              /* cancel even indexes when first seen */
};

static void on_result(const struct rp_result *r, void *arg)
{
	struct rec *c = arg;
	const struct rp_tls_info *t = r->tls;

	assert_true(r->index < N);
	c->got[r->index]++;
	c->by_status[r->status]++;
	c->status[r->index] = (int)r->status;
	c->began[r->index] = t != NULL;
	c->elapsed_us[r->index] = r->elapsed_us;
	if (t) {
		c->tls_set++;

		if (t->has_cert && !strcmp(t->verify, "ok"))
			c->verify_ok++;
		if (t->has_cert && !strcmp(t->subject_cn, "localhost") &&
		    t->nsans == 2 && !strcmp(t->sans[1], "127.0.0.1") &&
		    strlen(t->sha256) == 64 && !strcmp(t->key, "EC-256") &&
		    t->self_signed && t->tls_us > 0 &&
		    (t->days_left == 6 || t->days_left == 7) && /* 7 d */
		    !strcmp(t->version, "TLSv1.3"))
			c->cert_ok++;
	}
	if (r->http && r->http->status_code == 200 &&
	    !strncmp(r->http->url, "https://127.0.0.1:", 18) &&
	    !strcmp(r->http->title, "rp_tls_server good"))
		c->http_ok++;
}

static struct rp_engine *engine_cap(struct rec *c, enum rp_probe_kind kind,
				    const char *cafile, uint32_t cap)
{
	struct rp_engine_opts o = {
		.concurrency = 8,
		.max_handshakes = cap,
		.kind = kind,
		.timeout_ns = 5000000000ull,
		.on_result = on_result,
		.arg = c,
		.tls.cafile = cafile,
	};
	struct rp_engine *e = NULL;

	memset(c, 0, sizeof(*c));
	assert_int_equal(rp_engine_create(&e, &o), 0);
	c->e = e;
	return e;
}

static struct rp_engine *engine(struct rec *c, enum rp_probe_kind kind,
				const char *cafile)
{
	return engine_cap(c, kind, cafile, 0);
}

static void target(struct rp_target *t, int port, uint64_t i, int tls)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&t->addr;

	memset(t, 0, sizeof(*t));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t->addrlen = sizeof(*a);
	t->index = i;
	t->tls = tls;
}

/* Submits targets 0..N-1 (make fills each), running the engine whenever
 * every slot is busy, then runs it to the end. */
static void run(struct rec *c, int port, int tls, const char *path)
{
	struct rp_target t;

	for (unsigned i = 0; i < N; i++) {
		target(&t, port, i, tls);
		t.path = path;
		while (rp_engine_submit(c->e, &t) == -EAGAIN)
			assert_true(rp_engine_run(c->e, 100) >= 0);
	}
	assert_int_equal(rp_engine_run_all(c->e), 0);
}

static void assert_once_each(const struct rec *c)
{
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(c->got[i], 1);
}

/* ---- tests ------------------------------------------------------------ */

static void test_tls_probes(void **st)
{
	struct rec c;

	(void)st;
	engine(&c, RP_PROBE_TLS, NULL);
	run(&c, good.port, 0, NULL);
	assert_once_each(&c);
	assert_int_equal(c.by_status[RP_STATUS_OK], N);
	assert_int_equal(c.tls_set, N);
	assert_int_equal(c.cert_ok, N);
	assert_int_equal(c.verify_ok, 0); /* self-signed: not trusted */
	assert_int_equal(rp_engine_destroy(c.e), 0);

	/* the certificate as its own trust anchor: verified */
	engine(&c, RP_PROBE_TLS, cert_path);
	run(&c, good.port, 0, NULL);
	assert_int_equal(c.verify_ok, N);
	assert_int_equal(rp_engine_destroy(c.e), 0);
}

/* N https targets with at most cap handshakes at once (0: the default):
 * every one answered and verified. */
static void https_all_ok(uint32_t cap)
{
	struct rec c;

	engine_cap(&c, RP_PROBE_HTTP, cert_path, cap);
	run(&c, good.port, 1, "/x");
	assert_once_each(&c);
	assert_int_equal(c.by_status[RP_STATUS_OK], N);
	assert_int_equal(c.http_ok, N);
	assert_int_equal(c.verify_ok, N);
	assert_int_equal(rp_engine_destroy(c.e), 0);
}

static void test_https_targets(void **st)
{
	(void)st;
	https_all_ok(0);
}

static void test_cancel_and_stop_mid_handshake(void **st)
{
	struct rp_target t;
	struct rec c;

	(void)st;
	engine(&c, RP_PROBE_TLS, NULL);
	for (unsigned i = 0; i < 8; i++) {
		target(&t, silent.port, i, 0);
		assert_int_equal(rp_engine_submit(c.e, &t), 0);
	}
	/* let the handshakes start (ClientHello out, waiting for the server) */
	for (int k = 0; k < 20; k++)
		assert_true(rp_engine_run(c.e, 10) >= 0);
	for (unsigned i = 0; i < 8; i += 2)
		assert_int_equal(rp_engine_cancel(c.e, i), 0);
	for (int k = 0; k < 20 && c.by_status[RP_STATUS_CANCELLED] < 4; k++)
		assert_true(rp_engine_run(c.e, 50) >= 0);
	assert_int_equal(c.by_status[RP_STATUS_CANCELLED], 4);
	rp_engine_stop(c.e);
	assert_int_equal(rp_engine_run_all(c.e), 0);
	assert_int_equal(c.by_status[RP_STATUS_CANCELLED], 8);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(c.got[i], 1);
	assert_int_equal(rp_engine_destroy(c.e), 0);
}

static void test_destroy_mid_handshake(void **st)
{
	struct rp_target t;
	struct rec c;

	(void)st;
	engine(&c, RP_PROBE_HTTP, NULL);
	for (unsigned i = 0; i < 8; i++) {
		target(&t, silent.port, i, 1);
		assert_int_equal(rp_engine_submit(c.e, &t), 0);
	}
	for (int k = 0; k < 20; k++)
		assert_true(rp_engine_run(c.e, 10) >= 0);
	assert_int_equal(rp_engine_destroy(c.e), 0);
	assert_int_equal(c.by_status[RP_STATUS_CANCELLED], 8);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(c.got[i], 1);
}

/* Runs the engine until its counters say inflight and tls_waiting, or
 * fails after 5 s. */
static void run_until(struct rec *c, uint32_t inflight, uint32_t waiting)
{
	struct rp_stats st;

	for (int k = 0; k < 500; k++) {
		rp_engine_stats(c->e, &st);
		if (st.inflight == inflight && st.tls_waiting == waiting)
			return;
		assert_true(rp_engine_run(c->e, 10) >= 0);
	}
	rp_engine_stats(c->e, &st);
	fail_msg("inflight %u, tls_waiting %u; want %u, %u", st.inflight,
		 st.tls_waiting, inflight, waiting);
}

struct seen {
	uint64_t index;
	int handshaking;
};

static void seen_phase(const struct rp_probe_info *pi, void *arg)
{
	struct seen *w = arg;

	if (pi->index == w->index && !strcmp(pi->phase, "handshaking"))
		w->handshaking = 1;
}

/* Runs the engine until probe i is in its handshake, or fails after 5 s. */
static void run_until_handshaking(struct rec *c, uint64_t i)
{
	struct seen w = { .index = i };

	for (int k = 0; k < 500; k++) {
		rp_engine_inflight(c->e, seen_phase, &w);
		if (w.handshaking)
			return;
		assert_true(rp_engine_run(c->e, 10) >= 0);
	}
	fail_msg("probe %llu never reached its handshake", (unsigned long long)i);
}

static void submit_silent(struct rec *c, uint64_t i, uint64_t timeout_ns)
{
	struct rp_target t;

	target(&t, silent.port, i, 0);
	t.timeout_ns = timeout_ns;
	assert_int_equal(rp_engine_submit(c->e, &t), 0);
}

/* One handshake at a time: every probe still gets its own, in turn. */
static void test_cap_all_complete(void **st)
{
	(void)st;
	https_all_ok(1);
}

/* A waiter's turn comes in the order probes came; a cancel ends a holder
 * (whose place goes on) or a waiter alone; a stop ends the rest. */
static void test_cap_order_and_cancel(void **st)
{
	struct rec c;

	(void)st;
	engine_cap(&c, RP_PROBE_TLS, NULL, 1);
	submit_silent(&c, 0, 0);
	run_until_handshaking(&c, 0);    /* 0 holds the one place */
	submit_silent(&c, 1, 0);
	run_until(&c, 2, 1);
	submit_silent(&c, 2, 0);
	run_until(&c, 3, 2);             /* 1 then 2 wait */
	assert_int_equal(rp_engine_cancel(c.e, 0), 0);
	run_until(&c, 2, 1);             /* 1's turn; 2 waits */
	run_until_handshaking(&c, 1);
	assert_int_equal(c.got[0], 1);
	assert_int_equal(c.status[0], RP_STATUS_CANCELLED);
	assert_true(c.began[0]);
	assert_int_equal(rp_engine_cancel(c.e, 2), 0); /* a waiter */
	run_until(&c, 1, 0);
	assert_int_equal(c.status[2], RP_STATUS_CANCELLED);
	assert_false(c.began[2]);
	assert_int_equal(c.got[1], 0);   /* 1 holds on */
	submit_silent(&c, 3, 0);
	run_until(&c, 2, 1);
	rp_engine_stop(c.e);
	assert_int_equal(rp_engine_run_all(c.e), 0);
	assert_int_equal(c.status[1], RP_STATUS_CANCELLED);
	assert_true(c.began[1]);
	assert_int_equal(c.status[3], RP_STATUS_CANCELLED);
	assert_false(c.began[3]);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(c.got[i], 1);
	assert_int_equal(rp_engine_destroy(c.e), 0);
}

/* The wait is not part of the probe's timeout: a waiter with a 300 ms
 * timeout outlasts a 1.5 s wait, then gets its 300 ms for its own
 * handshake, and elapsed_us leaves the wait out. */
static void test_cap_wait_not_counted(void **st)
{
	struct rec c;
	struct rp_stats sts;

	(void)st;
	engine_cap(&c, RP_PROBE_TLS, NULL, 1);
	submit_silent(&c, 0, 0);         /* the engine's 5 s */
	run_until_handshaking(&c, 0);
	submit_silent(&c, 1, 300000000ull);
	run_until(&c, 2, 1);
	for (int k = 0; k < 150; k++)    /* >= 1.5 s */
		assert_true(rp_engine_run(c.e, 10) >= 0);
	rp_engine_stats(c.e, &sts);
	assert_int_equal(sts.tls_waiting, 1);
	assert_int_equal(c.got[1], 0);
	assert_int_equal(rp_engine_cancel(c.e, 0), 0);
	run_until(&c, 0, 0);             /* 1: its turn, then its timeout */
	assert_int_equal(c.status[1], RP_STATUS_TIMEOUT);
	assert_true(c.began[1]);
	assert_true(c.elapsed_us[1] >= 300000);
	assert_true(c.elapsed_us[1] < 1400000);
	assert_int_equal(rp_engine_destroy(c.e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_probes),
		cmocka_unit_test(test_https_targets),
		cmocka_unit_test(test_cancel_and_stop_mid_handshake),
		cmocka_unit_test(test_destroy_mid_handshake),
		cmocka_unit_test(test_cap_all_complete),
		cmocka_unit_test(test_cap_order_and_cancel),
		cmocka_unit_test(test_cap_wait_not_counted),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
