#!/usr/bin/env bash
# test_scale_examples.sh - the examples of docs/SCALE-OUT.md that run
# without a cluster (the Slurm array has its own test, test_slurm.sh):
#
# 1. examples/seccomp/ringprobe.json, loaded with libseccomp as a container
#    runtime loads it before exec (tests/helpers/t_seccomp.py): tcp (file
#    input, -o, --stats-json, 2 threads, a name from /etc/hosts), http,
#    tls --verify and a DNS lookup all run under it; the same profile
#    without its three io_uring calls makes ringprobe exit 1 with the
#    message that points to docs/SCALE-OUT.md.
# 2. examples/k8s/ringprobe-indexed-job.yaml: it parses, is an Indexed Job
#    whose completions match its --shard $(JOB_COMPLETION_INDEX)/N, uses
#    the seccomp profile, and reads and writes where its volumes are
#    mounted. Then its pods are played here: for each index the container's
#    args as Kubernetes expands them, with the mount paths mapped to
#    directories of ours and -p and the targets file replaced by the test's
#    own; the files merged by cat must equal the unsharded run.
# 3. The GNU parallel line, with the local machine (-S :) for the ssh hosts.
#
# Parts 2 (the pods) and 3 need a ringprobe with --seed/--shard, and say
# SKIP without one. Targets: the test's listeners on 127.0.0.1 and closed
# low ports (1-3) of 127.0.0.0/8.
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = rp_target_server.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

need_tools timeout
need_exec "$RINGPROBE" "$RP_TEST_SERVER"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PROFILE=$SRC/examples/seccomp/ringprobe.json
MANIFEST=$SRC/examples/k8s/ringprobe-indexed-job.yaml
TMP=$(mktemp -d)

# An interpreter with the module $1: PY (maybe a version manager's) or
# Debian's, where python3-seccomp and python3-yaml install.
py_with() {
	local p
	for p in "$PY" /usr/bin/python3; do
		if "$p" -c "import $1" 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

start_server srv 2 --ports 2 --max-seconds 120 || exit 1
SP=("${PORTS[@]}")
start_server web 1 --mode http --max-seconds 120 || exit 1
WP=${PORTS[0]}

# -- 1. the seccomp profile --
# run NAME CMD...: CMD's stdout to NAME.jsonl, stderr to NAME.err, exit
# status in RC, within 30 s.
run() {
	local name=$1
	shift
	timeout 30 "$@" >"$TMP/$name.jsonl" 2>"$TMP/$name.err"
	RC=$?
}

# expect NAME RC N DESC EXPR: passes if the run exited RC and NAME.jsonl
# has N records, r each, for which the python EXPR holds for all.
expect() {
	local name=$1 want=$2 n=$3 desc=$4 expr=$5
	if [ "$RC" -ne "$want" ]; then
		fail "$desc: exit $RC, not $want: $(head -c 300 "$TMP/$name.err")"
		return
	fi
	if "$PY" - "$TMP/$name.jsonl" "$n" "$expr" <<'PY'; then
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
ok = len(rs) == int(sys.argv[2]) and all(eval(sys.argv[3]) for r in rs)
if not ok:
    print("    got: %s" % [dict((k, r.get(k)) for k in ("input", "port", "status", "detail")) for r in rs][:8])
sys.exit(0 if ok else 1)
PY
		pass "$desc"
	else
		fail "$desc"
	fi
}

if ! SPY=$(py_with seccomp); then
	skip "seccomp profile: python3-seccomp is missing (Debian:" \
		"python3-seccomp; .ci/setup installs it)"
else
	under=("$SPY" "$SRC/tests/helpers/t_seccomp.py" "$PROFILE")
	# LeakSanitizer stops the world with ptrace(2) at exit, which the
	# profile refuses, as it should; every other test checks for leaks.
	if [ -n "${RP_SANITIZE:-}" ]; then
		under=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
			"${under[@]}")
	fi
	printf '127.0.0.1\nlocalhost\n' >"$TMP/hosts.txt"
	run tcp "${under[@]}" -- "$RINGPROBE" tcp -q -p "1,${SP[0]},${SP[1]}" \
		-i "$TMP/hosts.txt" --threads 2 -f jsonl -o "$TMP/tcp.out" \
		--stats-json "$TMP/stats.json"
	cp "$TMP/tcp.out" "$TMP/tcp.jsonl" 2>/dev/null
	expect tcp 0 6 "profile: tcp scan, -i, -o, --stats-json, 2 threads" \
		'r["status"] == ("closed" if r["port"] == 1 else "open")'
	if ! "$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' \
		"$TMP/stats.json" 2>/dev/null; then
		fail "profile: --stats-json wrote no JSON"
	fi
	run http "${under[@]}" -- "$RINGPROBE" http -q --path /fixed -p "$WP" \
		-f jsonl 127.0.0.1
	expect http 0 1 "profile: http" \
		'r["http_status"] == 200 and r["title"] == "Fixed Page"'
	run tls "${under[@]}" -- "$RINGPROBE" tls -q --verify -p "${SP[0]}" -f jsonl \
		127.0.0.1
	expect tls 0 1 "profile: tls --verify (OpenSSL loads its CA store)" \
		'r["status"] == "tls-error"'
	# A resolver that never answers: c-ares' UDP socket, then a timeout.
	if start_prog "$PY" dns 1 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
time.sleep(120)'; then
		run dns "${under[@]}" -- "$RINGPROBE" tcp -q -p 1 --dns-retries 0 \
			--resolver "127.0.0.1:${PORTS[0]}" --dns-timeout 200ms \
			-f jsonl name.test
		expect dns 0 1 "profile: a DNS lookup (timed out)" \
			'r["status"] == "dns-error" and r["detail"] == "timeout"'
	fi
	run no_uring "${under[@]}" --drop io_uring_setup --drop io_uring_enter \
		--drop io_uring_register -- "$RINGPROBE" tcp -p 1 127.0.0.1
	if [ "$RC" -eq 1 ] && [ ! -s "$TMP/no_uring.jsonl" ] &&
		grep -q "io_uring is not permitted" "$TMP/no_uring.err" &&
		grep -q "docs/SCALE-OUT.md" "$TMP/no_uring.err"; then
		pass "profile without io_uring: exit 1, the message names" \
			"io_uring and docs/SCALE-OUT.md"
	else
		fail "profile without io_uring: exit $RC:" \
			"$(head -c 300 "$TMP/no_uring.err")"
	fi
fi

# -- 2. the Kubernetes manifest --
HOSTS=$TMP/targets.txt
{
	for ((h = 1; h <= 40; h++)); do echo "127.0.0.$h"; done
	echo "127.9.0.0/29"
} >"$HOSTS"
PLIST="1,2,3,${SP[0]},${SP[1]}"
SHARD_OK=0
timeout 10 "$RINGPROBE" tcp -q --seed 1 --shard 0/2 -p 1 127.0.0.1 \
	-f jsonl >/dev/null 2>&1 && SHARD_OK=1
timeout 60 "$RINGPROBE" tcp -q -p "$PLIST" -i "$HOSTS" -f jsonl \
	-o "$TMP/full.jsonl" 2>"$TMP/full.err" ||
	fail "unsharded run: $(head -c 300 "$TMP/full.err")"

if ! YPY=$(py_with yaml); then
	skip "Kubernetes manifest: python3-yaml is missing (.ci/setup" \
		"installs it)"
else
	# Checks the manifest; writes the expanded args of pod I to
	# TMP/k8s/pod-I (one per line) with mount paths under TMP/k8s.
	mkdir -p "$TMP/k8s"
	"$YPY" - "$MANIFEST" "$TMP/k8s" "$PLIST" "$HOSTS" <<'PY' ||
import os, re, sys, yaml
path, root, plist, hosts = sys.argv[1:5]
docs = {d["kind"]: d for d in yaml.safe_load_all(open(path))}
bad = 0
def check(ok, what):
    global bad
    print(("PASS: " if ok else "FAIL: ") + "manifest: " + what)
    bad += not ok
job = docs["Job"]["spec"]
pod = job["template"]["spec"]
c = pod["containers"][0]
env = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
args = c["args"]
n = job["completions"]
check(job.get("completionMode") == "Indexed", "an Indexed Job")
check(pod.get("restartPolicy") == "Never", "restartPolicy Never")
check(1 <= job.get("parallelism", 1) <= n, "parallelism within completions")
sp = pod.get("securityContext", {}).get("seccompProfile", {})
check(sp.get("type") == "Localhost" and
      os.path.basename(sp.get("localhostProfile", "")) == "ringprobe.json",
      "seccompProfile Localhost profiles/ringprobe.json")
def expand(s, i):
    vals = dict(env, JOB_COMPLETION_INDEX=str(i))
    return re.sub(r"\$\((\w+)\)", lambda m: vals.get(m.group(1), "?UNSET?"), s)
ok = "--shard" in args and "--seed" in args
shard = args[args.index("--shard") + 1] if ok else ""
check(ok and [expand(shard, i) for i in range(n)] ==
      ["%d/%d" % (i, n) for i in range(n)],
      "--shard is $(JOB_COMPLETION_INDEX)/N with N = completions = %d" % n)
check(not any("?UNSET?" in expand(a, 0) for a in args),
      "every $(VAR) in args is defined")
mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
vols = {v["name"]: v for v in pod["volumes"]}
inp = args[args.index("-i") + 1]
out = args[args.index("-o") + 1]
im = [m for m in mounts if inp.startswith(m + "/")]
om = [m for m in mounts if out.startswith(m + "/")]
cm = vols[mounts[im[0]]].get("configMap", {}).get("name") if im else None
check(bool(im) and cm == docs["ConfigMap"]["metadata"]["name"] and
      os.path.basename(inp) in docs["ConfigMap"]["data"],
      "-i reads a file of the ConfigMap")
check(bool(om) and len({expand(out, i) for i in range(n)}) == n,
      "-o is a file per index on a volume")
check(args[args.index("-f") + 1] == "jsonl", "-f jsonl")
# The pods, played here: mount paths under root, the test's ports and
# targets (the manifest's are documentation addresses, never scanned).
for m in mounts:
    os.makedirs(root + m, exist_ok=True)
for i in range(n):
    a = [expand(x, i) for x in args]
    a[a.index("-p") + 1] = plist
    a[a.index("-i") + 1] = hosts
    a[a.index("-o") + 1] = root + a[a.index("-o") + 1]
    with open(os.path.join(root, "pod-%d" % i), "w") as f:
        f.write("\n".join(a) + "\n")
sys.exit(1 if bad else 0)
PY
		FAILS=$((FAILS + 1))
	if [ "$SHARD_OK" -eq 0 ]; then
		skip "Kubernetes pods: this ringprobe has no --seed/--shard"
	else
		pods=("$TMP"/k8s/pod-*)
		for p in "${pods[@]}"; do
			mapfile -t a <"$p"
			timeout 60 "$RINGPROBE" "${a[@]}" 2>>"$TMP/k8s.err" ||
				fail "pod ${p##*-}: $(head -c 300 "$TMP/k8s.err")"
		done
		outs=("$TMP"/k8s/results/*.jsonl)
		cat "${outs[@]}" >"$TMP/k8s.merged" 2>/dev/null
		if [ "${#outs[@]}" -ne "${#pods[@]}" ]; then
			fail "Kubernetes pods: ${#outs[@]} result files for" \
				"${#pods[@]} pods"
		fi
		"$PY" "$T_HELPERS/t_shards.py" "Kubernetes pods" \
			"$TMP/full.jsonl" "$TMP/k8s.merged" "${outs[@]}" ||
			FAILS=$((FAILS + 1))
	fi
fi

# -- 3. GNU parallel, the doc's line with -S : for the ssh hosts --
if ! command -v parallel >/dev/null; then
	skip "GNU parallel line: parallel is missing (.ci/setup installs it)"
elif [ "$SHARD_OK" -eq 0 ]; then
	skip "GNU parallel line: this ringprobe has no --seed/--shard"
else
	(cd "$TMP" && timeout 120 parallel -S : --jobs 1 \
		--basefile targets.txt \
		"$RINGPROBE" tcp --seed 42 --shard {}/4 -p "$PLIST" \
		-i targets.txt -f jsonl -q ::: 0 1 2 3 \
		>"$TMP/parallel.jsonl" 2>"$TMP/parallel.err")
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "GNU parallel line: exit $rc: $(head -c 300 "$TMP/parallel.err")"
	else
		"$PY" "$T_HELPERS/t_shards.py" "GNU parallel" "$TMP/full.jsonl" \
			"$TMP/parallel.jsonl" || FAILS=$((FAILS + 1))
	fi
fi

[ "$FAILS" -eq 0 ]
