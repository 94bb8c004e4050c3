#!/usr/bin/env bash
# test_cli_output.sh - the output contract of README "Output": text shows
# open results and the errors a person must see, then "Not shown: ..."
# (--all: every result; the input echoed only when it says more than the
# address); JSON Lines and CSV keep every result (--open filters) and end
# each record with time, addr and service; -f grep prints ip:port per open
# port and nothing else; -f xml is nmap's XML, valid against nmap's DTD and
# rendered by nmap.xsl, with open, closed and filtered ports; when stderr
# is not a terminal, --progress and the SIGUSR1 snapshot print plain lines
# (no escape sequences, a progress line every few seconds at most), and
# the snapshot summarises by phase and lists at most the 20 oldest probes
# (--snapshot-all: every one).
#
# As root the script re-runs itself under `unshare -n`, where it owns the
# loopback and an nftables rule drops SYNs to port 7777 (filtered); without
# root the checks that need a filtered port are skipped.
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = rp_target_server.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools timeout grep
need_exec "$RINGPROBE"

DROP=7777 # SYNs dropped in the namespace: filtered

if [ "${1:-}" != "--in-netns" ] && [ "$(id -u)" -eq 0 ] &&
	command -v unshare >/dev/null && command -v nft >/dev/null &&
	command -v ip >/dev/null; then
	timeout -k 2 120 unshare -n bash "${BASH_SOURCE[0]}" --in-netns
	exit $?
fi
NETNS=0
if [ "${1:-}" = "--in-netns" ]; then
	NETNS=1
	drop_ports "$DROP" || exit 1
else
	skip "not root: no private namespace, no filtered port"
fi

TMP=$(mktemp -d)
start_server srv 1 --ports 1 --max-seconds 100 || exit 1
OPEN=${PORTS[0]}
PORTLIST="20-23,$OPEN"
[ $NETNS -eq 1 ] && PORTLIST="$PORTLIST,$DROP"
NRES=$((5 + NETNS))

run() { # run NAME ARGS...: stdout in NAME.out, stderr NAME.err, RC
	local name=$1
	shift
	timeout -k 2 30 "$RINGPROBE" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
	RC=$?
}

# -- text: open results and the "Not shown" line --
run text tcp -p "$PORTLIST" --connect-timeout 300ms 127.0.0.1
want="Not shown: 4 closed"
[ $NETNS -eq 1 ] && want="$want, 1 filtered"
if [ "$RC" -eq 0 ] && [ "$(wc -l <"$TMP/text.out")" -eq 2 ] &&
	grep -Eq "^127\.0\.0\.1:$OPEN +open +[0-9.]+ ms\$" "$TMP/text.out" &&
	[ "$(tail -n 1 "$TMP/text.out")" = "$want" ]; then
	pass "text: the open port, then '$want'"
else
	fail "text default: exit $RC: $(cat "$TMP/text.out")"
fi

run all tcp -p "$PORTLIST" --connect-timeout 300ms --all 127.0.0.1
if [ "$RC" -eq 0 ] && [ "$(wc -l <"$TMP/all.out")" -eq "$NRES" ] &&
	! grep -q "Not shown" "$TMP/all.out" &&
	[ "$(grep -c ' closed ' "$TMP/all.out")" -eq 4 ]; then
	pass "text --all: every result ($NRES lines), no Not shown line"
else
	fail "text --all: exit $RC: $(cat "$TMP/all.out")"
fi
if ! grep -q '(127.0.0.1)' "$TMP/all.out"; then
	pass "text: an address input is not echoed"
else
	fail "text: address input echoed: $(head -2 "$TMP/all.out")"
fi

# an invalid line and a name: shown, the name echoed
printf '300.1.1.1\nlocalhost:%s\n' "$OPEN" >"$TMP/in.txt"
run inv tcp -i "$TMP/in.txt" -4
if grep -Eq '^- +invalid ' "$TMP/inv.out" &&
	grep -Eq "^127\.0\.0\.1:$OPEN +open .*\(localhost:$OPEN\)\$" \
		"$TMP/inv.out"; then
	pass "text: an invalid line is shown; a name input is echoed"
else
	fail "text: invalid/name: exit $RC: $(cat "$TMP/inv.out")"
fi

# -- JSON Lines: every result, with time, addr and service --
t0=$(date +%s)
run json tcp -p "$PORTLIST" --connect-timeout 300ms -f jsonl 127.0.0.1
t1=$(date +%s)
if "$PY" - "$TMP/json.out" "$t0" "$t1" "$NRES" "$OPEN" <<'PY'; then
import json, re, sys, datetime
path, t0, t1, n, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
recs = [json.loads(l) for l in open(path)]
assert len(recs) == n, len(recs)
for r in recs:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"]), r
    t = datetime.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
    assert t0 <= t <= t1 + 1, (t0, t, t1)
    assert r["addr"] == "%s:%d" % (r["ip"], r["port"]), r
    assert "service" in r, r
by = {r["port"]: r for r in recs}
assert by[port]["status"] == "open"
PY
	pass "jsonl: $NRES records, each with time (RFC 3339 ms, in the run) and addr"
else
	fail "jsonl records: $(head -c 400 "$TMP/json.out")"
fi
if [ -r /etc/services ] && grep -Eq '^ssh[[:space:]]+22/tcp' /etc/services; then
	if grep -q '"port":22,.*"service":"ssh"' "$TMP/json.out" &&
		grep -q "\"port\":$OPEN,.*\"service\":" "$TMP/json.out"; then
		pass "jsonl: service from /etc/services (22: ssh)"
	else
		fail "jsonl: service: $(grep '"port":22,' "$TMP/json.out")"
	fi
else
	skip "no ssh 22/tcp in /etc/services"
fi
run json6 tcp -p "$OPEN" -f jsonl ::1
if grep -q '"addr":"\[::1\]:'"$OPEN"'"' "$TMP/json6.out"; then
	pass "jsonl: IPv6 addr in brackets"
else
	fail "jsonl ::1: $(cat "$TMP/json6.out" "$TMP/json6.err")"
fi
run jopen tcp -p "$PORTLIST" --connect-timeout 300ms -f jsonl --open 127.0.0.1
if [ "$(wc -l <"$TMP/jopen.out")" -eq 1 ] &&
	grep -q '"status":"open"' "$TMP/jopen.out"; then
	pass "jsonl --open: the open record only"
else
	fail "jsonl --open: $(cat "$TMP/jopen.out")"
fi
run csv tcp -p "$PORTLIST" --connect-timeout 300ms -f csv 127.0.0.1
if [ "$(head -1 "$TMP/csv.out")" = "input,index,ip,port,status,rtt_us,attempts,elapsed_us,dns_us,error,detail,time,addr,service" ] &&
	[ "$(wc -l <"$TMP/csv.out")" -eq $((NRES + 1)) ]; then
	pass "csv: header ends with time,addr,service; every result"
else
	fail "csv: $(head -3 "$TMP/csv.out")"
fi

# -- grep: ip:port per open port, nothing else --
run grep tcp -p "$PORTLIST" --connect-timeout 300ms -f grep 127.0.0.1
if [ "$RC" -eq 0 ] && [ "$(cat "$TMP/grep.out")" = "127.0.0.1:$OPEN" ]; then
	pass "grep: exactly '127.0.0.1:$OPEN'"
else
	fail "grep: exit $RC: $(cat "$TMP/grep.out")"
fi

# -- xml: nmap's DTD, nmap.xsl --
printf '127.0.0.1\na&b<c>"d\n' >"$TMP/xin.txt"
run xml tcp -p "$PORTLIST" --connect-timeout 300ms -f xml -i "$TMP/xin.txt"
if ! command -v xmllint >/dev/null || [ ! -r /usr/share/nmap/nmap.dtd ]; then
	fail "xml: needs xmllint (libxml2-utils) and nmap.dtd (nmap-common)"
elif xmllint --noout --dtdvalid /usr/share/nmap/nmap.dtd "$TMP/xml.out" \
	2>"$TMP/xmllint.err"; then
	pass "xml: valid against nmap.dtd"
else
	fail "xml: xmllint: $(head -c 600 "$TMP/xmllint.err")"
fi
states="open closed"
[ $NETNS -eq 1 ] && states="$states filtered"
for s in $states; do
	if grep -q "<state state=\"$s\"" "$TMP/xml.out"; then
		pass "xml: a port in state $s"
	else
		fail "xml: no port in state $s"
	fi
done
if grep -q 'specification="a&amp;b&lt;c&gt;&quot;d" status="skipped" reason="invalid"' \
	"$TMP/xml.out"; then
	pass "xml: the invalid line, escaped, as a skipped target"
else
	fail "xml: invalid target: $(grep target "$TMP/xml.out")"
fi
if ! command -v xsltproc >/dev/null; then
	fail "xml: xsltproc is missing (package xsltproc)"
elif xsltproc /usr/share/nmap/nmap.xsl "$TMP/xml.out" >"$TMP/xml.html" \
	2>"$TMP/xslt.err" && grep -q "$OPEN" "$TMP/xml.html" &&
	grep -qi '<html' "$TMP/xml.html"; then
	pass "xml: nmap.xsl renders it"
else
	fail "xml: xsltproc: $(head -c 300 "$TMP/xslt.err")"
fi

# -- progress and snapshot on a file: plain lines --
if [ $NETNS -eq 1 ]; then
	# 3 s of dropped SYNs: the progress line may come once
	run prog tcp -p "$DROP" --connect-timeout 3s --progress \
		127.0.0.1 127.0.0.2 127.0.0.3
	if ! grep -q $'[\r\033]' "$TMP/prog.err" &&
		[ "$(grep -c 'in flight' "$TMP/prog.err")" -le 2 ]; then
		pass "--progress to a file: plain lines, at most one per few seconds"
	else
		fail "--progress to a file: $(od -c "$TMP/prog.err" | head -5)"
	fi
	for i in $(seq 1 32); do echo "127.0.1.$i"; done >"$TMP/32.txt"
	for all in "" --snapshot-all; do
		"$RINGPROBE" tcp -p "$DROP" --connect-timeout 3s -c 100 \
			$all -i "$TMP/32.txt" >/dev/null 2>"$TMP/snap.err" &
		pid=$!
		PIDS+=("$pid")
		sleep 1
		kill -USR1 "$pid"
		sleep 0.5
		kill -INT "$pid"
		wait "$pid"
		rc=$?
		nprobe=$(grep -c '^  #' "$TMP/snap.err")
		want=20
		[ -n "$all" ] && want=32
		if [ $rc -eq 130 ] && ! grep -q $'[\r\033]' "$TMP/snap.err" &&
			grep -Eq 'snapshot: 32 probes in flight \(connecting 32\)' \
				"$TMP/snap.err" && [ "$nprobe" -eq $want ]; then
			pass "snapshot${all:+ $all}: by phase, $want probes listed, no escapes"
		else
			fail "snapshot${all:+ $all}: exit $rc, $nprobe probes: $(head -c 500 "$TMP/snap.err")"
		fi
	done
fi

[ "$FAILS" -eq 0 ] || exit 1
