#!/usr/bin/env bash
# Regenerates engine/abi/libringprobe.abi, the ABI baseline that
# tests/integration/test_abi.sh compares the built library with.
# Run it after a compatible change the baseline should now include (new
# functions, fields appended to a struct), or together with a SONAME bump
# after an incompatible one. Usage: engine/abi/update.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR (a RelWithDebInfo or Debug build)}
here=$(cd "$(dirname "$0")" && pwd)
so=$(ls "$build"/engine/libringprobe.so.*.*.* | head -n1)
abidw --headers-dir "$here/../include" --drop-private-types --no-show-locs \
	--no-corpus-path "$so" >"$here/libringprobe.abi"
echo "wrote $here/libringprobe.abi from $so"
