#!/usr/bin/env python3
"""aiohttp_fetch.py - the textbook aiohttp concurrent fetcher.

A reference peer for ringprobe's HTTP benchmark, written the way the aiohttp
docs and tutorials write it: one aiohttp.ClientSession with a
TCPConnector(limit=N, force_close=True) (force_close: a new connection per
request, no keep-alive), one coroutine per URL under an asyncio.Semaphore(N),
session.get() / session.head(), await resp.text(), the <title> found with a
regular expression, and asyncio.gather() over the lot. For https:// URLs
the connector gets ssl=ssl.create_default_context(cafile=...) (aiohttp's
documented way to pass trust anchors), so certificates and host names are
verified. Runs on Debian's python3-aiohttp (use /usr/bin/python3 when
another interpreter comes first in PATH).

Usage:
    aiohttp_fetch.py [-c N] [--timeout SECS] [-i FILE] [-o FILE]
                     [--method GET|HEAD] [--cafile PEM] [URL...]

URLs: one per line or argument ("#" starts a comment, blank lines are
skipped); from the arguments, then -i FILE ("-" is stdin); with neither,
from stdin. --cafile: trust anchors for https (default: the system store).

Output: one JSON line per result, in completion order, with ringprobe's
keys: input, index, status ("ok", "timeout", "closed", "error",
"tls-error"), http_status, title, bytes, total_us, error, verify ("ok" once
an https certificate verified, the reason when it did not, null for http).
A one-line summary goes to standard error at the end.
"""

import argparse
import asyncio
import json
import re
import ssl
import sys
import time

import aiohttp

TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)


def read_urls(args):
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


async def fetch(session, sem, index, url, method, out, counts):
    rec = {"input": url, "index": index, "status": "ok", "http_status": None,
           "title": None, "bytes": 0, "total_us": 0, "error": None,
           "verify": None}
    async with sem:
        start = time.monotonic()
        try:
            async with session.request(method, url) as resp:
                body = await resp.text()
                rec["http_status"] = resp.status
                if url.startswith("https:"):
                    rec["verify"] = "ok"
                rec["bytes"] = len(body)
                m = TITLE_RE.search(body)
                if m:
                    rec["title"] = " ".join(m.group(1).split())
        except asyncio.TimeoutError:
            rec["status"] = "timeout"
        except aiohttp.ClientConnectorCertificateError as e:
            err = e.certificate_error
            rec.update(status="tls-error", error=type(err).__name__,
                       verify=getattr(err, "verify_message", str(err)))
        except aiohttp.ClientSSLError as e:
            rec.update(status="tls-error", error=type(e.os_error).__name__)
        except aiohttp.ClientConnectorError as e:
            refused = isinstance(e.os_error, ConnectionRefusedError)
            rec.update(status="closed" if refused else "error",
                       error=type(e.os_error).__name__)
        except (aiohttp.ClientError, OSError, ValueError) as e:
            rec.update(status="error", error=type(e).__name__)
        rec["total_us"] = int((time.monotonic() - start) * 1e6)
    counts[rec["status"]] = counts.get(rec["status"], 0) + 1
    out.write(json.dumps(rec) + "\n")


async def main():
    ap = argparse.ArgumentParser(description="textbook aiohttp fetcher")
    ap.add_argument("urls", nargs="*", metavar="URL")
    ap.add_argument("-i", "--input", default=None, help="file, '-' = stdin")
    ap.add_argument("-c", "--concurrency", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=5.0,
                    help="seconds per request, total (default 5)")
    ap.add_argument("--method", default="GET", choices=["GET", "HEAD"])
    ap.add_argument("-o", "--output", default="-")
    ap.add_argument("--cafile", default=None,
                    help="trust anchors (PEM) for https (default: system store)")
    args = ap.parse_args()

    out = sys.stdout if args.output == "-" else open(args.output, "w")
    sem = asyncio.Semaphore(args.concurrency)
    counts = {}
    t0 = time.monotonic()
    connector = aiohttp.TCPConnector(
        limit=args.concurrency, force_close=True,
        ssl=ssl.create_default_context(cafile=args.cafile))
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=timeout) as session:
        tasks = [fetch(session, sem, i, url, args.method, out, counts)
                 for i, url in enumerate(read_urls(args))]
        await asyncio.gather(*tasks)
    out.flush()
    dt = time.monotonic() - t0
    n = sum(counts.values())
    print(f"aiohttp_fetch: {n} results in {dt:.3f} s "
          f"({n / dt if dt > 0 else 0:.0f}/s): "
          + " ".join(f"{k}={v}" for k, v in sorted(counts.items())),
          file=sys.stderr)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
