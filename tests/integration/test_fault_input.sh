#!/usr/bin/env bash
# test_fault_input.sh - the CLI when reading its targets fails (README,
# "Failure behaviour"): a directory among the -i files (EISDIR at its
# first read) and standard input that fails mid-stream (a pseudo-
# terminal's master whose terminal side closed: EIO). Every target read
# before, and from the files after, has exactly one result; exit 2;
# stderr names the file and the error. Every run is bounded by
# timeout(1). Targets are port 1 of 127.0.0.x: what the probes find does
# not matter here, only that each target has one.
#
# Environment: RINGPROBE = the CLI.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools timeout python3
need_exec "$RINGPROBE"
TMP=$(mktemp -d)

# one_each NAME DESC: $TMP/NAME.jsonl has one record for each of the
# targets 127.0.0.1:1 .. 127.0.0.4:1 and no other (grep, not python:
# starting python takes seconds on a loaded machine).
one_each() {
	local want got
	want=$(printf '"input":"127.0.0.%d:1"\n' 1 2 3 4)
	got=$(grep -o '"input":"[^"]*"' "$TMP/$1.jsonl" | sort)
	if [ "$got" = "$want" ]; then
		pass "$2: the 4 targets read, once each"
	else
		fail "$2: results for: $(echo $got)"
	fi
}

printf '127.0.0.2:1\n127.0.0.3:1\n' >"$TMP/before.txt"
printf '127.0.0.4:1\n' >"$TMP/after.txt"
mkdir "$TMP/dir"
timeout -k 2 30 "$RINGPROBE" tcp -f jsonl 127.0.0.1:1 -i "$TMP/before.txt" \
	-i "$TMP/dir" -i "$TMP/after.txt" >"$TMP/dir.jsonl" 2>"$TMP/err"
expect_exit_msg "-i DIRECTORY" $? 2 \
	"reading targets from '$TMP/dir' failed" "Is a directory"
one_each dir "-i DIRECTORY"

# Standard input is a pseudo-terminal's master: once its terminal side
# closes, reads fail with EIO. Three whole lines arrive first, then part
# of a fourth (dropped: it may be cut anywhere).
python3 - "$RINGPROBE" tcp -f jsonl -i - 127.0.0.1:1 >"$TMP/eio.jsonl" \
	2>"$TMP/err" <<'PY'
import os, pty, subprocess, sys, time, tty
m, s = pty.openpty()
tty.setraw(s)
p = subprocess.Popen(sys.argv[1:], stdin=m)
os.close(m)
os.write(s, b"127.0.0.2:1\n127.0.0.3:1\n127.0.0.4:1\n127.0.0.5")
time.sleep(0.2)
os.close(s)
try:
    sys.exit(p.wait(timeout=30))
except subprocess.TimeoutExpired:
    p.kill()
    sys.exit(124)
PY
expect_exit_msg "stdin failing mid-stream (EIO)" $? 2 \
	"reading targets from '<stdin>' failed" "Input/output error"
one_each eio "stdin EIO"

[ "$FAILS" -eq 0 ]
