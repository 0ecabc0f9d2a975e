"""Bundle kinds: what a ``frame``, ``cascade`` or ``clip`` bundle runs, in one place.

Each kind says which models (roles) its bundle holds and how they turn face crops into class
scores, offline (a whole clip: evaluation, calibration, optimize reports) and online (the
runtime's per-track ring buffer)::

    frame    frame model per crop -> scores; a window's scores = mean of its frame scores
    cascade  spatial model per crop -> features; temporal head on a window of features (+ mask)
    clip     crops buffered as they are; clip model on a window of crops

Nothing outside this module branches on the kind's name: callers ask ``kind_of(bundle)``.
numpy only (and :mod:`fer_edge.runtime.windows`): no TensorFlow, no NNCF.

Example:
    >>> kind = KINDS["cascade"]
    >>> kind.roles, kind.frame_role, kind.head_role
    (('spatial', 'temporal'), 'spatial', 'temporal')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from typing import Callable as _Callable  # noqa: UP035 - Model is subscripted at import, on Python 3.7 too

import numpy as np

from fer_edge.runtime.windows import RingBuffer, pad_window, windows

# typing's Callable: evaluated at import, on Python 3.7 too (collections.abc's subscripts from 3.9).
Model = _Callable[..., np.ndarray]  # arrays with a leading batch axis -> the first output


def run_batched(model: Model, *inputs: np.ndarray, batch: int = 64) -> np.ndarray:
    """``model`` on inputs with a leading batch axis, ``batch`` rows at a time, concatenated."""
    n = len(inputs[0])
    out = [np.asarray(model(*[x[i : i + batch] for x in inputs])) for i in range(0, n, batch)]
    return np.concatenate(out) if out else np.zeros((0,), np.float32)


def softmax_if_needed(x: np.ndarray) -> np.ndarray:
    """Rows that already are probabilities as they are, logits through a softmax."""
    # Heads trained here end in softmax; imported ones may give logits.
    if x.min() >= 0 and np.allclose(x.sum(-1), 1.0, atol=1e-2):
        return x
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class BundleKind:
    """What one kind of bundle runs. Subclasses fill in the roles and the scoring.

    Attributes:
        name: the manifest's ``kind``.
        roles: models the bundle must hold.
        frame_role: the model run on each frame's face crops (batched over faces); None =
            the crops themselves go into the buffer.
        head_role: the model run on a buffered window every ``stride`` frames; None = a
            window's scores are the mean of its frame scores.
        head_inputs: most inputs the runtime feeds the head (a cascade head may take a mask).
        default_window: ``(length, stride)`` of a manifest that gives none.
    """

    name: ClassVar[str]
    roles: ClassVar[tuple[str, ...]]
    frame_role: ClassVar[str | None] = None
    head_role: ClassVar[str | None] = None
    head_inputs: ClassVar[int] = 1
    default_window: ClassVar[tuple[int, int]] = (100, 5)

    def __repr__(self) -> str:
        return f"<{self.name} bundle kind>"

    @property
    def image_role(self) -> str:
        """The model that takes face images (pruned, distilled, calibrated on frames)."""
        return self.frame_role or self.roles[0]

    @property
    def score_role(self) -> str:
        """The model whose outputs are the class scores."""
        return self.head_role or self.roles[-1]

    @property
    def steady_crop(self) -> bool:
        """Crop each track at the face size its window started with (temporal heads are trained
        on steadily tracked clips: a box that shrinks would read as an expression change)."""
        return self.head_role is not None

    def check_models(self, models: Mapping[str, Any]) -> str | None:
        """What is inconsistent between the manifest's model entries, or None."""
        return None

    # --- offline: a whole clip of model-ready frames (t, H, W, C) -> scores ---

    def score_clip(self, models: Mapping[str, Model], clip: np.ndarray, length: int, *, batch: int = 64) -> np.ndarray:
        """Class scores of one clip with ``{role: model}`` (see :func:`run_batched`)."""
        raise NotImplementedError

    # --- online: the runtime's per-track buffer ---

    def buffer_items(self, per_frame: np.ndarray) -> np.ndarray:
        """What the runtime buffers for each face: the frame model's rows (or the crops)."""
        return per_frame

    def window_scores(self, buffer: RingBuffer) -> np.ndarray | None:
        """Scores a buffer gives by itself; None = the head gives them when it is due."""
        return None

    # --- optimize: validation and calibration data ---

    def unlabelled_items(self, clips: Sequence[np.ndarray], length: int) -> list[np.ndarray]:
        """Items scored against the FP32 model when the data has no labels: windows of ``length``
        (trimmed to their frames) cut from each clip."""
        return [x[: int(m.sum())] for c in clips for x, m in windows(c, length)]

    def calibration_items(
        self, role: str, data: Any, upstream: Mapping[str, Model], length: int, limit: int, seed: int
    ) -> list[list[np.ndarray]]:
        """Batch-1 inputs of ``role`` from calibration ``data`` (:class:`CalibrationData`);
        ``upstream`` holds the (already optimized) models that feed it."""
        return [[f[None]] for f in data.frames(limit, seed=seed)]

    def example_inputs(
        self, frame: np.ndarray, clip: np.ndarray, upstream: Mapping[str, Model], length: int
    ) -> dict[str, list[np.ndarray]]:
        """One batch-1 input per role (for latency), from a frame ``(1, H, W, C)`` and a clip."""
        return {role: [frame] for role in self.roles}


class FrameKind(BundleKind):
    """One image model; a window's scores are the mean of its frames' scores."""

    name = "frame"
    roles = ("frame",)
    frame_role = "frame"
    default_window = (1, 1)

    def score_clip(self, models, clip, length, *, batch=64):
        return run_batched(models["frame"], clip, batch=batch).mean(0)

    def buffer_items(self, per_frame):
        return softmax_if_needed(per_frame)

    def window_scores(self, buffer):
        return buffer.mean()

    def unlabelled_items(self, clips, length):
        # A video track is one long clip: agreement per frame is the finer measure.
        return [f[None] for c in clips for f in c]


class CascadeKind(BundleKind):
    """Spatial model per frame -> features; temporal head on a window of features and its mask."""

    name = "cascade"
    roles = ("spatial", "temporal")
    frame_role = "spatial"
    head_role = "temporal"
    head_inputs = 2

    def check_models(self, models):
        feat, temporal = models["spatial"].output, models["temporal"].input
        if feat is not None and temporal and temporal[-1] != feat:
            return f"spatial model gives {feat} features but the temporal model takes {temporal[-1]}"
        return None

    def score_clip(self, models, clip, length, *, batch=64):
        feats = run_batched(models["spatial"], clip[:length], batch=batch)
        f, m = pad_window(feats, length)
        return np.asarray(models["temporal"](f[None], m[None]))[0]

    def calibration_items(self, role, data, upstream, length, limit, seed):
        if role != "temporal":
            return super().calibration_items(role, data, upstream, length, limit, seed)
        items = []
        for clip in data.clips:
            feats = run_batched(upstream["spatial"], clip)
            items += [[f[None], m[None]] for f, m in windows(feats, length)]
        if len(items) <= limit:
            return items
        return [items[i] for i in np.sort(np.random.default_rng(seed).choice(len(items), limit, replace=False))]

    def example_inputs(self, frame, clip, upstream, length):
        feats = run_batched(upstream["spatial"], frame)
        return {"spatial": [frame], "temporal": [np.repeat(feats[None], length, 1), np.ones((1, length), np.float32)]}


class ClipKind(BundleKind):
    """The crops themselves are buffered; the clip model runs on a window of crops."""

    name = "clip"
    roles = ("clip",)
    head_role = "clip"

    def score_clip(self, models, clip, length, *, batch=64):
        c, _ = pad_window(clip, length)
        return np.asarray(models["clip"](c[None]))[0]

    def calibration_items(self, role, data, upstream, length, limit, seed):
        return [[pad_window(w, length)[0][None]] for w in self.unlabelled_items(data.clips, length)][:limit]

    def example_inputs(self, frame, clip, upstream, length):
        return {"clip": [pad_window(clip, length)[0][None]]}


KINDS: dict[str, BundleKind] = {k.name: k() for k in (FrameKind, CascadeKind, ClipKind)}


def kind_of(bundle: Any) -> BundleKind:
    """The :class:`BundleKind` of a bundle (or of a kind name).

    Example:
        >>> kind_of("frame").roles
        ('frame',)
    """
    return KINDS[bundle if isinstance(bundle, str) else bundle.kind]
