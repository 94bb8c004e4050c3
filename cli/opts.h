/*
 * opts.h - the command line's options as one table (args.c), and the
 * machinery that reads argv with it and writes each subcommand's --help
 * from it (opts.c).
 *
 * One row per option: its names, its argument, the subcommands it is for,
 * its help lines and the function that takes its value. getopt's tables,
 * every --help text, the "is for http, not tcp" refusals and the "did you
 * mean" hints all come from the rows, so an option is added in one place.
 */
#ifndef RP_CLI_OPTS_H
#define RP_CLI_OPTS_H

#include <stddef.h>
#include <stdio.h>

#include "scan.h"

/* Subcommands, as bits of struct opt.cmds. */
enum {
	CMD_TCP = 1u << 0,
	CMD_HTTP = 1u << 1,
	CMD_TLS = 1u << 2,
	CMD_DEMO = 1u << 3,
};
#define CMD_SCAN (CMD_TCP | CMD_HTTP | CMD_TLS)
#define CMD_ALL (CMD_SCAN | CMD_DEMO)

/* The groups of the --help texts, in the order they are shown. */
enum opt_sect {
	SECT_RUN,                     /* targets, pace, timeouts */
	SECT_OUT,                     /* results and reports */
	SECT_NAMES,                   /* name resolution */
	SECT_TCP,                     /* tcp probes */
	SECT_HTTP,                    /* http probes */
	SECT_TLS,                     /* tls, and https targets of http */
	SECT_MISC,                    /* help, version */
	SECT__COUNT
};

/*
 * set() takes the option's argument (NULL for options without one) and
 * returns 0, OPT_BAD for a value that is not what `want` says (opts.c
 * prints "bad --NAME 'VALUE': want WANT"), or an exit code it has already
 * explained (die_usage()).
 */
#define OPT_BAD (-1)

/* opts_parse() answered --help or --version: exit 0. */
#define OPTS_DONE 256

struct opt {
	const char *name;             /* long name without "--", or NULL */
	char short_name;              /* 'p' for -p, or 0 */
	const char *arg;              /* the argument in --help; NULL: none */
	unsigned cmds;                /* CMD_* bits it is an option of */
	enum opt_sect sect;
	const char *help;             /* --help text; "\n" between lines */
	const char *want;             /* what a good value is, for messages */
	int (*set)(struct cli *c, const char *arg);
};

extern const struct opt cli_opts[];
extern const size_t cli_nopts;

/* "tcp", "http", "tls", "demo" to a CMD_* bit; 0 if none. */
unsigned opts_cmd(const char *name);

/*
 * Reads the options of subcommand cmd from argv[1..argc) (argv[0] is the
 * subcommand) into c; the targets are then argv[optind..argc). Returns 0,
 * OPTS_DONE after answering --help or --version, or EXIT_USAGE after
 * saying what is wrong.
 */
int opts_parse(struct cli *c, unsigned cmd, int argc, char **argv);

/* The help of subcommand cmd: its usage line and its options. */
void opts_help(FILE *f, unsigned cmd);

/* The overview: the subcommands, targets, exit codes, signals. */
void opts_overview(FILE *f);

#endif
