/*
 * target_server.c - a small TCP target for tests, perf runs and the demo.
 *
 *   rp_target_server [--bind ADDR] [--ports N | --port P ...]
 *                    [--mode accept-close] [--backlog N] [--max-seconds S]
 *
 * Opens listening TCP sockets on ADDR (default 127.0.0.1; an IPv6 literal
 * such as ::1 works too), on N ephemeral ports (default 1) or on the given
 * ports, prints each bound port on its own line to stdout and flushes, so a
 * test can read exactly as many lines as it asked for and then probe. It
 * then serves connections in one epoll loop until SIGTERM or SIGINT, or
 * until max-seconds have passed (default 300, so a forgotten server never
 * outlives a test run by much). Exit status 0 on a signal or the time limit,
 * 1 on a setup failure, 2 on bad usage.
 *
 * Behaviours are chosen by --mode; each mode is one on_accept function.
 * Only accept-close exists now (accept, then close at once, so the prober
 * sees OPEN and the server holds nothing); HTTP modes will add per
 * connection state and their own event handlers next to it.
 *
 * No engine dependency: this is plain sockets, so a broken engine can never
 * break the thing it is tested against.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTENERS 1024

enum mode {
	MODE_ACCEPT_CLOSE, /* accept and close immediately */
};

struct mode_desc {
	const char *name;          /* --mode value */
	void (*on_accept)(int fd); /* takes ownership of the accepted fd */
};

static void accept_close(int fd)
{
	close(fd);
}

static const struct mode_desc modes[] = {
	[MODE_ACCEPT_CLOSE] = {"accept-close", accept_close},
};

struct server {
	const char *bind_addr;     /* --bind */
	int nports;                /* --ports N (ephemeral) */
	int fixed[MAX_LISTENERS];  /* --port P ... */
	int nfixed;                /* how many --port */
	int backlog;               /* listen(2) backlog */
	double max_seconds;        /* lifetime limit */
	const struct mode_desc *mode;
	int lfd[MAX_LISTENERS];    /* listening sockets */
	int nl;                    /* how many are open */
	uint64_t accepted;         /* connections served */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: rp_target_server [--bind ADDR] [--ports N | --port P "
		   "...]\n"
		   "                        [--mode accept-close] [--backlog N]"
		   " [--max-seconds S]\n");
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(struct server *sv, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		long n;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!v) {
			fprintf(stderr, "rp_target_server: %s: missing value\n",
				a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--bind")) {
			sv->bind_addr = v;
		} else if (!strcmp(a, "--ports")) {
			if (parse_long(v, 1, MAX_LISTENERS, &n))
				goto bad;
			sv->nports = (int)n;
		} else if (!strcmp(a, "--port")) {
			if (sv->nfixed == MAX_LISTENERS ||
			    parse_long(v, 1, 65535, &n))
				goto bad;
			sv->fixed[sv->nfixed++] = (int)n;
		} else if (!strcmp(a, "--backlog")) {
			if (parse_long(v, 1, 1 << 20, &n))
				goto bad;
			sv->backlog = (int)n;
		} else if (!strcmp(a, "--max-seconds")) {
			char *end;
			double d = strtod(v, &end);
			if (end == v || *end || !(d > 0) || d > 86400)
				goto bad;
			sv->max_seconds = d;
		} else if (!strcmp(a, "--mode")) {
			sv->mode = NULL;
			for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]);
			     m++)
				if (!strcmp(v, modes[m].name))
					sv->mode = &modes[m];
			if (!sv->mode)
				goto bad;
		} else {
			fprintf(stderr, "rp_target_server: unknown option %s\n",
				a);
			return -1;
		}
		continue;
bad:
		fprintf(stderr, "rp_target_server: bad value for %s: %s\n", a,
			v);
		return -1;
	}
	if (sv->nports && sv->nfixed) {
		fprintf(stderr, "rp_target_server: --ports and --port are "
				"exclusive\n");
		return -1;
	}
	return 0;
}

/* Opens one listener on port (0 = ephemeral); returns the fd or -1. */
static int open_listener(const struct server *sv, int port, int *bound)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, sv->bind_addr, &s4->sin_addr) == 1) {
		family = AF_INET;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, sv->bind_addr, &s6->sin6_addr) == 1) {
		family = AF_INET6;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		len = sizeof(*s6);
	} else {
		fprintf(stderr, "rp_target_server: bad address %s\n",
			sv->bind_addr);
		return -1;
	}

	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail_close;
	/* "--bind ::" means IPv6 only: tests that want IPv4 say so. */
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail_close;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail_close;
	if (listen(fd, sv->backlog) < 0)
		goto fail_close;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto fail_close;
	*bound = ntohs(family == AF_INET ? s4->sin_port : s6->sin6_port);
	return fd;

fail_close:
	close(fd);
fail:
	fprintf(stderr, "rp_target_server: listen on %s port %d: %s\n",
		sv->bind_addr, port, strerror(errno));
	return -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Accepts everything pending on one listener. */
static void drain_accepts(struct server *sv, int lfd)
{
	/* Bounded so one busy listener cannot starve the others or the
	 * signal check; epoll is level-triggered and reports it again. */
	for (int i = 0; i < 4096; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or an aborted connection */
		sv->accepted++;
		sv->mode->on_accept(fd);
	}
}

static int serve(struct server *sv, int sfd)
{
	struct epoll_event evs[64];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0) {
		perror("rp_target_server: epoll_create1");
		return 1;
	}
	/* data.u32 = listener index + 1; 0 is the signalfd. */
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0)
		goto fail;
	for (int i = 0; i < sv->nl; i++) {
		ev.data.u32 = (uint32_t)i + 1;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, sv->lfd[i], &ev) < 0)
			goto fail;
	}

	double deadline = now_s() + sv->max_seconds;
	for (;;) {
		double left = deadline - now_s();
		if (left <= 0)
			break;
		int ms = left > 1.0 ? 1000 : (int)(left * 1000) + 1;
		int n = epoll_wait(ep, evs, 64, ms);
		if (n < 0 && errno != EINTR)
			goto fail;
		for (int i = 0; i < n; i++) {
			uint32_t id = evs[i].data.u32;
			if (id == 0) {
				close(ep);
				return 0; /* SIGTERM or SIGINT */
			}
			drain_accepts(sv, sv->lfd[id - 1]);
		}
	}
	close(ep);
	return 0;

fail:
	perror("rp_target_server: epoll");
	close(ep);
	return 1;
}

int main(int argc, char **argv)
{
	struct server sv = {
		.bind_addr = "127.0.0.1",
		.backlog = 4096,
		.max_seconds = 300,
		.mode = &modes[MODE_ACCEPT_CLOSE],
	};
	sigset_t set;
	int rc = 1;

	if (parse_args(&sv, argc, argv)) {
		usage(stderr);
		return 2;
	}
	if (!sv.nports && !sv.nfixed)
		sv.nports = 1;

	/* Signals arrive through a signalfd in the epoll set: no handler, no
	 * race between checking a flag and going to sleep. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return 1;
	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		perror("rp_target_server: signalfd");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	int want = sv.nfixed ? sv.nfixed : sv.nports;
	for (int i = 0; i < want; i++) {
		int port;
		int fd = open_listener(&sv, sv.nfixed ? sv.fixed[i] : 0, &port);
		if (fd < 0)
			goto out_close;
		sv.lfd[sv.nl++] = fd;
		printf("%d\n", port);
	}
	if (fflush(stdout) != 0)
		goto out_close;

	rc = serve(&sv, sfd);

out_close:
	for (int i = 0; i < sv.nl; i++)
		close(sv.lfd[i]);
	close(sfd);
	return rc;
}
