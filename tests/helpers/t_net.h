/*
 * t_net.h - network helpers for the C integration tests: loopback
 * listeners, the kernel's own list of listening ports, private network
 * namespaces and nftables rules inside them.
 *
 * Namespaces are per thread: t_netns_enter() moves only the calling thread,
 * and the helpers below read /proc/thread-self/net, so a test can run a
 * scenario in a private namespace on a worker thread while the main thread
 * stays where it was.
 */
#ifndef T_NET_H
#define T_NET_H

#include <stdint.h>

/* The exit code that ctest reports as a skip (SKIP_RETURN_CODE). */
#define T_SKIP 77

/* Nonzero when the test runs under valgrind (whose scheduler does not let
 * another thread run while one waits in io_uring_enter). */
int t_on_valgrind(void);

/*
 * Listens on an ephemeral port of 127.0.0.1 (AF_INET) or ::1 (AF_INET6,
 * IPv6 only). Nobody accepts: the kernel completes handshakes into the
 * backlog, which is all a connect probe needs.
 * Returns the listening fd and *port, or a negative errno.
 */
int t_listen(int family, int *port);

/*
 * A socket bound to port (0: the kernel's choice) of 127.0.0.1 (AF_INET)
 * or ::1 (AF_INET6, IPv6 only), without SO_REUSEADDR: listening if
 * listen_too, else just holding the port, so that nobody can listen there
 * and a connect to it is refused.
 * Returns the fd and *bound, or a negative errno.
 */
int t_bind_port(int family, int port, int listen_too, int *bound);

/*
 * Sets bit p of bitmap (65536 bits = 8192 bytes, cleared first) for every
 * TCP port in LISTEN state that a connect to ip (an IPv4 or IPv6 literal)
 * would reach: listeners bound to ip itself or to the wildcard of its
 * family, plus, for IPv4, IPv6 listeners bound to the v4-mapped address or
 * to :: without IPV6_V6ONLY. Reads /proc/thread-self/net/tcp and tcp6 (and
 * asks sock_diag which :: listeners are IPv6-only).
 * Returns the number of ports set, or a negative errno.
 */
int t_listening_ports(const char *ip, uint8_t *bitmap65536);

static inline int t_bit(const uint8_t *bm, unsigned p)
{
	return (bm[p >> 3] >> (p & 7)) & 1;
}

static inline void t_bit_set(uint8_t *bm, unsigned p)
{
	bm[p >> 3] |= (uint8_t)(1u << (p & 7));
}

/*
 * Moves the calling thread into a new, private network namespace and brings
 * its loopback interface up (127.0.0.1 and ::1 usable).
 * Returns 0, T_SKIP when not root or namespaces are not permitted, or a
 * negative errno on any other failure.
 */
int t_netns_enter(void);

/*
 * Runs `nft -f -` with rules on its stdin, in the calling thread's network
 * namespace. Output of nft goes to stderr.
 * Returns 0 on success, nonzero (nft's exit status, or -errno) on failure.
 */
int t_nft(const char *rules);

/*
 * Convenience: in the current namespace, a table "rp_test" that drops TCP
 * packets to ports lo..hi on input (the SYN is dropped, so a connect to
 * such a port stays unanswered: FILTERED). Returns as t_nft().
 */
int t_nft_drop_tcp_ports(int lo, int hi);

#endif /* T_NET_H */
