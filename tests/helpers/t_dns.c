/*
 * t_dns.c - see t_dns.h.
 */
#include "t_dns.h"
#include "t_net.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

const char *t_dnsmasq_path(void)
{
	static char found[512];
	const char *path = getenv("PATH");
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s:/usr/sbin:/sbin", path ? path : "");
	for (char *save = NULL, *d = strtok_r(buf, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(found, sizeof(found), "%s/dnsmasq", d);
		if (access(found, X_OK) == 0)
			return found;
	}
	return NULL;
}

/* A port free for UDP and TCP on 127.0.0.1 right now, or -errno. */
static int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port = -EADDRINUSE;

	if (u < 0 || t < 0)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(u, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(u, (struct sockaddr *)&sa, &len) < 0) {
		port = -errno;
		goto out;
	}
	if (bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		port = ntohs(sa.sin_port);
out:
	if (u >= 0)
		close(u);
	if (t >= 0)
		close(t);
	return port;
}

static size_t put_qname(uint8_t *p, size_t cap, const char *name)
{
	size_t o = 0;
	const char *s = name;

	while (*s) {
		size_t l = strcspn(s, ".");
		if (l == 0 || l > 63 || o + l + 2 > cap)
			return 0;
		p[o++] = (uint8_t)l;
		memcpy(p + o, s, l);
		o += l;
		s += l;
		if (*s == '.')
			s++;
	}
	if (o + 1 > cap)
		return 0;
	p[o++] = 0;
	return o;
}

int t_dns_query(int port, const char *name, int qtype, int timeout_ms,
		int *nans)
{
	uint8_t q[512], a[1500];
	struct sockaddr_in sa;
	uint16_t id = (uint16_t)(mono_ms() * 2654435761u >> 7);
	int rc;

	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	size_t n = put_qname(q + 12, sizeof(q) - 16, name);
	if (!n)
		return -EINVAL;
	n += 12;
	q[n++] = (uint8_t)(qtype >> 8);
	q[n++] = (uint8_t)qtype;
	q[n++] = 0;
	q[n++] = 1; /* IN */

	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, q, n, 0) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	uint64_t end = mono_ms() + (uint64_t)timeout_ms;
	rc = -ETIMEDOUT;
	for (int i = 0; i < 1000; i++) {
		uint64_t now = mono_ms();
		if (now >= end)
			break;
		struct pollfd pfd = {fd, POLLIN, 0};
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			continue;
		ssize_t got = recv(fd, a, sizeof(a), MSG_DONTWAIT);
		if (got < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			rc = -errno; /* ECONNREFUSED: nobody there yet */
			break;
		}
		if (got < 12 || a[0] != q[0] || a[1] != q[1] || !(a[2] & 0x80))
			continue;
		if (nans)
			*nans = (a[6] << 8) | a[7];
		rc = a[3] & 0x0f;
		break;
	}
	close(fd);
	return rc;
}

int t_dnsmasq_start(const char *hosts_path, const char *log_path,
		    int listen_v6, int *port, pid_t *pid)
{
	const char *bin = t_dnsmasq_path();
	int last = -EADDRINUSE;

	if (!bin)
		return T_SKIP;
	for (int attempt = 0; attempt < 5; attempt++) {
		char a_port[32], a_hosts[1100], a_log[1100];
		char *argv[32];
		int ac = 0;
		int p = free_port();

		if (p < 0)
			return p;
		snprintf(a_port, sizeof(a_port), "--port=%d", p);
		snprintf(a_hosts, sizeof(a_hosts), "--addn-hosts=%s",
			 hosts_path);
		argv[ac++] = (char *)bin;
		argv[ac++] = "--no-daemon";
		argv[ac++] = "--keep-in-foreground";
		argv[ac++] = "--conf-file=/dev/null";
		argv[ac++] = a_port;
		argv[ac++] = "--listen-address=127.0.0.1";
		if (listen_v6)
			argv[ac++] = "--listen-address=::1";
		argv[ac++] = "--bind-interfaces";
		argv[ac++] = "--no-resolv";
		argv[ac++] = "--no-hosts";
		argv[ac++] = a_hosts;
		argv[ac++] = "--local=/test/";
		argv[ac++] = "--cache-size=0";
		argv[ac++] = "--pid-file=";
		if (geteuid() == 0)
			argv[ac++] = "--user=root";
		if (log_path) {
			snprintf(a_log, sizeof(a_log), "--log-facility=%s",
				 log_path);
			argv[ac++] = "--log-queries";
			argv[ac++] = a_log;
		}
		argv[ac] = NULL;

		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
		pid_t child;
		int err = posix_spawn(&child, bin, &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		if (err)
			return -err;

		/* Ready when it answers; gone means the port was taken. */
		int alive = 1, ready = 0;
		for (int i = 0; i < 50 && alive && !ready; i++) {
			int st;
			if (waitpid(child, &st, WNOHANG) == child) {
				alive = 0;
				break;
			}
			int rc = t_dns_query(p, "rp-ready.test", T_DNS_A, 100,
					     NULL);
			if (rc >= 0)
				ready = 1;
			else if (rc != -ETIMEDOUT)
				nap_ms(50);
		}
		if (ready) {
			*port = p;
			*pid = child;
			return 0;
		}
		if (alive)
			t_dnsmasq_stop(child);
		last = alive ? -ETIMEDOUT : -EADDRINUSE;
	}
	return last;
}

void t_dnsmasq_stop(pid_t pid)
{
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, &st, WNOHANG) != 0)
			return;
		nap_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

int t_udp_sink(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* ---- the delayed responder --------------------------------------------- */

/*
 * The responder runs in a forked child process, not a thread: under
 * valgrind all threads of a process share one lock, and a thread waiting in
 * a system call valgrind does not know may block (io_uring_enter) would
 * starve a responder thread for seconds. State shared with the test lives
 * in a MAP_SHARED mapping under a process-shared mutex.
 */

#define R_MAXPEND 4096
#define R_MAXNAMES 4096
#define R_PKT 512
#define R_LIFETIME_MS 600000 /* a forgotten child ends by itself */

struct r_pending {
	uint64_t due_ms;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	uint16_t len;                 /* header + question */
	uint16_t qtype;
	char name[256];
	uint8_t pkt[R_PKT];
};

struct r_count {                      /* one per name */
	char name[256];
	int n_a, n_aaaa, n_other;     /* queries received, by type */
	int pend;                     /* queries not yet answered */
};

struct t_dns_responder {              /* all of it in the shared mapping */
	int fd;                       /* the UDP socket (child only) */
	int stop_pipe[2];             /* EOF on [0]: stop */
	int port;
	int delay_ms;
	pid_t pid;
	pthread_mutex_t mu;           /* PTHREAD_PROCESS_SHARED */
	int npend;
	int ncounts;
	int total;
	int pending_names;            /* names with pend > 0 */
	int max_pending;
	struct r_pending pend[R_MAXPEND];
	struct r_count counts[R_MAXNAMES];
};

/* Parses the question of q[0..len): name (lower case, no final dot) and
 * type; returns the offset just past the question, or 0. */
static size_t parse_question(const uint8_t *q, size_t len, char *name,
			     uint16_t *qtype)
{
	size_t o = 12, w = 0;

	if (len < 12 || ((q[4] << 8) | q[5]) != 1)
		return 0;
	for (int labels = 0; labels < 128; labels++) {
		if (o >= len)
			return 0;
		uint8_t l = q[o++];
		if (l == 0)
			break;
		if (l > 63 || o + l > len || w + l + 2 > 255)
			return 0;
		if (w)
			name[w++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			char c = (char)q[o + i];
			name[w++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		o += l;
	}
	name[w] = '\0';
	if (o + 4 > len)
		return 0;
	*qtype = (uint16_t)((q[o] << 8) | q[o + 1]);
	return o + 4;
}

/* The table entry for name (lower case), created with add; NULL if the
 * table is full or, without add, the name is unknown. Under r->mu. */
static struct r_count *find_name(struct t_dns_responder *r, const char *name,
				 int add)
{
	for (int c = 0; c < r->ncounts; c++)
		if (!strcmp(r->counts[c].name, name))
			return &r->counts[c];
	if (!add || r->ncounts >= R_MAXNAMES)
		return NULL;
	struct r_count *rc = &r->counts[r->ncounts++];
	memset(rc, 0, sizeof(*rc));
	snprintf(rc->name, sizeof(rc->name), "%s", name);
	return rc;
}

static void r_receive(struct t_dns_responder *r)
{
	static struct r_pending p;
	uint8_t buf[1500];

	for (int k = 0; k < 10000; k++) {
		p.peerlen = sizeof(p.peer);
		ssize_t n = recvfrom(r->fd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&p.peer, &p.peerlen);
		if (n < 0)
			return;
		size_t qend = parse_question(buf, (size_t)n, p.name, &p.qtype);
		if (!qend || qend > R_PKT)
			continue;
		if (getenv("T_DNS_DEBUG"))
			fprintf(stderr, "[responder %llu] query %s type %u\n",
				(unsigned long long)mono_ms(), p.name, p.qtype);
		memcpy(p.pkt, buf, qend);
		p.len = (uint16_t)qend;
		p.due_ms = mono_ms() + (uint64_t)r->delay_ms;

		pthread_mutex_lock(&r->mu);
		r->total++;
		struct r_count *rc = find_name(r, p.name, 1);
		if (rc) {
			if (p.qtype == T_DNS_A)
				rc->n_a++;
			else if (p.qtype == T_DNS_AAAA)
				rc->n_aaaa++;
			else
				rc->n_other++;
		}
		if (rc && r->npend < R_MAXPEND) {
			r->pend[r->npend++] = p;
			if (rc->pend++ == 0 &&
			    ++r->pending_names > r->max_pending)
				r->max_pending = r->pending_names;
		}
		pthread_mutex_unlock(&r->mu);
	}
}

static void r_answer(struct t_dns_responder *r, const struct r_pending *p)
{
	uint8_t a[R_PKT + 32];
	size_t n = p->len;

	memcpy(a, p->pkt, n);
	a[2] = (uint8_t)(0x80 | (p->pkt[2] & 0x79) | 0x04); /* QR, AA, RD */
	a[3] = 0x80;                                        /* RA, NOERROR */
	a[6] = a[7] = a[8] = a[9] = a[10] = a[11] = 0;
	if (p->name[0] == 'n' && p->name[1] == 'x') {
		a[3] = 0x83;                                /* NXDOMAIN */
	} else if (p->qtype == T_DNS_A) {
		struct in_addr addr;
		unsigned num = 0;
		const char *s = p->name;
		int rname = s[0] == 'r' && s[1] >= '0' && s[1] <= '9';
		for (s++; rname && *s && *s != '.'; s++) {
			if (*s < '0' || *s > '9')
				rname = 0;
			else
				num = num * 10 + (unsigned)(*s - '0');
		}
		addr = rname ? t_dns_rname_addr(num)
			     : (struct in_addr){htonl(INADDR_LOOPBACK)};
		a[7] = 1;
		static const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0, 1,
					     0,    0,    0, 60, 0, 4};
		memcpy(a + n, rr, sizeof(rr));
		n += sizeof(rr);
		memcpy(a + n, &addr, 4);
		n += 4;
	}
	ssize_t sent = sendto(r->fd, a, n, MSG_DONTWAIT,
			      (const struct sockaddr *)&p->peer, p->peerlen);
	if (getenv("T_DNS_DEBUG"))
		fprintf(stderr, "[responder %llu] answer %s type %u: %zd\n",
			(unsigned long long)mono_ms(), p->name, p->qtype, sent);
}

/* The child's loop, until EOF on the stop pipe or R_LIFETIME_MS. */
static void r_main(struct t_dns_responder *r)
{
	uint64_t end = mono_ms() + R_LIFETIME_MS;

	while (mono_ms() < end) {
		int wait = 50;
		uint64_t now = mono_ms();
		pthread_mutex_lock(&r->mu);
		for (int i = 0; i < r->npend; i++) {
			uint64_t due = r->pend[i].due_ms;
			int w = due <= now ? 0 : (int)(due - now);
			if (w < wait)
				wait = w;
		}
		pthread_mutex_unlock(&r->mu);

		struct pollfd pf[2] = {{r->fd, POLLIN, 0},
				       {r->stop_pipe[0], POLLIN, 0}};
		if (poll(pf, 2, wait) > 0) {
			if (pf[1].revents)
				break;
			if (pf[0].revents)
				r_receive(r);
		}

		now = mono_ms();
		pthread_mutex_lock(&r->mu);
		int keep = 0;
		for (int i = 0; i < r->npend; i++) {
			if (r->pend[i].due_ms <= now) {
				r_answer(r, &r->pend[i]);
				struct r_count *rc =
					find_name(r, r->pend[i].name, 0);
				if (rc && --rc->pend == 0)
					r->pending_names--;
			} else {
				r->pend[keep++] = r->pend[i];
			}
		}
		r->npend = keep;
		pthread_mutex_unlock(&r->mu);
	}
}

struct t_dns_responder *t_dns_responder_start(int delay_ms)
{
	pthread_mutexattr_t ma;
	struct t_dns_responder *r =
		mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (r == MAP_FAILED)
		return NULL;
	r->delay_ms = delay_ms;
	r->fd = t_udp_sink(&r->port);
	if (r->fd >= 0) { /* room for bursts of thousands of queries */
		int sz = 4 << 20;
		if (setsockopt(r->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz,
			       sizeof(sz)) < 0)
			(void)setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &sz,
					 sizeof(sz));
	}
	if (r->fd < 0 || pipe2(r->stop_pipe, O_CLOEXEC) < 0) {
		if (r->fd >= 0)
			close(r->fd);
		munmap(r, sizeof(*r));
		return NULL;
	}
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&r->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(r->stop_pipe[1]);
		r_main(r);
		_exit(0);
	}
	close(r->fd); /* the child has it */
	close(r->stop_pipe[0]);
	if (pid < 0) {
		close(r->stop_pipe[1]);
		pthread_mutex_destroy(&r->mu);
		munmap(r, sizeof(*r));
		return NULL;
	}
	r->pid = pid;
	return r;
}

int t_dns_responder_port(const struct t_dns_responder *r)
{
	return r->port;
}

int t_dns_responder_count(struct t_dns_responder *r, const char *name,
			  int qtype)
{
	char low[256];
	size_t i;
	int n = 0;

	for (i = 0; name[i] && i < sizeof(low) - 1; i++)
		low[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32)
							    : name[i];
	low[i] = '\0';
	pthread_mutex_lock(&r->mu);
	const struct r_count *rc = find_name(r, low, 0);
	if (rc)
		n = qtype == T_DNS_A	    ? rc->n_a
		    : qtype == T_DNS_AAAA ? rc->n_aaaa
		    : qtype		    ? rc->n_other
					    : rc->n_a + rc->n_aaaa + rc->n_other;
	pthread_mutex_unlock(&r->mu);
	return n;
}

int t_dns_responder_total(struct t_dns_responder *r)
{
	pthread_mutex_lock(&r->mu);
	int n = r->total;
	pthread_mutex_unlock(&r->mu);
	return n;
}

int t_dns_responder_max_pending(struct t_dns_responder *r)
{
	pthread_mutex_lock(&r->mu);
	int n = r->max_pending;
	pthread_mutex_unlock(&r->mu);
	return n;
}

void t_dns_responder_stop(struct t_dns_responder *r)
{
	int st;

	if (!r)
		return;
	close(r->stop_pipe[1]); /* EOF: the child leaves its loop */
	int gone = 0;
	for (int i = 0; i < 1000 && !gone; i++) {
		if (waitpid(r->pid, &st, WNOHANG) == r->pid)
			gone = 1;
		else
			nap_ms(10);
	}
	if (!gone) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, &st, 0);
	}
	pthread_mutex_destroy(&r->mu);
	munmap(r, sizeof(*r));
}
