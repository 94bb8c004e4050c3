/*
 * t_server.c - see t_server.h.
 */
#include "t_server.h"
#include "t_net.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* $RP_TEST_SERVER, or rp_target_server in the test binary's directory. */
static const char *server_path(char *buf, size_t size)
{
	const char *env = getenv("RP_TEST_SERVER");
	char self[PATH_MAX];
	ssize_t n;

	if (env && env[0])
		return access(env, X_OK) == 0 ? env : NULL;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	if ((size_t)snprintf(buf, size, "%s/rp_target_server", self) >= size)
		return NULL;
	return access(buf, X_OK) == 0 ? buf : NULL;
}

/* Reads n port lines from fd within ms milliseconds. Returns 0 or -errno. */
static int read_ports(int fd, int n, int *ports, int ms)
{
	char buf[T_SERVER_MAX_PORTS * 8];
	size_t len = 0;
	int got = 0;
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = ms - ((now.tv_sec - t0.tv_sec) * 1000 +
			     (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			return r < 0 ? -errno : -EPIPE;
		len += (size_t)r;
		buf[len] = '\0';
		/* count whole lines from the start each time: n is small */
		got = 0;
		for (char *p = buf, *nl; got < n && (nl = strchr(p, '\n'));
		     p = nl + 1) {
			int port = atoi(p);

			if (port <= 0 || port > 65535)
				return -EPROTO;
			ports[got++] = port;
		}
	}
	return 0;
}

int t_server_start(const char *mode, int n, int *ports, pid_t *pid)
{
	char path[PATH_MAX], nports[16];
	const char *bin = server_path(path, sizeof(path));
	posix_spawn_file_actions_t fa;
	int fds[2], err;

	if (!bin)
		return T_SKIP;
	if (n <= 0 || n > T_SERVER_MAX_PORTS)
		return -EINVAL;
	snprintf(nports, sizeof(nports), "%d", n);
	char *argv[] = { (char *)bin, "--mode", (char *)mode, "--ports",
			 nports, "--max-seconds", "600", NULL };
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	err = posix_spawn(pid, bin, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (err) {
		close(fds[0]);
		return -err;
	}
	err = read_ports(fds[0], n, ports, 5000);
	close(fds[0]);
	if (err) {
		t_server_stop(*pid);
		return err;
	}
	return 0;
}

void t_server_stop(pid_t pid)
{
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return;
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}
