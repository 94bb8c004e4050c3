/*
 * t_proc.c - see t_proc.h.
 */
#include "t_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads what is there from fd into buf (keeping a NUL at the end);
 * returns false at EOF or error. */
static bool drain(int fd, char *buf, size_t *len)
{
	char junk[4096];
	size_t room = T_OUT_MAX - 1 - *len;
	ssize_t n = room ? read(fd, buf + *len, room)
			 : read(fd, junk, sizeof(junk));

	if (n <= 0)
		return n < 0 && errno == EINTR;
	if (room)
		*len += (size_t)n;
	buf[*len] = '\0';
	return true;
}

/* Collects the child's output until both pipes close or time is up,
 * then reaps it (killing it first if it overstayed). */
static void collect(pid_t pid, int out, int err, int timeout_ms,
		    struct t_run *r)
{
	struct pollfd p[2] = { { .fd = out, .events = POLLIN },
			       { .fd = err, .events = POLLIN } };
	long long end = now_ms() + timeout_ms;
	size_t lens[2] = { 0, 0 };
	char *bufs[2] = { r->out, r->err };

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		long long left = end - now_ms();

		if (left <= 0) {
			r->timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p, 2, (int)left) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++)
			if (p[i].fd >= 0 && p[i].revents &&
			    !drain(p[i].fd, bufs[i], &lens[i]))
				p[i].fd = -1;
	}
	while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR)
		;
	close(out);
	close(err);
}

static int run(char *const argv[], int (*fn)(void *), void *arg,
	       int timeout_ms, struct t_run *r)
{
	int out[2], err[2];
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		int e = -errno;

		close(out[0]);
		close(out[1]);
		return e;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(out[1], 1) < 0 ||
		    dup2(err[1], 2) < 0)
			_exit(127);
		close(null);
		if (!argv)
			exit(fn(arg));
		if (fn && fn(arg))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	if (pid < 0) {
		int e = -errno;

		close(out[0]);
		close(err[0]);
		return e;
	}
	collect(pid, out[0], err[0], timeout_ms, r);
	return 0;
}

int t_run_cmd(char *const argv[], int (*pre)(void *), void *arg,
	      int timeout_ms, struct t_run *r)
{
	return run(argv, pre, arg, timeout_ms, r);
}

int t_run_fn(int (*fn)(void *), void *arg, int timeout_ms, struct t_run *r)
{
	return run(NULL, fn, arg, timeout_ms, r);
}

int t_run_exit(const struct t_run *r)
{
	return !r->timed_out && WIFEXITED(r->status) ? WEXITSTATUS(r->status)
						     : -1;
}
