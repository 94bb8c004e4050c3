"""t_shards.py - compares a merged sharded run with the unsharded one:

    python3 t_shards.py LABEL FULL MERGED [SHARD...]

FULL and MERGED are JSON Lines result files (MERGED: the shard files
concatenated, any order). Prints a PASS or FAIL line per check, exits 1 if
any failed: MERGED has no index twice; sorted by index, MERGED and FULL
hold the same results (index, input, ip, port, status), exactly; and, if
SHARD files are given, each of them has results."""
import json
import sys

KEY = ("index", "input", "ip", "port", "status")
bad = 0


def load(path):
    with open(path) as f:
        return [tuple(json.loads(line)[k] for k in KEY) for line in f]


def check(ok, what):
    global bad
    print(("PASS: " if ok else "FAIL: ") + what)
    bad += not ok


label, full, merged = sys.argv[1:4]
a = sorted(load(full))
b = sorted(load(merged))
idx = [r[0] for r in b]
check(len(idx) == len(set(idx)), "%s: no index twice" % label)
check(a == b, "%s: merged (%d) = unsharded (%d), exactly"
      % (label, len(b), len(a)))
if a != b:
    for r in sorted(set(a) ^ set(b))[:10]:
        print("    only in %s: %s" % ("unsharded" if r in a else "merged", r))
if sys.argv[4:]:
    sizes = [len(load(p)) for p in sys.argv[4:]]
    check(all(sizes), "%s: every shard has results: %s" % (label, sizes))
sys.exit(1 if bad else 0)
