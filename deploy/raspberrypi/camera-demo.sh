#!/usr/bin/env bash
# Camera demo on a Raspberry Pi: fer-edge demo on a USB webcam or the CSI camera module.
#
# Settings come from the environment (the systemd unit reads /etc/default/fer-edge-demo):
#   FER_EDGE_SOURCE  camera index (USB webcam, default 0), "csi" for the camera module, or a file/URL
#   FER_EDGE_BUNDLE  bundle folder (default: the FER2013 mini-Xception, imported on first run
#                    without TensorFlow)
#   FER_EDGE_OUT     output folder for events.jsonl, timing.json, demo.mp4 (default PREFIX/runs/camera)
#   FER_EDGE_ARGS    extra arguments for fer-edge demo, e.g. "--precision FP16 --detect-every 5"
#   FER_EDGE_VENV    the runtime's virtual environment (default PREFIX/.venv)
#   FER_EDGE_CSI_SIZE, FER_EDGE_CSI_FPS   camera module mode (default 640x480, 30 fps)
# PREFIX is the folder install.sh put this script in (~/fer-edge-runtime by default).
set -euo pipefail

PREFIX="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${FER_EDGE_VENV:-$PREFIX/.venv}"
SOURCE="${FER_EDGE_SOURCE:-0}"
OUT="${FER_EDGE_OUT:-$PREFIX/runs/camera}"
PORT="${FER_EDGE_CSI_PORT:-8888}"
CSI_SIZE="${FER_EDGE_CSI_SIZE:-640x480}"
CSI_FPS="${FER_EDGE_CSI_FPS:-30}"
read -r -a EXTRA <<< "${FER_EDGE_ARGS:-}"

if [ ! -x "$VENV/bin/fer-edge" ]; then
  echo "camera-demo.sh: no fer-edge in $VENV; run install.sh first" >&2
  exit 1
fi

args=(demo --no-show --out "$OUT" --tracker medianflow)
if [ -n "${FER_EDGE_BUNDLE:-}" ]; then
  args+=(--bundle "$FER_EDGE_BUNDLE")
fi

streamer=""
cleanup() {
  if [ -n "$streamer" ]; then
    kill "$streamer" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if [ "$SOURCE" = "csi" ]; then
  # Bookworm drives the camera module through libcamera, which OpenCV cannot open directly:
  # rpicam-vid streams H.264 over local TCP and OpenCV's FFmpeg backend reads it.
  if ! command -v rpicam-vid >/dev/null; then
    echo "camera-demo.sh: rpicam-vid not found: sudo apt install rpicam-apps" >&2
    exit 1
  fi
  rpicam-vid -t 0 -n --inline --width "${CSI_SIZE%x*}" --height "${CSI_SIZE#*x}" --framerate "$CSI_FPS" \
    --listen -o "tcp://127.0.0.1:$PORT" &
  streamer=$!
  sleep 2
  SOURCE="tcp://127.0.0.1:$PORT"
  # Raw H.264 carries no timestamps: the events' times come from the camera's frame rate.
  args+=(--fps "$CSI_FPS")
fi

mkdir -p "$OUT"
"$VENV/bin/fer-edge" "${args[@]}" --source "$SOURCE" "${EXTRA[@]}"
