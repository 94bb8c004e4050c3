#!/usr/bin/env bash
# Runs every C test binary of a build tree under valgrind's memcheck:
# any memory error or definite leak fails it. Usage: tests/valgrind.sh BUILD
# (default build). Tests that valgrind cannot run (a thread that must run
# while another waits in io_uring_enter) skip those cases themselves.
# --fair-sched=yes: without it valgrind let a source's reader thread starve
# while the engine thread waited, and test_conservation stalled 1 run in 4.
set -uo pipefail
dir=${1:-build}
# What ctest gives the tests (tests/CMakeLists.txt): the CLI and the
# servers they start, which run natively (valgrind traces no children).
abs=$(cd "$dir" && pwd)
export RINGPROBE=${RINGPROBE:-$abs/cli/ringprobe}
export RP_TEST_SERVER=${RP_TEST_SERVER:-$abs/tests/rp_target_server}
export RP_TLS_SERVER=${RP_TLS_SERVER:-$abs/tests/rp_tls_server}
pass=0 failed=0
for t in "$dir"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	log=$dir/Testing/valgrind-$name.log
	mkdir -p "$(dirname "$log")"
	start=$(date +%s)
	timeout 900 valgrind -q --fair-sched=yes --error-exitcode=9 \
		--leak-check=full \
		--errors-for-leak-kinds=definite "$t" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then
		pass=$((pass + 1))
		echo "valgrind: $name ok (${secs} s)"
	else
		failed=$((failed + 1))
		echo "valgrind: $name FAILED (exit $rc, ${secs} s); log:"
		tail -40 "$log"
	fi
done
echo "valgrind: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
