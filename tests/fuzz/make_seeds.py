#!/usr/bin/env python3
# Writes the hand-made seeds of tests/fuzz/corpus/ (names start with
# "seed-"). Inputs kept from fuzzing runs sit next to them, named by their
# SHA-1 as libFuzzer names them: at most 40 per harness, picked greedily
# from the corpus of a 15-minute run, each adding the most code edges that
# the seeds and the inputs picked before it do not reach. Regression
# inputs for findings start with "regress-". Run from anywhere; it only
# (re)writes seed-* files.
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- fuzz_target: "line\nports" -----------------------------------------
targets = {
    "v4": b"192.0.2.1",
    "v4-port": b"192.0.2.1:80",
    "cidr4-ports": b"10.0.0.0/30\n22,80",
    "cidr4-hostbits": b"10.0.0.7/29:8080",
    "cidr4-all": b"0.0.0.0/0\n1-65535",
    "cidr6": b"2001:db8::/126\n443",
    "cidr6-min": b"2001:db8::/108\n80",
    "cidr6-bracket-port": b"[2001:db8::/120]:80",
    "v6-bracket-port": b"[2001:db8::1]:8080",
    "v6-bare": b"::1:80\n1",
    "v6-bracket": b"[::1]",
    "v6-v4tail": b"::ffff:192.0.2.1\n7",
    "name-port": b"example.com:443",
    "name-dot": b"example.com.\n80-82",
    "name-underscore": b"_srv.a-b.example\n 80 , 443 ,8000 - 8100 ",
    "name-long": b".".join([b"a" * 63] * 3) + b"." + b"b" * 61,
    "name-label64": b"a" * 64 + b".example",
    "url": b"http://example.com/path?q=1#frag",
    "url-v6": b"https://[::1]:8443/",
    "url-upper": b"HTTP://1.2.3.4:80",
    "url-query": b"http://h?x=1",
    "url-comment": b"http://h/p#top # note",
    "url-userinfo": b"http://user@h/",
    "url-emptyport": b"http://h:/",
    "url-noclose": b"http://[2001:db8::1",
    "url-ftp": b"ftp://x/",
    "url-pct": b"http://h/%41%zz%",
    "comment": b"# comment",
    "blanks": b"  \t 192.0.2.9 \r # c\n\t80",
    "leading-zero": b"010.0.0.1",
    "prefix33": b"1.2.3.4/33",
    "prefix6-small": b"2001:db8::/64",
    "zone": b"fe80::1%eth0",
    "dots": b"a..b",
    "hyphen": b"-bad.com",
    "port0": b"1.2.3.4:0",
    "port-big": b"1.2.3.4:65536",
    "nul": b"1.2.3.4\x00:80",
    "ctrl": b"1.2.\x1b3.4",
    "ports-bad": b"1.2.3.4\n1-0,x,70000",
    "ports-empty-item": b"1.2.3.4\n80,,81",
    "dur-ms": b"500ms",
    "dur-frac": b"1.5s\n80",
    "dur-min": b"2m",
    "dur-day": b"24h",
    "dur-over": b"25h",
    "dur-ns": b"0.000000001s",
    "dur-bare": b"30",
    "dur-junk": b"-1s",
    "utf8": b"\xc3\xa9xample.com",
}
for name, data in targets.items():
    write("fuzz_target", name, data)


# ---- fuzz_http: 6-byte head, split gaps, response -----------------------
def http(flags=0, max_header=511, max_body=1023, gaps=(), resp=b""):
    head = struct.pack("<BHHB", flags, max_header - 1, max_body, len(gaps))
    return head + bytes(g - 1 for g in gaps) + resp


HEAD, EOF, BIGHDR, BIGBODY = 1, 2, 4, 8
X40 = b"x" * 40
responses = {
    "fixed": http(resp=b"HTTP/1.1 200 OK\r\nServer: nginx/1.25.3\r\n"
                  b"Content-Type: text/html; charset=utf-8\r\n"
                  b"Content-Length: 48\r\n\r\n<html><head><title>Hello, World"
                  b"</title></head>", gaps=(10, 30)),
    "chunked-ext-trailer": http(gaps=(50, 5, 5), resp=(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: text/html\r\n\r\n9;ext=1\r\n<html><ti\r\n"
        b"8;name=\"quoted; value\";flag\r\ntle>Chun\r\n7\r\nked</TI\r\n"
        b"b\r\nTLE></html>\r\n0\r\nServer: from-trailer\r\n\r\n")),
    "trailer-limit": http(max_header=47, resp=(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nok\r\n0\r\nX-T: " + b"x" * 39 + b"\r\n\r\n")),
    "until-eof": http(EOF, resp=b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\n"
                      b"<title>Until EOF</title>\n<p>rest</p>\n"),
    "head": http(HEAD, resp=b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                 b"Content-Length: 1234\r\n\r\n"),
    "204": http(resp=b"HTTP/1.1 204 No Content\r\nServer: api\r\n\r\n"),
    "304-length": http(resp=b"HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\n"
                       b"Content-Length: 500\r\n\r\n"),
    "1xx": http(gaps=(20,), resp=(
        b"HTTP/1.1 100 Continue\r\nServer: interim\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 Fine\r\nContent-Length: 2\r\n\r\nok")),
    "upgrade": http(resp=b"HTTP/1.1 101 Switching Protocols\r\n"
                    b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello"),
    "garbage": http(EOF, resp=b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"),
    "bad-token": http(max_header=64, gaps=(20,), resp=(
        b"HTTP/1.1 200 OK\r\nX-" + X40 + b"x" * 18 + b"(bad: v\r\n\r\n")),
    "server-over-limit": http(max_header=64, gaps=(26,), resp=(
        b"HTTP/1.1 200 OK\r\nServer: " + X40 + X40 +
        b"\r\nContent-Length: 0\r\n\r\n")),
    "reason-nul": http(EOF, gaps=(15,),
                       resp=b"HTTP/1.1 200 O\x00K\r\n\r\n"),
    "reason-controls": http(resp=b"HTTP/1.1 200 A\x1b[2J\x07\x7f\xc2\x9b\xff"
                            b"\tZ\r\nContent-Length: 0\r\n\r\n"),
    "header-bad-utf8": http(gaps=(25, 3), resp=(
        b"HTTP/1.1 200 OK\r\nServer: \xc2\x9b1\xff2\xc3(3\xe0\x80\xaf4"
        b"\xed\xa0\x805\xf4\x90\x80\x806\xe2\x82 \t\r\n"
        b"Location: a\tb\r\nContent-Length: 0\r\n\r\n")),
    "header-bound": http(BIGHDR, resp=(
        b"HTTP/1.1 302 Found\r\nLocation: /" + X40 * 3 + b"xxxxx\xc3\xa9\r\n"
        b"Server: " + X40 + b"\x80" * 50 + b"\r\nContent-Length: 0\r\n\r\n")),
    "repeated-headers": http(BIGHDR, resp=(
        b"HTTP/1.1 301 Moved\r\nserver: first\r\nSERVER: second\r\n"
        b"Location:   https://example.com/new?a=1&b=2  \t \r\n"
        b"location: /other\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 0\r\n\r\n")),
    "title-entities": http(EOF, gaps=(60, 7, 7), resp=(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
        b"<html><head><TITLE lang=\"e>n\" data-x='a>b'>\n\t  Caf&eacute; &amp; "
        b"Bar &lt;3&gt; &quot;q&quot; &apos;a&#39; x&nbsp;&#160;y &#169;"
        b"&#xA9;&#X263a; &#xZZ; &bogus; &#0; &#1114112; &#55296; AT&T &amp\r\n"
        b" </TiTlE></head></html>")),
    "title-nasty": http(EOF, resp=(
        b"HTTP/1.1 200 OK\r\n\r\n<title>&#27;[2J&#155;&#129;\x1b\x07\x7f"
        b"\xc2\x9b\xff&#9;x&#x7f;&#150;</title>")),
    "title-false-friends": http(EOF, resp=(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/xhtml+xml\r\n\r\n"
        b"<titl<titles>nope</titles><<title\n class=x>Yes </ <</title>")),
    "title-long": http(EOF, BIGHDR, resp=(
        b"HTTP/1.1 200 OK\r\n\r\n<title>" + b"a" * 230 +
        b"&#x1F600;&amp;ddddd&#x1F601;</title>")),
    "title-json": http(resp=b"HTTP/1.1 200 OK\r\nContent-Type: application/json"
                       b"\r\nContent-Length: 24\r\n\r\n{\"t\":\"<title>x</title>\"}"),
    "body-truncated": http(max_body=100, resp=(
        b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n<title>Big</title>" +
        bytes(range(256))[:282])),
    "body-chunked-trunc": http(max_body=30, gaps=(50,), resp=(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"14\r\n" + b"y" * 20 + b"\r\n14\r\n" + b"z" * 20 + b"\r\n0\r\n\r\n")),
    "short-cl": http(EOF, resp=b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                     b"<title>short</title>"),
    "eof-mid-headers": http(EOF, resp=b"HTTP/1.1 502 Bad Gateway\r\n"
                            b"Server: half\r\nContent-Ty"),
    "empty": http(EOF),
    "bigbody-limit": http(BIGBODY, resp=b"HTTP/1.1 200 OK\r\n"
                          b"Content-Length: 5\r\n\r\nhello"),
    # Read leniently (http_frame.c), or refused as ambiguous.
    "lenient-bare-lf-chunked": http(gaps=(40, 9), resp=(
        b"HTTP/1.1 200 OK\n Date: x\nServer: a\x1bb\nTransfer-Encoding: "
        b"chunked\n\n 5 \nhello\n3;x=\"y\"\r\nabc\r\n0\nT: v\n\n")),
    "lenient-cl-dup-list": http(gaps=(50,), resp=(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
        b"Content-Length: 02, \t2 ,\r\n\r\nok")),
    "lenient-cl-conflict": http(resp=b"HTTP/1.1 200 OK\r\nContent-Length: 2"
                                b"\r\nContent-Length: 3\r\n\r\nok!"),
    "lenient-cl-te": http(EOF, resp=(
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: "
        b"identity, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")),
    "lenient-te-unsupported": http(resp=(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")),
    "lenient-nul-header": http(gaps=(25,), resp=(
        b"HTTP/1.1 200 OK\r\nServer: a\x00b\r\nContent-Length: 0\r\n\r\n")),
    "lenient-chunk-junk": http(max_header=20, resp=(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"\t4 junk\r\r\nabcd\r\r\n0\r\nX: " + b"y" * 12 + b"\r\n\r\n")),
}
for name, data in responses.items():
    write("fuzz_http", name, data)


# ---- fuzz_output ---------------------------------------------------------
def result(sel, status, strings, cut=0, err=0, v4=(80, 0xC0000201),
           v6=(443, bytes(range(16))), code=200, cl=-1, body=0,
           trunc=0, redirects=0):
    b = struct.pack(">BBHBIBQIQ", sel, status, cut, err, 1234, 1, 5678,
                    0 if sel & 0x40 else 4210, 7)
    kind = sel >> 2 & 3
    if kind == 1:
        b += struct.pack(">HI", *v4)
    elif kind == 2:
        b += struct.pack(">H", v6[0]) + v6[1]
    b += struct.pack(">hqQBQIIIB", code, cl, body, trunc, 0xdeadbeef, 310,
                     1500, 12345, redirects)
    return b + b"\0".join(strings)


OK, OPEN, INVALID, DNS_ERROR, PROTO, TIMEOUT = 8, 1, 7, 12, 11, 9
V4, V6, BOGUS = 4, 8, 12
outputs = {
    "tcp-open": result(V4, OPEN, [b"192.0.2.1:80"]),
    "tcp-invalid": result(0, INVALID, [b"10.0.0.300:80",
                                       b"t.txt:3: bad address"]),
    "tcp-v6": result(V6, 2, [b"2001:db8::/126"], err=111, cut=30),
    "tcp-dns": result(0, DNS_ERROR, [b"nosuch.example.test:80",
                                     b"NXDOMAIN"]),
    "tcp-bogus-family": result(BOGUS, 5, [b"x", b"y"], err=99),
    "tcp-formula": result(V4 | 0x10, OPEN, [b"=HYPERLINK(\"x\",\"y\")",
                                            b"+1,-2"]),
    "tcp-controls": result(V4 | 0x20, 5, [b"a\x1b[2J\x07\x7f\xc2\x9b\xff",
                                          b"\r\n\t\"\\,"]),
    "http-full": result(1 | V4, OK, [
        b"http://example.test/", b"", b"http://example.test/",
        b"Moved Permanently", b"text/html", b"nginx\x1b[2J\"x\",\xff",
        b"https://example.test/\xc2\x9b?a=1,b ",
        b"T\x07i\xc3\xa9tle \xe2\x82 \"q\"\\"], code=301, cl=162, body=162),
    "http-formula": result(1 | V4 | 0x10, OK, [
        b"-x", b"", b"@u", b"-OK", b"+text/html", b"@srv", b"\t/x",
        b"=HYPERLINK(\"http://evil.test/\",\"Click\")"], redirects=2),
    "http-null": result(1 | 2 | V6, TIMEOUT, [b"http://198.51.100.7/",
                                              b"no response"]),
    "http-noresp": result(1 | V4 | 0x20, PROTO, [
        b"192.0.2.7:80", b"HPE_INVALID_CONSTANT: Expected HTTP/"], code=0),
    "http-trunc": result(1 | V6, OK, [b"u", b"", b"u", b"OK", b"", b"srv",
                                      b"", b""], trunc=1, body=1 << 20,
                         cl=1 << 40, redirects=1),
    "http-negative-code": result(1 | V4, OK, [b"i", b"", b"u"], code=-5),
    "http-long": result(1 | V4, OK, [b"i" * 300, b"d" * 300, b"u" * 300,
                                     b"r" * 63, b"c" * 127, b"s" * 127,
                                     b"l" * 127 + b"   ", b"t\xef\xbf\xbd" * 60],
                        cut=500),
}
for name, data in outputs.items():
    write("fuzz_output", name, data)
