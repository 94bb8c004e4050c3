#!/usr/bin/env bash
# perf/order/ab.sh - a scan shuffled against the same scan in input
# order, in interleaved pairs so that both see the same machine: W1
# (`tcp -p 1-65535 127.0.0.1`, every port of one host) or, with W=W2,
# W2 (`tcp -p 9 127.4.0.0/14`, 262,144 hosts); on loopback nearly every
# port is closed. Prints each run's wall time, the medians and their
# ratio (shuffled / input order).
#   [W=W2] perf/order/ab.sh [RINGPROBE] [PAIRS] [extra ringprobe options...]
set -eu
rp=${1:-$(dirname "$0")/../../build/cli/ringprobe}
pairs=${2:-15}
shift $(($# < 2 ? $# : 2))
case ${W:-W1} in
W1) targets=(-p 1-65535 127.0.0.1) ;;
W2) targets=(-p 9 127.4.0.0/14) ;;
*) echo "W must be W1 or W2" >&2 && exit 2 ;;
esac
run() { # prints the wall time of one run in us; a failed run ends it all
	local t0 t1 rc=0
	t0=$(date +%s%N)
	timeout -k 2 60 "$rp" tcp "${targets[@]}" -o /dev/null \
		--no-progress "$@" >/dev/null 2>"$err" || rc=$?
	t1=$(date +%s%N)
	if [ $rc -ne 0 ]; then
		echo "ab.sh: $rp $* failed (exit $rc):" >&2
		head -c 500 "$err" >&2
		return 1
	fi
	echo $(((t1 - t0) / 1000))
}
err=$(mktemp)
trap 'rm -f "$err"' EXIT
shuf="" seq=""
for ((i = 0; i < pairs; i++)); do
	a=$(run --seed $((i + 1)) "$@") || exit 1
	b=$(run --no-shuffle "$@") || exit 1
	shuf="$shuf $a" seq="$seq $b"
done
python3 - "$shuf" "$seq" <<'PY'
import statistics, sys
a = [int(x) / 1000 for x in sys.argv[1].split()]
b = [int(x) / 1000 for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print("shuffled ms:   ", " ".join(f"{x:.0f}" for x in a))
print("input order ms:", " ".join(f"{x:.0f}" for x in b))
print(f"median shuffled {ma:.1f} ms, input order {mb:.1f} ms, "
      f"ratio {ma / mb:.3f}")
PY
