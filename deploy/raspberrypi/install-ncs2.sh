#!/usr/bin/env bash
# A separate environment for the Intel Neural Compute Stick 2 (MYRIAD) with OpenVINO 2022.3 LTS.
#
# MYRIAD was removed in OpenVINO 2023.0, so the stick needs the 2022.3 LTS runtime, which
# supports Python 3.7-3.10 only. This kit never mixes it with the main fer-edge environment:
#   x86_64 host (a laptop with the stick): pip wheels openvino==2022.3.* in a Python <= 3.10 venv;
#   Raspberry Pi (aarch64): 2022.3 has no aarch64 pip wheel, so the official Debian arm64 archive
#   is unpacked and its setupvars.sh is sourced by the run.sh wrapper.
# Then: udev rules for the stick, and run.sh to start anything inside that environment:
#   ~/fer-edge-ncs2/run.sh check_runtime.py
#   ~/fer-edge-ncs2/run.sh ncs2_demo.py --bundle BUNDLE_WITH_ONNX --source 0
#
#   ./install-ncs2.sh [--python /path/to/python3.10] [--prefix DIR]
set -euo pipefail

PREFIX="${FER_EDGE_NCS2_PREFIX:-$HOME/fer-edge-ncs2}"
PYTHON="${PYTHON:-}"
OV_RELEASE="2022.3.2"
OV_ARCHIVE="l_openvino_toolkit_debian9_2022.3.2.9279.e2c7e4d7b4d_arm64"
OV_URL="https://storage.openvinotoolkit.org/repositories/openvino/packages/$OV_RELEASE/linux/$OV_ARCHIVE.tgz"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

while [ $# -gt 0 ]; do
  case "$1" in
    --python) PYTHON="$2"; shift 2 ;;
    --prefix) PREFIX="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install-ncs2.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

py_ok() {  # a Python between 3.7 and 3.10, the versions OpenVINO 2022.3 was built for
  "$1" -c 'import sys; sys.exit(not ((3, 7) <= sys.version_info[:2] <= (3, 10)))' 2>/dev/null
}

if [ -z "$PYTHON" ]; then
  for candidate in python3.10 python3.9 python3.8 python3.7 python3; do
    if command -v "$candidate" >/dev/null && py_ok "$(command -v "$candidate")"; then
      PYTHON="$(command -v "$candidate")"
      break
    fi
  done
fi
if [ -z "$PYTHON" ] && command -v uv >/dev/null; then
  # Bookworm ships Python 3.11 only; uv provides a standalone 3.10 build (also for aarch64).
  uv python install 3.10
  PYTHON="$(uv python find 3.10)"
fi
if [ -z "$PYTHON" ] || ! py_ok "$PYTHON"; then
  echo "install-ncs2.sh: OpenVINO 2022.3 needs Python 3.7-3.10 and none was found." >&2
  echo "  Install uv (https://docs.astral.sh/uv/) and re-run, or pass --python /path/to/python3.10." >&2
  exit 1
fi
echo "== Python: $PYTHON ($("$PYTHON" --version 2>&1))"

mkdir -p "$PREFIX"
"$PYTHON" -m venv "$PREFIX/.venv"
"$PREFIX/.venv/bin/python" -m pip install --upgrade pip
arch="$(uname -m)"
setupvars=""
case "$arch" in
  x86_64)
    # numpy < 1.24 and an OpenCV built against it: what the 2022.3 bindings were built with.
    "$PREFIX/.venv/bin/python" -m pip install "openvino==2022.3.*" "numpy<1.24" "opencv-python-headless<4.9"
    ;;
  aarch64)
    if [ ! -d "$PREFIX/openvino_$OV_RELEASE" ]; then
      echo "== downloading $OV_URL"
      tmp="$(mktemp -d)"
      curl -fL "$OV_URL" -o "$tmp/ov.tgz"
      tar -xzf "$tmp/ov.tgz" -C "$tmp"
      mv "$tmp/$OV_ARCHIVE" "$PREFIX/openvino_$OV_RELEASE"
      rm -rf "$tmp"
    fi
    pyver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if [ ! -d "$PREFIX/openvino_$OV_RELEASE/python/python$pyver" ]; then
      echo "install-ncs2.sh: the 2022.3 archive has no Python $pyver bindings; it has:" >&2
      ls "$PREFIX/openvino_$OV_RELEASE/python" >&2 || true
      echo "  re-run with --python pointing at one of those versions" >&2
      exit 1
    fi
    sudo "$PREFIX/openvino_$OV_RELEASE/install_dependencies/install_openvino_dependencies.sh" -y || true
    "$PREFIX/.venv/bin/python" -m pip install "numpy<1.24" "opencv-python-headless<4.9"
    setupvars="$PREFIX/openvino_$OV_RELEASE/setupvars.sh"
    ;;
  *)
    echo "install-ncs2.sh: unsupported architecture $arch (x86_64 or aarch64)" >&2
    exit 1
    ;;
esac

echo "== udev rules for the Neural Compute Stick 2 (USB 03e7:2485, booted 03e7:f63b)"
printf '%s\n' \
  'SUBSYSTEM=="usb", ATTRS{idProduct}=="2150", ATTRS{idVendor}=="03e7", GROUP="users", MODE="0666", ENV{ID_MM_DEVICE_IGNORE}="1"' \
  'SUBSYSTEM=="usb", ATTRS{idProduct}=="2485", ATTRS{idVendor}=="03e7", GROUP="users", MODE="0666", ENV{ID_MM_DEVICE_IGNORE}="1"' \
  'SUBSYSTEM=="usb", ATTRS{idProduct}=="f63b", ATTRS{idVendor}=="03e7", GROUP="users", MODE="0666", ENV{ID_MM_DEVICE_IGNORE}="1"' \
  | sudo tee /etc/udev/rules.d/97-myriad-usbboot.rules >/dev/null
sudo udevadm control --reload-rules
sudo udevadm trigger
sudo usermod -a -G users "$USER"

install -m 0644 "$HERE/check_runtime.py" "$PREFIX/check_runtime.py"
install -m 0644 "$HERE/ncs2_demo.py" "$PREFIX/ncs2_demo.py"
{
  echo '#!/usr/bin/env bash'
  echo '# Run a Python script inside the OpenVINO 2022.3 (NCS2) environment.'
  echo 'set -euo pipefail'
  if [ -n "$setupvars" ]; then
    echo "# shellcheck disable=SC1091"
    echo "source \"$setupvars\" >/dev/null"
  fi
  echo "cd \"$PREFIX\""
  echo "exec \"$PREFIX/.venv/bin/python\" \"\$@\""
} > "$PREFIX/run.sh"
chmod 0755 "$PREFIX/run.sh"

echo "== check (re-plug the stick first if it was plugged in before the udev rules)"
"$PREFIX/run.sh" check_runtime.py || true
echo "done. Export a bundle the old runtime reads (on the machine with fer-edge):"
echo "  fer-edge export BUNDLE --format onnx --out BUNDLE_ONNX   # FP16 is applied by MYRIAD itself"
echo "then: $PREFIX/run.sh ncs2_demo.py --bundle BUNDLE_ONNX --source 0"
