#!/usr/bin/env bash
# test_cli_exclude.sh - exclude lists and port selection through the CLI:
# no connect ever reaches an excluded address, however it was reached (a
# CIDR block, an address line, a name's addresses with --all-addrs, a
# followed redirect); blocks skip and count, single targets report
# `excluded`; bad lists are usage errors naming FILE:LINE; --top-ports,
# --exclude-ports and tcp's default top 100 from nmap's table (or a clear
# message without it).
#
# The witness is the kernel, not the program: the whole test runs in a
# private network namespace (it re-runs itself under `unshare -n`), where
# an nftables output rule adds the destination of every TCP SYN to a set;
# an excluded address must never appear in it, and the addresses that
# were not excluded must (so the witness is seen to work). Names come from
# a dnsmasq started here; redirects from our target server.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

if [ "${1:-}" != --in-netns ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: needs root for a private network namespace"
		exit 77
	fi
	need_tools unshare nft ip
	exec timeout -k 2 240 unshare -n bash "${BASH_SOURCE[0]}" --in-netns
fi

need_exec "$RINGPROBE" "$RP_TEST_SERVER"
TMP=$(mktemp -d)
chmod 755 "$TMP" # dnsmasq may read its hosts file as another user
ip link set lo up || { echo "FAIL: ip link set lo up"; exit 1; }
nft -f - <<'NFT' || { echo "FAIL: nft rules"; exit 1; }
table inet rp_excl {
  set syn4 { type ipv4_addr; flags dynamic; size 65536; }
  chain out {
    type filter hook output priority 0; policy accept;
    tcp flags & (syn | ack) == syn add @syn4 { ip daddr }
  }
}
NFT

seen_reset() { nft flush set inet rp_excl syn4; }
# The addresses that got a SYN since the last reset, one per line.
seen() {
	nft list set inet rp_excl syn4 |
		grep -oE '[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+' | sort -u
}
# never_seen DESC ADDR...: passes if no SYN went to any ADDR.
never_seen() {
	local desc=$1 a bad=
	shift
	seen >"$TMP/seen"
	for a in "$@"; do
		grep -qxF "$a" "$TMP/seen" && bad="$bad $a"
	done
	if [ -z "$bad" ]; then
		pass "$desc: no SYN to $*"
	else
		fail "$desc: SYN sent to excluded$bad"
	fi
}
# all_seen DESC ADDR...: passes if a SYN went to every ADDR.
all_seen() {
	local desc=$1 a miss=
	shift
	seen >"$TMP/seen"
	for a in "$@"; do
		grep -qxF "$a" "$TMP/seen" || miss="$miss $a"
	done
	if [ -z "$miss" ]; then
		pass "$desc: SYNs seen to the others"
	else
		fail "$desc: no SYN to$miss (the witness does not work?)"
	fi
}
# pycheck DESC FILE EXPR: passes if the python EXPR holds for R, the
# records of the JSONL FILE.
pycheck() {
	local desc=$1 file=$2 expr=$3
	if "$PY" - "$file" "$expr" <<'PY' >"$TMP/py.out" 2>&1; then
import json, sys
R = [json.loads(l) for l in open(sys.argv[1])]
ok = eval("(" + sys.argv[2] + ")")
if not ok:
    for r in R:
        print("   ", json.dumps(r)[:300])
sys.exit(0 if ok else 1)
PY
		pass "$desc"
	else
		fail "$desc"
		head -c 2000 "$TMP/py.out"
	fi
}
run() { # run NAME ARGS...: the CLI, into $TMP/NAME.jsonl / .err, RC
	local name=$1
	shift
	timeout -k 2 60 "$RINGPROBE" "$@" >"$TMP/$name.jsonl" 2>"$TMP/$name.err"
	RC=$?
}

# ---- 1. a block, an address line, an exclude list and file --------------
printf '# a blocklist\n\n127.1.0.12-127.1.0.13   # two\n' >"$TMP/x.txt"
seen_reset
run cidr tcp -f jsonl -p 9 --summary --no-progress \
	--exclude 127.1.0.4/30,127.1.0.9 --exclude-file "$TMP/x.txt" \
	127.1.0.0/28 127.1.0.9
EXCL=(127.1.0.4 127.1.0.5 127.1.0.6 127.1.0.7 127.1.0.9 127.1.0.12 127.1.0.13)
never_seen "CIDR + address line" "${EXCL[@]}"
all_seen "CIDR + address line" 127.1.0.0 127.1.0.3 127.1.0.8 127.1.0.15
pycheck "CIDR: 9 results in the block, the address line one 'excluded'" \
	"$TMP/cidr.jsonl" \
	'len(R) == 10 and sum(r["status"] == "closed" for r in R) == 9 and
	 [(r["input"], r["ip"], r["attempts"]) for r in R
	  if r["status"] == "excluded"] == [("127.1.0.9", "127.1.0.9", 0)] and
	 not any(r["ip"] in ("127.1.0.4", "127.1.0.13") and
	         r["status"] != "excluded" for r in R)'
if [ "$RC" -eq 0 ] &&
	grep -q '^excluded 7 targets in ranges' "$TMP/cidr.err" &&
	grep -q 'closed 9 excluded 1' "$TMP/cidr.err"; then
	pass "summary: 'excluded 7 targets in ranges', 'excluded 1', exit 0"
else
	fail "summary (exit $RC): $(head -c 600 "$TMP/cidr.err")"
fi

# ---- 2. names: every address of --all-addrs, and a single one ------------
cat >"$TMP/hosts" <<'EOF'
127.1.1.1 multi.test
127.1.1.2 multi.test
127.1.1.3 multi.test
127.1.1.2 first.test
EOF
DNS_PORT=5353
/usr/sbin/dnsmasq --no-daemon --keep-in-foreground --conf-file=/dev/null \
	--port=$DNS_PORT --listen-address=127.0.0.1 --bind-interfaces \
	--no-resolv --no-hosts --addn-hosts="$TMP/hosts" --local=/test/ \
	--pid-file= --user=root >/dev/null 2>"$TMP/dnsmasq.err" &
PIDS+=("$!")
for ((i = 0; i < 50; i++)); do
	timeout 2 "$RINGPROBE" tcp -q -f csv --resolver 127.0.0.1:$DNS_PORT \
		first.test:9 2>/dev/null | grep -q closed && break
	sleep 0.1
done
seen_reset
run names tcp -f jsonl -p 9 --no-progress --all-addrs \
	--resolver 127.0.0.1:$DNS_PORT --exclude 127.1.1.2 multi.test first.test
never_seen "names, --all-addrs" 127.1.1.2
all_seen "names, --all-addrs" 127.1.1.1 127.1.1.3
pycheck "names: one result per address, the excluded one 'excluded'" \
	"$TMP/names.jsonl" \
	'sorted((r["input"], r["ip"], r["status"]) for r in R) ==
	 [("first.test", "127.1.1.2", "excluded"),
	  ("multi.test", "127.1.1.1", "closed"),
	  ("multi.test", "127.1.1.2", "excluded"),
	  ("multi.test", "127.1.1.3", "closed")]'

# ---- 3. a followed redirect to an excluded address, and a URL ------------
start_server web 1 --mode http --bind 127.0.0.1 || exit 1
P=${PORTS[0]}
start_server web2 1 --mode http --bind 127.1.2.3 --port "$P" || exit 1
URL="http://127.0.0.1:$P/to?http://127.1.2.3:$P/fixed"
seen_reset
run redir0 http -f jsonl --no-progress --follow 3 --follow-any-host "$URL"
all_seen "redirect without --exclude" 127.1.2.3
pycheck "redirect without --exclude: followed, 200" "$TMP/redir0.jsonl" \
	'len(R) == 1 and R[0]["http_status"] == 200'
seen_reset
run redir http -f jsonl --no-progress --follow 3 --follow-any-host \
	--exclude 127.1.2.3 \
	"$URL" "http://127.1.2.3:$P/fixed"
never_seen "redirect to an excluded address, and its URL" 127.1.2.3
"$PY" - "$TMP/redir.jsonl" "$P" <<'PY' >"$TMP/py.out" 2>&1 &&
import json, sys
R = {r["input"].split("/")[2].split(":")[0]: r
     for r in map(json.loads, open(sys.argv[1]))}
p = sys.argv[2]
a, b = R["127.0.0.1"], R["127.1.2.3"]
want = f"redirect to http://127.1.2.3:{p}/fixed failed: excluded"
sys.exit(0 if len(R) == 2 and a["status"] == "ok" and
         a["http_status"] == 302 and a["detail"] == want and
         b["status"] == "excluded" and b["ip"] == "127.1.2.3" else 1)
PY
	pass "redirect detail '...failed: excluded', URL target 'excluded'" ||
	fail "redirect results: $(head -c 600 "$TMP/redir.jsonl")"

# ---- 4. bad lists: usage errors naming the item, FILE:LINE ---------------
printf '10.0.0.0/8\n\n# c\n10.0.0.1/33\n' >"$TMP/bad.txt"
"$RINGPROBE" tcp --exclude 10.0.0.x 127.0.0.1:9 >/dev/null 2>"$TMP/err"
expect_exit_msg "--exclude with a bad item" $? 2 "'10.0.0.x'"
"$RINGPROBE" tcp --exclude-file "$TMP/bad.txt" 127.0.0.1:9 \
	>/dev/null 2>"$TMP/err"
expect_exit_msg "--exclude-file with a bad line" $? 2 \
	"$TMP/bad.txt:4: '10.0.0.1/33': prefix length above /32"
"$RINGPROBE" tcp --exclude-file "$TMP/none.txt" 127.0.0.1:9 \
	>/dev/null 2>"$TMP/err"
expect_exit_msg "--exclude-file missing" $? 2 "$TMP/none.txt"
"$RINGPROBE" tcp --exclude-ports 0 127.0.0.1 >/dev/null 2>"$TMP/err"
expect_exit_msg "--exclude-ports 0" $? 2 "--exclude-ports"
"$RINGPROBE" tcp --top-ports 0 127.0.0.1 >/dev/null 2>"$TMP/err"
expect_exit_msg "--top-ports 0" $? 2 "--top-ports"

# ---- 5. ports: --top-ports, --exclude-ports, tcp's default ---------------
run xports tcp -f jsonl -p 1-20 --exclude-ports 5-15 127.0.0.1 127.0.0.1:7
pycheck "--exclude-ports: 9 ports probed, '127.0.0.1:7' excluded" \
	"$TMP/xports.jsonl" \
	'sorted(r["port"] for r in R if r["status"] == "closed") ==
	 [1, 2, 3, 4, 16, 17, 18, 19, 20] and
	 [(r["status"], r["detail"]) for r in R if r["input"].endswith(":7")]
	 == [("excluded", "port 7 excluded")]'
NMAP=${RINGPROBE_NMAP_SERVICES:-/usr/share/nmap/nmap-services}
if [ -r "$NMAP" ]; then
	# nmap's order, computed here independently: frequency, then port
	top() {
		awk '$2 ~ /^[0-9]+\/tcp$/ { split($2, a, "/");
			print $3, a[1] }' "$NMAP" | grep -vE " ($2)\$" |
			sort -k1,1gr -k2,2n | head -n "$1" | awk '{print $2}' |
			sort -n | tr '\n' ' '
	}
	run deflt tcp -f jsonl 127.0.0.1
	want=$(top 100 0)
	got=$(python3 -c 'import json,sys
print(" ".join(str(p) for p in sorted(json.loads(l)["port"] for l in open(sys.argv[1]))) + " ")' \
		"$TMP/deflt.jsonl")
	if [ "$RC" -eq 0 ] && [ "$got" = "$want" ]; then
		pass "tcp without -p: nmap's top 100 ports"
	else
		fail "tcp without -p (exit $RC): got '$got', want '$want'"
	fi
	run top tcp -f jsonl --top-ports 20 --exclude-ports 80,443 127.0.0.1
	want=$(top 20 '80|443')
	got=$(python3 -c 'import json,sys
print(" ".join(str(p) for p in sorted(json.loads(l)["port"] for l in open(sys.argv[1]))) + " ")' \
		"$TMP/top.jsonl")
	if [ "$got" = "$want" ]; then
		pass "--top-ports 20 --exclude-ports 80,443: the next 20 instead"
	else
		fail "--top-ports 20 --exclude-ports 80,443: '$got', want '$want'"
	fi
else
	skip "$NMAP is not installed (Debian: nmap-common)"
fi
# ---- a resumed run may widen the exclude list (README, "Resuming") -------
# Exclusions do not move targets in the order: stop a run part-way, resume
# it with half the block excluded, and the output holds every address of
# the other half once, and nothing of the excluded half after the resume.
R_ARGS=(tcp -f jsonl -p 9 --seed 5 -o "$TMP/rs.jsonl"
	--resume "$TMP/rs.state" 127.64.0.0/24)
timeout -k 2 60 "$RINGPROBE" "${R_ARGS[@]}" -q -r 100 2>"$TMP/rs.err" &
rpid=$!
for _ in $(seq 200); do # until 20 records are on disk (at most 10 s)
	[ "$(wc -l <"$TMP/rs.jsonl" 2>/dev/null || echo 0)" -ge 20 ] && break
	sleep 0.05
done
kill -INT $rpid
wait $rpid
rc=$?
n1=$(wc -l <"$TMP/rs.jsonl")
if [ $rc -eq 130 ] && [ "$n1" -ge 20 ] && [ "$n1" -lt 256 ]; then
	pass "resume: the first run stopped after $n1 of 256 (exit 130)"
else
	fail "resume: the first run: exit $rc, $n1 records (want 130, 20..255)"
fi
seen_reset
timeout -k 2 60 "$RINGPROBE" "${R_ARGS[@]}" -q --exclude 127.64.0.128/25 \
	2>"$TMP/err"
expect_exit_msg "resume with a wider exclude list" $? 0
never_seen "resume with --exclude 127.64.0.128/25" \
	127.64.0.128 127.64.0.129 127.64.0.200 127.64.0.255
"$PY" - "$TMP/rs.jsonl" "$n1" <<'PY' >"$TMP/py.out" 2>&1
import json, sys
R = [json.loads(l) for l in open(sys.argv[1])]
n1 = int(sys.argv[2])
ips = [r["ip"] for r in R]
low = {f"127.64.0.{i}" for i in range(128)}
assert len(ips) == len(set(ips)), "an address twice"
assert low <= set(ips), f"missing {sorted(low - set(ips))[:5]}"
late = [ip for ip in ips[n1:] if ip not in low]
assert not late, f"excluded addresses probed after the resume: {late[:5]}"
PY
if [ $? -eq 0 ]; then
	pass "resume: 127.64.0.0-127 each once, none of .128/25 after it"
else
	fail "resume with a wider exclude list"
	head -c 2000 "$TMP/py.out"
fi
# The excluded positions count as done: the state says the run is
# complete (its watermark did not stop at the first excluded address).
timeout -k 2 60 "$RINGPROBE" "${R_ARGS[@]}" --exclude 127.64.0.128/25 \
	2>"$TMP/err"
expect_exit_msg "resume again: the run is complete" $? 0 "is complete"

export RINGPROBE_NMAP_SERVICES=$TMP/no-such-table
"$RINGPROBE" tcp -q -f jsonl 127.0.0.1 >"$TMP/nt.jsonl" 2>"$TMP/err"
rc=$?
pycheck "no table, no port: one invalid result naming the table" \
	"$TMP/nt.jsonl" \
	'len(R) == 1 and R[0]["status"] == "invalid" and
	 "no-such-table" in R[0]["detail"] and "nmap-common" in R[0]["detail"]'
# an invalid line: the scan completed, exit 3
[ $rc -eq 3 ] && pass "... exit 3" || fail "no table, no port: exit $rc"
"$RINGPROBE" tcp -q -f csv 127.0.0.1:9 >/dev/null 2>"$TMP/err"
expect_exit_msg "no table, ip:port: probed as before" $? 0
"$RINGPROBE" tcp --top-ports 10 127.0.0.1 >/dev/null 2>"$TMP/err"
expect_exit_msg "no table, --top-ports: a usage error" $? 2 \
	"no-such-table" "nmap-common"
unset RINGPROBE_NMAP_SERVICES

if [ $FAILS -gt 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
