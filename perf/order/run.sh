#!/usr/bin/env bash
# perf/order/run.sh - builds bench_source against a build tree's static
# library and runs it for W1, W2 and a 1,000,000-line file.
#   perf/order/run.sh [BUILD_DIR]   (default: build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../..
build=${1:-$root/build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -I"$root/engine/include" "$here/bench_source.c" \
	"$build/engine/libringprobe.a" \
	$(pkg-config --libs liburing libcares libssl libcrypto) -lpthread \
	-o "$tmp/bench_source"
"$tmp/bench_source" W1
"$tmp/bench_source" W2
python3 -c '
for i in range(1000000):
    print(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")' >"$tmp/list"
"$tmp/bench_source" "$tmp/list" 3
