#!/usr/bin/env bash
# test_dns.sh - `ringprobe tcp|http` with hostnames, against resolvers on
# loopback only: a dnsmasq started here (hosts file, .test names only,
# every query logged), and a "silent" resolver (a python3 UDP socket that
# reads, logs and drops every query). Results are checked by parsing the
# JSON Lines output with python3.
#
# Checks: 20,000 distinct names (A, AAAA-only, A+AAAA) -> 20,000 results
# with the right address each; NXDOMAIN / REFUSED / timeout reasons; the
# summary's dns-error count; localhost through /etc/hosts and --no-hosts;
# one lookup per name with 200 ports (dnsmasq's query log); -4 / -6;
# resolver lists with a dead first server and an IPv6 server; bad options;
# `ringprobe http` with a name (url and Host keep the name); SIGINT with
# thousands of lookups in flight; and, under strace, that the resolver's
# sockets are non-blocking, the loop thread never blocks outside
# io_uring_enter, no threads are started and glibc's getaddrinfo is not
# used.
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
DNSMASQ=$(command -v dnsmasq || { [ -x /usr/sbin/dnsmasq ] && echo /usr/sbin/dnsmasq; })
if [ -z "$DNSMASQ" ]; then
	echo "SKIP: dnsmasq is not installed (Debian package dnsmasq-base)"
	exit 77
fi
need_exec "$RINGPROBE" "$RP_TEST_SERVER"
TMP=$(mktemp -d /tmp/rp_test_dns.XXXXXX)
chmod 755 "$TMP" # dnsmasq may read its hosts file as another user

if ! timeout -k 2 10 "$RINGPROBE" tcp --help >"$TMP/help" 2>&1 ||
	! grep -q -- '--resolver' "$TMP/help"; then
	echo "FAIL: '$RINGPROBE tcp --help' does not mention --resolver"
	exit 1
fi
NOPROG=()
grep -q -- '--no-progress' "$TMP/help" && NOPROG=(--no-progress)

# ---- python helpers --------------------------------------------------------

# The names: n00000.test .. n19999.test with A records spread over
# 127.1.0.0/16 (x.1 .. x.254), every 64th (i % 64 == 5) AAAA ::1 only,
# every 64th (i % 64 == 9) both A and AAAA (IPv4 is preferred); plus a few
# fixed names. Writes the dnsmasq hosts file, the list of the 20,000 names
# and a JSON map name -> expected address (default family).
cat >"$TMP/gen.py" <<'PY'
import json, random, sys
d = sys.argv[1]
rng = random.Random(20240611)
slots = rng.sample(range(256 * 254), 20000)
hosts, names, want = [], [], {}
for i, k in enumerate(slots):
    n = f"n{i:05d}.test"
    v4 = f"127.1.{k // 254}.{1 + k % 254}"
    names.append(n)
    if i % 64 == 5:
        hosts.append(f"::1 {n}")
        want[n] = "::1"
    else:
        hosts.append(f"{v4} {n}")
        if i % 64 == 9:
            hosts.append(f"::1 {n}")
        want[n] = v4
fixed = [("127.0.0.1", "www1.test"), ("127.2.0.1", "once.test"),
         ("127.2.0.4", "once4.test"), ("::1", "v6only.test"),
         ("127.2.0.2", "dual.test"), ("::1", "dual.test"),
         ("127.2.0.3", "v4only.test")]
for ip, n in fixed:
    hosts.append(f"{ip} {n}")
for i in range(3000):
    hosts.append(f"127.2.{1 + i // 250}.{1 + i % 250} q{i:04d}.test")
open(f"{d}/hosts", "w").write("\n".join(hosts) + "\n")
open(f"{d}/names.txt", "w").write("\n".join(names) + "\n")
json.dump(want, open(f"{d}/want.json", "w"))
PY

# dnsq.py PORT NAME [TYPE]: one query to 127.0.0.1:PORT; prints the rcode
# and exits 0 on an answer, 1 on silence (0.2 s) or a refused port.
cat >"$TMP/dnsq.py" <<'PY'
import os, socket, struct, sys
port, name = int(sys.argv[1]), sys.argv[2]
qt = {"A": 1, "AAAA": 28}[sys.argv[3] if len(sys.argv) > 3 else "A"]
qid = int.from_bytes(os.urandom(2), "big")
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
q += struct.pack(">HH", qt, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
try:
    s.sendto(q, ("127.0.0.1", port))
    while True:
        a = s.recv(1500)
        if len(a) >= 12 and struct.unpack(">H", a[:2])[0] == qid:
            print(a[3] & 15)
            sys.exit(0)
except OSError:
    sys.exit(1)
PY

# sink.py LOG: a resolver that never answers. Prints its port, then logs
# "<qname> <qtype>" of every query to LOG (flushed) and drops it. Ends by
# itself after 250 s.
cat >"$TMP/sink.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
print(s.getsockname()[1], flush=True)
log = open(sys.argv[1], "w")
end = time.monotonic() + 250
s.settimeout(1)
while time.monotonic() < end:
    try:
        p = s.recv(1500)
    except socket.timeout:
        continue
    o, labels = 12, []
    while o < len(p) and p[o] and len(labels) < 128:
        labels.append(p[o + 1:o + 1 + p[o]].decode("ascii", "replace"))
        o += 1 + p[o]
    qt = int.from_bytes(p[o + 1:o + 3], "big") if o + 3 <= len(p) else 0
    log.write(".".join(labels).lower() + f" {qt}\n")
    log.flush()
PY

# The jcheck prelude (tests/helpers/jcheck.py): every record has at least
# the keys input, index, ip, port, status, dns_us, detail; no index twice;
# W (want.json: name -> address) is there for the EXPRs.
cat >"$TMP/jprelude.py" <<'PY'
KEYS = ["input", "index", "ip", "port", "status", "dns_us", "detail"]
UNIQUE_INDEX = True
W = json.load(open(os.path.join(os.path.dirname(fname), "want.json")))
PY

# ---- helpers -----------------------------------------------------------------

RC=0
MS=0
# run NAME CMD ARGS...: runs `ringprobe CMD -f jsonl ARGS` (60 s at most)
# into $TMP/NAME.jsonl and $TMP/NAME.err; sets RC and MS (wall time).
run() {
	local name=$1 cmd=$2 t0
	shift 2
	t0=$(now_ms)
	timeout -k 2 60 "$RINGPROBE" "$cmd" -f jsonl "${NOPROG[@]}" "$@" \
		>"$TMP/$name.jsonl" 2>"$TMP/$name.err" </dev/null
	RC=$?
	MS=$(($(now_ms) - t0))
}


# Number of dnsmasq log lines "query[TYPE] NAME from".
qcount() {
	grep -c "query\[$1\] $2 from" "$TMP/dnsmasq.log"
}

# ---- resolvers and servers -----------------------------------------------------

python3 "$TMP/gen.py" "$TMP" || {
	echo "FAIL: could not generate the hosts file"
	exit 1
}

DNS_PORT=
DNS_PID=
ROOTUSER=()
[ "$(id -u)" -eq 0 ] && ROOTUSER=(--user=root)
for ((attempt = 0; attempt < 5; attempt++)); do
	[ -n "$DNS_PORT" ] && break
	port=$(python3 -c '
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
t = socket.socket()
t.bind(("127.0.0.1", u.getsockname()[1]))
print(u.getsockname()[1])')
	"$DNSMASQ" --no-daemon --keep-in-foreground --conf-file=/dev/null \
		--port="$port" --listen-address=127.0.0.1 --listen-address=::1 \
		--bind-interfaces --no-resolv --no-hosts \
		--addn-hosts="$TMP/hosts" --local=/test/ --cache-size=0 \
		--pid-file= "${ROOTUSER[@]}" --log-queries \
		--log-facility="$TMP/dnsmasq.log" >/dev/null \
		2>"$TMP/dnsmasq.err" &
	pid=$!
	PIDS+=("$pid")
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		if python3 "$TMP/dnsq.py" "$port" ready.test >/dev/null; then
			DNS_PORT=$port
			DNS_PID=$pid
			break
		fi
		sleep 0.1
	done
	if [ -z "$DNS_PORT" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
done
if [ -z "$DNS_PORT" ]; then
	echo "FAIL: dnsmasq did not start: $(tail -c 300 "$TMP/dnsmasq.err")"
	exit 1
fi
echo "dnsmasq (pid $DNS_PID) on 127.0.0.1:$DNS_PORT and [::1]:$DNS_PORT"
RES=(--resolver "127.0.0.1:$DNS_PORT")

python3 "$TMP/sink.py" "$TMP/sink.log" >"$TMP/sink.port" 2>"$TMP/sink.err" &
PIDS+=("$!")
for ((i = 0; i < 100; i++)); do
	[ -s "$TMP/sink.port" ] && break
	sleep 0.05
done
SINK=$(head -1 "$TMP/sink.port")
if ! [[ "$SINK" =~ ^[0-9]+$ ]]; then
	echo "FAIL: the silent resolver did not start: $(cat "$TMP/sink.err")"
	exit 1
fi

# A TCP port nobody listens on, on any address.
CPORT=$(python3 -c '
busy = set()
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        for line in list(open(f))[1:]:
            p = line.split()
            if p[3] == "0A":
                busy.add(int(p[1].rsplit(":", 1)[1], 16))
    except OSError:
        pass
print(next(p for p in (9, 7, 13, 19, 37, 42, 79, 1, 3, 1023) if p not in busy))')

# rp_target_server: one accept-close port and one HTTP port on 127.0.0.1.
start_server tserver 1 --ports 1 --max-seconds 200 || exit 1
OPEN=${PORTS[0]}
start_server hserver 1 --mode http --ports 1 --max-seconds 200 || exit 1
HP=${PORTS[0]}

# ---- 1. 20,000 distinct names --------------------------------------------------

run big tcp "${RES[@]}" -p "$CPORT" -i "$TMP/names.txt"
echo "    20000 names: exit $RC in $MS ms"
check big 20000 "20000 names -> 20000 results, each name once, right address, closed" \
	'sorted(by) == sorted(W)' \
	'all(len(v) == 1 for v in by.values())' \
	'not [x for x in R if x["status"] == "dns-error"]' \
	'[x for x in R if x["ip"] != W[x["input"]]] == []' \
	'all(x["status"] == "closed" for x in R)' \
	"all(x['port'] == $CPORT for x in R)" \
	'sum(1 for x in R if x["ip"] == "::1") == 313' \
	'all(isinstance(x["dns_us"], int) and x["dns_us"] > 0 for x in R)'
if [ "$MS" -lt 30000 ]; then
	pass "20000 names resolved and probed in $MS ms (< 30 s)"
else
	fail "20000 names took $MS ms"
fi
sleep 0.2
python3 - "$TMP/dnsmasq.log" <<'PY'
import collections, re, sys
c = collections.Counter()
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"query\[(A|AAAA)\] (n\d{5}\.test) from", line)
    if m:
        c[m.groups()] += 1
dup = {k: v for k, v in c.items() if v > 1}
print(f"    dnsmasq saw {len(c)} (name, type) queries; asked again "
      f"(retransmits): {len(dup)}")
PY

# ---- 2. failure reasons and the summary -----------------------------------------

run nx tcp "${RES[@]}" -p "$CPORT" --summary nope.test
# What a run costs besides its probes (start, teardown: more under ASan
# and on a loaded machine): the wall-time bounds below add it.
BASE_MS=$MS
check nx 1 "nope.test -> dns-error NXDOMAIN" \
	'r["status"] == "dns-error"' '"NXDOMAIN" in (r["detail"] or "")' \
	'r["ip"] is None' 'r["input"] == "nope.test"'
if grep -q 'dns-error 1' "$TMP/nx.err"; then
	pass "the summary counts the dns-error"
else
	fail "summary without 'dns-error 1': $(tr '\n' '|' <"$TMP/nx.err" | head -c 300)"
fi

# dnsmasq answers REFUSED for names outside .test.
run refused tcp "${RES[@]}" -p "$CPORT" outside.invalid
check refused 1 "a REFUSED answer -> dns-error 'refused'" \
	'r["status"] == "dns-error"' '"refused" in (r["detail"] or "").lower()'

run tmo tcp --resolver "127.0.0.1:$SINK" --dns-timeout 500ms --dns-retries 0 \
	-p "$CPORT" sink1.test
check tmo 1 "silent resolver -> dns-error timeout" \
	'r["status"] == "dns-error"' '"timeout" in (r["detail"] or "")'
if [ "$MS" -ge 450 ] && [ "$MS" -lt $((1500 + BASE_MS)) ]; then
	pass "--dns-timeout 500ms --dns-retries 0: gave up after $MS ms"
else
	fail "--dns-timeout 500ms --dns-retries 0: $MS ms (expected 500..1500 + $BASE_MS)"
fi
# The overall deadline covers resolution: --timeout 700ms ends a lookup
# that c-ares would go on with for 5 s.
run dl tcp --resolver "127.0.0.1:$SINK" --dns-timeout 5s --timeout 700ms \
	-p "$CPORT" sink2.test sink3.test
check dl 2 "--timeout 700ms with a silent resolver -> dns-error timeout" \
	'all(x["status"] == "dns-error" for x in R)' \
	'all("timeout" in (x["detail"] or "") for x in R)' \
	'all(650000 <= x["elapsed_us"] < 1200000 for x in R)'
if [ "$MS" -ge 650 ] && [ "$MS" -lt $((1500 + BASE_MS)) ]; then
	pass "--timeout 700ms bounds resolution: $MS ms"
else
	fail "--timeout 700ms with --dns-timeout 5s: $MS ms (expected 700..1500 + $BASE_MS)"
fi

# A first server that never answers, then dnsmasq; and dnsmasq over IPv6.
run list tcp --resolver "127.0.0.1:$SINK,127.0.0.1:$DNS_PORT" \
	--dns-timeout 300ms -p "$CPORT" n00001.test
check list 1 "--resolver SILENT,DNSMASQ: fails over to the second server ($MS ms)" \
	'r["status"] == "closed"' 'r["ip"] == W["n00001.test"]'
run v6res tcp --resolver "[::1]:$DNS_PORT" -p "$CPORT" n00002.test
check v6res 1 "--resolver [::1]:PORT" \
	'r["status"] == "closed"' 'r["ip"] == W["n00002.test"]'

# Upper case (DNS is case-insensitive) and name:port.
run odd tcp "${RES[@]}" -p "$CPORT" N00003.TEST "n00004.test:$OPEN"
check odd 2 "upper-case name; name:port overrides -p" \
	'by["N00003.TEST"][0]["ip"] == W["n00003.test"]' \
	"by['n00004.test:$OPEN'][0]['port'] == $OPEN" \
	"by['n00004.test:$OPEN'][0]['ip'] == W['n00004.test']"

# Names that cannot be names: one invalid result each, exit 3 (the scan
# completed with invalid lines).
long=$(printf 'a%.0s' {1..300}).test
run badname tcp "${RES[@]}" -p "$CPORT" "$long" bad..name
if [ "$RC" -eq 3 ] && jcheck "$TMP/badname.jsonl" 2 \
	'all(x["status"] == "invalid" and x["detail"] for x in R)' \
	>"$TMP/badname.chk" 2>&1; then
	pass "a 305-byte name and 'bad..name': invalid results, exit 3"
else
	fail "bad names: exit $RC"
	cat "$TMP/badname.chk"
fi

expect_exit() { # expect_exit WANT DESC ARGS...
	local want=$1 desc=$2 rc
	shift 2
	timeout -k 2 20 "$RINGPROBE" "$@" >"$TMP/ec.out" 2>"$TMP/ec.err" </dev/null
	rc=$?
	if [ $rc -eq "$want" ]; then
		pass "exit $want: $desc"
	else
		fail "exit $rc, expected $want: $desc ($(head -c 200 "$TMP/ec.err"))"
	fi
}
expect_exit 2 "--resolver not-an-ip" tcp --resolver not-an-ip -p 9 n00001.test
expect_exit 2 "--dns-timeout 5x" tcp "${RES[@]}" --dns-timeout 5x -p 9 n00001.test
expect_exit 2 "--dns-retries -1" tcp "${RES[@]}" --dns-retries -1 -p 9 n00001.test

# ---- 3. /etc/hosts ---------------------------------------------------------------

run lh tcp -p "$OPEN" localhost
check lh 1 "localhost via /etc/hosts (no --resolver): probed" \
	'r["ip"] in ("127.0.0.1", "::1")' \
	'r["status"] == ("open" if r["ip"] == "127.0.0.1" else "closed")'

# A name /etc/hosts has (other than localhost): found there, unless
# --no-hosts; dnsmasq (the only server given) does not know it.
HNAME=$(python3 -c '
import ipaddress
for line in open("/etc/hosts"):
    f = line.split("#")[0].split()
    if len(f) < 2:
        continue
    try:
        ip = ipaddress.ip_address(f[0])
    except ValueError:
        continue
    for n in f[1:]:
        if ip.is_loopback and ip.version == 4 and "localhost" not in n \
                and not n.endswith(".test"):
            print(ip, n)
            raise SystemExit' 2>/dev/null)
if [ -z "$HNAME" ]; then
	skip "--no-hosts: /etc/hosts has no loopback name besides localhost"
else
	read -r HIP HN <<<"$HNAME"
	run hosts tcp "${RES[@]}" -p "$CPORT" "$HN"
	check hosts 1 "$HN from /etc/hosts -> $HIP" "r['ip'] == '$HIP'"
	run nohosts tcp "${RES[@]}" --no-hosts -p "$CPORT" "$HN"
	check nohosts 1 "--no-hosts: $HN is not looked up in /etc/hosts" \
		'r["status"] == "dns-error"'
fi

# ---- 4. one lookup per name ---------------------------------------------------------

run once tcp "${RES[@]}" -p 1-200 once.test
check once 200 "once.test with -p 1-200 -> 200 results, ports 1..200, one address" \
	'sorted(x["port"] for x in R) == list(range(1, 201))' \
	'set(x["ip"] for x in R) == {"127.2.0.1"}'
sleep 0.2
na=$(qcount A once.test)
naaaa=$(qcount AAAA once.test)
if [ "$na" -eq 1 ] && [ "$naaaa" -le 1 ]; then
	pass "dnsmasq was asked once for once.test (A $na, AAAA $naaaa)"
else
	fail "dnsmasq was asked $na A and $naaaa AAAA queries for once.test"
fi
# Enough ports that every worker thread (--threads, default: the CPUs)
# gets some: the run still asks once.
run once4 tcp -4 "${RES[@]}" -p 1-3000 once4.test
sleep 0.2
na=$(qcount A once4.test)
naaaa=$(qcount AAAA once4.test)
if [ "$RC" -le 1 ] && [ "$(wc -l <"$TMP/once4.jsonl")" -eq 3000 ] &&
	[ "$na" -eq 1 ] && [ "$naaaa" -eq 0 ]; then
	pass "-4 with -p 1-3000: 3000 results, one A query, no AAAA"
else
	fail "-4 -p 1-3000: $(wc -l <"$TMP/once4.jsonl") results, $na A and $naaaa AAAA queries for once4.test (expected 1 and 0)"
fi

# ---- 5. -4 / -6 ----------------------------------------------------------------------

run fam tcp "${RES[@]}" -p "$CPORT" dual.test v6only.test v4only.test
check fam 3 "default family: A+AAAA -> IPv4, AAAA only -> ::1, A only -> IPv4" \
	'by["dual.test"][0]["ip"] == "127.2.0.2"' \
	'by["v6only.test"][0]["ip"] == "::1"' \
	'by["v4only.test"][0]["ip"] == "127.2.0.3"'
run fam6 tcp -6 "${RES[@]}" -p "$CPORT" dual.test v6only.test v4only.test
check fam6 3 "-6: ::1 for AAAA names, 'no address' for an A-only name" \
	'by["dual.test"][0]["ip"] == "::1"' \
	'by["v6only.test"][0]["ip"] == "::1"' \
	'by["v6only.test"][0]["status"] == "closed"' \
	'by["v4only.test"][0]["status"] == "dns-error"' \
	'"no address" in (by["v4only.test"][0]["detail"] or "")'
run fam4 tcp -4 "${RES[@]}" -p "$CPORT" dual.test v6only.test
check fam4 2 "-4: IPv4 for A+AAAA, 'no address' for an AAAA-only name" \
	'by["dual.test"][0]["ip"] == "127.2.0.2"' \
	'by["v6only.test"][0]["status"] == "dns-error"' \
	'"no address" in (by["v6only.test"][0]["detail"] or "")'

run alla tcp --all-addrs "${RES[@]}" -p "$CPORT" dual.test v4only.test
JCHECK_SAME_INDEX_OK=1 check alla 3 "--all-addrs: A+AAAA -> two results (IPv4 first), same index; A only -> one" \
	'len(by["dual.test"]) == 2' \
	'by["dual.test"][0]["ip"] == "127.2.0.2" or by["dual.test"][1]["ip"] == "127.2.0.2"' \
	'{r["ip"] for r in by["dual.test"]} == {"127.2.0.2", "::1"}' \
	'by["dual.test"][0]["index"] == by["dual.test"][1]["index"]' \
	'len(by["v4only.test"]) == 1'

# ---- 6. http with a name ------------------------------------------------------------------

run http http "${RES[@]}" "http://www1.test:$HP/echo" "http://www1.test:$HP/fixed" \
	"http://nope.test:$HP/fixed"
check http 3 "http://www1.test:PORT/...: ok 200, url and Host keep the name" \
	"by['http://www1.test:$HP/echo'][0]['status'] == 'ok'" \
	"by['http://www1.test:$HP/echo'][0]['http_status'] == 200" \
	"by['http://www1.test:$HP/echo'][0]['url'] == 'http://www1.test:$HP/echo'" \
	"by['http://www1.test:$HP/echo'][0]['ip'] == '127.0.0.1'" \
	"'host=www1.test:$HP' in by['http://www1.test:$HP/echo'][0]['title']" \
	"by['http://www1.test:$HP/fixed'][0]['title'] == 'Fixed Page'" \
	"by['http://nope.test:$HP/fixed'][0]['status'] == 'dns-error'" \
	"'NXDOMAIN' in by['http://nope.test:$HP/fixed'][0]['detail']"

# ---- 7. SIGINT with thousands of lookups in flight -----------------------------------

mapfile -t QN < <(for ((i = 0; i < 3000; i++)); do printf 'q%04d.test\n' "$i"; done)
off=$(stat -c %s "$TMP/sink.log") # what the sink logged before this run
sinklog() { tail -c +$((off + 1)) "$TMP/sink.log"; }
"$RINGPROBE" tcp --resolver "127.0.0.1:$SINK" --dns-timeout 5s \
	--dns-concurrency 2000 -c 2000 -p "$CPORT" -f jsonl "${NOPROG[@]}" \
	--summary "${QN[@]}" >"$TMP/int.jsonl" 2>"$TMP/int.err" </dev/null &
pid=$!
PIDS+=("$pid")
for ((i = 0; i < 300; i++)); do # until the sink saw 1000 names (3 s max)
	[ "$(sinklog | cut -d' ' -f1 | sort -u | wc -l)" -ge 1000 ] && break
	sleep 0.01
done
sleep 0.2
sinklog >"$TMP/sink_at_int.log"
t0=$(now_ms)
kill -INT "$pid"
if wait_gone "$pid" 1500; then
	wait "$pid"
	rc=$?
	t1=$(now_ms)
	if [ $rc -eq 130 ] && [ $((t1 - t0)) -lt 1500 ]; then
		pass "SIGINT with lookups in flight: exit 130 after $((t1 - t0)) ms"
	else
		fail "SIGINT with lookups in flight: exit $rc after $((t1 - t0)) ms"
	fi
else
	fail "SIGINT with lookups in flight: still running 1.5 s after the signal"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid"
fi
if python3 - "$TMP/int.jsonl" "$TMP/sink_at_int.log" "$TMP/int.err" <<'PY'; then
import json, re, sys
R = [json.loads(l) for l in open(sys.argv[1])]
asked = {l.split()[0] for l in open(sys.argv[2]) if l.strip()}
err = open(sys.argv[3]).read()
bad = []
ins = [r["input"] for r in R]
if len(set(ins)) != len(ins):
    bad.append(f"{len(ins) - len(set(ins))} inputs printed twice")
if len({r["index"] for r in R}) != len(R):
    bad.append("duplicate indexes")
st = {r["status"] for r in R}
if st != {"cancelled"}:
    bad.append(f"statuses {st}, expected only cancelled")
missing = asked - set(ins)
if missing:
    bad.append(f"{len(missing)} names being looked up got no result, "
               f"e.g. {sorted(missing)[:3]}")
if len(asked) < 1000:
    bad.append(f"only {len(asked)} names had reached the resolver")
m = re.search(r"(\d+) targets never started", err)
if not m or int(m.group(1)) + len(R) != 3000:
    bad.append(f"results {len(R)} + never started "
               f"{m.group(1) if m else '?'} != 3000")
print(f"    {len(asked)} names at the resolver at SIGINT, {len(R)} results")
for b in bad:
    print("   ", b)
sys.exit(1 if bad else 0)
PY
	pass "SIGINT: every name in flight printed once, cancelled; the rest never started"
else
	fail "SIGINT: results (see above)"
fi

# ---- 8. strace: no blocking resolver calls on the loop thread -----------------------

# stcheck.py TRACE PORT: problems in an `strace -f` log, one per line;
# exit 1 if any.
cat >"$TMP/stcheck.py" <<'PY'
import re, sys
path, port = sys.argv[1], int(sys.argv[2])
calls = []  # (pid, name, args, ret)
pending = {}
for line in open(path, errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"(\d+)\s+(.*)$", line)
    if not m:
        continue
    pid, rest = int(m.group(1)), m.group(2)
    if rest.endswith("<unfinished ...>"):
        pending[pid] = rest[: -len("<unfinished ...>")]
        continue
    m = re.match(r"<\.\.\. \w+ resumed>(.*)$", rest)
    if m:
        rest = pending.pop(pid, "") + m.group(1)
    m = re.match(r"(\w+)\((.*)\)\s+=\s+(-?\w+)", rest)
    if m:
        calls.append((pid, m.group(1), m.group(2), m.group(3)))
bad, notes, started = [], [], []
loop = {p for p, n, a, r in calls if n == "io_uring_setup"}
if not loop:
    bad.append("no io_uring_setup in the trace")
nonblock, dns, seen = {}, set(), []
for p, n, a, r in calls:
    fd = a.split(",")[0].strip()
    if n == "socket" and r.isdigit():
        nonblock[r] = "SOCK_NONBLOCK" in a
        dns.discard(r)
    elif n == "fcntl" and "F_SETFL" in a:
        nonblock[fd] = "O_NONBLOCK" in a
    elif n == "ioctl" and "FIONBIO" in a:
        nonblock[fd] = "[1]" in a
    elif n == "close":
        dns.discard(fd)
    elif n in ("connect", "sendto", "sendmsg", "sendmmsg"):
        pm = re.search(r"sin6?_port=htons\((\d+)\)", a)
        if pm and int(pm.group(1)) == 53:
            bad.append(f"a query to port 53 (not the --resolver): {n}({a[:120]})")
        if pm and int(pm.group(1)) == port and fd not in dns:
            dns.add(fd)
            seen.append(fd)
            if not nonblock.get(fd, False):
                bad.append(f"resolver socket {fd} used blocking: "
                           f"{n}({a[:120]}) by {p}")
    if n in ("recvfrom", "recvmsg", "recv", "read", "send", "write") and \
            fd in dns and not nonblock.get(fd, False):
        bad.append(f"{n} on blocking resolver socket {fd}")
    if p in loop:
        blocking = False
        if n == "poll" and a.rsplit(",", 1)[-1].strip() != "0":
            blocking = True
        elif n == "epoll_wait" and a.rsplit(",", 1)[-1].strip() != "0":
            blocking = True
        elif n in ("epoll_pwait", "epoll_pwait2") and \
                a.rsplit(",", 3)[-3].strip() not in ("0", "{tv_sec=0, tv_nsec=0}"):
            blocking = True
        elif n in ("ppoll", "select", "pselect6") and \
                not re.search(r"tv_sec=0, tv_u?nsec=0\}", a):
            blocking = True
        elif n in ("nanosleep", "clock_nanosleep", "pause", "wait4"):
            blocking = True
        if blocking:
            bad.append(f"loop thread {p} blocks in {n}({a[:100]})")
    if n in ("clone", "clone3", "fork", "vfork") and r.isdigit():
        started.append((n, int(r)))
    if n in ("open", "openat"):
        fm = re.search(r'"([^"]+)"', a)
        f = fm.group(1) if fm else ""
        if f == "/etc/gai.conf" or "libnss_" in f or "libresolv" in f:
            bad.append(f"getaddrinfo machinery: {n} {f}")
        if f in ("/etc/nsswitch.conf", "/etc/host.conf", "/etc/resolv.conf",
                 "/etc/hosts"):
            notes.append(f"{f} opened by {p}")
for n, t in started:
    if t not in loop:
        bad.append(f"{n}() started {t}, which runs no engine (a resolver "
                   f"thread or process?)")
if not seen:
    notes.append("no resolver socket seen (not created with socket(2))")
for x in sorted(set(notes)):
    print("    note:", x)
print(f"    {len(calls)} calls; engine threads {sorted(loop)}; "
      f"{len(seen)} resolver socket(s), all non-blocking before use")
for b in bad[:15]:
    print("   ", b)
sys.exit(1 if bad else 0)
PY

# The checker must catch a trace of a blocking resolver.
cat >"$TMP/fake.trace" <<EOF
100 io_uring_setup(64, {flags=0}) = 3
100 io_uring_enter(3, 1, 1, IORING_ENTER_GETEVENTS, NULL, 8) = 1
100 openat(AT_FDCWD, "/etc/gai.conf", O_RDONLY|O_CLOEXEC) = 5
100 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 6
100 connect(6, {sa_family=AF_INET, sin_port=htons($DNS_PORT), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
100 poll([{fd=6, events=POLLIN}], 1, 5000) = 1 ([{fd=6, revents=POLLIN}])
100 recvfrom(6, "..."..., 2048, 0, NULL, NULL) = 40
100 clone3({flags=CLONE_VM|CLONE_THREAD, stack_size=0x7ff080}, 88) = 101
101 nanosleep({tv_sec=1, tv_nsec=0}, NULL) = 0
EOF
python3 "$TMP/stcheck.py" "$TMP/fake.trace" "$DNS_PORT" >"$TMP/fake.chk" 2>&1
if [ $? -eq 1 ] && [ "$(grep -c -e 'gai.conf' -e 'used blocking' -e 'blocks in poll' \
	-e 'blocking resolver socket' -e 'runs no engine' "$TMP/fake.chk")" -eq 5 ]; then
	pass "strace checker flags a blocking resolver's trace"
else
	fail "strace checker missed problems in a synthetic trace:"
	cat "$TMP/fake.chk"
fi

if ! command -v strace >/dev/null; then
	skip "strace is not installed: no syscall check"
else
	names=()
	for i in 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29; do
		names+=("n000$i.test")
	done
	# LeakSanitizer's exit-time tracer would show up as a thread (and it
	# cannot ptrace under strace anyway).
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		timeout -k 2 60 strace -f -qq -o "$TMP/strace.txt" "$RINGPROBE" tcp \
		"${RES[@]}" -p "$CPORT" -f jsonl "${NOPROG[@]}" "${names[@]}" \
		nope.test >"$TMP/st.jsonl" 2>"$TMP/st.err" </dev/null
	rc=$?
	if [ $rc -gt 1 ] || [ "$(wc -l <"$TMP/st.jsonl")" -ne 21 ] ||
		[ "$(grep -c '"status":"closed"' "$TMP/st.jsonl")" -ne 20 ]; then
		fail "strace run: exit $rc, $(wc -l <"$TMP/st.jsonl") results: $(head -c 300 "$TMP/st.err")"
	elif python3 "$TMP/stcheck.py" "$TMP/strace.txt" "$DNS_PORT" \
		>"$TMP/st.chk" 2>&1; then
		cat "$TMP/st.chk"
		if grep -q 'no resolver socket seen' "$TMP/st.chk"; then
			skip "strace: no resolver socket visible to check for O_NONBLOCK"
		fi
		pass "strace: non-blocking resolver sockets, engine threads wait only in io_uring_enter, no resolver threads, no getaddrinfo"
	else
		fail "strace: blocking or getaddrinfo-style resolver calls:"
		cat "$TMP/st.chk"
	fi
fi

# Sanitizer builds: any report in any stderr we kept is a failure.
if grep -l -E 'Sanitizer|runtime error:' "$TMP"/*.err >"$TMP/san.list" 2>/dev/null; then
	fail "sanitizer reports in: $(tr '\n' ' ' <"$TMP/san.list")"
else
	pass "no sanitizer reports on stderr"
fi

# dnsmasq must still be the one we started (nothing killed it meanwhile).
if kill -0 "$DNS_PID" 2>/dev/null; then
	pass "dnsmasq still running"
else
	fail "dnsmasq died during the test: $(tail -c 300 "$TMP/dnsmasq.err")"
fi

if [ $FAILS -gt 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
