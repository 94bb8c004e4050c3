/*
 * sol.c - "speed of light" for ringprobe's TCP probe: the same kernel work
 * per probe, with nothing else around it.
 *
 * Per target, one chain (CQE_SKIP_SUCCESS on all but CONNECT, so one CQE):
 *
 *   SOCKET(direct, slot) -> URING_CMD SETSOCKOPT SO_LINGER{1,0}
 *       [-> SETSOCKOPT IP_LOCAL_PORT_RANGE, only for 127/8 targets whose
 *           port is in the ephemeral range: no self-connect]
 *       -> CONNECT -> LINK_TIMEOUT(absolute: turn start + 1 s)
 *
 * and when its CQE comes, CLOSE_DIRECT(slot) (an RST thanks to SO_LINGER).
 * A fixed window of CONC slots; each loop turn refills the window and calls
 * io_uring_enter once (submit + wait), then reaps every CQE. Ring:
 * SINGLE_ISSUER|DEFER_TASKRUN|SUBMIT_ALL|CQSIZE|CLAMP, registered ring fd,
 * sparse file table of CONC slots. No results per target, no retries, no
 * timeout verification, no cancellation: counts only.
 *
 * usage: [SOL_WAIT_NR=N] sol IP[-LAST_IP] LO-HI CONC [LAST_IP]
 *   probes every port LO..HI of every address IP..LAST_IP (127.0.0.0/8
 *   only); prints one line of key=value pairs on stdout. SOL_WAIT_NR:
 *   CQEs each enter waits for (default 1, as ringprobe).
 * build: gcc -O2 -Wall -o sol sol.c -luring
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif
#define SETSOCKOPT_CMD 3 /* SOCKET_URING_OP_SETSOCKOPT, kernel 6.7 */
#define UD_CLOSE (1ull << 32) /* user_data of a close (posts only on error) */

struct slot {
	struct sockaddr_in sa; /* the target; kept until the chain is done */
	uint32_t port_range;   /* IP_LOCAL_PORT_RANGE optval, read at exec */
	uint32_t next_free;
	double deadline;       /* when its link timeout fires */
};

static const struct linger linger0 = { .l_onoff = 1, .l_linger = 0 };

/* As ringprobe's uring_compat.h: setsockopt on a direct descriptor. */
static void prep_setsockopt(struct io_uring_sqe *sqe, int slot, int level,
			    int name, const void *val, int len)
{
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, slot, NULL, 0, 0);
	sqe->cmd_op = SETSOCKOPT_CMD;
	sqe->__pad1 = 0;
	sqe->addr = ((uint64_t)(uint32_t)name << 32) | (uint32_t)level;
	sqe->file_index = (uint32_t)len;
	sqe->addr3 = (uint64_t)(uintptr_t)val;
	sqe->flags |= IOSQE_FIXED_FILE;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "sol: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static uint32_t parse_ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127) {
		fprintf(stderr, "sol: %s: not a 127.0.0.0/8 address\n", s);
		exit(2);
	}
	return ntohl(a.s_addr);
}

int main(int argc, char **argv)
{
	unsigned lo, hi, eph_lo = 32768, eph_hi = 60999, conc;
	uint32_t ip0, ip1;
	char ipbuf[64], *dash;
	FILE *f;

	if (argc < 4 || argc > 5 || sscanf(argv[2], "%u-%u", &lo, &hi) != 2 ||
	    !lo || lo > hi || hi > 65535 || (conc = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: sol IP[-LAST_IP] LO-HI CONC [LAST_IP]\n");
		return 2;
	}
	snprintf(ipbuf, sizeof(ipbuf), "%s", argv[1]);
	dash = strchr(ipbuf, '-');
	if (dash)
		*dash++ = '\0';
	ip0 = parse_ip(ipbuf);
	ip1 = dash ? parse_ip(dash) : argc == 5 ? parse_ip(argv[4]) : ip0;
	if (ip1 < ip0)
		return fprintf(stderr, "sol: empty IP range\n"), 2;
	if ((f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r"))) {
		if (fscanf(f, "%u %u", &eph_lo, &eph_hi) != 2)
			eph_lo = 32768, eph_hi = 60999;
		fclose(f);
	}
	uint64_t nports = hi - lo + 1, total = (uint64_t)(ip1 - ip0 + 1) * nports;
	if (conc > total)
		conc = (unsigned)total;

	/* Direct descriptors count against RLIMIT_NOFILE: take the hard one. */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);

	/* SQ: room for a whole window's chains (6 SQEs with the close) up to
	 * the kernel's 32k; CQ: one CQE per probe in flight, doubled. */
	struct io_uring ring;
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER |
		IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
		IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP };
	unsigned sq = 64, cq = 64;
	while (sq < 6 * conc && sq < 32768)
		sq <<= 1;
	while (cq < 2 * conc + 64 || cq < 2 * sq) /* kernel: cq >= sq */
		cq <<= 1;
	p.cq_entries = cq;
	int ret = io_uring_queue_init_params(sq, &ring, &p);
	if (ret < 0)
		die("io_uring_queue_init_params", ret);
	io_uring_register_ring_fd(&ring);
	if ((ret = io_uring_register_files_sparse(&ring, conc)) < 0)
		die("register_files_sparse (raise RLIMIT_NOFILE?)", ret);

	struct slot *slots = calloc(conc, sizeof(*slots));
	for (unsigned i = 0; i < conc; i++)
		slots[i].next_free = i + 1; /* conc = end of the free list */
	unsigned free_head = 0, inflight = 0, max_inflight = 0;
	uint64_t next = 0, done = 0, open = 0, closed = 0, timedout = 0;
	uint64_t other = 0, enters = 0, close_err = 0;
	int first_other = 0;
	/* CQEs to wait for per enter (ringprobe: 1). Since 6.13 a
	 * DEFER_TASKRUN enter runs at most max(20, wait_nr) task-work items
	 * per pass, so this also bounds the completions one enter yields. */
	unsigned wait_nr = getenv("SOL_WAIT_NR") ? atoi(getenv("SOL_WAIT_NR")) : 1;
	if (wait_nr < 1)
		wait_nr = 1;
	double t0 = now_s(), first_done = 0, late_min = 1e9, late_max = 0;
	double late_sum = 0;

	while (done < total) {
		/* As ringprobe: an absolute link timeout, now + 1 s, taken
		 * once per turn (the kernel copies it at submit). */
		double now = now_s();
		struct __kernel_timespec dl = {
			.tv_sec = (long long)(now + 1.0),
			.tv_nsec = (long long)((now + 1.0 - (long long)(now + 1.0)) * 1e9),
		};

		/* Refill the window; a chain never straddles two submits. */
		while (next < total && free_head < conc &&
		       io_uring_sq_space_left(&ring) >= 5) {
			unsigned i = free_head;
			struct slot *s = &slots[i];
			unsigned port = lo + (unsigned)(next % nports);
			uint32_t ip = ip0 + (uint32_t)(next / nports);
			int self = port >= eph_lo && port <= eph_hi; /* all 127/8 */
			struct io_uring_sqe *sqe;

			free_head = s->next_free;
			next++;
			if (++inflight > max_inflight)
				max_inflight = inflight;
			s->deadline = now + 1.0;
			s->sa.sin_family = AF_INET;
			s->sa.sin_port = htons(port);
			s->sa.sin_addr.s_addr = htonl(ip);

			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_socket_direct(sqe, AF_INET, SOCK_STREAM, 0, i, 0);
			sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
			sqe->user_data = i;
			sqe = io_uring_get_sqe(&ring);
			prep_setsockopt(sqe, i, SOL_SOCKET, SO_LINGER, &linger0,
					sizeof(linger0));
			sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
			sqe->user_data = i;
			if (self) { /* a source port range without the target's */
				if (port - eph_lo >= eph_hi - port)
					s->port_range = eph_lo | (port - 1) << 16;
				else
					s->port_range = (port + 1) | eph_hi << 16;
				sqe = io_uring_get_sqe(&ring);
				prep_setsockopt(sqe, i, SOL_IP, IP_LOCAL_PORT_RANGE,
						&s->port_range, sizeof(s->port_range));
				sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
				sqe->user_data = i;
			}
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_connect(sqe, i, (struct sockaddr *)&s->sa,
					      sizeof(s->sa));
			sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
			sqe->user_data = i;
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_link_timeout(sqe, &dl, IORING_TIMEOUT_ABS);
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
			sqe->user_data = i;
		}

		/* The one enter of this turn: submit everything and wait for
		 * a CQE, unless the SQ ran out while targets and free slots
		 * remain (then just submit and collect what is there). */
		struct __kernel_timespec wait = { .tv_sec = 1 };
		struct io_uring_cqe *cqe;
		unsigned want = wait_nr < inflight ? wait_nr : inflight;
		if (next < total && free_head < conc)
			want = 0;
		if (want)
			ret = io_uring_submit_and_wait_timeout(&ring, &cqe, want,
							       &wait, NULL);
		else
			ret = io_uring_submit_and_get_events(&ring);
		enters++;
		if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY)
			die("io_uring_submit_and_wait_timeout", ret);

		unsigned head, n = 0;
		now = now_s();
		io_uring_for_each_cqe(&ring, head, cqe) {
			n++;
			if (cqe->user_data & UD_CLOSE) {
				close_err++;
				continue;
			}
			unsigned i = (unsigned)cqe->user_data;
			if (cqe->res == 0)
				open++;
			else if (cqe->res == -ECONNREFUSED)
				closed++;
			else if (cqe->res == -ECANCELED) { /* link timeout fired */
				double late = now - slots[i].deadline;
				timedout++;
				late_sum += late;
				late_min = late < late_min ? late : late_min;
				late_max = late > late_max ? late : late_max;
			}
			else if (other++ == 0)
				first_other = cqe->res;
			if (done++ == 0)
				first_done = now - t0;
			inflight--;
			/* Close now; it runs before any later reuse of slot i. */
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			if (!sqe) { /* SQ full of closes: flush them */
				io_uring_submit(&ring);
				enters++;
				sqe = io_uring_get_sqe(&ring);
			}
			io_uring_prep_close_direct(sqe, i);
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
			sqe->user_data = UD_CLOSE | i;
			slots[i].next_free = free_head;
			free_head = i;
		}
		io_uring_cq_advance(&ring, n);
	}
	double secs = now_s() - t0;
	io_uring_submit_and_get_events(&ring); /* the last closes */

	printf("probes=%llu secs=%.3f first_done=%.3f pps=%.0f open=%llu closed=%llu "
	       "timeout=%llu other=%llu conc=%u max_inflight=%u enters=%llu "
	       "probes_per_enter=%.1f sq=%u cq=%u close_errors=%llu wait_nr=%u",
	       (unsigned long long)total, secs, first_done, total / secs,
	       (unsigned long long)open, (unsigned long long)closed,
	       (unsigned long long)timedout, (unsigned long long)other, conc,
	       max_inflight, (unsigned long long)enters, total / (double)enters,
	       sq, p.cq_entries, (unsigned long long)close_err, wait_nr);
	if (other)
		printf(" first_other=%s", strerrorname_np(-first_other) ?: "?");
	if (timedout) /* when the timeouts came, past their deadline */
		printf(" late_min_ms=%.1f late_avg_ms=%.1f late_max_ms=%.1f",
		       late_min * 1e3, late_sum / timedout * 1e3, late_max * 1e3);
	printf("\n");
	io_uring_queue_exit(&ring);
	free(slots);
	return 0;
}
