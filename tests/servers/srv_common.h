/*
 * srv_common.h - what the test servers in tests/servers share: option
 * values, loopback listeners, a monotonic clock and the signalfd that
 * stops them. Plain sockets, no engine code.
 */
#ifndef RP_SRV_COMMON_H
#define RP_SRV_COMMON_H

/* Parses a decimal integer in [lo, hi] into *out; returns 0 or -1. */
int srv_parse_long(const char *s, long lo, long hi, long *out);

/* Parses a number of seconds in (0, 86400] into *out; returns 0 or -1. */
int srv_parse_seconds(const char *s, double *out);

/*
 * Opens a TCP listener on addr (an IPv4 or IPv6 literal; an IPv6 one is
 * IPV6_V6ONLY) and port (0 = ephemeral) with SO_REUSEADDR, non-blocking
 * and close-on-exec. Returns the fd and puts the bound port in *bound, or
 * returns -1 after a message on stderr that starts with prog.
 */
int srv_listen(const char *prog, const char *addr, int port, int backlog,
	       int *bound);

/* CLOCK_MONOTONIC in seconds. */
double srv_now(void);

/*
 * Blocks SIGTERM and SIGINT and returns a non-blocking signalfd that
 * reports them, and ignores SIGPIPE; or returns -1 after a message on
 * stderr. Call it before starting any thread: threads inherit the mask.
 */
int srv_signalfd(const char *prog);

#endif
