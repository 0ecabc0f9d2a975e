#!/usr/bin/env bash
# make ncs2-check: the NCS2 kit (deploy/raspberrypi/install-ncs2.sh) in a Debian 11 x86_64 root
# with Python 3.9 and OpenVINO 2022.3.2, running `fer-edge demo --device CPU` on this machine's
# exported ONNX model; labels must agree >= 99 % with the main runtime (both pinned to f32).
# MYRIAD itself needs a stick and Intel's 2022.3.2 archive: when the archive host is reachable the
# kit installs from it, otherwise from the openvino==2022.3.2 pip wheel (CPU only, no MYRIAD
# plugin); either way the check asks for --device MYRIAD and expects the one-line answer.
#
#   sudo deploy/checks/ncs2_check.sh [--python HOST_PYTHON_WITH_FER_EDGE] [--fresh]
# Cache: ~/.cache/fer-edge/rootfs/bullseye-amd64 (FER_EDGE_ROOTFS); --fresh rebuilds it.
set -euo pipefail
# shellcheck source=deploy/checks/rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"

check_options ncs2_check.sh 11 "$@"
need_root ncs2-check
PY="$(abs_python "$PY")"
cd "$REPO"
need_host_packages debootstrap:debootstrap

ROOT="$ROOTFS_CACHE/bullseye-amd64"
WORK="$ROOTFS_CACHE/work-ncs2"
NAME=pi  # the unprivileged user inside
mkdir -p "$ROOTFS_CACHE" "$WORK"
[ "$FRESH" = 1 ] && rm -rf "$ROOT"
if [ ! -d "$ROOT" ]; then
  say "debootstrap Debian 11 (bullseye) x86_64 -> $ROOT (once; minutes)"
  rm -rf "$ROOT.tmp"
  nice -n 5 debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,sudo,passwd,curl \
    bullseye "$ROOT.tmp" http://deb.debian.org/debian > "$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; exit 1; }
  mv "$ROOT.tmp" "$ROOT"
fi
rootfs_mount "$ROOT"
rootfs_ensure "$ROOT" sudo passwd curl  # roots cached by an earlier version of this script
rootfs_user "$ROOT" "$NAME"
HOME_IN="/home/$NAME"
rootfs_checkout "$ROOT" "$NAME" "$HOME_IN/fer-edge-src"

say "host: export the default bundle to ONNX and run it at f32 (the reference)"
bundle="$("$PY" -c 'from fer_edge.convert.defaults import default_bundle; print(default_bundle())')"
rm -rf "$WORK/onnx" "$WORK/ref"
nice -n 5 "$PY" -m fer_edge export "$bundle" --format onnx --out "$WORK/onnx" > "$WORK/export.log" 2>&1 \
  || { tail -n 5 "$WORK/export.log" >&2; exit 1; }
video="$("$PY" -c 'from fer_edge.convert.defaults import sample_video; print(sample_video())')"
# Haar on both sides: OpenVINO 2022.3 cannot convert BlazeFace's .tflite (the demo falls back to Haar).
nice -n 5 "$PY" -m fer_edge demo --bundle "$WORK/onnx" --source "$video" --device CPU --detector haar \
  --infer-precision f32 --no-show --out "$WORK/ref" > "$WORK/ref.log" 2>&1 || { tail -n 5 "$WORK/ref.log" >&2; exit 1; }

rm -rf "$ROOT$HOME_IN/check"
mkdir -p "$ROOT$HOME_IN/check"
cp -r "$WORK/onnx" "$ROOT$HOME_IN/check/onnx"
cp "$video" "$ROOT$HOME_IN/check/sample.mp4"
chroot "$ROOT" chown -R "$NAME:$NAME" "$HOME_IN/check"

ovsource="archive"
if ! curl -fsI --max-time 20 https://storage.openvinotoolkit.org/ >/dev/null 2>&1; then
  ovsource="pip wheel, CPU only"  # the archive host is not reachable from here
fi
say "Debian 11: install-ncs2.sh as $NAME (OpenVINO 2022.3.2 from the $ovsource)"
kitargs=""
[ "$ovsource" != archive ] && kitargs="--pip-openvino"
as_user "$ROOT" "$NAME" "cd fer-edge-src/deploy/raspberrypi && ./install-ncs2.sh $kitargs" > "$WORK/install.log" 2>&1 \
  || { tail -n 20 "$WORK/install.log" >&2; echo "FAIL ncs2-check: install-ncs2.sh failed (log: $WORK/install.log)"; exit 1; }

say "Debian 11: fer-edge demo --device CPU on the ONNX bundle (f32)"
if ! as_user "$ROOT" "$NAME" "cd check && $HOME_IN/fer-edge-ncs2/run.sh fer-edge demo --bundle onnx --source sample.mp4 \
    --device CPU --detector haar --infer-precision f32 --no-show --out run" > "$WORK/demo.log" 2>&1; then
  tail -n 20 "$WORK/demo.log" >&2
  echo "FAIL ncs2-check: fer-edge demo failed in the 2022.3 environment (log: $WORK/demo.log)"
  exit 1
fi
as_user "$ROOT" "$NAME" "cd check && $HOME_IN/fer-edge-ncs2/run.sh fer-edge demo --bundle onnx --source sample.mp4 \
  --device MYRIAD --detector haar --no-show --out myriad" > "$WORK/myriad.log" 2>&1 && myriad_rc=0 || myriad_rc=$?
versions="$(as_user "$ROOT" "$NAME" "$HOME_IN/fer-edge-ncs2/run.sh python -c \"import platform
from fer_edge.runtime.ovcompat import version_text
print('Python', platform.python_version(), '/ OpenVINO', version_text())\"")"

result="$(python3 "$REPO/deploy/checks/compare_events.py" "$WORK/ref/events.jsonl" "$ROOT$HOME_IN/check/run/events.jsonl" \
  --name "Debian 11 / $versions ($ovsource) vs main runtime, CPU f32")" && ok=1 || ok=0
myriad="$(tail -n 1 "$WORK/myriad.log")"
if [ "$myriad_rc" = 0 ]; then
  myriad_note="MYRIAD ran"
elif [ "$(grep -c . "$WORK/myriad.log")" = 1 ] && [[ "$myriad" == *"MYRIAD is not available"* ]]; then
  myriad_note="MYRIAD refused in one line ('$(printf '%.90s' "${myriad#*: error: }")...')"
else
  ok=0
  myriad_note="MYRIAD: not a one-line answer (log: $WORK/myriad.log)"
fi
echo "ncs2-check: $result; $myriad_note"
[ "$ok" = 1 ]
