#!/usr/bin/env bash
# test_cli_per_host.sh - `--max-per-host` and `--host-delay` through the
# CLI, from the README: probes to one address are capped and spaced, a
# second address is not held back, bad values are usage errors.
#
# The target server (http mode) listens on 127.0.0.1 ports the kernel picks
# and never speaks first, so a `--banner` probe to it stays in flight for
# its --banner-wait; the same ports on 127.0.0.2 and 127.0.0.3 are closed
# (the listeners are bound to 127.0.0.1 only). Time checks are lower
# bounds only (a busy machine can only make a run slower).
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = the target server.
# Prints one PASS/FAIL/SKIP line per check; exits 1 if any failed.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at the target server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools timeout
need_exec "$RINGPROBE" "$RP_TEST_SERVER"
TMP=$(mktemp -d /tmp/rp_test_per_host.XXXXXX)
FAILS=0

start_server srv 4 --mode http --ports 4 --max-seconds 120 || exit 1
P=$(IFS=,; echo "${PORTS[*]}")

# run NAME ARGS...: the CLI into $TMP/NAME.out (stderr NAME.err), exit
# status in RC, wall time in MS.
run() {
	local name=$1 t0
	shift
	t0=$(now_ms)
	timeout -k 5 60 "$RINGPROBE" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
	RC=$?
	MS=$(($(now_ms) - t0))
}

# 1. At most one probe in flight to 127.0.0.1: four 500 ms probes one
#    after the other; 127.0.0.2's answer comes before the last of them.
run cap tcp --banner --banner-wait 500ms --max-per-host 1 -f csv \
	--no-progress -p "$P" 127.0.0.1 "127.0.0.2:${PORTS[0]}"
n_open=$(grep -c 'open' "$TMP/cap.out")
pos2=$(grep -n '127\.0\.0\.2' "$TMP/cap.out" | head -1 | cut -d: -f1)
lines=$(wc -l <"$TMP/cap.out")
if [ "$RC" -eq 0 ] && [ "$n_open" -eq 4 ] && [ "$MS" -ge 1800 ]; then
	pass "--max-per-host 1: 4 probes of 500 ms to one address took $MS ms"
else
	fail "--max-per-host 1: exit $RC, $n_open open, $MS ms (want >= 1800):" \
		"$(head -c 300 "$TMP/cap.err")"
fi
if [ -n "$pos2" ] && [ "$pos2" -lt "$lines" ]; then
	pass "--max-per-host 1: the other address was not held back (line $pos2 of $lines)"
else
	fail "--max-per-host 1: the other address came last (line ${pos2:-none} of $lines)"
	cat "$TMP/cap.out"
fi

# 2. --host-delay 500ms: four probes to one (closed) address start at
#    least 500 ms apart.
run delay tcp --host-delay 500ms -f csv --no-progress -p "$P" 127.0.0.3
n_closed=$(grep -c 'closed' "$TMP/delay.out")
if [ "$RC" -eq 0 ] && [ "$n_closed" -eq 4 ] && [ "$MS" -ge 1350 ]; then
	pass "--host-delay 500ms: 4 probes to one address took $MS ms"
else
	fail "--host-delay 500ms: exit $RC, $n_closed closed, $MS ms (want >= 1350):" \
		"$(head -c 300 "$TMP/delay.err")"
fi

# 3. A cap smaller than the threads: still every result.
run threads tcp --max-per-host 2 --threads 8 -f csv --no-progress \
	-p "$P" 127.0.0.3 127.0.0.2
n=$(grep -c 'closed' "$TMP/threads.out")
if [ "$RC" -eq 0 ] && [ "$n" -eq 8 ]; then
	pass "--max-per-host 2 --threads 8: 8 results"
else
	fail "--max-per-host 2 --threads 8: exit $RC, $n results:" \
		"$(head -c 300 "$TMP/threads.err")"
fi

# 4. Bad values are usage errors naming the option.
for bad in "--max-per-host -1" "--max-per-host x" "--max-per-host 2000000" \
	"--host-delay soon"; do
	# shellcheck disable=SC2086 # the option and its value, split
	"$RINGPROBE" tcp $bad -p 1 127.0.0.1 >/dev/null 2>"$TMP/err"
	expect_exit_msg "bad value: $bad" $? 2 "${bad%% *}"
done

stop_pid "$SERVER_PID"
[ "$FAILS" -eq 0 ] || exit 1
