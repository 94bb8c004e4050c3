/*
 * util.c - the CLI's shared helpers for talking to the user (util.h), so
 * that main.c and scan.c can both use them without using each other.
 */
#include <stdarg.h>
#include <stdio.h>

#include "util.h"

const char *prog = "ringprobe";
const char *usage_cmd;

int die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s%s%s --help'.\n", prog, usage_cmd ? " " : "",
		usage_cmd ? usage_cmd : "");
	return EXIT_USAGE;
}
