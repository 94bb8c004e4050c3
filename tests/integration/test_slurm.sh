#!/usr/bin/env bash
# test_slurm.sh - the Slurm job array of docs/SCALE-OUT.md on a real Slurm:
# a one-node cluster (Debian's slurmctld, slurmd and munge) started as root
# from a config in a temporary directory, in a private network namespace of
# the test's own (so its ports, 6817 and 6818 there, and every target are
# the test's: only loopback exists). It submits
# examples/slurm/ringprobe-array.sbatch as documented (4 tasks, --shard
# $SLURM_ARRAY_TASK_ID/4), merges with examples/slurm/ringprobe-merge.sh as
# a dependent job, and compares the merged result with the unsharded run,
# exactly (index, input, ip, port, status; each index once). Targets: 64
# loopback addresses x 8 ports, 3 of them the test's own listeners on
# 127.0.0.1 (open), the rest closed.
#
# A CLI without --shard (older builds) gets a SKIP line for the shard
# comparison, and the same script runs as a one-task array (a plain run),
# so the cluster is still exercised end to end.
#
# Environment: RINGPROBE = the CLI, RP_TEST_SERVER = rp_target_server.
# Exits 77 (skip) without root or without slurm/munge installed. Every wait
# is bounded; on failure the daemons' logs are printed. The outer run keeps
# the temporary directory and, when the inner one is done, stops by PID
# any process still in the test's namespace, then removes the directory.
set -u

: "${RINGPROBE:?RINGPROBE must point at the ringprobe CLI}"
: "${RP_TEST_SERVER:?RP_TEST_SERVER must point at rp_target_server}"

# shellcheck source=../helpers/t_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/t_lib.sh"

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ARRAY=$SRC/examples/slurm/ringprobe-array.sbatch
MERGE=$SRC/examples/slurm/ringprobe-merge.sh
SHARDS=4

# ---- outside: prerequisites, the namespace, the last-resort sweep ------
if [ "${1:-}" != --in-netns ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: a Slurm cluster needs root (slurmd, SlurmUser=root)"
		exit 77
	fi
	for t in slurmctld slurmd sbatch squeue sinfo scontrol scancel \
		munged mungekey; do
		if ! command -v "$t" >/dev/null; then
			echo "SKIP: $t is missing (Debian: slurmctld slurmd" \
				"slurm-client munge; .ci/setup installs them)"
			exit 77
		fi
	done
	need_tools unshare ip timeout
	need_exec "$RINGPROBE" "$RP_TEST_SERVER"
	TMP=$(mktemp -d)
	timeout -k 5 240 unshare -n bash "${BASH_SOURCE[0]}" --in-netns \
		"$TMP"
	rc=$?
	# Whatever is still in our namespace (a daemon or job the inner run
	# could not stop) was started by this test: stop it by PID.
	ns=$(cat "$TMP/netns" 2>/dev/null)
	if [ -n "$ns" ]; then
		mapfile -t left < <("$PY" - "$ns" <<'PY'
import os, sys
for p in os.listdir("/proc"):
    try:
        if p.isdigit() and os.readlink("/proc/%s/ns/net" % p) == sys.argv[1]:
            print(p)
    except OSError:
        pass
PY
)
		if [ "${#left[@]}" -gt 0 ]; then
			echo "FAIL: left running in the namespace: ${left[*]}"
			kill -KILL "${left[@]}" 2>/dev/null
			rc=1
		fi
	fi
	[ "$rc" -eq 124 ] && echo "FAIL: timed out after 240 s"
	exit "$rc"
fi

# ---- inside the namespace ----------------------------------------------
TOP=$2
TMP=$TOP/run # t_lib's trap removes it; the outer run removes TOP
mkdir -p "$TMP"
readlink /proc/self/ns/net >"$TOP/netns"
# Slurm resolves with AI_ADDRCONFIG, which finds no IPv4 address while
# 127.0.0.1 is the only one: give lo a second loopback address.
if ! ip link set lo up || ! ip addr add 127.0.0.2/32 dev lo; then
	echo "FAIL: could not set up lo in the namespace"
	exit 1
fi

# The temporary directories must be searchable by all, for munged.
chmod 755 "$TOP" "$TMP"
mkdir -p "$TMP/munge" "$TMP/state" "$TMP/spool" "$TMP/submit" "$TMP/out"
chmod 755 "$TMP/munge"
export SLURM_CONF=$TMP/slurm.conf
NODE=$(hostname -s)
DAEMONS=()

show_logs() {
	local f
	# (slurmctld.out and slurmd.out repeat the logs, but hold what the
	# daemons said before they could open them.)
	for f in "$TMP"/munged.log "$TMP"/slurmctld.log "$TMP"/slurmd.log \
		"$TMP"/submit/*.log; do
		[ -s "$f" ] || f=${f%.log}.out
		[ -s "$f" ] || continue
		echo "---- $(basename "$f") (last 25 lines)"
		tail -n 25 "$f"
	done
}

# Stops our jobs, then the daemons (slurmd, slurmctld, munged), by PID.
stop_cluster() {
	local p
	[ "${#DAEMONS[@]}" -eq 3 ] && timeout 10 scancel --quiet --user=root
	for ((p = ${#DAEMONS[@]} - 1; p >= 0; p--)); do
		stop_pid "${DAEMONS[p]}"
	done
	DAEMONS=()
}

finish() {
	stop_cluster
	[ "$FAILS" -gt 0 ] && show_logs
	cleanup
}
trap finish EXIT

# die MSG: the cluster could not be set up; logs, cleanup, exit 1.
die() {
	fail "$*"
	exit 1
}

# wait_for DESC SECONDS CMD...: runs CMD every 0.1 s until it succeeds,
# at most SECONDS; returns 1 if it never did.
wait_for() {
	local desc=$1 s=$2 end
	shift 2
	end=$(($(now_ms) + s * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "    gave up after $s s waiting for $desc"
	return 1
}

# wait_job ID SECONDS: polls (5 times a second; sbatch --wait polls every
# few seconds) until job ID has left the queue, at most SECONDS; then
# returns 0 if it COMPLETED. A job whose dependency failed stays pending
# with reason DependencyNeverSatisfied: that returns 1 at once.
wait_job() {
	local id=$1 end q
	end=$(($(now_ms) + $2 * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		q=$(timeout 5 squeue -h -j "$id" -o %r 2>/dev/null) || q=error
		case $q in
		"") break ;;
		*DependencyNeverSatisfied*) return 1 ;;
		esac
		sleep 0.2
	done
	timeout 5 scontrol -o show job "$id" | grep -q "JobState=COMPLETED "
}

# -- munge: a key of our own, its socket in TMP --
mungekey -c -k "$TMP/munge/munge.key" || die "mungekey"
munged -F --socket="$TMP/munge/munge.sock" \
	--key-file="$TMP/munge/munge.key" --pid-file="$TMP/munge/munged.pid" \
	--seed-file="$TMP/munge/munged.seed" \
	--log-file="$TMP/munged.log" >>"$TMP/munged.log" 2>&1 &
DAEMONS+=($!)
munge_ok() {
	munge -n -S "$TMP/munge/munge.sock" | unmunge -S "$TMP/munge/munge.sock"
}
wait_for "munged" 10 munge_ok || die "munged did not start"

# -- slurm: one node, named as this host, 2 CPUs, on loopback --
cat >"$SLURM_CONF" <<CONF
ClusterName=rptest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$TMP/munge/munge.sock
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/slurmctld.log
SlurmdLogFile=$TMP/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=rptest Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
t0=$(now_ms)
slurmctld -D -i -f "$SLURM_CONF" >"$TMP/slurmctld.out" 2>&1 &
DAEMONS+=($!)
wait_for "slurmctld" 20 timeout 5 scontrol ping ||
	die "slurmctld did not answer"
slurmd -D -f "$SLURM_CONF" >"$TMP/slurmd.out" 2>&1 &
DAEMONS+=($!)
node_idle() {
	[ "$(timeout 5 sinfo -h -N -n "$NODE" -o %T)" = idle ]
}
wait_for "node $NODE idle" 30 node_idle || die "node $NODE did not come up"
pass "one-node Slurm cluster up in $(($(now_ms) - t0)) ms"

# -- targets: 64 addresses x 8 ports, 3 of them listening on 127.0.0.1 --
start_server srv 3 --bind 127.0.0.1 --ports 3 || exit 1
PLIST="1,2,3,4,5,${PORTS[0]},${PORTS[1]},${PORTS[2]}"
HOSTS=$TMP/submit/hosts.txt
{
	for ((h = 1; h <= 48; h++)); do echo "127.0.0.$h"; done
	echo "127.9.0.0/28"
} >"$HOSTS"
timeout 60 "$RINGPROBE" tcp -q -p "$PLIST" -i "$HOSTS" -f jsonl \
	-o "$TMP/full.jsonl" 2>"$TMP/full.err"
RC=$?
[ "$RC" -eq 0 ] || die "unsharded run: exit $RC: $(head -c 300 "$TMP/full.err")"

# -- sharded if the CLI can, else one task --
n=$SHARDS
array=()
if timeout 10 "$RINGPROBE" tcp -q --seed 1 --shard 0/2 -p 1 127.0.0.1 \
	-f jsonl >/dev/null 2>&1; then
	sharded=1
else
	sharded=0
	n=1
	array=(--array=0-0)
	skip "shard comparison: this ringprobe has no --seed/--shard; the" \
		"array script runs as one task instead"
fi

cd "$TMP/submit" || die "cd"
t0=$(now_ms)
job=$(RINGPROBE=$RINGPROBE RP_OUT=$TMP/out timeout 10 sbatch --parsable \
	"${array[@]}" "$ARRAY" tcp -q -p "$PLIST" -i "$HOSTS" 2>"$TMP/sbatch.err")
[ -n "$job" ] || die "sbatch: $(head -c 300 "$TMP/sbatch.err")"
merge=$(timeout 10 sbatch --parsable --dependency="afterok:$job" \
	"$MERGE" "$TMP/out" "$n" 2>"$TMP/sbatch.err")
[ -n "$merge" ] || die "sbatch (merge): $(head -c 300 "$TMP/sbatch.err")"
if ! wait_job "$merge" 120; then
	fail "array job $job + merge job $merge did not complete"
	timeout 5 scontrol -o show job "$job" | sed -E 's/^(JobId=[0-9]+).*'\
'(ArrayTaskId=[0-9]+).*(JobState=[A-Z]+).*(ExitCode=[0-9:]+).*/    \1 \2 \3 \4/'
	exit 1
fi
ms=$(($(now_ms) - t0))
pass "array job $job ($n task(s)) and its merge ran in $ms ms"

# -- compare: the targets as planned, then merged = unsharded, exactly --
"$PY" - "$TMP/full.jsonl" <<'PY' || FAILS=$((FAILS + 1))
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
ok = (len(r) == 8 * 64 and sorted(x["index"] for x in r) == list(range(512))
      and sum(x["status"] == "open" for x in r) == 3)
print(("PASS: " if ok else "FAIL: ") +
      "unsharded run: %d results, 3 open, indexes 0..511" % len(r))
sys.exit(0 if ok else 1)
PY
shards=()
[ "$sharded" -eq 1 ] && shards=("$TMP"/out/shard-*-of-"$n".jsonl)
"$PY" "$SRC/tests/helpers/t_shards.py" "Slurm array" "$TMP/full.jsonl" \
	"$TMP/out/merged.jsonl" "${shards[@]}" || FAILS=$((FAILS + 1))
logs=("$TMP"/submit/ringprobe-"$job"_*.log)
if [ "${#logs[@]}" -eq "$n" ]; then
	pass "one log per task ($n)"
else
	fail "task logs: ${logs[*]}"
fi

stop_cluster
[ "$FAILS" -eq 0 ]
