#!/usr/bin/env bash
# test_http_cli.sh - `ringprobe http` against the target server's HTTP mode
# on loopback: every server behaviour (see tests/servers/target_server.c)
# and the result the CLI documents for it, checked by parsing the JSON Lines
# (and CSV) output with python3.
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = rp_target_server.
# Prints one PASS/FAIL/SKIP line per check; exits 1 if any check failed,
# 77 if the prerequisites are missing. Every command is bounded by
# timeout(1) or a counted wait loop; the trap stops what we started, by PID.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools python3 timeout
need_exec "$RINGPROBE" "$RP_TEST_SERVER"
TMP=$(mktemp -d /tmp/rp_test_http.XXXXXX)

if ! timeout -k 2 10 "$RINGPROBE" http --help >"$TMP/help" 2>&1; then
	echo "FAIL: '$RINGPROBE http --help' failed: $(head -c 300 "$TMP/help")"
	exit 1
fi
NOPROG=()
grep -q -- '--no-progress' "$TMP/help" && NOPROG=(--no-progress)

# ---- the JSON checker ----------------------------------------------------

# The jcheck prelude (tests/helpers/jcheck.py): every record has every
# documented key; fnv(bytes), hash_eq(value, int), absent(v), noerr(r) and
# the constants below are there for the EXPRs.
cat >"$TMP/jprelude.py" <<'PY'
KEYS = ["input", "index", "url", "ip", "port", "status", "http_status",
        "reason", "content_length", "body_bytes", "truncated",
        "content_type", "server", "location", "redirects", "title",
        "body_hash",
        "connect_us", "ttfb_us", "total_us", "attempts", "elapsed_us",
        "error", "detail"]
FIXED = b"<html><head><title>Fixed Page</title></head><body>hello</body></html>"
CHUNKED = (b"<html><head><title>Chunked Title</title></head>"
           b"<body>several chunks</body></html>\n")
EOFBODY = (b"<html><head><title>Until EOF</title></head>"
           b"<body>read me until the connection closes</body></html>\n")
PATTERN = b"0123456789abcdef"

def fnv(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h

def hash_eq(v, h):
    """body_hash as a JSON number or a hex string (0x optional)."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return v == h
    if isinstance(v, str):
        try:
            return int(v, 16) == h
        except ValueError:
            return False
    return False

def absent(v):
    """A header the response did not have: null, "" or -1."""
    return v in (None, "", -1)

def noerr(r):
    return r["error"] in (None, "")
PY

# ---- helpers -------------------------------------------------------------

RC=0
MS=0
# run NAME ARGS...: runs `ringprobe http -f jsonl ARGS` (30 s at most) into
# $TMP/NAME.jsonl and $TMP/NAME.err; sets RC and MS (wall time).
run() {
	local name=$1 t0
	shift
	t0=$(now_ms)
	timeout -k 2 30 "$RINGPROBE" http -f jsonl "${NOPROG[@]}" "$@" \
		>"$TMP/$name.jsonl" 2>"$TMP/$name.err" </dev/null
	RC=$?
	MS=$(($(now_ms) - t0))
}


# ---- the server ----------------------------------------------------------

start_server server 1 --mode http --ports 1 --max-seconds 280 || exit 1
P=${PORTS[0]}
B=http://127.0.0.1:$P

# A port nobody listens on: bound and closed just now (the kernel does not
# hand it out again at once).
CLOSED=$(python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')

# ---- 1. one behaviour per run --------------------------------------------

run fixed "$B/fixed"
# What a run costs besides its probes (start, teardown: about 0.3 s more
# under ASan, more on a loaded machine): the wall-time bounds below add it.
BASE_MS=$MS
check fixed 1 "/fixed: ok 200, title, server, type, lengths, hash, url" \
	'r["status"] == "ok" and noerr(r)' \
	'r["http_status"] == 200 and r["reason"] == "OK"' \
	'r["title"] == "Fixed Page"' \
	'r["server"] == "rp-target" and r["content_type"] == "text/html"' \
	'r["content_length"] == len(FIXED) == 69' \
	'r["body_bytes"] == len(FIXED) and r["truncated"] is False' \
	'hash_eq(r["body_hash"], fnv(FIXED))' \
	"r['url'] == '$B/fixed' and r['input'] == '$B/fixed'" \
	"r['ip'] == '127.0.0.1' and r['port'] == $P" \
	'absent(r["location"]) and r["attempts"] == 1' \
	'0 <= r["connect_us"] <= r["total_us"] and r["ttfb_us"] <= r["total_us"]' \
	'r["total_us"] <= r["elapsed_us"] + 1000 and r["elapsed_us"] < 2000000'
if [ "$RC" -eq 0 ]; then
	pass "/fixed: exit 0"
else
	fail "/fixed: exit $RC"
fi

run chunked "$B/chunked"
check chunked 1 "/chunked: ok 200, title, decoded body length and hash" \
	'r["status"] == "ok" and r["http_status"] == 200' \
	'r["title"] == "Chunked Title"' \
	'absent(r["content_length"])' \
	'r["body_bytes"] == len(CHUNKED) and hash_eq(r["body_hash"], fnv(CHUNKED))'

run eof "$B/eof"
check eof 1 "/eof: ok 200, body read until close" \
	'r["status"] == "ok" and r["http_status"] == 200' \
	'r["title"] == "Until EOF" and absent(r["content_length"])' \
	'r["body_bytes"] == len(EOFBODY) and hash_eq(r["body_hash"], fnv(EOFBODY))'

run huge --max-body 100000 "$B/huge"
check huge 1 "/huge --max-body 100000: ok, truncated at 100000 (of 50 MiB)" \
	'r["status"] == "ok" and r["http_status"] == 200' \
	'r["truncated"] is True and r["body_bytes"] == 100000' \
	'r["content_length"] == 50 * 1024 * 1024' \
	'hash_eq(r["body_hash"], fnv((PATTERN * 6250)[:100000]))'
if [ "$MS" -lt 2000 ]; then
	pass "/huge: truncated run took $MS ms (< 2 s)"
else
	fail "/huge: truncated run took $MS ms (>= 2 s)"
fi

run huge_get "$B/head-cl"
check huge_get 1 "GET /head-cl: ok, 5000 body bytes" \
	'r["status"] == "ok" and r["content_length"] == 5000' \
	'r["body_bytes"] == 5000 and r["truncated"] is False' \
	'hash_eq(r["body_hash"], fnv(b"h" * 5000))'

run slow --timeout 1s "$B/slow"
check slow 1 "/slow --timeout 1s: timeout after about 1 s" \
	'r["status"] == "timeout"' \
	'900000 <= r["elapsed_us"] <= 1250000'
if [ "$MS" -lt $((1500 + BASE_MS)) ]; then
	pass "/slow: run took $MS ms (< 1.5 s + $BASE_MS ms)"
else
	fail "/slow: run took $MS ms (>= 1.5 s + $BASE_MS ms)"
fi

run hang --timeout 1s "$B/hang"
check hang 1 "/hang --timeout 1s: timeout after about 1 s" \
	'r["status"] == "timeout"' \
	'900000 <= r["elapsed_us"] <= 1250000'
if [ "$MS" -lt $((1500 + BASE_MS)) ]; then
	pass "/hang: run took $MS ms (< 1.5 s + $BASE_MS ms)"
else
	fail "/hang: run took $MS ms (>= 1.5 s + $BASE_MS ms)"
fi

run readto --read-timeout 300ms --timeout 5s "$B/hang"
check readto 1 "/hang --read-timeout 300ms --timeout 5s: timeout after about 0.3 s" \
	'r["status"] == "timeout"' \
	'250000 <= r["elapsed_us"] <= 800000'

run readto_ok --read-timeout 500ms "$B/split-title"
check readto_ok 1 "/split-title --read-timeout 500ms: 30 ms gaps are fine" \
	'r["status"] == "ok" and r["title"] == "Split Title"'

run garbage "$B/garbage"
check garbage 1 "/garbage: protocol-error with a detail" \
	'r["status"] == "protocol-error"' \
	'isinstance(r["detail"], str) and len(r["detail"]) > 0'

# The server sends the status line, headers (Content-Length 1000) and 10
# body bytes, waits 50 ms and then aborts with an RST. The probe has parsed
# the headers by then and is waiting for more body, so its next receive
# fails with ECONNRESET: that is "reset", not a truncated-body
# protocol-error (which is what a FIN at that point would give).
run reset "$B/reset"
check reset 1 "/reset: RST after headers and 10 body bytes -> reset" \
	'r["status"] == "reset"'

run s204 "$B/204"
check s204 1 "/204: ok 204, no body" \
	'r["status"] == "ok" and r["http_status"] == 204' \
	'r["body_bytes"] == 0 and r["truncated"] is False'

run s304 "$B/304"
check s304 1 "/304: ok 304, no body" \
	'r["status"] == "ok" and r["http_status"] == 304' \
	'r["body_bytes"] == 0'

run redirect "$B/redirect"
check redirect 1 "/redirect: ok 301, location /fixed, not followed" \
	'r["status"] == "ok" and r["http_status"] == 301' \
	'r["location"] == "/fixed" and r["title"] == "Moved"' \
	'r["reason"] == "Moved Permanently"' \
	"r['redirects'] == 0 and r['url'] == '$B/redirect'"

run continue "$B/continue"
check continue 1 "/continue: 100 skipped, ok 200 'After Continue'" \
	'r["status"] == "ok" and r["http_status"] == 200' \
	'r["reason"] == "OK" and r["title"] == "After Continue"'

run split "$B/split-title"
check split 1 "/split-title: title split over 4 writes 30 ms apart" \
	'r["status"] == "ok" and r["title"] == "Split Title"'

run bigh "$B/bigheaders"
check bigh 1 "/bigheaders (100 KiB) with the default --max-header: protocol-error" \
	'r["status"] == "protocol-error"' \
	'"header" in (r["detail"] or "").lower()'

run bigh_ok --max-header 200000 "$B/bigheaders"
check bigh_ok 1 "/bigheaders with --max-header 200000: ok 'Big Headers'" \
	'r["status"] == "ok" and r["http_status"] == 200' \
	'r["title"] == "Big Headers"'

run entities "$B/entities"
check entities 1 "/entities: title entities decoded" \
	"r['title'] == 'A & B <C> \u263a \"q\"'"

run head --method HEAD --timeout 3s "$B/head-cl"
check head 1 "HEAD /head-cl: ok, content_length 5000, no body, quick" \
	'r["status"] == "ok" and r["http_status"] == 200' \
	'r["content_length"] == 5000 and r["body_bytes"] == 0' \
	'r["elapsed_us"] < 500000'

run notfound "$B/no/such/page"
check notfound 1 "unknown path: ok 404" \
	'r["status"] == "ok" and r["http_status"] == 404' \
	'r["title"] == "Not Found"'

run closed "http://127.0.0.1:$CLOSED/"
check closed 1 "a closed port: closed" \
	'r["status"] == "closed"' \
	"r['port'] == $CLOSED"

run tls --timeout 1s "https://127.0.0.1:$P/fixed"
check tls 1 "an https:// URL to an HTTP server waiting for a request: timeout" \
	'r["status"] == "timeout" and r["tls_version"] is None'

run bare -p "$P" --path /fixed 127.0.0.1
check bare 1 "bare IP with -p and --path: ok, url built from them" \
	'r["status"] == "ok" and r["title"] == "Fixed Page"' \
	"r['url'] == 'http://127.0.0.1:$P/fixed' and r['port'] == $P"

# ---- 2. request headers ----------------------------------------------------

run echo -H 'X-Test: 1' --user-agent 'rp-test-ua/1.0' "$B/echo"
check echo 1 "-H and --user-agent are sent (server echoes them in the title)" \
	'r["status"] == "ok"' \
	"r['title'] == 'ua=rp-test-ua/1.0|x-test=1|host=127.0.0.1:$P'"

run echo_def "$B/echo"
check echo_def 1 "default User-Agent ringprobe/..., no X-Test, Host = authority" \
	'r["status"] == "ok"' \
	'r["title"].startswith("ua=ringprobe/")' \
	"r['title'].endswith('|x-test=-|host=127.0.0.1:$P')"

# The Host header of an IPv6 target: the address in brackets, and the port.
if ip -6 addr show dev lo 2>/dev/null | grep -q '::1/128'; then
	if start_server server6 1 --bind ::1 --mode http --ports 1 \
		--max-seconds 280; then
		P6=${PORTS[0]}
		run echo6 "http://[::1]:$P6/echo"
		check echo6 1 "IPv6 target: Host = [::1]:port" \
			'r["status"] == "ok"' \
			"r['title'].endswith('|host=[::1]:$P6')"
		# An absolute IPv6 Location is followed to the same listener.
		run follow6 --follow 1 "http://[::1]:$P6/redirect-abs"
		check follow6 1 "/redirect-abs on [::1] --follow 1: 302 to http://[::1]:$P6/fixed followed" \
			'r["status"] == "ok" and r["title"] == "Fixed Page"' \
			"r['redirects'] == 1 and r['ip'] == '::1'" \
			"r['url'] == 'http://[::1]:$P6/fixed'"
	else
		FAILS=$((FAILS + 1))
	fi
else
	skip "IPv6 Host header: no ::1 on lo"
fi

# ---- 3. status filters -----------------------------------------------------

FILT=("$B/fixed" "$B/nope" "$B/redirect" "$B/204")
run match200 --match-status 200 "${FILT[@]}"
check match200 1 "--match-status 200: only the 200" \
	'r["http_status"] == 200 and r["url"].endswith("/fixed")'

run match2xx --match-status 200-299 "${FILT[@]}"
check match2xx 2 "--match-status 200-299: the 200 and the 204" \
	'sorted(x["http_status"] for x in R) == [200, 204]'

run filter404 --filter-status 404 "${FILT[@]}"
check filter404 3 "--filter-status 404: all but the 404" \
	'sorted(x["http_status"] for x in R) == [200, 204, 301]'

run matchlist --match-status 204,300-399 "${FILT[@]}"
check matchlist 2 "--match-status 204,300-399: the 204 and the 301" \
	'sorted(x["http_status"] for x in R) == [204, 301]'

# ---- 4. N in, N out, with a mix ---------------------------------------------

python3 - "$B" >"$TMP/mix.txt" <<'PY'
import sys
paths = ["/fixed", "/chunked", "/eof", "/redirect", "/204", "/nope",
         "/split-title", "/continue", "/entities", "/head-cl"]
for i in range(300):
    print(sys.argv[1] + paths[i % len(paths)])
PY
run mix -c 50 -i "$TMP/mix.txt"
check mix 300 "300 mixed targets: 300 results, one per input line, each right" \
	'sorted(x["index"] for x in R) == list(range(min(x["index"] for x in R), min(x["index"] for x in R) + 300))' \
	'sorted(x["input"] for x in R) == sorted(open("'"$TMP"'/mix.txt").read().split())' \
	'all(x["status"] == "ok" for x in R)' \
	'all(x["http_status"] == {"/fixed": 200, "/chunked": 200, "/eof": 200, "/redirect": 301, "/204": 204, "/nope": 404, "/split-title": 200, "/continue": 200, "/entities": 200, "/head-cl": 200}[x["input"][len("'"$B"'"):]] for x in R)' \
	'all(x["title"] == {"/fixed": "Fixed Page", "/chunked": "Chunked Title", "/eof": "Until EOF", "/redirect": "Moved", "/204": "", "/nope": "Not Found", "/split-title": "Split Title", "/continue": "After Continue", "/entities": "A & B <C> \u263a \"q\"", "/head-cl": ""}[x["input"][len("'"$B"'"):]] for x in R)'

# ---- 5. nothing runs past --timeout ----------------------------------------

run bounded --timeout 1s "$B/hang" "$B/slow" "$B/fixed" "$B/hang" "$B/slow"
check bounded 5 "--timeout 1s with /hang and /slow: 4 timeouts and the ok" \
	'sorted(x["status"] for x in R) == ["ok"] + ["timeout"] * 4' \
	'all(x["elapsed_us"] <= 1250000 for x in R)'
if [ "$MS" -lt $((1500 + BASE_MS)) ]; then
	pass "--timeout 1s run with hanging targets took $MS ms (< 1.5 s + $BASE_MS ms)"
else
	fail "--timeout 1s run with hanging targets took $MS ms (>= 1.5 s + $BASE_MS ms)"
fi

# ---- 6. hostile text in every format ---------------------------------------

run hostile "$B/hostile"
check hostile 1 "/hostile JSONL: parses, title kept, no raw control bytes in the line" \
	'r["status"] == "ok"' \
	'"RED" in r["title"] and "\"quoted\", comma," in r["title"]' \
	'"\n" not in r["title"] and "\r" not in r["title"]' \
	'r["server"] == "evil \"srv\", x"' \
	'not any(b < 0x20 for b in open("'"$TMP"'/hostile.jsonl", "rb").read()[:-1])'

timeout -k 2 30 "$RINGPROBE" http -f text "${NOPROG[@]}" "$B/hostile" \
	>"$TMP/hostile.txt" 2>"$TMP/hostile_txt.err" </dev/null
rc=$?
if [ $rc -le 1 ] && python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
bad = [c for c in b if (c < 0x20 and c not in (0x09, 0x0a)) or c == 0x7f]
ok = (b.count(b"\n") == 1 and b.endswith(b"\n") and not bad and b"RED" in b
      and b"quoted" in b)
if not ok:
    print("    text output:", repr(b[:400]))
sys.exit(0 if ok else 1)' "$TMP/hostile.txt"; then
	pass "/hostile text: one line, no ESC/BEL/CR or other control byte, title shown"
else
	fail "/hostile text (exit $rc)"
fi

timeout -k 2 30 "$RINGPROBE" http -f csv "${NOPROG[@]}" "$B/hostile" \
	"$B/fixed" >"$TMP/hostile.csv" 2>"$TMP/hostile_csv.err" </dev/null
rc=$?
if [ $rc -le 1 ] && python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
h = rows[0] if rows else []
ok = len(rows) == 3 and all(len(x) == len(h) for x in rows)
need = ("input", "status", "http_status", "title", "server")
ok = ok and all(k in h for k in need)
if ok:
    by = {x[h.index("input")].rsplit("/", 1)[1]: x for x in rows[1:]}
    t = by["hostile"][h.index("title")]
    ok = ("\"quoted\", comma," in t and "RED" in t and "\n" not in t
          and by["hostile"][h.index("server")] == "evil \"srv\", x"
          and by["fixed"][h.index("title")] == "Fixed Page"
          and by["fixed"][h.index("http_status")] == "200")
if not ok:
    print("    csv rows:", rows[:3])
sys.exit(0 if ok else 1)' "$TMP/hostile.csv"; then
	pass "/hostile csv: parses back to header + 2 rows with the title and server intact"
else
	fail "/hostile csv (exit $rc)"
fi

# ---- 7. redirects (--follow) ------------------------------------------------

run follow --follow 3 "$B/redirect"
check follow 1 "/redirect --follow 3: followed once to ok 200 'Fixed Page'" \
	'r["status"] == "ok" and noerr(r)' \
	'r["http_status"] == 200 and r["reason"] == "OK"' \
	'r["title"] == "Fixed Page" and hash_eq(r["body_hash"], fnv(FIXED))' \
	'r["redirects"] == 1 and absent(r["location"])' \
	"r['url'] == '$B/fixed' and r['url'].endswith('/fixed')" \
	"r['input'] == '$B/redirect' and r['port'] == $P"

run follow_abs --follow 2 "$B/redirect-abs"
check follow_abs 1 "/redirect-abs --follow 2: 302 to http://127.0.0.1:$P/fixed followed, ok 200" \
	'r["status"] == "ok" and r["http_status"] == 200' \
	'r["title"] == "Fixed Page" and r["redirects"] == 1' \
	"r['url'] == 'http://127.0.0.1:$P/fixed'"

run follow_loop --follow 3 "$B/loop"
check follow_loop 1 "/loop --follow 3: stops after 3 redirects, ok 301 reported" \
	'r["status"] == "ok" and r["http_status"] == 301' \
	'r["detail"] == "redirect limit 3 reached"' \
	'r["redirects"] == 3 and r["location"] == "/loop"' \
	"r['url'] == '$B/loop'" \
	'r["elapsed_us"] < 2000000'
if [ "$MS" -lt 2000 ]; then
	pass "/loop --follow 3: run took $MS ms (< 2 s)"
else
	fail "/loop --follow 3: run took $MS ms (>= 2 s)"
fi

run follow_rel --follow 3 "$B/redirect-rel"
check follow_rel 1 "/redirect-rel --follow 3: a relative Location is not followed" \
	'r["status"] == "ok" and r["http_status"] == 301' \
	'r["redirects"] == 0 and r["location"] == "fixed"' \
	"r['url'] == '$B/redirect-rel'"

run follow_0 --follow 0 "$B/redirect"
check follow_0 1 "/redirect --follow 0: the 301 itself" \
	'r["status"] == "ok" and r["http_status"] == 301' \
	'r["redirects"] == 0 and r["location"] == "/fixed"'

timeout -k 2 30 "$RINGPROBE" http -f text "${NOPROG[@]}" --follow 3 \
	"$B/redirect" "$B/loop" "$B/fixed" >"$TMP/follow.txt" \
	2>"$TMP/follow_txt.err" </dev/null
rc=$?
if [ $rc -le 1 ] && python3 -c '
import sys
b = open(sys.argv[1], "rb").read().decode()
base = sys.argv[2]
lines = b.split("\n")
ok = len(lines) == 4 and lines[3] == ""
if ok:
    # results come in any order: key the lines by their input
    by = {l[l.rindex(" (http://") + 2:-1]: l for l in lines[:3]
          if l.endswith(")") and " (http://" in l}
    red = by.get(base + "/redirect", "")
    loop = by.get(base + "/loop", "")
    fixed = by.get(base + "/fixed", "redirects")
    ok = (red.endswith("\"Fixed Page\" (1 redirect) ("
                       + base + "/redirect)") and " 200 " in red
          and loop.endswith("-> /loop (3 redirects)  redirect limit 3 "
                            "reached (" + base + "/loop)")
          and " 301 " in loop
          and "redirects" not in fixed and " 200 " in fixed
          and not any(l.endswith(" ") for l in lines))
if not ok:
    print("    text output:", repr(b[:600]))
sys.exit(0 if ok else 1)' "$TMP/follow.txt" "$B"; then
	pass "--follow 3 text: ' (N redirects)' (and a detail) before the input, none when 0"
else
	fail "--follow 3 text (exit $rc): $(head -c 200 "$TMP/follow_txt.err")"
fi

timeout -k 2 30 "$RINGPROBE" http -f csv "${NOPROG[@]}" --follow 3 \
	"$B/redirect" >"$TMP/follow.csv" 2>"$TMP/follow_csv.err" </dev/null
rc=$?
if [ $rc -le 1 ] && python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
h = rows[0] if rows else []
ok = (len(rows) == 2 and "location" in h and "redirects" in h
      and h.index("redirects") == h.index("location") + 1)
ok = ok and (rows[1][h.index("redirects")] == "1"
             and rows[1][h.index("http_status")] == "200"
             and rows[1][h.index("url")].endswith("/fixed"))
if not ok:
    print("    csv rows:", rows[:2])
sys.exit(0 if ok else 1)' "$TMP/follow.csv"; then
	pass "--follow 3 csv: redirects column after location, 1 for /redirect"
else
	fail "--follow 3 csv (exit $rc): $(head -c 200 "$TMP/follow_csv.err")"
fi

# ---- 8. usage errors ---------------------------------------------------------

expect_exit() { # expect_exit WANT DESC ARGS...
	local want=$1 desc=$2 rc
	shift 2
	timeout -k 2 20 "$RINGPROBE" http "$@" >"$TMP/ec.out" 2>"$TMP/ec.err" \
		</dev/null
	rc=$?
	if [ $rc -eq "$want" ]; then
		pass "exit $want: $desc"
	else
		fail "exit $rc, expected $want: $desc ($(head -c 200 "$TMP/ec.err"))"
	fi
}
expect_exit 2 "--max-body abc" --max-body abc "$B/fixed"
expect_exit 2 "--match-status abc" --match-status abc "$B/fixed"
expect_exit 2 "--read-timeout 5x" --read-timeout 5x "$B/fixed"
expect_exit 2 "--follow 21 (at most 20)" --follow 21 "$B/redirect"
expect_exit 2 "--follow abc" --follow abc "$B/redirect"
expect_exit 0 "--follow 20 (the largest allowed)" --follow 20 "$B/fixed"

# ---- the server stayed healthy ---------------------------------------------

if kill -0 "${PIDS[0]}" 2>/dev/null && [ ! -s "$TMP/server.err" ]; then
	pass "target server still running, nothing on its stderr"
else
	fail "target server died or complained: $(head -c 300 "$TMP/server.err")"
fi

if [ $FAILS -gt 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
