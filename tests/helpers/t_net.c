/*
 * t_net.c - see t_net.h. Plain sockets, /proc, netlink and nft: nothing
 * here uses the engine, so the helpers stay trustworthy when it is broken.
 */
#include "t_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

int t_on_valgrind(void)
{
	return RUNNING_ON_VALGRIND;
}

#define TCP_STATE_LISTEN 0x0A /* TCP_LISTEN as /proc/net/tcp prints it */

extern char **environ;

int t_bind_port(int family, int port, int listen_too, int *bound)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = family == AF_INET ? sizeof(*s4) : sizeof(*s6);
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = in6addr_loopback;
	}
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				 sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (listen_too && listen(fd, SOMAXCONN) < 0) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	*bound = ntohs(family == AF_INET ? s4->sin_port : s6->sin6_port);
	return fd;
}

int t_listen(int family, int *port)
{
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	return t_bind_port(family, 0, 1, port);
}

/*
 * Ports of IPv6 listeners bound to :: that also accept IPv4 (IPV6_V6ONLY
 * off), from sock_diag. /proc/net/tcp6 does not show the flag. Returns 0,
 * or a negative errno when sock_diag is unavailable.
 */
static int dual_stack_wildcards(uint8_t *dual)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	static char buf[32768];
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
			NETLINK_SOCK_DIAG);
	int rc = -EIO;

	if (fd < 0)
		return -errno;
	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.req.sdiag_family = AF_INET6;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = 1u << TCP_LISTEN;
	if (send(fd, &msg, sizeof(msg), 0) < 0) {
		rc = -errno;
		goto out_close;
	}
	/* A dump of listeners is a few messages; bound the loop anyway. */
	for (int round = 0; round < 100000; round++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			rc = -errno;
			goto out_close;
		}
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				rc = 0;
				goto out_close;
			}
			if (h->nlmsg_type == NLMSG_ERROR)
				goto out_close;
			struct inet_diag_msg *d = NLMSG_DATA(h);
			struct in6_addr a;
			memcpy(&a, d->id.idiag_src, sizeof(a));
			if (!IN6_IS_ADDR_UNSPECIFIED(&a))
				continue;
			int v6only = 0;
			int alen = (int)(h->nlmsg_len -
					 NLMSG_LENGTH(sizeof(*d)));
			struct rtattr *at = (struct rtattr *)(d + 1);
			for (; RTA_OK(at, alen); at = RTA_NEXT(at, alen))
				if (at->rta_type == INET_DIAG_SKV6ONLY)
					v6only = *(uint8_t *)RTA_DATA(at);
			if (!v6only)
				t_bit_set(dual, ntohs(d->id.idiag_sport));
		}
	}
out_close:
	close(fd);
	return rc;
}

static int read_int_file(const char *path, int dflt)
{
	FILE *f = fopen(path, "r");
	int v = dflt;

	if (!f)
		return dflt;
	if (fscanf(f, "%d", &v) != 1)
		v = dflt;
	fclose(f);
	return v;
}

/* Parses one table (tcp or tcp6) and marks the ports reachable at ip. */
static int scan_table(const char *path, int v6_table, int family,
		      const struct in_addr *ip4, const struct in6_addr *ip6,
		      const uint8_t *dual, int dual_known, int bindv6only,
		      uint8_t *bm)
{
	char line[512];
	int count = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return v6_table ? 0 : -errno; /* IPv6 may be compiled out */
	if (!fgets(line, sizeof(line), f)) { /* header */
		fclose(f);
		return -EIO;
	}
	while (fgets(line, sizeof(line), f)) {
		char hex[33];
		unsigned port;
		unsigned st;

		if (sscanf(line, " %*u: %32[0-9A-Fa-f]:%x %*x:%*x %x", hex,
			   &port, &st) != 3)
			continue;
		if (st != TCP_STATE_LISTEN || port > 65535)
			continue;
		int reach = 0;
		if (!v6_table) {
			/* The kernel prints the __be32 as a host u32. */
			struct in_addr a = {.s_addr = (uint32_t)strtoul(
						    hex, NULL, 16)};
			reach = family == AF_INET &&
				(a.s_addr == INADDR_ANY ||
				 a.s_addr == ip4->s_addr);
		} else {
			struct in6_addr a;
			for (int w = 0; w < 4; w++) {
				char word[9];
				memcpy(word, hex + 8 * w, 8);
				word[8] = 0;
				uint32_t u = (uint32_t)strtoul(word, NULL, 16);
				memcpy(&a.s6_addr[4 * w], &u, 4);
			}
			if (family == AF_INET6) {
				reach = IN6_IS_ADDR_UNSPECIFIED(&a) ||
					IN6_ARE_ADDR_EQUAL(&a, ip6);
			} else if (IN6_IS_ADDR_V4MAPPED(&a)) {
				uint32_t m;
				memcpy(&m, &a.s6_addr[12], 4);
				reach = m == INADDR_ANY || m == ip4->s_addr;
			} else if (IN6_IS_ADDR_UNSPECIFIED(&a)) {
				reach = dual_known ? t_bit(dual, port)
						   : !bindv6only;
			}
		}
		if (reach && !t_bit(bm, port)) {
			t_bit_set(bm, port);
			count++;
		}
	}
	fclose(f);
	return count;
}

int t_listening_ports(const char *ip, uint8_t *bm)
{
	static uint8_t dual[8192];
	struct in_addr ip4;
	struct in6_addr ip6;
	int family;

	memset(bm, 0, 8192);
	if (inet_pton(AF_INET, ip, &ip4) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &ip6) == 1)
		family = AF_INET6;
	else
		return -EINVAL;

	memset(dual, 0, sizeof(dual));
	int dual_known = 0;
	if (family == AF_INET)
		dual_known = dual_stack_wildcards(dual) == 0;
	int bindv6only =
		read_int_file("/proc/sys/net/ipv6/bindv6only", 0);

	int n4 = scan_table("/proc/thread-self/net/tcp", 0, family, &ip4,
			    &ip6, dual, dual_known, bindv6only, bm);
	if (n4 < 0)
		return n4;
	int n6 = scan_table("/proc/thread-self/net/tcp6", 1, family, &ip4,
			    &ip6, dual, dual_known, bindv6only, bm);
	if (n6 < 0)
		return n6;
	return n4 + n6;
}

int t_netns_enter(void)
{
	struct ifreq ifr;

	if (geteuid() != 0)
		return T_SKIP;
	if (unshare(CLONE_NEWNET) < 0)
		return errno == EPERM ? T_SKIP : -errno;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	int rc = 0;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		rc = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			rc = -errno;
	}
	close(fd);
	return rc;
}

int t_nft(const char *rules)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = {"nft", "-f", "-", NULL};
	int p[2];
	pid_t pid;
	int status;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	int err = posix_spawnp(&pid, "nft", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	if (err) {
		close(p[1]);
		return -err;
	}
	/* A write to a dead nft must fail with EPIPE, not kill the test. */
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	size_t len = strlen(rules);
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(p[1], rules + off, len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(p[1]);
	struct timespec zero = {0, 0};
	(void)sigtimedwait(&pipe_set, NULL, &zero); /* SIGPIPE, if any */
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (off < len)
		return -EPIPE;
	if (!WIFEXITED(status))
		return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return WEXITSTATUS(status);
}

int t_nft_drop_tcp_ports(int lo, int hi)
{
	char rules[256];

	snprintf(rules, sizeof(rules),
		 "table inet rp_test {\n"
		 "  chain input {\n"
		 "    type filter hook input priority 0; policy accept;\n"
		 "    tcp dport %d-%d drop\n"
		 "  }\n"
		 "}\n",
		 lo, hi);
	return t_nft(rules);
}
