#!/usr/bin/env bash
# test_cli_opts.sh - how the command line reads its options and input, as
# README "Usage" and "Exit codes" say: each subcommand takes only its own
# options (exit 2 naming both) and has its own --help; bad values are
# usage errors naming the option; nmap's spellings (-p-, -p repeated, -iL,
# -oG & co.); -o - is stdout; -f in any case; an unknown option's closest
# name; durations need a unit; demo takes no targets; a pipe on stdin is
# the input; a UTF-8 BOM is skipped; exit 3 for invalid lines; a low
# descriptor limit lowers the default concurrency.
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = rp_target_server.
# Prints PASS/FAIL lines; exits 1 if a check failed.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools timeout grep
need_exec "$RINGPROBE" "$RP_TEST_SERVER"
TMP=$(mktemp -d /tmp/rp_test_opts.XXXXXX)

start_server open 3 --ports 3 || exit 1
cd "$TMP" || exit 1 # where a file named '-' or 'G' would appear
P1=${PORTS[0]} P2=${PORTS[1]} P3=${PORTS[2]}

# rp ARGS...: runs the CLI (20 s at most, stdin /dev/null) into
# $TMP/out, $TMP/err; RC is its exit status.
rp() {
	timeout -k 2 20 "$RINGPROBE" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	RC=$?
}

# usage DESC PATTERN... -- ARGS...: exit 2, stderr holds each PATTERN.
usage() {
	local desc=$1 pats=()
	shift
	while [ "$1" != -- ]; do
		pats+=("$1")
		shift
	done
	shift
	rp "$@"
	expect_exit_msg "$desc" "$RC" 2 "${pats[@]}"
}

# -- 1. an option of another subcommand is refused, naming both --
usage "tcp --match-status: refused" "--match-status" "not for tcp" -- \
	tcp --match-status 200 -p "$P1" 127.0.0.1
usage "tcp --follow: refused" "--follow" "tcp" -- tcp --follow 1 127.0.0.1:"$P1"
usage "tcp --method: refused" "--method" "tcp" -- tcp --method GET 127.0.0.1:"$P1"
usage "tcp --path: refused" "--path" "tcp" -- tcp --path /x 127.0.0.1:"$P1"
usage "tcp --expiring-within: refused" "--expiring-within" "tcp" -- \
	tcp --expiring-within 3 127.0.0.1:"$P1"
usage "tcp --scheme: refused" "--scheme" "tcp" -- tcp --scheme https 127.0.0.1:"$P1"
usage "tcp -p https:443: refused" "https:443" -- tcp -p "https:$P1" 127.0.0.1
usage "tcp --sni (TLS): refused" "--sni" "tcp" -- tcp --sni x 127.0.0.1:"$P1"
usage "tls --match-status (http only): refused" "--match-status" "tls" -- \
	tls --match-status 200 127.0.0.1:"$P1"
usage "tls -H (http only): refused" "--header" "tls" -- tls -H 'A: b' 127.0.0.1:"$P1"
usage "http --banner (tcp only): refused" "--banner" "for tcp" -- \
	http --banner 127.0.0.1:"$P1"

# -- 2. each subcommand's --help lists its options only --
for s in tcp http tls demo; do
	timeout -k 2 10 "$RINGPROBE" "$s" --help >"$TMP/help.$s" 2>&1 ||
		fail "$s --help: exit $?"
done
if grep -q -- '--banner' "$TMP/help.tcp" && ! grep -q -- '--match-status' "$TMP/help.tcp" &&
	! grep -q -- '--sni' "$TMP/help.tcp" && grep -q -- '--match-status' "$TMP/help.http" &&
	grep -q -- '--sni' "$TMP/help.http" && ! grep -q -- '--banner' "$TMP/help.http" &&
	grep -q -- '--sni' "$TMP/help.tls" && ! grep -q -- '--method' "$TMP/help.tls" &&
	! grep -q -- '--ports' "$TMP/help.demo"; then
	pass "tcp/http/tls/demo --help list their own options only"
else
	fail "a --help lists another subcommand's options (or lacks its own)"
fi
timeout -k 2 10 "$RINGPROBE" --help >"$TMP/help" 2>&1
if grep -q 'ringprobe tcp \[options\]' "$TMP/help" &&
	grep -q 'COMMAND --help' "$TMP/help" && ! grep -q -- '--match-status' "$TMP/help"; then
	pass "ringprobe --help is the overview"
else
	fail "ringprobe --help: $(head -c 300 "$TMP/help")"
fi

# -- 3. bad HTTP strings are usage errors naming the option --
usage "--method 'GE T'" "--method" -- http --method 'GE T' 127.0.0.1:"$P1"
usage "--method ''" "--method" -- http --method '' 127.0.0.1:"$P1"
usage "--method with CR LF" "--method" -- http --method $'GET\r\nX: y' 127.0.0.1:"$P1"
usage "--user-agent ''" "--user-agent" -- http --user-agent '' 127.0.0.1:"$P1"
usage "--user-agent with LF" "--user-agent" -- http --user-agent $'a\nb' 127.0.0.1:"$P1"
usage "-H 'Bad Name: x'" "--header" -- http -H 'Bad Name: x' 127.0.0.1:"$P1"

# -- 4. -o - is standard output --
(cd "$TMP" && timeout -k 2 20 "$RINGPROBE" tcp -q -f jsonl -o - \
	127.0.0.1:"$P1" >"$TMP/dash.out" 2>"$TMP/err" </dev/null)
if [ ! -e "$TMP/-" ] && grep -q '"status":"open"' "$TMP/dash.out"; then
	pass "-o - writes to standard output (no file named -)"
else
	fail "-o -: file '-' exists: $([ -e "$TMP/-" ] && echo yes || echo no)," \
		"stdout: $(head -c 200 "$TMP/dash.out")"
fi

# -- 5. nmap's habits --
open_count() { grep -c '"status":"open"' "$TMP/out"; }
rp tcp -q -f jsonl -p "$P1" -p "$P2,$P3" 127.0.0.1
if [ "$RC" -eq 0 ] && [ "$(open_count)" -eq 3 ]; then
	pass "-p $P1 -p $P2,$P3: the lists add up (3 open)"
else
	fail "-p repeated: exit $RC, $(open_count) open: $(head -c 200 "$TMP/err")"
fi
echo "127.0.0.1:$P1" >"$TMP/list"
rp tcp -q -f jsonl -iL "$TMP/list"
if [ "$RC" -eq 0 ] && [ "$(open_count)" -eq 1 ]; then
	pass "-iL FILE is -i FILE"
else
	fail "-iL: exit $RC: $(head -c 200 "$TMP/err")"
fi
for f in G X N A; do
	usage "-o$f is refused with a pointer" "-o$f" "-f" -- \
		tcp -o$f "$TMP/o$f" 127.0.0.1:"$P1"
	[ -e "$TMP/$f" ] && fail "-o$f wrote a file named $f"
done
# -p- is every port (65535 results; closed ones answer at once).
rp tcp -q -f jsonl -p- --connect-timeout 300ms -c 2048 127.0.0.1
if [ "$(wc -l <"$TMP/out")" -eq 65535 ] && [ "$(open_count)" -ge 3 ]; then
	pass "-p- probes all 65535 ports"
else
	fail "-p-: exit $RC, $(wc -l <"$TMP/out") results: $(head -c 200 "$TMP/err")"
fi

# -- 6. small things --
rp tcp -q -f JSONL 127.0.0.1:"$P1"
if [ "$RC" -eq 0 ] && [ "$(open_count)" -eq 1 ]; then
	pass "-f JSONL (any case)"
else
	fail "-f JSONL: exit $RC: $(head -c 200 "$TMP/err")"
fi
usage "--prots suggests --ports" "--prots" "did you mean --ports" -- \
	tcp --prots 80 127.0.0.1
usage "--connect-timeout 1000 asks for a unit" "1000ms or 1000s" -- \
	tcp --connect-timeout 1000 127.0.0.1:"$P1"
usage "demo with targets is refused" "demo" -- demo 127.0.0.1
printf '\xef\xbb\xbf127.0.0.1:%s\n127.0.0.1:%s\n' "$P1" "$P2" >"$TMP/bom"
rp tcp -q -f jsonl -i "$TMP/bom"
if [ "$RC" -eq 0 ] && [ "$(open_count)" -eq 2 ]; then
	pass "a UTF-8 BOM at the start of a file is skipped"
else
	fail "BOM: exit $RC, $(open_count) open: $(cat "$TMP/out" | head -c 300)"
fi
printf '127.0.0.1:%s\nnot!a!target\n' "$P1" >"$TMP/bad"
rp tcp -q -f jsonl -i "$TMP/bad"
if [ "$RC" -eq 3 ] && [ "$(wc -l <"$TMP/out")" -eq 2 ]; then
	pass "exit 3: the scan completed, one line was invalid"
else
	fail "invalid line: exit $RC (want 3), $(wc -l <"$TMP/out") results"
fi

# -- 7. a pipe on stdin with no targets is the input --
printf '127.0.0.1:%s\n127.0.0.1:%s\n' "$P1" "$P2" |
	timeout -k 2 20 "$RINGPROBE" tcp -f jsonl --no-progress >"$TMP/out" \
		2>"$TMP/err"
RC=$?
if [ "$RC" -eq 0 ] && [ "$(open_count)" -eq 2 ] &&
	grep -q 'standard input' "$TMP/err"; then
	pass "a pipe on stdin with no targets is read, and stderr says so"
else
	fail "stdin pipe: exit $RC, $(open_count) open: $(head -c 200 "$TMP/err")"
fi
usage "no targets and stdin /dev/null: usage error" "no targets" -- tcp -p 80

# -- 8. a low descriptor limit lowers the default concurrency --
(ulimit -n 200 && timeout -k 2 20 "$RINGPROBE" tcp -f jsonl --no-progress \
	-p "$P1,$P2,$P3" 127.0.0.1 >"$TMP/out" 2>"$TMP/err" </dev/null)
RC=$?
if [ "$RC" -eq 0 ] && [ "$(open_count)" -eq 3 ] &&
	grep -q 'concurrency' "$TMP/err"; then
	pass "hard limit 200, no -c: runs at a lower concurrency, says so"
else
	fail "hard limit 200, no -c: exit $RC: $(head -c 200 "$TMP/err")"
fi
(ulimit -n 200 && timeout -k 2 20 "$RINGPROBE" tcp -c 4096 -p "$P1" \
	127.0.0.1 >"$TMP/out" 2>"$TMP/err" </dev/null)
RC=$?
expect_exit_msg "hard limit 200, -c 4096: refused naming the limit" "$RC" 2 \
	"hard limit is 200"

# Direct descriptors live in each ring's table, not the process's: with
# them, 2 threads hold 2 x (limit - 16) sockets (README, "-c"); without
# them (older kernels), the process's limit bounds all of them.
(ulimit -n 1100 && timeout -k 2 30 "$RINGPROBE" tcp -f jsonl --no-progress \
	--threads 2 -c 2000 -p 9 --stats-json "$TMP/lim.json" 127.77.0.0/21 \
	>"$TMP/out" 2>"$TMP/err" </dev/null)
RC=$?
if python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["direct"] else 1)' "$TMP/lim.json" 2>/dev/null; then
	slots=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["concurrency"])' "$TMP/lim.json")
	if [ "$RC" -eq 0 ] && [ "$(wc -l <"$TMP/out")" -eq 2048 ] &&
		[ "$slots" -eq 2000 ]; then
		pass "hard limit 1100, direct descriptors: -c 2000 on 2 threads runs (2000 slots, 2048 results)"
	else
		fail "hard limit 1100, -c 2000 on 2 threads: exit $RC, $slots slots: $(head -c 200 "$TMP/err")"
	fi
	(ulimit -n 1100 && timeout -k 2 20 "$RINGPROBE" tcp -c 2200 --threads 2 \
		-p 9 127.0.0.1 >"$TMP/out" 2>"$TMP/err" </dev/null)
	expect_exit_msg "hard limit 1100, -c 2200 on 2 threads: refused, fit 2168" \
		$? 2 "hard limit is 1100" "-c 2168 or less"
elif [ "$RC" -eq 2 ] && grep -q 'hard limit is 1100' "$TMP/err"; then
	pass "hard limit 1100, no direct descriptors: -c 2000 refused"
else
	fail "hard limit 1100, -c 2000: exit $RC: $(head -c 200 "$TMP/err")"
fi

[ "$FAILS" -eq 0 ] || exit 1
exit 0
