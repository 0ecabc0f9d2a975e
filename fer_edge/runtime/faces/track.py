"""Single-object trackers from OpenCV behind one small interface.

OpenCV has two tracker APIs (``cv2.TrackerKCF_create`` returns ``None`` from ``init`` and int
boxes; ``cv2.legacy.*`` returns a bool and float boxes, and cannot be re-initialised). The
:class:`Tracker` wrapper hides both: ``init(frame, box)`` then ``update(frame) -> (ok, box)``
with ``box`` an int ``(x, y, w, h)`` clipped to the frame.

Measured per update on a 640x360 frame with a 63 px face (one OpenCV thread, 2-core
development VM, full-size frames): MOSSE 0.14 ms, MedianFlow 0.65 ms, KCF 5.2 ms (3.5 ms
with its default ``max_box=48``), MIL 19 ms, CSRT 23 ms.
MOSSE searches only inside the box, so it loses faces moving more than ~3 px per frame;
the thesis chose MedianFlow for its speed (section 3.2.1).

numpy + OpenCV only: this module is imported by the edge runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from fer_edge.core.errors import FerEdgeError, unknown_choice
from fer_edge.runtime.faces.detect import Box

__all__ = ["AUTO_MAX_BOX", "TRACKERS", "Tracker", "clip_box", "create_tracker"]

TRACKERS = ("csrt", "kcf", "medianflow", "mosse", "mil")

# (module path, factory name) per tracker, the modern API first where it exists.
_FACTORIES: dict[str, tuple[tuple[str, str], ...]] = {
    "csrt": (("", "TrackerCSRT_create"), ("legacy", "TrackerCSRT_create")),
    "kcf": (("", "TrackerKCF_create"), ("legacy", "TrackerKCF_create")),
    "medianflow": (("legacy", "TrackerMedianFlow_create"), ("", "TrackerMedianFlow_create")),
    "mosse": (("legacy", "TrackerMOSSE_create"), ("", "TrackerMOSSE_create")),
    "mil": (("", "TrackerMIL_create"), ("legacy", "TrackerMIL_create")),
}

# Downscaling pays off only for KCF (cost ~ box area); MedianFlow, MOSSE and MIL gain
# nothing and CSRT gets slower on small frames, so "auto" downscales KCF alone.
AUTO_MAX_BOX = {"kcf": 48}

# A box that slid mostly out of the frame is a lost face, not a tracked one.
_MIN_VISIBLE_FRACTION = 0.25


def clip_box(box: tuple[float, float, float, float], frame_shape: tuple[int, ...]) -> Box | None:
    """Round ``box`` to ints and clip it to the frame; ``None`` if nothing is left.

    Example:
        >>> clip_box((-10.4, 5.0, 50.0, 20.0), (100, 100, 3))
        (0, 5, 40, 20)
    """
    height, width = int(frame_shape[0]), int(frame_shape[1])
    x, y, w, h = (float(v) for v in box)
    x0, y0 = max(0, round(x)), max(0, round(y))
    x1, y1 = min(width, round(x + w)), min(height, round(y + h))
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def _factory(name: str) -> Callable[[], Any]:
    for module, attr in _FACTORIES[name]:
        owner = getattr(cv2, module, None) if module else cv2
        factory = getattr(owner, attr, None) if owner is not None else None
        if factory is not None:
            return factory
    raise FerEdgeError(
        f"tracker '{name}' is not in this OpenCV {cv2.__version__} build (it needs the contrib modules); "
        'install it with: pip install "opencv-contrib-python-headless>=4.12,<5" '
        "(and uninstall other opencv-python packages)"
    )


class Tracker:
    """One OpenCV tracker following one box.

    Use :func:`create_tracker` to build one. When ``max_box`` is set and the box is larger,
    the tracker runs on a copy of each frame downscaled so the box's longer side is
    ``max_box`` pixels, and its boxes are mapped back: KCF's cost grows with the box area
    (5.5 ms for a 93 px face at full size, 3.4 ms at 48 px, about one pixel more error),
    while the resize costs ~0.2 ms.

    Example:
        >>> tracker = create_tracker("kcf")  # doctest: +SKIP
        >>> tracker.init(frame0, (100, 80, 90, 90))  # doctest: +SKIP
        >>> ok, box = tracker.update(frame1)  # doctest: +SKIP
    """

    def __init__(self, name: str, factory: Callable[[], Any], *, max_box: int | None = None) -> None:
        if max_box is not None and max_box < 16:
            raise ValueError(f"max_box must be >= 16 pixels or None, got {max_box}")
        self.name = name
        self.max_box = max_box
        self._factory = factory
        self._tracker: Any = None
        self._scale = 1.0
        self.box: Box | None = None

    def _view(self, frame: np.ndarray) -> np.ndarray:
        if self._scale == 1.0:
            return frame
        height, width = frame.shape[:2]
        size = (max(1, round(width * self._scale)), max(1, round(height * self._scale)))
        # LINEAR, not AREA: 6x cheaper at arbitrary ratios and trackers do not mind the aliasing.
        return cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)

    def init(self, frame: np.ndarray, box: tuple[float, float, float, float]) -> None:
        """Start following ``box`` (pixels of ``frame``); may be called again to re-target.

        Raises:
            ValueError: the box does not overlap the frame or OpenCV rejects it.
        """
        clipped = clip_box(box, frame.shape)
        if clipped is None:
            raise ValueError(f"box {tuple(box)} is outside the {frame.shape[1]}x{frame.shape[0]} frame")
        longest = max(clipped[2], clipped[3])
        self._scale = min(1.0, self.max_box / longest) if self.max_box else 1.0
        s = self._scale
        x, y, w, h = clipped
        scaled = (round(x * s), round(y * s), max(1, round(w * s)), max(1, round(h * s)))
        # A fresh object each time: legacy trackers refuse a second init().
        tracker = self._factory()
        try:
            ok = tracker.init(self._view(frame), scaled)
        except cv2.error as exc:
            raise ValueError(f"{self.name} tracker cannot start on box {clipped}: {exc}") from None
        if ok is False:  # legacy API; the modern one returns None
            raise ValueError(f"{self.name} tracker cannot start on box {clipped}")
        self._tracker = tracker
        self.box = clipped

    def update(self, frame: np.ndarray) -> tuple[bool, Box]:
        """Locate the target in ``frame``; returns ``(ok, box)`` (last box when not ok).

        ``ok`` is False when the tracker reports a loss, fails, or its box is mostly outside
        the frame.
        """
        if self._tracker is None or self.box is None:
            raise ValueError(f"{self.name} tracker: call init(frame, box) before update(frame)")
        try:
            ok, raw = self._tracker.update(self._view(frame))
        except cv2.error:
            return False, self.box
        if not ok:
            return False, self.box
        if self._scale != 1.0:
            raw = tuple(float(v) / self._scale for v in raw)
        clipped = clip_box(raw, frame.shape)
        area = float(raw[2]) * float(raw[3])
        if clipped is None or area <= 0 or clipped[2] * clipped[3] < _MIN_VISIBLE_FRACTION * area:
            return False, self.box
        self.box = clipped
        return True, clipped

    def __repr__(self) -> str:
        return f"Tracker({self.name!r}, box={self.box}, max_box={self.max_box})"


def create_tracker(name: str = "kcf", *, max_box: int | str | None = "auto") -> Tracker:
    """Create a tracker by name: one of :data:`TRACKERS`.

    Args:
        name: ``csrt``, ``kcf``, ``medianflow``, ``mosse`` or ``mil`` (case, ``-`` and ``_``
            are ignored).
        max_box: track on frames downscaled so the box's longer side is at most this many
            pixels (see :class:`Tracker`); ``None`` keeps full size; ``"auto"`` (default)
            uses :data:`AUTO_MAX_BOX` (48 for KCF, full size for the others).

    Raises:
        FerEdgeError: unknown name (with a "did you mean"), or the tracker is missing from the
            installed OpenCV build.

    Example:
        >>> create_tracker("kcf")
        Tracker('kcf', box=None, max_box=48)
        >>> create_tracker("csrt")
        Tracker('csrt', box=None, max_box=None)
    """
    key = name.strip().lower().replace("-", "").replace("_", "")
    if key not in TRACKERS:
        raise unknown_choice("tracker", name, TRACKERS, match=key)
    if max_box == "auto":
        max_box = AUTO_MAX_BOX.get(key)
    elif isinstance(max_box, str):
        raise ValueError(f"max_box must be a number of pixels, None or 'auto', got {max_box!r}")
    return Tracker(key, _factory(key), max_box=max_box)
