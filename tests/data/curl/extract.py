#!/usr/bin/env python3
"""Extracts plain-GET server responses from curl's test suite.

    extract.py CURL_CHECKOUT OUTDIR

Reads CURL_CHECKOUT/tests/data/test*, keeps the tests that do a plain
GET against curl's HTTP test server (see plain_get() for what that
means), and writes each one's <reply><data> bytes to OUTDIR/testN, the
way curl's test harness would have sent them: variables and %CR-style
macros substituted, crlf="yes"/"headers" applied (tests/runner.pm
prepro()), base64="yes" decoded and nonewline="yes" honoured
(tests/server/getpart.c). Prints one line per test written.
"""
import base64
import os
import re
import sys

HOSTIP = "127.0.0.1"
HTTPPORT = "8990"  # only ever seen in bodies and Location values
COMMAND = "http://%HOSTIP:%HTTPPORT/%TESTNUMBER"


def section(lines, name):
    """The lines between <name...> and </name>, or None."""
    out, inside = [], False
    for ln in lines:
        if not inside and re.match(r"^ *<%s[ >]" % name, ln):
            inside = True
            continue
        if inside and re.match(r"^ *</%s>" % name, ln):
            return out
        if inside:
            out.append(ln)
    return None


def part(lines, name):
    """(attributes, lines) of the first <name ...> part in lines."""
    for i, ln in enumerate(lines):
        m = re.match(r"^ *<%s( [^>]*)?>" % name, ln)
        if not m:
            continue
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        body = []
        for ln2 in lines[i + 1:]:
            if re.match(r"^ *</%s>" % name, ln2):
                return attrs, body
            body.append(ln2)
        return attrs, None
    return None, None


def text(lines):
    return "".join(lines).strip() if lines is not None else None


# curl options that only say where output goes: they change neither the
# request nor how the response is read.
OUTPUT_ONLY = re.compile(r"(-[isS]+|-O|(-o|-D|--output-dir) \S+)")


def plain_command(cmd):
    """The command is the test's URL, plus output-only options."""
    if not cmd.startswith(COMMAND + " ") and cmd != COMMAND:
        return False
    return all(OUTPUT_ONLY.fullmatch(o) for o in
               re.findall(r"-\S+(?: (?!-)\S+)?", cmd[len(COMMAND):]))


def plain_get(lines):
    """Why the test is not a plain GET, or None if it is: curl's HTTP
    server, the command the test's URL with at most output-only options
    (no libtest tool), one <data> part and nothing that changes how the
    server answers (<servercmd>, <connect>, more data parts, %if). A
    line of the reply that starts with '<' and is not one of those tags
    would be a tag to curl's server (tests/server/getpart.c): such a
    test is left out too."""
    client = section(lines, "client")
    reply = section(lines, "reply")
    if client is None or reply is None:
        return "no client or reply"
    if text(part(client, "server")[1]) != "http":
        return "not the http server alone"
    if part(client, "tool")[0] is not None:
        return "libtest tool"
    if not plain_command(text(part(client, "command")[1]) or ""):
        return "command is not the plain URL"
    tags = set(re.findall(r"^ *</?(\w+)", "".join(reply), re.M))
    if "data" not in tags:
        return "no <data>"
    if tags - {"data", "datacheck"}:
        return "reply has " + ",".join(sorted(tags - {"data", "datacheck"}))
    if any(re.match(r"^ *%(if|else|endif)", ln) for ln in reply):
        return "conditional reply"
    return None


def subst(s, num):
    """runner.pm prepro()'s substitutions that can appear in a reply."""
    s = s.replace("%HOSTIP", HOSTIP).replace("%HTTPPORT", HTTPPORT)
    s = s.replace("%TESTNUMBER", num)
    for k, v in (("%SP", " "), ("%TAB", "\t"), ("%CR", "\r"), ("%LT", "<"),
                 ("%GT", ">"), ("%AMP", "&")):
        s = s.replace(k, v)

    def pct(d):
        return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)),
                      d)
    s = re.sub(r"%hex\[(.*?)\]hex%", lambda m: pct(m.group(1)), s)
    s = re.sub(r"%repeat\[(\d+) x (.*?)\]%",
               lambda m: pct(m.group(2)) * int(m.group(1)), s)
    return s


HTTP_LINE = re.compile(r"^HTTP/(1.1|1.0|2|3) ([1-5]|9)[^\r]*\Z")
HDR_LINE = re.compile(r"^[a-z0-9_-]+: [^\r]*\Z", re.I)


def crlf_headers(lines):
    """testutil.pm subnewlines(0): CRLF on lines that look like a status
    line or a header, and on a blank line right after one."""
    out, prev = [], False
    for ln in lines:
        body = ln[:-1] if ln.endswith("\n") else ln
        if ln.endswith("\n") and (HTTP_LINE.match(body) or
                                  HDR_LINE.match(body)):
            ln = re.sub(r"\r*\n$", "\r\n", ln)
            prev = True
        else:
            if ln == "\n" and prev:
                ln = "\r\n"
            prev = False
        out.append(ln)
    return out


def reply_bytes(lines, num):
    attrs, data = part(section(lines, "reply"), "data")
    crlf = attrs.get("crlf")
    out = []
    for ln in data:
        ln = subst(ln, num)
        if crlf == "yes":
            ln = re.sub(r"\r*\n$", "\r\n", ln)
        out.append(ln)
    if crlf == "headers":
        out = crlf_headers(out)
    raw = "".join(out).encode("latin-1")
    if attrs.get("base64") == "yes":
        raw = base64.b64decode(raw)
    if attrs.get("nonewline") == "yes":
        raw = raw[:-1]
    return raw


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: extract.py CURL_CHECKOUT OUTDIR")
    src = os.path.join(sys.argv[1], "tests", "data")
    outdir = sys.argv[2]
    names = [n for n in os.listdir(src) if re.fullmatch(r"test\d+", n)]
    for name in sorted(names, key=lambda n: int(n[4:])):
        with open(os.path.join(src, name), encoding="latin-1") as f:
            lines = f.readlines()
        why = plain_get(lines)
        if why:
            print("skip %s: %s" % (name, why), file=sys.stderr)
            continue
        raw = reply_bytes(lines, name[4:])
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(raw)
        print("%s %d" % (name, len(raw)))


if __name__ == "__main__":
    main()
