#!/usr/bin/env bash
# test_cli.sh - the ringprobe CLI against a loopback target server and, in
# a private network namespace, against nftables-dropped ports.
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = rp_target_server.
# Prints one PASS/FAIL/SKIP line per check; exits 1 if any check failed,
# 77 if the prerequisites are missing. Every command is bounded by
# timeout(1) or a counted wait loop; the trap stops what we started, by PID.
#
# The namespace checks re-run this script under `unshare -n` with
# --in-netns; that part prints its own PASS/FAIL lines, which the outer run
# counts.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

# Python checks of a JSON Lines result file. Prints problems, exits 1 if any.
#   jsonl_check FILE [--lines N] [--status S] [--count-status S=N ...]
#                    [--open-ports P,P] [--listen-before F --listen-after F]
#                    [--all-ports] [--no-dup]
cat_pycheck() {
	cat <<'PY'
import json, sys, argparse
ap = argparse.ArgumentParser()
ap.add_argument("file")
ap.add_argument("--lines", type=int)
ap.add_argument("--status")
ap.add_argument("--count-status", action="append", default=[])
ap.add_argument("--open-ports")
ap.add_argument("--listen-before")
ap.add_argument("--listen-after")
ap.add_argument("--all-ports", action="store_true")
a = ap.parse_args()
KEYS = ["input", "index", "ip", "port", "status", "rtt_us", "attempts",
        "elapsed_us", "error", "detail"]
STATUSES = {"open", "closed", "filtered", "unreachable", "error",
            "cancelled", "invalid"}
bad = []
recs = []
with open(a.file, encoding="utf-8", errors="strict") as f:
    for n, line in enumerate(f, 1):
        try:
            r = json.loads(line)
        except ValueError as e:
            bad.append(f"line {n}: not JSON ({e}): {line[:80]!r}")
            continue
        missing = [k for k in KEYS if k not in r]
        if missing:
            bad.append(f"line {n}: missing keys {missing}")
            continue
        if r["status"] not in STATUSES:
            bad.append(f"line {n}: status {r['status']!r}")
        recs.append(r)
if a.lines is not None and len(recs) + 0 != a.lines:
    bad.append(f"{len(recs)} records, expected {a.lines}")
seen = {}
for r in recs:
    if r["status"] == "invalid":
        continue
    k = (r["ip"], r["port"])
    if k in seen:
        bad.append(f"duplicate {k}: {seen[k]} and {r['status']}")
    seen[k] = r["status"]
idx = [r["index"] for r in recs]
if len(set(idx)) != len(idx):
    bad.append(f"{len(idx) - len(set(idx))} duplicate indexes")
if a.status:
    other = [r for r in recs if r["status"] != a.status]
    if other:
        bad.append(f"{len(other)} records not {a.status}, e.g. {other[0]}")
for cs in a.count_status:
    s, n = cs.split("=")
    got = sum(1 for r in recs if r["status"] == s)
    if got != int(n):
        bad.append(f"{got} {s}, expected {n}")
if a.all_ports:
    ports = sorted(r["port"] for r in recs)
    if ports != list(range(1, 65536)):
        bad.append("ports are not exactly 1..65535")
if a.open_ports is not None:
    want = {int(p) for p in a.open_ports.split(",") if p}
    before = {int(p) for p in open(a.listen_before).read().split()}
    after = {int(p) for p in open(a.listen_after).read().split()}
    stable = (before & after) | want
    changed = (before ^ after) - want
    opened = {r["port"] for r in recs if r["status"] == "open"}
    for p in sorted(stable - opened):
        st = [r["status"] for r in recs if r["port"] == p]
        bad.append(f"port {p} is listening but got {st}")
    for p in sorted(opened - stable - changed):
        bad.append(f"port {p} is not listening but got open")
    if changed:
        print(f"note: ports changed state during the run: {sorted(changed)}")
    print(f"open ports: {sorted(opened)}")
for b in bad[:20]:
    print(b)
sys.exit(1 if bad else 0)
PY
}

jsonl_check() {
	python3 "$TMP/check.py" "$@"
}

# The TCP ports in LISTEN state reachable at 127.0.0.1, one per line:
# /proc/net/tcp (127.0.0.1 or 0.0.0.0) and /proc/net/tcp6 (v4-mapped, or
# :: unless IPv6-only, which only sock_diag knows: ss -e shows v6only).
cat_pylisten() {
	cat <<'PY'
import socket, struct, subprocess
ports = set()
def rows(path):
    try:
        with open(path) as f:
            next(f)
            for line in f:
                p = line.split()
                if p[3] != "0A":
                    continue
                addr, port = p[1].split(":")
                yield addr, int(port, 16)
    except FileNotFoundError:
        return
for addr, port in rows("/proc/net/tcp"):
    ip = socket.inet_ntoa(struct.pack("<I", int(addr, 16)))
    if ip in ("127.0.0.1", "0.0.0.0"):
        ports.add(port)
dual = None
try:
    out = subprocess.run(["ss", "-Hltne", "-6"], capture_output=True,
                         text=True, timeout=10).stdout
    dual = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) > 3 and "v6only:0" in line:
            dual.add(int(f[3].rsplit(":", 1)[1]))
except (OSError, subprocess.SubprocessError):
    pass
try:
    v6only_default = int(open("/proc/sys/net/ipv6/bindv6only").read())
except OSError:
    v6only_default = 0
for addr, port in rows("/proc/net/tcp6"):
    words = [struct.pack("<I", int(addr[i:i + 8], 16)) for i in range(0, 32, 8)]
    ip6 = socket.inet_ntop(socket.AF_INET6, b"".join(words))
    if ip6 in ("::ffff:127.0.0.1", "::ffff:0.0.0.0"):
        ports.add(port)
    elif ip6 == "::":
        if (port in dual) if dual is not None else not v6only_default:
            ports.add(port)
print("\n".join(str(p) for p in sorted(ports)))
PY
}

listening() {
	python3 "$TMP/listen.py"
}

# ---- checks in the private namespace (run under unshare -n) -------------

netns_checks() {
	local out err rc t0 t1 pid n

	drop_ports 7000-7999 || return

	# 1000 dropped ports, 2000 slots: all filtered in one connect timeout.
	out=$TMP/ns_filtered.jsonl
	t0=$(now_ms)
	timeout -k 2 20 "$RINGPROBE" tcp -p 7000-7999 --connect-timeout 1s \
		-c 2000 -f jsonl --no-progress 127.0.0.1 >"$out" \
		2>"$TMP/ns_filtered.err"
	rc=$?
	t1=$(now_ms)
	if [ $rc -eq 0 ] && jsonl_check "$out" --lines 1000 --status filtered; then
		pass "netns: 1000 dropped ports all filtered"
	else
		fail "netns: dropped ports: exit $rc, $(wc -l <"$out") lines"
	fi
	if [ $((t1 - t0)) -lt 3000 ]; then
		pass "netns: 1000 filtered in $((t1 - t0)) ms (< 3 s)"
	else
		fail "netns: 1000 filtered took $((t1 - t0)) ms (>= 3 s)"
	fi

	# SIGINT during a slow scan: 2000 targets, 500 slots, 5 s timeouts.
	out=$TMP/ns_int.jsonl
	err=$TMP/ns_int.err
	"$RINGPROBE" tcp -p 7000-7999 --connect-timeout 5s -c 500 -f jsonl \
		--no-progress --summary 127.0.0.1 127.0.0.2 >"$out" 2>"$err" &
	pid=$!
	PIDS+=("$pid")
	sleep 0.5
	t0=$(now_ms)
	kill -INT "$pid"
	if wait_gone "$pid" 1500; then
		wait "$pid"
		rc=$?
		t1=$(now_ms)
		if [ $rc -eq 130 ]; then
			pass "SIGINT: exit 130"
		else
			fail "SIGINT: exit $rc, expected 130"
		fi
		if [ $((t1 - t0)) -le 1500 ]; then
			pass "SIGINT: exited $((t1 - t0)) ms after the signal"
		else
			fail "SIGINT: exited $((t1 - t0)) ms after the signal"
		fi
	else
		fail "SIGINT: still running 1.5 s after the signal"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid"
	fi
	n=$(wc -l <"$out")
	if jsonl_check "$out" --lines 500 --status cancelled; then
		pass "SIGINT: the 500 in flight printed as cancelled, no duplicates"
	else
		fail "SIGINT: output ($n lines) is not 500 cancelled results"
	fi
	# 2000 targets, 500 in flight: 1500 never started.
	if grep -Ei '(not|never) (yet )?started' "$err" | grep -q '1500'; then
		pass "SIGINT: summary says 1500 targets not started"
	else
		fail "SIGINT: summary lacks '1500 ... not started': $(tr '\n' '|' <"$err" | head -c 400)"
	fi

	# Two SIGINTs in a row: out at once.
	out=$TMP/ns_int2.jsonl
	"$RINGPROBE" tcp -p 7000-7999 --connect-timeout 5s -c 500 -f jsonl \
		--no-progress 127.0.0.1 127.0.0.2 >"$out" 2>"$TMP/ns_int2.err" &
	pid=$!
	PIDS+=("$pid")
	sleep 0.5
	t0=$(now_ms)
	kill -INT "$pid"
	sleep 0.01
	kill -INT "$pid" 2>/dev/null
	if wait_gone "$pid" 1500; then
		wait "$pid"
		rc=$?
		t1=$(now_ms)
		if [ $rc -eq 130 ] && [ $((t1 - t0)) -le 1500 ]; then
			pass "double SIGINT: exit 130 after $((t1 - t0)) ms"
		else
			fail "double SIGINT: exit $rc after $((t1 - t0)) ms"
		fi
	else
		fail "double SIGINT: still running 1.5 s after the signals"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid"
	fi

	# SIGTERM behaves like SIGINT.
	out=$TMP/ns_term.jsonl
	"$RINGPROBE" tcp -p 7000-7999 --connect-timeout 5s -c 500 -f jsonl \
		--no-progress 127.0.0.1 127.0.0.2 >"$out" 2>"$TMP/ns_term.err" &
	pid=$!
	PIDS+=("$pid")
	sleep 0.5
	t0=$(now_ms)
	kill -TERM "$pid"
	if wait_gone "$pid" 1500; then
		wait "$pid"
		rc=$?
		t1=$(now_ms)
		if [ $rc -eq 130 ] &&
			jsonl_check "$out" --lines 500 --status cancelled >/dev/null; then
			pass "SIGTERM: exit 130 after $((t1 - t0)) ms, 500 cancelled"
		else
			fail "SIGTERM: exit $rc, $(wc -l <"$out") lines"
		fi
	else
		fail "SIGTERM: still running 1.5 s after the signal"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid"
	fi
}

if [ "${1:-}" = "--in-netns" ]; then
	TMP=$2
	trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done' EXIT
	netns_checks
	exit $((FAILS > 0))
fi

# ---- checks in the current namespace -------------------------------------

need_tools python3 timeout
need_exec "$RINGPROBE" "$RP_TEST_SERVER"
TMP=$(mktemp -d /tmp/rp_test_cli.XXXXXX)
cat_pycheck >"$TMP/check.py"
cat_pylisten >"$TMP/listen.py"

# The target server: three ephemeral ports on 127.0.0.1.
start_server server 3 --ports 3 --max-seconds 200 || exit 1
SPORTS=("${PORTS[@]}")
OPEN_PORT=${SPORTS[0]}
listening >"$TMP/listen0"
# A few ports nobody listens on.
mapfile -t CLOSED < <(python3 -c '
import sys
busy = {int(p) for p in open(sys.argv[1]).read().split()}
free = [p for p in (9, 7, 13, 19, 37, 42, 79, 1023, 1, 3) if p not in busy]
print("\n".join(str(p) for p in free[:3]))' "$TMP/listen0")
if [ "${#CLOSED[@]}" -ne 3 ]; then
	echo "FAIL: could not find 3 closed ports"
	exit 1
fi

# -- 1. all ports of 127.0.0.1, JSON Lines --
out=$TMP/full.jsonl
listening >"$TMP/listen_before"
t0=$(now_ms)
timeout -k 2 60 "$RINGPROBE" tcp -p 1-65535 -f jsonl --no-progress \
	127.0.0.1 >"$out" 2>"$TMP/full.err"
rc=$?
t1=$(now_ms)
listening >"$TMP/listen_after"
if [ $rc -eq 0 ]; then
	pass "full scan: exit 0 in $((t1 - t0)) ms"
else
	fail "full scan: exit $rc: $(head -c 300 "$TMP/full.err")"
fi
if jsonl_check "$out" --lines 65535 --all-ports \
	--open-ports "$(
		IFS=,
		echo "${SPORTS[*]}"
	)" --listen-before "$TMP/listen_before" --listen-after "$TMP/listen_after"; then
	pass "full scan: 65535 valid JSON lines, open set == listening ports, no duplicates"
else
	fail "full scan: results do not match the listening ports"
fi

# -- 2. exit codes --
expect_exit() { # expect_exit WANT DESC CMD...
	local want=$1 desc=$2 rc
	shift 2
	timeout -k 2 20 "$@" >"$TMP/ec.out" 2>"$TMP/ec.err" </dev/null
	rc=$?
	if [ $rc -eq "$want" ]; then
		pass "exit $want: $desc"
	else
		fail "exit $rc, expected $want: $desc ($(head -c 200 "$TMP/ec.err"))"
	fi
}
expect_exit 2 "no targets" "$RINGPROBE" tcp -p 80
expect_exit 2 "unknown flag" "$RINGPROBE" tcp --no-such-flag -p 80 127.0.0.1
expect_exit 2 "unknown command" "$RINGPROBE" no-such-command 127.0.0.1
expect_exit 2 "port 70000" "$RINGPROBE" tcp -p 70000 127.0.0.1
expect_exit 2 "port list 'abc'" "$RINGPROBE" tcp -p abc 127.0.0.1
expect_exit 2 "bad -c" "$RINGPROBE" tcp -c -5 -p 80 127.0.0.1
expect_exit 2 "bad --connect-timeout" "$RINGPROBE" tcp --connect-timeout 5x \
	-p 80 127.0.0.1
expect_exit 0 "good run" "$RINGPROBE" tcp -p "$OPEN_PORT" 127.0.0.1

missing=$TMP/no/such/targets.txt
timeout -k 2 20 "$RINGPROBE" tcp -p 80 -i "$missing" >"$TMP/ec.out" \
	2>"$TMP/ec.err"
rc=$?
if [ $rc -eq 2 ] && grep -qF "$missing" "$TMP/ec.err"; then
	pass "exit 2 and the file named for a missing -i file"
else
	fail "missing -i file: exit $rc, stderr: $(head -c 200 "$TMP/ec.err")"
fi

tfile=$TMP/targets.txt
printf '127.0.0.1:%s\n127.0.0.1:99999\n127.0.0.1:%s\n' "$OPEN_PORT" \
	"${CLOSED[0]}" >"$tfile"
timeout -k 2 20 "$RINGPROBE" tcp -f jsonl --no-progress -i "$tfile" \
	>"$TMP/bad.jsonl" 2>"$TMP/bad.err"
rc=$?
if [ $rc -eq 3 ]; then
	pass "a bad target line makes the exit 3 (completed, some lines invalid)"
else
	fail "a bad target line: exit $rc, expected 3"
fi
if jsonl_check "$TMP/bad.jsonl" --lines 3 --count-status invalid=1 \
	--count-status open=1 --count-status closed=1 &&
	python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
bad = [x for x in r if x["status"] == "invalid"]
sys.exit(0 if bad and bad[0]["input"] == "127.0.0.1:99999" else 1)' "$TMP/bad.jsonl"; then
	pass "every line gives a result; the bad one is invalid"
else
	fail "bad line results: $(head -c 400 "$TMP/bad.jsonl")"
fi
if grep -qF "$tfile:2" "$TMP/bad.err"; then
	pass "stderr names FILE:LINE of the bad line"
else
	fail "stderr lacks $tfile:2: $(head -c 300 "$TMP/bad.err")"
fi

# -- 3. formats --
timeout -k 2 20 "$RINGPROBE" tcp -f csv --no-progress \
	-p "${SPORTS[0]},${SPORTS[1]},${CLOSED[0]}" 127.0.0.1 >"$TMP/out.csv" \
	2>"$TMP/csv.err"
rc=$?
if [ $rc -eq 0 ] && python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
h = rows[0]
ok = all(k in h for k in ("ip", "port", "status")) and len(rows) == 4
if ok:
    st = {int(r[h.index("port")]): r[h.index("status")] for r in rows[1:]}
    ok = st == {int(sys.argv[2]): "open", int(sys.argv[3]): "open",
                int(sys.argv[4]): "closed"}
sys.exit(0 if ok else 1)' "$TMP/out.csv" "${SPORTS[0]}" "${SPORTS[1]}" \
	"${CLOSED[0]}"; then
	pass "csv: header with ip,port,status and 3 correct rows"
else
	fail "csv (exit $rc): $(head -c 300 "$TMP/out.csv")"
fi
timeout -k 2 20 "$RINGPROBE" tcp -f text --no-progress \
	-p "${SPORTS[0]},${CLOSED[0]}" 127.0.0.1 >"$TMP/out.txt" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "open" "$TMP/out.txt" &&
	[ "$(wc -l <"$TMP/out.txt")" -eq 2 ]; then
	pass "text: two lines, one says open"
else
	fail "text (exit $rc): $(head -c 300 "$TMP/out.txt")"
fi
timeout -k 2 20 "$RINGPROBE" tcp -f jsonl --open --no-progress \
	-p "${SPORTS[0]},${CLOSED[0]},${CLOSED[1]}" -o "$TMP/open.jsonl" \
	127.0.0.1 >"$TMP/open.stdout" 2>"$TMP/open.err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$TMP/open.stdout" ] &&
	jsonl_check "$TMP/open.jsonl" --lines 1 --status open; then
	pass "--open -o FILE: only the open result, in the file"
else
	fail "--open -o FILE: exit $rc, file: $(head -c 200 "$TMP/open.jsonl")"
fi

# -- 4. 500,000 targets on stdin, bounded memory --
CPORT=${CLOSED[0]}
gen_targets() {
	python3 -c '
import sys
n, port, w = 0, sys.argv[1], sys.stdout.write
for a in range(1, 16):
    for b in range(256):
        for c in range(1, 255):
            w(f"127.{a}.{b}.{c}:{port}\n")
            n += 1
            if n == 500000:
                sys.exit(0)' "$CPORT"
}
TIMECMD=()
if [ -x /usr/bin/time ]; then
	TIMECMD=(/usr/bin/time -f %M -o "$TMP/rss")
fi
t0=$(now_ms)
gen_targets | timeout -k 2 120 "${TIMECMD[@]}" "$RINGPROBE" tcp -i - -f csv \
	--no-progress -o "$TMP/big.csv" 2>"$TMP/big.err"
rc=${PIPESTATUS[1]}
t1=$(now_ms)
if [ "$rc" -eq 0 ] && python3 -c '
import csv, sys
rows = csv.reader(open(sys.argv[1], newline=""))
h = next(rows)
si, ii = h.index("status"), h.index("ip")
n, ips, bad = 0, set(), 0
for r in rows:
    n += 1
    ips.add(r[ii])
    bad += r[si] != "closed"
print(f"{n} rows, {len(ips)} distinct ips, {bad} not closed")
sys.exit(0 if n == 500000 and len(ips) == 500000 and bad == 0 else 1)' \
	"$TMP/big.csv"; then
	pass "stdin: 500000 targets -> 500000 closed results in $((t1 - t0)) ms"
else
	fail "stdin: 500000 targets: exit $rc: $(head -c 300 "$TMP/big.err")"
fi
if [ ${#TIMECMD[@]} -eq 0 ]; then
	skip "peak RSS: /usr/bin/time is not installed (Debian package time)"
elif [ -n "${RP_SANITIZE:-}" ]; then
	skip "peak RSS: sanitizer build ($RP_SANITIZE) has shadow memory"
elif [ -s "$TMP/rss" ] && [ "$(tail -1 "$TMP/rss")" -le 65536 ]; then
	pass "stdin: peak RSS $(tail -1 "$TMP/rss") KB <= 64 MB"
else
	fail "stdin: peak RSS $(tail -1 "$TMP/rss" 2>/dev/null) KB > 64 MB"
fi
rm -f "$TMP/big.csv"

# -- 5. closed stdout --
t0=$(now_ms)
timeout -k 2 30 "$RINGPROBE" tcp -p 1-65535 --all 127.0.0.1 2>"$TMP/pipe.err" |
	head -1 >"$TMP/pipe.out"
rc=${PIPESTATUS[0]}
t1=$(now_ms)
if [ "$rc" -eq 0 ] && [ ! -s "$TMP/pipe.err" ] &&
	[ "$(wc -l <"$TMP/pipe.out")" -eq 1 ]; then
	pass "| head -1: exit 0, nothing on stderr, $((t1 - t0)) ms"
else
	fail "| head -1: exit $rc, stderr: $(head -c 200 "$TMP/pipe.err")"
fi
if [ $((t1 - t0)) -lt 10000 ]; then
	pass "| head -1 finished in $((t1 - t0)) ms"
else
	fail "| head -1 took $((t1 - t0)) ms"
fi

# -- 6. private namespace: filtered ports and signals --
if [ "$(id -u)" -ne 0 ]; then
	skip "namespace checks need root"
elif ! command -v unshare >/dev/null || ! command -v nft >/dev/null ||
	! command -v ip >/dev/null; then
	fail "namespace checks need unshare, nft and ip"
else
	timeout -k 2 60 unshare -n bash "${BASH_SOURCE[0]}" --in-netns "$TMP" \
		>"$TMP/ns.log" 2>&1
	rc=$?
	cat "$TMP/ns.log"
	n=$(grep -c '^FAIL' "$TMP/ns.log")
	FAILS=$((FAILS + n))
	if [ $rc -ne 0 ] && [ "$n" -eq 0 ]; then
		fail "namespace checks ended with status $rc"
	fi
	if ! grep -q '^PASS' "$TMP/ns.log"; then
		fail "namespace checks ran nothing"
	fi
fi

if [ $FAILS -gt 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
