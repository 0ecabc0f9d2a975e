#!/usr/bin/env bash
# Camera demo on a Raspberry Pi: fer-edge demo on a USB webcam or the CSI camera module.
#
# Settings come from the environment (the systemd unit reads /etc/default/fer-edge-demo):
#   FER_EDGE_SOURCE  camera index (USB webcam, default 0), "csi" for the camera module, or a file/URL
#   FER_EDGE_BUNDLE  bundle folder (default: the FER2013 mini-Xception, fetched on first run)
#   FER_EDGE_OUT     output folder for events.jsonl, timing.json, demo.mp4 (default ~/fer-edge/runs/camera)
#   FER_EDGE_ARGS    extra arguments for fer-edge demo, e.g. "--precision FP16 --detect-every 5"
#   FER_EDGE_VENV    the runtime's virtual environment (default ~/fer-edge/.venv)
set -euo pipefail

VENV="${FER_EDGE_VENV:-$HOME/fer-edge/.venv}"
SOURCE="${FER_EDGE_SOURCE:-0}"
OUT="${FER_EDGE_OUT:-$HOME/fer-edge/runs/camera}"
PORT="${FER_EDGE_CSI_PORT:-8888}"
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
  rpicam-vid -t 0 -n --inline --width 640 --height 480 --framerate 30 --listen -o "tcp://127.0.0.1:$PORT" &
  streamer=$!
  sleep 2
  SOURCE="tcp://127.0.0.1:$PORT"
fi

mkdir -p "$OUT"
"$VENV/bin/fer-edge" "${args[@]}" --source "$SOURCE" "${EXTRA[@]}"
