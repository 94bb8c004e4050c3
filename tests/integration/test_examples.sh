#!/usr/bin/env bash
# test_examples.sh - the programs in examples/ do what their comments say,
# run as a user would run them (built in this tree: $RP_BUILD_DIR/examples).
#  - scan: its own timer ticks while 10,000 probes run in the same epoll
#    loop, and a "q" on its standard input stops the scan with one result
#    per submitted probe;
#  - race: the first candidate to connect wins and the others (whose SYNs
#    are dropped, in a private namespace) end cancelled at once, not after
#    the connect timeout;
#  - first_ok: stops after N 2xx answers (http and https), the rest
#    cancelled;
#  - uv_scan (when libuv was found): a scan from a libuv loop, clean under
#    valgrind.
# Exits 1 if a check failed, 77 if the examples were not built.
set -u

: "${RP_BUILD_DIR:?RP_BUILD_DIR must point at the build directory}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"
: "${RP_TLS_SERVER:?RP_TLS_SERVER must point at rp_tls_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

EX=$RP_BUILD_DIR/examples

# ---- race, inside the private namespace (this script, re-run) ----------
if [ "${1:-}" = --in-netns ]; then
	TMP=$(mktemp -d /tmp/rp_test_examples_ns.XXXXXX) # the trap removes it
	ip link set lo up || { fail "netns: ip link set lo up"; exit 1; }
	# 127.0.0.2-4 never answer: their probes could only end by timeout
	nft -f - <<'NFT' || { fail "netns: nft"; exit 1; }
table inet rp_ex {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr 127.0.0.2-127.0.0.4 tcp flags syn drop
  }
}
NFT
	start_server race 1 --mode accept-close --max-seconds 60 || exit 1
	t0=$(now_ms)
	timeout -k 1 20 "$EX/race" "${PORTS[0]}" 127.0.0.2 127.0.0.3 \
		127.0.0.4 127.0.0.1 >"$TMP/race.out" 2>&1
	rc=$?
	ms=$(($(now_ms) - t0))
	if [ $rc -eq 0 ] &&
		grep -qx "winner 127.0.0.1:${PORTS[0]} after [0-9]*us" "$TMP/race.out" &&
		[ "$(grep -c '^127[.0-9]*:[0-9]* cancelled$' "$TMP/race.out")" -eq 3 ] &&
		grep -qx '4 candidates, 1 winner, 3 cancelled' "$TMP/race.out" &&
		[ "$ms" -lt 900 ]; then
		pass "race: 127.0.0.1 won, the 3 dropped candidates cancelled, in ${ms} ms (connect timeout 1 s)"
	else
		fail "race: status $rc after ${ms} ms: $(tr '\n' '|' <"$TMP/race.out")"
	fi
	stop_pid "$SERVER_PID"
	[ "$FAILS" -eq 0 ]
	exit
fi

need_exec "$EX/scan" "$EX/race" "$EX/first_ok" "$RP_TEST_SERVER" "$RP_TLS_SERVER"
TMP=$(mktemp -d /tmp/rp_test_examples.XXXXXX)

# ---- scan: timer ticks during the scan ---------------------------------
# 10,000 probes of 127.77.0.1 (no listener there: each is refused at once)
# at 20,000 a second: about half a second, with a tick every 20 ms.
timeout -k 1 60 "$EX/scan" -r 20000 -t 20 127.77.0.1 20000-29999 \
	</dev/null >"$TMP/scan.out" 2>"$TMP/scan.err"
rc=$?
mid=$(awk -F'[ /]' '/^tick: / && $2 > 0 && $2 < 10000 { n++ } END { print n + 0 }' \
	"$TMP/scan.err")
if [ $rc -eq 0 ] && [ "$mid" -ge 3 ] &&
	grep -qx '10000 probes: 0 open, 10000 closed, 0 filtered, 0 other' "$TMP/scan.out"; then
	pass "scan: $mid timer ticks while the 10,000 probes ran, all results in"
else
	fail "scan: status $rc, $mid ticks mid-scan: $(tail -n 2 "$TMP/scan.out" | tr '\n' '|') $(head -c 300 "$TMP/scan.err")"
fi

# ---- scan: "q" on standard input stops it ------------------------------
# At 500 a second the 10,000 probes would take 20 s; "q" after the first
# results ends it with every submitted probe's result (the summary counts
# them, and the exit status says results == submitted).
mkfifo "$TMP/in"
timeout -k 1 30 "$EX/scan" -r 500 -t 20 127.77.0.1 20000-29999 \
	<"$TMP/in" >"$TMP/q.out" 2>"$TMP/q.err" &
pid=$!
PIDS+=("$pid")
exec 3>"$TMP/in"
for ((i = 0; i < 200; i++)); do
	grep -q '^tick: [1-9]' "$TMP/q.err" && break
	sleep 0.02
done
t0=$(now_ms)
echo q >&3
wait_gone "$pid" 5000
wait "$pid"
rc=$?
ms=$(($(now_ms) - t0))
exec 3>&-
n=$(sed -n 's/^\([0-9]*\) probes:.*/\1/p' "$TMP/q.out")
if [ $rc -eq 0 ] && [ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -lt 10000 ] &&
	[ "$ms" -lt 3000 ]; then
	pass "scan: q stopped it after $n of 10000 probes, ${ms} ms, every result in"
else
	fail "scan q: status $rc, '$n' probes, ${ms} ms: $(tail -n 2 "$TMP/q.out" | tr '\n' '|')"
fi

# ---- race, in a private namespace --------------------------------------
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null ||
	! command -v nft >/dev/null; then
	skip "race needs root, unshare and nft (a private namespace)"
else
	timeout -k 2 60 unshare -n bash "${BASH_SOURCE[0]}" --in-netns \
		>"$TMP/ns.log" 2>&1
	rc=$?
	cat "$TMP/ns.log"
	n=$(grep -c '^FAIL' "$TMP/ns.log")
	FAILS=$((FAILS + n))
	[ $rc -ne 0 ] && [ "$n" -eq 0 ] && fail "race: namespace run status $rc"
fi

# ---- first_ok: stop after N successes ----------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=localhost -days 2 -keyout "$TMP/k.pem" -out "$TMP/c.pem" \
	>/dev/null 2>&1 || fail "openssl req"
start_server http 1 --mode http --max-seconds 120 || exit 1
HP=${PORTS[0]}
start_tls_server tls --mode good --cert "$TMP/c.pem" --key "$TMP/k.pem" \
	--max-seconds 120 || exit 1
TP=$PORT
h=http://127.0.0.1:$HP
t0=$(now_ms)
timeout -k 1 30 "$EX/first_ok" 2 "$h/hang" "$h/fixed" "$h/hang" \
	"https://127.0.0.1:$TP/" "$h/hang" >"$TMP/first.out" 2>&1
rc=$?
ms=$(($(now_ms) - t0))
if [ $rc -eq 0 ] && grep -qx "200 $h/fixed \"Fixed Page\"" "$TMP/first.out" &&
	grep -qx "200 https://127.0.0.1:$TP/ \"rp_tls_server good\"" "$TMP/first.out" &&
	[ "$(grep -c "^cancelled $h/hang" "$TMP/first.out")" -eq 3 ] &&
	grep -qx '5 URLs: 2 ok, 3 other; stopped after 2' "$TMP/first.out" &&
	[ "$ms" -lt 5000 ]; then
	pass "first_ok: stopped after the http and https 200s, 3 hanging probes cancelled, ${ms} ms"
else
	fail "first_ok: status $rc, ${ms} ms: $(tr '\n' '|' <"$TMP/first.out")"
fi

# ---- uv_scan: libuv's loop, under valgrind ------------------------------
if [ ! -x "$EX/uv_scan" ]; then
	skip "uv_scan was not built (libuv1-dev missing)"
else
	start_server uv 3 --mode accept-close --ports 3 --max-seconds 60 || exit 1
	ports=$(IFS=,; echo "${PORTS[*]}")
	run=()
	if command -v valgrind >/dev/null && [ -z "${RP_SANITIZE:-}" ]; then
		run=(valgrind -q --error-exitcode=99 --leak-check=full
			--errors-for-leak-kinds=definite)
	fi
	timeout -k 1 120 "${run[@]}" "$EX/uv_scan" "$ports,1-100" 127.0.0.1 \
		>"$TMP/uv.out" 2>"$TMP/uv.err"
	rc=$?
	n=$(grep -c ' open$' "$TMP/uv.out")
	total=$(sed -n 's/^\([0-9]*\) probes, .*/\1/p' "$TMP/uv.out")
	if [ $rc -eq 0 ] && [ "$n" -ge 3 ] && [ "$total" = 103 ]; then
		pass "uv_scan: 103 probes from a libuv loop, the 3 listeners open${run:+, valgrind clean}"
	else
		fail "uv_scan: status $rc, $n open of '$total': $(head -c 400 "$TMP/uv.err")"
	fi
fi

[ "$FAILS" -eq 0 ] || exit 1
exit 0
