#!/usr/bin/env bash
# test_man.sh - the man pages render without warnings and document what
# the program and the header offer: ringprobe(1) every subcommand, option
# (from each --help), status, output field (the CSV header rows), exit
# code and signal; libringprobe(3) every function, type, field and
# constant of ringprobe.h, and its example program compiles.
#
# Environment: RINGPROBE = the CLI. Prints PASS/FAIL/SKIP lines; exits 1
# if a check failed, 77 if groff is missing.
set -u

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools groff python3 cc timeout
need_exec "$RINGPROBE"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MAN1=$SRC/docs/man/ringprobe.1
MAN3=$SRC/docs/man/libringprobe.3
CHECK=$SRC/tests/helpers/man_check.py
for page in "$MAN1" "$MAN3"; do
	if [ ! -f "$page" ]; then
		echo "FAIL: $page is missing"
		exit 1
	fi
done
TMP=$(mktemp -d /tmp/rp_test_man.XXXXXX)

# -- 1. both render, with every groff warning on, and none comes --
for page in "$MAN1" "$MAN3"; do
	name=$(basename "$page")
	if ! groff -man -Tutf8 -ww -z "$page" >"$TMP/groff.err" 2>&1; then
		fail "groff cannot render $name: $(head -c 300 "$TMP/groff.err")"
	elif [ -s "$TMP/groff.err" ]; then
		fail "groff warns on $name:"
		head -n 20 "$TMP/groff.err" | sed 's/^/    /'
	else
		pass "groff -man -ww renders $name without warnings"
	fi
	if ! command -v man >/dev/null; then
		skip "man (man-db) is missing: man -l not tried on $name"
		continue
	fi
	MANWIDTH=80 timeout -k 2 30 man --warnings=w -E UTF-8 -l "$page" \
		>"$TMP/man.out" 2>"$TMP/man.err"
	rc=$?
	if [ $rc -ne 0 ] || [ -s "$TMP/man.err" ] ||
		! grep -q NAME "$TMP/man.out"; then
		fail "man -l $name: exit $rc: $(head -c 300 "$TMP/man.err")"
	else
		pass "man -l renders $name without warnings ($(wc -l <"$TMP/man.out") lines)"
	fi
done

# -- 2. ringprobe(1) documents the program as it is --
# Each subcommand's --help (the usage lists them), and the CSV header row
# of each record shape (tcp, tcp --banner, http), made from an invalid
# target so that no probe is sent.
timeout -k 2 10 "$RINGPROBE" --help >"$TMP/help.txt" 2>&1
subs=$(sed -n 's/.*ringprobe \([a-z]*\) \[options\].*/\1/p' "$TMP/help.txt")
if [ "$(echo "$subs" | wc -w)" -lt 3 ]; then
	fail "the usage names fewer than 3 subcommands: '$subs'"
fi
for s in $subs; do
	timeout -k 2 10 "$RINGPROBE" "$s" --help >>"$TMP/help.txt" 2>&1
done
for args in "tcp" "tcp --banner" "http"; do
	# shellcheck disable=SC2086 # args are words on purpose
	timeout -k 2 10 "$RINGPROBE" $args -q -f csv 'not!a!target' 2>/dev/null |
		head -n 1 >>"$TMP/csv.txt"
done
if [ "$(grep -c '^input,' "$TMP/csv.txt")" -ne 3 ]; then
	fail "no CSV header rows from the CLI: $(head -c 300 "$TMP/csv.txt")"
fi
python3 "$CHECK" cli "$MAN1" "$TMP/help.txt" "$TMP/csv.txt" \
	"$SRC/engine/include/ringprobe.h" >"$TMP/cli.chk" 2>&1
grep -E '^(PASS|FAIL)' "$TMP/cli.chk"
FAILS=$((FAILS + $(grep -c '^FAIL' "$TMP/cli.chk")))
grep -q '^PASS' "$TMP/cli.chk" || fail "man_check.py cli: $(head -c 300 "$TMP/cli.chk")"

# -- 3. libringprobe(3) documents the header as it is --
groff -man -Tascii -rLL=4000n -P-cbou "$MAN3" >"$TMP/lib.txt" 2>/dev/null
python3 "$CHECK" lib "$MAN3" "$TMP/lib.txt" "$SRC/engine/include/ringprobe.h" \
	"$SRC/engine/include/ringprobe/version.h" >"$TMP/lib.chk" 2>&1
grep -E '^(PASS|FAIL)' "$TMP/lib.chk"
FAILS=$((FAILS + $(grep -c '^FAIL' "$TMP/lib.chk")))
grep -q '^PASS' "$TMP/lib.chk" || fail "man_check.py lib: $(head -c 300 "$TMP/lib.chk")"

# -- 4. the page's example program compiles against the header --
if python3 "$CHECK" example "$MAN3" >"$TMP/example.c" 2>"$TMP/example.err" &&
	timeout -k 2 60 cc -std=c11 -Wall -Wextra -Werror -fsyntax-only \
		-I"$SRC/engine/include" "$TMP/example.c" >"$TMP/cc.out" 2>&1; then
	pass "the example of libringprobe(3) compiles ($(wc -l <"$TMP/example.c") lines)"
else
	fail "the example of libringprobe(3) does not compile:"
	cat "$TMP/example.err" "$TMP/cc.out" | head -n 20 | sed 's/^/    /'
fi

[ "$FAILS" -eq 0 ] || exit 1
exit 0
