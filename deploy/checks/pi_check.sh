#!/usr/bin/env bash
# make pi-check: the Raspberry Pi kit in an emulated Debian 12 (Bookworm) arm64 root.
#
# Builds (once, cached) the root with mmdebstrap; QEMU user emulation (qemu-user-static, binfmt_misc)
# runs its aarch64 programs. As an unprivileged user with real sudo it runs
# deploy/raspberrypi/install.sh (this checkout, no TensorFlow), then, as a Cortex-A72 (Pi 4) and a
# Cortex-A76 (Pi 5), camera-demo.sh twice (the first run imports the default model itself):
#  1. parity (the pass/fail bar): the first 240 frames of the sample video, decoded once on this
#     machine into PNGs so both CPUs see the same pixels, BlazeFace on every frame (no tracker):
#     labels >= 99 % of this machine's run on the same frames;
#  2. the sample video itself with the demo's defaults (detector every 10 frames, optical-flow
#     tracker between): labels reported beside this machine's own agreement with itself on frames
#     carrying +-1 grey level of noise (x86 and ARM decoders differ by ~2 grey levels, and that
#     much already moves a tracked box by a pixel and flips near-tied labels); bar: >= 95 %
#     (a wrong model, colour order or crop lands far below).
# All runs pin --infer-precision f32; the precision each CPU picks by default is reported.
#
#   sudo deploy/checks/pi_check.sh [--python HOST_PYTHON_WITH_FER_EDGE] [--cpus "cortex-a72 cortex-a76"] [--fresh]
# Cache: ~/.cache/fer-edge/rootfs/bookworm-arm64 (FER_EDGE_ROOTFS); --fresh rebuilds it.
set -euo pipefail
# shellcheck source=deploy/checks/rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"

CPUS="cortex-a72 cortex-a76"
check_options pi_check.sh 19 "$@"
need_root pi-check
PY="$(abs_python "$PY")"
cd "$REPO"
need_host_packages mmdebstrap:mmdebstrap qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support

mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
if ! grep -q '^flags: .*C' "$entry"; then
  # Real sudo inside the root needs setuid under emulation: the C (credentials) flag, which Debian's
  # qemu-user-static does not set. Re-register the same interpreter with it (until reboot).
  hexesc() { sed -n "s/^$1 //p" "$entry" | sed 's/../\\x&/g'; }
  register=":qemu-aarch64:M:0:$(hexesc magic):$(hexesc mask):$(sed -n 's/^interpreter //p' "$entry"):OCPF"
  echo -1 > "$entry"
  printf '%s' "$register" > /proc/sys/fs/binfmt_misc/register
fi

ROOT="$ROOTFS_CACHE/bookworm-arm64"
WORK="$ROOTFS_CACHE/work-pi"
NAME=pi
HOME_IN="/home/$NAME"
mkdir -p "$ROOTFS_CACHE" "$WORK"
[ "$FRESH" = 1 ] && rm -rf "$ROOT"
if [ ! -d "$ROOT" ]; then
  say "mmdebstrap Debian 12 (bookworm) arm64 -> $ROOT (once; 10-20 minutes under emulation)"
  rm -rf "$ROOT.tmp"
  nice -n 5 mmdebstrap --arch=arm64 --variant=apt --include=sudo,ca-certificates,python3,passwd,curl \
    bookworm "$ROOT.tmp" "$(debian_mirror)" > "$WORK/mmdebstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/mmdebstrap.log" >&2; exit 1; }
  mv "$ROOT.tmp" "$ROOT"
fi
rootfs_mount "$ROOT"
if ! chroot "$ROOT" /usr/bin/uname -m | grep -qx aarch64; then
  echo "FAIL pi-check: the arm64 root does not run (binfmt_misc / qemu-user-static)"
  exit 1
fi
rootfs_ensure "$ROOT" sudo passwd curl  # roots cached by an earlier version of this script
rootfs_user "$ROOT" "$NAME"
rootfs_checkout "$ROOT" "$NAME" "$HOME_IN/fer-edge"

fps_of() { "$PY" deploy/checks/frames.py "$@"; }
demo_x86() {  # demo_x86 NAME SOURCE ARGS...: this machine's reference run into $WORK/NAME
  local name="$1" source="$2"; shift 2
  rm -rf "${WORK:?}/$name"
  nice -n 5 "$PY" -m fer_edge demo --source "$source" --infer-precision f32 --no-show --out "$WORK/$name" "$@" \
    > "$WORK/$name.log" 2>&1 || { tail -n 5 "$WORK/$name.log" >&2; exit 1; }
}
video="$("$PY" -c 'from fer_edge.convert.defaults import sample_video; print(sample_video())')"
say "host: decode the sample video into PNG frames (the parity input) and a +-1 grey-level noisy copy"
rm -rf "$WORK/frames" "$WORK/noisy"
fps="$(fps_of "$video" "$WORK/frames" --first 240)"
fps_of "$video" "$WORK/noisy" --noise 1 --seed 0 > /dev/null
PARITY=(--detect-every 1 --max-frames 240 --fps "$fps")
say "host: the x86 reference runs (parity frames, sample video, noisy frames; f32)"
demo_x86 x86-parity "$WORK/frames" "${PARITY[@]}"
demo_x86 x86 "$video"
demo_x86 x86-noisy "$WORK/noisy" --fps "$fps"
floor="$(python3 deploy/checks/compare_events.py "$WORK/x86/events.jsonl" "$WORK/x86-noisy/events.jsonl" --min-agree 0 --json \
  | python3 -c 'import json,sys; r=json.load(sys.stdin); print("{same}/{faces} = {p:.1%}".format(p=r["agree"], **r))')"
rm -rf "$ROOT$HOME_IN/check"
mkdir -p "$ROOT$HOME_IN/check"
cp "$video" "$ROOT$HOME_IN/check/sample.mp4"
cp -r "$WORK/frames" "$ROOT$HOME_IN/check/frames"
chroot "$ROOT" chown -R "$NAME:$NAME" "$HOME_IN/check"

say "arm64: install.sh as $NAME (real sudo; log $WORK/install.log)"
if ! QEMU_CPU=cortex-a72 nice -n 5 chroot "$ROOT" runuser -l "$NAME" -c \
    "export QEMU_CPU=cortex-a72; cd fer-edge/deploy/raspberrypi && ./install.sh" > "$WORK/install.log" 2>&1; then
  tail -n 20 "$WORK/install.log" >&2
  echo "FAIL pi-check: install.sh failed (log: $WORK/install.log)"
  exit 1
fi
venv="$HOME_IN/fer-edge-runtime/.venv"
if chroot "$ROOT" test -d "$venv/lib/python3.11/site-packages/tensorflow"; then
  echo "FAIL pi-check: install.sh installed TensorFlow"
  exit 1
fi

camera_demo() {  # camera_demo CPU RUN SOURCE ARGS: camera-demo.sh inside the root -> ~/check/RUN
  local cpu="$1" run="$2" source="$3" args="$4"
  QEMU_CPU="$cpu" nice -n 5 chroot "$ROOT" runuser -l "$NAME" -c "export QEMU_CPU=$cpu \
      FER_EDGE_SOURCE=\$HOME/check/$source FER_EDGE_OUT=\$HOME/check/$run FER_EDGE_ARGS='--infer-precision f32 $args'; \
      ~/fer-edge-runtime/camera-demo.sh" > "$WORK/$run.log" 2>&1
}
ok=1
lines=()
for cpu in $CPUS; do
  say "arm64 as $cpu: camera-demo.sh on the parity frames, then the sample video (logs $WORK/$cpu-*.log)"
  # Forget the imported model so each CPU's first run imports it (assets stay: they are downloads).
  rm -rf "$ROOT$HOME_IN/.cache/fer-edge/bundles"
  start=$(date +%s)
  if ! camera_demo "$cpu" "$cpu-parity" frames "${PARITY[*]}"; then
    tail -n 10 "$WORK/$cpu-parity.log" >&2
    ok=0
    lines+=("$cpu: camera-demo.sh failed (log: $WORK/$cpu-parity.log)")
    continue
  fi
  if ! camera_demo "$cpu" "$cpu-video" sample.mp4 ""; then
    tail -n 10 "$WORK/$cpu-video.log" >&2
    ok=0
    lines+=("$cpu: camera-demo.sh on the video failed (log: $WORK/$cpu-video.log)")
    continue
  fi
  took=$(( $(date +%s) - start ))
  ran="$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t.get("inference_precision", "?"))' \
    "$ROOT$HOME_IN/check/$cpu-video/timing.json" 2>/dev/null || echo '?')"
  # What this CPU runs when nobody pins a precision (the docs' "Pi 5 runs f16 by default").
  default="$(QEMU_CPU="$cpu" chroot "$ROOT" runuser -l "$NAME" -c "export QEMU_CPU=$cpu; \
    ~/fer-edge-runtime/.venv/bin/python -c 'from fer_edge.runtime.bundle import load_bundle
from fer_edge.convert.defaults import default_bundle_path
from fer_edge.runtime import load_model
print(load_model(load_bundle(default_bundle_path()).model_path(\"frame\")).inference_precision)'" 2>/dev/null || echo '?')"
  parity="$(python3 "$REPO/deploy/checks/compare_events.py" "$WORK/x86-parity/events.jsonl" \
    "$ROOT$HOME_IN/check/$cpu-parity/events.jsonl" --name "parity")" || ok=0
  e2e="$(python3 "$REPO/deploy/checks/compare_events.py" "$WORK/x86/events.jsonl" \
    "$ROOT$HOME_IN/check/$cpu-video/events.jsonl" --min-agree 0.95 --name "video")" || ok=0
  lines+=("$cpu (ran $ran, default $default, ${took}s): $parity; $e2e")
done

summary="$(printf '%s; ' "${lines[@]}")"
echo "pi-check: $( [ "$ok" = 1 ] && echo OK || echo FAIL ) Debian 12 arm64 (QEMU), install.sh as $NAME, no TensorFlow: ${summary%; } (vs x86; x86 vs itself at +-1 grey level: $floor)"
[ "$ok" = 1 ]
