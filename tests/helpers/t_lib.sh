# t_lib.sh - what the bash integration tests share: PASS/FAIL/SKIP lines,
# a millisecond clock, and a trap that stops what the test started (the
# PIDs in PIDS, by PID) and removes its TMP directory. Sourced, not run.
# shellcheck shell=bash

FAILS=0
PIDS=()
TMP=
T_HELPERS=$(dirname "${BASH_SOURCE[0]}")
# The python3 interpreter itself: python3 on PATH may be a version
# manager's shim (pyenv's runs ~30 processes per call; a busy machine
# takes seconds for each).
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
PY=${PY:-python3}

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
skip() { echo "SKIP: $*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	[ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT

# need_tools TOOL...: exits 77 (ctest's skip) if a TOOL is not on PATH.
need_tools() {
	local t
	for t in "$@"; do
		if ! command -v "$t" >/dev/null; then
			echo "SKIP: $t is missing"
			exit 77
		fi
	done
}

# need_exec FILE...: exits 1 if a FILE (a binary under test) is not
# executable.
# drop_ports PORTS: in a private network namespace (unshare -n), brings
# lo up and drops incoming TCP to PORTS ("7777" or "7000-7999") with an
# nftables rule, so connects there stay unanswered until their timeout.
# Fails (fail()) and returns 1 if either step fails.
drop_ports() {
	ip link set lo up || { fail "ip link set lo up"; return 1; }
	nft -f - <<NFT || { fail "nft drop rule"; return 1; }
table inet rp_test {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport $1 drop
  }
}
NFT
}

need_exec() {
	local f
	for f in "$@"; do
		if [ ! -x "$f" ]; then
			echo "FAIL: $f is not executable"
			exit 1
		fi
	done
}

# Waits up to ms milliseconds for a PID to exit; returns 0 if it did.
wait_gone() {
	local pid=$1 ms=$2 i end
	end=$(($(now_ms) + ms))
	for ((i = 0; i < 10000; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		[ "$(now_ms)" -ge "$end" ] && break
		sleep 0.005
	done
	! kill -0 "$pid" 2>/dev/null
}

# start_prog BIN NAME N ARGS...: starts BIN ARGS in the background (its
# PID goes to PIDS and SERVER_PID), waits up to 5 s for it to print N
# ports to $TMP/NAME.ports (stderr: $TMP/NAME.err) and puts them in the
# array PORTS. Returns 1, saying why, if it did not.
start_prog() {
	local bin=$1 name=$2 n=$3 i
	shift 3
	"$bin" "$@" >"$TMP/$name.ports" 2>"$TMP/$name.err" &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	for ((i = 0; i < 100; i++)); do
		[ "$(wc -l <"$TMP/$name.ports")" -ge "$n" ] && break
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	mapfile -t PORTS <"$TMP/$name.ports"
	if [ "${#PORTS[@]}" -ne "$n" ] || ! [[ "${PORTS[*]}" =~ ^[0-9\ ]+$ ]]; then
		echo "FAIL: $(basename "$bin") ($*) did not report $n port(s):" \
			"$(head -c 300 "$TMP/$name.err")"
		return 1
	fi
}

# start_server NAME N ARGS...: start_prog for $RP_TEST_SERVER.
start_server() {
	start_prog "$RP_TEST_SERVER" "$@"
}

# start_tls_server NAME ARGS...: start_prog for $RP_TLS_SERVER (one port,
# also put in PORT).
start_tls_server() {
	local name=$1
	shift
	# shellcheck disable=SC2034 # PORT is for the caller
	start_prog "$RP_TLS_SERVER" "$name" 1 "$@" && PORT=${PORTS[0]}
}

# stop_pid PID: SIGTERM, up to 5 s for it to exit, then SIGKILL; reaps it
# and returns its exit status.
stop_pid() {
	kill -TERM "$1" 2>/dev/null
	wait_gone "$1" 5000 || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# jcheck FILE N EXPR...: runs jcheck.py (see there) on FILE with the
# test's own prelude, $TMP/jprelude.py.
jcheck() {
	"$PY" "$T_HELPERS/jcheck.py" "$TMP/jprelude.py" "$@"
}

# check NAME N DESC EXPR...: for tests that ran the CLI into $TMP/NAME.jsonl
# (stderr in NAME.err, exit status in RC) and wrote their jcheck prelude:
# passes if the CLI did not fail as a program (exit 0 or 1; not a usage
# error, crash or timeout) and jcheck finds N records for which every
# python EXPR holds.
check() {
	local name=$1 n=$2 desc=$3
	shift 3
	if [ "$RC" -gt 1 ]; then
		fail "$desc: exit $RC: $(head -c 300 "$TMP/$name.err")"
		return 1
	fi
	if jcheck "$TMP/$name.jsonl" "$n" "$@" >"$TMP/$name.chk" 2>&1; then
		pass "$desc"
		return 0
	fi
	fail "$desc"
	cat "$TMP/$name.chk"
	[ -s "$TMP/$name.err" ] && echo "    stderr: $(head -c 300 "$TMP/$name.err")"
	return 1
}

# expect_exit_msg DESC RC WANT_RC PATTERN...: passes if RC is WANT_RC and
# $TMP/err (the command's stderr) holds every PATTERN (fixed strings).
expect_exit_msg() {
	local desc=$1 rc=$2 want=$3 p
	shift 3
	if [ "$rc" -ne "$want" ]; then
		fail "$desc: exit $rc, not $want: $(head -c 300 "$TMP/err")"
		return 1
	fi
	for p in "$@"; do
		if ! grep -qF -- "$p" "$TMP/err"; then
			fail "$desc: stderr lacks '$p': $(head -c 300 "$TMP/err")"
			return 1
		fi
	done
	pass "$desc"
}
