"""t_tls_client.py - byte-level and load clients for the TLS test server.

    python3 t_tls_client.py raw HOST PORT [--conns N] [--wait S] [--max-bytes B]
                            [--ready FILE]
    python3 t_tls_client.py https HOST PORT --cafile CA [--conns N]
                            [--sni NAME] [--wait S]

raw: opens N connections at once (default 1); on each, sends one real
ClientHello (made by Python's ssl module, SNI "localhost", offering TLS
1.2 and 1.3) and reads what comes back until EOF, a reset, B bytes
(default 65536) or S seconds (default 3) after the connect; creates FILE
once every connection is open and its ClientHello written. Prints one JSON
object: {"elapsed": s, "conns": [{"n": bytes, "head": first 16 bytes in
hex, "end": "eof"|"reset"|"timeout"|"max"|"connect: ...",
"reads": [sizes of the first 20 reads], "t_first": s or null,
"t_end": s, "t_end_wall": Unix time}]} with t_ times from that
connection's connect.

https: N concurrent HTTPS GET / (default 100) with certificate and host
name verification against CA (SNI and Host = NAME, default "localhost"),
each bounded by S seconds (default 30). Prints {"elapsed": s, "status":
{code or error: count}, "titles": {title: count}, "versions": {..}}.

Exit status 0 when the run itself worked, whatever the server did; the
test judges the JSON. Loopback only: HOST is whatever the test gives.
"""
import argparse
import asyncio
import collections
import json
import re
import ssl
import sys
import time


def client_hello():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


async def raw_one(host, port, hello, wait, max_bytes, sent):
    t0 = time.monotonic()
    res = {"n": 0, "head": "", "reads": [], "t_first": None}
    got = b""
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port),
                                      wait)
    except (OSError, asyncio.TimeoutError) as e:
        res.update(end=f"connect: {e!r}", t_end=time.monotonic() - t0)
        sent()
        return res
    w.write(hello)
    await w.drain()
    sent()
    end = "timeout"
    try:
        while len(got) < max_bytes:
            left = wait - (time.monotonic() - t0)
            if left <= 0:
                break
            data = await asyncio.wait_for(r.read(65536), left)
            if not data:
                end = "eof"
                break
            if res["t_first"] is None:
                res["t_first"] = time.monotonic() - t0
            if len(res["reads"]) < 20:
                res["reads"].append(len(data))
            got += data
        else:
            end = "max"
    except asyncio.TimeoutError:
        pass
    except ConnectionResetError:
        end = "reset"
    res.update(n=len(got), head=got[:16].hex(), end=end,
               t_end=time.monotonic() - t0, t_end_wall=time.time())
    w.close()
    return res


async def raw(a):
    hello = client_hello()
    left = [a.conns]

    def sent():
        left[0] -= 1
        if left[0] == 0 and a.ready:
            open(a.ready, "w").close()

    t0 = time.monotonic()
    conns = await asyncio.gather(*(
        raw_one(a.host, a.port, hello, a.wait, a.max_bytes, sent)
        for _ in range(a.conns)))
    return {"elapsed": time.monotonic() - t0, "conns": conns}


async def https_one(a, ctx):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(
            a.host, a.port, ssl=ctx, server_hostname=a.sni), a.wait)
        version = w.get_extra_info("ssl_object").version()
        w.write(f"GET / HTTP/1.1\r\nHost: {a.sni}\r\n"
                "Connection: close\r\n\r\n".encode())
        body = await asyncio.wait_for(r.read(), a.wait)
        w.close()
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
        return (type(e).__name__, None, None)
    m = re.match(rb"HTTP/1\.1 (\d+)", body)
    t = re.search(rb"<title>(.*?)</title>", body)
    return (int(m.group(1)) if m else "no status line",
            t.group(1).decode() if t else None, version)


async def https(a):
    ctx = ssl.create_default_context(cafile=a.cafile)
    t0 = time.monotonic()
    res = await asyncio.gather(*(https_one(a, ctx) for _ in range(a.conns)))
    return {"elapsed": time.monotonic() - t0,
            "status": collections.Counter(str(r[0]) for r in res),
            "titles": collections.Counter(str(r[1]) for r in res),
            "versions": collections.Counter(str(r[2]) for r in res)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["raw", "https"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--conns", type=int)
    p.add_argument("--wait", type=float)
    p.add_argument("--max-bytes", type=int, default=65536)
    p.add_argument("--ready")
    p.add_argument("--cafile")
    p.add_argument("--sni", default="localhost")
    a = p.parse_args()
    if a.cmd == "raw":
        a.conns = a.conns or 1
        a.wait = a.wait or 3.0
        out = asyncio.run(raw(a))
    else:
        if not a.cafile:
            p.error("https needs --cafile")
        a.conns = a.conns or 100
        a.wait = a.wait or 30.0
        out = asyncio.run(https(a))
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
