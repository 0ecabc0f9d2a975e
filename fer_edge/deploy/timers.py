"""Per-stage wall-clock timers: median and p90 per stage, cheap enough for every frame."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager

import numpy as np

STAGES = ("decode", "detect", "track", "preprocess", "infer", "postprocess", "draw", "write")


class StageTimer:
    """Collects milliseconds per stage and frame.

    Example:
        >>> t = StageTimer()
        >>> with t("decode"):
        ...     pass
        >>> sorted(t.summary())
        ['decode']
    """

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)

    @contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.samples[stage].append((time.perf_counter() - start) * 1000.0)

    def add(self, stage: str, ms: float) -> None:
        self.samples[stage].append(float(ms))

    def summary(self, skip: int = 0) -> dict[str, dict[str, float]]:
        """``{stage: {median, p90, mean, count}}`` in ms, dropping the first ``skip`` samples."""
        out = {}
        order = [s for s in STAGES if s in self.samples] + [s for s in self.samples if s not in STAGES]
        for stage in order:
            vals = np.asarray(self.samples[stage][skip:] or self.samples[stage])
            out[stage] = {
                "median": round(float(np.median(vals)), 3),
                "p90": round(float(np.percentile(vals, 90)), 3),
                "mean": round(float(vals.mean()), 3),
                "count": int(vals.size),
            }
        return out
