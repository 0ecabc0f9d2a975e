"""One matcher for ``compare`` and ``merge``: the rows of N reports that measured the same thing.

Rows are matched by (stage, model, format, precision, device, batch, mode, hint) first; groups
still missing a column are then joined without the hint, so a default run meets an
``--infer-precision f32`` run of the same model. Both passes are dictionary look-ups (linear
in the rows): 10,000 disjoint rows take milliseconds, not hours.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["KEY", "Match", "config_label", "match_rows", "shown_fps", "stat"]

#: What makes two rows the same configuration (a :class:`~fer_edge.benchmark.report.Row`'s ``key()``).
KEY = ("stage", "model", "format", "precision", "device", "batch", "mode", "hint")
Row = Any  # a report Row: anything with ``key()`` (the report module imports this one)

_LOOSE = tuple(i for i, k in enumerate(KEY) if k != "hint")


@dataclass
class Match:
    """One configuration; ``rows[i]`` is column ``i``'s row or None (not measured there)."""

    key: tuple
    rows: list[Row | None]

    @property
    def mask(self) -> int:
        return sum(1 << i for i, r in enumerate(self.rows) if r is not None)


def _loose(key: tuple) -> tuple:
    return tuple(key[i] for i in _LOOSE)


def match_rows(columns: Sequence[Sequence[Row]], *, ignore: Sequence[str] = ()) -> list[Match]:
    """Match the rows of ``columns`` (one list per report); in order of first appearance.

    ``ignore`` names key fields that do not tell configurations apart (``merge`` ignores the
    device: it is the column). Match keys carry None there.

    A column's second row with the same key starts a new configuration (it is kept, never
    dropped). Example:
        >>> [m.key[3] for m in match_rows([[row_fp32], [row_fp32_b, row_int8]])]  # doctest: +SKIP
        ['FP32', 'INT8']
    """
    n = len(columns)
    skip = {KEY.index(k) for k in ignore}
    groups: OrderedDict[tuple, Match] = OrderedDict()
    seen: dict[tuple, int] = {}
    for c, rows in enumerate(columns):
        occurrence: dict[tuple, int] = {}
        for row in rows:
            key = row.key()
            if skip:
                key = tuple(None if i in skip else v for i, v in enumerate(key))
            k = occurrence.get(key, 0)
            occurrence[key] = k + 1
            ident = (key, k)
            match = groups.get(ident)
            if match is None:
                match = groups[ident] = Match(key, [None] * n)
                seen[ident] = len(seen)
            match.rows[c] = row
    # Second pass: partial groups join an earlier partial group of the same loose key whose
    # columns do not overlap. Candidates are indexed by (loose key, column mask), so each
    # group looks at a handful of masks, never at every other group.
    full = (1 << n) - 1
    waiting: dict[tuple, OrderedDict[int, deque[Match]]] = {}
    out: list[Match] = []
    for match in groups.values():
        mask = match.mask
        if mask == full:
            out.append(match)
            continue
        buckets = waiting.setdefault(_loose(match.key), OrderedDict())
        target = next((m for m, q in buckets.items() if q and not m & mask), None)
        if target is None:
            buckets.setdefault(mask, deque()).append(match)
            out.append(match)
            continue
        host = buckets[target].popleft()
        for i, r in enumerate(match.rows):
            if r is not None:
                host.rows[i] = r
        if host.mask != full:
            buckets.setdefault(host.mask, deque()).append(host)
    return out


def stat(r: Row) -> float:
    """The latency a row's FPS comes from: the mean for runtime-on-video rows, else the median."""
    if r.stage.startswith("video") and r.latency_ms.get("mean") is not None:
        return r.latency_ms["mean"]
    return r.latency_ms["median"]


def config_label(key: tuple) -> str:
    """``stage (mode): model format precision [hint]`` of a matched configuration."""
    stage, model, fmt, precision, _device, batch, mode, hint = key
    extra = f" b{batch}" if batch != 1 else ""
    pinned = "" if hint == "default" else f" [{hint}]"
    return f"{stage} ({mode}): {model} {fmt} {precision}{extra}{pinned}"


def shown_fps(r: Row) -> float | None:
    """FPS worth printing: None for a video sub-stage (a part of a frame has no frame rate)."""
    return None if r.stage.startswith("video:") else r.fps
