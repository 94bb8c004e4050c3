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

struct cli {
	const char *ports;            /* -p */
	const char **inputs;          /* -i files */
	int ninputs;
	struct rp_engine_opts eo;     /* engine options (whole run) */
	uint32_t threads;             /* engines, one per thread; 0: CPUs */
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
};

/* Installs the handlers for SIGINT/SIGTERM (stop), SIGUSR1/SIGQUIT
 * (snapshot) and ignores SIGPIPE. */
void cli_install_signals(void);

/* Runs the scan c describes over the target arguments; returns the exit
 * code. */
int cli_scan(struct cli *c, int nargs, char **args);

#endif
