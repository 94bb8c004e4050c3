#!/usr/bin/env bash
# test_nginx.sh - `ringprobe http` against a real nginx (Debian package
# nginx-light or nginx) on loopback: 2000 copies of one URL on stdin must
# give 2000 results, all ok 200 with the page's title.
#
# nginx runs from a temporary prefix with its own config: one process
# (master_process off, daemon off, so the PID we start is the server and
# nothing forks), listening on 127.0.0.1 only on a port found free just
# before, pid file, logs and every temp path inside the prefix; nothing
# under /etc, /var or /run is read or written.
#
# Environment: RINGPROBE = the CLI. Prints PASS/FAIL/SKIP lines; exits 1 if
# any check failed, 77 if nginx or python3 is missing. Every command is
# bounded by timeout(1) or a counted wait loop; the trap stops nginx by its
# PID.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"

FAILS=0
NGINX_PID=
TMP=

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

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
	[ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT

NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
if [ -z "$NGINX" ]; then
	echo "SKIP: nginx is not installed (Debian package nginx-light)"
	exit 77
fi
for tool in python3 timeout; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool is missing"
		exit 77
	fi
done
if [ ! -x "$RINGPROBE" ]; then
	echo "FAIL: $RINGPROBE is not executable"
	exit 1
fi

TMP=$(mktemp -d /tmp/rp_test_nginx.XXXXXX)
mkdir -p "$TMP/html" "$TMP/logs" "$TMP/tmp"
TITLE="ringprobe nginx check"
printf '<!DOCTYPE html>\n<html>\n<head>\n<title>%s</title>\n</head>\n<body>\n<p>served by nginx for test_nginx.sh</p>\n</body>\n</html>\n' \
	"$TITLE" >"$TMP/html/index.html"
SIZE=$(wc -c <"$TMP/html/index.html")

# A free port: bound to port 0 and closed just now.
PORT=$(python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')

cat >"$TMP/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 8192;
pid $TMP/nginx.pid;
error_log $TMP/logs/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    keepalive_timeout 0;
    default_type text/html;
    types { text/html html; }
    client_body_temp_path $TMP/tmp/client_body;
    proxy_temp_path       $TMP/tmp/proxy;
    fastcgi_temp_path     $TMP/tmp/fastcgi;
    uwsgi_temp_path       $TMP/tmp/uwsgi;
    scgi_temp_path        $TMP/tmp/scgi;

    server {
        listen 127.0.0.1:$PORT backlog=4096;
        root $TMP/html;
        index index.html;
    }
}
EOF

"$NGINX" -p "$TMP/" -e "$TMP/logs/error.log" -c "$TMP/nginx.conf" \
	>"$TMP/nginx.out" 2>&1 &
NGINX_PID=$!

# Wait (at most 5 s) until it accepts connections.
up=0
for ((i = 0; i < 100; i++)); do
	if ! kill -0 "$NGINX_PID" 2>/dev/null; then
		break
	fi
	if python3 -c '
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(1)' "$PORT"; then
		up=1
		break
	fi
	sleep 0.05
done
if [ $up -ne 1 ]; then
	echo "FAIL: nginx did not start on 127.0.0.1:$PORT: $(cat "$TMP/nginx.out" "$TMP/logs/error.log" 2>/dev/null | head -c 500)"
	exit 1
fi
pass "nginx ($("$NGINX" -v 2>&1 | head -1)) listening on 127.0.0.1:$PORT"

URL=http://127.0.0.1:$PORT/
NOPROG=()
timeout -k 2 10 "$RINGPROBE" http --help 2>&1 | grep -q -- '--no-progress' &&
	NOPROG=(--no-progress)

# One probe first, to see the fields.
timeout -k 2 20 "$RINGPROBE" http -f jsonl "${NOPROG[@]}" "$URL" \
	>"$TMP/one.jsonl" 2>"$TMP/one.err" </dev/null
rc=$?
if [ $rc -eq 0 ] && python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
ok = (len(r) == 1 and r[0]["status"] == "ok" and r[0]["http_status"] == 200
      and r[0]["title"] == sys.argv[2]
      and r[0]["content_length"] == int(sys.argv[3])
      and r[0]["body_bytes"] == int(sys.argv[3])
      and r[0]["server"].startswith("nginx")
      and r[0]["content_type"].startswith("text/html"))
if not ok:
    print("    got:", r)
sys.exit(0 if ok else 1)' "$TMP/one.jsonl" "$TITLE" "$SIZE"; then
	pass "one GET /: ok 200, title, Server nginx, $SIZE body bytes"
else
	fail "one GET / (exit $rc): $(head -c 300 "$TMP/one.err")"
fi

# 2000 copies of the URL on stdin.
N=2000
t0=$(now_ms)
python3 -c '
import sys
sys.stdout.write((sys.argv[1] + "\n") * int(sys.argv[2]))' "$URL" "$N" \
	2>/dev/null |
	timeout -k 2 120 "$RINGPROBE" http -f jsonl "${NOPROG[@]}" -i - \
		>"$TMP/many.jsonl" 2>"$TMP/many.err"
rc=${PIPESTATUS[1]}
t1=$(now_ms)
if [ "$rc" -eq 0 ]; then
	pass "$N URLs on stdin: exit 0 in $((t1 - t0)) ms"
else
	fail "$N URLs on stdin: exit $rc: $(head -c 300 "$TMP/many.err")"
fi
if python3 -c '
import collections, json, sys
path, n, title, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
recs, bad = [], []
for i, line in enumerate(open(path, encoding="utf-8"), 1):
    try:
        recs.append(json.loads(line))
    except ValueError as e:
        bad.append(f"line {i}: not JSON: {e}")
if len(recs) != n:
    bad.append(f"{len(recs)} results, expected {n}")
idx = [r.get("index") for r in recs]
if len(set(idx)) != len(idx):
    bad.append(f"{len(idx) - len(set(idx))} duplicate indexes")
st = collections.Counter((r.get("status"), r.get("http_status")) for r in recs)
if set(st) != {("ok", 200)}:
    bad.append(f"statuses: {dict(st)}")
    ex = [r for r in recs if (r.get("status"), r.get("http_status")) != ("ok", 200)]
    if ex:
        bad.append(f"e.g. {ex[0]}")
wrong = [r for r in recs if r.get("title") != title or r.get("body_bytes") != size]
if wrong:
    bad.append(f"{len(wrong)} with another title or size, e.g. {wrong[0]}")
for b in bad[:10]:
    print("   ", b)
sys.exit(1 if bad else 0)' "$TMP/many.jsonl" "$N" "$TITLE" "$SIZE"; then
	pass "$N results, distinct indexes, all ok 200 with title '$TITLE' and $SIZE body bytes"
else
	fail "$N URLs: results are not $N x ok 200 '$TITLE'"
fi

# nginx's 404 and a HEAD request.
timeout -k 2 20 "$RINGPROBE" http -f jsonl "${NOPROG[@]}" \
	"${URL}no-such-page" >"$TMP/404.jsonl" 2>"$TMP/404.err" </dev/null
timeout -k 2 20 "$RINGPROBE" http -f jsonl "${NOPROG[@]}" --method HEAD \
	"$URL" >"$TMP/head.jsonl" 2>"$TMP/head.err" </dev/null
if python3 -c '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
h = [json.loads(l) for l in open(sys.argv[2])]
size = int(sys.argv[3])
ok = (len(a) == 1 and a[0]["status"] == "ok" and a[0]["http_status"] == 404
      and len(h) == 1 and h[0]["status"] == "ok" and h[0]["http_status"] == 200
      and h[0]["content_length"] == size and h[0]["body_bytes"] == 0)
if not ok:
    print("    404:", a, "HEAD:", h)
sys.exit(0 if ok else 1)' "$TMP/404.jsonl" "$TMP/head.jsonl" "$SIZE"; then
	pass "nginx 404 is ok 404; HEAD / is ok 200 with content_length $SIZE and no body"
else
	fail "nginx 404 / HEAD: $(head -c 200 "$TMP/404.err" "$TMP/head.err")"
fi

if kill -0 "$NGINX_PID" 2>/dev/null; then
	pass "nginx still running after the probes"
else
	fail "nginx exited during the test: $(tail -c 300 "$TMP/logs/error.log")"
fi
if grep -Eq '\[(alert|crit|emerg)\]' "$TMP/logs/error.log"; then
	fail "nginx error log has alerts: $(grep -E '\[(alert|crit|emerg)\]' "$TMP/logs/error.log" | head -3)"
else
	pass "nginx error log has no alert/crit/emerg lines"
fi

if [ $FAILS -gt 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
