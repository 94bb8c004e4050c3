/*
 * first_ok.c - HTTP and HTTPS probes that stop after N successes: a
 * callback deciding when the whole run is over (asyncio's as_completed,
 * leaving the loop early and cancelling what is left).
 *
 *   first_ok N URL...
 *
 * Probes every URL (http:// or https://, an address or a name) at once
 * and prints each answer as it completes; after the N-th 2xx answer the
 * run stops: the probes still in flight end CANCELLED, each with its one
 * result, and no more are started.
 *
 *   200 http://127.0.0.1:8080/fixed "Fixed Page"
 *   cancelled http://127.0.0.1:8080/hang
 *   2 URLs: 1 ok, 1 other; stopped after 1
 *
 * Exit status: 0 when N answers were 2xx, 1 otherwise, 2 on bad arguments.
 *
 * Build: cc -o first_ok first_ok.c $(pkg-config --cflags --libs ringprobe)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>

#include <ringprobe.h>

struct run {
	struct rp_engine *e;
	unsigned long want;           /* N */
	unsigned long ok, other;
};

static void on_result(const struct rp_result *r, void *arg)
{
	struct run *run = arg;
	const struct rp_http_info *h = r->http;

	if (r->status == RP_STATUS_OK && h && h->status_code >= 200 &&
	    h->status_code < 300) {
		printf("%d %s \"%s\"\n", h->status_code, h->url, h->title);
		if (++run->ok == run->want)
			rp_engine_stop(run->e); /* allowed in the callback */
		return;
	}
	run->other++;
	if (h && h->status_code)
		printf("%d %s\n", h->status_code, h->url);
	else
		printf("%s %s%s%s\n", rp_status_name(r->status), r->input,
		       r->detail ? ": " : "", r->detail ? r->detail : "");
}

int main(int argc, char **argv)
{
	struct run run = { 0 };
	struct rp_engine_opts o = { .kind = RP_PROBE_HTTP, .concurrency = 64,
				    .on_result = on_result, .arg = &run };
	struct rp_source *src;
	char err[256], *end;
	int rc;

	if (argc < 3)
		goto usage;
	run.want = strtoul(argv[1], &end, 10);
	if (end == argv[1] || *end || run.want == 0)
		goto usage;
	/* the source turns URLs into targets; the engine pulls them */
	rc = rp_source_create(&src, NULL, err, sizeof(err));
	for (int i = 2; rc == 0 && i < argc; i++)
		rc = rp_source_add_arg(src, argv[i]);
	if (rc < 0) {
		fprintf(stderr, "first_ok: %s\n", err[0] ? err : rp_strerror(rc));
		rp_source_destroy(src);
		return 1;
	}
	rc = rp_engine_create_ex(&run.e, &o, sizeof(o), err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "first_ok: %s: %s\n", rp_strerror(rc), err);
		rp_source_destroy(src);
		return 1;
	}
	rp_engine_set_source(run.e, rp_source_next, src);
	rc = rp_engine_run_all(run.e);
	rp_engine_destroy(run.e);
	rp_source_destroy(src);
	if (rc < 0) {
		fprintf(stderr, "first_ok: %s\n", rp_strerror(rc));
		return 1;
	}
	printf("%lu URLs: %lu ok, %lu other; %s %lu\n", run.ok + run.other,
	       run.ok, run.other,
	       run.ok == run.want ? "stopped after" : "wanted", run.want);
	return run.ok == run.want ? 0 : 1;
usage:
	fprintf(stderr, "usage: first_ok N URL...\n");
	return 2;
}
