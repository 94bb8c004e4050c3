#!/usr/bin/env bash
# perf/stop/ctrl_c.sh - how long Ctrl-C takes at -c 4096: ringprobe tcp
# with 4096 connects in flight to addresses whose SYNs an nftables rule
# drops (so every probe is waiting when the signal comes), then SIGINT;
# the time from kill(1) to the end of wait(1) for the process. Runs in a
# private network namespace (needs root: unshare -n). Prints each run
# and the median.
#   perf/stop/ctrl_c.sh [RINGPROBE] [RUNS] [extra ringprobe options...]
set -eu
rp=${1:-$(dirname "$0")/../../build/cli/ringprobe}
runs=${2:-10}
shift $(($# < 2 ? $# : 2))
if [ "${RP_IN_NETNS:-}" != 1 ]; then
	RP_IN_NETNS=1 exec timeout -k 2 300 unshare -n bash "$0" "$rp" "$runs" "$@"
fi
ip link set lo up
nft -f - <<'NFT'
table inet rp_stop {
  chain in {
    type filter hook input priority 0; policy accept;
    tcp dport 9 drop
  }
}
NFT
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq 0 4095); do
	echo "127.0.$((1 + i / 256)).$((i % 256))"
done >"$tmp/targets"
ms=""
for ((r = 0; r < runs; r++)); do
	rm -f "$tmp/stats.json"
	# --foreground: a plain timeout(1) passes a SIGINT on to the child
	# and to its whole group, and a second SIGINT means "exit at once"
	timeout --foreground -k 2 60 "$rp" tcp -p 9 -c 4096 --connect-timeout 30s --timeout 60s -q \
		--summary --stats-json "$tmp/stats.json" -i "$tmp/targets" \
		-o /dev/null "$@" 2>/dev/null &
	pid=$!
	# 4096 connects to dropped SYNs are all in flight within
	# milliseconds and wait 30 s: a second is ample (the count of
	# cancelled results below says whether they were)
	sleep 1
	t0=$(date +%s%N)
	kill -INT $pid
	rc=0
	wait $pid || rc=$?
	t1=$(date +%s%N)
	cancelled=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["by_status"]["cancelled"])' "$tmp/stats.json" 2>/dev/null || echo "?")
	if [ "$rc" -ne 130 ] || [ "$cancelled" != 4096 ]; then
		echo "run $r: exit $rc, cancelled $cancelled: not a stop of 4096 in flight" >&2
		head -c 300 "$tmp/stats.json" >&2
		exit 1
	fi
	ms="$ms $(((t1 - t0) / 1000))"
	echo "run $r: exit $rc, $cancelled cancelled, $(((t1 - t0) / 1000)) us"
done
python3 -c '
import statistics, sys
v = [int(x) / 1000 for x in sys.argv[1].split()]
print(f"median {statistics.median(v):.1f} ms, min {min(v):.1f}, max {max(v):.1f} (SIGINT to exit, -c 4096)")' "$ms"
