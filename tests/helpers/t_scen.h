/*
 * t_scen.h - the scenario framework of the C integration tests: a scenario
 * runs on its own thread (maybe in a private network namespace) and owns
 * its engine; checks there do not longjmp but log and count (CHECK()), and
 * the cmocka test on the main thread asserts that nothing failed and
 * bounds the scenario in time. Also what scenarios of the TCP connect
 * probe share: a watchdog for rp_engine_run_all(), a result recorder with
 * the invariants every result must satisfy, a pull source of 127.0.0.1
 * targets, the ports plan and the port helpers built on it.
 *
 * This header includes cmocka.h, after the headers cmocka.h needs.
 */
#ifndef T_SCEN_H
#define T_SCEN_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "ringprobe.h"

/* ---- scenarios ---------------------------------------------------------- */

struct t_scen {
	const char *name;             /* for messages */
	int netns;                    /* run in a private network namespace */
	uint32_t flags;               /* rp_engine_opts.flags to use */
	int expect_direct;            /* expected rp_stats.direct */
	/* Optional: runs on the scenario thread, in its namespace, before
	 * fn; nonzero ends the scenario (set skip, or CHECK, there). */
	int (*setup)(struct t_scen *sc);
	void (*fn)(struct t_scen *sc); /* the body */
	double limit_s;               /* wall-clock limit (0: 60 s) */
	int fails;                    /* CHECK failures */
	int printed;                  /* failure lines printed */
	const char *skip;             /* why the scenario could not run */
	int done;                     /* set by the thread when finished */
};

/*
 * Counts a failed check of sc and prints it (the first T_MAX_PRINT of a
 * scenario, then a single note that more are not shown). Use CHECK().
 */
void t_check_fail(struct t_scen *sc, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* If cond is false, a failure of sc with a printf-style message. Returns
 * nothing and never jumps: the body goes on (and cleans up). */
#define CHECK(sc, cond, ...)                                                   \
	do {                                                                   \
		if (!(cond))                                                   \
			t_check_fail((sc), __LINE__, __VA_ARGS__);             \
	} while (0)

/*
 * Runs sc on a new thread: enters a private network namespace if
 * sc->netns (sc->skip is set when that needs root), then sc->setup, then
 * sc->fn. Called from a cmocka test: aborts the process if the thread is
 * still running after sc->limit_s (a hung engine cannot be unwound),
 * skip()s the test if sc->skip was set, and asserts that no check failed.
 */
void t_run_scenario(struct t_scen *sc);

/*
 * cmocka group setup for scenario tests: raises RLIMIT_NOFILE to its hard
 * limit (engines size their file tables by it) and unsets
 * RINGPROBE_FALLBACK (the direct-path tests expect the direct path).
 */
int t_scen_group_setup(void **state);

/* ---- clocks ------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t t_now_ns(void);

/* Milliseconds since t0, a t_now_ns() value. */
double t_ms_since(uint64_t t0);

/* Sleeps ms milliseconds (again after a signal). */
void t_sleep_ms(int ms);

/* The CPU time of clock clk (a thread's, see pthread_getcpuclockid()) in
 * milliseconds, 0 if it cannot be read. */
double t_cpu_ms(clockid_t clk);

/* The calling thread's CPU time in milliseconds. */
double t_thread_cpu_ms(void);

/* ---- watchdog ----------------------------------------------------------- */

/*
 * Watchdog for rp_engine_run_all(): stops the engine if the run has not
 * ended by the deadline (from another thread, which the API allows), so a
 * hang becomes a failed check instead of a stuck test.
 */
struct t_watchdog {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rp_engine *e;
	double secs;
	int done;
	int fired;
};

/* Starts w's thread: it calls rp_engine_stop(e) after secs seconds unless
 * t_watchdog_end() came first. Aborts if the thread cannot start. */
void t_watchdog_start(struct t_watchdog *w, struct rp_engine *e,
		      double secs);

/* Ends w and joins its thread. Returns 1 if it had to stop the engine. */
int t_watchdog_end(struct t_watchdog *w);

/* ---- result recorder ---------------------------------------------------- */

struct t_rec;
typedef void (*t_rec_hook_fn)(struct t_rec *r, const struct rp_result *res);

struct t_rec {
	struct t_scen *sc;
	uint64_t cap;                 /* indexes 0..cap-1 are tracked */
	uint8_t *cnt;                 /* results per index (saturating) */
	uint8_t *st;                  /* status per index */
	uint32_t *attempts;           /* attempts per index */
	uint64_t *elapsed_us;         /* elapsed_us per index */
	uint64_t *t_ns;               /* arrival time per index */
	char **input;                 /* input text per index (keep_text) */
	char **detail;                /* detail per index (keep_text) */
	int keep_text;
	uint8_t pcnt[65536];          /* results per port (single-IP scans) */
	uint8_t pst[65536];           /* status per port */
	int perr[65536];              /* err per port */
	uint64_t n;                   /* results */
	uint64_t out_of_range;        /* results with index >= cap */
	uint64_t min_index;
	uint64_t max_index;
	uint64_t attempts_sum;
	uint64_t by_status[RP_STATUS__COUNT];
	t_rec_hook_fn hook;           /* scenario-specific, after recording */
	void *hook_arg;
};

/* A recorder for sc tracking indexes 0..cap-1, keeping each index's input
 * and detail text if keep_text. Aborts when out of memory. */
struct t_rec *t_rec_new(struct t_scen *sc, uint64_t cap, int keep_text);

/* Frees r and the texts it kept. */
void t_rec_free(struct t_rec *r);

/*
 * The result callback (arg: a struct t_rec): CHECKs the invariants every
 * result must satisfy (status in range, input set, addr and addrlen
 * agree, INVALID unprobed with a detail, OPEN and CLOSED probed with
 * rtt_us <= elapsed_us), records the result by index and by port, then
 * calls r->hook.
 */
void t_on_result(const struct rp_result *res, void *arg);

/* The name of status s. */
const char *t_sname(int s);

/* CHECKs that r holds one result for every index in 0..n-1 and nothing
 * else. */
void t_check_each_index_once(struct t_scen *sc, const struct t_rec *r,
			     uint64_t n);

/* CHECKs that e's rp_engine_stats() agree with what r saw (and that
 * stats.direct is sc->expect_direct), after a run that ended. */
void t_check_stats(struct t_scen *sc, struct rp_engine *e,
		   const struct t_rec *r);

/* ---- engines ------------------------------------------------------------ */

/* An engine with opts o whose results go to t_on_result(r), with
 * sc->flags added; NULL (and a failed check) if creation fails. */
struct rp_engine *t_engine_new(struct t_scen *sc, struct t_rec *r,
			       struct rp_engine_opts o);

/* Makes e pull from src, and lets src's reader thread wake e. */
void t_use_source(struct rp_engine *e, struct rp_source *src);

/* Turns of e's loop (rp_engine_run(e, 10)) until pred(arg) (if pred), ms
 * pass, or a turn returns <= 0. Returns the last rp_engine_run() value
 * (1 if none ran). */
int t_run_until(struct rp_engine *e, int (*pred)(void *), void *arg,
		int ms);

/* Predicates for t_run_until(): r has a result for index (t_got_index),
 * or at least index results in all (t_got_all). */
struct t_idx_pred {
	struct t_rec *r;
	uint64_t index;
};

/* Nonzero when p->r has a result for p->index. */
int t_got_index(void *p);

/* Nonzero when p->r has at least p->index results. */
int t_got_all(void *p);

/* Fills *t (zeroed first) as 127.0.0.1:port with the given index. */
void t_target_v4(struct rp_target *t, int port, uint64_t index);

/* ---- a pull source of 127.0.0.1:port targets, counting what it gives ---- */

struct t_gen {
	uint64_t n;                   /* targets to give */
	uint64_t next;                /* next index */
	int (*port_of)(uint64_t i);   /* port of target i */
	int stopped;                  /* the test stopped the engine */
	uint64_t pulls_after_stop;    /* pulls after the stop (a bug) */
	char text[64];                /* input of the last target */
};

/* An rp_engine_set_source() pull function (arg: a struct t_gen): target
 * i is 127.0.0.1:port_of(i) with index i, for i in 0..n-1; then -1. A
 * pull after g->stopped is set is counted in pulls_after_stop. */
int t_gen_pull(void *arg, struct rp_target *t);

/* A port_of for t_gen: target i goes to a port of T_DROP_LO..T_DROP_HI,
 * in turn. */
int t_port_dropped(uint64_t i);

/* ---- ports -------------------------------------------------------------- */

/*
 * A port a scenario expects CLOSED must be one nobody can take while it
 * runs: outside the ephemeral range, where bind(0) puts listeners (the
 * test's own among them) and connects take their source ports, and away
 * from the ports it drops. In a private namespace nothing else listens,
 * so such a port stays closed; in the host namespace only ports the test
 * holds itself (t_reserve_port()) are sure to.
 */

/* Ports 10000..29999 are dropped in the namespaces of the stop tests,
 * T_FILT_LO..T_FILT_HI (inside them) in the others that drop. */
#define T_DROP_LO 10000
#define T_DROP_HI 29999
#define T_FILT_LO 20000
#define T_FILT_HI 20099

/* In private namespaces: ports probed as closed, and fixed listeners. */
#define T_CLOSED_LO 5001
#define T_CLOSED_HI 9999
#define T_LISTEN_LO 4001

/* Nonzero if p can stand for a closed port here: see above. */
int t_closed_port_ok(int p);

/* A listener on a fixed port, for private namespaces: the fd, or a
 * negative errno and a failed check. */
int t_listen_at(struct t_scen *sc, int family, int port);

/*
 * Holds a closed port of family's loopback, the first free one from from
 * towards to (a bounded walk), skipping ports that t_closed_port_ok()
 * refuses and, if avoid (a t_net.h bitmap), those set in it.
 * Returns the fd and *port, or -1.
 */
int t_reserve_port(int family, int from, int to, const uint8_t *avoid,
		   int *port);

/* Drops TCP to ports lo..hi in the calling thread's namespace (see
 * t_nft_drop_tcp_ports()). Returns 0, or nonzero and a failed check. */
int t_drop_ports(struct t_scen *sc, int lo, int hi);

/* ---- stops -------------------------------------------------------------- */

/*
 * A stop must end what is in flight by cancelling it, not by letting it
 * time out. Its drain is mostly CPU work on the loop thread (2000 sockets
 * to close: 150-250 ms idle), which other programs on the CPUs stretch
 * several times in wall time. So the loop thread's CPU time for the drain
 * is held to T_DRAIN_CPU_MS, and its wall time only to half the probes'
 * connect timeout (T_STOP_TIMEOUT_MS): a drain that waited for the
 * timeouts takes longer.
 */
#define T_STOP_TIMEOUT_MS 10000
#define T_DRAIN_WALL_MS (T_STOP_TIMEOUT_MS / 2)
#define T_DRAIN_CPU_MS 1000

/* CHECKs a drain (what, for messages) that took wall_ms of wall time and
 * cpu ms of the loop thread's CPU time against the bounds above. */
void t_check_drain(struct t_scen *sc, const char *what, double wall_ms,
		   double cpu);

/*
 * After a stop and its drain: a fresh engine in the same (private)
 * namespace works normally, one open port (T_LISTEN_LO) and 39 closed
 * ones (from T_CLOSED_LO + 1) each reported once and right.
 */
void t_normal_scan_after(struct t_scen *sc);

#endif /* T_SCEN_H */
