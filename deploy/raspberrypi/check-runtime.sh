#!/usr/bin/env bash
# Which OpenVINO runtime / device combinations does this machine have?
# Runs check_runtime.py in every environment the kits create (and the system Python).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHECK="$HERE/check_runtime.py"
MAIN="${FER_EDGE_PREFIX:-$HOME/fer-edge-runtime}/.venv/bin/python"
NCS2="${FER_EDGE_NCS2_PREFIX:-$HOME/fer-edge-ncs2}/run.sh"
status=1

if command -v lsusb >/dev/null && lsusb -d 03e7: >/dev/null 2>&1; then
  echo "USB: an Intel Movidius device (Neural Compute Stick) is plugged in"
fi
for env in "$MAIN" "$NCS2"; do
  if [ -x "$env" ]; then
    echo "== $env"
    if "$env" "$CHECK"; then
      status=0
    fi
    echo
  fi
done
if [ "$status" != 0 ] && command -v python3 >/dev/null; then
  echo "== system python3"
  "$(command -v python3)" "$CHECK" && status=0
fi
exit "$status"
