#!/usr/bin/env bash
# make slurm-check: a real single-node Slurm on localhost runs the fleet matrix as array jobs.
# munged, slurmctld and slurmd are started here with a private configuration (a temporary
# folder: key, sockets, spool, state, logs), inside a network namespace whose only interface is
# loopback and a PID namespace that dies with this script: nothing listens beyond 127.0.0.1 and
# nothing outlives the check. deploy/fleet/slurm_submit.sh submits a 2-cell matrix (one cell
# with --constraint) on a tiny test bundle, the merge job waits for both, and the check reads
# the merged fleet.json. Needs Debian's slurm-wlm and munge (apt-get install slurm-wlm munge).
#
#   sudo deploy/checks/slurm_check.sh [--python PYTHON_WITH_FER_EDGE] [--keep DIR]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=python3
KEEP=""
while [ "$#" -gt 0 ]; do
    case $1 in
        --python) PY=$2; shift 2 ;;
        --keep) KEEP=$2; shift 2 ;;
        *) echo "usage: $0 [--python PY] [--keep DIR]" >&2; exit 2 ;;
    esac
done
for tool in munged slurmctld slurmd sbatch squeue unshare; do
    command -v "$tool" >/dev/null || { echo "slurm-check: $tool missing: apt-get install -y slurm-wlm munge" >&2; exit 2; }
done
PY=$(command -v "$PY")

[ "$(id -u)" = 0 ] || { echo "slurm-check: run as root (slurmd drops groups; sudo make slurm-check)" >&2; exit 2; }
if [ -z "${FER_EDGE_SLURM_INSIDE:-}" ]; then  # re-run inside loopback-only network + PID namespaces
    export FER_EDGE_SLURM_INSIDE=1
    # A private address on lo, reachable only inside the namespace: Slurm's
    # listeners resolve with AI_ADDRCONFIG, which finds nothing when loopback is all there is.
    up='ip link set lo up && ip addr add 10.254.254.1/32 dev lo'
    exec unshare -n --pid --mount-proc --kill-child -- sh -c "$up"' && exec "$@"' sh \
        bash "$0" --python "$PY" ${KEEP:+--keep "$KEEP"}
fi

say() { printf 'slurm-check: %s\n' "$*"; }
root=$(mktemp -d /tmp/fer-edge-slurm.XXXXXX)
chmod 700 "$root"
cleanup() {
    # Stop the daemons and wait for them (slurmctld saves its state on the way out); the PID
    # namespace kills whatever is left when this script, its init, ends.
    pids=$(cat "$root"/*.pid 2>/dev/null || true)
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    for _ in $(seq 100); do
        alive=0
        for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    if [ -n "$KEEP" ]; then mkdir -p "$KEEP" && cp -r "$root/out" "$KEEP/" 2>/dev/null || true; fi
    [ -n "${FER_EDGE_SLURM_DEBUG:-}" ] || rm -rf "$root"
}
trap cleanup EXIT
host=$(hostname -s)
mkdir -p "$root/state" "$root/spool" "$root/out"
head -c 1024 /dev/urandom >"$root/munge.key"
chmod 400 "$root/munge.key"
munged --force --key-file="$root/munge.key" --socket="$root/munge.sock" --pid-file="$root/munged.pid" \
    --log-file="$root/munged.log" --seed-file="$root/munged.seed"
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cpus=$(nproc)
cat >"$root/slurm.conf" <<CONF
ClusterName=ferlocal
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/munge
AuthInfo=socket=$root/munge.sock
CredType=cred/munge
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
StateSaveLocation=$root/state
SlurmdSpoolDir=$root/spool
SlurmctldPidFile=$root/slurmctld.pid
SlurmdPidFile=$root/slurmd.pid
SlurmctldLogFile=$root/slurmctld.log
SlurmdLogFile=$root/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Feature=cpu,avx512 State=UNKNOWN
PartitionName=check Nodes=$host Default=YES MaxTime=30 State=UP
CONF
export SLURM_CONF="$root/slurm.conf"
slurmctld -i
slurmd -N "$host"
for _ in $(seq 60); do
    timeout 5 sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed)' && break
    kill -0 "$(cat "$root/slurmctld.pid" 2>/dev/null || echo 0)" 2>/dev/null || break
    sleep 1
done
sinfo -h -o %T | grep -qE '^(idle|mixed)' || { say "node never became idle"; tail -n 20 "$root"/slurm*.log >&2; exit 1; }
say "slurm up on $host (127.0.0.1): $(sinfo -h -o '%N %c CPUs, features %f')"

(cd "$REPO" && "$PY" - "$root/bundle") <<'PYEOF'
import sys
from pathlib import Path
sys.path.insert(0, ".")
from tests.support.ovmodels import frame_bundle
frame_bundle(Path(sys.argv[1]))
PYEOF
printf '#!/bin/sh\nPYTHONPATH="%s" exec "%s" -m fer_edge "$@"\n' "$REPO" "$PY" >"$root/fer-edge"
chmod +x "$root/fer-edge"
printf 'CPU FP32\nCPU FP16 avx512\n' >"$root/matrix.txt"
export FER_EDGE="$root/fer-edge" FER_EDGE_ARGS="--iterations 5 --warmup 1 --no-throughput"
merge=$(cd "$REPO" && deploy/fleet/slurm_submit.sh "$root/matrix.txt" "$root/bundle" "$root/out")
say "submitted the matrix; merge job $merge"
for _ in $(seq 300); do
    [ -z "$(squeue -h 2>/dev/null)" ] && break
    sleep 1
done
[ -z "$(squeue -h)" ] || { say "jobs still queued after 300 s:"; squeue >&2; exit 1; }
"$PY" - "$root/out/fleet/fleet.json" <<'PYEOF' || { tail -n 30 "$root"/out/logs/* >&2; exit 1; }
import json, sys
fleet = json.load(open(sys.argv[1]))
columns = [c["name"] for c in fleet["columns"]]
precisions = sorted(r["precision"] for r in fleet["rows"])
assert len(columns) == 1 and precisions == ["FP16", "FP32"], (columns, precisions)
assert all(c is not None for r in fleet["rows"] for c in r["cells"].values()), fleet["rows"]
print(f"slurm-check: ok: {columns[0]}: " + ", ".join(
    f"{r['precision']} {next(iter(r['cells'].values()))['p50_ms']:.3f} ms" for r in fleet["rows"]))
PYEOF
