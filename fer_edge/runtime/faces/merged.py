"""Faces in any scene: BlazeFace short range (close-ups) and full range (small faces) merged.

Neither BlazeFace model alone finds faces at every scale: on real photos the short-range model
(128x128 input) finds 0 of the 5 faces of a group photo whose faces are a tenth of the frame,
the full-range model (192x192) 5/5, while on close-ups filling half the frame the full-range
model misses about half of what the short-range one finds (``benchmarks/detectors.py``). This
detector runs both on the frame and merges their detections by weighted NMS, in frame pixels.
Small images (a tracker's region of interest, where the face fills a good part of the image)
get the short-range model only: the full-range one adds nothing there but its cost.

numpy + OpenCV + OpenVINO only: this module is imported by the edge runtime.
"""

from __future__ import annotations

import cv2
import numpy as np

from fer_edge.runtime.faces.blazeface import BlazeFaceDetector, Detection, weighted_nms

__all__ = ["MergedBlazeFace"]

_WORK_SIDE = 384
FULL_THRESHOLD = 0.7


class MergedBlazeFace:
    """BlazeFace short + full range as one :class:`~fer_edge.runtime.faces.detect.Detector`.

    Args:
        full_above: run the full-range model too when the image's longer side exceeds this many
            pixels (smaller images hold faces big enough for the short-range model).
        iou: overlap above which a short- and a full-range box are one face.
        min_size: smallest face ``(w, h)`` to report, in frame pixels.
        **kwargs: for both :class:`BlazeFaceDetector` (``device``; ``threshold`` applies to both).

    Example:
        >>> det = MergedBlazeFace()  # doctest: +SKIP
        >>> det.detect(group_photo)  # small and close-up faces alike, largest first  # doctest: +SKIP
    """

    def __init__(
        self, *, full_above: int = 256, iou: float = 0.3, min_size: tuple[int, int] = (0, 0), **kwargs: object
    ) -> None:
        # min_size is in frame pixels: checked here, after the shared downscale is undone.
        self.min_size = (int(min_size[0]), int(min_size[1]))
        self.short = BlazeFaceDetector("short", **kwargs)  # type: ignore[arg-type]
        # Full range at the short range's 0.7, not its own 0.6: every call now runs it, and at
        # 0.6 a cartoon title got a false track (benchmarks/detectors.py); real group faces score 0.8+.
        full = {"threshold": FULL_THRESHOLD, **kwargs}
        self.full = BlazeFaceDetector("full", **full)  # type: ignore[arg-type]
        self.full_above = int(full_above)
        self.iou = float(iou)
        self.last: list[Detection] = []

    def detect_full(self, frame_bgr: np.ndarray) -> list[Detection]:
        """Faces with keypoints and scores from both models, merged, largest first."""
        height, width = frame_bgr.shape[:2]
        # Both models see at most 192 px: one shared downscale to twice that loses nothing and
        # spares each model resizing the full frame (a 1080p frame costs more than either model).
        factor = min(1.0, _WORK_SIDE / max(height, width))
        small = frame_bgr
        if factor < 1.0:
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            small = cv2.resize(frame_bgr, size, interpolation=cv2.INTER_AREA)
        found = self.short.detect_full(small)
        if max(height, width) > self.full_above:
            found = found + self.full.detect_full(small)
        if not found:
            return []
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (d.box for d in found)], np.float32) / factor
        points = np.stack([d.keypoints for d in found]).astype(np.float32) / factor
        scores = np.array([d.score for d in found], np.float32)
        merged = []
        for box, pts, score in weighted_nms(boxes, points, scores, self.iou):
            x0, y0 = max(0, round(float(box[0]))), max(0, round(float(box[1])))
            x1, y1 = min(width, round(float(box[2]))), min(height, round(float(box[3])))
            if x1 - x0 >= max(1, self.min_size[0]) and y1 - y0 >= max(1, self.min_size[1]):
                merged.append(Detection((x0, y0, x1 - x0, y1 - y0), pts, score))
        merged.sort(key=lambda d: d.box[2] * d.box[3], reverse=True)
        return merged

    def detect(self, frame_bgr: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Face boxes ``(x, y, w, h)`` in frame pixels, largest first (keypoints in :attr:`last`)."""
        self.last = self.detect_full(frame_bgr)
        return [d.box for d in self.last]

    def __repr__(self) -> str:
        return f"MergedBlazeFace(full_above={self.full_above}, iou={self.iou})"
