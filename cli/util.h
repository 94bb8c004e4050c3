/*
 * util.h - what every part of the CLI uses to talk to the user: the
 * program name for messages, the exit codes, and die_usage().
 */
#ifndef RP_CLI_UTIL_H
#define RP_CLI_UTIL_H

#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define EXIT_INVALID 3 /* done, but some target lines were invalid */
#define EXIT_INTERRUPTED 130

extern const char *prog;
/* The subcommand, once known: the --help hint names it. */
extern const char *usage_cmd;

/* Prints "prog: message" and the --help hint; returns EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int die_usage(const char *fmt, ...);

#endif
