/*
 * t_dns.h - DNS helpers for the integration tests: a dnsmasq started and
 * stopped by PID, a silent resolver (a bound UDP socket nobody reads), a
 * one-shot query for readiness checks, and a small in-process responder
 * that answers after a delay and counts what it was asked.
 *
 * Plain sockets, fork and posix_spawn: nothing here uses the engine or
 * c-ares. T_DNS_DEBUG=1 in the environment makes the responder print each
 * query and answer on stderr.
 */
#ifndef T_DNS_H
#define T_DNS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

#define T_DNS_A 1
#define T_DNS_AAAA 28

/* The path of the dnsmasq binary ($PATH, /usr/sbin, /sbin), or NULL. */
const char *t_dnsmasq_path(void);

/*
 * Starts `dnsmasq --no-daemon` on 127.0.0.1 (and ::1 with listen_v6) on a
 * free port, serving the names of hosts_path under .test only (no upstream,
 * no /etc/hosts, no cache); other names get REFUSED. With log_path, every
 * query is logged there (--log-queries). Waits until it answers.
 * Returns 0 with *port and *pid, T_SKIP (77) if dnsmasq is not installed,
 * or a negative errno.
 */
int t_dnsmasq_start(const char *hosts_path, const char *log_path,
		    int listen_v6, int *port, pid_t *pid);

/* SIGTERM to pid, reaped within 2 s (then SIGKILL). Only that PID. */
void t_dnsmasq_stop(pid_t pid);

/*
 * Sends one query (qtype T_DNS_A or T_DNS_AAAA) for name to 127.0.0.1:port
 * and waits up to timeout_ms for the answer. Returns the rcode (0..15) and
 * the number of answer records in *nans (may be NULL), or a negative errno
 * (-ETIMEDOUT when nothing came back).
 */
int t_dns_query(int port, const char *name, int qtype, int timeout_ms,
		int *nans);

/* A UDP socket bound to 127.0.0.1 that nobody reads: a resolver that never
 * answers. Returns the fd and *port, or a negative errno. */
int t_udp_sink(int *port);

/*
 * A responder (a forked child process) on 127.0.0.1:port that answers every query delay_ms
 * after it arrived: for a name whose first label is "r<N>" an A record
 * t_dns_rname_addr(N), for one that starts with "nx" NXDOMAIN, for any
 * other name A 127.0.0.1; AAAA queries get an empty NOERROR answer (no
 * data), except NXDOMAIN for the "nx" names. It counts the queries per (name, type)
 * and the largest number of distinct names waiting for an answer at once.
 */
struct t_dns_responder;

struct t_dns_responder *t_dns_responder_start(int delay_ms);
int t_dns_responder_port(const struct t_dns_responder *r);
/* Queries received for name (case-insensitive) and qtype (0: any). */
int t_dns_responder_count(struct t_dns_responder *r, const char *name,
			  int qtype);
/* All queries received so far. */
int t_dns_responder_total(struct t_dns_responder *r);
/* The most distinct names that were waiting for an answer at one time. */
int t_dns_responder_max_pending(struct t_dns_responder *r);
/* Stops the child (pending queries are dropped), reaps it, frees r. */
void t_dns_responder_stop(struct t_dns_responder *r);

/* 127.4.(n / 250).(1 + n % 250): the responder's answer for "r<n>". */
static inline struct in_addr t_dns_rname_addr(unsigned n)
{
	struct in_addr a;

	a.s_addr = htonl((127u << 24) | (4u << 16) | ((n / 250u) << 8) |
			 (1u + n % 250u));
	return a;
}

#endif /* T_DNS_H */
