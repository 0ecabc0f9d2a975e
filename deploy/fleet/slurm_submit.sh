#!/usr/bin/env bash
# Submit a device x precision matrix as Slurm array jobs, then one job that merges the results.
#   deploy/fleet/slurm_submit.sh deploy/fleet/matrix.txt fer.tar.gz results [sbatch options...]
# Matrix lines are "DEVICE PRECISION [FEATURE]": lines with a FEATURE run as an array job with
# --constraint=FEATURE (a node feature in slurm.conf, e.g. Feature=ncs2), the others anywhere.
# The merge job (afterany: a failed cell is left out, not fatal) writes OUT/fleet/fleet.html.
# Prints the merge job's id. Paths must be on storage the nodes share.
set -euo pipefail

if [ "$#" -lt 3 ]; then
    echo "usage: $0 MATRIX BUNDLE OUT [sbatch options...]" >&2
    exit 2
fi
matrix=$1
bundle=$2
out=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
fer_edge=${FER_EDGE:-fer-edge}
mkdir -p "$out/logs"
jobs=()
features=$(grep -v '^[[:space:]]*\(#\|$\)' "$matrix" | awk '{print ($3 == "" ? "-" : $3)}' | sort -u)
for feature in $features; do
    part="$out/matrix-$feature.txt"
    grep -v '^[[:space:]]*\(#\|$\)' "$matrix" | awk -v f="$feature" '($3 == "" ? "-" : $3) == f' >"$part"
    n=$(wc -l <"$part")
    constraint=()
    if [ "$feature" != "-" ]; then
        constraint=(--constraint="$feature")
    fi
    id=$(sbatch --parsable "${constraint[@]}" --array="0-$((n - 1))" --output="$out/logs/%A_%a.out" \
        --export=ALL "$@" "$here/slurm_job.sh" "$part" "$bundle" "$out")
    jobs+=("${id%%;*}")
done
deps=$(IFS=:; echo "${jobs[*]}")
sbatch --parsable --dependency="afterany:$deps" --output="$out/logs/merge.out" --export=ALL "$@" \
    --wrap="$fer_edge benchmark merge $out/*/benchmark.json --out $out/fleet --force"
