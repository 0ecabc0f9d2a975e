#!/usr/bin/env bash
# fer-edge's runtime with an OpenVINO that has MYRIAD (the Neural Compute Stick 2's plugin).
#
# MYRIAD was removed in OpenVINO 2023.0, and of 2022.3 only Intel's x86 archive has it (not the pip
# wheels, not the Raspberry Pi archives). What has it, per host (see README.md for the sources):
#   x86_64            openvino==2021.4.2 from pip (cp36-cp39 wheels carry libmyriadPlugin.so + USB
#                     firmware): the default here; --openvino 2022.3 uses Intel's 2022.3.2 x86 archive.
#   armv7l (Pi OS Legacy 32-bit, Python 3.7)   Intel's 2021.4.2 Raspbian runtime archive.
#   aarch64 (Pi OS Bookworm, Pi 5: no Python 3.7)  a container: an armhf Debian Buster image with that
#                     archive (ncs2-container/Dockerfile), the stick passed through USB.
# Everything lands in PREFIX (default ~/fer-edge-ncs2): a venv with this checkout's runtime (installed
# --no-deps with requirements-ncs2.txt, or -2022.txt) and run.sh, which runs a command inside the environment:
#   ~/fer-edge-ncs2/run.sh check_runtime.py
#   ~/fer-edge-ncs2/run.sh fer-edge demo --device MYRIAD --bundle BUNDLE_ONNX --source 0 --no-show --out runs/ncs2
#
#   ./install-ncs2.sh [--python PYTHON] [--prefix DIR] [--from CHECKOUT_OR_WHEEL]
#                     [--openvino 2021.4|2022.3]  # x86_64 only; the Pi's MYRIAD build is 2021.4.2
#                     [--archive FILE.tgz]        # an OpenVINO archive downloaded beforehand (offline)
#                     [--pip-openvino]            # 2022.3: openvino==2022.3.2 from pip, CPU only (checks)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/raspberrypi/kit.sh disable=SC1091 # checked on its own
source "$HERE/kit.sh"
PREFIX="${FER_EDGE_NCS2_PREFIX:-$HOME/fer-edge-ncs2}"
PYTHON="${PYTHON:-}"
FROM="$(cd "$HERE/../.." && pwd)"
ARCHIVE=""
PIP_OPENVINO=0
RELEASE="2021.4"
STORAGE="https://storage.openvinotoolkit.org/repositories/openvino/packages"
RASPBIAN_ARCHIVE="l_openvino_toolkit_runtime_raspbian_p_2021.4.752"  # 2021.4.2 LTS, armhf, Python 3.7
X86_2022_ARCHIVE="l_openvino_toolkit_ubuntu20_2022.3.2.9279.e2c7e4d7b4d_x86_64"

while [ $# -gt 0 ]; do
  case "$1" in
    --python) PYTHON="$2"; shift 2 ;;
    --prefix) PREFIX="$2"; shift 2 ;;
    --from) FROM="$2"; shift 2 ;;
    --archive) ARCHIVE="$2"; shift 2 ;;
    --openvino) RELEASE="$2"; shift 2 ;;
    --pip-openvino) PIP_OPENVINO=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) kit_bad_option install-ncs2.sh "$1" ;;
  esac
done
kit_check_from install-ncs2.sh "$FROM"
case "$RELEASE" in
  2021.4|2021.4.2) RELEASE=2021.4 ;;
  2022.3|2022.3.2) RELEASE=2022.3 ;;
  *) echo "install-ncs2.sh: --openvino $RELEASE: choose 2021.4 or 2022.3 (the releases with MYRIAD)" >&2; exit 2 ;;
esac

arch="$(uname -m)"
case "$arch" in
  x86_64) ;;
  armv7l) RELEASE=2021.4 ;;
  aarch64)
    exec "$HERE/ncs2-container/build.sh" --prefix "$PREFIX" --from "$FROM" ${ARCHIVE:+--archive "$ARCHIVE"} ;;
  *) echo "install-ncs2.sh: unsupported architecture $arch (x86_64, armv7l or aarch64)" >&2; exit 1 ;;
esac
if [ "$PIP_OPENVINO" = 1 ] && [ "$RELEASE" != 2022.3 ]; then
  echo "install-ncs2.sh: --pip-openvino is the CPU-only 2022.3 wheel; add --openvino 2022.3" >&2
  exit 2
fi

# Python: 2021.4.2 has bindings for 3.6-3.9 (pip, x86) and 3.7 (Raspbian); 2022.3 for 3.7-3.10.
# fer-edge's runtime path runs on 3.7+ (checked statically: make lint).
if [ "$RELEASE" = 2021.4 ]; then lo=7; hi=9; else lo=7; hi=10; fi
[ "$arch" = armv7l ] && hi=7
py_ok() { "$1" -c "import sys; sys.exit(not ((3, $lo) <= sys.version_info[:2] <= (3, $hi)))" 2>/dev/null; }
if [ -z "$PYTHON" ]; then
  for candidate in python3.9 python3.8 python3.7 python3.10 python3; do
    if command -v "$candidate" >/dev/null && py_ok "$(command -v "$candidate")"; then
      PYTHON="$(command -v "$candidate")"
      break
    fi
  done
fi
if [ -z "$PYTHON" ] || ! py_ok "$PYTHON"; then
  echo "install-ncs2.sh: OpenVINO $RELEASE with MYRIAD needs Python 3.$lo-3.$hi here; pass --python PATH." >&2
  echo "  On a Pi: Raspberry Pi OS (Legacy) 32-bit has 3.7; Bookworm (3.11) uses the container (64-bit OS)." >&2
  exit 1
fi
pyver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
echo "== Python: $PYTHON ($pyver), OpenVINO $RELEASE, $arch"

apt_need() {  # apt_need PACKAGE...: install what dpkg does not list
  local missing=() pkg
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "== system packages: ${missing[*]}"
  sudo apt-get update -q && sudo apt-get install -y -q "${missing[@]}"
}
# libusb: the MYRIAD plugin links it (without it the plugin does not load at all).
command -v dpkg >/dev/null && apt_need libusb-1.0-0
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || apt_need python3-venv

mkdir -p "$PREFIX"
"$PYTHON" -m venv "$PREFIX/.venv"
VPY="$PREFIX/.venv/bin/python"
"$VPY" -m pip install -q --upgrade pip
# The runtime without its dependencies (they would pull a current OpenVINO and numpy), then the
# versions the chosen OpenVINO was built against. setup.cfg says >= 3.9 for the whole package;
# the runtime path also runs on 3.7.
"$VPY" -m pip install -q --no-deps --ignore-requires-python "$FROM"
reqs="$HERE/requirements-ncs2.txt"
[ "$RELEASE" = 2022.3 ] && reqs="$HERE/requirements-ncs2-2022.txt"
"$VPY" -m pip install -q -r "$reqs"

fetch() {  # fetch URL: ARCHIVE, downloaded unless --archive gave one
  if [ -z "$ARCHIVE" ]; then
    ARCHIVE="$tmp/ov.tgz"
    echo "== downloading $1"
    if ! curl -fL "$1" -o "$ARCHIVE"; then
      echo "install-ncs2.sh: cannot download $1; fetch it elsewhere and pass --archive FILE.tgz" >&2
      exit 1
    fi
  fi
}
unpack() {  # unpack DIR: the archive's one top folder as DIR
  mkdir -p "$tmp/x"
  tar -xzf "$ARCHIVE" -C "$tmp/x"
  top="$(find "$tmp/x" -mindepth 1 -maxdepth 1 -type d)"
  if [ ! -f "$top/setupvars.sh" ] && [ ! -f "$top/bin/setupvars.sh" ]; then
    echo "install-ncs2.sh: $ARCHIVE is not an OpenVINO archive (no setupvars.sh)" >&2
    exit 1
  fi
  mv "$top" "$1"
}

setupvars=""
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [ "$RELEASE" = 2021.4 ] && [ "$arch" = x86_64 ]; then
  echo "== openvino==2021.4.2 from pip (its wheel carries the MYRIAD plugin and the stick's firmware)"
  "$VPY" -m pip install -q "openvino==2021.4.2"
elif [ "$PIP_OPENVINO" = 1 ]; then
  echo "== openvino==2022.3.2 from pip: CPU only (the 2022.3 wheels have no MYRIAD plugin)"
  "$VPY" -m pip install -q "openvino==2022.3.2"
else
  if [ "$RELEASE" = 2021.4 ]; then  # armv7l: the Raspbian archive
    name="$RASPBIAN_ARCHIVE"; url="$STORAGE/2021.4.2/$name.tgz"; ovdir="$PREFIX/openvino_2021.4.2"
  else
    name="$X86_2022_ARCHIVE"; url="$STORAGE/2022.3.2/linux/$name.tgz"; ovdir="$PREFIX/openvino_2022.3.2"
  fi
  if [ ! -d "$ovdir" ]; then
    fetch "$url"
    unpack "$ovdir"
  fi
  if [ ! -d "$ovdir/python/python$pyver" ]; then
    echo "install-ncs2.sh: the archive in $ovdir has no Python $pyver bindings; it has: $(cd "$ovdir/python" && echo python*)" >&2
    exit 1
  fi
  setupvars="$ovdir/setupvars.sh"
  [ -f "$setupvars" ] || setupvars="$ovdir/bin/setupvars.sh"  # 2021.x layout
fi

echo "== udev rules for the Neural Compute Stick 2 (USB 03e7:2485, booted 03e7:f63b)"
printf '%s\n' \
  'SUBSYSTEM=="usb", ATTRS{idProduct}=="2150", ATTRS{idVendor}=="03e7", GROUP="users", MODE="0666", ENV{ID_MM_DEVICE_IGNORE}="1"' \
  'SUBSYSTEM=="usb", ATTRS{idProduct}=="2485", ATTRS{idVendor}=="03e7", GROUP="users", MODE="0666", ENV{ID_MM_DEVICE_IGNORE}="1"' \
  'SUBSYSTEM=="usb", ATTRS{idProduct}=="f63b", ATTRS{idVendor}=="03e7", GROUP="users", MODE="0666", ENV{ID_MM_DEVICE_IGNORE}="1"' \
  | { sudo mkdir -p /etc/udev/rules.d && sudo tee /etc/udev/rules.d/97-myriad-usbboot.rules >/dev/null; }
if command -v udevadm >/dev/null && [ -d /run/udev ]; then
  sudo udevadm control --reload-rules
  sudo udevadm trigger
fi
sudo usermod -a -G users "$USER"

{
  echo '#!/usr/bin/env bash'
  echo "# Run a command inside the OpenVINO $RELEASE (NCS2) environment, e.g."
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
echo "done. Export the bundle as ONNX with a static batch (OpenVINO $RELEASE reads no current IR):"
echo "  fer-edge export BUNDLE --batch 1 --format onnx --out BUNDLE_ONNX   # on the PC; MYRIAD computes in FP16 itself"
echo "then: $PREFIX/run.sh fer-edge demo --device MYRIAD --bundle BUNDLE_ONNX --source 0 --no-show --out runs/ncs2"
