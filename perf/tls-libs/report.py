#!/usr/bin/env python3
"""report.py RESULTS_DIR - the markdown report of perf/tls-libs/run.sh.

Reads runs.txt (RESULT lines, one per variant per round), facts.txt (the
certificates as `openssl x509` sees them, then each program's FACTS for the
good / wrong-name / self-signed handshakes), speed.txt (`openssl speed`),
meta.txt and perf-*.txt; prints markdown on stdout.
"""

import json
import os
import re
import statistics
import sys

BASE = "openssl tuned"
TCP = "tcp-only"
LIBS = ("openssl", "gnutls", "wolfssl")
HEAD_TO_HEAD = ("openssl tuned", "gnutls bundle", "wolfssl bundle")


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def parse_runs(text):
    """{label: [record, ...]} in first-seen order, and the FAILED lines."""
    runs, failed = {}, []
    for line in text.splitlines():
        if line.startswith("FAILED"):
            failed.append(line)
            continue
        if not line.startswith("RESULT "):
            continue
        m = re.search(r"label=(.*?) n=", line)
        rec = dict(kv.split("=", 1) for kv in re.sub(r"label=.*? n=", "n=", line[7:]).split())
        rec["label"] = m.group(1) if m else "?"
        runs.setdefault(rec["label"], []).append(rec)
    return runs, failed


def med(recs, key):
    vals = [float(r[key]) for r in recs]
    return statistics.median(vals), min(vals), max(vals)


def main_table(runs):
    out = []
    tcp = med(runs[TCP], "cpu_us_per_hs")[0] if TCP in runs else 0.0
    base = med(runs[BASE], "cpu_us_per_hs")[0] if BASE in runs else None
    base_tls = base - tcp if base is not None else None
    out.append("| variant | library | CPU µs/handshake (median) | min–max over rounds | user | sys "
               "| TLS only (− TCP) | OpenSSL tuned ÷ this (all / TLS only) | wall µs | rounds |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, recs in runs.items():
        cpu, lo, hi = med(recs, "cpu_us_per_hs")
        user = med(recs, "user_us_per_hs")[0]
        sys_ = med(recs, "sys_us_per_hs")[0]
        wall = med(recs, "wall_us_per_hs")[0]
        lib = recs[0]["lib"]
        ver = recs[0]["libversion"]
        tls = cpu - tcp if label != TCP else None
        if base and label not in (BASE, TCP):
            ratio = f"{base / cpu:.2f} / {base_tls / tls:.2f}" if tls and tls > 0 else f"{base / cpu:.2f}"
        else:
            ratio = "1.00" if label == BASE else "—"
        name = f"**{label}**" if label in HEAD_TO_HEAD else label
        out.append(f"| {name} | {lib} {ver if ver != '-' else ''} | {cpu:.0f} | {lo:.0f}–{hi:.0f} | "
                   f"{user:.0f} | {sys_:.0f} | {'' if tls is None else f'{tls:.0f}'} | {ratio} | "
                   f"{wall:.0f} | {len(recs)} |")
    return out, tcp, base


PAIRED_TCP = "tcp-only (paired)"
PAIRED_FLOOR = "crypto floor (paired)"


def paired_table(runs, tcp):
    """Paired OpenSSL variants: per process, each variant minus tuned."""
    if BASE not in runs:
        return []
    base = {r["rep"]: float(r["cpu_us_per_hs"]) for r in runs[BASE]}
    base_med = {r["rep"]: float(r["cpu_med_us"]) for r in runs[BASE]}
    tuned = statistics.median(base.values())
    if PAIRED_TCP in runs:
        tcp = statistics.median(float(r["cpu_us_per_hs"]) for r in runs[PAIRED_TCP])
    out = [f"Medians over {len(base)} processes; each Δ is taken inside one process (variant − tuned "
           f"of the same process), then the median of those; tuned's TLS share = tuned − TCP-only "
           f"({tcp:.0f} µs).\n",
           "| OpenSSL configuration | CPU µs/handshake (mean) | per-handshake median | Δ vs tuned (mean) "
           "| Δ range over processes | Δ % of tuned TLS | Δ of medians |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for label, recs in runs.items():
        mean = statistics.median(float(r["cpu_us_per_hs"]) for r in recs)
        medn = statistics.median(float(r["cpu_med_us"]) for r in recs)
        ds = [float(r["cpu_us_per_hs"]) - base[r["rep"]] for r in recs if r["rep"] in base]
        dm = [float(r["cpu_med_us"]) - base_med[r["rep"]] for r in recs if r["rep"] in base_med]
        if label in (BASE, PAIRED_TCP, PAIRED_FLOOR) or not ds:
            name = f"**{label}**" if label == BASE else label
            out.append(f"| {name} | {mean:.0f} | {medn:.0f} | — | — | — | — |")
            continue
        d = statistics.median(ds)
        out.append(f"| {label} | {mean:.0f} | {medn:.0f} | {d:+.0f} | {min(ds):+.0f} … {max(ds):+.0f} | "
                   f"{100 * d / (tuned - tcp):+.0f}% | {statistics.median(dm):+.0f} |")
    if PAIRED_TCP in runs and PAIRED_FLOOR in runs:
        tcps = {r["rep"]: float(r["cpu_us_per_hs"]) for r in runs[PAIRED_TCP]}
        ratios, floors, tls = [], [], []
        for r in runs[PAIRED_FLOOR]:
            rep = r["rep"]
            if rep in tcps and rep in base:
                fl = float(r["cpu_us_per_hs"]) - tcps[rep]
                floors.append(fl)
                tls.append(base[rep] - tcps[rep])
                ratios.append((base[rep] - tcps[rep]) / fl)
        if ratios:
            out.append("")
            out.append(f"Measured side by side (same processes): the crypto floor alone (2 × X25519 derive + "
                       f"3 × ECDSA P-256 verify, `-O floor` minus TCP-only) is **{statistics.median(floors):.0f} µs**; "
                       f"tuned OpenSSL's handshake beyond TCP is **{statistics.median(tls):.0f} µs**, "
                       f"**{statistics.median(ratios):.1f}×** the floor "
                       f"(per process: {', '.join(f'{x:.1f}' for x in ratios)}).")
    return out


def parse_certs(text):
    """{cert: {subject, issuer, notBefore, notAfter, sha256, sans}}"""
    certs, cur = {}, None
    for line in text.splitlines():
        if line.startswith("CERT "):
            cur = certs.setdefault(line.split()[1], {"sans": set()})
            continue
        if line.startswith("CHECK "):
            cur = None
        if cur is None:
            continue
        s = line.strip()
        for key in ("subject", "issuer", "notBefore", "notAfter"):
            if s.startswith(key + "="):
                cur[key] = s.split("=", 1)[1]
        if s.startswith("sha256 Fingerprint="):
            cur["sha256"] = s.split("=", 1)[1].replace(":", "").lower()
        if "DNS:" in s:
            for part in s.split(","):
                part = part.strip()
                if part.startswith("DNS:"):
                    cur["sans"].add(part)
                elif part.startswith("IP Address:"):
                    ip = part[len("IP Address:"):]
                    cur["sans"].add("IP:::1" if ip == "0:0:0:0:0:0:0:1" else "IP:" + ip)
    return certs


def rdn(dn, key):
    m = re.search(r"(?:^|,)" + key + r"=([^,]*)", dn or "")
    return m.group(1) if m else None


def parse_checks(text):
    """{(lib, check): facts dict or error text}"""
    checks, cur = {}, None
    for line in text.splitlines():
        if line.startswith("CHECK "):
            _, lib, check = line.split()
            cur = (lib, check)
            checks[cur] = None
        elif line.startswith("FACTS ") and cur:
            checks[cur] = json.loads(line[6:])
        elif cur and checks[cur] is None and line.startswith("EXIT"):
            checks[cur] = line
    return checks


def iso(openssl_date):
    return (openssl_date or "").replace(" ", "T")


def facts_table(certs, checks):
    leaf, self_ = certs.get("leaf", {}), certs.get("self", {})
    rows = []

    def expect(name, fn):
        rows.append((name, fn))

    expect("TLS version", lambda g, w, s: ("1.3" in g["version"], g["version"]))
    expect("cipher suite", lambda g, w, s: (g["cipher"].startswith("TLS_"), g["cipher"]))
    expect("ALPN", lambda g, w, s: (g["alpn"] == "http/1.1", g["alpn"]))
    expect("SNI (as sent)", lambda g, w, s: (g["sni"] == "tls-bench.test" and w["sni"] == "wrong.tls-bench.test", g["sni"]))
    expect("subject CN", lambda g, w, s: (g["subject_cn"] == rdn(leaf.get("subject"), "CN"), g["subject_cn"]))
    expect("SANs (DNS + IP)", lambda g, w, s: (set(g["sans"]) == leaf.get("sans"), " ".join(g["sans"])))
    expect("issuer CN", lambda g, w, s: (g["issuer_cn"] == rdn(leaf.get("issuer"), "CN"), g["issuer_cn"]))
    expect("issuer O", lambda g, w, s: (g["issuer_org"] == rdn(leaf.get("issuer"), "O"), g["issuer_org"]))
    expect("not_before", lambda g, w, s: (g["not_before"] == iso(leaf.get("notBefore")), g["not_before"]))
    expect("not_after", lambda g, w, s: (g["not_after"] == iso(leaf.get("notAfter")), g["not_after"]))
    expect("SHA-256 of leaf", lambda g, w, s: (g["sha256"] == leaf.get("sha256") and s["sha256"] == self_.get("sha256"), g["sha256"][:16] + "…"))
    expect("self-signed? (chain leaf / self-signed leaf)", lambda g, w, s: (g["self_signed"] == 0 and s["self_signed"] == 1, f"{g['self_signed']} / {s['self_signed']}"))
    expect("key type + bits", lambda g, w, s: (g["key"] == "EC-256", g["key"]))
    expect("chain length (sent)", lambda g, w, s: (g["chain_len"] == 2 and s["chain_len"] == 1, f"{g['chain_len']} / {s['chain_len']}"))
    expect("verified chain length (extra: not in the issue's list)", lambda g, w, s: (g["verified_len"] == 3, "n/a" if g["verified_len"] < 0 else str(g["verified_len"])))
    expect("verify: ok", lambda g, w, s: (g["verify"] == "ok", g["verify"]))
    expect("verify: hostname mismatch", lambda g, w, s: (w["verify"] != "ok" and re.search(r"host|name", w["verify"], re.I) is not None, w["verify"].strip()))
    # GnuTLS calls an untrusted self-signed leaf "issuer is unknown"; with
    # the self-signed fact beside it the reason can still be told ("≈").
    expect("verify: self-signed", lambda g, w, s: (
        True if s["verify"] != "ok" and re.search(r"self", s["verify"], re.I)
        else "derived" if s["verify"] != "ok" and s["self_signed"] == 1 else False,
        s["verify"].strip()))

    out = ["| fact | " + " | ".join(LIBS) + " |", "|---|" + "---|" * len(LIBS)]
    for name, fn in rows:
        cells = []
        for lib in LIBS:
            g, w, s = (checks.get((lib, c)) for c in ("good", "wrongname", "selfsigned"))
            if not all(isinstance(x, dict) for x in (g, w, s)):
                cells.append("✗ (handshake failed)")
                continue
            ok, shown = fn(g, w, s)
            shown = str(shown).replace("|", "\\|")
            mark = "≈ " if ok == "derived" else "✓ " if ok else "✗ "
            cells.append(mark + f"`{shown}`")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("✓ the library gives it and it matches `openssl x509`; ≈ not given directly but follows "
               "from the other facts; ✗ not available.")
    return out


def crypto_floor(text):
    ops = {}
    m = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", text)
    if m:
        ops["ecdsa_sign"], ops["ecdsa_verify"] = float(m.group(1)), float(m.group(2))
    m = re.search(r"256 bits ecdh \(nistp256\)\s+\S+\s+([\d.]+)", text)
    if m:
        ops["ecdh_p256"] = float(m.group(1))
    m = re.search(r"253 bits ecdh \(X25519\)\s+\S+\s+([\d.]+)", text)
    if m:
        ops["x25519"] = float(m.group(1))
    if len(ops) < 4:
        return [], None
    us = {k: 1e6 / v for k, v in ops.items()}
    floor = 2 * us["x25519"] + 3 * us["ecdsa_verify"]
    floor_p256 = 2 * us["ecdh_p256"] + 3 * us["ecdsa_verify"]
    out = [
        "| operation (`openssl speed -seconds 3`) | ops/s | µs each |",
        "|---|---:|---:|",
        f"| ECDSA P-256 verify | {ops['ecdsa_verify']:.0f} | {us['ecdsa_verify']:.1f} |",
        f"| ECDSA P-256 sign (server side, for reference) | {ops['ecdsa_sign']:.0f} | {us['ecdsa_sign']:.1f} |",
        f"| ECDH X25519 derive | {ops['x25519']:.0f} | {us['x25519']:.1f} |",
        f"| ECDH P-256 derive | {ops['ecdh_p256']:.0f} | {us['ecdh_p256']:.1f} |",
        "",
        f"Client floor per full handshake with X25519 = 2 × X25519 (key generation counted as one more "
        f"derive, an upper bound) + 3 × ECDSA verify (leaf signed by the intermediate, intermediate signed "
        f"by the root, CertificateVerify) = **{floor:.0f} µs** "
        f"(with P-256 ECDHE instead: {floor_p256:.0f} µs). Hashing, HKDF and AES-GCM of a handshake's few "
        f"kilobytes add a few µs.",
    ]
    return out, floor


# Rough kinds of libc time, by symbol name (first match wins).
LIBC_KINDS = [
    ("locks (pthread rwlock/mutex)", r"^pthread_(rwlock|mutex)|^__pthread_(rwlock|mutex)|lll_lock"),
    ("malloc/free", r"malloc|^_int_|free|^unlink_chunk|calloc|realloc|tcache|^sysmalloc|^arena"),
    ("mem*/str*", r"^__(mem|str|wmem|stp)|^(mem|str)"),
    ("syscall wrappers", r"^__?(libc_)?(send|recv|read|write|close|connect|socket|setsockopt|getrusage|clock_gettime)"),
]


def parse_sym(text):
    """[(percent, dso, symbol)] from `perf report --sort dso,sym -q`."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*\S)", line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3)))
    return rows


def grouped_symbols(rows, top=8):
    """Per DSO: its share and its top symbols; libc also by kind."""
    out = []
    by_dso = {}
    for pct, dso, sym in rows:
        by_dso.setdefault(dso, []).append((pct, sym))
    for dso, syms in sorted(by_dso.items(), key=lambda kv: -sum(p for p, _ in kv[1])):
        total = sum(p for p, _ in syms)
        if total < 1.0:
            continue
        unresolved = sum(p for p, s in syms if s.startswith("0x"))
        head = f"- **{dso}** {total:.1f}%"
        if unresolved >= 0.5:
            head += f" (of which {unresolved:.1f}% in internal functions without symbols: Debian strips them)"
        if dso.startswith("libc.so"):
            kinds = {}
            for pct, sym in syms:
                kind = next((k for k, rx in LIBC_KINDS if re.search(rx, sym)), "other")
                kinds[kind] = kinds.get(kind, 0.0) + pct
            head += ": " + ", ".join(f"{k} {v:.1f}%" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
        out.append(head)
        named = [(p, s) for p, s in syms if not s.startswith("0x")][:top]
        out.append("  - " + ", ".join(f"`{s.split('@')[0]}` {p:.1f}%" for p, s in named))
    return out


def perf_section(results):
    out = []
    for lib in LIBS:
        dso = read(os.path.join(results, f"perf-{lib}-dso.txt")).strip("\n")
        if not dso:
            continue
        out.append(f"**{lib}**, samples by DSO (`perf report --sort dso`):\n")
        out.append("```")
        out.extend(line.rstrip() for line in dso.splitlines()[:12])
        out.append("```")
        rows = parse_sym(read(os.path.join(results, f"perf-{lib}-sym.txt")))
        if rows:
            out.append(f"\n{lib}: top symbols by DSO (`perf report --sort dso,sym`):\n")
            out.extend(grouped_symbols(rows))
            out.append("")
    stat = read(os.path.join(results, "perf-stat.txt"))
    lines = [l.rstrip() for l in stat.splitlines() if re.search(r"task-clock|context-switches|page-faults|elapsed|RESULT", l)]
    if lines:
        out.append("\n`perf stat` of the tuned OpenSSL loop:\n")
        out.append("```")
        out.extend(lines)
        out.append("```")
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RESULTS_DIR")
    res = sys.argv[1]
    runs, failed = parse_runs(read(os.path.join(res, "runs.txt")))
    facts = read(os.path.join(res, "facts.txt"))
    print("# TLS libraries: client CPU per full handshake\n")
    meta = read(os.path.join(res, "meta.txt")).strip()
    if meta:
        print("```\n" + meta + "\n```\n")
    if runs:
        table, tcp, base = main_table(runs)
        print("## CPU per handshake (getrusage user+sys of the client loop ÷ handshakes)\n")
        print("\n".join(table))
        print()
    pruns, pfailed = parse_runs(read(os.path.join(res, "paired.txt")))
    failed += pfailed
    if pruns:
        tcp0 = med(runs[TCP], "cpu_us_per_hs")[0] if TCP in runs else 0.0
        print("## OpenSSL configurations paired in one process (interleaved handshake by handshake)\n")
        print("\n".join(paired_table(pruns, tcp0)))
        print()
    if failed:
        print("## Failed runs\n")
        print("\n".join("- " + f for f in failed))
        print()
    print("## Certificate facts (one handshake each: right name, wrong name, self-signed server)\n")
    print("\n".join(facts_table(parse_certs(facts), parse_checks(facts))))
    print()
    fl, floor = crypto_floor(read(os.path.join(res, "speed.txt")))
    if fl:
        print("## Crypto floor\n")
        print("\n".join(fl))
        if runs and BASE in runs and floor:
            tls = med(runs[BASE], "cpu_us_per_hs")[0] - tcp
            print(f"\nOpenSSL tuned spends {tls:.0f} µs of client CPU per handshake beyond TCP: "
                  f"{tls / floor:.1f}× the crypto floor.")
        print()
    ps = perf_section(res)
    if ps:
        print("## Where OpenSSL's time goes (perf record -e cpu-clock)\n")
        print("\n".join(ps))


if __name__ == "__main__":
    main()
