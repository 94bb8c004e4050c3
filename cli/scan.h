/*
 * scan.h - what scan.c offers main.c: the options of a run (struct cli),
 * which main.c parses and cli_scan() runs with, and the signal handlers.
 */
#ifndef RP_CLI_SCAN_H
#define RP_CLI_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "output.h"
#include "ringprobe.h"

#define DEFAULT_CONCURRENCY 4096
#define DEFAULT_MAX_PER_HOST 1024 /* probes in flight to one address */

struct cli {
	const char *ports;            /* -p */
	const char **inputs;          /* -i files */
	int ninputs;
	struct rp_engine_opts eo;     /* engine options (whole run) */
	uint32_t threads;             /* engines, one per thread; 0: CPUs */
	int64_t max_per_host;         /* --max-per-host, or -1: the default */
	enum out_format format;
	const char *output;           /* -o */
	const char *stats_json;       /* --stats-json */
	bool only_open;
	int progress;                 /* -1 auto, 0 off, 1 on */
	bool summary;
	bool stats;
	bool quiet;
	bool http;                    /* `ringprobe http` */
	bool banner;                  /* `ringprobe tcp --banner` */
	bool tls;                     /* `ringprobe tls` */
	int expiring;                 /* --expiring-within DAYS, or -1 */
	int scheme;                   /* --scheme: an RP_SCHEME_* */
	int no_resolve;               /* -n: names are invalid lines */
	const char **headers;         /* -H lines, NULL-terminated */
	int nheaders;
	uint8_t *match_status;        /* --match-status bitmap of 0..999 */
	uint8_t *filter_status;       /* --filter-status bitmap */
	/* Called for every result, from the worker threads (demo). */
	void (*observe)(const struct rp_result *r);
	char *ports_buf;              /* the -p lists joined (c->ports) */
	bool all;                     /* --all: text shows every result */
	bool snapshot_all;            /* --snapshot-all */
	int argc;                     /* the command line (XML's args) */
	char **argv;
	const char *resume;           /* --resume FILE */
	struct rp_exclude *exclude;   /* --exclude, --exclude-file, or NULL */
	uint32_t top_ports;           /* --top-ports N, or 0 */
	const char *exclude_ports;    /* --exclude-ports LIST */
	/* Order and shards (order.c). */
	uint64_t seed;                /* --seed, or a random one */
	bool seed_set;                /* --seed given */
	bool no_shuffle;              /* --no-shuffle */
	uint32_t shuffle_window;      /* --shuffle-window; 0: default */
	uint32_t shard, shards;       /* --shard I/N; shards 0: none */
};

#define RP_WINDOW_MAX (1u << 24)

/* Parses order option name ("seed", "shard", "shuffle-window",
 * "no-shuffle") with its argument into c: 0, or EXIT_USAGE with the
 * message printed. */
int order_option(struct cli *c, const char *name, const char *arg);

/* After all options: refuses --shard without --seed, picks a random seed
 * when none was given. 0, or an exit code with the message printed. */
int order_finish(struct cli *c);

/* The order and shard fields of the source's options. */
void order_source_opts(const struct cli *c, struct rp_source_opts *so);


/* tcp without -p or --top-ports probes this many of nmap's top ports. */
#define DEFAULT_TOP_PORTS 100

/* Installs the handlers for SIGINT/SIGTERM (stop), SIGUSR1/SIGQUIT
 * (snapshot) and ignores SIGPIPE. */
void cli_install_signals(void);

/* Runs the scan c describes over the target arguments; returns the exit
 * code. */
int cli_scan(struct cli *c, int nargs, char **args);

#endif
