/*
 * uv_scan.c - libringprobe inside a libuv loop: the engine's fd becomes a
 * uv_poll_t, its next deadline a uv_timer_t. The whole loop contract of
 * ringprobe.h in libuv terms:
 *  - run one turn, rp_engine_run(e, 0), when the fd is readable or the
 *    timer fires;
 *  - after each turn, re-arm the timer for rp_engine_timeout(e) (-1: none);
 *  - rp_engine_run() returning 0 means everything has its result.
 *
 *   uv_scan PORTS TARGET...      (uv_scan 22,80,8000-8100 127.0.0.1)
 *
 * Build: cc -o uv_scan uv_scan.c \
 *          $(pkg-config --cflags --libs ringprobe libuv)
 */
#define _POSIX_C_SOURCE 200809L /* libuv needs pthread_rwlock_t */
#include <stdio.h>

#include <ringprobe.h>
#include <uv.h>

struct scan {
	struct rp_engine *e;
	uv_poll_t poll;
	uv_timer_t timer;
	unsigned long results, open;
	int rc;
};

static void on_result(const struct rp_result *r, void *arg)
{
	struct scan *s = arg;

	s->results++;
	if (r->status == RP_STATUS_OPEN) {
		s->open++;
		printf("%s open\n", r->input);
	}
}

static void on_timer(uv_timer_t *t);

/* One engine turn, then what the loop waits for next. */
static void turn(struct scan *s)
{
	int rc = rp_engine_run(s->e, 0), ms;

	if (rc <= 0) { /* done (0) or failed: leave the loop */
		s->rc = rc;
		uv_poll_stop(&s->poll);
		uv_timer_stop(&s->timer);
		return;
	}
	ms = rp_engine_timeout(s->e);
	if (ms >= 0)
		uv_timer_start(&s->timer, on_timer, (uint64_t)ms, 0);
	else
		uv_timer_stop(&s->timer);
}

static void on_timer(uv_timer_t *t)
{
	turn(t->data);
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	turn(p->data);
}

int main(int argc, char **argv)
{
	struct scan s = { .rc = 1 };
	struct rp_engine_opts o = { .concurrency = 256, .on_result = on_result,
				    .arg = &s };
	struct rp_source_opts so = { .ports = argc > 1 ? argv[1] : NULL };
	struct rp_source *src = NULL;
	uv_loop_t *loop = uv_default_loop();
	char err[256];
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: uv_scan PORTS TARGET...\n");
		return 2;
	}
	rc = rp_source_create(&src, &so, err, sizeof(err));
	for (int i = 2; rc == 0 && i < argc; i++)
		rc = rp_source_add_arg(src, argv[i]);
	if (rc == 0)
		rc = rp_engine_create_ex(&s.e, &o, sizeof(o), err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "uv_scan: %s: %s\n", rp_strerror(rc), err);
		rp_source_destroy(src);
		return 1;
	}
	rp_engine_set_source(s.e, rp_source_next, src);
	uv_poll_init(loop, &s.poll, rp_engine_fd(s.e));
	uv_timer_init(loop, &s.timer);
	s.poll.data = s.timer.data = &s;
	uv_poll_start(&s.poll, UV_READABLE, on_readable);
	turn(&s); /* the first turn pulls the first targets */
	uv_run(loop, UV_RUN_DEFAULT);

	uv_close((uv_handle_t *)&s.poll, NULL);
	uv_close((uv_handle_t *)&s.timer, NULL);
	uv_run(loop, UV_RUN_DEFAULT); /* lets the closes complete */
	uv_loop_close(loop);
	rp_engine_destroy(s.e);
	rp_source_destroy(src);
	if (s.rc < 0)
		fprintf(stderr, "uv_scan: %s\n", rp_strerror(s.rc));
	printf("%lu probes, %lu open\n", s.results, s.open);
	return s.rc == 0 ? 0 : 1;
}
