/*
 * main.c - the ringprobe command line: the subcommand, the demo, standard
 * input as the input, and main(). The options are read by opts.c with the
 * table in args.c; the scan itself (signals, the workers, progress and
 * summary) runs in scan.c, behind scan.h.
 *
 * The CLI uses only the public header: if it needs something from the
 * engine, that becomes API.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "opts.h"
#include "scan.h"
#include "util.h"

/*
 * `ringprobe demo`: the main job on a built-in default that needs no
 * network: opens three listeners on 127.0.0.1 and scans all 65535 ports of
 * 127.0.0.1, printing the open ones and a summary, and checks that the
 * three were found.
 */
static int listen_any(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static uint16_t demo_ports[3];
static _Atomic int demo_found;

static void demo_result(const struct rp_result *r)
{
	if (r->status == RP_STATUS_OPEN && r->addr) {
		uint16_t p = ntohs(((const struct sockaddr_in *)r->addr)->sin_port);

		for (int i = 0; i < 3; i++)
			if (p == demo_ports[i])
				demo_found++;
	}
}

static int demo(struct cli *c)
{
	int fds[3], rc;
	char *args[] = { "127.0.0.1" };

	for (int i = 0; i < 3; i++) {
		fds[i] = listen_any(&demo_ports[i]);
		if (fds[i] < 0) {
			fprintf(stderr, "%s: demo: cannot listen on 127.0.0.1: "
				"%s\n", prog, strerror(errno));
			return EXIT_RUNTIME;
		}
	}
	fprintf(stderr, "demo: listening on 127.0.0.1 ports %u %u %u; "
		"scanning 127.0.0.1:1-65535\n",
		demo_ports[0], demo_ports[1], demo_ports[2]);
	c->ports = "1-65535";
	c->only_open = true;
	if (!c->quiet)
		c->summary = true;
	c->observe = demo_result;
	rc = cli_scan(c, 1, args);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	if (rc == EXIT_OK && demo_found != 3) {
		fprintf(stderr, "demo: FAILED: found %d of the 3 listeners\n",
			(int)demo_found);
		return EXIT_RUNTIME;
	}
	if (rc == EXIT_OK)
		fprintf(stderr, "demo: found all 3 listeners\n");
	return rc;
}

/*
 * No TARGET and no -i: a pipe or a file on standard input is the input,
 * as httpx and naabu read it (not a terminal, nor /dev/null: a run
 * without targets is then the usage error it always was).
 */
static void stdin_as_input(struct cli *c)
{
	static const char dash[] = "-";
	struct stat st;

	if (fstat(STDIN_FILENO, &st) < 0 || isatty(STDIN_FILENO) ||
	    !(S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) ||
	      S_ISSOCK(st.st_mode)))
		return;
	c->inputs[c->ninputs++] = dash;
	if (!c->quiet)
		fprintf(stderr, "%s: no targets given: reading them from "
			"standard input\n", prog);
}

static int run(struct cli *c, unsigned cmd, int nargs, char **args)
{
	if (cmd == CMD_DEMO) {
		if (nargs || c->ninputs)
			return die_usage("demo scans 127.0.0.1 only: it takes "
					 "no targets ('%s')",
					 nargs ? args[0] : c->inputs[0]);
		cli_install_signals();
		return demo(c);
	}
	if (!nargs && !c->ninputs)
		stdin_as_input(c);
	cli_install_signals();
	return cli_scan(c, nargs, args);
}

int main(int argc, char **argv)
{
	struct cli c = { .progress = -1, .format = OUT_TEXT, .expiring = -1 };
	unsigned cmd;
	int rc;

	if (argc < 2) {
		opts_overview(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		opts_overview(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("ringprobe %s\n", rp_version());
		return EXIT_OK;
	}
	cmd = opts_cmd(argv[1]);
	if (!cmd)
		return die_usage("unknown command '%s': want tcp, http, tls or "
				 "demo", argv[1]);
	if (cmd == CMD_HTTP) {
		c.http = true;
		c.eo.kind = RP_PROBE_HTTP;
	} else if (cmd == CMD_TLS) {
		c.tls = true;
		c.eo.kind = RP_PROBE_TLS;
	}

	c.inputs = calloc((size_t)argc + 1, sizeof(*c.inputs));
	c.headers = calloc((size_t)argc, sizeof(*c.headers));
	if (!c.inputs || !c.headers)
		return EXIT_RUNTIME;
	rc = opts_parse(&c, cmd, argc - 1, argv + 1);
	if (rc == OPTS_DONE)
		rc = EXIT_OK;
	else if (rc == 0)
		rc = run(&c, cmd, argc - 1 - optind, argv + 1 + optind);
	free(c.inputs);
	free(c.headers);
	free(c.match_status);
	free(c.filter_status);
	free(c.ports_buf);
	return rc;
}
