#!/usr/bin/env bash
# test_curl_replay.sh - real servers' odd responses, read the way curl
# reads them: the plain-GET responses of curl's own test suite
# (tests/data/curl/, see its README) replayed byte for byte on loopback
# by the target server's raw mode, to `ringprobe http` and to curl.
#
# For each response, ringprobe and curl must agree on success (ringprobe
# "ok", curl exit 0) and, when both succeed, on the status code and the
# body length. The reference is the curl on PATH, or without one the
# results of Debian 12's curl 7.88.1 recorded in
# tests/data/curl/curl-7.88.1.txt. Against 7.88.1 the responses on which
# they differ must be exactly those of DIFFER below, each with its reason;
# against any curl, at least 9 in 10 must agree. A few results must also
# say in their detail what ringprobe read leniently.
#
# RP_CURL_RECORD=FILE: write the curl on PATH's results to FILE (the
# recording's format) instead of testing.
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = rp_target_server.
# Prints one PASS/FAIL/SKIP line per check; exits 1 if any check failed,
# 77 if the prerequisites are missing. Every command is bounded by
# timeout(1); the trap stops what we started, by PID.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

DATA=$(cd "$(dirname "${BASH_SOURCE[0]}")/../data/curl" && pwd)
RECORDED=$DATA/curl-7.88.1.txt

need_tools python3 timeout
need_exec "$RINGPROBE" "$RP_TEST_SERVER"
TMP=$(mktemp -d /tmp/rp_test_curl.XXXXXX)

# Where ringprobe and curl 7.88.1 part ways, and why. Today's curl (8.x)
# sides with ringprobe on all but test395 (its tests' <errorcode>s say
# so); ringprobe keeps to the line drawn in README (Odd responses).
cat >"$TMP/differ" <<'EOF'
test395 a Content-Length of 2^65 cannot frame anything: refused; curl 7.88.1 ignores the header and reads to EOF
test747 80 KiB of headers, past --max-header's 64 KiB default; curl 7.88.1 has no total bound (curl 8 refuses them too)
test771 two different Content-Length values are ambiguous: refused; curl 7.88.1 takes the last one (curl 8 refuses)
test1473 a first header line that starts with a space is read as a header, as curl 8 does; curl 7.88.1 fails (exit 43)
test2105 a bare CR inside a header value: refused, as RFC 9112 2.2 allows and curl 8 does; curl 7.88.1 reads on
EOF

# What a few ok results must say they read leniently.
cat >"$TMP/detail" <<'EOF'
test34 lenient: bare LF
test767 lenient: duplicate Content-Length
test770 lenient: duplicate Content-Length
test1417 lenient: bare LF
test1494 lenient: Content-Length with Transfer-Encoding
EOF

mapfile -t NAMES < <(cd "$DATA/responses" && ls | sort -V)
if [ "${#NAMES[@]}" -lt 50 ]; then
	echo "FAIL: only ${#NAMES[@]} responses in $DATA/responses"
	exit 1
fi

start_server raw 1 --mode raw --dir "$DATA/responses" --max-seconds 600 ||
	exit 1
BASE="http://127.0.0.1:${PORTS[0]}"

# ---- curl: the one on PATH, else the recording ---------------------------

REF=$RECORDED
REF_VERSION=7.88.1
if command -v curl >/dev/null; then
	REF=$TMP/curl.txt
	REF_VERSION=$(curl --version | head -1 | cut -d' ' -f2)
	echo "# curl $REF_VERSION on each response: name, exit status," \
		"%{http_code}, %{size_download}" >"$REF"
	for n in "${NAMES[@]}"; do
		out=$(timeout -k 2 20 curl -s -o /dev/null --max-time 10 \
			-w '%{http_code} %{size_download}' "$BASE/$n")
		echo "$n $? $out" >>"$REF"
	done
	if [ -n "${RP_CURL_RECORD:-}" ]; then
		cp "$REF" "$RP_CURL_RECORD"
		echo "recorded curl $REF_VERSION's results in $RP_CURL_RECORD"
		exit 0
	fi
	if [ "$REF_VERSION" = 7.88.1 ]; then
		if diff <(grep -v '^#' "$RECORDED") <(grep -v '^#' "$REF") \
			>"$TMP/rec.diff"; then
			pass "curl 7.88.1 on PATH gives the recorded results"
		else
			fail "curl 7.88.1 on PATH differs from $RECORDED:"
			cat "$TMP/rec.diff"
		fi
	fi
elif [ -n "${RP_CURL_RECORD:-}" ]; then
	echo "SKIP: RP_CURL_RECORD needs curl on PATH"
	exit 77
else
	skip "no curl on PATH: comparing with the recorded curl 7.88.1"
fi

# ---- ringprobe, all at once ----------------------------------------------

URLS=()
for n in "${NAMES[@]}"; do
	URLS+=("$BASE/$n")
done
timeout -k 2 120 "$RINGPROBE" http -q --no-progress -f jsonl -c 8 \
	--threads 1 --timeout 10s "${URLS[@]}" >"$TMP/rp.jsonl" 2>"$TMP/rp.err"
RC=$?
if [ "$RC" -gt 1 ]; then
	fail "ringprobe http: exit $RC: $(head -c 300 "$TMP/rp.err")"
	exit 1
fi

# ---- compare --------------------------------------------------------------

python3 - "$TMP/rp.jsonl" "$REF" "$REF_VERSION" "$BASE" "$TMP/differ" \
	"$TMP/detail" "${NAMES[@]}" <<'PY'
import json
import sys

rp_file, ref_file, version, base, differ_file, detail_file = sys.argv[1:7]
names = sys.argv[7:]
fails = 0


def report(ok, what):
    global fails
    print(("PASS: " if ok else "FAIL: ") + what)
    fails += not ok


def table(fname):
    with open(fname) as f:
        return dict(line.rstrip("\n").split(" ", 1) for line in f
                    if line.strip() and not line.startswith("#"))


rp = {}
with open(rp_file) as f:
    for line in f:
        r = json.loads(line)
        rp.setdefault(r["input"][len(base) + 1:], []).append(r)
ref = {}
for name, rest in table(ref_file).items():
    code, status, size = rest.split()
    ref[name] = (code == "0", int(status), int(size))
differ = table(differ_file)
detail = table(detail_file)

report(all(len(rp.get(n, [])) == 1 for n in names) and len(rp) == len(names),
       "one ringprobe result per response (%d)" % len(names))
report(set(ref) == set(names), "one curl result per response")

agree, differs = 0, {}
for n in names:
    if n not in ref or len(rp.get(n, [])) != 1:
        continue
    r = rp[n][0]
    mine = (r["status"] == "ok", r["http_status"] or 0, r["body_bytes"])
    theirs = ref[n]
    same = mine[0] == theirs[0] and (not mine[0] or mine == theirs)
    if same:
        agree += 1
    else:
        differs[n] = "ringprobe %s %s %s B (%s), curl %s %s %s B" % (
            r["status"], mine[1], mine[2], r["detail"],
            "ok" if theirs[0] else "failed", theirs[1], theirs[2])

print("ringprobe and curl %s agree on %d of %d responses" %
      (version, agree, len(names)))
for n in sorted(differs, key=lambda s: int(s[4:])):
    print("    %s: %s: %s" % (n, differs[n], differ.get(n, "NOT EXPECTED")))
report(agree * 10 >= len(names) * 9,
       "agreement at least 9 in 10 (%d/%d)" % (agree, len(names)))
if version == "7.88.1":
    report(set(differs) == set(differ),
           "they differ exactly where expected (%s)" %
           ", ".join(sorted(set(differs) ^ set(differ))) if
           set(differs) != set(differ) else
           "they differ exactly where expected (%d)" % len(differ))
else:
    print("SKIP: the list of expected differences is curl 7.88.1's")

for n, want in detail.items():
    got = rp[n][0]["detail"] if len(rp.get(n, [])) == 1 else None
    report(rp[n][0]["status"] == "ok" and got == want,
           "%s is ok, detail %r (got %r)" % (n, want, got))
sys.exit(1 if fails else 0)
PY
[ $? -eq 0 ] || FAILS=$((FAILS + 1))

[ "$FAILS" -eq 0 ] || exit 1
exit 0
