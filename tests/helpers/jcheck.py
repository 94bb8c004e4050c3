"""jcheck.py - the JSON Lines checker of the bash integration tests.

  python3 jcheck.py PRELUDE FILE N EXPR...

FILE must hold exactly N lines, each a JSON object in strict UTF-8 with
every key of KEYS; then each EXPR (python) must be true. PRELUDE is a
python file of the test's own, run first with `fname` = FILE: what it
defines is there for the EXPRs, and it may set KEYS (the keys every record
needs) and UNIQUE_INDEX (no "index" twice, unless the environment has
JCHECK_SAME_INDEX_OK). In EXPR, R is the list of records, r the first one
and by the records by their "input". Prints what failed; exit 1 if
anything did.
"""
import json
import os
import sys

prelude, fname, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ns = {"fname": fname, "json": json, "os": os}
with open(prelude) as f:
    exec(f.read(), ns)
keys = ns.get("KEYS", [])

bad, R = [], []
with open(fname, "rb") as f:
    raw = f.read()
lines = raw.split(b"\n")
if raw.endswith(b"\n"):
    lines.pop()
for i, line in enumerate(lines, 1):
    try:
        rec = json.loads(line.decode("utf-8", "strict"))
    except ValueError as e:
        bad.append(f"line {i}: not JSON ({e}): {line[:100]!r}")
        continue
    missing = [k for k in keys if k not in rec]
    if missing:
        bad.append(f"line {i}: missing keys {missing}")
    R.append(rec)
if len(R) != n:
    bad.append(f"{len(R)} records, expected {n}")
if ns.get("UNIQUE_INDEX") and not os.environ.get("JCHECK_SAME_INDEX_OK"):
    idx = [x.get("index") for x in R]
    if len(set(idx)) != len(idx):
        bad.append(f"{len(idx) - len(set(idx))} duplicate indexes")
by = {}
for x in R:
    by.setdefault(x.get("input"), []).append(x)
ns.update(R=R, r=R[0] if R else {}, by=by)
if not bad:
    for e in sys.argv[4:]:
        try:
            ok = eval(e, ns)
        except Exception as ex:
            ok, e = False, f"{e} raised {ex!r}"
        if not ok:
            bad.append(f"not true: {e}")
for b in bad[:10]:
    print("   ", b)
if bad and R:
    print("    first record:", json.dumps(R[0])[:700])
sys.exit(1 if bad else 0)
