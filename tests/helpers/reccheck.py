"""reccheck.py - checks result files record by record, for tests that stop
ringprobe at random moments.

  python3 reccheck.py MANIFEST

Each line of MANIFEST is "RULE FORMAT KIND FILE [N]":
  RULE    crash: the last line may be unterminated (torn by a kill), and
          must then be the start of a record; clean: the file ends with a
          newline (an empty file is clean too)
  FORMAT  jsonl or csv
  KIND    tcp or http: the record's fields, as README lists them
  N       if given, the number of records the file must hold

Every line that ends with a newline must be a whole record:
  jsonl   an object in strict UTF-8 with exactly the record's keys, in
          order, index an integer and status a status name;
  csv     the first line is the header row; each other line has as many
          cells as the header, index digits and status a status name
          (no field of these runs holds a line break).
No index may appear twice in a file. A torn record followed by anything
fails one of these: the text after it ends up in the same line.

Prints each problem (the first 20) and one summary line; exit 1 if any.
"""
import csv
import json
import sys

COMMON = ["time", "addr", "service"]  # every record ends with these
TCP = ["input", "index", "ip", "port", "status", "rtt_us", "attempts",
       "elapsed_us", "dns_us", "error", "detail"] + COMMON
HTTP = ["input", "index", "url", "ip", "port", "status", "http_status",
        "reason", "content_length", "body_bytes", "truncated",
        "content_type", "server", "location", "redirects", "title",
        "body_hash", "connect_us", "ttfb_us", "total_us", "attempts",
        "elapsed_us", "dns_us", "error", "detail",
        # the TLS fields, which HTTP records end with (null for http://)
        "tls_version", "cipher", "alpn", "sni", "cert_subject_cn",
        "cert_sans", "cert_issuer_cn", "cert_issuer_org", "cert_not_before",
        "cert_not_after", "cert_days_left", "cert_sha256",
        "cert_self_signed", "cert_key", "chain_len", "verify", "tls_us"
        ] + COMMON
STATUSES = {"open", "closed", "filtered", "unreachable", "error",
            "cancelled", "invalid", "ok", "timeout", "reset",
            "protocol-error", "dns-error", "tls-error", "excluded"}


def record_json(line, keys):
    """The record's (index, problem) from one JSON line."""
    try:
        rec = json.loads(line.decode("utf-8", "strict"))
    except ValueError as e:
        return None, f"not JSON ({e})"
    if not isinstance(rec, dict) or list(rec) != keys:
        return None, "not an object with the record's keys in order"
    if type(rec["index"]) is not int or rec["status"] not in STATUSES:
        return None, f"index {rec['index']!r}, status {rec['status']!r}"
    return rec["index"], None


def record_csv(line, keys):
    """The record's (index, problem) from one CSV line."""
    try:
        text = line.decode("utf-8", "strict")
        cells = next(csv.reader([text], strict=True))
    except (ValueError, csv.Error, StopIteration) as e:
        return None, f"not CSV ({e})"
    if len(cells) != len(keys):
        return None, f"{len(cells)} cells, expected {len(keys)}"
    rec = dict(zip(keys, cells))
    if not rec["index"].isdigit() or rec["status"] not in STATUSES:
        return None, f"index {rec['index']!r}, status {rec['status']!r}"
    return int(rec["index"]), None


def check_file(rule, fmt, kind, fname, want, bad):
    """Checks one file; returns (records, 1 if its last line is torn)."""
    keys = TCP if kind == "tcp" else HTTP
    header = (",".join(keys) + "\n").encode()
    with open(fname, "rb") as f:
        raw = f.read()
    lines = raw.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    where = f"{fname} ({rule} {fmt} {kind})"
    if tail and rule == "clean":
        bad.append(f"{where}: ends without a newline: ...{tail[-80:]!r}")
    if tail:
        # the start of a record: of the header row, or of a record
        start = header if fmt == "csv" and not lines else b'{"input":'
        if fmt == "csv" and lines:
            start = b""
        n = min(len(start), len(tail))
        if tail[:n] != start[:n]:
            bad.append(f"{where}: torn tail is not a record's start: "
                       f"{tail[:80]!r}")
    if fmt == "csv" and lines:
        if lines[0] + b"\n" != header:
            bad.append(f"{where}: header row {lines[0][:80]!r}")
        lines = lines[1:]
    seen = set()
    for i, line in enumerate(lines, 2 if fmt == "csv" else 1):
        parse = record_json if fmt == "jsonl" else record_csv
        index, why = parse(line, keys)
        if why:
            bad.append(f"{where} line {i}: {why}: {line[:100]!r}")
        elif index in seen:
            bad.append(f"{where} line {i}: index {index} again")
        seen.add(index)
    if want is not None and len(lines) != want:
        bad.append(f"{where}: {len(lines)} records, expected {want}")
    return len(lines), 1 if tail else 0


def main():
    bad, files, records, torn = [], 0, 0, 0
    with open(sys.argv[1]) as m:
        for entry in m:
            f = entry.split()
            want = int(f[4]) if len(f) > 4 else None
            n, t = check_file(f[0], f[1], f[2], f[3], want, bad)
            files, records, torn = files + 1, records + n, torn + t
    for b in bad[:20]:
        print("   ", b)
    if len(bad) > 20:
        print(f"    ... and {len(bad) - 20} more")
    print(f"{files} files, {records} whole records, {torn} torn last "
          f"lines, {len(bad)} problems")
    sys.exit(1 if bad or not files else 0)


main()
