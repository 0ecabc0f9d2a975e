"""Accuracy of a bundle's OpenVINO models on calibration/validation clips, as the runtime computes it.

Each clip is scored by its bundle kind (:meth:`fer_edge.runtime.kinds.BundleKind.score_clip`).
Unlabelled data is scored as top-1 agreement with the FP32 reference, so ``--max-drop`` and
the report still mean something for the default frame model (which ships without labelled data).

Example:
    >>> val = validation_set(kind_of(bundle), data, reference, bundle.window.length)  # doctest: +SKIP
    >>> accuracy(kind_of(bundle), models, val, bundle.window.length)  # doctest: +SKIP
    0.98
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_edge.optimize.calibration import CalibrationData
from fer_edge.optimize.quantize import as_model
from fer_edge.runtime.kinds import BundleKind

MAX_VALIDATION_ITEMS = 400


@dataclass
class ValidationSet:
    """Clips (model-ready frames) with a target class each; ``metric`` says what targets mean."""

    clips: list[np.ndarray]
    targets: np.ndarray
    metric: str  # "accuracy" (labels) or "agreement" (FP32 predictions)

    def __len__(self) -> int:
        return len(self.clips)


def scores(kind: BundleKind, models: dict[str, Any], clip: np.ndarray, length: int) -> np.ndarray:
    """Class scores of one clip with compiled models ``{role: ov.CompiledModel}``."""
    return kind.score_clip({role: as_model(m) for role, m in models.items()}, clip, length)


def predictions(kind: BundleKind, models: dict[str, Any], clips: list[np.ndarray], length: int) -> np.ndarray:
    return np.array([int(np.argmax(scores(kind, models, c, length))) for c in clips], dtype=np.int64)


def validation_set(
    kind: BundleKind,
    data: CalibrationData,
    reference: dict[str, Any],
    length: int,
    *,
    limit: int = MAX_VALIDATION_ITEMS,
    seed: int = 0,
) -> ValidationSet:
    """Labelled clips as they are; unlabelled ones cut into the kind's items
    (:meth:`~fer_edge.runtime.kinds.BundleKind.unlabelled_items`), scored against FP32."""
    clips, labels = data.val()
    if labels is not None:
        clips, targets = list(clips), np.asarray(labels, np.int64)
        metric = "accuracy"
    else:
        clips = kind.unlabelled_items(clips, length)
        targets = None
        metric = "agreement"
    if len(clips) > limit:
        idx = np.sort(np.random.default_rng(seed).choice(len(clips), limit, replace=False))
        clips = [clips[i] for i in idx]
        targets = targets[idx] if targets is not None else None
    if targets is None:
        targets = predictions(kind, reference, clips, length)
    return ValidationSet(clips, targets, metric)


def accuracy(kind: BundleKind, models: dict[str, Any], val: ValidationSet, length: int) -> float:
    """Fraction of validation items whose top-1 class is the target."""
    if not len(val):
        return float("nan")
    return float((predictions(kind, models, val.clips, length) == val.targets).mean())
