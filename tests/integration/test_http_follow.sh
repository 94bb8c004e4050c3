#!/usr/bin/env bash
# test_http_follow.sh - `ringprobe http --follow N` as README and
# ringprobe.h ("Redirects") describe it: the redirect scope (the target's
# own host by default, any host with --follow-any-host), the result when a
# later hop fails or a redirect is not followed (ok, the last response, and
# why in detail), and the Location encoded on the wire.
#
# Servers: two target servers (tests/servers/target_server.c, http mode),
# one on 127.0.0.1 with two ports and one on 127.0.0.2, all ours; their
# /to?LOC answers 302 to LOC, /show/... titles the page with the request
# target it received. A closed port and a closed UDP port (a resolver that
# refuses) are bound and released here. Results are checked by parsing the
# JSON Lines output with python3: all at the end, in one python3, since
# its start-up alone takes seconds on a loaded machine and twenty of them
# took a run past the servers' lifetime.
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = rp_target_server.
# Prints one PASS/FAIL/SKIP line per check; exits 1 if any check failed,
# 77 if the prerequisites are missing. Every command is bounded by
# timeout(1) or a counted wait loop; the trap stops what we started, by PID.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools python3 timeout
need_exec "$RINGPROBE" "$RP_TEST_SERVER"
TMP=$(mktemp -d /tmp/rp_test_follow.XXXXXX)

RC=0
# run NAME ARGS...: `ringprobe http -f jsonl --no-progress ARGS` (30 s at
# most) into $TMP/NAME.jsonl and $TMP/NAME.err; sets RC.
run() {
	local name=$1
	shift
	timeout -k 2 30 "$RINGPROBE" http -f jsonl --no-progress "$@" \
		>"$TMP/$name.jsonl" 2>"$TMP/$name.err" </dev/null
	RC=$?
}

# check NAME N DESC EXPR...: after `run NAME`, fails now if the CLI failed
# as a program (not exit 0 or 1), else queues the check for check_all:
# $TMP/NAME.jsonl must hold N records and every python EXPR must hold (r
# is the first record, R all of them).
check() {
	local name=$1 n=$2 desc=$3
	shift 3
	if [ "$RC" -gt 1 ]; then
		fail "$desc: exit $RC: $(head -c 300 "$TMP/$name.err")"
		return
	fi
	printf '%s\0' CHECK "$name" "$n" "$desc" "$@" END >>"$TMP/checks"
}

# Runs the queued checks in one python3 and prints a PASS/FAIL line for
# each; adds the failures to FAILS.
check_all() {
	local bad
	[ -s "$TMP/checks" ] || return
	python3 - "$TMP" >"$TMP/checks.out" 2>&1 <<'PY'
import json, sys
d = sys.argv[1]
KEYS = ["input", "index", "url", "ip", "port", "status", "http_status",
        "title", "location", "redirects", "detail", "error"]
parts = open(d + "/checks", encoding="utf-8").read().split("\0")
fails, i = 0, 0
while i < len(parts) and parts[i] == "CHECK":
    name, n, desc = parts[i + 1], int(parts[i + 2]), parts[i + 3]
    j = parts.index("END", i + 4)
    exprs, i = parts[i + 4:j], j + 1
    why = []
    try:
        with open(f"{d}/{name}.jsonl", encoding="utf-8") as f:
            R = [json.loads(line) for line in f]
    except (OSError, ValueError) as e:
        R, why = [], [f"unreadable: {e}"]
    if not why and len(R) != n:
        why.append(f"{len(R)} records, want {n}")
    why += [f"record {k}: no {key}" for k, x in enumerate(R)
            for key in KEYS if key not in x]
    if not why:
        for e in exprs:
            try:
                ok = eval(e, {"r": R[0], "R": R})
            except Exception as ex:
                ok = False
                e += f" ({type(ex).__name__}: {ex})"
            if not ok:
                why.append("not true: " + e)
    if why:
        fails += 1
        print(f"FAIL: {desc}")
        for w in why:
            print("    " + w)
        for x in R:
            print("    record:", json.dumps(x)[:400])
    else:
        print(f"PASS: {desc}")
sys.exit(min(fails, 100))
PY
	bad=$?
	cat "$TMP/checks.out"
	FAILS=$((FAILS + bad))
}

start_server a 2 --mode http --ports 2 --max-seconds 280 || exit 1
P=${PORTS[0]}
P2=${PORTS[1]}
start_server b 1 --bind 127.0.0.2 --mode http --ports 1 --max-seconds 280 ||
	exit 1
Q=${PORTS[0]}
A=http://127.0.0.1:$P

# A TCP and a UDP port on 127.0.0.1 that nobody listens on: bound and
# released just now (the kernel does not hand them out again at once).
read -r CLOSED NODNS < <(python3 -c '
import socket
ports = []
for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
    s = socket.socket(type=t)
    s.bind(("127.0.0.1", 0))
    ports.append(s.getsockname()[1])
    s.close()
print(*ports)')

# ---- 1. scope ----------------------------------------------------------------

run same --follow 3 "$A/to?http://127.0.0.1:$P2/fixed"
check same 1 "same address, other port: followed to ok 200" \
	'r["status"] == "ok" and r["http_status"] == 200' \
	'r["title"] == "Fixed Page" and r["redirects"] == 1' \
	"r['url'] == 'http://127.0.0.1:$P2/fixed' and r['port'] == $P2" \
	'r["detail"] is None'

run other --follow 3 "$A/to?http://127.0.0.2:$Q/fixed"
check other 1 "127.0.0.1 -> 127.0.0.2: not followed by default, ok 302 with why" \
	'r["status"] == "ok" and r["http_status"] == 302' \
	'r["title"] == "Moved" and r["redirects"] == 0' \
	"r['url'] == '$A/to?http://127.0.0.2:$Q/fixed'" \
	"r['ip'] == '127.0.0.1' and r['port'] == $P" \
	"r['location'] == 'http://127.0.0.2:$Q/fixed'" \
	'r["detail"] == "redirect to other host not followed: 127.0.0.2"' \
	'r["error"] is None'

run other_name --follow 3 "$A/to?http://localhost:$P/fixed"
check other_name 1 "probed by address, Location names a host: not followed" \
	'r["status"] == "ok" and r["http_status"] == 302' \
	'r["redirects"] == 0' \
	'r["detail"] == "redirect to other host not followed: localhost"'

run any --follow 3 --follow-any-host "$A/to?http://127.0.0.2:$Q/fixed"
check any 1 "--follow-any-host: 127.0.0.1 -> 127.0.0.2 followed" \
	'r["status"] == "ok" and r["http_status"] == 200' \
	'r["title"] == "Fixed Page" and r["redirects"] == 1' \
	"r['url'] == 'http://127.0.0.2:$Q/fixed'" \
	"r['ip'] == '127.0.0.2' and r['port'] == $Q" \
	'r["detail"] is None'

# By name: needs localhost to be 127.0.0.1 here (/etc/hosts).
if timeout -k 2 10 "$RINGPROBE" tcp -f jsonl --no-progress -4 -p "$P" \
	localhost 2>/dev/null | grep -q '"ip":"127.0.0.1".*"status":"open"'; then
	L=http://localhost:$P
	run name_same --follow 3 -4 "$L/to?http://LocalHost:$P2/fixed"
	check name_same 1 "by name: the same name (any case), other port: followed" \
		'r["status"] == "ok" and r["http_status"] == 200' \
		'r["title"] == "Fixed Page" and r["redirects"] == 1' \
		"r['url'] == 'http://LocalHost:$P2/fixed'" \
		'r["detail"] is None'
	run name_addr --follow 3 -4 "$L/to?http://127.0.0.1:$P2/fixed"
	check name_addr 1 "by name, Location is its address: not followed" \
		'r["status"] == "ok" and r["http_status"] == 302' \
		"r['redirects'] == 0 and r['url'] == '$L/to?http://127.0.0.1:$P2/fixed'" \
		'r["detail"] == "redirect to other host not followed: 127.0.0.1"'
else
	skip "by-name scope: localhost is not 127.0.0.1 here"
fi

# ---- 2. a later hop that fails keeps the last response -----------------------

run nofollow "$A/to?http://127.0.0.1:$CLOSED/"
check nofollow 1 "302 to a closed port without --follow: ok 302" \
	'r["status"] == "ok" and r["http_status"] == 302 and r["detail"] is None'

run closed --follow 3 "$A/to?http://127.0.0.1:$CLOSED/"
check closed 1 "302 to a closed port with --follow 3: ok 302 kept, the hop in detail" \
	'r["status"] == "ok" and r["http_status"] == 302' \
	'r["title"] == "Moved" and r["redirects"] == 0' \
	"r['url'] == '$A/to?http://127.0.0.1:$CLOSED/'" \
	"r['ip'] == '127.0.0.1' and r['port'] == $P" \
	"r['location'] == 'http://127.0.0.1:$CLOSED/'" \
	"r['detail'] == 'redirect to http://127.0.0.1:$CLOSED/ failed: closed'" \
	'r["error"] is None'

run closed2 --follow 3 "$A/to?/to?http://127.0.0.1:$CLOSED/"
check closed2 1 "second hop to a closed port: the first redirect's response, redirects 1" \
	'r["status"] == "ok" and r["http_status"] == 302' \
	"r['redirects'] == 1 and r['url'] == '$A/to?http://127.0.0.1:$CLOSED/'" \
	"r['detail'] == 'redirect to http://127.0.0.1:$CLOSED/ failed: closed'"

run hang --follow 3 --timeout 1s "$A/to?/hang"
check hang 1 "later hop never answers: ok 302, 'failed: timeout' at the deadline" \
	'r["status"] == "ok" and r["http_status"] == 302' \
	"r['detail'] == 'redirect to $A/hang failed: timeout'" \
	"r['url'] == '$A/to?/hang' and r['redirects'] == 0" \
	'900000 <= r["elapsed_us"] <= 5000000'

run garbage --follow 3 "$A/to?/garbage"
check garbage 1 "later hop answers garbage: ok 302, protocol-error and its reason" \
	'r["status"] == "ok" and r["http_status"] == 302' \
	"r['detail'].startswith('redirect to $A/garbage failed: protocol-error (')"

run dns --follow 3 --follow-any-host --resolver "127.0.0.1:$NODNS" \
	--dns-retries 0 --dns-timeout 300ms --no-hosts \
	"$A/to?http://nothere.test/"
check dns 1 "later hop's name does not resolve: ok 302, dns-error and its reason" \
	'r["status"] == "ok" and r["http_status"] == 302' \
	"r['ip'] == '127.0.0.1' and r['port'] == $P" \
	'r["detail"].startswith("redirect to http://nothere.test/ failed: dns-error (")'

# ---- 3. redirects not followed say why ---------------------------------------

run loop --follow 3 "$A/loop"
check loop 1 "/loop --follow 3: ok 301 after 3 redirects, the limit in detail" \
	'r["status"] == "ok" and r["http_status"] == 301' \
	'r["redirects"] == 3 and r["detail"] == "redirect limit 3 reached"'

run loop0 --follow 0 "$A/loop"
check loop0 1 "/loop --follow 0: the 301, no detail" \
	'r["status"] == "ok" and r["http_status"] == 301 and r["detail"] is None'

run ftp --follow 3 "$A/to?ftp://127.0.0.1/x"
check ftp 1 "Location ftp://...: ok 302, scheme not supported" \
	'r["status"] == "ok" and r["http_status"] == 302 and r["redirects"] == 0' \
	'r["detail"] == "redirect to ftp://127.0.0.1/x not followed: scheme not supported"'

run https --follow 3 "$A/to?https://127.0.0.1:$CLOSED/x"
check https 1 "Location https://... is followed (TLS): ok 302 kept, the hop in detail" \
	'r["status"] == "ok" and r["http_status"] == 302 and r["redirects"] == 0' \
	"r['detail'] == 'redirect to https://127.0.0.1:$CLOSED/x failed: closed'"

run rel --follow 3 "$A/redirect-rel"
check rel 1 "Location 'fixed' (relative): ok 301, not followed, says so" \
	'r["status"] == "ok" and r["http_status"] == 301' \
	'r["detail"] == "redirect to fixed not followed: relative Location not supported"'

# ---- 4. the Location goes on the wire encoded -----------------------------------

run space --follow 3 "$A/to?/show/a%20b"
check space 1 "Location '/show/a b': requested as /show/a%20b" \
	'r["status"] == "ok" and r["http_status"] == 200' \
	'r["title"] == "/show/a%20b" and r["redirects"] == 1' \
	"r['url'] == '$A/show/a%20b'"

# ---- 5. text output shows the detail of an ok line --------------------------

timeout -k 2 30 "$RINGPROBE" http -f text --no-progress --follow 3 \
	"$A/to?http://127.0.0.1:$CLOSED/" >"$TMP/text.out" 2>"$TMP/text.err" \
	</dev/null
rc=$?
want="  redirect to http://127.0.0.1:$CLOSED/ failed: closed ($A/to?http://127.0.0.1:$CLOSED/)"
if [ $rc -eq 0 ] && [ "$(wc -l <"$TMP/text.out")" -eq 1 ] &&
	grep -q ' ok  *302 ' "$TMP/text.out" &&
	[ "$(tail -c $((${#want} + 1)) "$TMP/text.out")" = "$want" ]; then
	pass "text: the ok 302 line ends with the failed hop, then the input"
else
	fail "text (exit $rc): $(head -c 300 "$TMP/text.out")"
fi

check_all

# ---- the servers stayed healthy ----------------------------------------------

for i in 0 1; do
	if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
		fail "target server $i died"
	fi
done
if [ -s "$TMP/a.err" ] || [ -s "$TMP/b.err" ]; then
	fail "a target server complained: $(head -c 300 "$TMP/a.err" "$TMP/b.err")"
fi

if [ $FAILS -gt 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
