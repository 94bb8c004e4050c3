/*
 * output.c - the CLI's result writer: picks the results a format shows,
 * formats each into one buffer (output_text.c, output_json.c,
 * output_xml.c) and writes the buffer in whole records.
 *
 * Formatting is a pure function (out_format_result) that counts what it
 * could not store, snprintf-style; out_result formats straight into the
 * free tail of the buffer and flushes and retries when the record did not
 * fit, so a record is never split across two flushes.
 */
#include "output_int.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

size_t out_format_result(char *buf, size_t cap, enum out_format f,
			 unsigned int flags, const struct rp_result *r,
			 int64_t time_ms)
{
	struct sink k = { .buf = buf, .cap = cap };
	struct rec x = { .r = r, .flags = flags, .time_ms = time_ms };

	x.family = addr_text(r->addr, r->addrlen, x.ip, &x.port);
	where_text(x.where, sizeof(x.where), x.ip, x.family, x.port);
	if (x.family)
		x.service = services_name(x.port);
	switch (f) {
	case OUT_JSONL:
		json_record(&k, &x);
		break;
	case OUT_CSV:
		csv_record(&k, &x);
		break;
	case OUT_XML:
		xml_record(&k, &x);
		break;
	case OUT_GREP:
		if (out_shown(f, flags, r))
			grep_record(&k, &x);
		break;
	default:
		text_record(&k, &x);
		break;
	}
	return sink_end(&k);
}

int out_format_parse(const char *s)
{
	static const char *const names[] = {
		[OUT_TEXT] = "text", [OUT_JSONL] = "jsonl", [OUT_CSV] = "csv",
		[OUT_GREP] = "grep", [OUT_XML] = "xml",
	};

	if (!s)
		return -1;
	if (!strcasecmp(s, "json"))
		return OUT_JSONL;
	for (int f = 0; f < (int)(sizeof(names) / sizeof(names[0])); f++)
		if (!strcasecmp(s, names[f]))
			return f;
	return -1;
}

bool out_shown(enum out_format f, unsigned int flags,
	       const struct rp_result *r)
{
	enum rp_status good = flags & (OUT_HTTP | OUT_TLS) ? RP_STATUS_OK
							   : RP_STATUS_OPEN;

	if (r->status == good)
		return true;
	if (flags & OUT_ONLY_OPEN)
		return false;
	switch (f) {
	case OUT_TEXT:
		return (flags & OUT_ALL) || r->status == RP_STATUS_INVALID ||
		       r->status == RP_STATUS_DNS_ERROR ||
		       r->status == RP_STATUS_ERROR;
	case OUT_GREP:
		return false;
	default:
		return true;
	}
}

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t out_now_ms(void)
{
	return real_ms();
}

int out_init(struct out *o, int fd, enum out_format f, unsigned int flags)
{
	memset(o, 0, sizeof(*o));
	o->fd = fd;
	if (f != OUT_TEXT && f != OUT_JSONL && f != OUT_CSV && f != OUT_GREP &&
	    f != OUT_XML)
		return -EINVAL;
	o->format = f;
	o->flags = flags;
	o->buf = malloc(OUT_BUF_SIZE);
	if (!o->buf)
		return -ENOMEM;
	o->cap = OUT_BUF_SIZE;
	o->clock_ms = real_ms;
	return 0;
}

void out_release(struct out *o)
{
	free(o->buf);
	o->buf = NULL;
	o->len = 0;
	o->cap = 0;
}

/* Marks the writer failed: from now on every call is a no-op. */
static int fail(struct out *o, int err)
{
	if (!o->err)
		o->err = err;
	o->len = 0;
	return o->err;
}

/*
 * out_exit() ends the process without cutting short a record that some
 * thread is writing: writers counts the threads inside write_all() (those
 * of every writer, whatever its fd), and once exiting is set no thread
 * starts another write. Both are lock-free, so usable from
 * a signal handler; seq_cst on both sides (add then load here, store then
 * load in out_exit()) means that either the writer sees exiting or
 * out_exit() sees the writer.
 */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "out_exit() runs in handlers");
static atomic_uint writers;
static atomic_int exiting;

/* Milliseconds on CLOCK_MONOTONIC (clock_gettime is async-signal-safe). */
static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void out_exit(int status)
{
	struct timespec ms = { 0, 1000000 };
	int64_t end = mono_ms() + OUT_EXIT_WAIT_MS;

	atomic_store(&exiting, 1);
	/* by the clock: a busy machine stretches each sleep */
	while (atomic_load(&writers) && mono_ms() < end)
		nanosleep(&ms, NULL);
	_exit(status);
}

/* Writes all of p, or fails the writer. */
static int write_locked(struct out *o, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(o->fd, p, len);

		if (n < 0) {
			struct pollfd pfd = { .fd = o->fd, .events = POLLOUT };

			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* stdout left non-blocking by whoever
				 * shares it: wait instead of losing data */
				if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
					return fail(o, -errno);
				continue;
			}
			return fail(o, -errno);
		}
		if (n == 0)
			return fail(o, -EIO);
		o->writes++;
		o->bytes += (size_t)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes whole records; other threads' records never land in between,
 * and out_exit() does not end the process in the middle. */
static int write_all(struct out *o, const char *p, size_t len)
{
	int ret;

	if (o->lock)
		pthread_mutex_lock(o->lock);
	atomic_fetch_add(&writers, 1);
	if (atomic_load(&exiting)) {
		/* out_exit() is ending the process: write nothing more */
		atomic_fetch_sub(&writers, 1);
		for (;;)
			pause();
	}
	ret = write_locked(o, p, len);
	if (!ret && o->written)
		o->written(o->written_arg);
	atomic_fetch_sub(&writers, 1);
	if (o->lock)
		pthread_mutex_unlock(o->lock);
	return ret;
}

int out_flush(struct out *o)
{
	int ret;

	if (o->err)
		return o->err;
	if (o->len == 0)
		return 0;
	ret = write_all(o, o->buf, o->len);
	o->len = 0;
	o->xml_end = 0; /* that <host> element is out: no more merging */
	return ret;
}

/* Appends text whose length n (without NUL) is known to be below cap. */
static void append(struct out *o, const char *s, size_t n)
{
	if (o->cap - o->len <= n && out_flush(o))
		return;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

void out_header(struct out *o)
{
	char hdr[4096];
	struct sink k = { .buf = hdr, .cap = sizeof(hdr) };

	if (o->err || !o->buf)
		return;
	if (o->format == OUT_CSV)
		csv_header(&k, o->flags);
	else if (o->format == OUT_XML && o->run)
		xml_prolog(&k, o->run);
	if (sink_end(&k) < sizeof(hdr))
		append(o, hdr, k.len); /* a few hundred bytes: it fits */
}

void out_footer(struct out *o, const uint64_t hidden[RP_STATUS__COUNT],
		uint64_t hosts, bool interrupted)
{
	char end[1024];
	struct sink k = { .buf = end, .cap = sizeof(end) };

	if (o->err || !o->buf)
		return;
	if (o->format == OUT_TEXT)
		k.len = out_not_shown(end, sizeof(end), hidden);
	else if (o->format == OUT_XML && o->run)
		xml_epilog(&k, o->run, o->clock_ms(), hosts, interrupted);
	if (sink_end(&k) < sizeof(end))
		append(o, end, k.len);
}

/* A record larger than the whole buffer: written on its own. */
static void write_large(struct out *o, const struct rp_result *r, size_t n,
			int64_t now)
{
	char *tmp;

	if (out_flush(o))
		return;
	tmp = malloc(n + 1);
	if (!tmp) {
		fail(o, -ENOMEM);
		return;
	}
	out_format_result(tmp, n + 1, o->format, o->flags, r, now);
	if (!write_all(o, tmp, n))
		o->records++;
	free(tmp);
}

/*
 * XML: a result of the address whose <host> element ends the buffer goes
 * into that element (its closing tags are taken off, the <port> and the
 * closing tags appended). Returns false when it cannot be merged.
 */
static bool xml_merge(struct out *o, const struct rp_result *r, int64_t now)
{
	size_t tail = strlen(xml_host_tail), n;
	struct rec x = { .r = r, .flags = o->flags, .time_ms = now };
	struct sink k;

	if (!o->xml_end || o->xml_end != o->len)
		return false;
	x.family = addr_text(r->addr, r->addrlen, x.ip, &x.port);
	if (!x.family || strcmp(x.ip, o->xml_ip))
		return false;
	x.service = services_name(x.port);
	k = (struct sink){ 0 }; /* counts only */
	xml_port(&k, &x);
	n = k.len + tail;
	if (n >= o->cap - o->len + tail)
		return false; /* no room: a new element after a flush */
	k = (struct sink){ .buf = o->buf + o->len - tail, .cap = n + 1 };
	xml_port(&k, &x);
	put_str(&k, xml_host_tail);
	o->len += n - tail;
	o->xml_end = o->len;
	o->records++;
	return true;
}

/* After a record went into the buffer at buf + start: XML remembers the
 * <host> element it ends with. */
static void xml_mark(struct out *o, const struct rp_result *r)
{
	unsigned int port;

	if (o->format != OUT_XML || !r->addr ||
	    !addr_text(r->addr, r->addrlen, o->xml_ip, &port)) {
		o->xml_end = 0;
		return;
	}
	o->hosts++;
	o->xml_end = o->len;
}

void out_result(struct out *o, const struct rp_result *r)
{
	size_t n;
	int64_t now;

	if (o->err || !o->buf)
		return;
	if (!out_shown(o->format, o->flags, r)) {
		o->skipped++;
		if (r->status < RP_STATUS__COUNT)
			o->hidden[r->status]++;
		return;
	}
	now = o->clock_ms();
	if (o->format == OUT_XML && xml_merge(o, r, now))
		return;
	n = out_format_result(o->buf + o->len, o->cap - o->len, o->format,
			      o->flags, r, now);
	if (n < o->cap - o->len) {
		o->len += n;
		o->records++;
		xml_mark(o, r);
		return;
	}
	/* did not fit: the partial text past o->len is simply not kept */
	if (n >= o->cap) {
		write_large(o, r, n, now);
	} else if (!out_flush(o)) {
		o->len = out_format_result(o->buf, o->cap, o->format,
					   o->flags, r, now);
		o->records++;
		xml_mark(o, r);
	}
}
