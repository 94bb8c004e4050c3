#!/bin/bash
# ringprobe-merge.sh - merges the shard files of ringprobe-array.sbatch:
# checks that all N are there and complete, then concatenates them into
# DIR/merged.jsonl (each line carries its global "index"; sort by it if
# the order matters: jq -s 'sort_by(.index)[]'). See docs/SCALE-OUT.md.
#
#   ringprobe-merge.sh DIR N
#   sbatch --dependency=afterok:JOBID ringprobe-merge.sh DIR N
#
# Exits 1, naming them, if shards are missing or incomplete (a task that
# failed leaves shard-I-of-N.jsonl.part): rerun those tasks with
# sbatch --array=I,J ... and merge again.
#
#SBATCH --job-name=ringprobe-merge
#SBATCH --output=ringprobe-merge-%j.log
set -euo pipefail

if [ "$#" -ne 2 ] || ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: ringprobe-merge.sh DIR N" >&2
	exit 2
fi
dir=$1
n=$2
files=()
missing=()
for ((i = 0; i < n; i++)); do
	f=$dir/shard-$i-of-$n.jsonl
	if [ -f "$f" ]; then
		files+=("$f")
	else
		missing+=("$i")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "ringprobe-merge: shard(s) ${missing[*]} of $n missing or" \
		"incomplete in $dir" >&2
	exit 1
fi
cat "${files[@]}" >"$dir/merged.jsonl.part"
mv "$dir/merged.jsonl.part" "$dir/merged.jsonl"
echo "ringprobe-merge: $(wc -l <"$dir/merged.jsonl") results from $n" \
	"shards in $dir/merged.jsonl" >&2
