#!/usr/bin/env bash
# test_cli_crash.sh - what `-o FILE` holds when ringprobe is stopped at a
# random moment while it writes (README, "Results"):
#
#  - SIGKILL (RP_CRASH_KILLS runs, default 200): every line but an
#    unterminated last one is a whole record, and nothing follows a torn
#    record;
#  - a clean stop (SIGINT, SIGTERM, two SIGINTs 5 ms apart, the end of the
#    run): the file ends with a newline and every record is whole (exit
#    130; 0 at the end, with every target's record once);
#  - a closed stdout (`| head -n K`): exit 0, quiet, K whole records.
#
# Runs mix tcp and http, JSON Lines and CSV, 1 and 2 threads and two
# concurrencies, against our own target servers on 127.0.0.1
# (accept-close, and http for /fixed), with far more targets than a run
# gets through before its signal. RP_CRASH_JOBS (default 8) runs go at a
# time; each is signalled a random 0 to 79 ms after its file holds its
# first record. tests/helpers/reccheck.py then reads every file. Runs are
# in input order (--no-shuffle): a shuffled run first reads a window of
# 65,536 lines, which on a loaded machine can take longer than the 10 s
# a run is given to write its first record.
#
# The seed of the random choices is printed; RP_CRASH_SEED=S makes the
# same choices again (the runs' timing still varies). No kill starts
# after RP_CRASH_SECONDS (default 35): on a machine too busy for all of
# them, a NOTE says how many ran, and those are checked.
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = rp_target_server.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools python3 timeout head mkfifo
need_exec "$RINGPROBE" "$RP_TEST_SERVER"

SEED=${RP_CRASH_SEED:-$(($(date +%s%N) % 1000000))}
KILLS=${RP_CRASH_KILLS:-200}
SECONDS_MAX=${RP_CRASH_SECONDS:-35}
RANDOM=$SEED
echo "seed $SEED (RP_CRASH_SEED=$SEED repeats these choices)"
TMP=$(mktemp -d)

start_server tcp 16 --ports 16 --max-seconds 240 || exit 1
TCP_PORTS=("${PORTS[@]}")
start_server http 8 --ports 8 --mode http --max-seconds 240 || exit 1
HTTP_PORTS=("${PORTS[@]}")

# Far more targets than any run here gets through before its signal.
python3 - "$TMP" "${TCP_PORTS[*]}" "${HTTP_PORTS[*]}" <<'PY'
import sys
tmp, tcp, http = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
with open(f"{tmp}/tcp.txt", "w") as f:
    f.writelines(f"127.0.0.1:{tcp[i % len(tcp)]}\n" for i in range(200000))
with open(f"{tmp}/http.txt", "w") as f:
    f.writelines(f"http://127.0.0.1:{http[i % len(http)]}/fixed\n"
                 for i in range(100000))
PY

MANIFEST=$TMP/manifest

# Runs not yet reaped (running, or exited and waiting for our wait), so
# never a PID someone else has now: killed if the test ends early.
LIVE=()
stop_live() {
	local p
	for p in "${LIVE[@]}"; do
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	done
	cleanup
}
trap stop_live EXIT

# pick: sets KIND FMT THREADS CONC from the seeded generator.
pick() {
	local kinds=(tcp http) fmts=(jsonl csv) concs=(32 256)
	KIND=${kinds[$((RANDOM % 2))]}
	FMT=${fmts[$((RANDOM % 2))]}
	THREADS=$((1 + RANDOM % 2))
	CONC=${concs[$((RANDOM % 2))]}
}

# run_bg OUT: ringprobe KIND over its target file into OUT, in the
# background; PID gets its PID.
run_bg() {
	"$RINGPROBE" "$KIND" -i "$TMP/$KIND.txt" -f "$FMT" -o "$1" \
		--threads "$THREADS" -c "$CONC" --no-progress --no-shuffle \
		2>>"$TMP/stderr" &
	PID=$!
}

# tick: NOW = the time in ms, without a fork.
tick() {
	NOW=$((${EPOCHREALTIME/./} / 1000))
}

# nap: sleeps 2 ms without a fork (a read that times out on a FIFO that
# nobody writes).
mkfifo "$TMP/nap"
exec {NAPFD}<>"$TMP/nap"
nap() {
	read -r -t 0.002 -u "$NAPFD"
}

# writing FILE FMT: true once FILE holds the start of a record (for CSV, a
# byte after the header row), read without a fork.
writing() {
	local buf=""
	read -r -N 1024 buf 2>/dev/null <"$1"
	if [ "$2" = csv ]; then
		[[ $buf == *$'\n'?* ]]
	else
		[ -n "$buf" ]
	fi
}

# gone PID: true once PID (our child) has exited and waits to be reaped,
# read from /proc without a fork.
gone() {
	local stat=""
	read -r stat 2>/dev/null <"/proc/$1/stat"
	stat=${stat##*) }
	[ -z "$stat" ] || [ "${stat:0:1}" = Z ]
}

# storm N SIG...: N runs, JOBS at a time; each gets the next signal of
# SIG... in turn (INT+INT: two SIGINTs 5 ms apart) a random 0 to 79 ms
# after its file has its first record. RULE (crash or clean) goes to the
# manifest with each file; WANT_RC, if set, is the exit status every run
# must have. Starts no run after DEADLINE (ms). Sets DONE to the runs
# signalled and BAD to those that wrote no record within 10 s, did not
# end within 20 s of the signal, or exited otherwise.
#
# A run's slot goes: 0 (waiting for the first record) -> 1 (for its
# moment) -> 2 (for the second SIGINT's) -> 3 (for its exit).
JOBS=${RP_CRASH_JOBS:-8}
storm() {
	local n=$1 s pid launched=0 busy rc
	shift
	local sigs=("$@") S_OUT=() S_AT=() S_ST=() S_SIG=() S_DESC=()
	DONE=0 BAD=0
	for ((;;)); do
		tick
		busy=0
		for ((s = 0; s < JOBS; s++)); do
			pid=${LIVE[s]:-}
			if [ -z "$pid" ]; then
				[ "$launched" -ge "$n" ] && continue
				[ "$NOW" -ge "$DEADLINE" ] && continue
				pick
				S_OUT[s]=$TMP/$RULE$launched.$FMT
				S_SIG[s]=${sigs[$((launched % ${#sigs[@]}))]}
				S_DESC[s]="$KIND $FMT --threads $THREADS -c $CONC"
				echo "$RULE $FMT $KIND ${S_OUT[s]}" >>"$MANIFEST"
				run_bg "${S_OUT[s]}"
				LIVE[s]=$PID S_ST[s]=0 S_AT[s]=$((NOW + 10000))
				launched=$((launched + 1))
				busy=1
				continue
			fi
			busy=1
			case ${S_ST[s]} in
			0)
				if writing "${S_OUT[s]}" "${S_OUT[s]##*.}"; then
					S_ST[s]=1 S_AT[s]=$((NOW + RANDOM % 80))
				elif [ "$NOW" -ge "${S_AT[s]}" ]; then
					fail "${S_DESC[s]}: no record in 10 s"
					BAD=$((BAD + 1))
					S_ST[s]=1
				fi ;;
			1)
				[ "$NOW" -lt "${S_AT[s]}" ] && continue
				kill -"${S_SIG[s]%+*}" "$pid"
				DONE=$((DONE + 1))
				S_ST[s]=3 S_AT[s]=$((NOW + 20000))
				[ "${S_SIG[s]}" = INT+INT ] &&
					S_ST[s]=2 S_AT[s]=$((NOW + 5)) ;;
			2)
				[ "$NOW" -lt "${S_AT[s]}" ] && continue
				kill -INT "$pid" 2>/dev/null
				S_ST[s]=3 S_AT[s]=$((NOW + 20000)) ;;
			3)
				if ! gone "$pid"; then
					[ "$NOW" -lt "${S_AT[s]}" ] && continue
					fail "${S_DESC[s]}: running 20 s after SIG${S_SIG[s]}"
					BAD=$((BAD + 1))
					kill -KILL "$pid"
				fi
				{ wait "$pid"; } 2>/dev/null
				rc=$?
				if [ -n "$WANT_RC" ] && [ "$rc" -ne "$WANT_RC" ]; then
					fail "SIG${S_SIG[s]}: ${S_DESC[s]}: exit $rc"
					BAD=$((BAD + 1))
				fi
				LIVE[s]= ;;
			esac
		done
		[ "$busy" -eq 0 ] && break
		nap
	done
}

# ---- SIGKILL at random moments -------------------------------------------

tick
t0=$NOW
DEADLINE=$((NOW + SECONDS_MAX * 1000))
RULE=crash WANT_RC=
# bash reports each killed job on its stderr: not ours to check
storm "$KILLS" KILL 2>>"$TMP/jobs.err"
tick
if [ "$DONE" -lt "$KILLS" ]; then
	# A busy machine: what ran is still checked below.
	echo "NOTE: only $DONE of $KILLS kills within $SECONDS_MAX s"
fi
if [ "$DONE" -eq 0 ]; then
	fail "no run killed in $SECONDS_MAX s"
elif [ "$BAD" -eq 0 ]; then
	pass "$DONE runs killed by SIGKILL while writing, in $((NOW - t0)) ms"
fi

# ---- clean stops: SIGINT, SIGTERM, two SIGINTs ----------------------------

tick
t0=$NOW
DEADLINE=$((NOW + 60000))
RULE=clean WANT_RC=130
# shellcheck disable=SC2086 # a list of signals
storm "${RP_CLEAN_RUNS:-24}" ${RP_CLEAN_SIGS:-INT TERM INT+INT}
tick
[ "$BAD" -eq 0 ] && pass "$DONE runs stopped by SIGINT, SIGTERM or two" \
	"SIGINTs: exit 130, in $((NOW - t0)) ms"

# ---- clean stop: the end of the run ----------------------------------------

tick
t0=$NOW bad=0
for KIND in tcp http; do
	head -n 2000 "$TMP/$KIND.txt" >"$TMP/end-$KIND.txt"
	for FMT in jsonl csv; do
		out=$TMP/end-$KIND.$FMT
		timeout -k 2 60 "$RINGPROBE" "$KIND" -i "$TMP/end-$KIND.txt" \
			-f "$FMT" -o "$out" --threads 2 -c 256 --no-progress \
			2>>"$TMP/stderr"
		rc=$?
		if [ "$rc" -ne 0 ]; then
			bad=$((bad + 1))
			fail "the end of a $KIND $FMT run: exit $rc"
		fi
		echo "clean $FMT $KIND $out 2000" >>"$MANIFEST"
	done
done
tick
[ "$bad" -eq 0 ] && pass "4 runs of 2000 targets to the end: exit 0," \
	"in $((NOW - t0)) ms"

# ---- closed stdout ---------------------------------------------------------

tick
t0=$NOW bad=0
for ((i = 0; i < 8; i++)); do
	pick
	k=$((1 + RANDOM % 500))
	[ "$i" -eq 0 ] && k=1 # | head -1
	[ "$i" -eq 1 ] && k=2 FMT=csv # the header and one record
	out=$TMP/pipe$i.$FMT
	timeout -k 2 30 "$RINGPROBE" "$KIND" -i "$TMP/$KIND.txt" -f "$FMT" \
		--threads "$THREADS" -c "$CONC" --no-progress \
		2>"$TMP/pipe.err" | head -n "$k" >"$out"
	rc=${PIPESTATUS[0]}
	[ "$FMT" = csv ] && k=$((k - 1)) # the header row
	echo "clean $FMT $KIND $out $k" >>"$MANIFEST"
	if [ "$rc" -ne 0 ] || [ -s "$TMP/pipe.err" ]; then
		bad=$((bad + 1))
		fail "| head: $KIND $FMT: exit $rc: $(head -c 300 "$TMP/pipe.err")"
	fi
done
tick
[ "$bad" -eq 0 ] && pass "8 runs into | head -n K: exit 0, quiet," \
	"in $((NOW - t0)) ms"

# ---- every file, record by record ------------------------------------------

tick
t0=$NOW
if python3 "$T_HELPERS/reccheck.py" "$MANIFEST" >"$TMP/check" 2>&1; then
	tick
	pass "records whole: $(tail -1 "$TMP/check") ($((NOW - t0)) ms)"
else
	fail "records:"
	cat "$TMP/check"
fi
if grep -v '^$' "$TMP/stderr" | grep -q .; then
	fail "ringprobe said on stderr: $(head -c 600 "$TMP/stderr")"
fi

if [ "$FAILS" -gt 0 ]; then
	echo "$FAILS check(s) failed (seed $SEED)"
	exit 1
fi
echo "all checks passed"
exit 0
