#!/usr/bin/env bash
# Install the fer-edge runtime (no training extras) on 64-bit Raspberry Pi OS Bookworm.
#
# Current OpenVINO wheels for aarch64 carry the ARM CPU plugin and need glibc >= 2.35
# (manylinux_2_35_aarch64); Bookworm has 2.36, Bullseye (2.31) is too old. No GPU/NPU plugin
# exists for the Pi: inference runs on the Cortex-A72/A76 cores.
#
#   ./install.sh                      # fer-edge from PyPI into ~/fer-edge/.venv
#   ./install.sh --from /path/to/fer-edge-checkout-or-wheel
#   ./install.sh --service            # also install and enable the fer-edge-demo systemd unit
set -euo pipefail

PREFIX="${FER_EDGE_PREFIX:-$HOME/fer-edge}"
FROM="fer-edge"
SERVICE=0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

while [ $# -gt 0 ]; do
  case "$1" in
    --from) FROM="$2"; shift 2 ;;
    --prefix) PREFIX="$2"; shift 2 ;;
    --service) SERVICE=1; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

arch="$(uname -m)"
if [ "$arch" != "aarch64" ]; then
  echo "install.sh: this is $arch; the Pi kit needs 64-bit Raspberry Pi OS (aarch64)." >&2
  echo "  On a 32-bit OS (armv7l) current OpenVINO has no wheels: re-flash the 64-bit image." >&2
  exit 1
fi

glibc="$(ldd --version 2>/dev/null | head -n1 | grep -oE '[0-9]+\.[0-9]+$' || true)"
if [ -z "$glibc" ] || [ "$(printf '%s\n2.35\n' "$glibc" | sort -V | head -n1)" != "2.35" ]; then
  echo "install.sh: glibc ${glibc:-unknown} < 2.35: current OpenVINO aarch64 wheels will not install." >&2
  echo "  Upgrade to Raspberry Pi OS Bookworm (64-bit), or use the NCS2 kit (install-ncs2.sh)." >&2
  exit 1
fi

python="$(command -v python3 || true)"
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "install.sh: fer-edge needs Python >= 3.10 (Bookworm ships 3.11): sudo apt install python3" >&2
  exit 1
fi

echo "== system packages (venv, camera tools, OpenCV runtime libraries)"
sudo apt-get update
sudo apt-get install -y python3-venv python3-pip libgl1 libglib2.0-0 v4l-utils
# rpicam-apps streams the CSI camera module into the demo (USB webcams work without it).
sudo apt-get install -y rpicam-apps || echo "rpicam-apps not available: USB cameras only"

echo "== virtual environment in $PREFIX/.venv"
mkdir -p "$PREFIX"
"$python" -m venv "$PREFIX/.venv"
"$PREFIX/.venv/bin/python" -m pip install --upgrade pip
# The base package only: numpy, OpenCV headless, OpenVINO, h5py, PyYAML, tqdm. No TensorFlow.
"$PREFIX/.venv/bin/python" -m pip install "$FROM"

install -m 0755 "$HERE/camera-demo.sh" "$PREFIX/camera-demo.sh"
install -m 0644 "$HERE/check_runtime.py" "$PREFIX/check_runtime.py"

echo "== check"
"$PREFIX/.venv/bin/python" "$PREFIX/check_runtime.py" || true
"$PREFIX/.venv/bin/fer-edge" --version

if [ "$SERVICE" = 1 ]; then
  echo "== systemd unit fer-edge-demo.service (runs as $USER)"
  sed -e "s|@USER@|$USER|g" -e "s|@PREFIX@|$PREFIX|g" "$HERE/fer-edge-demo.service" \
    | sudo tee /etc/systemd/system/fer-edge-demo.service >/dev/null
  if [ ! -f /etc/default/fer-edge-demo ]; then
    printf '%s\n' "# Settings of fer-edge-demo.service (see deploy/raspberrypi/README.md)" \
      "FER_EDGE_SOURCE=0" "FER_EDGE_OUT=$PREFIX/runs/camera" "FER_EDGE_ARGS=--detect-every 10" \
      | sudo tee /etc/default/fer-edge-demo >/dev/null
  fi
  sudo systemctl daemon-reload
  sudo systemctl enable --now fer-edge-demo.service
  echo "logs: journalctl -u fer-edge-demo -f"
fi

echo "done. Try: $PREFIX/camera-demo.sh   (Ctrl-C stops; outputs in $PREFIX/runs/camera)"
