#!/usr/bin/env python3
"""fer-edge on a Neural Compute Stick 2 with OpenVINO 2022.3 LTS (the last release with MYRIAD).

fer-edge itself needs a current OpenVINO and Python >= 3.10, so this script stands alone:
Python 3.7-3.10, numpy, OpenCV and the 2022.3 runtime. It reads a fer-edge bundle's
manifest.json (labels, frame size, colour, normalisation, pad_y, window) and its ONNX (or
IR v11) models, detects faces with OpenCV's Haar cascade, crops them the way fer-edge does
(+pad_y px at the bottom, squared, resized), and runs ``frame`` bundles per face, or
``cascade`` bundles (spatial per frame, temporal over the last ``window.length`` frames every
``window.stride`` frames). Faces are matched between frames by box overlap (one track per
face while it stays in view). Events go to stdout as JSON Lines.

    ~/fer-edge-ncs2/run.sh ncs2_demo.py --bundle runs/fer-ncs2 --source 0 --device MYRIAD
"""

from __future__ import print_function

import argparse
import json
import os
import sys
import time

import cv2
import numpy as np


def load_manifest(bundle):
    with open(os.path.join(bundle, "manifest.json")) as fh:
        return json.load(fh)


def model_file(bundle, entry):
    """The file the old runtime can read: ONNX first, then an FP16 IR variant, then the main IR."""
    candidates = [entry["file"]] + list(entry.get("variants", {}).values())
    for pick in (lambda f: f.endswith(".onnx"), lambda f: "16" in f and f.endswith(".xml"),
                 lambda f: f.endswith(".xml")):
        for f in candidates:
            if pick(f):
                return os.path.join(bundle, f)
    sys.exit("no .onnx or .xml model in {}: export it with: fer-edge export {} --format onnx".format(
        entry, bundle))


def compile_on(core, path, device, batch_one=True):
    model = core.read_model(path)
    if batch_one:  # MYRIAD needs static shapes
        shapes = {}
        for port in model.inputs:
            dims = [d.get_length() if d.is_static else 1 for d in port.get_partial_shape()]
            shapes[port.get_any_name()] = dims
        model.reshape(shapes)
    return core.compile_model(model, device)


def crop(frame, box, side, pad_y):
    x, y, w, h = box
    h += pad_y
    height, width = frame.shape[:2]
    s = min(max(w, h), width, height)
    left = min(max((2 * x + w - s) // 2, 0), width - s)
    top = min(max((2 * y + h - s) // 2, 0), height - s)
    patch = frame[top:top + s, left:left + s]
    interp = cv2.INTER_AREA if s > side else cv2.INTER_LINEAR
    return cv2.resize(patch, (side, side), interpolation=interp)


def to_input(patch, spec):
    h, w = spec["size"]
    if patch.shape[:2] != (h, w):
        patch = cv2.resize(patch, (w, h), interpolation=cv2.INTER_AREA)
    color = spec.get("color", "RGB").upper()
    if color == "GRAY":
        patch = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)[..., None]
    elif color == "RGB":
        patch = patch[..., ::-1]
    x = patch.astype(np.float32) / 255.0
    mean = np.asarray(spec.get("mean", [0.0]), np.float32)
    std = np.asarray(spec.get("std", [1.0]), np.float32)
    return ((x - mean) / std)[None]


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / float(aw * ah + bw * bh - inter) if inter else 0.0


def softmax(x):
    if x.min() >= 0 and abs(float(x.sum()) - 1.0) < 1e-2:
        return x
    e = np.exp(x - x.max())
    return e / e.sum()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", required=True, help="fer-edge bundle folder with ONNX / FP16 IR models")
    p.add_argument("--source", default="0", help="camera index, video file or stream URL")
    p.add_argument("--device", default="MYRIAD", help="MYRIAD (NCS2) or CPU")
    p.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0 = never)")
    p.add_argument("--output", help="annotated video (.avi)")
    args = p.parse_args(argv)
    try:
        from openvino.runtime import Core  # 2022.3
    except ImportError:
        try:
            from openvino import Core  # current releases: CPU/GPU only, handy to check a bundle first
        except ImportError:
            Core = None
    if Core is None:
        sys.exit("OpenVINO 2022.3 is not in this Python: run install-ncs2.sh, then ~/fer-edge-ncs2/run.sh")
    core = Core()
    if not any(d.startswith(args.device) for d in core.available_devices):
        sys.exit("device {} not found (present: {}); run check_runtime.py".format(
            args.device, ", ".join(core.available_devices) or "none"))
    man = load_manifest(args.bundle)
    spec, labels, kind = man["frame"], man["labels"], man["kind"]
    if kind not in ("frame", "cascade"):
        sys.exit("this demo runs frame and cascade bundles, not {}".format(kind))
    models = man["models"]
    first = compile_on(core, model_file(args.bundle, models["frame" if kind == "frame" else "spatial"]), args.device)
    head = compile_on(core, model_file(args.bundle, models["temporal"]), args.device) if kind == "cascade" else None
    window = man.get("window", {})
    length, stride = int(window.get("length", 1)), int(window.get("stride", 1))
    side = max(spec["size"])
    detector = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml"))
    source = int(args.source) if args.source.isdigit() else args.source
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        sys.exit("cannot open source {}".format(args.source))
    writer = None
    tracks, next_id, index, t0 = {}, 1, 0, time.time()
    try:
        while not args.max_frames or index < args.max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            gray = cv2.equalizeHist(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            boxes = [tuple(int(v) for v in b) for b in detector.detectMultiScale(gray, 1.1, 5, minSize=(40, 40))]
            seen = {}
            for box in boxes:
                match = max(tracks, key=lambda t: iou(tracks[t]["box"], box), default=None)
                if match is None or match in seen or iou(tracks[match]["box"], box) < 0.3:
                    match, next_id = next_id, next_id + 1
                    tracks[match] = {"feats": [], "scores": None, "since": 0}
                track = tracks[match]
                track["box"] = box
                seen[match] = True
                out = np.asarray(first([to_input(crop(frame, box, side, spec.get("pad_y", 10)), spec)])[first.outputs[0]])
                if head is None:
                    track["scores"] = softmax(out[0])
                else:
                    track["feats"] = (track["feats"] + [out[0]])[-length:]
                    track["since"] += 1
                    if track["since"] >= stride or track["scores"] is None:
                        track["since"] = 0
                        x = np.zeros((1, length, out.shape[-1]), np.float32)
                        mask = np.zeros((1, length), np.float32)
                        n = len(track["feats"])
                        x[0, :n] = np.stack(track["feats"])
                        mask[0, :n] = 1.0
                        feed = [x, mask][:len(head.inputs)]
                        track["scores"] = softmax(np.asarray(head(feed)[head.outputs[0]])[0])
                scores = track["scores"]
                label = labels[int(scores.argmax())]
                print(json.dumps({"frame": index, "track": match, "box": list(box), "label": label,
                                  "scores": {k: round(float(v), 4) for k, v in zip(labels, scores)}}))
                x0, y0, w, h = box
                cv2.rectangle(frame, (x0, y0), (x0 + w, y0 + h), (0, 200, 0), 2)
                cv2.putText(frame, "{} {}".format(match, label), (x0, max(12, y0 - 6)), cv2.FONT_HERSHEY_SIMPLEX,
                            0.6, (0, 200, 0), 2)
            tracks = {k: v for k, v in tracks.items() if k in seen}
            if args.output:
                if writer is None:
                    writer = cv2.VideoWriter(args.output, cv2.VideoWriter_fourcc(*"MJPG"), 15,
                                             (frame.shape[1], frame.shape[0]))
                writer.write(frame)
            index += 1
    except KeyboardInterrupt:
        pass
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    seconds = time.time() - t0
    print("{} frames in {:.1f} s = {:.1f} fps on {}".format(index, seconds, index / seconds if seconds else 0,
                                                           args.device), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
