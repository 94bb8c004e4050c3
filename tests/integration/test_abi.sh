#!/usr/bin/env bash
# test_abi.sh - the shared library's ABI against the baseline checked into
# engine/abi/libringprobe.abi (abidiff, Debian's abigail-tools).
#  - An incompatible change (a function or symbol removed, a parameter or
#    a field changed) fails, unless the SONAME changed and the baseline
#    was regenerated with it (engine/abi/update.sh).
#  - Compatible changes (functions added, fields appended to a struct:
#    see the header's "Structs grow") pass, and are listed.
#  - The check itself is checked: a baseline with one more function than
#    the library has must fail it.
# Environment: RP_LIBDIR = the directory of libringprobe.so. Exits 1 if a
# check failed, 77 if abigail-tools is not installed.
set -u

: "${RP_LIBDIR:?RP_LIBDIR must point at the directory of libringprobe.so}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools abidiff abidw readelf
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BASE=$ROOT/engine/abi/libringprobe.abi
SO=$(ls "$RP_LIBDIR"/libringprobe.so.*.*.* 2>/dev/null | head -n1)
TMP=$(mktemp -d /tmp/rp_test_abi.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

if [ -z "$SO" ] || [ ! -f "$BASE" ]; then
	fail "the library ($SO) or the baseline ($BASE) is missing"
	exit 1
fi
if ! readelf -S "$SO" | grep -q debug_info; then
	echo "SKIP: $SO has no debug info (a Release build): only symbols compared"
fi

# abidiff's exit status: bit 1 tool error, 2 usage, 4 ABI change,
# 8 incompatible ABI change.
compare() { # BASELINE -> prints the report to $TMP/report, returns status
	abidiff --headers-dir2 "$ROOT/engine/include" --drop-private-types \
		--no-added-syms "$1" "$SO" >"$TMP/report" 2>&1
}

compare "$BASE"
rc=$?
soname_base=$(sed -n "s/.*soname='\([^']*\)'.*/\1/p" "$BASE" | head -n1)
soname_now=$(readelf -d "$SO" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
if [ $((rc & 3)) -ne 0 ]; then
	fail "abidiff could not compare (status $rc):"
	cat "$TMP/report"
elif [ $((rc & 8)) -ne 0 ]; then
	fail "incompatible ABI change against engine/abi/libringprobe.abi" \
		"($soname_base): bump the SONAME and run engine/abi/update.sh"
	cat "$TMP/report"
elif [ "$soname_base" != "$soname_now" ]; then
	fail "the SONAME is $soname_now but the baseline's is $soname_base:" \
		"run engine/abi/update.sh"
else
	pass "no incompatible change against the baseline ($soname_now)"
	if [ $((rc & 4)) -ne 0 ]; then
		echo "NOTE: compatible changes; engine/abi/update.sh takes them in:"
		sed 's/^/    /' "$TMP/report" | head -40
	fi
fi

# The check can fail: a baseline that had one more function.
sed "0,/<elf-function-symbols>/s//<elf-function-symbols>\n    <elf-symbol name='rp_removed_for_test' version='RINGPROBE_0' is-default-version='yes' type='func-type' binding='global-binding' visibility='default-visibility' is-defined='yes'\/>/" \
	"$BASE" >"$TMP/more.abi"
compare "$TMP/more.abi"
rc=$?
if [ $((rc & 8)) -ne 0 ] && grep -q rp_removed_for_test "$TMP/report"; then
	pass "a removed function is reported as incompatible"
else
	fail "a baseline with an extra function did not fail the check (status $rc)"
	cat "$TMP/report"
fi
[ "$FAILS" -eq 0 ] || exit 1
exit 0
