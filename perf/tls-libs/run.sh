#!/usr/bin/env bash
# run.sh - client CPU per full TLS 1.3 handshake: OpenSSL 3.0 (tuned, and
# with each tuning undone in turn) against GnuTLS and wolfSSL, all from
# Debian 12, against a private nginx on 127.0.0.1. Not part of the default
# build or ctest; docs/TLS-LIBRARIES.md has the results and what they mean.
#
#   perf/tls-libs/run.sh                # N=2000, 3 interleaved rounds
#   perf/tls-libs/run.sh --quick        # N=300, 1 round, no perf
#   perf/tls-libs/run.sh --checks-only  # build, PKI, nginx, facts check
#   options: --n N  --rounds R  --paired-reps P  --no-perf  --no-speed
#            --results DIR
#            --only REGEX   (only the variants whose label matches, e.g.
#                            'tuned$|gnutls bundle|wolfssl bundle$')
#
# What it does, in order:
#  1. checks for gcc, make, openssl, nginx, python3, timeout and the three
#     libraries' headers; as root it installs what is missing with
#     `apt-get install -y gcc make openssl nginx-light python3 libssl-dev
#     libgnutls28-dev libwolfssl-dev` (and says so); these are perf-only
#     and deliberately not in .ci/setup. Not root: stops with the command.
#  2. builds openssl_hs, gnutls_hs and wolfssl_hs (Makefile) into the
#     results directory.
#  3. makes a throwaway PKI in a temp dir: root CA -> intermediate CA ->
#     leaf, all ECDSA P-256 / SHA-256, leaf CN tls-bench.test with SANs
#     DNS:tls-bench.test, DNS:localhost, IP:127.0.0.1, IP:::1, valid from
#     now for 7 days; 64 more leaves h0..h63.tls-bench.test, each with its
#     own key, under the same intermediate; a self-signed leaf.
#  4. starts nginx (Debian's, one process: master_process off, daemon off,
#     everything in the temp dir) on two free loopback ports: A serves
#     leaf + intermediate by default and hK + intermediate to SNI
#     hK.tls-bench.test; B serves the self-signed leaf. The measured loops
#     cycle through the 64 names (--rotate 64), so every handshake sees a
#     leaf key it has not seen in the last 63, as a scan would.
#  5. facts check: each program does one handshake to A (name ok), to A
#     with a wrong name, and to B; report.py compares every fact with what
#     `openssl x509` says about the certificates.
#  6. `openssl speed -seconds 3 ecdhp256 ecdsap256 ecdhx25519` for the
#     crypto floor.
#  7. R rounds; each round runs every variant (below) once, in the same
#     order, N handshakes each (the naive one N/4): interleaved, so load
#     from elsewhere on the machine spreads over all of them. Medians.
#  7b. P processes (default 3) of openssl_hs in paired mode: the OpenSSL
#     variants of step 7 set up side by side in one process and
#     interleaved handshake by handshake, N/2 each, timed per handshake with
#     CLOCK_THREAD_CPUTIME_ID: the precise "what each tuning is worth"; with
#     them TCP alone and the crypto floor alone (-O floor), so the floor is
#     measured under the same load as the handshakes.
#  8. perf stat + perf record (cpu-clock) of the tuned OpenSSL loop, and
#     perf record of GnuTLS and wolfSSL, grouped by DSO, top symbols.
# Output: RESULTS/report.md (printed too), runs.txt, paired.txt, facts.txt,
# speed.txt, perf-*.txt. Every command runs under timeout(1); nginx is stopped by PID.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=2000
ROUNDS=3
ROTATE=64	# leaf keys the measured loops cycle through (--rotate)
PAIRED_REPS=3	# processes of the paired OpenSSL run (N/2 per configuration)
DO_PERF=1
DO_SPEED=1
ONLY=
RESULTS=
NOTES=()

while [ $# -gt 0 ]; do
	case $1 in
	--n) N=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--paired-reps) PAIRED_REPS=$2; shift ;;
	--quick) N=300; ROUNDS=1; PAIRED_REPS=1; DO_PERF=0 ;;
	--no-perf) DO_PERF=0 ;;
	--no-speed) DO_SPEED=0 ;;
	--checks-only) ROUNDS=0; PAIRED_REPS=0; DO_PERF=0; DO_SPEED=0 ;;
	--only) ONLY=$2; shift ;;
	--results) RESULTS=$2; shift ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

log() { echo "[run.sh] $*" >&2; }
die() { echo "run.sh: error: $*" >&2; exit 1; }

# --- 1. prerequisites --------------------------------------------------
need_pkgs=()
for t in gcc:gcc make:make openssl:openssl python3:python3 timeout:coreutils; do
	command -v "${t%%:*}" >/dev/null || need_pkgs+=("${t#*:}")
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || need_pkgs+=(nginx-light)
[ -f /usr/include/openssl/ssl.h ] || need_pkgs+=(libssl-dev)
[ -f /usr/include/gnutls/gnutls.h ] || need_pkgs+=(libgnutls28-dev)
[ -f /usr/include/wolfssl/ssl.h ] || need_pkgs+=(libwolfssl-dev)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	cmd="apt-get install -y ${need_pkgs[*]}"
	[ "$(id -u)" -eq 0 ] || die "missing: ${need_pkgs[*]}; run as root: $cmd"
	log "installing (perf-only, not in .ci/setup): $cmd"
	# shellcheck disable=SC2086 # cmd is a word list on purpose
	DEBIAN_FRONTEND=noninteractive timeout 600 $cmd >&2 ||
		die "$cmd failed"
	NOTES+=("installed for this run: ${need_pkgs[*]}")
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
[ "$DO_PERF" -eq 1 ] && ! command -v perf >/dev/null && {
	log "perf not found (Debian package linux-perf): skipping the profile"
	DO_PERF=0
}

[ -n "$RESULTS" ] || RESULTS=$ROOT/perf/results/tls-libs-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS/bin" || die "cannot create $RESULTS"
BIN=$RESULTS/bin

# --- 2. build ------------------------------------------------------------
log "building into $BIN"
timeout 300 make -s -C "$HERE" O="$BIN" >&2 || die "build failed"

TMP=$(mktemp -d /tmp/rp_tls_libs.XXXXXX)
NGINX_PID=
cleanup() {
	local i
	if [ -n "$NGINX_PID" ]; then
		kill -TERM "$NGINX_PID" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			kill -0 "$NGINX_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$NGINX_PID" 2>/dev/null
		wait "$NGINX_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# --- 3. certificates -----------------------------------------------------
ossl() { timeout 60 openssl "$@" 2>>"$TMP/openssl.log"; }
P256=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
SAN="subjectAltName=DNS:tls-bench.test,DNS:localhost,IP:127.0.0.1,IP:::1"
# leaf_cert NAME SAN: a new P-256 key and a leaf for it signed by the
# intermediate; NAME.pem, NAME.key and NAME-chain.pem (leaf + intermediate).
leaf_cert() {
	local d=$TMP/pki
	ossl req "${P256[@]}" -keyout "$d/$1.key" -out "$d/$1.csr" \
		-subj "/CN=tls-bench.test" || return 1
	printf '%s\n' basicConstraints=critical,CA:FALSE \
		keyUsage=critical,digitalSignature extendedKeyUsage=serverAuth \
		"$2" >"$d/$1.ext"
	ossl x509 -req -in "$d/$1.csr" -CA "$d/inter.pem" -CAkey "$d/inter.key" \
		-CAcreateserial -sha256 -days 7 -extfile "$d/$1.ext" \
		-out "$d/$1.pem" || return 1
	cat "$d/$1.pem" "$d/inter.pem" >"$d/$1-chain.pem"
}
make_pki() {
	local d=$TMP/pki k
	mkdir -p "$d"
	ossl req -x509 "${P256[@]}" -sha256 -days 30 -keyout "$d/root.key" \
		-out "$d/root.pem" -subj "/O=ringprobe bench/CN=ringprobe bench root CA" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign || return 1
	ossl req "${P256[@]}" -keyout "$d/inter.key" -out "$d/inter.csr" \
		-subj "/O=ringprobe bench/CN=ringprobe bench intermediate CA" || return 1
	printf '%s\n' basicConstraints=critical,CA:TRUE,pathlen:0 \
		keyUsage=critical,keyCertSign,cRLSign >"$d/inter.ext"
	ossl x509 -req -in "$d/inter.csr" -CA "$d/root.pem" -CAkey "$d/root.key" \
		-CAcreateserial -sha256 -days 30 -extfile "$d/inter.ext" \
		-out "$d/inter.pem" || return 1
	leaf_cert leaf "$SAN" || return 1
	for ((k = 0; k < ROTATE; k++)); do
		leaf_cert "h$k" "subjectAltName=DNS:h$k.tls-bench.test,DNS:tls-bench.test" ||
			return 1
	done
	ossl req -x509 "${P256[@]}" -sha256 -days 7 -keyout "$d/self.key" \
		-out "$d/self.pem" -subj "/O=ringprobe bench self-signed/CN=tls-bench.test" \
		-addext "$SAN" || return 1
	# Trust stores: the system bundle with our root appended (held in
	# memory by each library), our root alone, and a hashed directory
	# (system certificates + our root) for OpenSSL's default-paths lookup.
	cat /etc/ssl/certs/ca-certificates.crt "$d/root.pem" >"$d/bundle.pem"
	mkdir -p "$TMP/capath"
	cp "$d/root.pem" "$TMP/capath/ringprobe-bench-root.pem"
	ln -s /etc/ssl/certs/*.pem "$TMP/capath/" 2>/dev/null
	ossl rehash "$TMP/capath" || return 1
}
make_pki || die "certificate generation failed: $(tail -3 "$TMP/openssl.log")"
PKI=$TMP/pki

# --- 4. nginx ------------------------------------------------------------
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT_A=$(free_port)
PORT_B=$(free_port)
while [ "$PORT_B" = "$PORT_A" ]; do PORT_B=$(free_port); done
mkdir -p "$TMP/html" "$TMP/logs" "$TMP/tmp"
echo ok >"$TMP/html/index.html"
cat >"$TMP/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 8192;
pid $TMP/nginx.pid;
error_log $TMP/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_timeout 0;
    client_body_temp_path $TMP/tmp/client_body;
    proxy_temp_path       $TMP/tmp/proxy;
    fastcgi_temp_path     $TMP/tmp/fastcgi;
    uwsgi_temp_path       $TMP/tmp/uwsgi;
    scgi_temp_path        $TMP/tmp/scgi;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:$PORT_A ssl backlog=4096;
        ssl_certificate     $PKI/leaf-chain.pem;
        ssl_certificate_key $PKI/leaf.key;
        root $TMP/html;
    }
$(for ((k = 0; k < ROTATE; k++)); do
	printf '    server {\n        listen 127.0.0.1:%s ssl;\n        server_name h%d.tls-bench.test;\n' "$PORT_A" "$k"
	printf '        ssl_certificate     %s;\n        ssl_certificate_key %s;\n        root %s;\n    }\n' \
		"$PKI/h$k-chain.pem" "$PKI/h$k.key" "$TMP/html"
done)
    server {
        listen 127.0.0.1:$PORT_B ssl backlog=4096;
        ssl_certificate     $PKI/self.pem;
        ssl_certificate_key $PKI/self.key;
        root $TMP/html;
    }
}
EOF
"$NGINX" -p "$TMP/" -e "$TMP/logs/error.log" -c "$TMP/nginx.conf" \
	>"$TMP/nginx.out" 2>&1 &
NGINX_PID=$!
up=0
for ((i = 0; i < 100; i++)); do
	kill -0 "$NGINX_PID" 2>/dev/null || break
	if timeout 5 openssl s_client -connect "127.0.0.1:$PORT_A" \
		-servername tls-bench.test </dev/null >/dev/null 2>&1; then
		up=1
		break
	fi
	sleep 0.05
done
[ $up -eq 1 ] || die "nginx did not start: $(cat "$TMP/nginx.out" "$TMP/logs/error.log" 2>/dev/null | head -c 400)"
log "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') on 127.0.0.1:$PORT_A (chain) and :$PORT_B (self-signed)"

# --- 5. facts check ------------------------------------------------------
FACTS=$RESULTS/facts.txt
: >"$FACTS"
for f in leaf inter root self; do
	{
		echo "CERT $f"
		openssl x509 -in "$PKI/$f.pem" -noout -subject -issuer -dateopt iso_8601 \
			-dates -fingerprint -sha256 -nameopt RFC2253,sep_comma_plus -ext subjectAltName \
			-text | grep -E '^(subject|issuer|notBefore|notAfter|sha256)=|DNS:|Public-Key:|^sha256'
	} >>"$FACTS" 2>&1
done
for lib in openssl gnutls wolfssl; do
	for c in "good $PORT_A tls-bench.test" "wrongname $PORT_A wrong.tls-bench.test" \
		"selfsigned $PORT_B tls-bench.test"; do
		# shellcheck disable=SC2086 # three words on purpose
		set -- $c
		echo "CHECK $lib $1" >>"$FACTS"
		timeout 30 "$BIN/${lib}_hs" -n 1 -w 0 --ca "$PKI/bundle.pem" \
			--name "$3" --label "$1" 127.0.0.1 "$2" >>"$FACTS" 2>&1 ||
			echo "EXIT $?" >>"$FACTS"
	done
done

# --- 6. crypto floor -----------------------------------------------------
SPEED=$RESULTS/speed.txt
if [ "$DO_SPEED" -eq 1 ]; then
	log "openssl speed -seconds 3 ecdhp256 ecdsap256 ecdhx25519"
	timeout 120 openssl speed -seconds 3 ecdhp256 ecdsap256 ecdhx25519 \
		>"$SPEED" 2>&1 || NOTES+=("openssl speed failed")
else
	: >"$SPEED"
fi

# --- 7. the measured rounds ----------------------------------------------
# label | program | divisor of N | arguments
B=$PKI/bundle.pem
R=$PKI/root.pem
VARIANTS=(
	"tcp-only|openssl|1|--tcp-only"
	"openssl tuned|openssl|1|--ca $B --expect-ok"
	"openssl tuned, one leaf key|openssl|1|--ca $B --expect-ok --rotate 0"
	"openssl socket BIO|openssl|1|--ca $B --expect-ok -O bio=socket"
	"openssl root-only store|openssl|1|--ca $R --expect-ok"
	"openssl default verify paths|openssl|1|--ca default --expect-ok"
	"openssl no trust store (wrk-like)|openssl|1|--ca none"
	"openssl no facts|openssl|1|--ca $B --expect-ok --no-facts"
	"openssl EVP_sha256() per call|openssl|1|--ca $B --expect-ok -O fetch=implicit"
	"openssl session cache default|openssl|1|--ca $B --expect-ok -O cache=default"
	"openssl default groups|openssl|1|--ca $B --expect-ok -O groups=default"
	"openssl SSL_clear reuse|openssl|1|--ca $B --expect-ok -O reuse"
	"openssl RELEASE_BUFFERS|openssl|1|--ca $B --expect-ok -O release-buffers"
	"openssl ctx per handshake, shared store|openssl|1|--ca $B --expect-ok -O ctx-per-hs=shared"
	"openssl naive: ctx + default paths per handshake|openssl|4|--ca default --expect-ok -O ctx-per-hs"
	"gnutls bundle|gnutls|1|--ca $B --expect-ok"
	"gnutls root-only store|gnutls|1|--ca $R --expect-ok"
	"wolfssl bundle|wolfssl|1|--ca $B --expect-ok"
	"wolfssl bundle, one leaf key|wolfssl|1|--ca $B --expect-ok --rotate 0"
	"wolfssl root-only store|wolfssl|1|--ca $R --expect-ok"
)
RUNS=$RESULTS/runs.txt
: >"$RUNS"
run_variant() { # round, variant, N
	local label prog div args n
	IFS='|' read -r label prog div args <<<"$2"
	n=$(($3 / div))
	[ $n -ge 1 ] || n=1
	# shellcheck disable=SC2086 # args is a word list on purpose
	out=$(SSL_CERT_DIR=$TMP/capath timeout -k 5 900 "$BIN/${prog}_hs" -n "$n" \
		--label "$label" --name tls-bench.test --rotate "$ROTATE" $args \
		127.0.0.1 "$PORT_A" 2>&1)
	rc=$?
	echo "$out" | sed -n "s/^RESULT /RESULT round=$1 /p" >>"$RUNS"
	if [ $rc -ne 0 ]; then
		echo "FAILED round=$1 label=$label rc=$rc: $(echo "$out" | tail -3 | tr '\n' ' ')" >>"$RUNS"
		log "FAILED: $label (exit $rc): $(echo "$out" | tail -2 | tr '\n' ' ')"
	fi
}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for ((round = 1; round <= ROUNDS; round++)); do
	for v in "${VARIANTS[@]}"; do
		[ "${v%%|*}" = tcp-only ] || [ -z "$ONLY" ] ||
			[[ ${v%%|*} =~ $ONLY ]] || continue
		log "round $round/$ROUNDS: ${v%%|*}"
		run_variant "$round" "$v" "$N"
	done
done

# --- 7b. OpenSSL variants paired in one process ----------------------------
# The same tunings as above, but set up side by side in one openssl_hs and
# interleaved handshake by handshake (hs_common.h, paired mode), so that a
# difference of a few percent is not lost in the machine's load swings.
PAIRED=$RESULTS/paired.txt
: >"$PAIRED"
PAIRED_VARIANTS=(
	"openssl tuned:"
	"openssl tuned, one leaf key:rotate=0"
	"openssl socket BIO:bio=socket"
	"openssl root-only store:ca=$R"
	"openssl default verify paths:ca=default"
	"openssl no trust store (wrk-like):ca=none"
	"openssl no facts:nofacts"
	"openssl EVP_sha256() per call:fetch=implicit"
	"openssl session cache default:cache=default"
	"openssl default groups:groups=default"
	"openssl SSL_clear reuse:reuse"
	"openssl RELEASE_BUFFERS:release-buffers"
	"openssl ctx per handshake, shared store:ctx-per-hs=shared"
	"tcp-only (paired):tcponly"
	"crypto floor (paired):floor"
)
pv=()
for v in "${PAIRED_VARIANTS[@]}"; do
	[ -z "$ONLY" ] || [[ ${v%%:*} =~ $ONLY ]] || continue
	pv+=(--variant "$v")
done
for ((rep = 1; rep <= PAIRED_REPS && ${#pv[@]} > 0; rep++)); do
	log "paired OpenSSL variants, process $rep/$PAIRED_REPS: $((${#pv[@]} / 2)) configurations x $((N / 2))"
	SSL_CERT_DIR=$TMP/capath timeout -k 5 1800 "$BIN/openssl_hs" -n $((N / 2)) \
		--time-limit 1800 --ca "$B" --expect-ok --name tls-bench.test \
		--rotate "$ROTATE" "${pv[@]}" 127.0.0.1 "$PORT_A" \
		>"$TMP/paired.out" 2>&1
	rc=$?
	sed -n "s/^RESULT /RESULT rep=$rep /p" "$TMP/paired.out" >>"$PAIRED"
	[ $rc -eq 0 ] || {
		echo "FAILED paired rep=$rep rc=$rc: $(tail -3 "$TMP/paired.out" | tr '\n' ' ')" >>"$PAIRED"
		log "FAILED: paired run $rep (exit $rc)"
	}
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 8. where the time goes ---------------------------------------------
if [ "$DO_PERF" -eq 1 ]; then
	for p in "openssl|--ca $B --expect-ok" "gnutls|--ca $B --expect-ok" \
		"wolfssl|--ca $B --expect-ok"; do
		prog=${p%%|*}
		args=${p#*|}
		log "perf: $prog"
		# shellcheck disable=SC2086
		timeout -k 5 600 perf record -q -e cpu-clock -F 5000 \
			-o "$RESULTS/perf-$prog.data" -- "$BIN/${prog}_hs" -n "$N" \
			--name tls-bench.test --rotate "$ROTATE" $args \
			127.0.0.1 "$PORT_A" >/dev/null 2>&1 ||
			NOTES+=("perf record of $prog failed")
		timeout 300 perf report -i "$RESULTS/perf-$prog.data" --no-children \
			--sort dso --stdio -q 2>/dev/null >"$RESULTS/perf-$prog-dso.txt"
		timeout 300 perf report -i "$RESULTS/perf-$prog.data" --no-children \
			--sort dso,sym --stdio -q 2>/dev/null >"$RESULTS/perf-$prog-sym.txt"
	done
	# shellcheck disable=SC2086
	timeout -k 5 600 perf stat -e task-clock,context-switches,page-faults \
		-- "$BIN/openssl_hs" -n "$N" --name tls-bench.test --ca "$B" \
		--rotate "$ROTATE" 127.0.0.1 "$PORT_A" >"$RESULTS/perf-stat.txt" 2>&1 ||
		NOTES+=("perf stat failed")
fi

if kill -0 "$NGINX_PID" 2>/dev/null; then :; else NOTES+=("nginx exited during the run"); fi
# nginx retries a bind() that fails with EADDRINUSE (someone took the free
# port for a moment) and logs [emerg] each time; those are not alerts.
alerts=$(grep -E '\[(alert|crit|emerg)\]' "$TMP/logs/error.log" 2>/dev/null |
	grep -v 'bind() to .* failed (98' | head -2)
[ -z "$alerts" ] || NOTES+=("nginx error log has alerts: $alerts")

# --- report --------------------------------------------------------------
{
	echo "MACHINE cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1) cores=$(nproc) kernel=$(uname -r)"
	echo "MACHINE load_before=$LOAD0 load_after=$LOAD1"
	echo "VERSION openssl=$(openssl version | cut -d' ' -f2) nginx=$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')"
	echo "VERSION libssl3=$(dpkg-query -W -f='${Version}' libssl3 2>/dev/null) libgnutls30=$(dpkg-query -W -f='${Version}' libgnutls30 2>/dev/null) libwolfssl35=$(dpkg-query -W -f='${Version}' libwolfssl35 2>/dev/null)"
	echo "PARAMS n=$N rounds=$ROUNDS"
	for n in "${NOTES[@]}"; do echo "NOTE $n"; done
} >"$RESULTS/meta.txt"
python3 "$HERE/report.py" "$RESULTS" | tee "$RESULTS/report.md"
