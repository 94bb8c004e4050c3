#!/usr/bin/env bash
# test_install.sh - what `cmake --install` gives a user: installs the build
# into a staging DESTDIR and into a temporary prefix, checks what goes
# where (shared library with its SONAME, archive, headers, ringprobe.pc,
# the CMake package, the command, the man pages), then builds
# examples/scan.c out of tree against the prefix five ways: CMake
# find_package with ringprobe::ringprobe (shared) and ringprobe::static,
# pkg-config (shared, and --static with the archive), and plain
# -lringprobe. Each program scans a listener and a closed port this test
# owns on 127.0.0.1, and must report both.
#
# Environment: RP_BUILD_DIR (the build to install), RP_CMAKE, RP_CC,
# RP_INSTALL_{BINDIR,INCLUDEDIR,LIBDIR,MANDIR} as configured, RINGPROBE,
# RP_TEST_SERVER, RP_SANITIZE. Prints PASS/FAIL/SKIP lines; exits 1 if a
# check failed, 77 if a tool is missing.
set -u

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

: "${RP_BUILD_DIR:?RP_BUILD_DIR must be the build directory}"
CMAKE=${RP_CMAKE:-cmake}
CC=${RP_CC:-cc}
BINDIR=${RP_INSTALL_BINDIR:-bin}
INCDIR=${RP_INSTALL_INCLUDEDIR:-include}
LIBDIR=${RP_INSTALL_LIBDIR:-lib}
MANDIR=${RP_INSTALL_MANDIR:-share/man}
need_tools "$CMAKE" "$CC" pkg-config readelf python3 timeout
need_exec "$RP_TEST_SERVER"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d /tmp/rp_test_install.XXXXXX)
SAN=()
[ -n "${RP_SANITIZE:-}" ] && SAN=(-fsanitize="$RP_SANITIZE")
VER=$(sed -n 's/^#define RP_VERSION_STRING "\(.*\)"/\1/p' \
	"$SRC/engine/include/ringprobe/version.h")
MAJOR=${VER%%.*}

# -- 1. a staged install (DESTDIR), as a packager makes it --
STAGE=$TMP/stage
PFX0=$TMP/never # the prefix the staged files are for; never created
if ! DESTDIR=$STAGE timeout -k 2 120 "$CMAKE" --install "$RP_BUILD_DIR" \
	--prefix "$PFX0" >"$TMP/stage.out" 2>&1; then
	fail "cmake --install with DESTDIR: $(tail -c 300 "$TMP/stage.out")"
	exit 1
fi
want=("$BINDIR/ringprobe" "$INCDIR/ringprobe.h" "$INCDIR/ringprobe/version.h"
	"$LIBDIR/libringprobe.so.$VER" "$LIBDIR/libringprobe.so.$MAJOR"
	"$LIBDIR/libringprobe.so" "$LIBDIR/libringprobe.a"
	"$LIBDIR/pkgconfig/ringprobe.pc"
	"$LIBDIR/cmake/ringprobe/ringprobeConfig.cmake"
	"$LIBDIR/cmake/ringprobe/ringprobeConfigVersion.cmake"
	"$MANDIR/man1/ringprobe.1" "$MANDIR/man3/libringprobe.3")
missing=()
for f in "${want[@]}"; do
	[ -e "$STAGE$PFX0/$f" ] || missing+=("$f")
done
if [ "${#missing[@]}" -eq 0 ]; then
	pass "the install has all ${#want[@]} expected files"
else
	fail "the install lacks: ${missing[*]}"
fi
if [ -e "$PFX0" ]; then
	fail "a DESTDIR install wrote to the prefix itself ($PFX0)"
else
	pass "a DESTDIR install writes only under DESTDIR"
fi
pcprefix=$(sed -n 's/^prefix=//p' "$STAGE$PFX0/$LIBDIR/pkgconfig/ringprobe.pc" 2>/dev/null)
if [ "$pcprefix" = "$PFX0" ]; then
	pass "ringprobe.pc names the install prefix, not DESTDIR"
else
	fail "ringprobe.pc says prefix=$pcprefix, want $PFX0"
fi

# -- 2. the same install into a prefix, which the rest uses --
P=$TMP/prefix
if ! timeout -k 2 120 "$CMAKE" --install "$RP_BUILD_DIR" --prefix "$P" \
	>"$TMP/install.out" 2>&1; then
	fail "cmake --install --prefix: $(tail -c 300 "$TMP/install.out")"
	exit 1
fi
(cd "$STAGE$PFX0" && find . ! -type d | sort) >"$TMP/stage.list"
(cd "$P" && find . ! -type d | sort) >"$TMP/prefix.list"
if cmp -s "$TMP/stage.list" "$TMP/prefix.list"; then
	pass "DESTDIR and prefix installs hold the same $(wc -l <"$TMP/prefix.list") files"
else
	fail "DESTDIR and prefix installs differ: $(diff "$TMP/stage.list" \
		"$TMP/prefix.list" | head -c 300)"
fi
soname=$(readelf -d "$P/$LIBDIR/libringprobe.so.$VER" 2>/dev/null |
	sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" = "libringprobe.so.$MAJOR" ] &&
	[ "$(readlink "$P/$LIBDIR/libringprobe.so.$MAJOR")" = "libringprobe.so.$VER" ]; then
	pass "the shared library has SONAME $soname and its link"
else
	fail "SONAME '$soname', link $(readlink "$P/$LIBDIR/libringprobe.so.$MAJOR")"
fi

# -- 3. pkg-config --
export PKG_CONFIG_PATH=$P/$LIBDIR/pkgconfig
pc() { pkg-config "$@" ringprobe 2>&1; }
if [ "$(pc --modversion)" = "$VER" ] &&
	[[ " $(pc --cflags) " == *" -I$P/$INCDIR "* ]] &&
	[[ " $(pc --libs) " == *" -lringprobe "* ]] &&
	[[ " $(pc --libs) " != *" -luring "* ]] &&
	[[ " $(pc --static --libs) " == *" -luring "* ]] &&
	[[ " $(pc --static --libs) " == *" -lcares "* ]]; then
	pass "pkg-config: version $VER; -luring -lcares only with --static"
else
	fail "pkg-config: '$(pc --modversion | head -n 1)' '$(pc --cflags |
		head -n 1)' '$(pc --libs | head -n 1)' '$(pc --static --libs |
		head -n 1)'"
fi

# -- 4. targets this test owns: a listener and a closed port --
start_server open 1 --max-seconds 200 || exit 1
OPEN=${PORTS[0]}
# A socket bound but not listening: connects to its port are refused, and
# no one else can listen there while it is held.
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
time.sleep(200)' >"$TMP/closed.port" &
PIDS+=("$!")
for ((i = 0; i < 100; i++)); do
	[ -s "$TMP/closed.port" ] && break
	sleep 0.05
done
CLOSED=$(cat "$TMP/closed.port")
if ! [[ "$CLOSED" =~ ^[0-9]+$ ]]; then
	echo "FAIL: no closed port to probe"
	exit 1
fi

# run_scan NAME BINARY SHARED: BINARY (SHARED 1: linked to the installed
# libringprobe.so; 0: to the archive) scans OPEN and CLOSED and must
# print the open one and the right summary.
run_scan() {
	local name=$1 bin=$2 shared=$3 needed lib
	needed=$(readelf -d "$bin" 2>/dev/null | grep -c "NEEDED.*libringprobe")
	lib=$(LD_LIBRARY_PATH=$P/$LIBDIR ldd "$bin" 2>/dev/null |
		sed -n 's/.*libringprobe[^ ]* => \([^ ]*\).*/\1/p')
	if [ "$shared" = 1 ] && [ "$lib" != "$P/$LIBDIR/libringprobe.so.$MAJOR" ]; then
		fail "$name: loads libringprobe from '$lib', not the prefix"
		return
	elif [ "$shared" = 0 ] && [ "$needed" != 0 ]; then
		fail "$name: linked to libringprobe.so, not the archive"
		return
	fi
	LD_LIBRARY_PATH=$P/$LIBDIR timeout -k 2 20 "$bin" 127.0.0.1 "$OPEN" \
		"$CLOSED" >"$TMP/$name.out" 2>"$TMP/$name.err"
	local rc=$?
	if [ $rc -eq 0 ] &&
		grep -q "^127.0.0.1:$OPEN open " "$TMP/$name.out" &&
		grep -qx "2 probes: 1 open, 1 closed, 0 filtered, 0 other" \
			"$TMP/$name.out" &&
		[ "$(wc -l <"$TMP/$name.out")" -eq 2 ]; then
		pass "$name: builds, runs and finds the open and the closed port"
	else
		fail "$name: exit $rc: $(head -c 200 "$TMP/$name.out")" \
			"$(head -c 200 "$TMP/$name.err")"
	fi
}

CFLAGS=(-Wall -Wextra -Werror "${SAN[@]}")
EX=$SRC/examples

# -- 5. CMake: find_package(ringprobe CONFIG), shared and static --
# cmake_build NAME ARGS...: configures and builds examples/ against P.
cmake_build() {
	local name=$1 dir
	shift
	dir=$TMP/$name
	if timeout -k 2 120 "$CMAKE" -S "$EX" -B "$dir" -DCMAKE_PREFIX_PATH="$P" \
		-DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="${CFLAGS[*]}" \
		-DCMAKE_EXE_LINKER_FLAGS="${SAN[*]}" "$@" >"$dir.log" 2>&1 &&
		timeout -k 2 120 "$CMAKE" --build "$dir" >>"$dir.log" 2>&1; then
		local found
		found=$(sed -n 's/^ringprobe_DIR:PATH=//p' "$dir/CMakeCache.txt")
		if [ "$found" = "$P/$LIBDIR/cmake/ringprobe" ]; then
			return 0
		fi
		fail "$name: find_package found '$found', not the prefix"
		return 1
	fi
	fail "$name: the build failed:"
	grep -E -i -m 8 'error|warning' "$dir.log" | sed 's/^/    /'
	return 1
}
cmake_build cmake-shared && run_scan cmake-shared "$TMP/cmake-shared/scan" 1
cmake_build cmake-static -DSCAN_STATIC=ON &&
	run_scan cmake-static "$TMP/cmake-static/scan" 0

# The rate limit: the engine's fd stays quiet while probes wait for it, so
# a loop that did not wait on rp_engine_timeout() would never finish.
if [ -x "$TMP/cmake-shared/scan" ]; then
	many=()
	for ((i = 0; i < 10; i++)); do many+=("$CLOSED"); done
	timeout -k 2 20 "$TMP/cmake-shared/scan" -r 50 127.0.0.1 "${many[@]}" \
		"$OPEN" >"$TMP/rate.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] &&
		grep -qx "11 probes: 1 open, 10 closed, 0 filtered, 0 other" "$TMP/rate.out"; then
		pass "the example's loop honours rp_engine_timeout() (-r 50: all 11 results)"
	else
		fail "scan -r 50: exit $rc: $(tail -c 200 "$TMP/rate.out")"
	fi
fi

# -- 6. pkg-config, shared and static, and plain -lringprobe --
# shellcheck disable=SC2046 # pkg-config output is words on purpose
if timeout -k 2 60 "$CC" "${CFLAGS[@]}" -o "$TMP/pc-shared" "$EX/scan.c" \
	$(pkg-config --cflags --libs ringprobe) >"$TMP/pc-shared.log" 2>&1; then
	run_scan pc-shared "$TMP/pc-shared" 1
else
	fail "cc \$(pkg-config --cflags --libs ringprobe): $(head -c 300 "$TMP/pc-shared.log")"
fi
static_libs=$(pkg-config --static --libs ringprobe |
	sed 's/-lringprobe\b/-l:libringprobe.a/')
# shellcheck disable=SC2046,SC2086
if timeout -k 2 60 "$CC" "${CFLAGS[@]}" -o "$TMP/pc-static" "$EX/scan.c" \
	$(pkg-config --cflags ringprobe) $static_libs >"$TMP/pc-static.log" 2>&1; then
	run_scan pc-static "$TMP/pc-static" 0
else
	fail "cc with pkg-config --static: $(head -c 300 "$TMP/pc-static.log")"
fi
if timeout -k 2 60 "$CC" "${CFLAGS[@]}" -o "$TMP/plain" "$EX/scan.c" \
	-I"$P/$INCDIR" -L"$P/$LIBDIR" -lringprobe >"$TMP/plain.log" 2>&1; then
	run_scan plain "$TMP/plain" 1
else
	fail "cc -I -L -lringprobe: $(head -c 300 "$TMP/plain.log")"
fi

# -- 7. the installed header in C++, the installed command, man --
if command -v g++ >/dev/null; then
	printf '#include <ringprobe.h>\nint main() { return rp_version() ? 0 : 1; }\n' \
		>"$TMP/cxx.cpp"
	if timeout -k 2 60 g++ -std=c++11 -Wall -Wextra -Werror -pedantic \
		-I"$P/$INCDIR" -c -o "$TMP/cxx.o" "$TMP/cxx.cpp" >"$TMP/cxx.log" 2>&1; then
		pass "the installed header compiles as C++ with -Wall -Werror"
	else
		fail "the installed header in C++: $(head -c 300 "$TMP/cxx.log")"
	fi
else
	skip "g++ is missing: the header is not tried as C++"
fi
v=$(timeout -k 2 10 "$P/$BINDIR/ringprobe" --version 2>&1)
timeout -k 2 20 "$P/$BINDIR/ringprobe" tcp -q -f csv "127.0.0.1:$OPEN" \
	>"$TMP/cli.csv" 2>&1
if [ "$v" = "ringprobe $VER" ] &&
	grep -q "^127.0.0.1:$OPEN,0,127.0.0.1,$OPEN,open," "$TMP/cli.csv"; then
	pass "the installed command runs from the prefix and probes"
else
	fail "the installed command: '$v', $(head -c 200 "$TMP/cli.csv")"
fi
if command -v man >/dev/null; then
	m1=$(MANPATH=$P/$MANDIR man -w ringprobe 2>&1)
	m3=$(MANPATH=$P/$MANDIR man -w 3 libringprobe 2>&1)
	if [ "$m1" = "$P/$MANDIR/man1/ringprobe.1" ] &&
		[ "$m3" = "$P/$MANDIR/man3/libringprobe.3" ]; then
		pass "man finds ringprobe(1) and libringprobe(3) in the prefix"
	else
		fail "man -w: '$m1' '$m3'"
	fi
else
	skip "man (man-db) is missing: the installed pages are not looked up"
fi

[ "$FAILS" -eq 0 ] || exit 1
exit 0
