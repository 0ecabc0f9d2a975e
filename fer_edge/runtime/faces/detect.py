"""Face detectors: a small protocol, the Haar cascade the thesis used, and a registry by name.

A detector returns boxes ``(x, y, w, h)`` in pixels of the frame it was given, largest first.
Other detectors (an OpenVINO/ONNX SSD, say) plug in with :func:`register_detector`.

numpy + OpenCV only: this module is imported by the edge runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Tuple  # noqa: UP035 - Box is subscripted at import, on Python 3.7 too

try:
    from typing import Protocol, runtime_checkable  # novermin - guarded: 3.8+
except ImportError:  # Python 3.7 (the NCS2's OpenVINO 2021.4 on a Pi): a plain base; nothing checks it
    Protocol = object  # type: ignore[assignment]

    def runtime_checkable(cls):  # type: ignore[no-redef]
        return cls


import cv2
import numpy as np

from fer_edge.core.errors import FerEdgeError, unknown_choice

__all__ = ["DEMO_DETECTOR", "DETECTORS", "Box", "Detector", "HaarDetector", "create_detector", "register_detector"]

DEMO_DETECTOR = "blazeface-both"
"""The demo's detector (the runtime's own default, ``PipelineConfig.detector``, is the thesis' Haar);
the benchmarks that measure the demo use it too."""

Box = Tuple[int, int, int, int]  # noqa: UP006
"""A face box ``(x, y, w, h)`` in integer pixels."""

_OPENCV_FIX = 'pip install "opencv-contrib-python-headless>=4.12,<5"'


@runtime_checkable
class Detector(Protocol):
    """Anything that finds faces in a BGR frame.

    Example:
        >>> boxes = create_detector("haar").detect(frame)  # doctest: +SKIP
    """

    def detect(self, frame_bgr: np.ndarray) -> list[Box]:
        """Return face boxes in pixels of ``frame_bgr``, largest first."""
        ...


DETECTORS: dict[str, Callable[..., Detector]] = {}


def register_detector(name: str) -> Callable[[Callable[..., Detector]], Callable[..., Detector]]:
    """Register a detector factory under ``name`` for :func:`create_detector`.

    Example:
        >>> @register_detector("ssd")  # doctest: +SKIP
        ... def _ssd(**kw): return SsdDetector(**kw)
    """

    def wrap(factory: Callable[..., Detector]) -> Callable[..., Detector]:
        DETECTORS[name] = factory
        return factory

    return wrap


def _cascade_path(cascade: str | Path) -> Path:
    given = Path(cascade)
    if given.is_file():
        return given
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if folder is None or not (Path(folder) / given.name).is_file():
        raise FerEdgeError(
            f"Haar cascade {given.name} not found in this OpenCV {cv2.__version__} build "
            f"(OpenCV 5 or a build without cv2.data); install a 4.x build with: {_OPENCV_FIX}"
        )
    return Path(folder) / given.name


class HaarDetector:
    """Viola-Jones Haar cascade face detector (OpenCV), as in the thesis (section 3.2.1).

    For speed it runs on an equalised grayscale copy downscaled so its longer side is at most
    ``max_side`` pixels and maps the boxes back: on a 640x360 frame this is ~1.8x fewer pixels
    and faces smaller than ``min_size`` are not searched for anyway.

    Args:
        scale_factor: image pyramid step (> 1); smaller finds more faces, slower.
        min_neighbors: overlapping hits needed to keep a box; higher means fewer false faces.
        min_size: smallest face ``(w, h)`` in pixels of the original frame.
        cascade: a file name in ``cv2.data.haarcascades`` or a path to a cascade XML.
        max_side: downscale frames whose longer side exceeds this (``0`` disables).
        equalize: equalise the histogram first (helps in dim or low-contrast video; on
            strongly textured backgrounds it can make detection slower).

    Example:
        >>> detector = HaarDetector(min_size=(60, 60))
        >>> detector.detect(np.zeros((120, 160, 3), np.uint8))
        []
    """

    def __init__(
        self,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: tuple[int, int] = (40, 40),
        cascade: str | Path = "haarcascade_frontalface_default.xml",
        max_side: int = 480,
        equalize: bool = True,
    ) -> None:
        if scale_factor <= 1.0:
            raise ValueError(f"scale_factor must be > 1, got {scale_factor}")
        if min_neighbors < 0:
            raise ValueError(f"min_neighbors must be >= 0, got {min_neighbors}")
        if max_side < 0:
            raise ValueError(f"max_side must be >= 0, got {max_side}")
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.min_size = (int(min_size[0]), int(min_size[1]))
        self.max_side = int(max_side)
        self.equalize = bool(equalize)
        self.cascade_path = _cascade_path(cascade)
        try:
            self._cascade = cv2.CascadeClassifier(str(self.cascade_path))
            broken = self._cascade.empty()
        except (cv2.error, SystemError):  # OpenCV raises on malformed XML instead of returning empty
            broken = True
        if broken:
            raise FerEdgeError(
                f"cannot load Haar cascade {self.cascade_path} (not a cascade XML or corrupt); "
                f"use a file from cv2.data.haarcascades or reinstall OpenCV: {_OPENCV_FIX}"
            )

    def detect(self, frame_bgr: np.ndarray) -> list[Box]:
        """Find faces; returns ``(x, y, w, h)`` boxes in frame pixels, largest first.

        Example:
            >>> HaarDetector().detect(np.full((240, 320, 3), 127, np.uint8))
            []
        """
        if frame_bgr.ndim == 3 and frame_bgr.shape[2] == 3:
            gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        elif frame_bgr.ndim == 3 and frame_bgr.shape[2] == 4:
            gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGRA2GRAY)
        else:
            gray = frame_bgr if frame_bgr.ndim == 2 else np.ascontiguousarray(frame_bgr[..., 0])
        height, width = gray.shape[:2]
        if min(height, width) < 24:  # thinner than the cascade window: no face fits (and a 4000x5
            return []  # frame would be downscaled to a side of 0)
        scale = 1.0
        if self.max_side and max(height, width) > self.max_side:
            scale = self.max_side / max(height, width)
            gray = cv2.resize(
                gray, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
            )
        if self.equalize:
            gray = cv2.equalizeHist(gray)
        # The cascade window is 24x24: asking for less only costs time.
        min_w = max(24, round(self.min_size[0] * scale))
        min_h = max(24, round(self.min_size[1] * scale))
        found = self._cascade.detectMultiScale(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(min_w, min_h)
        )
        if len(found) == 0:
            return []
        boxes: list[Box] = []
        for x, y, w, h in np.asarray(found, dtype=np.float64) / scale:
            x0, y0 = max(0, round(x)), max(0, round(y))
            x1, y1 = min(width, round(x + w)), min(height, round(y + h))
            if x1 > x0 and y1 > y0:
                boxes.append((x0, y0, x1 - x0, y1 - y0))
        boxes.sort(key=lambda b: b[2] * b[3], reverse=True)
        return boxes

    def __repr__(self) -> str:
        return (
            f"HaarDetector(scale_factor={self.scale_factor}, min_neighbors={self.min_neighbors}, "
            f"min_size={self.min_size}, cascade={self.cascade_path.name!r}, "
            f"max_side={self.max_side}, equalize={self.equalize})"
        )


@register_detector("haar")
def _haar(**kwargs: object) -> Detector:
    return HaarDetector(**kwargs)  # type: ignore[arg-type]


@register_detector("haar-alt2")
def _haar_alt2(**kwargs: object) -> Detector:
    # OpenCV's alt2 cascade: fewer false positives on cluttered backgrounds, a little slower.
    kwargs.setdefault("cascade", "haarcascade_frontalface_alt2.xml")
    return HaarDetector(**kwargs)  # type: ignore[arg-type]


@register_detector("blazeface")
def _blazeface(**kwargs: object) -> Detector:
    # MediaPipe BlazeFace short range (128x128): fetched and converted on first use.
    from fer_edge.runtime.faces.blazeface import BlazeFaceDetector

    return BlazeFaceDetector("short", **kwargs)  # type: ignore[arg-type]


@register_detector("blazeface-full")
def _blazeface_full(**kwargs: object) -> Detector:
    # BlazeFace full range (192x192): smaller/farther faces, ~2x the cost of short range.
    from fer_edge.runtime.faces.blazeface import BlazeFaceDetector

    return BlazeFaceDetector("full", **kwargs)  # type: ignore[arg-type]


@register_detector("blazeface-both")
def _blazeface_both(**kwargs: object) -> Detector:
    # Short + full range merged: close-ups and small faces in a group alike (the demo's default).
    from fer_edge.runtime.faces.merged import MergedBlazeFace

    return MergedBlazeFace(**kwargs)


def create_detector(name: str = "haar", **kwargs: object) -> Detector:
    """Build a registered detector by name.

    Args:
        name: ``"haar"`` (default), ``"haar-alt2"``, ``"blazeface"``, ``"blazeface-full"``, ``"blazeface-both"``
            (short + full range merged) or any name added with
            :func:`register_detector`.
        **kwargs: forwarded to the detector, e.g. ``min_size=(60, 60)``.

    Raises:
        FerEdgeError: unknown name (with a "did you mean").

    Example:
        >>> create_detector("haar", min_neighbors=4)  # doctest: +ELLIPSIS
        HaarDetector(scale_factor=1.1, min_neighbors=4, min_size=(40, 40), ...)
    """
    key = name.strip().lower()
    if key not in DETECTORS:
        raise unknown_choice("face detector", name, sorted(DETECTORS), match=key)
    return DETECTORS[key](**kwargs)
