#!/usr/bin/env bash
# test_fault_output.sh - the CLI when its output fails (README, "Failure
# behaviour"): -o /dev/full, > /dev/full (ENOSPC) and a terminal whose
# other end is gone (EIO) end the run with exit 1, promptly (timeout(1)
# would say 124), and stderr names the output (the file, or "standard
# output") and the error, in every format. Targets are port 1 of
# 127.0.0.0/24: what the probes find does not matter here.
#
# Environment: RINGPROBE = the CLI.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools timeout python3
need_exec "$RINGPROBE"
TMP=$(mktemp -d)

for fmt in text jsonl csv; do
	timeout -k 2 30 "$RINGPROBE" tcp -f "$fmt" -p 1 127.0.0.0/24 \
		-o /dev/full >"$TMP/out" 2>"$TMP/err"
	expect_exit_msg "-o /dev/full ($fmt)" $? 1 \
		"writing results to '/dev/full' failed" \
		"No space left on device"
	[ -s "$TMP/out" ] && fail "-o /dev/full ($fmt): wrote to stdout"
done

timeout -k 2 30 "$RINGPROBE" tcp -p 1 127.0.0.0/24 >/dev/full 2>"$TMP/err"
expect_exit_msg "> /dev/full" $? 1 \
	"writing results to standard output failed" "No space left on device"

# A terminal whose master side is closed: writes to it fail with EIO.
python3 - "$RINGPROBE" tcp -p 1 127.0.0.0/24 2>"$TMP/err" <<'PY'
import os, pty, subprocess, sys
m, s = pty.openpty()
os.close(m)
try:
    sys.exit(subprocess.run(sys.argv[1:], stdout=s, timeout=30).returncode)
except subprocess.TimeoutExpired:  # killed by run()
    sys.exit(124)
PY
expect_exit_msg "stdout on a hung-up terminal" $? 1 \
	"writing results to standard output failed" "Input/output error"

[ "$FAILS" -eq 0 ]
