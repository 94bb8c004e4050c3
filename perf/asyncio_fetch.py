#!/usr/bin/env python3
"""asyncio_fetch.py - the textbook asyncio HTTP/1.1 fetcher, on raw streams.

A reference peer for ringprobe's HTTP benchmark, written the way a tutorial
writes it: one coroutine per URL, an asyncio.Semaphore to bound concurrency,
asyncio.open_connection(), a GET with "Connection: close" written by hand,
reader.read() until EOF, the status line and <title> parsed from what came
back, the whole exchange under asyncio.wait_for(), and asyncio.gather() over
the lot. No HTTP library, no uvloop, no tricks: standard library only.
https:// URLs go the textbook way too: open_connection(..., ssl=CTX) with
CTX = ssl.create_default_context(cafile=...), so the certificate and the
host name (or IP address) are verified by the ssl module.

Usage:
    asyncio_fetch.py [-c N] [--timeout SECS] [-i FILE] [-o FILE]
                     [--method GET|HEAD] [--cafile PEM] [URL...]

URLs: http[s]://HOST[:PORT][/path], one per line or argument ("#" starts a
comment, blank lines are skipped); each is one request on a new connection
(for https, a new TLS handshake). Targets come from the arguments, then from
-i FILE ("-" is stdin); with no arguments and no -i, from stdin. --cafile:
trust anchors for https (default: the system store).

Output: one JSON line per result, in completion order, with ringprobe's
keys: input, index, host, port, status ("ok", "timeout", "closed", "error",
"tls-error", "invalid"), http_status, title, bytes, total_us, error, verify
("ok" once an https certificate verified, the ssl module's reason when it
did not, null for http). A one-line summary goes to standard error at the
end.
"""

import argparse
import asyncio
import errno
import json
import re
import ssl
import sys
import time
from urllib.parse import urlsplit

TITLE_RE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
STATUS_RE = re.compile(rb"^HTTP/\d(?:\.\d)? (\d{3})")


def parse_url(text):
    """'http[s]://h:p/x' -> (host, port, path, host header, https);
    raises ValueError."""
    u = urlsplit(text)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError("only http[s]://HOST[:PORT]/path URLs are supported")
    https = u.scheme == "https"
    port = u.port or (443 if https else 80)
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    host = u.hostname
    hosthdr = f"[{host}]" if ":" in host else host
    if u.port:
        hosthdr += f":{port}"
    return host, port, path, hosthdr, https


def read_urls(args):
    """Yields every URL line, in input order."""
    def lines():
        yield from args.urls
        if args.input is not None:
            f = sys.stdin if args.input == "-" else open(args.input)
            with f:
                yield from f
        elif not args.urls:
            yield from sys.stdin

    for line in lines():
        text = line.split("#", 1)[0].strip()
        if text:
            yield text


async def exchange(host, port, request, ssl_ctx):
    reader, writer = await asyncio.open_connection(host, port, ssl=ssl_ctx)
    try:
        writer.write(request)
        await writer.drain()
        return await reader.read()          # until EOF (Connection: close)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def fetch(sem, index, text, method, timeout, ctx, out, counts):
    rec = {"input": text, "index": index, "host": None, "port": None,
           "status": "ok", "http_status": None, "title": None, "bytes": 0,
           "total_us": 0, "error": None, "verify": None}
    try:
        host, port, path, hosthdr, https = parse_url(text)
    except ValueError as e:
        rec.update(status="invalid", error=str(e))
    else:
        rec.update(host=host, port=port)
        request = (f"{method} {path} HTTP/1.1\r\nHost: {hosthdr}\r\n"
                   "User-Agent: asyncio_fetch/1\r\nAccept: */*\r\n"
                   "Connection: close\r\n\r\n").encode()
        async with sem:
            start = time.monotonic()
            try:
                data = await asyncio.wait_for(
                    exchange(host, port, request, ctx if https else None),
                    timeout)
            except asyncio.TimeoutError:
                rec.update(status="timeout")
            except ssl.SSLCertVerificationError as e:
                rec.update(status="tls-error", error=e.reason,
                           verify=e.verify_message)
            except ssl.SSLError as e:
                rec.update(status="tls-error", error=e.reason or str(e))
            except ConnectionRefusedError:
                rec.update(status="closed", error="ECONNREFUSED")
            except OSError as e:
                rec.update(status="error",
                           error=errno.errorcode.get(e.errno or 0, str(e)))
            else:
                rec["verify"] = "ok" if https else None
                rec["bytes"] = len(data)
                m = STATUS_RE.match(data)
                if not m:
                    rec.update(status="error", error="bad status line")
                else:
                    rec["http_status"] = int(m.group(1))
                    t = TITLE_RE.search(data)
                    if t:
                        rec["title"] = " ".join(
                            t.group(1).decode("utf-8", "replace").split())
            rec["total_us"] = int((time.monotonic() - start) * 1e6)
    counts[rec["status"]] = counts.get(rec["status"], 0) + 1
    out.write(json.dumps(rec) + "\n")


async def main():
    ap = argparse.ArgumentParser(description="textbook asyncio HTTP fetcher")
    ap.add_argument("urls", nargs="*", metavar="URL")
    ap.add_argument("-i", "--input", default=None, help="file, '-' = stdin")
    ap.add_argument("-c", "--concurrency", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=5.0,
                    help="seconds for the whole exchange (default 5)")
    ap.add_argument("--method", default="GET", choices=["GET", "HEAD"])
    ap.add_argument("-o", "--output", default="-")
    ap.add_argument("--cafile", default=None,
                    help="trust anchors (PEM) for https (default: system store)")
    args = ap.parse_args()

    out = sys.stdout if args.output == "-" else open(args.output, "w")
    ctx = ssl.create_default_context(cafile=args.cafile)
    sem = asyncio.Semaphore(args.concurrency)
    counts = {}
    t0 = time.monotonic()
    tasks = [fetch(sem, i, text, args.method, args.timeout, ctx, out, counts)
             for i, text in enumerate(read_urls(args))]
    await asyncio.gather(*tasks)
    out.flush()
    dt = time.monotonic() - t0
    n = sum(counts.values())
    print(f"asyncio_fetch: {n} results in {dt:.3f} s "
          f"({n / dt if dt > 0 else 0:.0f}/s): "
          + " ".join(f"{k}={v}" for k, v in sorted(counts.items())),
          file=sys.stderr)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
