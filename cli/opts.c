/*
 * opts.c - reading argv with the option table (args.c) and writing the
 * --help texts from it (opts.h).
 *
 * getopt_long() does the reading; its tables are built from cli_opts[],
 * every long option returning 256 + its row. Before it runs, nmap's
 * spellings that getopt would misread are dealt with: -iL is -i, and
 * -oG/-oX/-oN/-oS/-oA are refused with the option to use instead (getopt
 * would take them as -o with a file named G). After it, an option of
 * another subcommand is refused naming both, and an unknown one gets the
 * closest known name as a hint.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "parse.h"
#include "util.h"

#define HELP_COL 27 /* where the help text of an option starts */

static const struct {
	const char *name;
	unsigned bit;
	const char *what;
} cmds[] = {
	{ "tcp", CMD_TCP, "Probes TCP ports: open, closed or filtered." },
	{ "http", CMD_HTTP, "Fetches one HTTP/1.1 response per target "
			    "(http, https)." },
	{ "tls", CMD_TLS, "Does a TLS handshake and reports the "
			  "certificate." },
	{ "demo", CMD_DEMO, "Scans all 65535 ports of 127.0.0.1 with three "
			    "listeners of its own." },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static const char *const sect_title[SECT__COUNT] = {
	[SECT_OUT] = "results:",
	[SECT_NAMES] = "names (targets given by name):",
	[SECT_TCP] = "tcp probes:",
	[SECT_HTTP] = "http probes:",
	[SECT_TLS] = "TLS (tls, and https targets of http):",
};

/* nmap's options that mean something else here, or nothing. */
static const struct {
	const char *flag;
	const char *hint;
} nmap_flags[] = {
	{ "-oN", "-f text -o FILE" },
	{ "-oX", "-f xml -o FILE" },
	{ "-oG", "-f grep -o FILE" },
	{ "-oS", "-f text -o FILE" },
	{ "-oA", "one format per run: -f text, -f xml or -f grep, "
		 "and -o FILE" },
	{ "-Pn", "nothing: ringprobe never pings before it probes" },
	{ "-sT", "nothing: ringprobe tcp is a connect scan" },
	{ "-sS", "ringprobe tcp, which connects (no SYN scan, no root)" },
	{ "-sV", "ringprobe tcp --banner, or http / tls" },
};

unsigned opts_cmd(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (!strcmp(name, cmds[i].name))
			return cmds[i].bit;
	return 0;
}

static const char *cmd_name(unsigned bit)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (cmds[i].bit == bit)
			return cmds[i].name;
	return "?";
}

/* "tcp", "http and tls", "tcp, http and tls". */
static const char *cmd_list(unsigned bits, char *buf, size_t len)
{
	size_t n = 0, k = 0, total = 0;

	for (size_t i = 0; i < NCMDS; i++)
		total += (bits & cmds[i].bit) != 0;
	buf[0] = '\0';
	for (size_t i = 0; i < NCMDS && n < len; i++) {
		if (!(bits & cmds[i].bit))
			continue;
		k++;
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      k == 1 ? "" : k == total ? " and " : ", ",
				      cmds[i].name);
	}
	return buf;
}

static const struct opt *find_short(int ch)
{
	for (size_t i = 0; i < cli_nopts; i++)
		if (cli_opts[i].short_name && cli_opts[i].short_name == ch)
			return &cli_opts[i];
	return NULL;
}

/* The option "--s..." names: exactly, or as getopt_long does, as the
 * only one it is a prefix of. */
static const struct opt *find_long(const char *s)
{
	size_t n = strcspn(s, "=");
	const struct opt *hit = NULL;

	for (size_t i = 0; i < cli_nopts; i++) {
		const char *name = cli_opts[i].name;

		if (!name || strncmp(name, s, n))
			continue;
		if (!name[n])
			return &cli_opts[i];
		hit = hit ? &cli_opts[cli_nopts] : &cli_opts[i];
	}
	return hit == &cli_opts[cli_nopts] ? NULL : hit;
}

/* "--ports" or "-4", for messages. */
static const char *label(const struct opt *o, char *buf, size_t len)
{
	if (o->name)
		snprintf(buf, len, "--%s", o->name);
	else
		snprintf(buf, len, "-%c", o->short_name);
	return buf;
}

static int nmap_flag(const char *a)
{
	for (size_t i = 0; i < sizeof(nmap_flags) / sizeof(nmap_flags[0]); i++)
		if (!strcmp(a, nmap_flags[i].flag))
			return die_usage("%s is nmap's; here use %s", a,
					 nmap_flags[i].hint);
	return 0;
}

/*
 * nmap's spellings getopt would misread, at the places options stand
 * (not as the value of an option, not after "--"): -iL becomes -i, and
 * the ones in nmap_flags[] are refused.
 */
static int nmap_spellings(int argc, char **argv)
{
	static char dash_i[] = "-i";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct opt *o;

		if (!strcmp(a, "--"))
			break;
		if (a[0] != '-' || !a[1])
			continue;
		if (a[1] == '-') {
			o = find_long(a + 2);
			if (o && o->arg && !strchr(a, '='))
				i++; /* its value */
			continue;
		}
		if (!strcmp(a, "-iL")) {
			argv[i++] = dash_i;
			continue;
		}
		if (nmap_flag(a))
			return EXIT_USAGE;
		for (const char *p = a + 1; *p; p++) {
			o = find_short(*p);
			if (o && o->arg) {
				i += !p[1]; /* else the rest is its value */
				break;
			}
		}
	}
	return 0;
}

/* Optimal string alignment distance (edits and swaps), capped at 9. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[32][32];

	if (la > 30 || lb > 30)
		return 9;
	for (size_t i = 0; i <= la; i++)
		for (size_t j = 0; j <= lb; j++) {
			size_t v;

			if (!i || !j) {
				d[i][j] = i + j;
				continue;
			}
			v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* The long option of cmd closest to name, if it is close enough. */
static const struct opt *closest(const char *name, unsigned cmd)
{
	const struct opt *best = NULL;
	size_t bd = 3, len = strlen(name);

	for (size_t i = 0; i < cli_nopts; i++) {
		size_t dd;

		if (!cli_opts[i].name || !(cli_opts[i].cmds & cmd))
			continue;
		dd = distance(name, cli_opts[i].name);
		if (dd < bd && dd < len) {
			bd = dd;
			best = &cli_opts[i];
		}
	}
	return best;
}

static int unknown(const char *arg, int optopt_, unsigned cmd)
{
	char name[64], lb[40];
	const struct opt *o;

	if (optopt_)
		return die_usage("unknown option '-%c' for %s", optopt_,
				 cmd_name(cmd));
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
	o = closest(name + strspn(name, "-"), cmd);
	if (o)
		return die_usage("unknown option '%s' for %s; did you mean %s?",
				 name, cmd_name(cmd), label(o, lb, sizeof(lb)));
	return die_usage("unknown option '%s' for %s", name, cmd_name(cmd));
}

/* Applies option o with value arg for subcommand cmd. */
static int take(struct cli *c, unsigned cmd, const struct opt *o,
		const char *arg)
{
	char lb[40], list[40];
	int ret;

	if (!(o->cmds & cmd))
		return die_usage("%s is for %s, not for %s",
				 label(o, lb, sizeof(lb)),
				 cmd_list(o->cmds, list, sizeof(list)),
				 cmd_name(cmd));
	if (o->short_name == 'h') {
		opts_help(stdout, cmd);
		return OPTS_DONE;
	}
	if (o->short_name == 'V') {
		printf("ringprobe %s\n", rp_version());
		return OPTS_DONE;
	}
	ret = o->set(c, arg);
	if (ret == OPT_BAD)
		return die_usage("bad %s '%s': want %s",
				 label(o, lb, sizeof(lb)), arg,
				 o->want ? o->want : "a value");
	if (ret == PARSE_NO_UNIT)
		return die_usage("bad %s '%s': give a unit: %sms or %ss",
				 label(o, lb, sizeof(lb)), arg, arg, arg);
	return ret;
}

/* getopt_long()'s tables for cli_opts[]. */
static int build(struct option **lo, char **so)
{
	size_t nl = 0, ns = 1;

	*lo = calloc(cli_nopts + 1, sizeof(**lo));
	*so = calloc(3 * cli_nopts + 2, 1);
	if (!*lo || !*so)
		return -1;
	(*so)[0] = ':'; /* a missing value is ':', not '?' */
	for (size_t i = 0; i < cli_nopts; i++) {
		const struct opt *o = &cli_opts[i];

		if (o->name)
			(*lo)[nl++] = (struct option){
				o->name,
				o->arg ? required_argument : no_argument, NULL,
				256 + (int)i
			};
		if (o->short_name) {
			(*so)[ns++] = o->short_name;
			if (o->arg)
				(*so)[ns++] = ':';
		}
	}
	return 0;
}

int opts_parse(struct cli *c, unsigned cmd, int argc, char **argv)
{
	struct option *lo = NULL;
	char *so = NULL, lb[40];
	int ch, rc;

	usage_cmd = cmd_name(cmd);
	rc = nmap_spellings(argc, argv);
	if (rc)
		return rc;
	if (build(&lo, &so) < 0) {
		free(lo);
		free(so);
		return die_usage("out of memory");
	}
	opterr = 0;
	optind = 1;
	while (!rc && (ch = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		const struct opt *o = ch >= 256 ? &cli_opts[ch - 256]
						: find_short(ch);

		if (ch == '?') {
			rc = unknown(argv[optind - 1], optopt, cmd);
		} else if (ch == ':') {
			o = optopt >= 256 ? &cli_opts[optopt - 256]
					  : find_short(optopt);
			rc = die_usage("%s needs a value",
				       o ? label(o, lb, sizeof(lb)) : "option");
		} else {
			rc = take(c, cmd, o, optarg);
		}
	}
	free(lo);
	free(so);
	if (rc == EXIT_OK + 256)
		return OPTS_DONE;
	if (rc)
		return rc;
	if (c->eo.tls.min_version && c->eo.tls.max_version &&
	    c->eo.tls.min_version > c->eo.tls.max_version)
		return die_usage("--tls-min is above --tls-max");
	if (c->quiet) {
		c->progress = 0;
		c->summary = c->stats = false;
	}
	return 0;
}

/* ---- help -------------------------------------------------------------- */

static void help_opt(FILE *f, const struct opt *o)
{
	char left[64];
	int n;
	const char *h = o->help;

	if (o->name)
		n = snprintf(left, sizeof(left), "  %c%c%c --%s%s%s",
			     o->short_name ? '-' : ' ',
			     o->short_name ? o->short_name : ' ',
			     o->short_name ? ',' : ' ', o->name,
			     o->arg ? " " : "", o->arg ? o->arg : "");
	else
		n = snprintf(left, sizeof(left), "  -%c", o->short_name);
	fputs(left, f);
	if (n > HELP_COL - 2) {
		fputc('\n', f);
		n = 0;
	}
	for (;;) {
		size_t len = strcspn(h, "\n");

		fprintf(f, "%*s%.*s\n", HELP_COL - n, "", (int)len, h);
		if (!h[len])
			break;
		h += len + 1;
		n = 0;
	}
}

static const char exit_line[] =
	"Exit: 0 done, 1 runtime failure, 2 usage or input error, 3 done but\n"
	"some target lines were invalid, 130 interrupted.\n";

void opts_help(FILE *f, unsigned cmd)
{
	size_t k;

	for (k = 0; k < NCMDS && cmds[k].bit != cmd; k++)
		;
	fprintf(f, "usage: %s %s [options]%s\n\n%s\n", prog, cmds[k].name,
		cmd == CMD_DEMO ? "" : " [TARGET...]", cmds[k].what);
	if (cmd != CMD_DEMO)
		fprintf(f, "TARGET: IP, HOST, IP:PORT, HOST:PORT, [IPv6]:PORT, "
			   "CIDR, range (10.0.0.1-254, 10.0.0.1-10.0.1.5)%s.\n",
			cmd == CMD_HTTP ? ", or a URL http[s]://HOST[:PORT]/PATH"
					: "");
	for (int s = 0; s < SECT__COUNT; s++) {
		bool title = false;

		for (size_t i = 0; i < cli_nopts; i++) {
			const struct opt *o = &cli_opts[i];

			if (o->sect != (enum opt_sect)s || !(o->cmds & cmd))
				continue;
			if (!title)
				fprintf(f, "\n%s%s", sect_title[s] ? sect_title[s]
								   : "",
					sect_title[s] ? "\n" : "");
			title = true;
			help_opt(f, o);
		}
	}
	fprintf(f, "\n%s", exit_line);
}

void opts_overview(FILE *f)
{
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "%s %s %s [options]%s\n", i ? "      " : "usage:",
			prog, cmds[i].name,
			cmds[i].bit == CMD_DEMO ? "" : " [TARGET...]");
	fprintf(f,
		"\n"
		"Probes TCP ports (tcp), fetches one HTTP/1.1 response per target\n"
		"(http, https), or does a TLS handshake and reports the certificate\n"
		"(tls), with io_uring, printing one result per target as each probe\n"
		"completes. TARGET: IP, HOST, IP:PORT, HOST:PORT, [IPv6]:PORT, CIDR,\n"
		"a range (10.0.0.1-254, 10.0.0-3.*, 10.0.0.250-10.0.1.5, ::1-::5),\n"
		"or a URL http[s]://HOST[:PORT]/PATH. With no TARGET and no -i,\n"
		"targets are read from standard input when it is a pipe or a file.\n"
		"\n"
		"'%s COMMAND --help' lists the options of COMMAND.\n"
		"  -h, --help               this help\n"
		"  -V, --version            print the version\n"
		"\n%s"
		"SIGUSR1 or SIGQUIT prints the probes in flight and the counters.\n",
		prog, exit_line);
}
