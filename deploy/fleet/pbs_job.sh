#!/usr/bin/env bash
# One fer-edge benchmark as a PBS job, the way Intel DevCloud for the Edge ran them:
#   qsub -l nodes=1:intel-ncs2 -F "MYRIAD FP16 fer.tar.gz results" deploy/fleet/pbs_job.sh
# Arguments: DEVICE PRECISION BUNDLE OUT. BUNDLE is a bundle folder or a `fer-edge bundle pack`
# archive (checked against its SHA256SUMS when unpacked). Paths are relative to the folder qsub
# ran in ($PBS_O_WORKDIR, shared with the nodes). Each job writes one result:
#   OUT/<host>-<DEVICE>-<PRECISION>-<job id>/benchmark.{json,md,html}
# then `fer-edge benchmark merge OUT/*/benchmark.json --out fleet` makes the fleet report.
# Environment: FER_EDGE (the fer-edge command, default fer-edge), FER_EDGE_LABEL (the column
# name, default the host name), FER_EDGE_SOURCE (a video for the end-to-end rows, default none),
# FER_EDGE_ARGS (more benchmark options, e.g. "--iterations 500").
#PBS -N fer-edge-benchmark
#PBS -l walltime=00:30:00
set -euo pipefail

if [ "$#" -ne 4 ]; then
    echo "usage: qsub -l nodes=1:PROPERTY -F \"DEVICE PRECISION BUNDLE OUT\" $0" >&2
    exit 2
fi
device=$1
precision=$2
bundle=$3
out=$4
if [ -z "${PBS_O_WORKDIR:-}" ]; then
    echo "PBS_O_WORKDIR is not set: submit this script with qsub (or set it to the shared folder)" >&2
    exit 2
fi
cd "$PBS_O_WORKDIR"
fer_edge=${FER_EDGE:-fer-edge}
host=$(hostname -s 2>/dev/null || hostname)
label=${FER_EDGE_LABEL:-$host}
job=${PBS_JOBID:-$$}
job=${job%%.*}  # 1234.server -> 1234
safe_label=$(printf '%s' "$label" | tr -c 'A-Za-z0-9._-' '_')
result="$out/$safe_label-$device-$precision-$job"

work=$(mktemp -d "${TMPDIR:-/tmp}/fer-edge-pbs.XXXXXX")
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
