#!/usr/bin/env bash
# test_cli_pipe.sh - `producer | ringprobe tcp -i - | head`, many times: the
# stop comes from the closed stdout while targets still stream in, so the
# source's reader thread may be handing lines over (and waking engines)
# just as the engines are torn down. That teardown once used an engine
# after rp_engine_destroy() and g_workers after free(); it is a race, so
# one run proves little and we do many, alternating a fast producer (seq,
# tens of thousands of lines at once) and a slow one (100 lines a
# millisecond), 2 to 4 threads and three concurrencies. In input order
# (--no-shuffle): streaming is the point, and a shuffled run would first
# wait for a window of 65,536 lines.
#
# Each run must end promptly (timeout(1) would say 124), exit 0 (README:
# a closed stdout stops the run quietly), print nothing on stderr (so no
# sanitizer report under RP_SANITIZE) and give head its lines.
#
# Environment: RINGPROBE = the CLI. RP_PIPE_RUNS (default 200) and
# RP_PIPE_SECONDS (default 30) bound the loop: it stops at whichever comes
# first. Targets are 127.0.0.1 ports 20000-29999, below the ephemeral
# range, so nearly all are closed and answer at once.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools timeout seq head
need_exec "$RINGPROBE"

RUNS=${RP_PIPE_RUNS:-200}
SECONDS_MAX=${RP_PIPE_SECONDS:-30}
TMP=$(mktemp -d)

# producer fast|slow: 127.0.0.1:PORT lines, 10 rounds over 10,000 ports;
# stops at the first failed write (ringprobe gone).
producer() {
	local r p
	for ((r = 0; r < 10; r++)); do
		if [ "$1" = slow ]; then
			for ((p = 20000; p < 30000; p += 100)); do
				seq -f '127.0.0.1:%g' "$p" $((p + 99)) ||
					return 0
				sleep 0.001
			done
		else
			seq -f '127.0.0.1:%g' 20000 29999 || return 0
		fi
	done
}

CONCS=(64 512 4096)
bad=0 runs=0 max_ms=0
end=$(($(now_ms) + SECONDS_MAX * 1000))
for ((i = 0; i < RUNS; i++)); do
	[ "$(now_ms)" -ge "$end" ] && break
	mode=fast
	[ $((i % 2)) -eq 1 ] && mode=slow
	threads=$((2 + i % 3))
	conc=${CONCS[$((i / 2 % 3))]}
	t0=$(now_ms)
	producer "$mode" |
		timeout -k 2 10 "$RINGPROBE" tcp -i - --no-shuffle --threads "$threads" \
			-c "$conc" --all 2>"$TMP/err" | head -n 5 >"$TMP/out"
	rc=${PIPESTATUS[1]}
	ms=$(($(now_ms) - t0))
	runs=$((runs + 1))
	[ "$ms" -gt "$max_ms" ] && max_ms=$ms
	lines=$(wc -l <"$TMP/out")
	if [ "$rc" -ne 0 ] || [ -s "$TMP/err" ] || [ "$lines" -ne 5 ]; then
		bad=$((bad + 1))
		# the first few in full; the rest only counted
		if [ "$bad" -le 3 ]; then
			fail "run $i ($mode, $threads threads, -c $conc):" \
				"exit $rc, $lines lines, $ms ms, stderr:" \
				"$(head -c 600 "$TMP/err")"
		fi
	fi
done

if [ "$runs" -eq 0 ]; then
	fail "no run in $SECONDS_MAX s"
elif [ "$bad" -eq 0 ]; then
	pass "$runs runs of producer | ringprobe tcp -i - | head -n 5:" \
		"all exit 0, quiet, slowest $max_ms ms"
else
	fail "$bad of $runs runs failed (slowest $max_ms ms)"
fi

if [ "$FAILS" -gt 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
