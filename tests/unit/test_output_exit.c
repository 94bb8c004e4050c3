/*
 * test_output_exit.c - out_exit() (cli/output.h), the forced stop of the
 * CLI (a second Ctrl-C): the process ends at once with the given status,
 * but a write of records in progress on another thread is finished first,
 * so the output ends with a whole record.
 *
 * Each test forks a child that writes records into a pipe the parent
 * reads. The pipe holds one page, so a 50 KiB write stays in progress
 * until the parent has read nearly all of it: the parent reads the first
 * bytes, which proves the write has started and cannot have finished, and
 * only then has the child call out_exit(), and reads no more for a while.
 * Without the wait, the child is gone with the write half done.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "output.h"
#include "ringprobe.h"

#define RECORDS 200    /* of about 260 bytes: one write of ~50 KiB */
#define EXIT_STATUS 7

static int g_wfd = -1;
static char detail[40]; /* records of about 260 bytes with time, addr, service */

/* Record i, all of the same length: a closed 127.0.0.1:80 with a detail. */
static struct rp_result result(uint64_t i)
{
	static struct sockaddr_in sin;
	struct rp_result r = { 0 };

	sin.sin_family = AF_INET;
	sin.sin_port = htons(80);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r.addr = (const struct sockaddr *)&sin;
	r.addrlen = sizeof(sin);
	r.input = "127.0.0.1:80";
	r.index = 100000 + i; /* six digits each */
	r.status = RP_STATUS_CLOSED;
	r.detail = detail;
	return r;
}

static size_t record_len(void)
{
	struct rp_result r = result(0);

	return out_format_result(NULL, 0, OUT_JSONL, 0, &r, 0);
}

/* The child's writer thread: RECORDS records, one write. */
static void *writer(void *arg)
{
	struct out o;

	(void)arg;
	if (out_init(&o, g_wfd, OUT_JSONL, 0) < 0)
		_exit(90);
	for (uint64_t i = 0; i < RECORDS; i++) {
		struct rp_result r = result(i);

		out_result(&o, &r);
	}
	if (o.writes != 0) /* all must go in the one write below */
		_exit(91);
	out_flush(&o);
	out_release(&o);
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	out_exit(EXIT_STATUS);
}

/* The child: a writer thread, and SIGUSR1 (handled on this thread only)
 * calls out_exit(). */
static void child(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigset_t usr1, old;
	pthread_t th;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &old); /* the writer blocks it */
	if (pthread_create(&th, NULL, writer, NULL))
		_exit(92);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (;;)
		pause();
}

/* Reads fd to EOF into a new buffer; its length goes to *len. */
static char *read_all(int fd, char *first, size_t nfirst, size_t *len)
{
	size_t cap = 1 << 20;
	char *buf = malloc(cap);

	assert_non_null(buf);
	memcpy(buf, first, nfirst);
	*len = nfirst;
	for (;;) {
		ssize_t n = read(fd, buf + *len, cap - *len);

		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0)
			return buf;
		*len += (size_t)n;
		assert_true(*len < cap);
	}
}

/* Nonzero once pid has exited (it stays a zombie for waitpid()). */
static int exited(pid_t pid)
{
	siginfo_t si = { 0 };

	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) ==
		       0 &&
	       si.si_pid == pid;
}

/* A write of records in progress when out_exit() is called is finished:
 * every record arrives, whole, and the status is out_exit()'s. */
static void test_exit_finishes_the_write(void **state)
{
	size_t rec, len;
	char first[512];
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	(void)state;
	memset(detail, 'x', sizeof(detail) - 1);
	rec = record_len();
	assert_int_equal(pipe(fds), 0);
	/* one page: the 50 KiB write cannot finish before we read it */
	assert_true(fcntl(fds[1], F_SETPIPE_SZ, 4096) >= 4096);
	assert_true(rec * RECORDS < OUT_BUF_SIZE);
	assert_true(rec * RECORDS > 8 * 4096);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		g_wfd = fds[1];
		child();
	}
	close(fds[1]);
	/* The write has started, and has most of its bytes still to go. */
	do
		n = read(fds[0], first, sizeof(first));
	while (n < 0 && errno == EINTR);
	assert_true(n > 0);
	assert_int_equal(kill(pid, SIGUSR1), 0);
	/* Reading on at once could let the write finish before the handler
	 * even runs: first give an out_exit() that does not wait 100 ms to
	 * end the child. One that waits does not end it, as the write cannot
	 * finish meanwhile. */
	for (int i = 0; i < 100 && !exited(pid); i++)
		usleep(1000);

	char *data = read_all(fds[0], first, (size_t)n, &len);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), EXIT_STATUS);
	/* all of it, ending with a whole record */
	assert_int_equal(len, rec * RECORDS);
	assert_int_equal(data[len - 1], '\n');
	for (size_t i = 1; i <= RECORDS; i++)
		assert_int_equal(data[i * rec - 1], '\n');
	free(data);
}

/* With no write in progress, out_exit() ends the process with its status
 * (what is only buffered is not written: the stop is forced). */
static void test_exit_idle(void **state)
{
	int fds[2], status;
	char buf[64];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct out o;
		struct rp_result r = result(0);

		close(fds[0]);
		if (out_init(&o, fds[1], OUT_JSONL, 0) < 0)
			_exit(90);
		out_result(&o, &r); /* buffered only */
		out_exit(EXIT_STATUS - 1);
	}
	close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), EXIT_STATUS - 1);
	assert_int_equal(read(fds[0], buf, sizeof(buf)), 0);
	close(fds[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_finishes_the_write),
		cmocka_unit_test(test_exit_idle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
