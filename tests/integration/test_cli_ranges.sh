#!/usr/bin/env bash
# test_cli_ranges.sh - address ranges on the command line and in files are
# expanded, never sent to DNS (issue 15, defect 8), and -n makes a name an
# invalid line. The resolver is a loopback port nothing answers on, so a
# target that went to DNS would come back dns-error.
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = rp_target_server.
# Prints one PASS/FAIL/SKIP line per check; exits 1 if any check failed.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools python3 timeout
need_exec "$RINGPROBE" "$RP_TEST_SERVER"
TMP=$(mktemp -d /tmp/rp_test_ranges.XXXXXX)
echo 'KEYS = ["input", "ip", "port", "status", "detail"]' >"$TMP/jprelude.py"

# a server on 127.0.0.2 only: .2 is open, .1 and .3 are not
start_server srv 1 --bind 127.0.0.2 || exit 1
P=${PORTS[0]}
# the resolver: a UDP port we hold and never read (no answer, ever)
exec 9< <(exec "$PY" -c 'import socket,sys,time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1], flush=True)
time.sleep(120)')
PIDS+=("$!")
read -r -t 5 DNSPORT <&9 || { echo "FAIL: no silent resolver"; exit 1; }
RES=(--resolver "127.0.0.1:$DNSPORT" --dns-timeout 200ms --dns-retries 0)
NOPROG=(--no-progress)

# run NAME ARGS...: the CLI into $TMP/NAME.jsonl, exit status in RC
run() {
	local name=$1
	shift
	timeout -k 2 30 "$RINGPROBE" tcp -f jsonl "${NOPROG[@]}" "${RES[@]}" \
		--connect-timeout 300ms "$@" >"$TMP/$name.jsonl" 2>"$TMP/$name.err"
	RC=$?
}

# checkv NAME N DESC EXPR...: check, for runs with invalid lines (they
# make the exit status 2 or 3, not a failure as a program)
checkv() {
	local name=$1 n=$2 desc=$3
	shift 3
	if [ "$RC" -gt 3 ]; then
		fail "$desc: exit $RC: $(head -c 300 "$TMP/$name.err")"
	elif jcheck "$TMP/$name.jsonl" "$n" "$@" >"$TMP/$name.chk" 2>&1; then
		pass "$desc"
	else
		fail "$desc"
		cat "$TMP/$name.chk"
	fi
}

# three addresses, .2 open, in order, none resolved
# (records come in completion order: sort them by index)
IPS='[x["ip"] for x in sorted(R, key=lambda x: x["index"])] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]'
STAT='[x["status"] for x in sorted(R, key=lambda x: x["index"])] == ["closed", "open", "closed"]'
run oct "127.0.0.1-3:$P"
check oct 3 "octet range 127.0.0.1-3 expands, no DNS" "$IPS" "$STAT"
run ab "127.0.0.1-127.0.0.3:$P"
check ab 3 "first-last range expands, no DNS" "$IPS" "$STAT"
run two -p "$P" "127.0.0-1.1-2"
check two 4 "two octet ranges, address-major" \
	'[x["ip"] for x in sorted(R, key=lambda x: x["index"])] == ["127.0.0.1", "127.0.0.2", "127.0.1.1", "127.0.1.2"]' \
	'all(x["status"] in ("open", "closed") for x in R)'
printf '127.0.0.1-3:%s\n127.0.0.3-1:%s\n' "$P" "$P" >"$TMP/list"
run file -i "$TMP/list"
checkv file 4 "ranges in a file; a reversed one is one invalid line" \
	'sum(x["status"] == "invalid" for x in R) == 1' \
	'any("octet 4 goes down (3-1)" in (x["detail"] or "") for x in R)' \
	'sum(x["status"] == "open" for x in R) == 1'

# malformed address-like text is invalid, never a lookup
run bad -p "$P" 127.0.0.300 127.0.0.5-2 127.1.2.5-127.1.2.1 1-2
checkv bad 4 "malformed addresses and ranges are invalid with a reason" \
	'all(x["status"] == "invalid" for x in R)' \
	'"not 0-255" in by["127.0.0.300"][0]["detail"]' \
	'"goes down" in by["127.0.0.5-2"][0]["detail"]' \
	'"before its start" in by["127.1.2.5-127.1.2.1"][0]["detail"]' \
	'"not 4" in by["1-2"][0]["detail"]'

# -n: a name is an invalid line that says -n; addresses still work
run n -n -p "$P" rp-no-such-name.test 127.0.0.2
checkv n 2 "-n: a name is an invalid line naming -n" \
	'by["rp-no-such-name.test"][0]["status"] == "invalid"' \
	'"-n" in by["rp-no-such-name.test"][0]["detail"]' \
	'by["127.0.0.2"][0]["status"] == "open"'
# without -n the same name goes to the (silent) resolver
run nn -p "$P" rp-no-such-name.test
check nn 1 "without -n the name is looked up" 'r["status"] == "dns-error"'

[ "$FAILS" -eq 0 ]
