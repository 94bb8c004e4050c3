#!/usr/bin/env bash
# test_resume.sh - `--resume FILE` (README, "Resuming a run"), from its
# contract:
#
#  1. kill -9 at random moments: for JSON Lines, CSV, and JSON Lines with
#     --open, a scan is started with --resume, killed with SIGKILL a random
#     random 20 to 700 ms later (half of them then right after the
#     next state write), started again with the same command (rate,
#     threads and concurrency may change: they are not part of the run),
#     RP_RESUME_KILLS times (default 20) or until it completes, now and
#     then stopped with SIGINT instead (exit 130, no `cancelled` record),
#     and once with a torn record appended by hand; then run to the end.
#     Merged, the output must hold every target exactly once (--open:
#     every open target exactly once and nothing else), every line a whole
#     record;
#  2. refusals (exit 2, naming what changed): other ports, timeout,
#     --open, format, input file touched or grown, a --seed; --resume
#     without -o, with text output, with stdin, with --all-addrs; a
#     completed run run again does nothing;
#  3. Ctrl-C then resume: covered by the SIGINT stops of 1.
#
# It runs in a private network namespace (unshare -n; as root, else in a
# user namespace, else skipped): every port but our target server's is
# closed, with no host listener in the way. Targets: 40,000 closed ports
# of 127.0.0.1, our server's 64 open ones spread among them, a /24 of
# 127.1.0.0 on port 9, and one invalid line.
#
# The seed of the random choices is printed; RP_RESUME_SEED=S repeats them
# (the runs' timing still varies).
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = rp_target_server.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

if [ "${1:-}" != --in-netns ]; then
	for how in -n -rn; do
		if unshare $how true 2>/dev/null; then
			exec timeout -k 5 560 unshare $how bash "${BASH_SOURCE[0]}" \
				--in-netns
		fi
	done
	echo "SKIP: cannot make a network namespace (unshare -n / -rn)"
	exit 77
fi

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools python3 timeout ip mkfifo
need_exec "$RINGPROBE" "$RP_TEST_SERVER"
if ! ip link set lo up; then
	echo "SKIP: cannot bring up lo in the namespace"
	exit 77
fi

SEED=${RP_RESUME_SEED:-$(($(date +%s%N) % 1000000))}
KILLS=${RP_RESUME_KILLS:-20}
RANDOM=$SEED
echo "seed $SEED (RP_RESUME_SEED=$SEED repeats these choices)"
TMP=$(mktemp -d)

start_server tcp 64 --ports 64 --max-seconds 270 || exit 1

# The targets, and which indexes are open.
"$PY" - "$TMP" "${PORTS[*]}" <<'PY'
import sys
tmp, open_ports = sys.argv[1], [int(p) for p in sys.argv[2].split()]
lines, idx_open, n = [], [], 0
closed = [p for p in range(1, 41000) if p not in open_ports][:40000]
step = len(closed) // len(open_ports)
def add(line, count=1):
    global n
    lines.append(line)
    n += count
for i, p in enumerate(closed):
    if i % step == 0 and len(idx_open) < len(open_ports):
        idx_open.append(n)
        add(f"127.0.0.1:{open_ports[len(idx_open) - 1]}")
    add(f"127.0.0.1:{p}")
    if i == 12000:
        add("127.1.0.0/24 # 256 targets on -p 9", 256)
        add("not a target!")
with open(f"{tmp}/targets.txt", "w") as f:
    f.write("\n".join(lines) + "\n")
open(f"{tmp}/total", "w").write(str(n))
open(f"{tmp}/open_idx", "w").write(" ".join(map(str, idx_open)))
PY
TOTAL=$(cat "$TMP/total")

# check.py FMT FILE TOTAL [OPEN_IDX]: every line a whole record, no
# cancelled one, every index 0..TOTAL-1 once (with OPEN_IDX: exactly
# those, each once, all open). Prints the problems.
cat >"$TMP/check.py" <<'PY'
import collections, csv, io, json, sys
fmt, path, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
want_open = set(map(int, sys.argv[4].split())) if len(sys.argv) > 4 else None
data = open(path, "rb").read().decode("utf-8")
bad = []
if not data.endswith("\n"):
    bad.append("does not end with a newline")
recs = []
if fmt == "jsonl":
    for n, line in enumerate(data.splitlines(), 1):
        try:
            recs.append(json.loads(line))
        except ValueError:
            bad.append(f"line {n} is not a whole record: {line[:80]!r}")
else:
    rows = list(csv.reader(io.StringIO(data)))
    head = rows[0]
    if head[:2] != ["input", "index"]:
        bad.append(f"no header row first: {head[:3]}")
    for n, row in enumerate(rows[1:], 2):
        if len(row) != len(head):
            bad.append(f"row {n} is not a whole record: {row[:3]}")
        else:
            recs.append(dict(zip(head, row)))
count = collections.Counter(int(r["index"]) for r in recs if "index" in r)
dups = sorted(i for i, c in count.items() if c > 1)
want = want_open if want_open is not None else set(range(total))
missing = sorted(want - set(count))
extra = sorted(set(count) - want)
cancelled = sum(r.get("status") == "cancelled" for r in recs)
notopen = sum(r.get("status") != "open" for r in recs) if want_open else 0
for what, v in (("twice", dups), ("missing", missing), ("extra", extra)):
    if v:
        bad.append(f"{len(v)} indexes {what}: {v[:10]}")
if cancelled or notopen:
    bad.append(f"{cancelled} cancelled records, {notopen} not open")
for b in bad[:20]:
    print("   ", b)
print(f"    {len(recs)} records, {len(count)} indexes, want {len(want)}")
sys.exit(1 if bad else 0)
PY

# run_bg NAME FMT OPEN RATE THREADS CONC: the scan of scenario NAME in the
# background; PID gets its PID.
run_bg() {
	local name=$1 fmt=$2 open=$3 rate=$4 threads=$5 conc=$6
	# shellcheck disable=SC2086 # $open is empty or --open
	"$RINGPROBE" tcp -i "$TMP/targets.txt" -p 9 -f "$fmt" $open \
		-o "$TMP/$name.out" --resume "$TMP/$name.state" -r "$rate" \
		--threads "$threads" -c "$conc" --no-progress \
		2>>"$TMP/$name.err" &
	PID=$!
}

# nap: sleeps 1 ms without a fork (a read that times out on a FIFO that
# nobody writes).
mkfifo "$TMP/nap"
exec {NAPFD}<>"$TMP/nap"
nap() {
	read -r -t 0.001 -u "$NAPFD"
}

# after_state NAME [REF]: waits (up to 3 s, while PID runs) until the run
# writes its state after REF was touched (default: now), then 0 to 3 ms
# more: the moment right after a state write is when records the state
# counts may still be on their way to the file, if anything were done out
# of order. (Every run writes one as it starts, once its signal handlers
# are in place.)
after_state() {
	local i n=$((RANDOM % 4)) ref=${2:-$TMP/ref}
	[ -n "${2:-}" ] || touch "$ref"
	for ((i = 0; i < 3000; i++)); do
		[ "$TMP/$1.state" -nt "$ref" ] && break
		kill -0 "$PID" 2>/dev/null || return
		nap
	done
	for ((i = 0; i < n; i++)); do nap; done
}

# storm NAME FMT OPEN: the kills, then the run to the end, then the check.
# Half the kills come at a random moment 20 to 700 ms after the start,
# half right after a state write.
storm() {
	local name=$1 fmt=$2 open=${3:-} rates=(600 1500 3000) i rc ms
	local kills=0 ints=0 done=0 sig torn=$((KILLS / 2))
	for ((i = 0; i < 2 * KILLS && kills < KILLS; i++)); do
		sig=KILL
		[ $((RANDOM % 6)) -eq 0 ] && sig=INT
		touch "$TMP/started"
		run_bg "$name" "$fmt" "$open" "${rates[$((RANDOM % 3))]}" \
			$((1 + RANDOM % 2)) $((RANDOM % 2 ? 64 : 512))
		ms=$((20 + RANDOM % 680))
		sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
		# A SIGINT before the handlers are in place would be ignored
		# (bash starts background jobs with SIGINT ignored).
		[ "$sig" = INT ] && after_state "$name" "$TMP/started"
		[ $((RANDOM % 2)) -eq 0 ] && after_state "$name"
		kill -"$sig" "$PID" 2>/dev/null
		wait_gone "$PID" 10000 || kill -KILL "$PID"
		wait "$PID" 2>/dev/null
		rc=$?
		if [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ]; then
			done=1 # it completed before the signal
			break
		fi
		if [ "$sig" = INT ]; then
			ints=$((ints + 1))
			[ "$rc" -eq 130 ] ||
				fail "$name: SIGINT: exit $rc, not 130 (seed $SEED): $(tail -c 300 "$TMP/$name.err")"
		else
			kills=$((kills + 1))
			[ "$rc" -eq 137 ] ||
				fail "$name: SIGKILL: exit $rc, not 137 (seed $SEED)"
		fi
		if [ "$kills" -eq "$torn" ] && [ "$sig" = KILL ]; then
			# a record cut short, as a kill in a write leaves it
			if [ "$fmt" = csv ]; then
				printf '127.0.0.1:7,99999' >>"$TMP/$name.out"
			else
				printf '{"input":"127.0.0.1:7","ind' >>"$TMP/$name.out"
			fi
		fi
	done
	timeout -k 2 120 "$RINGPROBE" tcp -i "$TMP/targets.txt" -p 9 -f "$fmt" \
		$open -o "$TMP/$name.out" --resume "$TMP/$name.state" \
		--no-progress 2>>"$TMP/$name.err"
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
		fail "$name: the last run: exit $rc (seed $SEED): $(tail -c 300 "$TMP/$name.err")"
		return
	fi
	if ! grep -q '^complete 1$' "$TMP/$name.state"; then
		fail "$name: the state does not say complete (seed $SEED)"
	fi
	if "$PY" "$TMP/check.py" "$fmt" "$TMP/$name.out" "$TOTAL" \
		${open:+"$(cat "$TMP/open_idx")"} >"$TMP/$name.chk"; then
		pass "$name: $kills kills -9 and $ints SIGINTs mid-scan$([ $done = 1 ] && echo ' (completed early)'), then resumed: every target once"
	else
		fail "$name: after $kills kills and $ints SIGINTs (seed $SEED):"
	fi
	cat "$TMP/$name.chk"
	if grep -qi 'sanitizer\|runtime error' "$TMP/$name.err"; then
		fail "$name: sanitizer: $(grep -i -m3 'sanitizer\|runtime error' "$TMP/$name.err")"
	fi
}

# ---- 1. kills -------------------------------------------------------------
# (bash's "Killed" notices go to bash.err)
storm jsonl jsonl 2>>"$TMP/bash.err"
storm csv csv 2>>"$TMP/bash.err"
storm open jsonl --open 2>>"$TMP/bash.err"

# ---- 2. refusals ----------------------------------------------------------
# refuse DESC PATTERN ARGS...: ringprobe ARGS must exit 2 naming PATTERN.
refuse() {
	local desc=$1 pat=$2 rc
	shift 2
	timeout -k 2 30 "$RINGPROBE" tcp "$@" --no-progress >/dev/null \
		2>"$TMP/err"
	rc=$?
	expect_exit_msg "refused: $desc" "$rc" 2 "$pat"
}

cp "$TMP/targets.txt" "$TMP/t2.txt"
base=(-i "$TMP/t2.txt" -p 9 -f jsonl -o "$TMP/r.out" --resume "$TMP/r.state")
# a run stopped early, so that there is something to continue
touch "$TMP/started"
"$RINGPROBE" tcp "${base[@]}" -r 2000 --no-progress 2>/dev/null &
PID=$!
sleep 0.3
after_state r "$TMP/started"
kill -INT "$PID"
wait "$PID"
rc=$?
[ "$rc" -eq 130 ] || fail "refusals: the first run: exit $rc, not 130"
cp "$TMP/r.out" "$TMP/r.before"
refuse "other ports" "--ports: was '9', now '9,10'" "${base[@]}" -p 10
refuse "another timeout" "--timeout: was 'default', now '3s'" \
	"${base[@]}" --timeout 3s
refuse "--open added" "--open: was 'no', now 'yes'" "${base[@]}" --open
refuse "another format" "--format: was 'jsonl', now 'csv'" \
	-i "$TMP/t2.txt" -p 9 -f csv -o "$TMP/r.out" --resume "$TMP/r.state"
refuse "two inputs" "-i files: was '1', now '2'" "${base[@]}" -i "$TMP/t2.txt"
touch -d '2001-01-01' "$TMP/t2.txt"
refuse "input touched" "-i #1 modification time: was" "${base[@]}"
echo "127.0.0.1:5" >>"$TMP/t2.txt"
refuse "input grown" "-i #1 size: was" "${base[@]}"
cp "$TMP/targets.txt" "$TMP/t3.txt"
refuse "without -o" "--resume needs -o FILE" -i "$TMP/t3.txt" \
	--resume "$TMP/x.state"
refuse "text output" "--resume needs -f jsonl or -f csv" -i "$TMP/t3.txt" \
	-o "$TMP/x.out" --resume "$TMP/x.state"
refuse "stdin" "'-' is standard input" -i - -f jsonl -o "$TMP/x.out" \
	--resume "$TMP/x.state" </dev/null
refuse "--all-addrs" "--all-addrs" -i "$TMP/t3.txt" -f jsonl \
	-o "$TMP/x.out" --resume "$TMP/x.state" --all-addrs
if cmp -s "$TMP/r.out" "$TMP/r.before"; then
	pass "refused runs left the output alone"
else
	fail "a refused run changed the output"
fi

# a completed run, run again: nothing to do, nothing written
cp "$TMP/jsonl.out" "$TMP/jsonl.before"
timeout -k 2 30 "$RINGPROBE" tcp -i "$TMP/targets.txt" -p 9 -f jsonl \
	-o "$TMP/jsonl.out" --resume "$TMP/jsonl.state" --no-progress \
	2>"$TMP/err"
expect_exit_msg "a completed run again: nothing to do" $? 0 "complete"
cmp -s "$TMP/jsonl.out" "$TMP/jsonl.before" ||
	fail "a completed run again changed its output"

[ "$FAILS" -eq 0 ] || exit 1
