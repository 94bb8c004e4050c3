/*
 * services.c - port numbers to service names, from a services(5) file
 * (Debian's netbase ships /etc/services): tcp entries only, the first name
 * given for a port. Read once; a table of offsets into one block of names.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

#define NPORTS 65536

static char *names;        /* "name\0name\0..." */
static uint32_t *name_off; /* NPORTS entries: offset + 1, 0 for none */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *load_path;

/* "ssh 22/tcp # comment" -> name and port; false for other lines. */
static bool parse_line(char *line, char **name, unsigned long *port)
{
	char *save = NULL, *proto, *num, *end;

	line[strcspn(line, "#\n")] = '\0';
	*name = strtok_r(line, " \t", &save);
	num = strtok_r(NULL, " \t", &save);
	if (!*name || !num)
		return false;
	proto = strchr(num, '/');
	if (!proto || strcmp(proto + 1, "tcp"))
		return false;
	*proto = '\0';
	*port = strtoul(num, &end, 10);
	return *end == '\0' && end != num && *port > 0 && *port < NPORTS;
}

static void load(void)
{
	FILE *f = fopen(load_path ? load_path : "/etc/services", "re");
	size_t len = 0, cap = 0;
	char line[512];

	if (!f)
		return;
	name_off = calloc(NPORTS, sizeof(*name_off));
	while (name_off && fgets(line, sizeof(line), f)) {
		unsigned long port;
		char *name, *grown;
		size_t n;

		if (!parse_line(line, &name, &port) || name_off[port])
			continue;
		n = strlen(name) + 1;
		if (len + n > cap) {
			cap = cap ? cap * 2 : 16384;
			grown = realloc(names, cap);
			if (!grown)
				break;
			names = grown;
		}
		memcpy(names + len, name, n);
		name_off[port] = (uint32_t)len + 1;
		len += n;
	}
	fclose(f);
	if (!names) {
		free(name_off);
		name_off = NULL;
	}
}

void services_load(const char *path)
{
	load_path = path;
	pthread_once(&once, load);
}

const char *services_name(unsigned int port)
{
	if (!name_off || port >= NPORTS || !name_off[port])
		return NULL;
	return names + name_off[port] - 1;
}
