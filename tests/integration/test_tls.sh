#!/usr/bin/env bash
# test_tls.sh - `ringprobe tls` and `ringprobe http https://…` against our
# TLS test server (tests/servers/tls_server.c, one behaviour per --mode),
# with certificates made for this run (t_certs.sh), and against a real
# nginx over HTTPS, checked field by field against openssl s_client. Each
# behaviour must end within --timeout plus a margin, with its documented
# result (README "TLS and HTTPS").
#
# Environment: RINGPROBE, RP_TLS_SERVER. Exits 1 if a check failed, 77
# if openssl or python3 is missing.
set -u

. "$(dirname "$0")/../helpers/t_lib.sh"
. "$T_HELPERS/t_nginx_tls.sh"

: "${RINGPROBE:?}" "${RP_TLS_SERVER:?}"
need_tools openssl python3 timeout
need_exec "$RINGPROBE" "$RP_TLS_SERVER"

TMP=$(mktemp -d /tmp/rp_test_tls.XXXXXX)
C=$TMP/certs
mkdir -p "$C"
NOPROG=(--no-progress)

cat >"$TMP/jprelude.py" <<'EOF'
KEYS = ["input", "index", "status", "tls_version", "cipher", "alpn", "sni",
        "cert_subject_cn", "cert_sans", "cert_issuer_cn", "cert_issuer_org",
        "cert_not_before", "cert_not_after", "cert_days_left", "cert_sha256",
        "cert_self_signed", "cert_key", "chain_len", "verify", "tls_us"]
UNIQUE_INDEX = True
EOF

# tls NAME ARGS...: `ringprobe tls -f jsonl ARGS` into $TMP/NAME.jsonl;
# RC, and MS its wall time. https NAME ARGS...: the same with `http`.
probe() {
	local cmd=$1 name=$2 t0
	shift 2
	t0=$(now_ms)
	timeout -k 2 60 "$RINGPROBE" "$cmd" -f jsonl "${NOPROG[@]}" "$@" \
		>"$TMP/$name.jsonl" 2>"$TMP/$name.err" </dev/null
	RC=$?
	MS=$(($(now_ms) - t0))
}
tls() { probe tls "$@"; }
https() { probe http "$@"; }

# fact NAME COLUMN: a column of certificate NAME's line in certs.tsv.
fact() {
	awk -F'\t' -v n="$1" -v c="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i }
		NR > 1 && $1 == n { print $col[c] }' "$C/certs.tsv"
}

# serve NAME MODE [CERT] [ARGS...]: a tls_server in MODE (with CERT.pem
# and CERT.key) on 127.0.0.1; its port in PORT.
serve() {
	local name=$1 mode=$2 cert=${3:-}
	shift 2
	[ $# -gt 0 ] && shift
	if [ -n "$cert" ]; then
		set -- --cert "$C/$cert.pem" --key "$C/$cert.key" "$@"
	fi
	start_tls_server "$name" --mode "$mode" --max-seconds 280 "$@"
}

if ! timeout -k 1 120 bash "$T_HELPERS/t_certs.sh" "$C" >/dev/null \
	2>"$TMP/certs.err"; then
	fail "t_certs.sh: $(head -c 300 "$TMP/certs.err")"
	exit 1
fi
CA=(--cacert "$C/ca.pem")

# ---- a good certificate: every field --------------------------------------

serve good good good || exit 1
GOOD=$PORT
tls good "${CA[@]}" "127.0.0.1:$GOOD" "localhost:$GOOD"
BASE_MS=$MS
check good 2 "good: ok, TLS 1.3, verify ok, the certificate's facts" \
	'all(x["status"] == "ok" and x["tls_version"] == "TLSv1.3" for x in R)' \
	'all(x["verify"] == "ok" and x["cert_subject_cn"] == "localhost" for x in R)' \
	"all(x['cert_sans'] == ['localhost', 'ringprobe.test', '127.0.0.1', '::1'] for x in R)" \
	"all(x['cert_sha256'] == '$(fact good sha256)' for x in R)" \
	"all(x['cert_not_after'] == '$(fact good not_after)' and x['cert_not_before'] == '$(fact good not_before)' for x in R)" \
	"all(x['cert_issuer_cn'] == '$(fact good issuer_cn)' and x['cert_key'] == 'EC-256' for x in R)" \
	'all(x["cert_self_signed"] is False and x["cert_days_left"] in (28, 29) for x in R)' \
	'all(x["tls_us"] > 0 and x["cipher"] and x["chain_len"] >= 1 for x in R)' \
	'by["127.0.0.1:'"$GOOD"'"][0]["sni"] is None and by["localhost:'"$GOOD"'"][0]["sni"] == "localhost"'

https good_https "${CA[@]}" "https://127.0.0.1:$GOOD/page" \
	"https://localhost:$GOOD/"
check good_https 2 "good over https: ok 200, the page's title, TLS fields" \
	'all(x["status"] == "ok" and x["http_status"] == 200 for x in R)' \
	'all(x["title"] == "rp_tls_server good" and x["verify"] == "ok" for x in R)' \
	'all(x["url"].startswith("https://") and x["tls_version"] for x in R)' \
	'all(x["alpn"] in (None, "http/1.1") for x in R)'

tls sni --sni ringprobe.test "${CA[@]}" "127.0.0.1:$GOOD"
check sni 1 "--sni: sent to an address target, verified against it" \
	'r["sni"] == "ringprobe.test" and r["verify"] == "ok"'

tls notrust "127.0.0.1:$GOOD"
check notrust 1 "the system store does not know the test CA: ok, verify says so" \
	'r["status"] == "ok" and r["verify"] == "unable to get local issuer certificate"'

tls notrust_v --verify "127.0.0.1:$GOOD"
check notrust_v 1 "--verify: a certificate that does not verify is tls-error" \
	'r["status"] == "tls-error" and r["verify"] == "unable to get local issuer certificate"'

# 300 https probes at once on one server: every one answered, once.
for ((i = 0; i < 300; i++)); do echo "https://127.0.0.1:$GOOD/$i"; done \
	>"$TMP/many.txt"
https many "${CA[@]}" -c 100 -i "$TMP/many.txt"
check many 300 "300 https probes, 100 in flight: 300 ok results, no index twice" \
	'all(x["status"] == "ok" and x["http_status"] == 200 and x["verify"] == "ok" for x in R)' \
	'sorted(x["index"] for x in R) == list(range(300))'
# The same with 3 handshakes at a time: the rest wait their turn.
https many_cap "${CA[@]}" -c 100 --max-handshakes 3 -i "$TMP/many.txt"
check many_cap 300 "--max-handshakes 3, 100 in flight: 300 ok results" \
	'all(x["status"] == "ok" and x["http_status"] == 200 and x["verify"] == "ok" for x in R)' \
	'sorted(x["index"] for x in R) == list(range(300))'

# One place (--max-handshakes 1) held by a server that never answers, then
# three probes to a server that closes connections idle for 1 s: they wait
# for the place unconnected, so each gets its answer (when they waited
# connected, the server closed them first: tls-error).
serve hold silent good || exit 1
HOLD=$PORT HOLD_PID=$SERVER_PID
serve idle good good --idle-seconds 1 || exit 1
{ echo "127.0.0.1:$HOLD"; for i in 1 2 3; do echo "127.0.0.1:$PORT"; done; } \
	>"$TMP/idle.txt"
tls idle_cap "${CA[@]}" --no-shuffle --threads 1 --max-handshakes 1 \
	--handshake-timeout 2s --timeout 4s -i "$TMP/idle.txt"
check idle_cap 4 "--max-handshakes 1 behind a silent server: the waiters get their answers" \
	'r["status"] == ("timeout" if r["port"] == '"$HOLD"' else "ok")'
stop_pid "$SERVER_PID"
stop_pid "$HOLD_PID"

# ---- certificates that do not verify --------------------------------------

verdict() { # verdict CERT WANT_VERIFY EXTRA_EXPR
	serve "$1" good "$1" || return
	tls "$1" "${CA[@]}" "localhost:$PORT"
	check "$1" 1 "$1: ok, verify '$2'" \
		"r['status'] == 'ok' and r['verify'] == '$2'" "$3"
	stop_pid "$SERVER_PID"
}
verdict expired "certificate has expired" 'r["cert_days_left"] < 0'
verdict notyet "certificate is not yet valid" 'r["cert_days_left"] > 0'
verdict self "self-signed certificate" 'r["cert_self_signed"] is True'
verdict wronghost "hostname mismatch" 'r["cert_subject_cn"] == "other.example"'
verdict rsa "ok" 'r["cert_key"] == "RSA-2048"'

serve wrongip good wronghost || exit 1
tls wrongip "${CA[@]}" "127.0.0.1:$PORT"
check wrongip 1 "an address target checks the address: IP address mismatch" \
	'r["status"] == "ok" and r["verify"] == "IP address mismatch"'
stop_pid "$SERVER_PID"

serve expired_v good expired || exit 1
tls expired_v "${CA[@]}" --verify "localhost:$PORT"
check expired_v 1 "--verify with an expired certificate: tls-error" \
	'r["status"] == "tls-error" and r["verify"] == "certificate has expired"'
stop_pid "$SERVER_PID"

# ---- versions and ALPN -----------------------------------------------------

serve tls12 tls12 good || exit 1
tls tls12 "${CA[@]}" "127.0.0.1:$PORT"
check tls12 1 "a TLS 1.2-only server: ok, TLSv1.2" \
	'r["status"] == "ok" and r["tls_version"] == "TLSv1.2"'
tls tls12_min13 "${CA[@]}" --tls-min 1.3 "127.0.0.1:$PORT"
check tls12_min13 1 "--tls-min 1.3 to a TLS 1.2-only server: tls-error" \
	'r["status"] == "tls-error" and r["detail"] and r["tls_version"] is None'
stop_pid "$SERVER_PID"

serve tls13 tls13 good || exit 1
tls tls13_max12 "${CA[@]}" --tls-max 1.2 "127.0.0.1:$PORT"
check tls13_max12 1 "--tls-max 1.2 to a TLS 1.3-only server: tls-error" \
	'r["status"] == "tls-error"'
stop_pid "$SERVER_PID"

serve tls10 tls10 good || exit 1
tls tls10_default "${CA[@]}" "127.0.0.1:$PORT"
check tls10_default 1 "a TLS 1.0-only server, default versions: tls-error" \
	'r["status"] == "tls-error"'
tls tls10 "${CA[@]}" --tls-min 1.0 "127.0.0.1:$PORT"
check tls10 1 "--tls-min 1.0 finds a TLS 1.0-only server: ok, TLSv1" \
	'r["status"] == "ok" and r["tls_version"] == "TLSv1"'
stop_pid "$SERVER_PID"

serve alpn good good --alpn h2,http/1.1 || exit 1
tls alpn "${CA[@]}" --alpn h2,http/1.1 "127.0.0.1:$PORT"
check alpn 1 "--alpn h2,http/1.1: the server's choice, h2" \
	'r["status"] == "ok" and r["alpn"] == "h2"'
tls alpn_none "${CA[@]}" "127.0.0.1:$PORT"
check alpn_none 1 "no --alpn: none offered, none chosen" \
	'r["status"] == "ok" and r["alpn"] is None'
stop_pid "$SERVER_PID"

# ---- servers that do not finish the handshake ----------------------------

# failing MODE DESC STATUS TIMEOUT_MS EXPR: the result, within the timeout
# (plus the time a good probe took, plus a second).
failing() {
	local mode=$1 desc=$2 status=$3 tmo=$4 expr=$5
	shift 5
	serve "$mode" "$mode" good "$@" || return
	tls "$mode" "${CA[@]}" --timeout "${tmo}ms" "127.0.0.1:$PORT"
	check "$mode" 1 "$desc: $status" "r['status'] == '$status'" "$expr" &&
		if [ "$MS" -lt $((tmo + BASE_MS + 1000)) ]; then
			pass "$desc: ended in $MS ms (timeout $tmo ms)"
		else
			fail "$desc: took $MS ms (timeout $tmo ms)"
		fi
	stop_pid "$SERVER_PID"
}
failing silent "accepts, never answers the ClientHello" timeout 1000 \
	'r["tls_version"] is None'
failing garbage "answers with bytes that are not TLS" tls-error 3000 \
	'"wrong version number" in r["detail"] or "record" in r["detail"]'
failing close "closes after the ClientHello" tls-error 3000 'r["detail"]'
failing alert "a fatal handshake_failure alert" tls-error 3000 \
	'"handshake failure" in r["detail"]'
failing slow "one byte a second during the handshake" timeout 1500 \
	'r["cert_sha256"] is None' --slow-ms 1000

serve big bigchain big --chain "$C/bigchain.pem" || exit 1
tls big "${CA[@]}" "localhost:$PORT"
check big 1 "a 13-certificate chain of about 50 KB: ok, verified" \
	'r["status"] == "ok" and r["verify"] == "ok" and r["chain_len"] == 13'
stop_pid "$SERVER_PID"

# ---- nginx, against openssl s_client --------------------------------------

if nginx_tls_start "$C/good.pem" "$C/good.key" "ringprobe nginx tls"; then
	https nginx "${CA[@]}" "https://localhost:$NGINX_PORT/"
	timeout -k 1 10 openssl s_client -connect "127.0.0.1:$NGINX_PORT" \
		-servername localhost -CAfile "$C/ca.pem" </dev/null \
		>"$TMP/sc.out" 2>&1
	openssl x509 -in "$TMP/sc.out" -noout -fingerprint -sha256 \
		-subject -issuer -enddate -startdate -ext subjectAltName \
		-nameopt RFC2253 >"$TMP/sc.x509" 2>&1
	cat >>"$TMP/jprelude.py" <<EOF
import re, datetime
sc = open("$TMP/sc.out").read()
x5 = open("$TMP/sc.x509").read()
def scx(pat, text=sc):
    m = re.search(pat, text, re.M)
    return m.group(1).strip() if m else None
def sans_of(text):
    import ipaddress
    line = scx(r"X509v3 Subject Alternative Name:\s*\n\s*(.+)", text) or ""
    out = []
    for item in line.split(", "):
        kind, _, v = item.partition(":")
        out.append(str(ipaddress.ip_address(v)) if kind == "IP Address" else v)
    return out
def iso(t):
    return datetime.datetime.strptime(t, "%b %d %H:%M:%S %Y GMT").strftime("%Y-%m-%dT%H:%M:%SZ")
EOF
	check nginx 1 "nginx https: ok 200, title, and TLS fields as openssl s_client sees them" \
		'r["status"] == "ok" and r["http_status"] == 200 and r["title"] == "ringprobe nginx tls"' \
		'r["tls_version"] == scx(r"^\s*Protocol\s*:\s*(\S+)") or r["tls_version"] == scx(r"New, (TLSv[\d.]+),")' \
		'r["cipher"] == scx(r"Cipher is (\S+)")' \
		'r["cert_sha256"] == scx(r"sha256 Fingerprint=(\S+)", x5).replace(":", "").lower()' \
		'r["cert_subject_cn"] == scx(r"^subject=.*?CN=([^,\n]+)", x5)' \
		'r["cert_issuer_cn"] == scx(r"^issuer=.*?CN=([^,\n]+)", x5)' \
		'r["cert_issuer_org"] == scx(r"^issuer=.*?O=([^,\n]+)", x5)' \
		'r["cert_not_after"] == iso(scx(r"^notAfter=(.+)$", x5))' \
		'r["cert_not_before"] == iso(scx(r"^notBefore=(.+)$", x5))' \
		'r["cert_sans"] == sans_of(x5)' \
		'r["verify"] == "ok" and "Verify return code: 0 (ok)" in sc'
	nginx_tls_stop
else
	[ $? -eq 77 ] && skip "nginx is not installed" ||
		fail "nginx with TLS did not start"
fi

[ "$FAILS" -eq 0 ] || exit 1
exit 0
