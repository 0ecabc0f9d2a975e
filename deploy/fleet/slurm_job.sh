#!/usr/bin/env bash
# One cell of a device x precision matrix as a task of a Slurm array job (see slurm_submit.sh).
# Arguments: MATRIX BUNDLE OUT. Line $SLURM_ARRAY_TASK_ID (0-based, comments and blank lines
# not counted) of MATRIX is "DEVICE PRECISION [FEATURE]"; the result goes to
#   OUT/<host>-<DEVICE>-<PRECISION>-<job>_<task>/benchmark.{json,md,html}
# Environment: FER_EDGE, FER_EDGE_LABEL, FER_EDGE_SOURCE, FER_EDGE_ARGS as in pbs_job.sh.
#SBATCH --job-name=fer-edge-benchmark
#SBATCH --ntasks=1
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: sbatch --array=0-N $0 MATRIX BUNDLE OUT" >&2
    exit 2
fi
matrix=$1
bundle=$2
out=$3
task=${SLURM_ARRAY_TASK_ID:?"not an array task: submit with sbatch --array (or use slurm_submit.sh)"}
line=$(grep -v '^[[:space:]]*\(#\|$\)' "$matrix" | sed -n "$((task + 1))p")
if [ -z "$line" ]; then
    echo "$matrix has no line $task (array index out of range)" >&2
    exit 2
fi
read -r device precision _feature <<<"$line"
fer_edge=${FER_EDGE:-fer-edge}
host=$(hostname -s 2>/dev/null || hostname)
label=${FER_EDGE_LABEL:-$host}
safe_label=$(printf '%s' "$label" | tr -c 'A-Za-z0-9._-' '_')
result="$out/$safe_label-$device-$precision-${SLURM_ARRAY_JOB_ID:-$$}_$task"

work=$(mktemp -d "${TMPDIR:-/tmp}/fer-edge-slurm.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -f "$bundle" ]; then  # an archive: unpack on the node, every file checked against SHA256SUMS
    "$fer_edge" -q bundle unpack "$bundle" --out "$work/bundle"
    bundle="$work/bundle"
fi
mkdir -p "$out"
# shellcheck disable=SC2086  # FER_EDGE_ARGS is a list of options, split on purpose
"$fer_edge" benchmark "$bundle" --device "$device" --precision "$precision" --label "$label" \
    --source "${FER_EDGE_SOURCE:-none}" --baseline none --out "$result" ${FER_EDGE_ARGS:-}
echo "result: $result/benchmark.json"
