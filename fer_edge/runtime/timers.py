"""Per-stage wall-clock timers: per call and per frame, cheap enough for every frame.

Two views of the same samples. *Per call*: what one run of a stage costs (detection, which
runs every N-th frame, costs several ms per call). *Per frame*: what a stage adds to an
average frame, counting the frames it skipped as 0 ms; per-frame means add up to the frame
time, so they are the ones FPS comes from.

A runtime runs for days on an edge box, so memory stays bounded: each stage keeps its last
``window`` samples in a float32 ring (median and p90 are over those) plus running totals for
the exact mean and count over the whole run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np

STAGES = ("decode", "detect", "track", "preprocess", "infer", "postprocess", "draw", "write")
LATENCY = "latency"  # end to end per frame (pipelined runtime): spans the stages, not one of them


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

    def summary(self, frames: int | None = None) -> dict[str, dict[str, float]]:
        """Per stage, in ms and pipeline order: ``median``, ``p90``, ``mean`` and ``count`` per call;
        ``frame_mean``, ``frame_median`` and ``frame_p90`` per frame (skipped frames count as 0 ms),
        ``frames``.

        Args:
            frames: frames processed (default: the most calls of any stage, i.e. ``decode``'s).
                A stage timed at most once per frame gets exact per-frame percentiles; one timed
                several times per frame gets its per-call ones scaled by calls per frame.

        Example:
            >>> t = StageTimer()
            >>> for i in range(10):
            ...     t.add("decode", 1.0)
            ...     if i % 5 == 0:
            ...         t.add("detect", 8.0)
            >>> s = t.summary()["detect"]
            >>> s["mean"], s["frame_mean"], s["count"], s["frames"]
            (8.0, 1.6, 2, 10)
        """
        out = {}
        order = [s for s in STAGES if s in self._rings] + [s for s in self._rings if s not in STAGES]
        if frames is None:
            frames = max((r.count for r in self._rings.values()), default=0)
        for stage in order:
            ring = self._rings[stage]
            vals = ring.recent()
            n = max(int(frames), ring.count)
            median, p90 = percentiles(vals, (50, 90))
            out[stage] = {
                "median": round(median, 3),
                "p90": round(p90, 3),
                "mean": round(ring.total / ring.count, 3),
                "count": int(ring.count),
                "frame_mean": round(ring.total / n, 3),
                "frame_median": round(_frame_quantile(vals, ring.count, n, 50), 3),
                "frame_p90": round(_frame_quantile(vals, ring.count, n, 90), 3),
                "frames": n,
            }
        return out


def _frame_quantile(vals: np.ndarray, calls: int, frames: int, q: float) -> float:
    """Percentile ``q`` over frames of a stage timed ``calls`` times in ``frames`` frames (``vals``:
    its recent calls)."""
    if calls >= frames:
        return percentiles(vals, (q,))[0] * calls / frames
    # At most one call per frame: the other frames took 0 ms. Keep the ring's share of zeros.
    zeros = int(round(vals.size * (frames - calls) / calls))
    return percentiles(np.concatenate([vals, np.zeros(zeros, vals.dtype)]), (q,))[0]


def format_table(summary: dict[str, dict[str, float]]) -> str:
    """A :meth:`StageTimer.summary` as a Markdown table: per frame (mean, p90), then per call.

    Per-frame means add up to the frame time (the ``sum`` row); per-call columns show what one
    run of a stage costs, which differs for stages that skip frames (``detect``).

    Example:
        >>> t = StageTimer()
        >>> t.add("decode", 1.0)
        >>> print(format_table(t.summary()).splitlines()[2])
        | decode | 1.00 | 1.00 | 1 of 1 | 1.00 | 1.00 |
    """
    rows = [
        "| stage | mean ms/frame | p90 ms/frame | calls (of frames) | mean ms/call | p90 ms/call |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for stage, s in summary.items():
        frames = s.get("frames", s["count"])
        rows.append(
            f"| {stage} | {s.get('frame_mean', s['mean']):.2f} | {s.get('frame_p90', s['p90']):.2f} | "
            f"{s['count']} of {frames} | {s['mean']:.2f} | {s['p90']:.2f} |"
        )
    # ``latency`` (decode to written, pipelined runtime) spans the other stages: not a part of the sum.
    total = sum(s.get("frame_mean", s["mean"]) for stage, s in summary.items() if stage != LATENCY)
    if summary:
        rows.append(f"| sum | {total:.2f} | | | | |")
    return "\n".join(rows)


def percentiles(samples_ms: Sequence[float] | np.ndarray, qs: Sequence[float] = (50, 90)) -> tuple[float, ...]:
    """The percentiles ``qs`` of latency samples: fer-edge's one definition (numpy's linear
    interpolation), shared by the stage timers, ``fer-edge benchmark`` and ``fer-edge optimize``,
    so their reports agree on the same samples.

    Example:
        >>> [round(p, 2) for p in percentiles([1.0, 2.0, 3.0, 4.0, 100.0])]
        [3.0, 61.6]
    """
    a = np.asarray(samples_ms, dtype=np.float64)
    if a.size == 0:
        raise ValueError("no latency samples")
    return tuple(float(np.percentile(a, q)) for q in qs)
