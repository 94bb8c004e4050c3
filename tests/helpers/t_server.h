/*
 * t_server.h - our target server (tests/servers/target_server.c) from the
 * C tests: started as a child process in the calling thread's network
 * namespace, stopped by its PID.
 */
#ifndef T_SERVER_H
#define T_SERVER_H

#include <sys/types.h>

#define T_SERVER_MAX_PORTS 64

/*
 * Starts rp_target_server --mode mode (accept-close or http) on n
 * ephemeral ports of 127.0.0.1 (n <= T_SERVER_MAX_PORTS), in the calling
 * thread's network namespace, and waits up to 5 s for the ports it prints.
 * The binary is $RP_TEST_SERVER, else rp_target_server next to the test
 * binary (how the build lays them out; valgrind runs pass no environment).
 * Returns 0 with ports[0..n-1] and *pid, T_SKIP (77) if there is no
 * server binary, or a negative errno.
 */
int t_server_start(const char *mode, int n, int *ports, pid_t *pid);

/* SIGTERM to pid, reaped within 2 s (then SIGKILL). Only that PID. */
void t_server_stop(pid_t pid);

#endif /* T_SERVER_H */
