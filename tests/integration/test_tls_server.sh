#!/usr/bin/env bash
# test_tls_server.sh - the TLS test fixtures do what they promise, checked
# with openssl s_client, curl and t_tls_client.py (not with ringprobe): the
# certificates of t_certs.sh, every --mode of rp_tls_server
# (tests/servers/tls_server.c) and the HTTPS nginx of t_nginx_tls.sh. The
# engine's TLS tests rely on exactly these client-visible results.
#
# Environment: RP_TLS_SERVER = rp_tls_server. Prints PASS/FAIL/SKIP lines;
# exits 1 if any check failed, 77 if openssl, curl or python3 is missing.
# Every client run is bounded by timeout(1); servers are stopped by PID.
set -u

. "$(dirname "$0")/../helpers/t_lib.sh"
. "$T_HELPERS/t_nginx_tls.sh"

: "${RP_TLS_SERVER:?RP_TLS_SERVER must point at rp_tls_server}"
need_tools openssl curl python3 timeout
need_exec "$RP_TLS_SERVER"

TMP=$(mktemp -d /tmp/rp_test_tls_server.XXXXXX)
CERTS=$TMP/certs
mkdir -p "$CERTS"

# sclient NAME ARGS...: openssl s_client to 127.0.0.1:$PORT, SNI and host
# name check "localhost", trusting $SC_CA (default the test CA), stdin
# closed, at most $SC_TIMEOUT s (default 10); output in $TMP/NAME.sc, exit
# status in RC.
sclient() {
	local name=$1
	shift
	timeout -k 1 "${SC_TIMEOUT:-10}" openssl s_client \
		-connect "127.0.0.1:$PORT" -servername localhost \
		-verify_hostname localhost -CAfile "${SC_CA:-$CERTS/ca.pem}" \
		"$@" </dev/null >"$TMP/$name.sc" 2>&1
	RC=$?
}

# expect DESC NAME WANT PATTERN...: passes if the s_client run NAME exited
# WANT (a number, or "fail" for any non-zero but timeout's 124) and its
# output matches every extended regex PATTERN.
expect() {
	local desc=$1 name=$2 want=$3 p
	shift 3
	if [ "$want" = fail ]; then
		if [ "$RC" -eq 0 ] || [ "$RC" -eq 124 ]; then
			fail "$desc: s_client exit $RC, expected a failure"
			sed 's/^/    /' "$TMP/$name.sc" | head -20
			return
		fi
	elif [ "$RC" -ne "$want" ]; then
		fail "$desc: s_client exit $RC, expected $want"
		sed 's/^/    /' "$TMP/$name.sc" | head -20
		return
	fi
	for p in "$@"; do
		if ! grep -Eq -- "$p" "$TMP/$name.sc"; then
			fail "$desc: no /$p/ in s_client's output"
			sed 's/^/    /' "$TMP/$name.sc" | head -30
			return
		fi
	done
	pass "$desc"
}

# fact NAME COLUMN: a column of certificate NAME's line in certs.tsv.
fact() {
	awk -F'\t' -v n="$1" -v c="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i }
		NR > 1 && $1 == n { print $col[c] }' "$CERTS/certs.tsv"
}

# leaf_sha256 NAME: the SHA-256 of the leaf in s_client run NAME's output.
leaf_sha256() {
	local fp
	fp=$(openssl x509 -noout -fingerprint -sha256 <"$TMP/$1.sc" 2>/dev/null)
	fp=${fp#*=}
	fp=${fp//:/}
	echo "${fp,,}"
}

# pyjson FILE EXPR DESC: passes if python EXPR holds for j = FILE's JSON.
pyjson() {
	if "$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
sys.exit(0 if ok else 1)' "$1" "$2"; then
		pass "$3"
	else
		fail "$3"
		echo "    $(head -c 600 "$1")"
	fi
}

# raw NAME ARGS...: t_tls_client.py raw to 127.0.0.1:$PORT into
# $TMP/NAME.json.
raw() {
	local name=$1
	shift
	timeout -k 1 60 "$PY" "$T_HELPERS/t_tls_client.py" raw 127.0.0.1 \
		"$PORT" "$@" >"$TMP/$name.json" 2>"$TMP/$name.pyerr" ||
		echo "    t_tls_client.py: $(head -c 300 "$TMP/$name.pyerr")"
}

# stop_server NAME: SIGTERM to the last server started; passes if it
# exits 0 and prints its counters line to $TMP/NAME.err.
stop_server() {
	stop_pid "$SERVER_PID"
	local rc=$?
	if [ $rc -eq 0 ] && grep -q 'connections, .* handshakes' "$TMP/$1.err"; then
		return 0
	fi
	fail "$1: server exit $rc on SIGTERM: $(head -c 300 "$TMP/$1.err")"
}

# ---- certificates --------------------------------------------------------

t0=$(now_ms)
if timeout -k 1 120 bash "$T_HELPERS/t_certs.sh" "$CERTS" >"$TMP/certs.out" \
	2>"$TMP/certs.err"; then
	pass "t_certs.sh made the certificates in $(($(now_ms) - t0)) ms"
else
	fail "t_certs.sh: $(head -c 500 "$TMP/certs.err")"
	exit 1
fi
if "$PY" - "$CERTS/certs.tsv" <<'EOF'; then
import csv, datetime as dt, re, sys
rows = {r["name"]: r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t")}
now = dt.datetime.now(dt.timezone.utc)
def t(s): return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
bad = []
if sorted(rows) != sorted("ca good expired notyet self wronghost rsa big".split()):
    bad.append(f"names {sorted(rows)}")
for n, r in rows.items():
    nb, na = t(r["not_before"]), t(r["not_after"])
    if not re.fullmatch("[0-9a-f]{64}", r["sha256"]):
        bad.append(f"{n}: sha256 {r['sha256']!r}")
    want = {"expired": na < now, "notyet": nb > now}.get(n, nb < now < na)
    if not want:
        bad.append(f"{n}: window {nb} .. {na} vs now {now}")
    key = "RSA-2048" if n == "rsa" else "EC-256"
    if r["key"] != key:
        bad.append(f"{n}: key {r['key']}, expected {key}")
    cn = {"ca": "ringprobe test CA", "wronghost": "other.example"}.get(n, "localhost")
    iss = {"self": "localhost", "big": "ringprobe test intermediate 12"}.get(n, "ringprobe test CA")
    if (r["subject_cn"], r["issuer_cn"]) != (cn, iss):
        bad.append(f"{n}: subject {r['subject_cn']!r} issuer {r['issuer_cn']!r}")
good = rows.get("good")
if good and abs((t(good["not_after"]) - now).days - 30) > 1:
    bad.append(f"good expires {good['not_after']}, not in 30 days")
for b in bad:
    print("   ", b)
sys.exit(1 if bad else 0)
EOF
	pass "certs.tsv: 8 certificates, windows relative to now, keys, names"
else
	fail "certs.tsv is not as documented"
fi
if [ "$(grep -c 'BEGIN CERTIFICATE' "$CERTS/bigchain.pem")" -eq 12 ]; then
	pass "bigchain.pem has 12 intermediates"
else
	fail "bigchain.pem: $(grep -c 'BEGIN CERTIFICATE' "$CERTS/bigchain.pem") certificates"
fi

# ---- bad usage -----------------------------------------------------------

# usage_case DESC WANT_RC WORD ARGS...: the server must exit WANT_RC at
# once, with WORD in its message.
usage_case() {
	local desc=$1 want=$2 word=$3 rc
	shift 3
	timeout -k 1 10 "$RP_TLS_SERVER" "$@" >"$TMP/usage.out" 2>"$TMP/usage.err"
	rc=$?
	if [ $rc -eq "$want" ] && grep -qF -- "$word" "$TMP/usage.err"; then
		pass "bad usage: $desc: exit $rc, names $word"
	else
		fail "bad usage: $desc: exit $rc (want $want): $(head -c 200 "$TMP/usage.err")"
	fi
}
usage_case "good without --cert" 2 --cert --mode good
usage_case "missing certificate file" 1 "$TMP/nope.pem" \
	--cert "$TMP/nope.pem" --key "$CERTS/good.key"
usage_case "key of another certificate" 1 "$CERTS/rsa.key" \
	--cert "$CERTS/good.pem" --key "$CERTS/rsa.key"
usage_case "unknown mode" 2 "--mode" --mode nope
usage_case "empty ALPN entry" 2 "--alpn" --mode silent --alpn "h2,,x"
usage_case "bigchain without --chain" 2 "--chain" --mode bigchain \
	--cert "$CERTS/big.pem" --key "$CERTS/big.key"
usage_case "bad address" 1 "999.1.1.1" --mode silent --bind 999.1.1.1

GOOD=(--cert "$CERTS/good.pem" --key "$CERTS/good.key")

# ---- good: handshake, verification, HTTP ---------------------------------

if start_tls_server good "${GOOD[@]}"; then
	sclient good
	expect "good: TLS 1.3 handshake, verify 0, no ALPN" good 0 \
		'New, TLSv1\.3, Cipher is TLS_' 'Verify return code: 0 \(ok\)' \
		'No ALPN negotiated'
	if [ "$(leaf_sha256 good)" = "$(fact good sha256)" ]; then
		pass "good: served leaf is good.pem (sha256 as in certs.tsv)"
	else
		fail "good: leaf sha256 $(leaf_sha256 good), certs.tsv $(fact good sha256)"
	fi
	SC_CA=$CERTS/self.pem sclient noca
	expect "good, CA not trusted: verify 21 (leaf only, issuer unknown)" \
		noca 0 'Verify return code: 21 \(unable to verify the first cert'
	for url in "https://localhost:$PORT/" "https://127.0.0.1:$PORT/" \
		"https://ringprobe.test:$PORT/x"; do
		body=$(timeout -k 1 10 curl -sS --cacert "$CERTS/ca.pem" \
			--resolve "ringprobe.test:$PORT:127.0.0.1" \
			-w '%{http_code}' "$url" 2>&1)
		if [[ "$body" == *"<title>rp_tls_server good</title>"*"200" ]]; then
			pass "good: curl --cacert $url: 200, title"
		else
			fail "good: curl $url: ${body:0:300}"
		fi
	done
	head=$(timeout -k 1 10 curl -sS -I --cacert "$CERTS/ca.pem" \
		"https://localhost:$PORT/" 2>&1 | tr -d '\r')
	if [[ "$head" =~ ^HTTP/1.1\ 200\ OK.*Content-Length:\ [0-9]+.*Connection:\ close ]]; then
		pass "good: HEAD gets 200 with Content-Length and Connection: close"
	else
		fail "good: HEAD: ${head:0:300}"
	fi
	stop_server good
fi

if "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
	2>/dev/null; then
	if start_tls_server good6 --bind ::1 "${GOOD[@]}"; then
		body=$(timeout -k 1 10 curl -sS --cacert "$CERTS/ca.pem" \
			"https://[::1]:$PORT/" 2>&1)
		if [[ "$body" == *"<title>rp_tls_server good</title>"* ]]; then
			pass "good on ::1: curl https://[::1]:$PORT/ verifies (IP SAN ::1)"
		else
			fail "good on ::1: ${body:0:300}"
		fi
		stop_server good6
	fi
else
	skip "::1 is not usable here"
fi

# ---- certificate variants, served in mode good ---------------------------

# cert_case NAME VERIFY_CODE TEXT
cert_case() {
	if start_tls_server "$1" --cert "$CERTS/$1.pem" --key "$CERTS/$1.key"; then
		sclient "$1"
		expect "$1: handshake completes, verify $2 ($3)" "$1" 0 \
			"Verify return code: $2 \\($3"
		stop_server "$1"
	fi
}
cert_case expired 10 "certificate has expired"
cert_case notyet 9 "certificate is not yet valid"
cert_case self 18 "self-signed certificate"
cert_case wronghost 62 "hostname mismatch"
if start_tls_server rsa --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key"; then
	sclient rsa
	expect "rsa: verify 0, 2048-bit key" rsa 0 \
		'Verify return code: 0 \(ok\)' 'Server public key is 2048 bit'
	if [ "$(leaf_sha256 rsa)" = "$(fact rsa sha256)" ]; then
		pass "rsa: served leaf is rsa.pem"
	else
		fail "rsa: leaf sha256 $(leaf_sha256 rsa), certs.tsv $(fact rsa sha256)"
	fi
	stop_server rsa
fi

# ---- protocol versions ---------------------------------------------------

if start_tls_server tls12 --mode tls12 "${GOOD[@]}"; then
	sclient tls12
	expect "tls12: default client gets TLS 1.2, verify 0" tls12 0 \
		'Protocol  : TLSv1\.2' 'Verify return code: 0 \(ok\)'
	sclient tls12_13 -tls1_3
	expect "tls12: a TLS 1.3-only client gets alert protocol version (70)" \
		tls12_13 fail 'alert protocol version' 'alert number 70'
	stop_server tls12
fi
if start_tls_server tls13 --mode tls13 "${GOOD[@]}"; then
	sclient tls13
	expect "tls13: default client gets TLS 1.3" tls13 0 \
		'New, TLSv1\.3, Cipher is TLS_' 'Verify return code: 0 \(ok\)'
	sclient tls13_12 -tls1_2
	expect "tls13: a TLS 1.2-only client gets alert protocol version (70)" \
		tls13_12 fail 'alert protocol version' 'alert number 70'
	stop_server tls13
fi
if start_tls_server tls10 --mode tls10 "${GOOD[@]}"; then
	sclient tls10 -tls1 -cipher 'DEFAULT:@SECLEVEL=0'
	expect "tls10: a SECLEVEL=0 client gets TLS 1.0, verify 0" tls10 0 \
		'Protocol  : TLSv1$' 'Verify return code: 0 \(ok\)'
	sclient tls10_def
	expect "tls10: a default client fails the handshake" tls10_def fail \
		'Cipher is \(NONE\)'
	stop_server tls10
fi
if start_tls_server tls11 --mode tls11 "${GOOD[@]}"; then
	sclient tls11 -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
	expect "tls11: a SECLEVEL=0 client gets TLS 1.1" tls11 0 \
		'Protocol  : TLSv1\.1' 'Verify return code: 0 \(ok\)'
	stop_server tls11
fi

# ---- ALPN ----------------------------------------------------------------

if start_tls_server alpn --alpn h2,http/1.1 "${GOOD[@]}"; then
	sclient alpn_both -alpn http/1.1,h2
	expect "alpn h2,http/1.1: client offering both gets h2 (server order)" \
		alpn_both 0 'ALPN protocol: h2$'
	sclient alpn_11 -alpn http/1.1
	expect "alpn: client offering http/1.1 gets http/1.1" alpn_11 0 \
		'ALPN protocol: http/1\.1$'
	sclient alpn_none -alpn foo
	expect "alpn: no overlap: handshake completes without ALPN" alpn_none 0 \
		'No ALPN negotiated' 'Verify return code: 0 \(ok\)'
	stop_server alpn
fi

# ---- handshakes that never complete --------------------------------------

if start_tls_server silent --mode silent; then
	raw silent --wait 2
	pyjson "$TMP/silent.json" \
		'[(c["n"], c["end"]) for c in j["conns"]] == [(0, "timeout")]' \
		"silent: no byte, connection still open 2 s after the ClientHello"
	SC_TIMEOUT=3 sclient silent
	if [ "$RC" -eq 124 ]; then
		pass "silent: s_client hangs until timeout 3 kills it"
	else
		fail "silent: s_client exit $RC: $(head -c 200 "$TMP/silent.sc")"
	fi
	# 200 held at once, then SIGTERM: the server lets them all go.
	raw silent_many --conns 200 --wait 30 --ready "$TMP/held" &
	held=$!
	for ((i = 0; i < 400; i++)); do
		[ -e "$TMP/held" ] && break
		sleep 0.05
	done
	sleep 0.2
	t0=$(now_ms)
	stop_server silent
	t1=$(now_ms)
	wait "$held"
	pyjson "$TMP/silent_many.json" \
		"len(j['conns']) == 200 and all(c['n'] == 0 and c['end'] == 'eof' and c['t_end_wall'] * 1000 >= $t0 for c in j['conns'])" \
		"silent: 200 connections held at once, no byte, each closed (EOF) by SIGTERM"
	if [ $((t1 - t0)) -lt 5000 ]; then
		pass "silent: SIGTERM with 200 open connections: exit in $((t1 - t0)) ms"
	else
		fail "silent: SIGTERM took $((t1 - t0)) ms"
	fi
fi

if start_tls_server garbage --mode garbage; then
	raw garbage
	pyjson "$TMP/garbage.json" \
		'[(c["n"], c["head"][:8], c["end"]) for c in j["conns"]] == [(512, "74686973", "eof")]' \
		"garbage: 512 non-TLS bytes ('this is not TLS...'), then EOF"
	sclient garbage
	expect "garbage: s_client: wrong version number" garbage fail \
		'wrong version number'
	stop_server garbage
fi

if start_tls_server close --mode close; then
	raw close
	pyjson "$TMP/close.json" \
		'[(c["n"], c["end"]) for c in j["conns"]] == [(0, "eof")]' \
		"close: EOF (a FIN, not a reset), no byte"
	sclient close
	expect "close: s_client: unexpected eof" close fail \
		'unexpected eof while reading'
	stop_server close
fi

if start_tls_server alert --mode alert "${GOOD[@]}"; then
	raw alert
	pyjson "$TMP/alert.json" \
		'[(c["n"], c["head"][:4], c["head"][6:], c["end"]) for c in j["conns"]] == [(7, "1503", "00020228", "eof")]' \
		"alert: one fatal handshake_failure alert record (15 03 0x 00 02 02 28), then EOF"
	sclient alert
	expect "alert: s_client: alert handshake failure (40)" alert fail \
		'alert handshake failure' 'alert number 40'
	stop_server alert
fi

# slow: bytes come one at a time, slow-ms apart, to many clients at once.
if start_tls_server slow --mode slow --slow-ms 300 "${GOOD[@]}"; then
	raw slow --conns 20 --max-bytes 3 --wait 30
	pyjson "$TMP/slow.json" \
		'len(j["conns"]) == 20 and all(c["reads"] == [1, 1, 1] and c["head"] == "160303" and c["t_end"] >= 0.85 for c in j["conns"])' \
		"slow 300 ms: 20 clients each get 3 single bytes (16 03 03), none before 0.9 s"
	pyjson "$TMP/slow.json" 'j["elapsed"] < 10' \
		"slow 300 ms: the 20 are served in parallel (serially: 18 s)"
	stop_server slow
fi
if start_tls_server slow1s --mode slow "${GOOD[@]}"; then
	SC_TIMEOUT=3 sclient slow1s
	if [ "$RC" -eq 124 ]; then
		pass "slow (1 byte/s): s_client still in the handshake after 3 s"
	else
		fail "slow (1 byte/s): s_client exit $RC: $(head -c 200 "$TMP/slow1s.sc")"
	fi
	stop_server slow1s
fi
if start_tls_server slow1ms --mode slow --slow-ms 1 "${GOOD[@]}"; then
	SC_TIMEOUT=60 sclient slow1ms
	expect "slow 1 ms: the trickled handshake is valid (verify 0)" slow1ms 0 \
		'Verify return code: 0 \(ok\)'
	stop_server slow1ms
fi

# ---- bigchain ------------------------------------------------------------

if start_tls_server bigchain --mode bigchain --cert "$CERTS/big.pem" \
	--key "$CERTS/big.key" --chain "$CERTS/bigchain.pem"; then
	sclient bigchain -showcerts
	expect "bigchain: verify 0 through 12 intermediates" bigchain 0 \
		'Verify return code: 0 \(ok\)'
	n=$(grep -c 'BEGIN CERTIFICATE' "$TMP/bigchain.sc")
	bytes=$(sed -n 's/.*handshake has read \([0-9]*\) bytes.*/\1/p' "$TMP/bigchain.sc")
	if [ "$n" -eq 13 ] && [ "${bytes:-0}" -gt 40000 ]; then
		pass "bigchain: 13 certificates sent, $bytes handshake bytes"
	else
		fail "bigchain: $n certificates, ${bytes:-?} bytes"
	fi
	if grep -q 'chain: 12 certificates' "$TMP/bigchain.err"; then
		pass "bigchain: server reports its 12-certificate chain"
	else
		fail "bigchain: stderr: $(head -c 200 "$TMP/bigchain.err")"
	fi
	stop_server bigchain
fi

# ---- many clients at once ------------------------------------------------

if start_tls_server many --max-conns 32 "${GOOD[@]}"; then
	timeout -k 1 120 "$PY" "$T_HELPERS/t_tls_client.py" https 127.0.0.1 \
		"$PORT" --cafile "$CERTS/ca.pem" --conns 200 >"$TMP/many.json" \
		2>"$TMP/many.pyerr"
	pyjson "$TMP/many.json" \
		'j["status"] == {"200": 200} and j["titles"] == {"rp_tls_server good": 200}' \
		"many: 200 concurrent verified HTTPS GETs (32 at a time): all 200 with the title"
	stop_server many
	# Connections are not counted: other tests on the machine may scan
	# loopback ports, ours among them, without a TLS handshake.
	if grep -q ' 200 handshakes, 200 responses' "$TMP/many.err"; then
		pass "many: server counted 200 handshakes and 200 responses"
	else
		fail "many: $(head -c 200 "$TMP/many.err")"
	fi
fi

if start_tls_server short --mode silent --max-seconds 1; then
	if wait_gone "$SERVER_PID" 5000; then
		pass "--max-seconds 1: the server exits by itself"
	else
		fail "--max-seconds 1: still running after 5 s"
	fi
fi

# ---- nginx with TLS ------------------------------------------------------

nginx_case() {
	local name=$1
	PORT=$NGINX_PORT
	sclient "$name" "${@:2}"
}
nginx_tls_start "$CERTS/good.pem" "$CERTS/good.key" "nginx tls page"
case $? in
0)
	nginx_case nginx
	expect "nginx: TLS 1.3, verify 0" nginx 0 'New, TLSv1\.3, Cipher is TLS_' \
		'Verify return code: 0 \(ok\)'
	if [ "$(leaf_sha256 nginx)" = "$(fact good sha256)" ]; then
		pass "nginx: serves good.pem"
	else
		fail "nginx: leaf $(leaf_sha256 nginx)"
	fi
	body=$(timeout -k 1 10 curl -sS --cacert "$CERTS/ca.pem" \
		"https://localhost:$NGINX_PORT/" 2>&1)
	if [[ "$body" == *"<title>nginx tls page</title>"* ]] &&
		[ "${#body}" -eq $((NGINX_SIZE - 1)) ]; then
		pass "nginx: curl --cacert gets the page ($NGINX_SIZE bytes, title)"
	else
		fail "nginx: curl: ${body:0:300}"
	fi
	pid=$NGINX_PID
	nginx_tls_stop
	if kill -0 "$pid" 2>/dev/null; then
		fail "nginx: still running after nginx_tls_stop"
	else
		pass "nginx: nginx_tls_stop stopped it"
	fi
	NGINX_TLS_HTTP2=1 nginx_tls_start "$CERTS/good.pem" "$CERTS/good.key"
	nginx_case nginx_h2 -alpn h2,http/1.1
	expect "nginx with NGINX_TLS_HTTP2=1: ALPN h2" nginx_h2 0 \
		'ALPN protocol: h2$'
	nginx_tls_stop
	;;
77) ;;
*) fail "nginx_tls_start" ;;
esac

if [ "$FAILS" -gt 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
