#!/usr/bin/env bash
# The fer-edge runtime with OpenVINO 2022.3 LTS, the last release with MYRIAD (Neural Compute Stick 2).
#
# MYRIAD was removed in OpenVINO 2023.0, and the openvino==2022.3.* pip wheels do not carry the
# MYRIAD plugin: the stick needs Intel's 2022.3.2 archive (Debian arm64 on a Pi, Ubuntu 20 x86_64
# on a PC), whose Python bindings exist for Python 3.7-3.10 (arm64: 3.7 and 3.9). fer-edge's
# runtime needs Python >= 3.9, so use Python 3.9 (Raspberry Pi OS / Debian Bullseye's python3).
# The environment is separate from install.sh's: PREFIX/.venv with this checkout's runtime
# (installed --no-deps with requirements-ncs2.txt, since OpenVINO comes from the archive) and
# PREFIX/run.sh, which runs a command inside it:
#   ~/fer-edge-ncs2/run.sh check_runtime.py
#   ~/fer-edge-ncs2/run.sh fer-edge demo --device MYRIAD --bundle BUNDLE_ONNX --source 0 --no-show --out runs/ncs2
#
#   ./install-ncs2.sh [--python /path/to/python3.9] [--prefix DIR] [--from CHECKOUT_OR_WHEEL]
#                     [--archive FILE.tgz]   # an archive downloaded beforehand (offline install)
#                     [--pip-openvino]       # openvino==2022.3.2 from pip: CPU only, no MYRIAD (checks)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/raspberrypi/kit.sh disable=SC1091 # checked on its own
source "$HERE/kit.sh"
PREFIX="${FER_EDGE_NCS2_PREFIX:-$HOME/fer-edge-ncs2}"
PYTHON="${PYTHON:-}"
FROM="$(cd "$HERE/../.." && pwd)"
ARCHIVE=""
PIP_OPENVINO=0
OV_RELEASE="2022.3.2"
OV_BUILD="2022.3.2.9279.e2c7e4d7b4d"
OV_BASE="https://storage.openvinotoolkit.org/repositories/openvino/packages/$OV_RELEASE/linux"

while [ $# -gt 0 ]; do
  case "$1" in
    --python) PYTHON="$2"; shift 2 ;;
    --prefix) PREFIX="$2"; shift 2 ;;
    --from) FROM="$2"; shift 2 ;;
    --archive) ARCHIVE="$2"; shift 2 ;;
    --pip-openvino) PIP_OPENVINO=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) kit_bad_option install-ncs2.sh "$1" ;;
  esac
done

kit_check_from install-ncs2.sh "$FROM"

arch="$(uname -m)"
case "$arch" in
  x86_64) OV_ARCHIVE="l_openvino_toolkit_ubuntu20_${OV_BUILD}_x86_64" ;;
  aarch64) OV_ARCHIVE="l_openvino_toolkit_debian9_${OV_BUILD}_arm64" ;;
  *) echo "install-ncs2.sh: unsupported architecture $arch (x86_64 or aarch64)" >&2; exit 1 ;;
esac

py_ok() {  # fer-edge's runtime needs >= 3.9; OpenVINO 2022.3 has bindings up to 3.10
  "$1" -c 'import sys; sys.exit(not ((3, 9) <= sys.version_info[:2] <= (3, 10)))' 2>/dev/null
}
if [ -z "$PYTHON" ]; then
  for candidate in python3.9 python3.10 python3; do
    if command -v "$candidate" >/dev/null && py_ok "$(command -v "$candidate")"; then
      PYTHON="$(command -v "$candidate")"
      break
    fi
  done
fi
if [ -z "$PYTHON" ] || ! py_ok "$PYTHON"; then
  echo "install-ncs2.sh: needs Python 3.9 (OpenVINO 2022.3's arm64 bindings: 3.7/3.9; fer-edge: >= 3.9)." >&2
  echo "  Bookworm has only 3.11: use Raspberry Pi OS Bullseye for the stick, or pass --python /path/to/python3.9" >&2
  exit 1
fi
pyver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
echo "== Python: $PYTHON ($pyver)"

if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "== system package python3-venv"
  sudo apt-get update
  sudo apt-get install -y python3-venv
fi

mkdir -p "$PREFIX"
"$PYTHON" -m venv "$PREFIX/.venv"
"$PREFIX/.venv/bin/python" -m pip install -q --upgrade pip
# The runtime without its dependencies (they would pull a current OpenVINO), then the
# versions the 2022.3 bindings were built against.
"$PREFIX/.venv/bin/python" -m pip install -q --no-deps "$FROM"
"$PREFIX/.venv/bin/python" -m pip install -q -r "$HERE/requirements-ncs2.txt"

setupvars=""
if [ "$PIP_OPENVINO" = 1 ]; then
  echo "== openvino==$OV_RELEASE from pip: CPU only (the wheel has no MYRIAD plugin)"
  "$PREFIX/.venv/bin/python" -m pip install -q "openvino==$OV_RELEASE"
else
  ovdir="$PREFIX/openvino_$OV_RELEASE"
  if [ ! -d "$ovdir" ]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    if [ -z "$ARCHIVE" ]; then
      echo "== downloading $OV_BASE/$OV_ARCHIVE.tgz"
      ARCHIVE="$tmp/ov.tgz"
      if ! curl -fL "$OV_BASE/$OV_ARCHIVE.tgz" -o "$ARCHIVE"; then
        echo "install-ncs2.sh: cannot download the OpenVINO $OV_RELEASE archive; fetch $OV_ARCHIVE.tgz elsewhere" >&2
        echo "  and pass --archive FILE.tgz (or --pip-openvino for a CPU-only environment without MYRIAD)" >&2
        exit 1
      fi
    fi
    mkdir -p "$tmp/x"
    tar -xzf "$ARCHIVE" -C "$tmp/x"
    # One top folder, e.g. l_openvino_toolkit_debian9_2022.3.2..._arm64 (any 2022.3 archive works).
    top="$(find "$tmp/x" -mindepth 1 -maxdepth 1 -type d)"
    if [ ! -f "$top/setupvars.sh" ]; then
      echo "install-ncs2.sh: $ARCHIVE is not an OpenVINO archive (no setupvars.sh in its top folder)" >&2
      exit 1
    fi
    mv "$top" "$ovdir"
  fi
  if [ ! -d "$ovdir/python/python$pyver" ]; then
    echo "install-ncs2.sh: the $OV_RELEASE archive has no Python $pyver bindings; it has:" >&2
    ls "$ovdir/python" >&2 || true
    exit 1
  fi
  # libusb and friends for the stick (the script knows Debian/Ubuntu/Raspbian).
  sudo "$ovdir/install_dependencies/install_openvino_dependencies.sh" -y \
    || echo "install-ncs2.sh: install_openvino_dependencies.sh failed; the stick needs libusb-1.0-0" >&2
  setupvars="$ovdir/setupvars.sh"

  echo "== udev rules for the Neural Compute Stick 2 (USB 03e7:2485, booted 03e7:f63b)"
  printf '%s\n' \
    'SUBSYSTEM=="usb", ATTRS{idProduct}=="2150", ATTRS{idVendor}=="03e7", GROUP="users", MODE="0666", ENV{ID_MM_DEVICE_IGNORE}="1"' \
    'SUBSYSTEM=="usb", ATTRS{idProduct}=="2485", ATTRS{idVendor}=="03e7", GROUP="users", MODE="0666", ENV{ID_MM_DEVICE_IGNORE}="1"' \
    'SUBSYSTEM=="usb", ATTRS{idProduct}=="f63b", ATTRS{idVendor}=="03e7", GROUP="users", MODE="0666", ENV{ID_MM_DEVICE_IGNORE}="1"' \
    | sudo tee /etc/udev/rules.d/97-myriad-usbboot.rules >/dev/null
  if command -v udevadm >/dev/null && [ -d /run/udev ]; then
    sudo udevadm control --reload-rules
    sudo udevadm trigger
  fi
  sudo usermod -a -G users "$USER"
fi

{
  echo '#!/usr/bin/env bash'
  echo '# Run a command inside the OpenVINO 2022.3 (NCS2) environment, e.g.'
  echo '#   run.sh fer-edge demo --device MYRIAD --bundle BUNDLE_ONNX --source 0 --no-show --out runs/ncs2'
  echo '#   run.sh check_runtime.py'
  echo 'set -eo pipefail'
  echo "export PATH=\"$PREFIX/.venv/bin:\$PATH\""
  if [ -n "$setupvars" ]; then
    echo '# setupvars.sh reads unset variables (no -u) and must bind the Python of the venv.'
    echo "# shellcheck disable=SC1091"
    echo "source \"$setupvars\" -pyver $pyver >/dev/null"
  fi
  cat <<'EOF'
case "${1:-}" in
  "") echo "usage: run.sh COMMAND [ARGS...] (e.g. run.sh fer-edge demo --device MYRIAD ...)" >&2; exit 2 ;;
  *.py) script="$1"; shift; [ -f "$script" ] || script="$(command -v "$script")"; exec python "$script" "$@" ;;
  *) exec "$@" ;;
esac
EOF
} > "$PREFIX/run.sh"
chmod 0755 "$PREFIX/run.sh"
install -m 0755 "$HERE/check_runtime.py" "$PREFIX/.venv/bin/check_runtime.py"

echo "== check (re-plug the stick first if it was plugged in before the udev rules)"
"$PREFIX/run.sh" check_runtime.py || true
echo "done. Export a bundle the 2022.3 runtime reads (on the machine with the full fer-edge):"
echo "  fer-edge export BUNDLE --format onnx --out BUNDLE_ONNX   # MYRIAD computes in FP16 itself"
echo "then: $PREFIX/run.sh fer-edge demo --device MYRIAD --bundle BUNDLE_ONNX --source 0 --no-show --out runs/ncs2"
