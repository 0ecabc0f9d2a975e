"""Accuracy of a bundle's OpenVINO models on calibration/validation clips, as the runtime computes it.

frame: mean of the per-frame scores over the clip; cascade: spatial per frame -> features
padded to the window -> temporal head; clip: the zero-padded clip. Unlabelled data is scored
as top-1 agreement with the FP32 reference, so ``--max-drop`` and the report still mean
something for the default frame model (which ships without labelled data).

Example:
    >>> val = validation_set(bundle, data, reference)  # doctest: +SKIP
    >>> accuracy(bundle.kind, models, val, bundle.window.length)  # doctest: +SKIP
    0.98
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_edge.optimize.calibration import CalibrationData
from fer_edge.optimize.quantize import infer, pad_window, windows

MAX_VALIDATION_ITEMS = 400


@dataclass
class ValidationSet:
    """Clips (model-ready frames) with a target class each; ``metric`` says what targets mean."""

    clips: list[np.ndarray]
    targets: np.ndarray
    metric: str  # "accuracy" (labels) or "agreement" (FP32 predictions)

    def __len__(self) -> int:
        return len(self.clips)


def scores(kind: str, models: dict[str, Any], clip: np.ndarray, length: int) -> np.ndarray:
    """Class scores of one clip with compiled models ``{role: ov.CompiledModel}``."""
    if kind == "frame":
        return infer(models["frame"], clip).mean(0)
    if kind == "cascade":
        feats = infer(models["spatial"], clip[:length])
        f, m = pad_window(feats, length)
        return infer(models["temporal"], f[None], m[None])[0]
    c, _ = pad_window(clip, length)
    return infer(models["clip"], c[None])[0]


def predictions(kind: str, models: dict[str, Any], clips: list[np.ndarray], length: int) -> np.ndarray:
    return np.array([int(np.argmax(scores(kind, models, c, length))) for c in clips], dtype=np.int64)


def validation_set(kind: str, data: CalibrationData, reference: dict[str, Any], length: int,
                   *, limit: int = MAX_VALIDATION_ITEMS, seed: int = 0) -> ValidationSet:
    """Labelled clips as they are; unlabelled ones cut into items scored against FP32.

    Unlabelled frame data becomes single frames (a video track is one long clip: agreement per
    frame is the finer measure); unlabelled cascade/clip data becomes windows of ``length``.
    """
    clips, labels = data.val()
    if labels is not None:
        clips, targets = list(clips), np.asarray(labels, np.int64)
        metric = "accuracy"
    else:
        if kind == "frame":
            clips = [f[None] for c in clips for f in c]
        else:
            clips = [w for c in clips for w, m in ((x[: int(mk.sum())], mk) for x, mk in windows(c, length))]
        targets = None
        metric = "agreement"
    if len(clips) > limit:
        idx = np.sort(np.random.default_rng(seed).choice(len(clips), limit, replace=False))
        clips = [clips[i] for i in idx]
        targets = targets[idx] if targets is not None else None
    if targets is None:
        targets = predictions(kind, reference, clips, length)
    return ValidationSet(clips, targets, metric)


def accuracy(kind: str, models: dict[str, Any], val: ValidationSet, length: int) -> float:
    """Fraction of validation items whose top-1 class is the target."""
    if not len(val):
        return float("nan")
    return float((predictions(kind, models, val.clips, length) == val.targets).mean())
