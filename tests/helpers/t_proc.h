/*
 * t_proc.h - running something in a child process the test controls: a
 * command (the CLI, with a hook run in the child just before the exec, to
 * install a seccomp filter or lower a limit) or a function (to call the
 * library under a limit the test process must not keep). Output is
 * collected, the time is bounded, and a child that overstays is killed
 * by its PID.
 */
#ifndef T_PROC_H
#define T_PROC_H

#include <stdbool.h>
#include <stddef.h>

#define T_OUT_MAX 16384

struct t_run {
	int status;                   /* waitpid() status */
	bool timed_out;               /* killed after the time limit */
	char out[T_OUT_MAX];          /* stdout, NUL-terminated, truncated */
	char err[T_OUT_MAX];          /* stderr, likewise */
};

/*
 * Runs argv (argv[0] is a path) in a child with stdin from /dev/null.
 * The child first calls pre(arg) if pre is not NULL; if that returns
 * nonzero the child exits with 126 without running argv. Returns 0 (see
 * *r for how it ended) or a negative errno if the child could not be
 * started.
 */
int t_run_cmd(char *const argv[], int (*pre)(void *), void *arg,
	      int timeout_ms, struct t_run *r);

/* Runs fn(arg) in a child, which exits with what fn returns. As
 * t_run_cmd() otherwise. */
int t_run_fn(int (*fn)(void *), void *arg, int timeout_ms, struct t_run *r);

/* The exit code of a child that exited, else -1 (killed, timed out). */
int t_run_exit(const struct t_run *r);

#endif /* T_PROC_H */
