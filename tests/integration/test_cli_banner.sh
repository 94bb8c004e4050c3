#!/usr/bin/env bash
# test_cli_banner.sh - `ringprobe tcp --banner`: the banner field in JSON
# Lines, CSV and text, against a small python server this test starts on
# loopback ports the kernel picks (one port per behaviour), stopped by PID.
#
# Environment: RINGPROBE = the CLI. Prints one PASS/FAIL/SKIP line per
# check; exits 1 if any failed, 77 if a prerequisite is missing.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools python3 timeout
need_exec "$RINGPROBE"
TMP=$(mktemp -d /tmp/rp_test_banner.XXXXXX)

# Behaviours, one listener each, in this order: a banner with an escape
# sequence and CRLF; nothing at all (connection kept open); a close
# without a word. The server prints its ports, one a line, then serves
# for 60 s at most.
cat >"$TMP/server.py" <<'PY'
import select, socket, sys, time
sends = [b"SSH-2.0-Test_1.0 \x1b[2J\r\nmore\r\n", None, b""]
ls = []
for _ in sends:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    ls.append(s)
    print(s.getsockname()[1], flush=True)
held, end = [], time.time() + 60
while time.time() < end:
    r, _, _ = select.select(ls, [], [], 0.2)
    for s in r:
        c, _ = s.accept()
        data = sends[ls.index(s)]
        if data is None:
            held.append(c)  # quiet: keep it open
            continue
        try:
            c.sendall(data)
        except OSError:
            pass
        c.close()
PY
python3 "$TMP/server.py" >"$TMP/ports" 2>"$TMP/server.err" &
PIDS+=("$!")
for ((i = 0; i < 100; i++)); do
	[ "$(wc -l <"$TMP/ports")" -ge 3 ] && break
	sleep 0.05
done
mapfile -t P <"$TMP/ports"
if [ "${#P[@]}" -ne 3 ]; then
	echo "FAIL: the banner server did not start: $(head -c 300 "$TMP/server.err")"
	exit 1
fi
BANNER=${P[0]} QUIET=${P[1]} SHUT=${P[2]}

cat >"$TMP/jprelude.py" <<PY
KEYS = ["input", "index", "ip", "port", "status", "rtt_us", "attempts",
        "elapsed_us", "dns_us", "error", "detail", "banner", "time", "addr",
        "service"]
BANNER, QUIET, SHUT = $BANNER, $QUIET, $SHUT
PY

RC=0
run() {
	local name=$1
	shift
	timeout -k 2 20 "$RINGPROBE" tcp "$@" >"$TMP/$name.jsonl" \
		2>"$TMP/$name.err"
	RC=$?
}

run all -f jsonl --banner-wait 300ms -c 8 \
	"127.0.0.1:$BANNER" "127.0.0.1:$QUIET" "127.0.0.1:$SHUT"
check all 3 "--banner: one record per target, each with a banner field" \
	'set(r) == set(KEYS)' 'r["status"] == "open"' \
	'sorted(x["port"] for x in R) == sorted([BANNER, QUIET, SHUT])'
check all 3 "banners: the first line, escape byte as '?'; '' when quiet (after --banner-wait) or closed at once" \
	'r["banner"] == {BANNER: "SSH-2.0-Test_1.0 ?[2J", QUIET: "", SHUT: ""}[r["port"]]' \
	'r["port"] != QUIET or 250000 <= r["elapsed_us"] < 2000000'

run plain -f jsonl "127.0.0.1:$BANNER"
if [ "$RC" -eq 0 ] && ! grep -q '"banner"' "$TMP/plain.jsonl"; then
	pass "without --banner the record has no banner field"
else
	fail "without --banner: exit $RC, $(head -c 300 "$TMP/plain.jsonl")"
fi

run csv -f csv --banner "127.0.0.1:$BANNER"
if head -1 "$TMP/csv.jsonl" | grep -q ',detail,banner,time,addr,service$' &&
	grep -q ',SSH-2.0-Test_1.0 ?\[2J,[^,]*,127.0.0.1:[0-9]*,[^,]*$' \
		"$TMP/csv.jsonl"; then
	pass "CSV: banner after detail, before time, addr, service"
else
	fail "CSV: $(head -c 300 "$TMP/csv.jsonl")"
fi

run text --banner "127.0.0.1:$BANNER"
if grep -q 'open .* banner: SSH-2.0-Test_1.0 ?\[2J' "$TMP/text.jsonl" &&
	! LC_ALL=C grep -q $'\x1b' "$TMP/text.jsonl"; then
	pass "text: '  banner: LINE', no raw escape byte"
else
	fail "text: $(head -c 300 "$TMP/text.jsonl")"
fi

timeout -k 2 10 "$RINGPROBE" http --banner "127.0.0.1:$BANNER" \
	>"$TMP/usage.out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q 'for tcp' "$TMP/usage.out"; then
	pass "http --banner: usage error (exit 2)"
else
	fail "http --banner: exit $rc: $(head -c 300 "$TMP/usage.out")"
fi

timeout -k 2 10 "$RINGPROBE" tcp --banner-wait 0 "127.0.0.1:$BANNER" \
	>"$TMP/usage0.out" 2>&1
rc=$?
if [ "$rc" -eq 2 ]; then
	pass "--banner-wait 0: usage error (exit 2)"
else
	fail "--banner-wait 0: exit $rc"
fi

[ "$FAILS" -eq 0 ] || exit 1
