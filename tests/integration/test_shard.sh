#!/usr/bin/env bash
# test_shard.sh - seeded order and shards through the CLI (README "Order
# and shards"): in a private network namespace (unshare -n, lo up),
# 127.64.0.0/16 x 4 closed ports (262,144 targets, RSTs answer at once) is
# scanned once whole and once as 4 shards run as separate processes with
# the same --seed; the union of the shards must be the whole run exactly
# (same index, address, port and status), no index twice, each shard
# within 1% of a quarter, and each shard's summary counting only its own
# targets. A file with bad lines is split the same way (each bad line
# one result, in one shard), --shard without --seed is refused, and the
# same seed gives the same order (--threads 1) while another seed does not.
# Exits 77 without root or unshare. Every run is bounded by timeout(1).
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

# key FILE: the result lines without timing fields, sorted (CSV:
# input,index,ip,port,status,...).
key() {
	cut -d, -f1-5 "$1" | grep -v '^input,' | sort
}

in_netns() {
	local seed=424242 whole=$TMP/whole.csv n i cnt lo hi pids=() rc

	ip link set lo up || { fail "ip link set lo up"; return; }
	timeout -k 2 240 "$RINGPROBE" tcp -p 1-4 --connect-timeout 500ms \
		-f csv --no-progress --seed "$seed" 127.64.0.0/16 \
		>"$whole" 2>"$TMP/whole.err"
	rc=$?
	n=$(($(wc -l <"$whole") - 1))
	if [ "$rc" -ne 0 ] || [ "$n" -ne 262144 ]; then
		fail "whole run: exit $rc, $n results (want 262144)"
		head -5 "$TMP/whole.err"
		return
	fi
	pass "whole run: 262144 results"

	for i in 0 1 2 3; do
		timeout -k 2 240 "$RINGPROBE" tcp -p 1-4 --connect-timeout 500ms \
			-f csv --no-progress --seed "$seed" --shard "$i/4" \
			--summary --stats-json "$TMP/s$i.json" 127.64.0.0/16 \
			>"$TMP/s$i.csv" 2>"$TMP/s$i.err" &
		pids+=($!)
		PIDS+=($!)
	done
	for i in 0 1 2 3; do
		wait "${pids[$i]}"
		rc=$?
		[ "$rc" -eq 0 ] || fail "shard $i/4 exited $rc"
	done

	lo=$((262144 * 99 / 400))
	hi=$((262144 * 101 / 400))
	for i in 0 1 2 3; do
		cnt=$(($(wc -l <"$TMP/s$i.csv") - 1))
		if [ "$cnt" -ge "$lo" ] && [ "$cnt" -le "$hi" ]; then
			pass "shard $i/4: $cnt results, within 1% of a quarter"
		else
			fail "shard $i/4: $cnt results, want $lo..$hi"
		fi
		if grep -q "^$cnt results in" "$TMP/s$i.err" &&
			grep -q "shard $i/4" "$TMP/s$i.err" &&
			grep -q "\"seed\":$seed," "$TMP/s$i.json" &&
			grep -q "\"results\":$cnt," "$TMP/s$i.json"; then
			pass "shard $i/4: summary and stats count its own targets"
		else
			fail "shard $i/4: summary/stats do not say $cnt results"
			cat "$TMP/s$i.err" "$TMP/s$i.json"
		fi
	done
	cat "$TMP"/s[0-3].csv | cut -d, -f2 | grep -v index | sort | uniq -d \
		>"$TMP/dup"
	if [ -s "$TMP/dup" ]; then
		fail "an index in two shards: $(head -3 "$TMP/dup" | tr '\n' ' ')"
	else
		pass "no index twice across the shards"
	fi
	key "$whole" >"$TMP/whole.key"
	cat "$TMP"/s[0-3].csv >"$TMP/merged.csv"
	key "$TMP/merged.csv" >"$TMP/merged.key"
	if cmp -s "$TMP/whole.key" "$TMP/merged.key"; then
		pass "cat of the 4 shards == the unsharded run"
	else
		fail "cat of the 4 shards differs from the unsharded run"
		diff "$TMP/whole.key" "$TMP/merged.key" | head -5
	fi

	# --resume keeps a watermark and what is done past it (README): a
	# shard's other positions and the addresses excluded inside the
	# block count as done, so a finished run's state stays small (a list
	# of every 4th position of 16,384 would be ~80 KB)
	timeout -k 2 120 "$RINGPROBE" tcp -p 9 --connect-timeout 500ms -q \
		-f jsonl --seed "$seed" --shard 1/4 --exclude 127.64.8.0/21 \
		-o "$TMP/r.jsonl" --resume "$TMP/r.state" 127.64.0.0/18 \
		2>"$TMP/r.err"
	rc=$?
	cnt=$(wc -l <"$TMP/r.jsonl")
	size=$(stat -c %s "$TMP/r.state" 2>/dev/null || echo 0)
	# 16,384 addresses less 2,048 excluded: about a quarter of them (the
	# excluded ones fall on the 4 shards' positions at random)
	if [ "$rc" -eq 0 ] && [ "$cnt" -ge 3400 ] && [ "$cnt" -le 3770 ] &&
		[ "$size" -gt 0 ] && [ "$size" -lt 4096 ]; then
		pass "--resume --shard 1/4 --exclude: $cnt results, state $size bytes"
	else
		fail "--resume --shard 1/4 --exclude: exit $rc, $cnt results, state $size bytes"
		head -3 "$TMP/r.err"
	fi
}

if [ "${1:-}" = "--in-netns" ]; then
	TMP=$2
	trap - EXIT
	in_netns
	exit $((FAILS > 0))
fi

need_exec "$RINGPROBE"
TMP=$(mktemp -d)

# -- refused: --shard without --seed, bad --shard --
timeout -k 2 10 "$RINGPROBE" tcp -p 1 --shard 0/4 127.0.0.1 \
	>/dev/null 2>"$TMP/noseed.err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q -- "--shard 0/4 needs --seed" "$TMP/noseed.err"; then
	pass "--shard without --seed: exit 2, says why"
else
	fail "--shard without --seed: exit $rc: $(cat "$TMP/noseed.err")"
fi
for bad in 4/4 1 x/2 1/0 -1/3; do
	timeout -k 2 10 "$RINGPROBE" tcp -p 1 --seed 1 --shard "$bad" \
		127.0.0.1 >/dev/null 2>"$TMP/bad.err"
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q "bad --shard" "$TMP/bad.err"; then
		pass "--shard $bad refused"
	else
		fail "--shard $bad: exit $rc: $(cat "$TMP/bad.err")"
	fi
done

# -- a file with bad lines, 3 shards, on 127.0.0.1 ports 20000-29999 (below
# the ephemeral range: closed unless someone listens there) --
for ((i = 0; i < 3000; i++)); do
	if ((i % 100 == 7)); then
		echo "bad!$i"
	else
		echo "127.0.0.1:$((20000 + i % 10000))"
	fi
done >"$TMP/list"
timeout -k 2 60 "$RINGPROBE" tcp -f csv --no-progress --seed 5 \
	--shuffle-window 500 -i "$TMP/list" >"$TMP/lwhole.csv" 2>/dev/null
for i in 0 1 2; do
	timeout -k 2 60 "$RINGPROBE" tcp -f csv --no-progress --seed 5 \
		--shuffle-window 500 --shard "$i/3" -i "$TMP/list" \
		>"$TMP/l$i.csv" 2>/dev/null
done
cat "$TMP"/l[0-2].csv >"$TMP/lmerged.csv"
bad=$(grep -c '^bad!' "$TMP/lmerged.csv")
# (status left out: on the shared loopback another program may listen)
if [ "$(key "$TMP/lwhole.csv" | wc -l)" -eq 3000 ] &&
	cmp -s <(key "$TMP/lwhole.csv" | cut -d, -f1-4) \
		<(key "$TMP/lmerged.csv" | cut -d, -f1-4) &&
	[ "$bad" -eq 30 ]; then
	pass "file lines: 3 shards == the whole, 30 bad lines once each"
else
	fail "file lines: shards differ from the whole run ($bad bad lines)"
fi

# -- the order: same seed same order, another seed another --
order() {
	timeout -k 2 60 "$RINGPROBE" tcp -f csv --no-progress --threads 1 \
		-c 1 "$@" -i "$TMP/list" 2>/dev/null | cut -d, -f2 | grep -v index
}
order --seed 5 >"$TMP/o1"
order --seed 5 >"$TMP/o2"
order --seed 6 >"$TMP/o3"
order --no-shuffle >"$TMP/o4"
if cmp -s "$TMP/o1" "$TMP/o2" && ! cmp -s "$TMP/o1" "$TMP/o3" &&
	cmp -s <(sort -n "$TMP/o1") <(sort -n "$TMP/o3") &&
	cmp -s "$TMP/o4" <(sort -n "$TMP/o4"); then
	pass "same seed: same order; another seed: another; --no-shuffle: input order"
else
	fail "order is not set by the seed"
fi

# -- the private namespace: 65,536 hosts x 4 ports --
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null ||
	! command -v ip >/dev/null; then
	skip "namespace part needs root, unshare and ip"
	[ "$FAILS" -eq 0 ] && exit 77
else
	timeout -k 2 560 unshare -n bash "${BASH_SOURCE[0]}" --in-netns "$TMP" \
		>"$TMP/ns.log" 2>&1
	rc=$?
	cat "$TMP/ns.log"
	FAILS=$((FAILS + $(grep -c '^FAIL' "$TMP/ns.log")))
	[ "$rc" -eq 0 ] || [ "$(grep -c '^FAIL' "$TMP/ns.log")" -gt 0 ] ||
		fail "namespace part exited $rc"
fi

[ "$FAILS" -eq 0 ] && echo "all passed" || echo "$FAILS failed"
[ "$FAILS" -eq 0 ]
