/*
 * test_fault_seccomp.c - io_uring refused, as a container runtime refuses
 * it: a child process installs a seccomp filter (raw BPF, no libseccomp)
 * that answers io_uring_setup, io_uring_enter and io_uring_register with
 * EPERM, as Docker's default profile does. Then
 *  - rp_engine_create() returns -EPERM (with and without the fallback
 *    flag: the fallback still needs a ring), and leaks nothing;
 *  - `ringprobe tcp -p 1 127.0.0.1` exits 1 at once, prints no result,
 *    and says on stderr that io_uring is not permitted and why that may
 *    be (README, "Failure behaviour"), pointing to docs/SCALE-OUT.md,
 *    which ships a seccomp profile that allows io_uring.
 * The same filter answering ENOSYS plays a kernel without io_uring.
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

#define DENY(nr, err)                                                          \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                       \
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err))

/* In the child: io_uring's three calls fail with *(int *)arg (an errno)
 * from now on. */
static int deny_io_uring(void *arg)
{
#ifdef ARCH
	unsigned err = (unsigned)*(int *)arg;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		DENY(__NR_io_uring_setup, err),
		DENY(__NR_io_uring_enter, err),
		DENY(__NR_io_uring_register, err),
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
	(void)arg;
	return 1;
#endif
}

static void on_result(const struct rp_result *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
}

struct create_case {
	int err;                      /* what the filter answers */
	uint32_t flags;               /* rp_engine_opts.flags */
};

/* In the child: rp_engine_create() under the filter says -err. */
static int create_under_filter(void *arg)
{
	const struct create_case *cc = arg;
	struct rp_engine_opts o = { .flags = cc->flags, .concurrency = 16 };
	struct rp_engine *e = NULL;
	int results = 0, ret;

	o.on_result = on_result;
	o.arg = &results;
	if (deny_io_uring((void *)&cc->err))
		return 2;
	ret = rp_engine_create(&e, &o);
	if (ret != -cc->err) {
		fprintf(stderr, "rp_engine_create: %d (%s), not -%s\n", ret,
			rp_strerror(ret), rp_errno_name(cc->err));
		rp_engine_destroy(e);
		return 1;
	}
	return e == NULL && results == 0 ? 0 : 1;
}

static void test_create_refused(void **state)
{
	const struct create_case cases[] = {
		{ EPERM, 0 }, { EPERM, RP_ENGINE_FALLBACK }, { ENOSYS, 0 },
	};
	struct t_run r;

	(void)state;
#ifndef ARCH
	skip();
#endif
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(t_run_fn(create_under_filter,
					  (void *)&cases[i], 30000, &r), 0);
		if (t_run_exit(&r) != 0)
			fprintf(stderr, "%s, flags %u: exit %d, stderr: %s\n",
				rp_errno_name(cases[i].err), cases[i].flags,
				t_run_exit(&r), r.err);
		assert_int_equal(t_run_exit(&r), 0);
	}
}

/* The CLI under the filter answering err: exit 1 at once, no result,
 * and stderr says it could not start and holds every string of want. */
static void cli_refused(int err, const char *const *want)
{
	const char *cli = getenv("RINGPROBE");
	char *argv[] = { (char *)cli, "tcp", "-p", "1", "127.0.0.1", NULL };
	struct t_run r;

	assert_non_null(cli);
	assert_int_equal(t_run_cmd(argv, deny_io_uring, &err, 30000, &r), 0);
	printf("  stderr: %s", r.err);
	assert_false(r.timed_out);
	assert_int_equal(t_run_exit(&r), 1);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "cannot start the engine"));
	for (; *want; want++)
		assert_non_null(strstr(r.err, *want));
}

static void test_cli_eperm(void **state)
{
	static const char *const want[] = { "io_uring", "not permitted",
					    "seccomp", "docs/SCALE-OUT.md",
					    NULL };

	(void)state;
#ifndef ARCH
	skip();
#endif
	cli_refused(EPERM, want);
}

static void test_cli_enosys(void **state)
{
	static const char *const want[] = { "this kernel has no io_uring",
					    NULL };

	(void)state;
#ifndef ARCH
	skip();
#endif
	cli_refused(ENOSYS, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_refused),
		cmocka_unit_test(test_cli_eperm),
		cmocka_unit_test(test_cli_enosys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
