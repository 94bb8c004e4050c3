#!/usr/bin/env bash
# Runs every C test binary of a build tree under valgrind's memcheck:
# any memory error or definite leak fails it. Usage: tests/valgrind.sh BUILD
# (default build). Tests that valgrind cannot run (a thread that must run
# while another waits in io_uring_enter) skip those cases themselves.
# --fair-sched=yes: without it valgrind let a source's reader thread starve
# while the engine thread waited, and test_conservation stalled 1 run in 4.
set -uo pipefail
dir=${1:-build}
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
