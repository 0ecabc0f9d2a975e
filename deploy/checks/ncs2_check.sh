#!/usr/bin/env bash
# make ncs2-check: the NCS2 kit (deploy/raspberrypi/install-ncs2.sh) in a Debian 11 x86_64 root with
# Python 3.9, as far as it goes without a stick:
# (a) OpenVINO 2021.4.2 from pip (the wheel carries the MYRIAD plugin): fer-edge demo on this machine's
#     ONNX export of the default model at f32, labels >= 99 % of the main runtime's (Haar on both sides);
#     query_network maps every operation of the frame and cascade bundles to MYRIAD; --device MYRIAD
#     fails inside the plugin (its NC_ERROR: no stick here) in one line, and without libusb in one
#     line that names libusb, not a missing plugin;
# (b) OpenVINO 2022.3.2 (its x86 archive when reachable, else the CPU-only pip wheel): the same demo
#     and agreement; --device MYRIAD answered in one line.
#
#   sudo deploy/checks/ncs2_check.sh [--python HOST_PYTHON_WITH_FER_EDGE_AND_TRAIN] [--fresh]
# Cache: ~/.cache/fer-edge/rootfs/bullseye-amd64 (FER_EDGE_ROOTFS); --fresh rebuilds it.
set -euo pipefail
# shellcheck source=deploy/checks/rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"

check_options ncs2_check.sh 13 "$@"
need_root ncs2-check
PY="$(abs_python "$PY")"
cd "$REPO"
need_host_packages debootstrap:debootstrap

ROOT="$ROOTFS_CACHE/bullseye-amd64"
WORK="$ROOTFS_CACHE/work-ncs2"
NAME=pi  # the unprivileged user inside
HOME_IN="/home/$NAME"
mkdir -p "$ROOTFS_CACHE" "$WORK"
[ "$FRESH" = 1 ] && rm -rf "$ROOT"
if [ ! -d "$ROOT" ]; then
  say "debootstrap Debian 11 (bullseye) x86_64 -> $ROOT (once; minutes)"
  rm -rf "$ROOT.tmp"
  nice -n 5 debootstrap --variant=minbase \
    --include=python3,python3-venv,ca-certificates,sudo,passwd,curl,libusb-1.0-0,libpython3.9 \
    bullseye "$ROOT.tmp" "$(debian_mirror)" > "$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; exit 1; }
  mv "$ROOT.tmp" "$ROOT"
fi
rootfs_mount "$ROOT"  # /proc too: without it 2021.4's IECore() spins forever
rootfs_ensure "$ROOT" sudo passwd curl libusb-1.0-0 libpython3.9  # roots cached by earlier versions
rootfs_user "$ROOT" "$NAME"
rootfs_checkout "$ROOT" "$NAME" "$HOME_IN/fer-edge-src"

say "host: the default model and a thesis cascade exported to ONNX (opset 13, batch 1), the reference run"
rm -rf "$WORK/onnx" "$WORK/cascade" "$WORK/cascade_onnx" "$WORK/ref"
bundle="$("$PY" -c 'from fer_edge.convert.defaults import default_bundle; print(default_bundle())')"
video="$("$PY" -c 'from fer_edge.convert.defaults import sample_video; print(sample_video())')"
host() {  # host LOG COMMAND...: run on the host, the log's tail on failure
  local log="$WORK/$1"
  shift
  nice -n 5 "$@" > "$log" 2>&1 || { tail -n 5 "$log" >&2; echo "FAIL ncs2-check: $* (log: $log)"; exit 1; }
}
host export.log "$PY" -m fer_edge export "$bundle" --format onnx --opset 13 --batch 1 --out "$WORK/onnx"
host cascade.log "$PY" deploy/checks/ncs2_cascade.py "$WORK/cascade"
host cascade-export.log "$PY" -m fer_edge export "$WORK/cascade" --format onnx --opset 13 --batch 1 --out "$WORK/cascade_onnx"
host ref.log "$PY" -m fer_edge demo --bundle "$WORK/onnx" --source "$video" --device CPU --detector haar \
  --infer-precision f32 --no-show --out "$WORK/ref"

rm -rf "$ROOT$HOME_IN/check"
mkdir -p "$ROOT$HOME_IN/check"
cp -r "$WORK/onnx" "$ROOT$HOME_IN/check/onnx"
mkdir "$ROOT$HOME_IN/check/cascade"
cp "$WORK/cascade_onnx/"*.onnx "$ROOT$HOME_IN/check/cascade/"
cp "$video" "$ROOT$HOME_IN/check/sample.mp4"
cp deploy/checks/ncs2_probe.py "$ROOT$HOME_IN/check/"
chroot "$ROOT" chown -R "$NAME:$NAME" "$HOME_IN/check"

demo() {  # demo PREFIX DEVICE OUT LOG: fer-edge demo inside the root, in the kit's environment
  as_user "$ROOT" "$NAME" "cd check && rm -rf $3 && timeout 900 $HOME_IN/$1/run.sh fer-edge demo --bundle onnx \
    --source sample.mp4 --device $2 --detector haar --infer-precision f32 --no-show --out $3" > "$WORK/$4" 2>&1
}
one_line() {  # one_line LOG NEEDLE: the log is one error line containing NEEDLE
  [ "$(grep -c . "$WORK/$1")" = 1 ] && grep -q -- "$2" "$WORK/$1"
}
versions() {  # versions PREFIX: "Python x / OpenVINO y" of a kit environment
  as_user "$ROOT" "$NAME" "$HOME_IN/$1/run.sh python -c \"import platform
from fer_edge.runtime.ovcompat import version_text
print('Python', platform.python_version(), '/ OpenVINO', version_text())\""
}
ok=1
summary=()

say "(a) Debian 11: install-ncs2.sh (OpenVINO 2021.4.2 from pip, MYRIAD plugin included)"
as_user "$ROOT" "$NAME" "cd fer-edge-src/deploy/raspberrypi && ./install-ncs2.sh --prefix $HOME_IN/ncs2-2021" \
  > "$WORK/install-2021.log" 2>&1 \
  || { tail -n 20 "$WORK/install-2021.log" >&2; echo "FAIL ncs2-check: install-ncs2.sh failed (log: $WORK/install-2021.log)"; exit 1; }
v2021="$(versions ncs2-2021)"
say "(a) fer-edge demo --device CPU on the ONNX bundle at f32 ($v2021)"
demo ncs2-2021 CPU run-2021 demo-2021.log || { tail -n 20 "$WORK/demo-2021.log" >&2; echo "FAIL ncs2-check: demo failed (log: $WORK/demo-2021.log)"; exit 1; }
summary+=("$(python3 deploy/checks/compare_events.py "$WORK/ref/events.jsonl" "$ROOT$HOME_IN/check/run-2021/events.jsonl" \
  --name "Debian 11 / $v2021 vs main runtime, CPU f32")") || ok=0
say "(a) query_network: every operation on MYRIAD?"
as_user "$ROOT" "$NAME" "cd check && $HOME_IN/ncs2-2021/run.sh python ncs2_probe.py onnx/frame.onnx cascade/spatial.onnx \
  cascade/temporal.onnx" > "$WORK/query.log" 2>&1 || ok=0
summary+=("$(sed 's/^/query: /' "$WORK/query.log")")
say "(a) --device MYRIAD without a stick: the plugin's own answer, one line"
demo ncs2-2021 MYRIAD myriad-2021 myriad-2021.log && ok=0
if one_line myriad-2021.log "NC_ERROR" && ! grep -q "no MYRIAD plugin" "$WORK/myriad-2021.log"; then
  summary+=("MYRIAD (2021.4.2, no stick): $(cut -c1-160 "$WORK/myriad-2021.log")...")
else
  ok=0
  summary+=("FAIL MYRIAD (2021.4.2): not one line with the plugin's NC_ERROR (log: $WORK/myriad-2021.log)")
fi
say "(a) --device MYRIAD without libusb: named in one line, not 'no plugin'"
lib="$(chroot "$ROOT" sh -c 'ls /lib/x86_64-linux-gnu/libusb-1.0.so.0 /usr/lib/x86_64-linux-gnu/libusb-1.0.so.0 2>/dev/null | head -n 1')"
mv "$ROOT$lib" "$ROOT$lib.hidden"
demo ncs2-2021 MYRIAD myriad-nousb myriad-nousb.log && ok=0
mv "$ROOT$lib.hidden" "$ROOT$lib"
if one_line myriad-nousb.log "libusb" && ! grep -q "no MYRIAD plugin" "$WORK/myriad-nousb.log"; then
  summary+=("MYRIAD (2021.4.2, libusb hidden): $(cut -c1-160 "$WORK/myriad-nousb.log")...")
else
  ok=0
  summary+=("FAIL MYRIAD without libusb: not one line naming libusb (log: $WORK/myriad-nousb.log)")
fi

ovsource="archive"
kitargs="--openvino 2022.3 --prefix $HOME_IN/ncs2-2022"
if ! curl -fsI --max-time 20 https://storage.openvinotoolkit.org/ >/dev/null 2>&1; then
  ovsource="pip wheel, CPU only"  # the archive host is not reachable from here
  kitargs="$kitargs --pip-openvino"
fi
say "(b) Debian 11: install-ncs2.sh --openvino 2022.3 (OpenVINO 2022.3.2 from the $ovsource)"
as_user "$ROOT" "$NAME" "cd fer-edge-src/deploy/raspberrypi && ./install-ncs2.sh $kitargs" > "$WORK/install-2022.log" 2>&1 \
  || { tail -n 20 "$WORK/install-2022.log" >&2; echo "FAIL ncs2-check: install-ncs2.sh --openvino 2022.3 failed (log: $WORK/install-2022.log)"; exit 1; }
v2022="$(versions ncs2-2022)"
demo ncs2-2022 CPU run-2022 demo-2022.log || { tail -n 20 "$WORK/demo-2022.log" >&2; echo "FAIL ncs2-check: demo failed (log: $WORK/demo-2022.log)"; exit 1; }
summary+=("$(python3 deploy/checks/compare_events.py "$WORK/ref/events.jsonl" "$ROOT$HOME_IN/check/run-2022/events.jsonl" \
  --name "Debian 11 / $v2022 ($ovsource) vs main runtime, CPU f32")") || ok=0
demo ncs2-2022 MYRIAD myriad-2022 myriad-2022.log && ok=0
if one_line myriad-2022.log "MYRIAD"; then
  summary+=("MYRIAD (2022.3.2 $ovsource): $(cut -c1-160 "$WORK/myriad-2022.log")...")
else
  ok=0
  summary+=("FAIL MYRIAD (2022.3.2): not a one-line answer (log: $WORK/myriad-2022.log)")
fi

printf 'ncs2-check: %s\n' "${summary[@]}"
if [ "$ok" != 1 ]; then
  echo "FAIL ncs2-check"
  exit 1
fi
echo "ncs2-check: OK"
