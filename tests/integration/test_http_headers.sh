#!/usr/bin/env bash
# test_http_headers.sh - -H against ringprobe's own request headers (README,
# "HTTP only": a -H header replaces the one ringprobe sends of that name,
# without regard to case, as curl's does; 'Name:' sends none), seen from
# the target server's /headers route, whose title lists the header names
# the request carried, in order, and its Host.
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = rp_target_server.
# Prints PASS/FAIL lines; exits 1 if a check failed, 77 without python3.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools python3 timeout
need_exec "$RINGPROBE" "$RP_TEST_SERVER"
TMP=$(mktemp -d /tmp/rp_test_hdr.XXXXXX)

start_server http 1 --mode http || exit 1
P=${PORTS[0]}

# title ARGS...: the title of `ringprobe http -f jsonl ARGS`'s one result.
title() {
	timeout -k 2 30 "$RINGPROBE" http -q -f jsonl "$@" >"$TMP/out" \
		2>"$TMP/err"
	"$PY" -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
print(r[0]["title"] if len(r) == 1 else "%d results" % len(r))' "$TMP/out"
}

# expect DESC WANT ARGS...
expect() {
	local desc=$1 want=$2 got
	shift 2
	got=$(title "$@")
	if [ "$got" = "$want" ]; then
		pass "$desc"
	else
		fail "$desc: got '$got', want '$want' ($(head -c 200 "$TMP/err"))"
	fi
}

U=http://127.0.0.1:$P/headers
expect "no -H: Host, User-Agent, Accept, Connection once each" \
	"host,user-agent,accept,connection|host=127.0.0.1:$P" "$U"
expect "-H 'Host: vhost.example' replaces Host (one Host header)" \
	"host,user-agent,accept,connection|host=vhost.example" \
	-H 'Host: vhost.example' "$U"
expect "-H 'host: vhost.example' (any case) replaces Host" \
	"host,user-agent,accept,connection|host=vhost.example" \
	-H 'host: vhost.example' "$U"
expect "vhost probing of a target without a URL (-p, --path)" \
	"host,user-agent,accept,connection|host=vhost.example" \
	-H 'Host: vhost.example' -p "$P" --path /headers 127.0.0.1
expect "-H User-Agent, Accept, Connection replace ringprobe's" \
	"host,user-agent,accept,connection|host=127.0.0.1:$P" \
	-H 'User-Agent: x' -H 'ACCEPT: text/html' -H 'Connection: close' "$U"
expect "-H 'Accept:' (empty) drops Accept; other headers follow" \
	"host,user-agent,connection,x-one|host=127.0.0.1:$P" \
	-H 'Accept:' -H 'X-One: 1' "$U"
expect "-H 'Host:' (empty) drops Host" \
	"user-agent,accept,connection|host=-" -H 'Host:' "$U"
# A redirect to a path goes to the same host: the same Host.
expect "--follow to a path keeps the -H Host" \
	"host,user-agent,accept,connection|host=vhost.example" \
	--follow 1 -H 'Host: vhost.example' \
	"http://127.0.0.1:$P/to?%2Fheaders"

[ "$FAILS" -eq 0 ] || exit 1
exit 0
