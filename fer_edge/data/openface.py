"""Per-frame intensity from OpenFace 2.0 CSVs (``FeatureExtraction`` output).

OpenFace writes one row per frame with columns such as ``frame``, ``success`` and, per Action
Unit, ``AUxx_r`` (intensity 0-5) and ``AUxx_c`` (presence). Its header names carry a leading
space (``" AU01_r"``); they are stripped here. As in the thesis, a frame's intensity is the mean
of the ``AUxx_r`` columns except AU45 (blink), which adds noise.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_edge.core.errors import FerEdgeError
from fer_edge.core.fileio import read_csv

_AU_R = re.compile(r"^AU(\d+)_r$")
LEFT_OUT = ("AU45_r",)
AU_RANGE = (0.0, 5.0)  # OpenFace's AUxx_r intensity scale


@dataclass
class AUIntensity:
    """Per-frame AU intensities read from one CSV.

    Attributes:
        intensity: ``(T,)`` mean AU intensity per frame (AU45 left out).
        aus: ``(T, K)`` the individual ``AUxx_r`` columns used.
        columns: names of the ``K`` columns.
        success: ``(T,)`` bool, OpenFace's face-tracking success (all True when absent).
        path: the CSV.
    """

    intensity: np.ndarray
    aus: np.ndarray
    columns: list[str]
    success: np.ndarray
    path: str


def read_openface(path: str | os.PathLike, *, frames: int | None = None) -> AUIntensity:
    """Read an OpenFace CSV and average its AU intensities per frame.

    Args:
        path: the CSV file.
        frames: expected number of frames; a different count raises (the CSV belongs to
            another clip or was cut short).

    Raises:
        FerEdgeError: missing file, no ``AUxx_r`` column, non-numeric cell, frame-count mismatch.

    Example:
        >>> au = read_openface("openface/M042_happy_tex.csv", frames=120)  # doctest: +SKIP
        >>> au.intensity.shape                                            # doctest: +SKIP
        (120,)
    """
    path = Path(path)
    if not path.exists():
        raise FerEdgeError(f"OpenFace CSV {path} does not exist; run FeatureExtraction -aus on the clip")
    table_rows = read_csv(path, "OpenFace CSV")  # a regular UTF-8 file of bounded size, else one line
    if not table_rows:
        raise FerEdgeError(f"OpenFace CSV {path} is empty; rerun FeatureExtraction")
    header = [h.strip() for h in table_rows[0]]
    rows = [r for r in table_rows[1:] if any(cell.strip() for cell in r)]
    au_cols = [i for i, h in enumerate(header) if _AU_R.match(h) and h not in LEFT_OUT]
    if not au_cols:
        raise FerEdgeError(
            f"{path} has no AUxx_r intensity columns (columns: {', '.join(header[:8])}...); "
            "run OpenFace FeatureExtraction with -aus"
        )
    success_col = header.index("success") if "success" in header else None
    width = len(header)
    table = np.empty((len(rows), len(au_cols)), dtype=np.float64)
    success = np.ones(len(rows), dtype=bool)
    for r, row in enumerate(rows):
        if len(row) != width:
            raise FerEdgeError(f"{path}: line {r + 2} has {len(row)} cells, header has {width}; the CSV is truncated")
        try:
            table[r] = [float(row[i]) for i in au_cols]
            if success_col is not None:
                success[r] = float(row[success_col]) > 0
        except ValueError:
            raise FerEdgeError(f"{path}: line {r + 2} has a non-numeric AU value") from None
    if frames is not None and len(rows) != frames:
        raise FerEdgeError(
            f"{path} has {len(rows)} frames but the clip has {frames}; the CSV belongs to another "
            "clip or was cut short (rerun OpenFace on this clip)"
        )
    if not np.all(np.isfinite(table)):
        raise FerEdgeError(f"{path} has non-finite AU values; rerun OpenFace")
    if table.size and not (table.min() >= AU_RANGE[0] and table.max() <= AU_RANGE[1]):
        r, c = np.argwhere((table < AU_RANGE[0]) | (table > AU_RANGE[1]))[0]
        raise FerEdgeError(
            f"{path}: line {r + 2}, column {header[au_cols[c]]} is {table[r, c]:g}, outside OpenFace's "
            f"{AU_RANGE[0]:g}..{AU_RANGE[1]:g} intensity scale; rerun OpenFace"
        )
    # OpenFace writes zeros on failed frames, which read as neutral: that is what we want.
    return AUIntensity(table.mean(axis=1), table, [header[i] for i in au_cols], success, str(path))


def find_csv(au_dir: str | os.PathLike, names: Iterable[str]) -> Path | None:
    """The CSV in ``au_dir`` for a clip, trying each candidate stem case-insensitively.

    Example:
        >>> find_csv("/nonexistent", ["F001_angry"]) is None
        True
    """
    folder = Path(au_dir)
    if not folder.is_dir():
        return None
    lookup = {p.stem.lower(): p for p in folder.iterdir() if p.suffix.lower() == ".csv" and p.is_file()}
    for name in names:
        hit = lookup.get(name.lower())
        if hit is not None:
            return hit
    return None
