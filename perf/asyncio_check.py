#!/usr/bin/env python3
"""asyncio_check.py - the textbook asyncio TCP port checker.

A reference peer for ringprobe's benchmarks, written the way a tutorial
writes it: asyncio.open_connection() wrapped in asyncio.wait_for(), one
coroutine per target, an asyncio.Semaphore to bound concurrency, and
asyncio.gather() over the lot. No tricks (no raw sockets, no uvloop, no
batching), on purpose: it is what a Python programmer would write first.

Usage:
    asyncio_check.py [-p PORTS] [-c N] [--timeout SECS] [-i FILE] [TARGET...]

Targets (a subset of ringprobe's syntax): "IP" (probed on every port of -p),
"IP:PORT", "[IPv6]:PORT". "#" starts a comment, blank lines are skipped.
Targets come from the arguments, then from -i FILE ("-" is stdin); with no
arguments and no -i, from stdin.

Output: one JSON line per result, in completion order, with the same keys as
ringprobe's JSONL: input, index, ip, port, status, rtt_us, attempts,
elapsed_us, error, detail. Status is open, closed, filtered, unreachable,
error or invalid.
"""

import argparse
import asyncio
import errno
import ipaddress
import json
import sys
import time


def parse_ports(spec):
    """'22,80,8000-8100' -> list of ints."""
    ports = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            lo, hi = int(lo), int(hi)
        else:
            lo = hi = int(part)
        if not (1 <= lo <= hi <= 65535):
            raise ValueError(f"bad port range: {part}")
        ports.extend(range(lo, hi + 1))
    return ports


def parse_target(text, ports):
    """Returns a list of (input, ip, port) tuples, or raises ValueError."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError("expected [IPv6]:PORT")
        ipaddress.IPv6Address(host)
        return [(text, host, int(port))]
    if text.count(":") == 1:
        host, port = text.split(":")
        ipaddress.IPv4Address(host)
        port = int(port)
        if not 1 <= port <= 65535:
            raise ValueError("port out of range")
        return [(text, host, port)]
    ipaddress.ip_address(text)  # bare IPv4 or IPv6
    if not ports:
        raise ValueError("no port given and no -p list")
    return [(text, text, p) for p in ports]


def read_targets(args, ports):
    """Yields (input, ip, port, error) for every target, in input order."""
    def lines():
        yield from args.targets
        if args.input is not None:
            f = sys.stdin if args.input == "-" else open(args.input)
            with f:
                yield from f
        elif not args.targets:
            yield from sys.stdin

    for line in lines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            for t in parse_target(text, ports):
                yield t + (None,)
        except ValueError as e:
            yield (text, None, None, str(e))


async def check(sem, index, text, ip, port, timeout, out):
    async with sem:
        start = time.monotonic()
        status, error, detail = "open", None, None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(ip, port), timeout)
        except asyncio.TimeoutError:
            status = "filtered"
        except ConnectionRefusedError:
            status, error = "closed", "ECONNREFUSED"
        except OSError as e:
            code = e.errno or 0
            if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                status = "unreachable"
            else:
                status = "error"
            error = errno.errorcode.get(code, str(code))
            detail = e.strerror
        else:
            writer.close()
            await writer.wait_closed()
        elapsed = int((time.monotonic() - start) * 1e6)
    out.write(json.dumps({
        "input": text, "index": index, "ip": ip, "port": port,
        "status": status,
        "rtt_us": elapsed if status in ("open", "closed") else 0,
        "attempts": 1, "elapsed_us": elapsed,
        "error": error, "detail": detail,
    }) + "\n")


async def main():
    ap = argparse.ArgumentParser(description="textbook asyncio port checker")
    ap.add_argument("targets", nargs="*", metavar="TARGET")
    ap.add_argument("-p", "--ports", default=None)
    ap.add_argument("-i", "--input", default=None, help="file, '-' = stdin")
    ap.add_argument("-c", "--concurrency", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=1.0,
                    help="connect timeout in seconds (default 1)")
    ap.add_argument("-o", "--output", default="-")
    args = ap.parse_args()

    ports = parse_ports(args.ports) if args.ports else []
    out = sys.stdout if args.output == "-" else open(args.output, "w")
    sem = asyncio.Semaphore(args.concurrency)

    tasks = []
    for index, (text, ip, port, err) in enumerate(read_targets(args, ports)):
        if err is not None:
            out.write(json.dumps({
                "input": text, "index": index, "ip": None, "port": None,
                "status": "invalid", "rtt_us": 0, "attempts": 0,
                "elapsed_us": 0, "error": None, "detail": err}) + "\n")
            continue
        tasks.append(check(sem, index, text, ip, port, args.timeout, out))
    await asyncio.gather(*tasks)
    out.flush()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
