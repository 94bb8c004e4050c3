# t_nginx_tls.sh - Debian's nginx serving HTTPS on loopback for a test.
# Sourced after t_lib.sh (it uses TMP, PIDS, wait_gone and stop_pid).
#
#   nginx_tls_start CERT KEY [TITLE]
#       Starts nginx on https://127.0.0.1:$NGINX_PORT/ with CERT and KEY
#       (PEM; CERT may hold the chain after the leaf), serving one page,
#       index.html, titled TITLE (default "ringprobe nginx tls"); other
#       paths are nginx's 404. Sets NGINX_PID (also added to PIDS, so the
#       trap stops it), NGINX_PORT, NGINX_TITLE, NGINX_SIZE (the page's
#       bytes) and NGINX_DIR ($TMP/nginx-tls: config, html, logs).
#       Returns 0 once a TCP connect to the port works; 77 if nginx is not
#       installed; 1, saying why, if it did not start.
#   nginx_tls_stop
#       Stops it by its PID (SIGTERM, then SIGKILL after 5 s).
#
# Settings, read by nginx_tls_start:
#   NGINX_TLS_PROTOCOLS  ssl_protocols (default "TLSv1.2 TLSv1.3")
#   NGINX_TLS_HTTP2=1    listen with http2, so ALPN offers h2 and http/1.1
#                        (default: no ALPN h2; http/1.1 is selected)
#   NGINX_TLS_V6=1       listen on [::1]:$NGINX_PORT too
#
# As test_nginx.sh runs it: one process (master_process off, daemon off),
# so the PID we start is the server; pid file, logs and temp paths under
# NGINX_DIR; nothing under /etc, /var or /run is read or written. The port
# is found free just before (bound to port 0 and closed); if nginx then
# fails to bind it, another is tried, up to 5 times. keepalive_timeout 0:
# each response says Connection: close. Session tickets and the session
# cache are nginx's defaults.
# shellcheck shell=bash
# shellcheck disable=SC2034 # NGINX_* are for the sourcing test

NGINX_PID=
NGINX_PORT=
NGINX_DIR=

# Prints a loopback TCP port that was free a moment ago.
nginx_free_port() {
	"$PY" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# nginx_tls_conf CERT KEY: writes $NGINX_DIR/nginx.conf for NGINX_PORT.
nginx_tls_conf() {
	local d=$NGINX_DIR v6='' h2=''
	[ "${NGINX_TLS_HTTP2:-0}" = 1 ] && h2=" http2"
	[ "${NGINX_TLS_V6:-0}" = 1 ] &&
		v6="listen [::1]:$NGINX_PORT ssl$h2 backlog=4096;"
	cat >"$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 8192;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    keepalive_timeout 0;
    default_type text/html;
    types { text/html html; }
    client_body_temp_path $d/tmp/client_body;
    proxy_temp_path       $d/tmp/proxy;
    fastcgi_temp_path     $d/tmp/fastcgi;
    uwsgi_temp_path       $d/tmp/uwsgi;
    scgi_temp_path        $d/tmp/scgi;

    server {
        listen 127.0.0.1:$NGINX_PORT ssl$h2 backlog=4096;
        $v6
        ssl_certificate     $1;
        ssl_certificate_key $2;
        ssl_protocols ${NGINX_TLS_PROTOCOLS:-TLSv1.2 TLSv1.3};
        root $d/html;
        index index.html;
    }
}
EOF
}

# Waits up to 5 s for nginx to accept on NGINX_PORT; 0 if it does.
nginx_tls_wait() {
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$NGINX_PID" 2>/dev/null || return 1
		(exec 3<>"/dev/tcp/127.0.0.1/$NGINX_PORT") 2>/dev/null &&
			return 0
		sleep 0.05
	done
	return 1
}

nginx_tls_start() {
	local cert=$1 key=$2 nginx try
	NGINX_TITLE=${3:-ringprobe nginx tls}
	nginx=$(command -v nginx || true)
	[ -z "$nginx" ] && [ -x /usr/sbin/nginx ] && nginx=/usr/sbin/nginx
	if [ -z "$nginx" ]; then
		echo "SKIP: nginx is not installed (Debian package nginx-light)"
		return 77
	fi
	NGINX_DIR=$TMP/nginx-tls
	mkdir -p "$NGINX_DIR/html" "$NGINX_DIR/logs" "$NGINX_DIR/tmp"
	printf '<!DOCTYPE html>\n<html>\n<head>\n<title>%s</title>\n</head>\n<body>\n<p>served over TLS by nginx</p>\n</body>\n</html>\n' \
		"$NGINX_TITLE" >"$NGINX_DIR/html/index.html"
	NGINX_SIZE=$(wc -c <"$NGINX_DIR/html/index.html")
	for ((try = 0; try < 5; try++)); do
		NGINX_PORT=$(nginx_free_port)
		nginx_tls_conf "$cert" "$key"
		"$nginx" -p "$NGINX_DIR/" -e "$NGINX_DIR/logs/error.log" \
			-c "$NGINX_DIR/nginx.conf" >"$NGINX_DIR/nginx.out" 2>&1 &
		NGINX_PID=$!
		PIDS+=("$NGINX_PID")
		nginx_tls_wait && return 0
		stop_pid "$NGINX_PID"
		grep -q 'Address already in use' "$NGINX_DIR/logs/error.log" \
			"$NGINX_DIR/nginx.out" 2>/dev/null || break
	done
	echo "FAIL: nginx did not start on 127.0.0.1:$NGINX_PORT:" \
		"$(cat "$NGINX_DIR/nginx.out" "$NGINX_DIR/logs/error.log" 2>/dev/null | head -c 500)"
	NGINX_PID=
	return 1
}

nginx_tls_stop() {
	if [ -n "$NGINX_PID" ]; then
		stop_pid "$NGINX_PID"
		NGINX_PID=
	fi
}
