#!/usr/bin/env bash
# test_symbols.sh - libringprobe exports the public rp_ API and nothing
# else, static archive and shared library alike: no llhttp_* (which would
# collide with a program's own llhttp), no internal rp__*, no helper
# symbols. Then a program that defines its own llhttp_init and
# llhttp_execute links against libringprobe.a and runs.
#
# Environment: RP_LIBDIR = the directory holding libringprobe.a and
# libringprobe.so; RP_SANITIZE as the build was configured (the archive
# then needs the sanitizer runtimes). Prints one PASS/FAIL/SKIP line per
# check; exits 1 if any check failed, 77 if the tools are missing.
set -u

: "${RP_LIBDIR:?RP_LIBDIR must point at the directory of libringprobe.a}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools nm cc timeout
INC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../engine/include" && pwd)
A=$RP_LIBDIR/libringprobe.a
SO=$RP_LIBDIR/libringprobe.so
for f in "$A" "$SO"; do
	if [ ! -f "$f" ]; then
		echo "FAIL: $f is missing"
		exit 1
	fi
done
TMP=$(mktemp -d /tmp/rp_test_symbols.XXXXXX)

# check_exports NAME FILE: every line of FILE ("TYPE NAME") is a public
# rp_ symbol; prints the others (at most 20) and fails if there are any.
check_exports() {
	local name=$1 file=$2 bad n
	n=$(wc -l <"$file")
	bad=$(awk '$2 !~ /^rp_/ || $2 ~ /^rp__/' "$file")
	if [ "$n" -eq 0 ]; then
		fail "$name: no defined global symbols at all"
	elif [ -n "$bad" ]; then
		fail "$name: $(echo "$bad" | wc -l) of $n exported symbols are not rp_ API:"
		echo "$bad" | head -n 20 | sed 's/^/    /'
	else
		pass "$name: all $n exported symbols are rp_ API"
	fi
}

# Archive: "file.o:" headers and blank lines aside, "VALUE TYPE NAME".
nm -g --defined-only "$A" 2>"$TMP/nm.err" |
	awk 'NF == 3 { print $2, $3 }' | sort -u -k2 >"$TMP/a.syms"
check_exports "libringprobe.a" "$TMP/a.syms"

# Shared library: its dynamic symbols, less the version node (RINGPROBE_0,
# type A) that the version script defines.
nm -D --defined-only "$SO" 2>>"$TMP/nm.err" |
	awk 'NF == 3 && !($2 == "A" && $3 ~ /^RINGPROBE_/) { print $2, $3 }' |
	sed 's/@.*//' | sort -u -k2 >"$TMP/so.syms"
check_exports "libringprobe.so" "$TMP/so.syms"

# Both export the same API.
awk '{ print $2 }' "$TMP/a.syms" >"$TMP/a.names"
awk '{ print $2 }' "$TMP/so.syms" >"$TMP/so.names"
if cmp -s "$TMP/a.names" "$TMP/so.names"; then
	pass "static and shared export the same $(wc -l <"$TMP/a.names") names"
else
	fail "static and shared export different names (< static, > shared):"
	diff "$TMP/a.names" "$TMP/so.names" | grep '^[<>]' | head -n 20 |
		sed 's/^/    /'
fi

# A program with its own llhttp. rp_engine_create pulls in the engine and
# with it the HTTP parser, so an llhttp_init exported by the archive would
# be a second definition.
cat >"$TMP/own_llhttp.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <ringprobe.h>

int llhttp_init(void *parser, int type, const void *settings);
int llhttp_execute(void *parser, const char *data, size_t len);

int llhttp_init(void *parser, int type, const void *settings)
{
	(void)parser;
	(void)settings;
	return 4000 + type;
}

int llhttp_execute(void *parser, const char *data, size_t len)
{
	(void)parser;
	(void)data;
	return 5000 + (int)len;
}

int main(void)
{
	int (*volatile create)(struct rp_engine **,
			       const struct rp_engine_opts *) = rp_engine_create;
	const char *v = rp_version();

	if (llhttp_init(NULL, 1, NULL) != 4001 ||
	    llhttp_execute(NULL, "ab", 2) != 5002) {
		fprintf(stderr, "own llhttp not called\n");
		return 1;
	}
	if (!create || !v || !*v || rp_engine_destroy(NULL) != 0) {
		fprintf(stderr, "libringprobe not usable\n");
		return 1;
	}
	printf("%s\n", v);
	return 0;
}
EOF
SAN=()
[ -n "${RP_SANITIZE:-}" ] && SAN=(-fsanitize="$RP_SANITIZE")
if ! timeout -k 2 60 cc -std=c11 -Wall -Werror "${SAN[@]}" -I"$INC" \
	-o "$TMP/own_llhttp" "$TMP/own_llhttp.c" "$A" -luring -lcares -lssl -lcrypto -lpthread \
	>"$TMP/cc.out" 2>&1; then
	fail "a program with its own llhttp_init does not link with libringprobe.a:"
	head -n 20 "$TMP/cc.out" | sed 's/^/    /'
elif ! timeout -k 2 20 "$TMP/own_llhttp" >"$TMP/run.out" 2>&1; then
	fail "the program with its own llhttp links but fails:" \
		"$(head -c 300 "$TMP/run.out")"
else
	pass "a program with its own llhttp links and runs (rp_version $(head -n 1 "$TMP/run.out"))"
fi

[ "$FAILS" -eq 0 ] || exit 1
exit 0
