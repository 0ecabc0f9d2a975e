"""Cut neutral frames off the start and end of a clip: the thesis' Algorithm 1, exactly.

A posed clip goes neutral -> onset -> peak -> offset -> neutral. Given one intensity value per
frame (mean OpenFace AU intensity, or :mod:`fer_edge.data.intensity`'s built-in estimate),
:func:`trim` returns the span of frames to keep:

* the threshold is 50 % of the clip's maximum intensity;
* from the start, frames are cut while below the threshold; the first frame at or above it
  stops cutting from the start for good;
* from the end, frames are cut while below the threshold *or* while fewer than 10 end frames
  have been cut (the thesis found the offset phase long); the first later frame at or above the
  threshold stops cutting from the end for good;
* both sides advance one frame per step; the loop ends when both have stopped or when the
  number of cut frames reaches half the clip (checked after each step, as in line 18 of the
  algorithm, so the count can pass ``n / 2`` by one frame when both sides cut in that step);
* when the maximum lies in the last 20 frames the clip is an *anomaly* (the subject smiled,
  blinked or moved at the end): it is flagged and left untrimmed for manual review. A clip of
  20 frames or fewer is therefore always an anomaly.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fer_edge.core.errors import FerEdgeError

MIN_FRAMES_END = 10
"""Frames always cut from the end (Algorithm 1, line 1)."""
THRESHOLD = 0.5
"""Fraction of the clip's maximum intensity below which a frame counts as neutral (line 2)."""
MAX_CUT_FRACTION = 0.5
"""At most this fraction of the clip is cut (line 3)."""
ANOMALY_TAIL = 20
"""A maximum within this many last frames flags the clip as an anomaly."""


class Span(NamedTuple):
    """Frames ``[start, stop)`` to keep; ``anomaly`` means untrimmed, needs a human look.

    Example:
        >>> start, stop, anomaly = Span(3, 40, False)
        >>> stop - start
        37
    """

    start: int
    stop: int
    anomaly: bool

    @property
    def length(self) -> int:
        """Number of kept frames."""
        return self.stop - self.start


def trim(
    intensity,
    *,
    min_frames_end: int = MIN_FRAMES_END,
    threshold: float = THRESHOLD,
    max_cut_fraction: float = MAX_CUT_FRACTION,
    anomaly_tail: int = ANOMALY_TAIL,
) -> Span:
    """Apply Algorithm 1 to a per-frame intensity curve.

    Args:
        intensity: 1-D sequence of per-frame intensities (any non-negative scale).
        min_frames_end: frames always cut from the end.
        threshold: fraction of the maximum below which a frame is neutral.
        max_cut_fraction: the loop stops once this fraction of the clip is cut.
        anomaly_tail: a maximum in the last ``anomaly_tail`` frames flags an anomaly.

    Returns:
        ``Span(start, stop, anomaly)`` with ``stop`` exclusive; ``(0, n, True)`` for an anomaly.

    Raises:
        FerEdgeError: empty curve, not 1-D, or containing NaN/inf.

    Example:
        >>> trim([0] * 20 + [1] * 60 + [0] * 20)
        Span(start=20, stop=80, anomaly=False)
        >>> trim([0] * 30 + [1] * 40 + [0] * 30)  # would cut 60 %: stops at half the clip
        Span(start=25, stop=75, anomaly=False)
    """
    x = np.asarray(intensity, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise FerEdgeError(f"intensity must be a non-empty 1-D sequence (one value per frame), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise FerEdgeError(f"intensity has a non-finite value at frame {bad}; fill failed frames (e.g. with 0) first")
    n = int(x.size)
    peak = float(x.max())
    # Any frame reaching the maximum inside the tail counts: ties are the end being as
    # expressive as the peak, which is exactly what the anomaly rule guards against.
    if np.any(x[max(0, n - anomaly_tail) :] >= peak):
        return Span(0, n, True)

    limit = threshold * peak
    max_frames = n * max_cut_fraction
    cut_start = cut_end = 0
    start_open = end_open = True
    i = 0
    while True:
        if start_open:
            if x[i] < limit:
                cut_start += 1
            else:
                start_open = False
        if end_open:
            if x[n - 1 - i] < limit or i < min_frames_end:
                cut_end += 1
            else:
                end_open = False
        if (not start_open and not end_open) or cut_start + cut_end >= max_frames:
            break
        i += 1
    return Span(cut_start, n - cut_end, False)
