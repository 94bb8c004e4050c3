/*
 * t_http.c - see t_http.h.
 */
#include "t_http.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t_net.h"

#define BATCH_MAX 4096
#define HEAD_MAX 4096
#define LIFE_S 120

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

/* Reads one request head: up to the blank line, 2 s at most. */
static void read_head(int fd)
{
	struct timeval tv = { .tv_sec = 2 };
	char buf[HEAD_MAX + 1];
	size_t n = 0;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (n < HEAD_MAX) {
		ssize_t r = read(fd, buf + n, HEAD_MAX - n);

		if (r <= 0)
			return;
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return;
	}
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w <= 0)
			return; /* the prober gave up: fine */
		p += w;
		len -= (size_t)w;
	}
}

static void serve(int lfd, unsigned batch, int batch_ms, size_t body_len,
		  const sigset_t *mask)
{
	struct sigaction sa = { .sa_handler = on_term };
	char head[128];
	char *body = malloc(body_len + 1);
	int *fds = calloc(batch, sizeof(*fds));
	time_t end = time(NULL) + LIFE_S;
	int hlen;

	if (!body || !fds)
		_exit(1);
	memset(body, 'x', body_len);
	hlen = snprintf(head, sizeof(head),
			"HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
			"Connection: close\r\n\r\n", body_len);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigprocmask(SIG_SETMASK, mask, NULL);
	while (time(NULL) < end) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		unsigned n = 0;

		if (poll(&p, 1, 100) <= 0)
			continue;
		while (n < batch) {
			int fd = accept(lfd, NULL, NULL);

			if (fd < 0)
				break;
			fds[n++] = fd;
			if (n < batch && poll(&p, 1, batch_ms) <= 0)
				break;
		}
		for (unsigned i = 0; i < n; i++)
			read_head(fds[i]);
		for (unsigned i = 0; i < n; i++) {
			write_all(fds[i], head, (size_t)hlen);
			write_all(fds[i], body, body_len);
		}
		for (unsigned i = 0; i < n; i++)
			close(fds[i]);
	}
	_exit(0);
}

int t_http_start(struct t_http *h, unsigned batch, int batch_ms,
		 size_t body_len)
{
	sigset_t term, old;
	int lfd;

	memset(h, 0, sizeof(*h));
	if (!batch || batch > BATCH_MAX)
		return -EINVAL;
	lfd = t_listen(AF_INET, &h->port);
	if (lfd < 0)
		return lfd;
	/* A SIGTERM sent before the child has its handler waits for it. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	fflush(NULL);
	h->pid = fork();
	if (h->pid == 0)
		serve(lfd, batch, batch_ms, body_len, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(lfd);
	if (h->pid < 0) {
		h->pid = 0;
		return -errno;
	}
	return 0;
}

int t_http_stop(struct t_http *h)
{
	int st = 0;

	if (h->pid <= 0)
		return 0;
	kill(h->pid, SIGTERM);
	while (waitpid(h->pid, &st, 0) < 0 && errno == EINTR)
		;
	h->pid = 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}
