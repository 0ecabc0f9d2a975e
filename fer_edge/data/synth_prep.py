"""A preprocess-stage folder straight from synthetic ground truth (no detection: fast).

Tests and benchmarks of training need data in the layout ``fer-edge preprocess`` writes
(``clips/<name>/000.png`` + ``index.jsonl``) in seconds; cropping the generator's true face
boxes skips detection and tracking while keeping that contract.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def write_preprocessed(
    root: str | os.PathLike,
    *,
    subjects: Sequence[str],
    labels: Sequence[str],
    frames: int,
    crop: int = 32,
    size: tuple[int, int] = (160, 120),
    seed: int = 1,
    per_clip_seed: bool = False,
) -> Path:
    """Write untrimmed face crops of synthetic clips and their index, as preprocessing would.

    Args:
        root: output folder.
        subjects, labels: one clip per (subject, label).
        frames: frames per clip; every clip's span is all of them.
        crop: side of the square face crops (thesis crop: +10 px vertically, squared).
        size: generated frame size (width, height).
        seed: generator seed of every clip, or the base of per-clip seeds.
        per_clip_seed: derive each clip's seed from ``(seed, subject, label)`` as ``write_dataset`` does.

    Example:
        >>> write_preprocessed("runs/pre", subjects=["F001", "M001"], labels=["happy", "sad"],
        ...                    frames=10)  # doctest: +SKIP
    """
    from fer_edge.data.synth import clip_seed, make_clip
    from fer_edge.runtime.faces.crop import crop_face
    from fer_edge.runtime.video import write_frames

    root = Path(root)
    records = []
    for s in subjects:
        for label in labels:
            clip = make_clip(
                label, subject=s, frames=frames, size=size, seed=clip_seed(seed, s, label) if per_clip_seed else seed
            )
            crops = np.stack([crop_face(f, tuple(b[0]), size=crop) for f, b in zip(clip.frames, clip.boxes)])
            name = f"{s}_{label}"
            write_frames(root / "clips" / name, crops, ext=".png")
            records.append(
                {
                    "name": name,
                    "subject": s,
                    "emotion": label,
                    "folder": f"clips/{name}",
                    "status": "ok",
                    "span": [0, frames],
                    "frames": frames,
                    "anomaly": False,
                    "intensity": [float(v) for v in clip.intensity],
                }
            )
    (root / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return root
