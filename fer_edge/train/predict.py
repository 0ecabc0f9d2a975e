"""Run a bundle's OpenVINO models over a data part: the scores that evaluation and fusion use.

Exactly what the runtime runs (IR FP32, f32 inference hint): cascade = spatial IR on every
frame (batched) -> features padded to the window length -> temporal IR on (features, mask);
clip = the clip IR on the zero-padded clip; frame = the frame IR per frame, scores averaged
over the clip. No TensorFlow.

The data comes from the bundle's provenance (``data``: preprocessed folder, split, label
set, T, trimming; :func:`fer_edge.data.clipset.data_from_bundle`), so ``fer-edge evaluate
BUNDLE --split test`` needs nothing else; both can be overridden. How each bundle kind scores
a clip is :meth:`fer_edge.runtime.kinds.BundleKind.score_clip`.
"""

from __future__ import annotations

import logging

import numpy as np

from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.kinds import kind_of

log = logging.getLogger(__name__)


def predict_bundle(
    bundle, data, part: str = "test", *, batch_size: int = 64, trimmed: bool | None = None, progress: bool = False
):
    """Scores of ``bundle`` for every clip of ``part``; returns :class:`Predictions`.

    Example:
        >>> pred = predict_bundle(load_bundle("runs/x/bundle"), data, "test")  # doctest: +SKIP
        >>> pred.scores.shape  # doctest: +SKIP
        (18, 6)
    """
    from fer_edge.runtime.engine import EngineConfig, load_model
    from fer_edge.train.metrics import Predictions

    if tuple(bundle.labels) != tuple(data.labels):
        raise FerEdgeError(f"bundle labels {list(bundle.labels)} differ from the data's {list(data.labels)}")
    info = bundle.provenance.get("data") or {}
    trimmed = info.get("trimmed", True) if trimmed is None else trimmed
    engine = EngineConfig(precision="f32")
    kind = kind_of(bundle)
    models = {r: load_model(bundle.model_path(r), engine) for r in kind.roles}
    length = bundle.window.length
    size = bundle.frame.size[0]
    records = data.part(part)
    iterator = records
    if progress:
        from fer_edge.core.progress import progress as progress_bar

        iterator = progress_bar(records, desc=f"predict {part}", unit="clip")
    # The manifest's normalisation and the kind's scoring, exactly as the runtime applies them.
    scores = [
        kind.score_clip(
            models, bundle.frame.normalise(data.load(r, size=size, trimmed=trimmed)), length, batch=batch_size
        )
        for r in iterator
    ]
    names = [r["name"] for r in records]
    y = [data.label_index(r) for r in records]
    return Predictions(names, tuple(data.labels), np.asarray(y), np.asarray(scores).reshape(len(names), -1))
