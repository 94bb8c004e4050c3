/*
 * replay.c - runs a fuzz harness over files, without libFuzzer: every
 * regular file of each directory given (in name order), or each file
 * given. ctest runs it over the checked-in corpus, so a plain build (any
 * compiler, with or without sanitizers) replays every seed and every
 * regression input on each run. A failed check aborts; an empty or missing
 * corpus is an error too, since it would pass without testing anything.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *in;
	size_t len = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			uint8_t *nb;

			cap = cap ? 2 * cap : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				fclose(f);
				free(buf);
				return -1;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	/* Exactly the input's size, so ASan sees a read past its end. */
	in = realloc(buf, len ? len : 1);
	if (!in) {
		free(buf);
		return -1;
	}
	LLVMFuzzerTestOneInput(in, len);
	free(in);
	return 0;
}

static int only_files(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

int main(int argc, char **argv)
{
	unsigned long files = 0;

	for (int i = 1; i < argc; i++) {
		struct dirent **names;
		struct stat st;
		int n;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
				strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) < 0)
				return 1;
			files++;
			continue;
		}
		n = scandir(argv[i], &names, only_files, alphasort);
		if (n < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
				strerror(errno));
			return 1;
		}
		for (int k = 0; k < n; k++) {
			char path[4096];

			snprintf(path, sizeof(path), "%s/%s", argv[i],
				 names[k]->d_name);
			free(names[k]);
			if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			if (run_file(path) < 0)
				return 1;
			files++;
		}
		free(names);
	}
	if (!files) {
		fprintf(stderr, "replay: no input files\n");
		return 1;
	}
	printf("replay: %lu inputs, no finding\n", files);
	return 0;
}
