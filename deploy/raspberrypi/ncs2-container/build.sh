#!/usr/bin/env bash
# install-ncs2.sh on aarch64 (Raspberry Pi OS Bookworm / Pi 5): the NCS2 container (see Dockerfile),
# the host's udev rule for the stick, and PREFIX/run.sh, which runs a command in the container with
# the stick passed through (USB major 189) and the current folder as /work.
#
#   ./build.sh [--prefix DIR] [--from CHECKOUT] [--archive l_openvino_toolkit_runtime_raspbian_p_2021.4.752.tgz]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${FER_EDGE_NCS2_PREFIX:-$HOME/fer-edge-ncs2}"
FROM="$(cd "$HERE/../../.." && pwd)"
ARCHIVE=""
IMAGE="fer-edge-ncs2:2021.4.2"
URL="https://storage.openvinotoolkit.org/repositories/openvino/packages/2021.4.2/l_openvino_toolkit_runtime_raspbian_p_2021.4.752.tgz"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --from) FROM="$2"; shift 2 ;;
    --archive) ARCHIVE="$2"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [ ! -f "$FROM/setup.cfg" ]; then
  echo "build.sh: $FROM is not a fer-edge checkout: pass --from (the container installs a checkout)" >&2
  exit 1
fi
engine="$(command -v docker || command -v podman || true)"
if [ -z "$engine" ]; then
  echo "build.sh: the NCS2 on a 64-bit Pi OS runs in a container: install docker (sudo apt install docker.io) or podman" >&2
  exit 1
fi

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/fer-edge"
(cd "$FROM" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$ctx/fer-edge"
cp "$HERE/Dockerfile" "$HERE/entrypoint.sh" "$ctx/"
if [ -f /etc/pip.conf ]; then cp /etc/pip.conf "$ctx/pip.conf"; else : > "$ctx/pip.conf"; fi
if [ -n "$ARCHIVE" ]; then
  cp "$ARCHIVE" "$ctx/openvino.tgz"
elif ! curl -fL "$URL" -o "$ctx/openvino.tgz"; then
  echo "build.sh: cannot download $URL; fetch it elsewhere and pass --archive FILE.tgz" >&2
  exit 1
fi
echo "== building $IMAGE (armhf, Python 3.7, OpenVINO 2021.4.2) with $engine"
sudo "$engine" build --platform linux/arm/v7 -t "$IMAGE" "$ctx"

echo "== udev rule 97-myriad-usbboot.rules on the host (USB 03e7:2485, booted 03e7:f63b)"
printf '%s\n' \
  'SUBSYSTEM=="usb", ATTRS{idProduct}=="2485", ATTRS{idVendor}=="03e7", GROUP="users", MODE="0666", ENV{ID_MM_DEVICE_IGNORE}="1"' \
  'SUBSYSTEM=="usb", ATTRS{idProduct}=="f63b", ATTRS{idVendor}=="03e7", GROUP="users", MODE="0666", ENV{ID_MM_DEVICE_IGNORE}="1"' \
  | { sudo mkdir -p /etc/udev/rules.d && sudo tee /etc/udev/rules.d/97-myriad-usbboot.rules >/dev/null; }
sudo udevadm control --reload-rules && sudo udevadm trigger

mkdir -p "$PREFIX"
cat > "$PREFIX/run.sh" <<RUN
#!/usr/bin/env bash
# Run a command in the NCS2 container ($IMAGE), the stick passed through, this folder as /work:
#   run.sh fer-edge demo --device MYRIAD --bundle BUNDLE_ONNX --source 0 --no-show --out runs/ncs2
set -eo pipefail
tty=(); [ -t 0 ] && tty=(-t)
cams=(); for v in /dev/video*; do [ -e "\$v" ] && cams+=(--device "\$v"); done
exec sudo "$engine" run --rm -i "\${tty[@]}" --device-cgroup-rule='c 189:* rmw' -v /dev/bus/usb:/dev/bus/usb \\
  "\${cams[@]}" -v "\$PWD:/work" -w /work "$IMAGE" "\$@"
RUN
chmod 0755 "$PREFIX/run.sh"
echo "== check"
"$PREFIX/run.sh" check_runtime.py || true
echo "done: $PREFIX/run.sh fer-edge demo --device MYRIAD --bundle BUNDLE_ONNX --source 0 --no-show --out runs/ncs2"
echo "  (armhf userland needs a 4K-page kernel: on a Pi 5 set kernel=kernel8.img in /boot/firmware/config.txt)"
