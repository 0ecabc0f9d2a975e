"""Test helper: OpenFace 2.x ``FeatureExtraction`` CSVs for the synthetic generator's clips.

The header is OpenFace 2.x's own naming, with the space after every comma that makes its
column names start with a blank (``" AU01_r"``); values are written the same way. AU
intensities follow the generator's ground-truth expression curve; AU45 (blink) gets spikes
of its own, which the thesis' signal leaves out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

AU_R = [
    "AU01_r",
    "AU02_r",
    "AU04_r",
    "AU05_r",
    "AU06_r",
    "AU07_r",
    "AU09_r",
    "AU10_r",
    "AU12_r",
    "AU14_r",
    "AU15_r",
    "AU17_r",
    "AU20_r",
    "AU23_r",
    "AU25_r",
    "AU26_r",
    "AU45_r",
]
AU_C = [c.replace("_r", "_c") for c in AU_R[:-1]] + ["AU28_c", "AU45_c"]
HEADER = [
    "frame",
    "face_id",
    "timestamp",
    "confidence",
    "success",
    "gaze_0_x",
    "gaze_0_y",
    "gaze_0_z",
    "pose_Tx",
    "pose_Ty",
    "pose_Tz",
    "pose_Rx",
    "pose_Ry",
    "pose_Rz",
    *AU_R,
    *AU_C,
]


def write_openface_csv(path: str | Path, curve: Sequence[float], *, fps: float = 25.0) -> Path:
    """One CSV whose mean AUxx_r (without AU45) is ``3 * curve``; AU45 blinks every 12 frames."""
    path = Path(path)
    rows = [", ".join(HEADER)]
    for i, v in enumerate(curve):
        aus = [3.0 * float(v)] * (len(AU_R) - 1) + [5.0 if i % 12 == 11 else 0.0]
        present = [1 if a > 1 else 0 for a in aus[:-1]] + [0, 1 if aus[-1] else 0]
        cells = [
            i + 1,
            0,
            f"{i / fps:.3f}",
            "0.98",
            1,
            "0.1",
            "0.2",
            "-0.9",
            "10.0",
            "5.0",
            "400.0",
            "0.01",
            "0.02",
            "0.03",
            *(f"{a:.2f}" for a in aus),
            *present,
        ]
        rows.append(", ".join(str(c) for c in cells))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def write_for_dataset(
    root: str | Path, out: str | Path, *, skip: Sequence[str] = (), late_peak: Sequence[str] = ()
) -> list[str]:
    """CSVs for every clip of a ``write_dataset`` folder (from its ``ground_truth.json``).

    ``skip``: clip stems to leave without a CSV; ``late_peak``: clip stems whose maximum is put
    in the last frames (the subject smiles at the end: Algorithm 1's anomaly). Returns the stems written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for record in json.loads((Path(root) / "ground_truth.json").read_text()):
        stem = Path(record["file"]).stem
        if stem in skip:
            continue
        curve = np.asarray(record["intensity"], float)
        # The generator's apex is a flat plateau; a slight decay over time gives it one maximum at
        # its start, as a measured AU curve has (a plateau reaching the last 20 frames is an anomaly).
        curve = curve * (1.0 - 0.1 * np.arange(len(curve)) / max(1, len(curve)))
        if stem in late_peak:
            curve = curve.copy()
            curve[-3:] = curve.max() * 1.5
        write_openface_csv(out / f"{stem}.csv", curve, fps=float(record["fps"]))
        written.append(stem)
    return written
