/*
 * resume_state.c - the state file of --resume: its text (see resume.c),
 * read and compared with the run that wants to continue it, and written
 * atomically (a new file, fsync'ed, renamed over the old one, and the
 * directory fsync'ed), so the file is always one whole state.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resume.h"
#include "util.h"

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL,
			      b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0 || b->oom)
			return;
		if (b->s && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = 2 * (b->cap + (size_t)n + 64);
		char *p = realloc(b->s, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
}

/* key or value with \, TAB and LF escaped. */
static void sb_escaped(struct sbuf *b, const char *s)
{
	for (; *s; s++)
		if (*s == '\\' || *s == '\t' || *s == '\n')
			sb_printf(b, "\\%c", *s == '\t' ? 't' : *s == '\n' ? 'n'
									 : '\\');
		else
			sb_printf(b, "%c", *s);
}

static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*d++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/* Writes text to path through path.tmp: write, fsync, rename, and fsync
 * the directory. Returns 0 or -errno. */
int state_write(const char *path, const char *text, size_t len)
{
	char tmp[4096], dir[4096];
	int fd, ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, text, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		text += n;
		len -= (size_t)n;
	}
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

/* The fingerprint part of the state: magic, opt lines and the seed. */
char *state_head(const struct fp *f, const struct resume_order *ord)
{
	struct sbuf b = { 0 };

	sb_printf(&b, STATE_MAGIC "\n");
	for (size_t i = 0; i < f->n; i++) {
		sb_printf(&b, "opt ");
		sb_escaped(&b, f->v[i].key);
		sb_printf(&b, "\t");
		sb_escaped(&b, f->v[i].val);
		sb_printf(&b, "\n");
	}
	sb_printf(&b, "seed %" PRIu64 "\n", ord->seed);
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/* Parses "A-B,C,..." into r->done (in order). */
static int parse_ranges(struct resume *r, const char *s, size_t *cap)
{
	while (*s) {
		struct range x;
		char *e;

		if (*s < '0' || *s > '9')
			return -1;
		x.lo = x.hi = strtoull(s, &e, 10);
		if (*e == '-') {
			x.hi = strtoull(e + 1, &e, 10);
			if (x.hi < x.lo)
				return -1;
		}
		if ((*e && *e != ',') || x.lo < r->next ||
		    (r->ndone && x.lo <= r->done[r->ndone - 1].hi))
			return -1;
		if (r->ndone == *cap) {
			size_t c = *cap ? 2 * *cap : 256;
			struct range *p = realloc(r->done, c * sizeof(*p));

			if (!p)
				return -1;
			r->done = p;
			*cap = c;
		}
		r->done[r->ndone++] = x;
		s = *e ? e + 1 : e;
	}
	return 0;
}

/* Parses "A,B,..." into r->kept. */
static int parse_list(struct resume *r, const char *s, size_t *cap)
{
	while (*s) {
		char *e;

		if (*s < '0' || *s > '9')
			return -1;
		if (r->nkept == *cap) {
			size_t c = *cap ? 2 * *cap : 256;
			uint64_t *p = realloc(r->kept, c * sizeof(*p));

			if (!p)
				return -1;
			r->kept = p;
			*cap = c;
		}
		r->kept[r->nkept++] = strtoull(s, &e, 10);
		if (*e && *e != ',')
			return -1;
		s = *e ? e + 1 : e;
	}
	return 0;
}

/* Compares the state's "opt" line (key TAB value, escaped) with the
 * fingerprint; marks the entry found in seen[]. Returns 0 if equal. */
static int compare_opt(const struct resume *r, char *kv, const struct fp *f,
		       bool *seen, int *diffs)
{
	char *tab = strchr(kv, '\t');
	const char *now = NULL;

	if (!tab)
		return -1;
	*tab = '\0';
	unescape(kv);
	unescape(tab + 1);
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].key, kv)) {
			seen[i] = true;
			now = f->v[i].val;
			break;
		}
	if (now && !strcmp(now, tab + 1))
		return 0;
	if (!(*diffs)++)
		fprintf(stderr, "%s: cannot resume from '%s': this run differs "
			"from the one it was kept for:\n", prog, r->path);
	fprintf(stderr, "  %s: was '%s', now %s%s%s\n", kv, tab + 1,
		now ? "'" : "", now ? now : "not given", now ? "'" : "");
	return 0;
}

/* Reads the state file's lines into r, comparing its fingerprint with f
 * and taking its seed into ord. Returns EXIT_OK or an exit code. */
static int parse_state(struct resume *r, FILE *in, const struct fp *f,
		       struct resume_order *ord)
{
	bool *seen = calloc(f->n + 1, sizeof(*seen)), end = false;
	size_t cap = 0, kcap = 0, n = 0, lineno = 0;
	char *line = NULL;
	int diffs = 0, bad = 0;
	ssize_t len;

	if (!seen)
		return EXIT_RUNTIME;
	while (!bad && !end && (len = getline(&line, &n, in)) > 0) {
		char *v = strchr(line, ' ');

		lineno++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (lineno == 1) {
			bad = strcmp(line, STATE_MAGIC) != 0;
			if (bad && !strncmp(line, STATE_MAGIC,
					    sizeof(STATE_MAGIC) - 2)) {
				fprintf(stderr, "%s: cannot resume: '%s' was "
					"written by another version of "
					"ringprobe (%s; this one writes "
					"%s), whose order of targets "
					"differs: finish the run with that "
					"version, or remove the file to start "
					"again\n", prog, r->path, line,
					STATE_MAGIC);
				free(seen);
				free(line);
				return EXIT_USAGE;
			}
			continue;
		}
		if (!v) {
			end = !strcmp(line, "end");
			bad = !end;
			continue;
		}
		*v++ = '\0';
		if (!strcmp(line, "opt"))
			bad = compare_opt(r, v, f, seen, &diffs);
		else if (!strcmp(line, "seed"))
			ord->seed = strtoull(v, NULL, 10);
		else if (!strcmp(line, "output-bytes"))
			r->out_bytes = strtoull(v, NULL, 10);
		else if (!strcmp(line, "next"))
			r->next = strtoull(v, NULL, 10);
		else if (!strcmp(line, "done"))
			bad = parse_ranges(r, v, &cap);
		else if (!strcmp(line, "skip-index"))
			bad = parse_list(r, v, &kcap);
		else if (!strcmp(line, "complete"))
			r->complete = !strcmp(v, "1");
		else
			bad = 1;
	}
	free(line);
	for (size_t i = 0; !bad && i < f->n; i++)
		if (!seen[i]) {
			if (!diffs++)
				fprintf(stderr, "%s: cannot resume from '%s': "
					"this run differs from the one it was "
					"kept for:\n", prog, r->path);
			fprintf(stderr, "  %s: was not given, now '%s'\n",
				f->v[i].key, f->v[i].val);
		}
	free(seen);
	if (bad || !end) {
		fprintf(stderr, "%s: cannot resume: '%s' is not a whole "
			"ringprobe state (line %zu)\n", prog, r->path, lineno);
		return EXIT_USAGE;
	}
	return diffs ? EXIT_USAGE : EXIT_OK;
}

/* Loads the state file if there is one. Returns EXIT_OK (r->appending
 * tells whether there was one) or an exit code after a message. */
int state_load(struct resume *r, const struct fp *f, struct resume_order *ord)
{
	uint64_t seed = ord->seed;
	FILE *in = fopen(r->path, "re");
	int rc;

	if (!in) {
		if (errno == ENOENT)
			return EXIT_OK;
		fprintf(stderr, "%s: cannot read '%s': %s\n", prog, r->path,
			strerror(errno));
		return EXIT_USAGE;
	}
	rc = parse_state(r, in, f, ord);
	fclose(in);
	if (rc == EXIT_OK && ord->explicit_seed && ord->seed != seed) {
		fprintf(stderr, "%s: cannot resume from '%s': this run differs "
			"from the one it was kept for:\n  --seed: was '%" PRIu64
			"', now '%" PRIu64 "'\n", prog, r->path, ord->seed, seed);
		rc = EXIT_USAGE;
	}
	r->appending = rc == EXIT_OK;
	return rc;
}

