/*
 * resume_tail.c - reading what a stopped run wrote to -o after its last
 * state write, for --resume.
 *
 * A run's state says how long -o was when it was written; every record
 * after that point was written later, so its target is not in the state
 * as done, yet must not be probed again. This reads the records from
 * that offset on and collects their `index` fields. A kill -9 may have
 * cut the last record short (README, "Results"): it is cut off the file,
 * so the records the resumed run appends start on a line of their own,
 * and its target is probed again.
 *
 * Records are found as the writers make them: a JSON object per line, or
 * a CSV row, where a quoted field may hold a line break; the index is
 * found by its key (JSON) or by its column in the header row (CSV), not
 * by position, so fields added later do not break this.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resume.h"
#include "util.h"

#define REC_MAX (1u << 20) /* longer than any record: the file is not ours */

struct reader {
	int fd;
	char buf[64 * 1024];
	size_t len, pos;
	uint64_t off;             /* file offset of buf[pos] */
	char *rec;                /* the record being read */
	size_t reclen, reccap;
};

/* Skips a JSON string at *p (at its quote); false if unterminated. */
static bool json_skip_str(const char **p, const char *end)
{
	const char *s = *p + 1;

	while (s < end && *s != '"')
		s += *s == '\\' ? 2 : 1;
	if (s >= end)
		return false;
	*p = s + 1;
	return true;
}

/* Skips one JSON value (string, number, literal, array, object): stops
 * at the ',' or '}' after it. */
static bool json_skip_value(const char **p, const char *end)
{
	int depth = 0;

	while (*p < end) {
		char c = **p;

		if (c == '"') {
			if (!json_skip_str(p, end))
				return false;
			continue;
		}
		if ((c == ',' || c == '}' || c == ']') && depth == 0)
			return c != ']';
		if (c == '[' || c == '{')
			depth++;
		else if (c == ']' || c == '}')
			depth--;
		(*p)++;
	}
	return false;
}

/* The "index" member of a JSON record, or -1. */
static int json_index(const char *s, size_t n, uint64_t *out)
{
	const char *p = s, *end = s + n;

	if (p >= end || *p++ != '{')
		return -1;
	while (p < end && *p == '"') {
		const char *key = p + 1;

		if (!json_skip_str(&p, end) || p >= end || *p != ':')
			return -1;
		if (p - key == 6 && !memcmp(key, "index\"", 6)) {
			char *e;

			errno = 0;
			*out = strtoull(p + 1, &e, 10);
			return p[1] >= '0' && p[1] <= '9' && !errno &&
					       (*e == ',' || *e == '}')
				       ? 0
				       : -1;
		}
		p++;
		if (!json_skip_value(&p, end) || p >= end || *p != ',')
			return -1;
		p++;
	}
	return -1;
}

/* Field k (0-based) of a CSV row, unquoted, into buf; -1 if none. */
static int csv_field_at(const char *s, size_t n, int k, char *buf, size_t cap)
{
	const char *p = s, *end = s + n;
	size_t len = 0;

	for (int i = 0;; i++) {
		bool q = p < end && *p == '"';

		len = 0;
		p += q;
		while (p < end) {
			if (q && *p == '"') {
				if (p + 1 < end && p[1] == '"') {
					p++;
				} else {
					q = false;
					p++;
					continue;
				}
			} else if (!q && (*p == ',' || *p == '\n' || *p == '\r')) {
				break;
			}
			if (i == k && len + 1 < cap)
				buf[len++] = *p;
			p++;
		}
		if (i == k) {
			buf[len] = '\0';
			return 0;
		}
		if (p >= end || *p != ',')
			return -1;
		p++;
	}
}

/* The column of "index" in a CSV header row, or -1. */
static int csv_index_column(const char *s, size_t n)
{
	char name[64];

	for (int k = 0; k < 256; k++) {
		if (csv_field_at(s, n, k, name, sizeof(name)) < 0)
			return -1;
		if (!strcmp(name, "index"))
			return k;
	}
	return -1;
}

/* Reads the next whole record into r->rec. Returns 1, 0 at the end (a
 * torn record is left in r->rec, r->reclen > 0), or -errno. */
static int next_record(struct reader *r, bool csv)
{
	bool quoted = false;

	r->reclen = 0;
	for (;;) {
		if (r->pos == r->len) {
			ssize_t n = pread(r->fd, r->buf, sizeof(r->buf),
					  (off_t)r->off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				return 0;
			r->len = (size_t)n;
			r->pos = 0;
		}
		char c = r->buf[r->pos++];

		r->off++;
		if (r->reclen + 1 >= r->reccap) {
			size_t cap = r->reccap ? 2 * r->reccap : 4096;
			char *p = cap <= REC_MAX ? realloc(r->rec, cap) : NULL;

			if (!p)
				return -EFBIG;
			r->rec = p;
			r->reccap = cap;
		}
		r->rec[r->reclen++] = c;
		if (csv && c == '"')
			quoted = !quoted;
		if (c == '\n' && !quoted)
			return 1;
	}
}

/* The index of the record in r->rec (col: its CSV column, or -1 for
 * JSON). Returns 0 or -1. */
static int record_index(const struct reader *r, int col, uint64_t *index)
{
	char cell[32], *e;

	if (col < 0)
		return json_index(r->rec, r->reclen, index);
	if (csv_field_at(r->rec, r->reclen, col, cell, sizeof(cell)) < 0 ||
	    cell[0] < '0' || cell[0] > '9')
		return -1;
	errno = 0;
	*index = strtoull(cell, &e, 10);
	return errno || *e ? -1 : 0;
}

static int push(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 1024;
		uint64_t *p = realloc(*v, c * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = x;
	return 0;
}

int tail_read(int fd, const char *path, bool csv, uint64_t from,
	      uint64_t **idx, size_t *nidx)
{
	static struct reader r; /* 64 KiB: not on a thread's stack */
	size_t cap = 0;
	uint64_t end = 0;
	int col = -1, ret;

	memset(&r, 0, sizeof(r));
	r.fd = fd;
	*idx = NULL;
	*nidx = 0;
	if (csv) { /* the header row says where the index is */
		if (next_record(&r, true) == 1)
			col = csv_index_column(r.rec, r.reclen);
		if (col < 0) {
			ret = -EINVAL;
			goto bad;
		}
		if (from < r.off)
			from = r.off;
	}
	r.off = end = from;
	r.len = r.pos = 0;
	while ((ret = next_record(&r, csv)) == 1) {
		uint64_t index;

		if (record_index(&r, col, &index) < 0) {
			ret = -EINVAL;
			goto bad;
		}
		if (push(idx, nidx, &cap, index) < 0) {
			ret = -ENOMEM;
			goto bad;
		}
		end = r.off;
	}
	if (ret < 0)
		goto bad;
	if (r.reclen && ftruncate(fd, (off_t)end) < 0) {
		ret = -errno;
		goto bad;
	}
	free(r.rec);
	return EXIT_OK;
bad:
	free(r.rec);
	free(*idx);
	*idx = NULL;
	*nidx = 0;
	if (ret == -EINVAL || ret == -EFBIG)
		fprintf(stderr, "%s: cannot resume: '%s' holds something that "
			"is not a ringprobe %s record at byte %" PRIu64 "\n",
			prog, path, csv ? "CSV" : "JSON Lines",
			r.off - r.reclen);
	else
		fprintf(stderr, "%s: cannot resume: reading '%s': %s\n", prog,
			path, strerror(-ret));
	return EXIT_USAGE;
}
