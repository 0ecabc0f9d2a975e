#!/usr/bin/env bash
# Install the fer-edge runtime (no training extras, no TensorFlow) on 64-bit Raspberry Pi OS Bookworm.
#
# Current OpenVINO wheels for aarch64 carry the ARM CPU plugin and need glibc >= 2.35
# (manylinux_2_35_aarch64); Bookworm has 2.36, Bullseye (2.31) is too old. No GPU/NPU plugin
# exists for the Pi: inference runs on the Cortex-A72/A76 cores.
#
#   ./install.sh                      # this checkout into ~/fer-edge-runtime/.venv
#   ./install.sh --from fer_edge-0.1.0-py3-none-any.whl   # a wheel built by `make wheel` (dist/)
#   ./install.sh --prefix DIR         # venv, camera-demo.sh and runs/ in DIR (not inside the checkout)
#   ./install.sh --service [--bundle DIR|FILE.tar.gz]   # also the fer-edge-demo systemd unit, on that
#                     # bundle (an archive from `fer-edge bundle pack` is checked and unpacked into
#                     # PREFIX/bundles; default: the FER2013 mini-Xception, imported now)
#   ./install.sh --service --serve 0.0.0.0:8080   # the service also serves the live view (a browser on
#                     # the LAN opens the URL printed; its token is kept in /etc/default/fer-edge-demo)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/raspberrypi/kit.sh disable=SC1091 # checked on its own
source "$HERE/kit.sh"
PREFIX="${FER_EDGE_PREFIX:-$HOME/fer-edge-runtime}"
FROM="$(cd "$HERE/../.." && pwd)"
SERVICE=0
BUNDLE=""
SERVE=""

while [ $# -gt 0 ]; do
  case "$1" in
    --from) FROM="$2"; shift 2 ;;
    --prefix) PREFIX="$2"; shift 2 ;;
    --service) SERVICE=1; shift ;;
    --bundle) BUNDLE="$2"; shift 2 ;;
    --serve) SERVE="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) kit_bad_option install.sh "$1" ;;
  esac
done

kit_check_from install.sh "$FROM"
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"
if [ -d "$FROM" ] && case "$PREFIX/" in "$(cd "$FROM" && pwd)/"*) true ;; *) false ;; esac; then
  echo "install.sh: --prefix $PREFIX is inside the checkout $FROM: choose a folder outside it" >&2
  exit 1
fi

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

echo "== system packages (venv, camera tools)"
# Every Python dependency is a binary wheel (OpenCV headless bundles its libraries): no pip or
# compilers from apt.
sudo apt-get update
sudo apt-get install -y python3-venv v4l-utils
# rpicam-apps streams the CSI camera module into the demo (USB webcams work without it).
sudo apt-get install -y rpicam-apps || echo "rpicam-apps not available: USB cameras only"

echo "== virtual environment in $PREFIX/.venv"
"$python" -m venv "$PREFIX/.venv"
"$PREFIX/.venv/bin/python" -m pip install -q --upgrade pip
# The base package only: numpy, OpenCV headless, OpenVINO, h5py, PyYAML, tqdm. No TensorFlow.
"$PREFIX/.venv/bin/python" -m pip install -q "$FROM"

install -m 0755 "$HERE/camera-demo.sh" "$PREFIX/camera-demo.sh"
install -m 0755 "$HERE/check_runtime.py" "$PREFIX/.venv/bin/check_runtime.py"
sed -i "1s|.*|#!$PREFIX/.venv/bin/python|" "$PREFIX/.venv/bin/check_runtime.py"

echo "== check"
"$PREFIX/.venv/bin/check_runtime.py" || true
"$PREFIX/.venv/bin/fer-edge" --version

if [ "$SERVICE" = 1 ]; then
  case "$BUNDLE" in
    *.tar.gz|*.tgz)  # an archive from `fer-edge bundle pack`: checked and unpacked into PREFIX/bundles
      name="$(basename "$BUNDLE")"; name="${name%.tar.gz}"; name="${name%.tgz}"
      if [ -d "$PREFIX/bundles/$name" ]; then
        echo "using the bundle unpacked before: $PREFIX/bundles/$name (fer-edge bundle unpack --force replaces it)"
      else
        "$PREFIX/.venv/bin/fer-edge" bundle unpack "$BUNDLE" -o "$PREFIX/bundles/$name"
      fi
      BUNDLE="$PREFIX/bundles/$name" ;;
  esac
  if [ -z "$BUNDLE" ]; then
    echo "== the default model (imported once, without TensorFlow)"
    BUNDLE="$("$PREFIX/.venv/bin/python" -c 'from fer_edge.convert.defaults import default_bundle; print(default_bundle())')"
  fi
  if [ ! -f "$BUNDLE/manifest.json" ]; then
    echo "install.sh: $BUNDLE is not a bundle (no manifest.json): pass --bundle DIR; the service is not installed" >&2
    exit 1
  fi
  BUNDLE="$(cd "$BUNDLE" && pwd)"
  echo "== systemd unit fer-edge-demo.service (runs as $USER on $BUNDLE)"
  sed -e "s|@USER@|$USER|g" -e "s|@PREFIX@|$PREFIX|g" "$HERE/fer-edge-demo.service" \
    | sudo tee /etc/systemd/system/fer-edge-demo.service >/dev/null
  if [ ! -f /etc/default/fer-edge-demo ]; then
    ARGS="--detect-every 10"
    if [ -n "$SERVE" ]; then
      # A fixed token, so the URL can be bookmarked; the settings file becomes root-only (it holds it).
      TOKEN="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
      ARGS="$ARGS --serve $SERVE --serve-token $TOKEN"
    fi
    printf '%s\n' "# Settings of fer-edge-demo.service (see deploy/raspberrypi/README.md)" \
      "FER_EDGE_BUNDLE=$BUNDLE" "FER_EDGE_SOURCE=0" "FER_EDGE_OUT=$PREFIX/runs/camera" \
      "FER_EDGE_ARGS=$ARGS" | sudo tee /etc/default/fer-edge-demo >/dev/null
    if [ -n "$SERVE" ]; then
      sudo chmod 600 /etc/default/fer-edge-demo
      echo "live view: http://$(hostname -I 2>/dev/null | cut -d' ' -f1):${SERVE##*:}/?token=$TOKEN"
    fi
  else
    echo "kept /etc/default/fer-edge-demo; it names FER_EDGE_BUNDLE=$(sed -n 's/^FER_EDGE_BUNDLE=//p' /etc/default/fer-edge-demo)"
  fi
  sudo systemctl daemon-reload
  sudo systemctl enable --now fer-edge-demo.service
  echo "logs: journalctl -u fer-edge-demo -f"
fi

echo "done. Try: $PREFIX/camera-demo.sh   (Ctrl-C stops; outputs in $PREFIX/runs/camera)"
