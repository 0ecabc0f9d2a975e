"""Per-stage wall-clock timers: median and p90 per stage, cheap enough for every frame.

A runtime runs for days on an edge box, so memory stays bounded: each stage keeps its last
``window`` samples in a float32 ring (median and p90 are over those) plus running totals for
the exact mean and count over the whole run.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np

STAGES = ("decode", "detect", "track", "preprocess", "infer", "postprocess", "draw", "write")


class _Ring:
    __slots__ = ("data", "count", "total")

    def __init__(self, size: int) -> None:
        # Filled now (not np.zeros' lazily mapped pages): resident memory stays flat while it fills.
        self.data = np.full(size, np.nan, np.float32)
        self.count = 0
        self.total = 0.0

    def add(self, value: float) -> None:
        self.data[self.count % self.data.size] = value
        self.count += 1
        self.total += value

    def recent(self) -> np.ndarray:
        return self.data[: min(self.count, self.data.size)]


class StageTimer:
    """Collects milliseconds per stage and frame.

    Args:
        window: samples kept per stage for the median and p90 (the mean covers the whole run).

    Example:
        >>> t = StageTimer()
        >>> with t("decode"):
        ...     pass
        >>> sorted(t.summary())
        ['decode']
    """

    def __init__(self, window: int = 20_000) -> None:
        self.window = int(window)
        self._rings: dict[str, _Ring] = {}

    @contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, (time.perf_counter() - start) * 1000.0)

    def add(self, stage: str, ms: float) -> None:
        ring = self._rings.get(stage)
        if ring is None:
            ring = self._rings[stage] = _Ring(self.window)
        ring.add(float(ms))

    def summary(self) -> dict[str, dict[str, float]]:
        """``{stage: {median, p90, mean, count}}`` in ms, stages in pipeline order."""
        out = {}
        order = [s for s in STAGES if s in self._rings] + [s for s in self._rings if s not in STAGES]
        for stage in order:
            ring = self._rings[stage]
            vals = ring.recent()
            out[stage] = {
                "median": round(float(np.median(vals)), 3),
                "p90": round(float(np.percentile(vals, 90)), 3),
                "mean": round(ring.total / ring.count, 3),
                "count": int(ring.count),
            }
        return out
