#!/usr/bin/env python3
"""gai_pool.py - what asyncio does with hostnames: getaddrinfo in a thread pool.

A reference peer for perf/bench_dns, written the way asyncio code resolves
names: for each name, `await loop.getaddrinfo(name, PORT, type=SOCK_STREAM)`,
which runs the blocking socket.getaddrinfo() (glibc: /etc/nsswitch.conf,
/etc/hosts, /etc/resolv.conf) in the loop's default ThreadPoolExecutor; then,
to do the same work as `ringprobe tcp`, asyncio.open_connection() to the
first address under asyncio.wait_for(). One coroutine per name, an
asyncio.Semaphore(N) around the whole of it, asyncio.gather() over the lot
(the textbook shape, as in asyncio_check.py).

The pool is asyncio's own default executor (ThreadPoolExecutor() with
max_workers=None, i.e. min(32, os.cpu_count() + 4) threads) unless
--workers N, which installs ThreadPoolExecutor(max_workers=N) with
loop.set_default_executor().

Usage:
    gai_pool.py [-p PORT] [-c N] [--workers N] [--timeout SECS]
                [-4|-6] [-i FILE] [-o FILE] [NAME...]

Names come from the arguments, then from -i FILE ('-' is stdin); with
neither, from stdin. A line may be NAME or NAME:PORT; '#' starts a comment.

Output: one JSON line per name, in completion order, with ringprobe's JSONL
keys: input, index, ip, port, status, rtt_us, attempts, elapsed_us, dns_us,
error, detail. Status is open, closed, filtered, unreachable, error, or
dns-error (getaddrinfo failed: error is the EAI_* name, detail its message;
EAI_AGAIN is glibc's "the server did not answer in time"). A line
"gai_pool: N results in S s (workers W)" goes to stderr at the end.
"""

import argparse
import asyncio
import concurrent.futures
import errno
import json
import os
import socket
import sys
import time

EAI_NAMES = {getattr(socket, n): n for n in dir(socket)
             if n.startswith("EAI_") and isinstance(getattr(socket, n), int)}


def read_names(args):
    def lines():
        yield from args.names
        if args.input is not None:
            f = sys.stdin if args.input == "-" else open(args.input)
            with f:
                yield from f
        elif not args.names:
            yield from sys.stdin

    for line in lines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        host, sep, port = text.rpartition(":")
        if sep and port.isdigit() and "]" not in port:
            yield text, host.strip("[]"), int(port)
        else:
            yield text, text, args.port


async def probe(loop, sem, index, text, host, port, family, timeout, out):
    async with sem:
        start = time.monotonic()
        ip, status, error, detail = None, None, None, None
        rtt_us = 0
        try:
            infos = await loop.getaddrinfo(host, port, family=family,
                                           type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            status = "dns-error"
            error = EAI_NAMES.get(e.errno, str(e.errno))
            detail = e.strerror
        except (OSError, UnicodeError) as e:
            status, error, detail = "dns-error", type(e).__name__, str(e)
        dns_done = time.monotonic()
        if status is None:
            ip = infos[0][4][0]
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(ip, port), timeout)
            except asyncio.TimeoutError:
                status = "filtered"
            except ConnectionRefusedError:
                status, error = "closed", "ECONNREFUSED"
            except OSError as e:
                code = e.errno or 0
                status = ("unreachable" if code in (errno.ENETUNREACH,
                                                    errno.EHOSTUNREACH)
                          else "error")
                error = errno.errorcode.get(code, str(code))
                detail = e.strerror
            else:
                status = "open"
                writer.close()
                await writer.wait_closed()
            if status in ("open", "closed"):
                rtt_us = int((time.monotonic() - dns_done) * 1e6)
        end = time.monotonic()
    out.write(json.dumps({
        "input": text, "index": index, "ip": ip,
        "port": port if ip is not None else None, "status": status,
        "rtt_us": rtt_us, "attempts": 1 if ip is not None else 0,
        "elapsed_us": int((end - start) * 1e6),
        "dns_us": int((dns_done - start) * 1e6),
        "error": error, "detail": detail,
    }) + "\n")


async def main():
    ap = argparse.ArgumentParser(
        description="asyncio name resolution: getaddrinfo in a thread pool, "
                    "then a TCP connect")
    ap.add_argument("names", nargs="*", metavar="NAME")
    ap.add_argument("-p", "--port", type=int, default=9,
                    help="port for names without one (default 9)")
    ap.add_argument("-i", "--input", default=None, help="file, '-' = stdin")
    ap.add_argument("-c", "--concurrency", type=int, default=64,
                    help="Semaphore size: names in flight (default 64)")
    ap.add_argument("--workers", type=int, default=None,
                    help="thread pool size (default: asyncio's default "
                         "executor, min(32, cpus + 4))")
    ap.add_argument("--timeout", type=float, default=1.0,
                    help="connect timeout in seconds (default 1)")
    fam = ap.add_mutually_exclusive_group()
    fam.add_argument("-4", dest="family", action="store_const",
                     const=socket.AF_INET, default=socket.AF_UNSPEC)
    fam.add_argument("-6", dest="family", action="store_const",
                     const=socket.AF_INET6)
    ap.add_argument("-o", "--output", default="-")
    args = ap.parse_args()

    t0 = time.monotonic()
    loop = asyncio.get_running_loop()
    if args.workers:
        loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(max_workers=args.workers))
        workers = args.workers
    else:
        # What ThreadPoolExecutor(max_workers=None) picks (Python 3.8-3.12;
        # 3.13 uses os.process_cpu_count()).
        cpus = (os.process_cpu_count() if hasattr(os, "process_cpu_count")
                else os.cpu_count()) or 1
        workers = min(32, cpus + 4)
    out = sys.stdout if args.output == "-" else open(args.output, "w")
    sem = asyncio.Semaphore(args.concurrency)
    tasks = [probe(loop, sem, index, text, host, port, args.family,
                   args.timeout, out)
             for index, (text, host, port) in enumerate(read_names(args))]
    await asyncio.gather(*tasks)
    out.flush()
    print(f"gai_pool: {len(tasks)} results in {time.monotonic() - t0:.3f} s "
          f"(workers {workers}{'' if args.workers else ' default'}, "
          f"semaphore {args.concurrency})", file=sys.stderr)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
