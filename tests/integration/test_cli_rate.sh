#!/usr/bin/env bash
# test_cli_rate.sh - --rate is a promise over all threads (README: "new
# probes per second, over all threads"), also when it is below the thread
# count. Each engine may start its first probe at once, so N probes at
# rate R on at most R engines take at least (N - R) / R seconds; a run
# faster than that broke the rate. Only that lower bound is checked: a
# busy machine makes runs slower, never faster.
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = rp_target_server.
# Prints PASS/FAIL lines; exits 1 if a check failed.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools timeout
need_exec "$RINGPROBE" "$RP_TEST_SERVER"
TMP=$(mktemp -d /tmp/rp_test_rate.XXXXXX)

start_server open 8 --ports 8 || exit 1
PLIST=$(IFS=,; echo "${PORTS[*]}")

# expect_rate RATE THREADS NPORTS: NPORTS probes at --rate RATE with
# --threads THREADS take at least (NPORTS - RATE) / RATE s (less 10%).
expect_rate() {
	local rate=$1 threads=$2 n=$3 t0 ms min rc open
	local ports
	ports=$(echo "$PLIST" | cut -d, -f1-"$n")
	t0=$(now_ms)
	timeout -k 2 60 "$RINGPROBE" tcp -q -f jsonl --rate "$rate" \
		--threads "$threads" -p "$ports" 127.0.0.1 >"$TMP/out" \
		2>"$TMP/err"
	rc=$?
	ms=$(($(now_ms) - t0))
	min=$(((n - rate) * 1000 * 9 / 10 / rate))
	open=$(grep -c '"status":"open"' "$TMP/out")
	if [ "$rc" -ne 0 ] || [ "$open" -ne "$n" ]; then
		fail "--rate $rate --threads $threads: exit $rc, $open of $n open:" \
			"$(head -c 200 "$TMP/err")"
	elif [ "$ms" -lt "$min" ]; then
		fail "--rate $rate --threads $threads: $n probes in $ms ms," \
			"under the $min ms the rate allows"
	else
		pass "--rate $rate --threads $threads: $n probes in $ms ms (>= $min)"
	fi
}

expect_rate 1 4 4
expect_rate 2 8 8
expect_rate 3 2 7

[ "$FAILS" -eq 0 ] || exit 1
exit 0
