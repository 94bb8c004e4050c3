#!/usr/bin/env bash
# perf/order/burst.sh - how hard one /24 is hit: a scan of 127.64.0.0/14
# port 9 (262,144 hosts, all closed: the kernel answers each SYN with an
# RST) in a private network namespace, in input order and shuffled. The
# results come out in the order the probes went (closed ports answer at
# once), so each run's 10 ms windows are its output cut into runs of
# rate x 10 ms consecutive records; the script prints, per order, the
# rate, that window and the most connects one /24 got in any window.
# Needs root (unshare -n). Usage: perf/order/burst.sh [RINGPROBE] [SEED]
set -eu
rp=${1:-$(dirname "$0")/../../build/cli/ringprobe}
seed=${2:-1}
if [ "${3:-}" != --in-netns ]; then
	exec timeout -k 2 600 unshare -n bash "$0" "$rp" "$seed" --in-netns
fi
ip link set lo up
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for order in --no-shuffle "--seed $seed"; do
	# shellcheck disable=SC2086
	timeout -k 2 300 "$rp" tcp -p 9 -c 1024 --threads 1 -f csv \
		--no-progress $order --stats-json "$tmp/s.json" \
		127.64.0.0/14 >"$tmp/out.csv" 2>/dev/null || true
	python3 - "$tmp/out.csv" "$tmp/s.json" "$order" <<'PY'
import collections, csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rate = json.load(open(sys.argv[2]))["probes_per_s"]
k = max(1, int(rate * 0.01))
nets = [r["ip"].rsplit(".", 1)[0] for r in rows]
worst, cnt = 0, collections.Counter()
for i, n in enumerate(nets):  # sliding window of k records
    cnt[n] += 1
    if i >= k:
        cnt[nets[i - k]] -= 1
    worst = max(worst, cnt[n])
print(f"{sys.argv[3]:>14}: {len(rows)} results, {rate:.0f}/s, "
      f"10 ms = {k} probes, most connects to one /24 in 10 ms: {worst}")
PY
done
