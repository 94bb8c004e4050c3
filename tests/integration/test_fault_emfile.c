/*
 * test_fault_emfile.c - the file descriptor table fills up mid-run.
 *
 * In a child process (the limit must not stay with the test) RLIMIT_NOFILE
 * is lowered, an engine is created, and then every free descriptor is
 * taken, as another part of a program might. Targets: an open port, a
 * closed port, and names our own resolver answers. What fails is what
 * needs a descriptor of the process:
 *  - with direct descriptors, probe sockets live in the ring's own file
 *    table, so addresses are probed as usual (open, closed);
 *  - in fallback mode socket(2) fails: each address ends `error`, EMFILE,
 *    detail "socket creation failed";
 *  - c-ares cannot open its socket: each name ends `dns-error`, EMFILE,
 *    detail "no socket" (not "refused": no server refused anything).
 * Every target gets exactly one result; once descriptors are free again,
 * new targets are probed as usual. Also: rp_engine_create() refuses a
 * concurrency the limit cannot hold (-EMFILE), and so does the CLI (exit
 * 2, naming RLIMIT_NOFILE).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ringprobe.h"
#include "t_dns.h"
#include "t_net.h"
#include "t_proc.h"

#define LIMIT 256             /* RLIMIT_NOFILE in the child */
#define NTARGETS 90           /* while the table is full */
#define NAFTER 30             /* once it is not */
#define RUN_MS 20000

struct env {
	int open_fd, closed_fd;
	int open_port, closed_port;
	struct t_dns_responder *dns;
	char servers[32];
};

static struct env env;

struct tally {
	unsigned first, n;            /* indices of this batch */
	bool fds_full;                /* taken while the table was full */
	bool direct;                  /* the engine's sockets are direct */
	unsigned results[NTARGETS];
	unsigned bad;
};

static int setup(void **state)
{
	(void)state;
	env.open_fd = t_listen(AF_INET, &env.open_port);
	env.closed_fd = t_bind_port(AF_INET, 0, 0, &env.closed_port);
	env.dns = t_dns_responder_start(0);
	if (env.open_fd < 0 || env.closed_fd < 0 || !env.dns)
		return -1;
	snprintf(env.servers, sizeof(env.servers), "127.0.0.1:%d",
		 t_dns_responder_port(env.dns));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (env.dns)
		t_dns_responder_stop(env.dns);
	close(env.open_fd);
	close(env.closed_fd);
	return 0;
}

/* Lowers the soft limit to n, and with hard the hard limit too (which
 * valgrind does not allow: it keeps descriptors of its own above it). */
static int set_limit(rlim_t n, bool hard)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("getrlimit");
		return 1;
	}
	rl.rlim_cur = n;
	if (hard)
		rl.rlim_max = n;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("setrlimit");
		return 1;
	}
	return 0;
}

static void bad_result(struct tally *t, unsigned i, const struct rp_result *r,
		 const char *why)
{
	if (t->bad++ < 8)
		fprintf(stderr, "target %u: %s %s (%s): %s\n", i,
			rp_status_name(r->status),
			r->err ? rp_errno_name(r->err) : "-",
			r->detail ? r->detail : "-", why);
}

/* Target i: kind i % 3 (open port, closed port, name). */
static void on_result(const struct rp_result *r, void *arg)
{
	struct tally *t = arg;
	unsigned i = (unsigned)r->index;
	bool name = i % 3 == 2, fallback_full = t->fds_full && !t->direct;
	enum rp_status want = i % 3 == 1 ? RP_STATUS_CLOSED : RP_STATUS_OPEN;

	if (i < t->first || i >= t->first + t->n) {
		bad_result(t, i, r, "unknown index");
		return;
	}
	t->results[i - t->first]++;
	if (t->fds_full && name) {
		if (r->status != RP_STATUS_DNS_ERROR || r->err != -EMFILE ||
		    !r->detail || !strstr(r->detail, "no socket"))
			bad_result(t, i, r, "not dns-error EMFILE \"no socket\"");
	} else if (fallback_full && !name) {
		if (r->status != RP_STATUS_ERROR || r->err != -EMFILE ||
		    !r->detail || strcmp(r->detail, "socket creation failed"))
			bad_result(t, i, r, "not error EMFILE \"socket creation "
				      "failed\"");
	} else if (r->status != want) {
		bad_result(t, i, r, rp_status_name(want));
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Submits the batch's targets and runs until each has its result. */
static int scan(struct rp_engine *e, struct tally *t)
{
	uint64_t end = now_ms() + RUN_MS;
	char name[32];
	int ret = 0;

	for (unsigned i = t->first; i < t->first + t->n && ret >= 0; i++) {
		struct rp_target tg = { .index = i };
		struct sockaddr_in *a = (struct sockaddr_in *)&tg.addr;

		if (i % 3 == 2) {
			snprintf(name, sizeof(name), "n%u.test", i);
			tg.name = name;
			tg.port = (uint16_t)env.open_port;
		} else {
			a->sin_family = AF_INET;
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			a->sin_port = htons((uint16_t)(i % 3 ? env.closed_port
							     : env.open_port));
			tg.addrlen = sizeof(*a);
		}
		while ((ret = rp_engine_submit(e, &tg)) == -EAGAIN &&
		       now_ms() < end)
			rp_engine_run(e, 10);
	}
	if (ret < 0) {
		fprintf(stderr, "submit: %s\n", rp_strerror(ret));
		return 1;
	}
	while ((ret = rp_engine_run(e, 100)) > 0 && now_ms() < end)
		;
	if (ret != 0) {
		fprintf(stderr, "run: %s\n", ret > 0 ? "hung" : rp_strerror(ret));
		return 1;
	}
	for (unsigned k = 0; k < t->n; k++)
		if (t->results[k] != 1) {
			fprintf(stderr, "target %u: %u results\n", t->first + k,
				t->results[k]);
			t->bad++;
		}
	return t->bad ? 1 : 0;
}

/* In the child: an engine, the descriptor table filled, a batch of
 * targets; then the table emptied again and another batch. */
static int midrun(void *arg)
{
	static struct tally tally;
	struct tally *t = &tally;
	struct rp_engine_opts o = {
		.concurrency = 64,
		.flags = *(uint32_t *)arg,
		.on_result = on_result,
		.arg = t,
		.dns = { .servers = env.servers, .no_hosts = 1,
			 .timeout_ns = 1000000000ull },
	};
	struct rp_engine *e;
	struct rp_stats st;
	int fds[LIMIT], nfds = 0, bad;

	if (set_limit(LIMIT, false) || rp_engine_create(&e, &o) < 0)
		return 2;
	rp_engine_stats(e, &st);
	t->direct = st.direct;
	while (nfds < LIMIT && (fds[nfds] = dup(0)) >= 0)
		nfds++;
	if (errno != EMFILE) {
		perror("dup");
		return 2;
	}
	*t = (struct tally){ .n = NTARGETS, .fds_full = true,
			     .direct = t->direct };
	bad = scan(e, t);
	while (nfds > 0)
		close(fds[--nfds]);
	*t = (struct tally){ .first = NTARGETS, .n = NAFTER,
			     .direct = t->direct };
	bad |= scan(e, t);
	rp_engine_destroy(e);
	return bad;
}

static void run_midrun(uint32_t flags)
{
	struct t_run r;

	assert_int_equal(t_run_fn(midrun, &flags, 60000, &r), 0);
	if (t_run_exit(&r) != 0)
		fprintf(stderr, "child: exit %d%s\n%s", t_run_exit(&r),
			r.timed_out ? " (timed out)" : "", r.err);
	assert_int_equal(t_run_exit(&r), 0);
}

static void test_midrun_direct(void **state)
{
	(void)state;
	run_midrun(0);
}

static void test_midrun_fallback(void **state)
{
	(void)state;
	run_midrun(RP_ENGINE_FALLBACK);
}

static void ignore(const struct rp_result *r, void *arg)
{
	(void)r;
	(void)arg;
}

/* In the child: a concurrency the limit cannot hold is refused. */
static int too_many(void *arg)
{
	struct rp_engine_opts o = { .concurrency = 100, .on_result = ignore };
	struct rp_engine *e = NULL;
	int ret;

	(void)arg;
	if (set_limit(64, false))
		return 2;
	ret = rp_engine_create(&e, &o);
	rp_engine_destroy(e);
	return ret == -EMFILE ? 0 : 1;
}

static int limit_256(void *arg)
{
	(void)arg;
	return set_limit(LIMIT, true);
}

static void test_create_refused(void **state)
{
	const char *cli = getenv("RINGPROBE");
	char *argv[] = { (char *)cli, "tcp", "-c", "1000", "127.0.0.1:1", NULL };
	struct t_run r;

	(void)state;
	assert_int_equal(t_run_fn(too_many, NULL, 30000, &r), 0);
	assert_int_equal(t_run_exit(&r), 0);
	if (t_on_valgrind())
		return; /* the CLI's part needs a lower hard limit */
	assert_non_null(cli);
	assert_int_equal(t_run_cmd(argv, limit_256, NULL, 30000, &r), 0);
	printf("  stderr: %s", r.err);
	assert_int_equal(t_run_exit(&r), 2);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "RLIMIT_NOFILE"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_midrun_direct),
		cmocka_unit_test(test_midrun_fallback),
		cmocka_unit_test(test_create_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
