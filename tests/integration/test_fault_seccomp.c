/*
 * test_fault_seccomp.c - io_uring refused, as a container runtime refuses
 * it: a child process installs a seccomp filter (raw BPF, no libseccomp)
 * that answers io_uring_setup, io_uring_enter and io_uring_register with
 * EPERM, as Docker's default profile does. Then
 *  - rp_engine_create() returns -EPERM (with and without the fallback
 *    flag: the fallback still needs a ring), and leaks nothing;
 *  - `ringprobe tcp -p 1 127.0.0.1` exits 1 at once, prints no result,
 *    and says on stderr that io_uring is not permitted and why that may
 *    be (README, "Failure behaviour").
 * Skipped on architectures the filter does not know.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "ringprobe.h"
#include "t_net.h"
#include "t_proc.h"

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

#define DENY(nr)                                                               \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                       \
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

/* In the child: io_uring's three calls fail with EPERM from now on. */
static int deny_io_uring(void *arg)
{
	(void)arg;
#ifdef ARCH
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		DENY(__NR_io_uring_setup),
		DENY(__NR_io_uring_enter),
		DENY(__NR_io_uring_register),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(f) / sizeof(f[0])),
		.filter = f,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		perror("seccomp");
		return 1;
	}
	return 0;
#else
	return 1;
#endif
}

static void on_result(const struct rp_result *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
}

/* In the child: what rp_engine_create() says under the filter. */
static int create_under_filter(void *arg)
{
	uint32_t flags = *(uint32_t *)arg;
	struct rp_engine_opts o = { .flags = flags, .concurrency = 16 };
	struct rp_engine *e = NULL;
	int results = 0, ret;

	o.on_result = on_result;
	o.arg = &results;
	if (deny_io_uring(NULL))
		return 2;
	ret = rp_engine_create(&e, &o);
	if (ret != -EPERM) {
		fprintf(stderr, "rp_engine_create: %d (%s), not -EPERM\n", ret,
			rp_strerror(ret));
		rp_engine_destroy(e);
		return 1;
	}
	return e == NULL && results == 0 ? 0 : 1;
}

static void test_create_eperm(void **state)
{
	uint32_t flags[] = { 0, RP_ENGINE_FALLBACK };
	struct t_run r;

	(void)state;
#ifndef ARCH
	skip();
#endif
	for (int i = 0; i < 2; i++) {
		assert_int_equal(t_run_fn(create_under_filter, &flags[i], 30000,
					  &r), 0);
		if (t_run_exit(&r) != 0)
			fprintf(stderr, "flags %u: exit %d, stderr: %s\n",
				flags[i], t_run_exit(&r), r.err);
		assert_int_equal(t_run_exit(&r), 0);
	}
}

static void test_cli_eperm(void **state)
{
	const char *cli = getenv("RINGPROBE");
	char *argv[] = { (char *)cli, "tcp", "-p", "1", "127.0.0.1", NULL };
	struct t_run r;

	(void)state;
#ifndef ARCH
	skip();
#endif
	assert_non_null(cli);
	assert_int_equal(t_run_cmd(argv, deny_io_uring, NULL, 30000, &r), 0);
	printf("  stderr: %s", r.err);
	assert_false(r.timed_out);
	assert_int_equal(t_run_exit(&r), 1);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "cannot start the engine"));
	assert_non_null(strstr(r.err, "io_uring"));
	assert_non_null(strstr(r.err, "not permitted"));
	assert_non_null(strstr(r.err, "seccomp"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_eperm),
		cmocka_unit_test(test_cli_eperm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
