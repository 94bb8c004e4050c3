"""tlsbench.py - the TLS parts of perf/bench_http --tls (W6, W7, HOLD).

bench_http owns the runs (its nginx, Runner, checks, interleaved
repetitions and the W6 tables); this module adds what only TLS needs:

- make_certs(): a throwaway CA and a server certificate for 127.0.0.1,
  both ECDSA P-256, made with the openssl CLI in the nginx prefix (valid
  for CERT_DAYS days, deleted with the prefix);
- nginx_directives(): the ssl_* lines of the server block (TLS 1.3 only,
  no session tickets, no session cache: every handshake is a full one, and
  none is followed by a NewSessionTicket);
- handshake_facts(): one `openssl s_client` handshake, to state the
  negotiated version, cipher and key exchange group, and check that the
  certificate verifies and no session ticket is sent;
- Holder: a listener on 127.0.0.1 that accepts connections and never
  answers, so TLS probes stay in flight (HOLD: RSS at -c 4096);
- configs(): the W7 (`ringprobe tls`) and HOLD runs, interleaved with W6;
- crypto_floor(): `openssl speed`, and the client-side crypto of one
  handshake computed from it;
- report(): the W7 and HOLD tables.
"""

import json
import os
import re
import select
import socket
import statistics
import subprocess
import threading

CERT_DAYS = 2
TLS_TIMEOUT_S = 60      # per-request timeout of every W6/W7 client (not wrk)
HOLD_TIMEOUT = "3s"     # HOLD probes end as timeouts after this
SPEED_CMD = ["openssl", "speed", "-seconds", "2", "ecdhp256", "ecdhx25519",
             "ecdsap256"]


def _openssl(args, cwd):
    r = subprocess.run(["timeout", "60", "openssl", *args], cwd=cwd,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {r.stderr.strip()}")


def make_certs(d):
    """CA (ca.pem) and a leaf for 127.0.0.1 signed by it (server.pem,
    server.key), all ECDSA P-256, in directory d. Returns the CA's path."""
    os.makedirs(d, mode=0o755, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl(["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
              "-days", str(CERT_DAYS), "-subj",
              "/O=ringprobe bench/CN=ringprobe bench CA"], d)
    _openssl(["req", *ec, "-keyout", "server.key", "-out", "server.csr",
              "-subj", "/CN=127.0.0.1"], d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\n"
                "basicConstraints = CA:FALSE\n"
                "keyUsage = digitalSignature\n"
                "extendedKeyUsage = serverAuth\n")
    _openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem",
              "-CAkey", "ca.key", "-CAcreateserial", "-days", str(CERT_DAYS),
              "-extfile", "server.ext", "-out", "server.pem"], d)
    return os.path.join(d, "ca.pem")


def nginx_directives(d):
    """The ssl_* lines for nginx.conf.in's @TLS@. The certificate file
    holds the leaf only: the client gets a chain of 1 and has the CA."""
    return (f"ssl_certificate {d}/server.pem;\n"
            f"        ssl_certificate_key {d}/server.key;\n"
            "        ssl_protocols TLSv1.3;\n"
            "        ssl_session_tickets off;\n"
            "        ssl_session_cache off;\n"
            # nginx 1.22 with OpenSSL 3.0 sends two (stateful) TLS 1.3
            # tickets after every handshake despite the two lines above
            # (seen with s_client); this stops them.
            "        ssl_conf_command NumTickets 0;")


def handshake_facts(port, ca):
    """One handshake with openssl s_client: (summary text, problems)."""
    r = subprocess.run(["timeout", "15", "openssl", "s_client", "-connect",
                        f"127.0.0.1:{port}", "-CAfile", ca,
                        "-verify_ip", "127.0.0.1"],
                       input="", capture_output=True, text=True)
    out = r.stdout + r.stderr
    get = lambda rx: (re.search(rx, out) or [None, "?"])[1].strip()
    proto, cipher = get(r"New, (TLSv[\d.]+), Cipher is (\S+)"), get(
        r"New, TLSv[\d.]+, Cipher is (\S+)")
    group = get(r"Server Temp Key: ([^\n]+)")
    verify = get(r"Verify return code: ([^\n]+)")
    sig = get(r"Peer signature type: (\S+)")
    problems = []
    if proto != "TLSv1.3":
        problems.append(f"protocol {proto}")
    if not verify.startswith("0 "):
        problems.append(f"verify {verify}")
    if "NewSessionTicket" in out or "New Session Ticket" in out:
        problems.append("the server sent a session ticket")
    return (f"{proto}, {cipher}, key exchange {group}, server signature "
            f"{sig}, verify {verify} (openssl s_client)"), problems


class Holder:
    """A listener on 127.0.0.1 that accepts and holds connections and
    never sends a byte. Holds at most `cap`; release() closes them."""

    def __init__(self, cap):
        self.cap = cap
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(65535)         # capped by net.core.somaxconn
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            if not select.select([self.sock], [], [], 0.2)[0]:
                continue
            while True:
                try:
                    conn, _ = self.sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:         # EMFILE and friends: let it queue
                    break
                with self.lock:
                    if len(self.held) < self.cap:
                        self.held.append(conn)
                        continue
                conn.close()

    def counts(self):
        """(connections held, how many of them sent bytes: a ClientHello)"""
        with self.lock:
            held = list(self.held)
        hello = 0
        for c in held:
            try:
                hello += len(c.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)) > 0
            except OSError:
                pass
        return len(held), hello

    def release(self):
        with self.lock:
            held, self.held = self.held, []
        for c in held:
            c.close()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.release()
        self.sock.close()


def configs(args, rp, port, ca, workdir, holder):
    """W7 and HOLD configurations for bench_http's loop."""
    out = lambda key: os.path.join(workdir, f"out-{key}")
    tls_list = os.path.join(workdir, "tls.txt")
    with open(tls_list, "w") as f:
        f.write(f"127.0.0.1:{port}\n" * args.requests)
    cfgs = []
    for c in args.conc:
        key = f"rp-tls-c{c}"
        cfgs.append(dict(
            key=key, table="W7", tool="ringprobe tls", label=f"-c {c}",
            cmd=[rp, "tls", "-i", tls_list, "--cacert", ca, "--timeout",
                 f"{TLS_TIMEOUT_S}s", "-c", str(c), "-f", "jsonl", "-o",
                 out(key), "--no-progress"],
            stdout=os.devnull, check="jsonl", want="tls", cap=600))
    if holder:
        # --max-per-host 0: every probe goes to the one address (the
        # default, 1024 per host, would keep the rest from connecting).
        # The last row lifts the handshake cap: what each handshake holds.
        runs = [(n, []) for n in sorted({64, args.hold_conc})]
        if args.hold_conc > 64:
            runs.append((args.hold_conc, ["--max-handshakes", "0"]))
        for n, extra in runs:
            key = f"hold-c{n}" + ("-nocap" if extra else "")
            lst = os.path.join(workdir, f"hold-{n}.txt")
            with open(lst, "w") as f:
                f.write(f"127.0.0.1:{holder.port}\n" * n)
            cfgs.append(dict(
                key=key, table="HOLD", tool="ringprobe tls",
                label=" ".join([f"-c {n}", *extra]), n=n, holder=holder,
                cmd=[rp, "tls", "-i", lst, "-c", str(n), "--timeout",
                     HOLD_TIMEOUT, "--max-per-host", "0", *extra, "-f",
                     "jsonl", "-o", out(key), "--no-progress",
                     "--stats-json", out(key) + ".stats"],
                stdout=os.devnull, check="jsonl", want="hold", cap=60,
                after=holder.release))
    return cfgs


def max_inflight(stats_path):
    """max_inflight from a --stats-json file (None if unreadable)."""
    try:
        with open(stats_path) as f:
            return json.load(f).get("max_inflight")
    except (OSError, ValueError):
        return None


def crypto_floor():
    """Runs SPEED_CMD; returns per-operation µs (CPU time: openssl speed
    divides by user time) and the floors, or None if it cannot be parsed."""
    r = subprocess.run(["timeout", "120", *SPEED_CMD], capture_output=True,
                       text=True)
    t = r.stdout
    m_sig = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)"
                      r"\s+([\d.]+)", t)
    m_p = re.search(r"256 bits ecdh \(nistp256\)\s+\S+s\s+([\d.]+)", t)
    m_x = re.search(r"253 bits ecdh \(X25519\)\s+\S+s\s+([\d.]+)", t)
    if not (m_sig and m_p and m_x):
        return None
    us = lambda ops: 1e6 / float(ops)
    sign, verify = us(m_sig.group(1)), us(m_sig.group(2))
    ecdh_p, ecdh_x = us(m_p.group(1)), us(m_x.group(1))
    return {"sign_us": sign, "verify_us": verify, "ecdh_p256_us": ecdh_p,
            "ecdh_x25519_us": ecdh_x,
            # ECDHE keygen (≈ one ECDSA sign: a fixed-base scalar
            # multiplication) + derive + 2 verifies (CertificateVerify, and
            # the CA's signature on the leaf)
            "floor_p256_us": sign + ecdh_p + 2 * verify,
            # the same with X25519, what OpenSSL clients offer first and
            # nginx picks: keygen ≈ derive (one scalar multiplication each)
            "floor_x25519_us": 2 * ecdh_x + 2 * verify}


FLOOR_TEXT = ("client-side crypto of one full TLS 1.3 handshake with a P-256 "
              "ECDSA leaf signed by the CA (chain of 1 + trust anchor), from "
              "`openssl speed -seconds 2 ecdhp256 ecdhx25519 ecdsap256` "
              "(CPU time per operation): floor = ECDHE keygen + ECDHE derive "
              "+ 2 × ECDSA P-256 verify (the server's CertificateVerify and "
              "the CA's signature on the leaf). With P-256 ECDHE, keygen ≈ one "
              "ECDSA sign (a fixed-base scalar multiplication): floor(P-256) "
              "= 1/sign + 1/ecdh(P-256) + 2/verify. With X25519 (what the "
              "clients here offer first and nginx picks), keygen ≈ derive: "
              "floor(X25519) = 2/ecdh(X25519) + 2/verify. Hashing, HKDF and "
              "AES-GCM of the handshake records are left out (a few µs).")


def report(cfgs, S, wrk, floors, rss_check):
    """Markdown lines for W7 and HOLD; summary rows for the CSV."""
    md, rows = [], []
    fl = ({k: statistics.median(f[k] for f in floors) for k in floors[0]}
          if floors else None)
    w7 = [c for c in cfgs if c.get("table") == "W7"]
    if w7:
        md.append("\n## W7: full TLS 1.3 handshakes, `ringprobe tls` vs wrk's "
                  "client CPU and the crypto floor\n")
        md.append("CPU µs/hs = client (user + sys) ÷ handshakes; wrk's is per "
                  "request of W6 (each request a new connection and a full "
                  "handshake, plus a small GET). ×wrk < 1 is cheaper.\n")
        md.append("| client | config | handshakes | wall s (min–max) | "
                  "handshakes/s | client CPU µs/hs | server CPU µs/hs | "
                  "peak RSS MiB | CPU ×wrk | CPU ×floor(X25519) | verified |")
        md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for c in w7 + ([{"key": "wrk", "tool": "wrk (W6)",
                         "label": "per request"}] if wrk else []):
            s = S.get(c["key"])
            if not s:
                md.append(f"| {c['tool']} | {c['label']} | — |" + " — |" * 8)
                continue
            xw = s["cli_us"] / wrk["cli_us"] if wrk else None
            xf = s["cli_us"] / fl["floor_x25519_us"] if fl else None
            f2 = lambda v: f"{v:.2f}" if v is not None else "—"
            ver = ("wrk verifies nothing" if c["key"] == "wrk" else
                   f"all {s['requests']:,.0f} ok/verify ok/TLSv1.3 ×{s['n']}"
                   if all(o == s["requests"] for o in s["ok"])
                   else "; ".join(s["verify"]))
            md.append(f"| {c['tool']} | {c['label']} | {s['requests']:,.0f} | "
                      f"{s['wall']:.2f} ({s['wmin']:.2f}–{s['wmax']:.2f}) | "
                      f"{s['rps']:,.0f} | {s['cli_us']:.0f} | "
                      f"{s['srv_us']:.0f} | {s['rss_mib']:.1f} | {f2(xw)} | "
                      f"{f2(xf)} | {ver} |")
            rows.append(dict(workload="W7", tool=c["tool"], config=c["label"],
                             requests=s["requests"], runs=s["n"],
                             req_per_s=round(s["rps"], 1),
                             client_cpu_us_per_req=round(s["cli_us"], 1),
                             peak_rss_mib=round(s["rss_mib"], 2),
                             cpu_x_wrk=round(xw, 3) if xw else ""))
        if fl:
            md.append(f"\nCrypto floor (median of {len(floors)}): "
                      f"ECDSA P-256 sign {fl['sign_us']:.1f} µs, verify "
                      f"{fl['verify_us']:.1f} µs, ECDH P-256 "
                      f"{fl['ecdh_p256_us']:.1f} µs, X25519 "
                      f"{fl['ecdh_x25519_us']:.1f} µs → floor(P-256) "
                      f"**{fl['floor_p256_us']:.0f} µs**, floor(X25519) "
                      f"**{fl['floor_x25519_us']:.0f} µs** per handshake. "
                      + FLOOR_TEXT)
    hold = [c for c in cfgs if c.get("table") == "HOLD"]
    if hold:
        md.append("\n## HOLD: TLS probes in flight at once, peak RSS\n")
        md.append("`ringprobe tls --max-per-host 0` against a listener that "
                  "accepts and never answers: the probes given a place "
                  "(--max-handshakes, default 1024 per thread) connect, "
                  "send their ClientHello and wait until --timeout "
                  f"{HOLD_TIMEOUT}, the rest wait for a place without "
                  "connecting (the wait is not part of their timeout) and "
                  "go when the first wave times out; all N are in flight "
                  "together (`max_inflight` of --stats-json), and the "
                  "listener counts every connection and ClientHello.\n")
        md.append("| config | probes | max in flight | peak RSS MiB | "
                  "per probe KiB (vs -c 64) | verified |")
        md.append("|---|---:|---:|---:|---:|---|")
        base = S.get("hold-c64")
        for c in hold:
            s = S.get(c["key"])
            if not s:
                md.append(f"| {c['label']} | — | — | — | — | skipped |")
                continue
            per = ((s["rss_mib"] - base["rss_mib"]) * 1024 / (c["n"] - 64)
                   if base and c["n"] > 64 else None)
            mi = rss_check.get(c["key"], "?")
            ok = all(o == c["n"] for o in s["ok"])
            md.append(f"| {c['label']} | {c['n']:,} | {mi} | "
                      f"{s['rss_mib']:.1f} | "
                      f"{'—' if per is None else f'{per:.1f}'} | "
                      + (f"all {c['n']:,} timeout ×{s['n']}; " if ok
                         else "") + "; ".join(s["verify"]) + " |")
            rows.append(dict(workload="HOLD", tool=c["tool"], config=c["label"],
                             requests=c["n"], runs=s["n"],
                             peak_rss_mib=round(s["rss_mib"], 2),
                             rss_kib_per_probe=round(per, 2) if per else ""))
    return md, rows


def profile(rp, port, ca, workdir, n, budget):
    """perf/profile --tls-phases around one `ringprobe tls --threads 1` run
    of n handshakes against the same nginx: markdown lines of its report
    (DSO split, top symbols, phases), or a line saying why not."""
    lst = os.path.join(workdir, "tls-profile.txt")
    with open(lst, "w") as f:
        f.write(f"127.0.0.1:{port}\n" * n)
    cmd = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "profile"),
           "--tls-phases", "--top", "20", "--name", "bench_http-tls",
           "--budget", str(int(budget)), "--limit", str(int(budget / 2)), "--",
           rp, "tls", "--threads", "1", "-i", lst, "--cacert", ca, "-c", "256",
           "-f", "jsonl", "-o", os.devnull, "--no-progress"]
    r = subprocess.run(["timeout", str(int(budget) + 30), *cmd],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return [f"\n(perf/profile failed, exit {r.returncode}: "
                f"{r.stderr.strip()[-300:]})"]
    lines = r.stdout.strip().splitlines()
    body = [ln.replace("## ", "### ", 1) if ln.startswith("## ") else ln
            for ln in lines[1:]]
    return ["\n## Profile: where `ringprobe tls` spends its CPU\n",
            f"`perf/profile --tls-phases -- ringprobe tls --threads 1 -i "
            f"({n:,} × 127.0.0.1:PORT) --cacert CA -c 256 …`"] + body
