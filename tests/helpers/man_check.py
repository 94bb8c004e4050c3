"""man_check.py - checks that the man pages name what they must.

  man_check.py cli PAGE.1 HELP.txt CSV_HEADERS.txt HEADER.h
      every subcommand of the usage (a tag in COMMANDS), every option of
      the --help texts (a tag in OPTIONS), every status of RP_STATUS_MAP
      (a tag in STATUS), every column of the CSV header rows (a tag in
      OUTPUT), every exit code and signal of --help (tags in EXIT STATUS,
      SIGNALS) is documented in ringprobe(1).
  man_check.py lib PAGE.3 TEXT.txt HEADER.h VERSION.h
      every function of the header (in SYNOPSIS and described outside it),
      every type, struct field, enumerator and macro is named in
      libringprobe(3); TEXT.txt is the page rendered as plain text.
  man_check.py example PAGE.3
      prints the C program of the page's EXAMPLES (the .EX block with a
      main()), roff escapes undone.

Tags are the lines after .TP in the roff source, turned into text. Prints
PASS/FAIL lines; exits 1 if a check failed.
"""
import re
import sys

ESCAPES = [(r"\(aq", "'"), (r"\(dq", '"'), (r"\(lq", '"'), (r"\(rq", '"'),
           (r"\(em", "--"), (r"\-", "-"), (r"\&", ""), (r"\c", ""),
           (r"\%", ""), (r"\ ", " ")]
ALTERNATING = {"BR", "BI", "IR", "RB", "RI", "IB"}
fails = 0


def check(ok, what, missing=()):
    global fails
    if ok:
        print(f"PASS: {what}")
    else:
        fails += 1
        print(f"FAIL: {what}: missing {', '.join(sorted(missing))}")


def unescape(s):
    s = re.sub(r"\\f(\[[A-Z]*\]|[A-Z])", "", s)
    for a, b in ESCAPES:
        s = s.replace(a, b)
    return s.replace("\\e", "\\")


def roff_args(s):
    """A macro line's arguments: blank-separated, "..." quoted."""
    return [a[1:-1].replace('""', '"') if a.startswith('"') else a
            for a in re.findall(r'"(?:[^"]|"")*"|\S+', s)]


def to_text(line):
    if not line.startswith("."):
        return unescape(line)
    macro, _, rest = line[1:].partition(" ")
    args = roff_args(rest)
    return unescape(("" if macro in ALTERNATING else " ").join(args))


def sections(src):
    """{section name: [source lines]} of a roff page."""
    out, cur = {}, None
    for line in src.splitlines():
        if line.startswith(".SH "):
            cur = to_text(line).strip()
            out[cur] = []
        elif cur and not line.startswith('.\\"'):
            out[cur].append(line)
    return out


def tags(lines):
    return [to_text(lines[i + 1]) for i, l in enumerate(lines[:-1])
            if l.startswith(".TP")]


def words(texts, pattern):
    return {m for t in texts for m in re.findall(pattern, t)}


OPT = r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)"


def status_names(header):
    m = re.search(r"#define RP_STATUS_MAP\(X\)(.*?)\n\s*\n", header, re.S)
    return re.findall(r'X\((\w+),\s*"([^"]+)"\)', m.group(1)) if m else []


def need(have, want, what):
    missing = set(want) - set(have)
    check(want and not missing, f"{what} ({len(want)})", missing or {"all"})


def cli(page, help_txt, csv_txt, header):
    sec = sections(open(page).read())
    helps = open(help_txt).read()
    subs = set(re.findall(r"ringprobe (\w+) \[options\]", helps))
    need(words(tags(sec.get("COMMANDS", [])), r"\w+"), subs,
         "every subcommand of the usage is a tag in COMMANDS")
    opts = words(helps.splitlines(), OPT)
    need(words(tags(sec.get("OPTIONS", [])), OPT), opts,
         "every option of --help is a tag in OPTIONS")
    st = {s for _, s in status_names(open(header).read())}
    need(words(tags(sec.get("STATUS", [])), r"[\w-]+"), st,
         "every status is a tag in STATUS")
    fields = {f for row in open(csv_txt).read().split() for f in row.split(",")}
    need(words(tags(sec.get("OUTPUT", [])), r"\w+"), fields,
         "every output field is a tag in OUTPUT")
    m = re.search(r"Exit: ([^.]*)\.", helps)
    codes = set(re.findall(r"\b\d+\b", m.group(1))) if m else set()
    need(words(tags(sec.get("EXIT STATUS", [])), r"\d+"), codes,
         "every exit code of --help is a tag in EXIT STATUS")
    need(words(tags(sec.get("SIGNALS", [])), r"SIG[A-Z0-9]+"),
         set(re.findall(r"SIG[A-Z0-9]+", helps)) | {"SIGINT", "SIGTERM"},
         "every signal is a tag in SIGNALS")


def lib(page, text_file, header_file, version_file):
    src = open(page).read()
    syn = " ".join(to_text(l) for l in sections(src).get("SYNOPSIS", []))
    text = open(text_file).read()
    rest = text.split("DESCRIPTION", 1)[-1]
    header = open(header_file).read()
    code = re.sub(r"/\*.*?\*/", "", header + open(version_file).read(),
                  flags=re.S)

    def named(hay, w):
        return re.search(rf"(?<![\w]){re.escape(w)}(?![\w])", hay)

    funcs = re.findall(r"RP_API[^;]*?\b(rp_\w+)\s*\(", code)
    need([f for f in funcs if named(syn, f)], funcs,
         "every function is in SYNOPSIS")
    need([f for f in funcs if named(rest, f + "()")], funcs,
         "every function is described after SYNOPSIS")
    types = set(re.findall(r"\b(?:struct|enum) (rp_\w+)", code))
    types |= set(re.findall(r"typedef[^;]*\(\*(rp_\w+)\)", code))
    need([t for t in types if named(text, t)], types, "every type is named")
    fields = set()
    for _, body in re.findall(r"struct (rp_\w+)\s*\{(.*?)\};", code, re.S):
        fields |= set(re.findall(r"(\w+)(?:\[[^\]]*\])?\s*;", body))
    need([f for f in fields if named(text, f)], fields,
         "every struct field is named")
    consts = set(re.findall(r"#define (RP_\w+)", code))
    for body in re.findall(r"enum\s*\w*\s*\{(.*?)\};", code, re.S):
        consts |= set(re.findall(r"\b(RP_[A-Z0-9_]+)\b", body))
    consts |= {"RP_STATUS_" + n for n, _ in status_names(header)}
    consts = {c for c in consts if not c.endswith("_")}  # RP_STATUS_##name
    consts -= {"RP_API", "RP_STATUS_ENUM"}  # not API: helpers of the header
    need([c for c in consts if named(text, c)], consts,
         "every constant, enumerator and macro is named")


def example(page):
    blocks = re.findall(r"^\.EX\n(.*?)^\.EE\n", open(page).read(), re.S | re.M)
    for b in blocks:
        if "int main" in b:
            print("\n".join(unescape(l) for l in b.splitlines()))
            return
    sys.exit("no example with main() in " + page)


if __name__ == "__main__":
    {"cli": cli, "lib": lib, "example": example}[sys.argv[1]](*sys.argv[2:])
    sys.exit(1 if fails else 0)
