/*
 * scan.c - a TCP port scan driven from the program's own epoll loop: how
 * to embed libringprobe in an event loop you already have.
 *
 *   scan [-r RATE] [-t MS] ADDRESS PORT[-PORT]...
 *
 * Probes each port of ADDRESS (IPv4 or IPv6) at most 256 at a time and at
 * most RATE new probes per second (0, the default: no limit), prints each
 * port that is not closed as its probe completes, then one summary line:
 *
 *   127.0.0.1:22 open 48us
 *   3 probes: 1 open, 2 closed, 0 filtered, 0 other
 *
 * The program's own work shares the loop with the engine's: with -t, a
 * timer prints "tick: RESULTS/SUBMITTED" on stderr every MS milliseconds,
 * and a line "q" on standard input stops the scan (the probes in flight
 * end CANCELLED, still one result each).
 *
 * Exit status: 0 when every probe got its result, 1 on a failure, 2 on
 * bad arguments.
 *
 * Build it against an installed ringprobe, with CMake (CMakeLists.txt in
 * this directory; add -DSCAN_STATIC=ON for libringprobe.a):
 *
 *   cmake -S . -B build -DCMAKE_PREFIX_PATH=/usr/local && cmake --build build
 *
 * or with pkg-config, the shared library:
 *
 *   cc -o scan scan.c $(pkg-config --cflags --libs ringprobe)
 *
 * or the archive (--static adds its own dependencies, -luring -lcares
 * -pthread; -l:libringprobe.a makes the linker take the archive even
 * where the shared library sits next to it):
 *
 *   cc -o scan scan.c $(pkg-config --cflags ringprobe) \
 *      $(pkg-config --static --libs ringprobe | sed 's/-lringprobe\b/-l:libringprobe.a/')
 */
#define _POSIX_C_SOURCE 200809L /* getopt, inet_pton under -std=c11 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <ringprobe.h>

struct scan {
	struct sockaddr_storage addr; /* ADDRESS; the port is set per probe */
	socklen_t addrlen;
	char **ranges;                /* the PORT[-PORT] arguments */
	int nranges;
	int range;                    /* the range being submitted */
	unsigned next, last;          /* its next port and its last one */
	uint64_t submitted, results, open, closed, filtered, other;
	unsigned tick_ms;             /* -t: the timer's period, 0 = none */
	int stopped;                  /* "q" was read: submit no more */
};

/* "80" or "8000-8100" into *lo and *hi; 0, or -1 if it is not one. */
static int parse_range(const char *s, unsigned *lo, unsigned *hi)
{
	char *end;
	unsigned long a = strtoul(s, &end, 10), b = a;

	if (end == s)
		return -1;
	if (*end == '-') {
		s = end + 1;
		b = strtoul(s, &end, 10);
		if (end == s)
			return -1;
	}
	if (*end || a == 0 || a > b || b > 65535)
		return -1;
	*lo = (unsigned)a;
	*hi = (unsigned)b;
	return 0;
}

/* Sets s->next and s->last to the next range; 0 when there is none. */
static int next_range(struct scan *s)
{
	if (s->range >= s->nranges)
		return 0;
	parse_range(s->ranges[s->range++], &s->next, &s->last);
	return 1;
}

static void set_port(struct scan *s, unsigned port)
{
	if (s->addr.ss_family == AF_INET)
		((struct sockaddr_in *)&s->addr)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&s->addr)->sin6_port = htons(port);
}

/*
 * Submits ports until the engine says -EAGAIN (every slot busy, or the
 * rate limit allows no new probe yet) or no port is left. The engine
 * copies the target, so one struct serves every call.
 */
static int submit_more(struct rp_engine *e, struct scan *s)
{
	while (!s->stopped && (s->next <= s->last || next_range(s))) {
		struct rp_target t = { .addrlen = s->addrlen,
				       .index = s->submitted };
		int rc;

		set_port(s, s->next);
		t.addr = s->addr;
		rc = rp_engine_submit(e, &t);
		if (rc == -EAGAIN)
			return 0;
		if (rc < 0)
			return rc;
		s->submitted++;
		s->next++;
	}
	return 0;
}

/* "127.0.0.1:80" or "[::1]:80". */
static void format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
	}
}

/*
 * One call per submitted target, from rp_engine_run(). *r is borrowed:
 * copy what you keep. The callback may submit, cancel or stop, but not
 * run or destroy the engine.
 */
static void on_result(const struct rp_result *r, void *arg)
{
	struct scan *s = arg;
	char where[INET6_ADDRSTRLEN + 8];

	s->results++;
	switch (r->status) {
	case RP_STATUS_CLOSED:
		s->closed++;
		return;
	case RP_STATUS_OPEN:
		s->open++;
		break;
	case RP_STATUS_FILTERED:
		s->filtered++;
		break;
	default:
		s->other++;
		break;
	}
	if (r->addr)
		format_addr(r->addr, where, sizeof(where));
	else
		snprintf(where, sizeof(where), "?");
	printf("%s %s %uus", where, rp_status_name(r->status), r->rtt_us);
	if (r->err)
		printf(" %s", rp_errno_name(r->err));
	printf("\n");
}

/* The program's own fds: standard input and, with -t, a periodic timer
 * (*tfd, else -1). Returns 0 or -errno. */
static int add_own_fds(int ep, struct scan *s, int *tfd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.fd = STDIN_FILENO; /* a file or /dev/null cannot be polled */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0 &&
	    errno != EPERM)
		return -errno;
	if (!s->tick_ms)
		return 0;
	struct itimerspec it = {
		.it_interval = { .tv_sec = s->tick_ms / 1000,
				 .tv_nsec = (long)(s->tick_ms % 1000) * 1000000 },
	};
	it.it_value = it.it_interval;
	*tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ev.data.fd = *tfd;
	if (*tfd < 0 || timerfd_settime(*tfd, 0, &it, NULL) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, *tfd, &ev) < 0)
		return -errno;
	return 0;
}

/* What the program does when its own fds are ready. */
static void own_work(struct rp_engine *e, struct scan *s, int ep, int fd,
		     int tfd)
{
	char buf[256];
	ssize_t n;

	if (fd == tfd) {
		uint64_t expirations;

		if (read(tfd, &expirations, sizeof(expirations)) > 0)
			fprintf(stderr, "tick: %llu/%llu\n",
				(unsigned long long)s->results,
				(unsigned long long)s->submitted);
		return;
	}
	n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n <= 0) { /* end of input: stop watching it */
		epoll_ctl(ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
		return;
	}
	if (buf[0] == 'q' && !s->stopped) {
		s->stopped = 1;
		rp_engine_stop(e); /* what is in flight ends CANCELLED */
	}
}

/*
 * The loop contract of rp_engine_fd() in ringprobe.h: submit until
 * -EAGAIN, wait until the engine's fd is readable or rp_engine_timeout()
 * passes, then one rp_engine_run(e, 0). The program's own fds share the
 * epoll set with the engine's. The engine's fd need not be read:
 * rp_engine_run() drains it.
 */
static int run_loop(struct rp_engine *e, struct scan *s)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[8];
	int ep, fd, tfd = -1, n, rc;

	fd = rp_engine_fd(e);
	if (fd < 0)
		return fd;
	ev.data.fd = fd;
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		rc = -errno;
		goto out;
	}
	rc = add_own_fds(ep, s, &tfd);
	if (rc < 0)
		goto out;
	for (;;) {
		rc = submit_more(e, s);
		if (rc < 0)
			break;
		/* -1: no engine timer pending, only the fds matter */
		n = epoll_wait(ep, evs, 8, rp_engine_timeout(e));
		if (n < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		for (int i = 0; i < n; i++)
			if (evs[i].data.fd != fd)
				own_work(e, s, ep, evs[i].data.fd, tfd);
		rc = rp_engine_run(e, 0);
		if (rc < 0)
			break;
		/* 0: every submitted probe has its result. With no source
		 * set, the engine cannot know that more ports are to come
		 * (the rate limit may have held them back), so the loop
		 * ends only when none is left to submit. */
		if (rc == 0 && (s->stopped || (s->next > s->last &&
					       s->range >= s->nranges)))
			break;
	}
out:
	if (tfd >= 0)
		close(tfd);
	if (ep >= 0)
		close(ep);
	return rc;
}

static int usage(void)
{
	fprintf(stderr, "usage: scan [-r RATE] [-t MS] ADDRESS PORT[-PORT]...\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct scan s = { .next = 1, .last = 0 };
	struct rp_engine_opts o = { .concurrency = 256, .on_result = on_result,
				    .arg = &s };
	struct sockaddr_in *in = (struct sockaddr_in *)&s.addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&s.addr;
	struct rp_engine *e;
	unsigned lo, hi;
	char *end;
	int opt, rc;

	while ((opt = getopt(argc, argv, "r:t:")) != -1) {
		unsigned long v;

		if (opt != 'r' && opt != 't')
			return usage();
		v = strtoul(optarg, &end, 10);
		if (end == optarg || *end || v > 100000000)
			return usage();
		if (opt == 'r')
			o.rate = (uint32_t)v;
		else
			s.tick_ms = (unsigned)v;
	}
	if (argc - optind < 2)
		return usage();
	if (inet_pton(AF_INET, argv[optind], &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		s.addrlen = sizeof(*in);
	} else if (inet_pton(AF_INET6, argv[optind], &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		s.addrlen = sizeof(*in6);
	} else {
		fprintf(stderr, "scan: bad address '%s'\n", argv[optind]);
		return 2;
	}
	s.ranges = argv + optind + 1;
	s.nranges = argc - optind - 1;
	for (int i = 0; i < s.nranges; i++)
		if (parse_range(s.ranges[i], &lo, &hi) < 0) {
			fprintf(stderr, "scan: bad port range '%s'\n",
				s.ranges[i]);
			return 2;
		}

	rc = rp_engine_create(&e, &o);
	if (rc < 0) {
		fprintf(stderr, "scan: rp_engine_create: %s\n", rp_strerror(rc));
		return 1;
	}
	rc = run_loop(e, &s);
	if (rc < 0)
		fprintf(stderr, "scan: %s\n", rp_strerror(rc));
	rp_engine_destroy(e); /* would report any probe left as CANCELLED */
	printf("%llu probes: %llu open, %llu closed, %llu filtered, %llu other\n",
	       (unsigned long long)s.results, (unsigned long long)s.open,
	       (unsigned long long)s.closed, (unsigned long long)s.filtered,
	       (unsigned long long)s.other);
	return rc < 0 || s.results != s.submitted ? 1 : 0;
}
