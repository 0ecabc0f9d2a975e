#!/usr/bin/env bash
# make pi-check: the Raspberry Pi kit in an emulated Debian 12 (Bookworm) arm64 root.
#
# Builds (once, cached) the root with mmdebstrap; QEMU user emulation (qemu-user-static, binfmt_misc)
# runs its aarch64 programs. As an unprivileged user with real sudo it runs
# deploy/raspberrypi/install.sh (this checkout, no TensorFlow), then camera-demo.sh on the sample
# video as a Cortex-A72 (Pi 4) and a Cortex-A76 (Pi 5), each run importing the default model
# itself. Events are compared with this x86 machine's run: labels >= 99 %, largest score
# difference reported (video decoding differs by ~2 grey levels between x86 and ARM builds, so
# labels are compared, not boxes). All runs pin --infer-precision f32.
#
#   sudo tools/pi_check.sh [--python HOST_PYTHON_WITH_FER_EDGE] [--cpus "cortex-a72 cortex-a76"] [--fresh]
# Cache: ~/.cache/fer-edge/rootfs/bookworm-arm64 (FER_EDGE_ROOTFS); --fresh rebuilds it.
set -euo pipefail
# shellcheck source=tools/rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"

CPUS="cortex-a72 cortex-a76"
check_options pi_check.sh 14 "$@"
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
    bookworm "$ROOT.tmp" http://deb.debian.org/debian > "$WORK/mmdebstrap.log" 2>&1 \
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

say "host: the x86 reference run (default model, sample video, f32)"
video="$("$PY" -c 'from fer_edge.defaults import sample_video; print(sample_video())')"
rm -rf "$WORK/x86"
nice -n 5 "$PY" -m fer_edge demo --source "$video" --infer-precision f32 --no-show --out "$WORK/x86" \
  > "$WORK/x86.log" 2>&1 || { tail -n 5 "$WORK/x86.log" >&2; exit 1; }
mkdir -p "$ROOT$HOME_IN/check"
cp "$video" "$ROOT$HOME_IN/check/sample.mp4"
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

ok=1
lines=()
for cpu in $CPUS; do
  say "arm64 as $cpu: camera-demo.sh on the sample video, default model imported without TensorFlow (log $WORK/$cpu.log)"
  # Forget the imported model so each run imports it (assets stay: they are downloads).
  rm -rf "$ROOT$HOME_IN/.cache/fer-edge/bundles" "$ROOT$HOME_IN/check/$cpu"
  start=$(date +%s)
  if ! QEMU_CPU="$cpu" nice -n 5 chroot "$ROOT" runuser -l "$NAME" -c "export QEMU_CPU=$cpu \
      FER_EDGE_SOURCE=\$HOME/check/sample.mp4 FER_EDGE_OUT=\$HOME/check/$cpu FER_EDGE_ARGS='--infer-precision f32'; \
      ~/fer-edge-runtime/camera-demo.sh" > "$WORK/$cpu.log" 2>&1; then
    tail -n 10 "$WORK/$cpu.log" >&2
    ok=0
    lines+=("$cpu: camera-demo.sh failed (log: $WORK/$cpu.log)")
    continue
  fi
  took=$(( $(date +%s) - start ))
  ran="$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t.get("inference_precision", "?"))' \
    "$ROOT$HOME_IN/check/$cpu/timing.json" 2>/dev/null || echo '?')"
  # What this CPU runs when nobody pins a precision (the docs' "Pi 5 runs f16 by default").
  default="$(QEMU_CPU="$cpu" chroot "$ROOT" runuser -l "$NAME" -c "export QEMU_CPU=$cpu; \
    ~/fer-edge-runtime/.venv/bin/python -c 'from fer_edge.bundle import load_bundle
from fer_edge.defaults import default_bundle_path
from fer_edge.deploy import load_model
print(load_model(load_bundle(default_bundle_path()).model_path(\"frame\")).inference_precision)'" 2>/dev/null || echo '?')"
  line="$(python3 "$REPO/tools/compare_events.py" "$WORK/x86/events.jsonl" "$ROOT$HOME_IN/check/$cpu/events.jsonl" \
    --name "$cpu (ran $ran, default $default, ${took}s)")" || ok=0
  lines+=("$line")
done

summary="$(printf '%s; ' "${lines[@]}")"
echo "pi-check: $( [ "$ok" = 1 ] && echo OK || echo FAIL ) Debian 12 arm64 (QEMU), install.sh as $NAME, no TensorFlow: ${summary%; } (vs x86)"
[ "$ok" = 1 ]
