#!/usr/bin/env bash
# Inside the NCS2 container: OpenVINO 2021.4.2's environment, then the command (e.g. fer-edge demo ...).
set -eo pipefail
# shellcheck disable=SC1091 # inside the image only
source /opt/intel/openvino_2021/bin/setupvars.sh -pyver 3.7 >/dev/null
export PATH="/opt/fer-edge/bin:$PATH"
case "${1:-}" in
  *.py) script="$1"; shift; [ -f "$script" ] || script="$(command -v "$script")"; exec python "$script" "$@" ;;
  *) exec "$@" ;;
esac
