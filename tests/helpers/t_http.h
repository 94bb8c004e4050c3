/*
 * t_http.h - a small HTTP/1.1 server for the C integration tests, in a
 * forked child process (valgrind does not let another thread run while
 * one waits in io_uring_enter) on an ephemeral port of 127.0.0.1.
 *
 * It takes connections in batches: once the first of a batch is accepted
 * it accepts up to batch - 1 more (waiting at most batch_ms for each),
 * reads every request head, and only then answers them all: "200 OK",
 * Content-Length body_len and that many 'x' bytes, "Connection: close".
 * With a batch of 1 it is a plain one-at-a-time server; with a larger one
 * the answers reach the prober at the same moment, so its receives all
 * complete together. Plain sockets: nothing here uses the engine.
 */
#ifndef T_HTTP_H
#define T_HTTP_H

#include <stddef.h>
#include <sys/types.h>

struct t_http {
	pid_t pid;                    /* the child, 0 once stopped */
	int port;                     /* where it listens */
};

/* Starts the server (before the engine is created, so that the child
 * holds none of its descriptors). It ends at t_http_stop(), when this
 * process goes away, or after 120 s. Returns 0 or a negative errno. */
int t_http_start(struct t_http *h, unsigned batch, int batch_ms,
		 size_t body_len);

/* Stops the child (SIGTERM, by PID) and reaps it. Returns 0 if it had
 * exited cleanly, else -1. Safe to call twice. */
int t_http_stop(struct t_http *h);

#endif /* T_HTTP_H */
