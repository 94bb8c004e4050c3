/*
 * race.c - asyncio's FIRST_COMPLETED with libringprobe: connect to every
 * candidate address of a service at once, take the first that answers and
 * cancel the rest (the heart of "happy eyeballs", RFC 8305, without its
 * staggered starts).
 *
 *   race PORT ADDRESS...
 *
 * Prints the winner and what became of the others, one line each:
 *
 *   winner 127.0.0.1:8080 after 61us
 *   127.0.0.2:8080 cancelled
 *   3 candidates, 1 winner, 2 cancelled
 *
 * Exit status: 0 with a winner, 1 without one (every candidate refused or
 * timed out), 2 on bad arguments.
 *
 * Build: cc -o race race.c $(pkg-config --cflags --libs ringprobe)
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringprobe.h>

#define MAX_CANDIDATES 64

struct race {
	struct rp_engine *e;
	unsigned n;
	int winner;                   /* its index, or -1 */
	unsigned cancelled;
	uint64_t id[MAX_CANDIDATES];  /* each probe's handle */
};

/*
 * Called once per candidate. The first OPEN wins and cancels the others
 * by their handles (O(1) each): rp_engine_cancel_id() is allowed from
 * inside the callback, and each cancelled probe still gets its one result
 * (CANCELLED), so the engine's count of results is the count of
 * candidates whatever happens.
 */
static void on_result(const struct rp_result *r, void *arg)
{
	struct race *ra = arg;

	if (r->status == RP_STATUS_OPEN && ra->winner < 0) {
		ra->winner = (int)r->index;
		printf("winner %s after %uus\n", r->input, r->rtt_us);
		for (unsigned i = 0; i < ra->n; i++)
			if (i != r->index)
				/* -ENOENT if that one is done already */
				rp_engine_cancel_id(ra->e, ra->id[i]);
		return;
	}
	if (r->status == RP_STATUS_CANCELLED)
		ra->cancelled++;
	printf("%s %s\n", r->input, rp_status_name(r->status));
}

/* "ADDRESS" and PORT into t; 0, or -1 if ADDRESS is not an address. */
static int make_target(struct rp_target *t, const char *addr, unsigned port)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&t->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&t->addr;

	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		t->addrlen = sizeof(*in);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		t->addrlen = sizeof(*in6);
	} else {
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct race ra = { .winner = -1 };
	struct rp_engine_opts o = { .concurrency = MAX_CANDIDATES,
				    .on_result = on_result, .arg = &ra };
	char input[MAX_CANDIDATES][64];
	unsigned long port;
	char *end;
	int rc;

	if (argc < 3 || argc - 2 > MAX_CANDIDATES)
		goto usage;
	port = strtoul(argv[1], &end, 10);
	if (end == argv[1] || *end || port == 0 || port > 65535)
		goto usage;
	rc = rp_engine_create(&ra.e, &o);
	if (rc < 0) {
		fprintf(stderr, "race: rp_engine_create: %s\n", rp_strerror(rc));
		return 1;
	}
	for (int i = 2; i < argc; i++) {
		struct rp_target t = { .index = ra.n, .input = input[ra.n] };

		if (make_target(&t, argv[i], (unsigned)port) < 0) {
			fprintf(stderr, "race: bad address '%s'\n", argv[i]);
			rp_engine_destroy(ra.e);
			return 2;
		}
		snprintf(input[ra.n], sizeof(input[0]),
			 strchr(argv[i], ':') ? "[%s]:%lu" : "%s:%lu", argv[i],
			 port);
		/* every slot is free: no -EAGAIN with concurrency >= n */
		rc = rp_engine_submit_id(ra.e, &t, sizeof(t), &ra.id[ra.n]);
		if (rc < 0) {
			fprintf(stderr, "race: %s: %s\n", argv[i],
				rp_strerror(rc));
			rp_engine_destroy(ra.e);
			return 1;
		}
		ra.n++;
	}
	rc = rp_engine_run_all(ra.e); /* until every candidate has its result */
	rp_engine_destroy(ra.e);
	if (rc < 0) {
		fprintf(stderr, "race: %s\n", rp_strerror(rc));
		return 1;
	}
	printf("%u candidates, %u winner, %u cancelled\n", ra.n,
	       ra.winner >= 0 ? 1u : 0u, ra.cancelled);
	return ra.winner >= 0 ? 0 : 1;
usage:
	fprintf(stderr, "usage: race PORT ADDRESS... (at most %d)\n",
		MAX_CANDIDATES);
	return 2;
}
