"""Run a bundle's OpenVINO models over a data part: the scores that evaluation and fusion use.

Exactly what the runtime runs (IR FP32, f32 inference hint): cascade = spatial IR on every
frame (batched) -> features padded to the window length -> temporal IR on (features, mask);
clip = the clip IR on the zero-padded clip; frame = the frame IR per frame, scores averaged
over the clip. No TensorFlow.

The data comes from the bundle's provenance (``data``: preprocessed folder, split, label
set, T, trimming), so ``fer-edge evaluate BUNDLE --split test`` needs nothing else; both can
be overridden.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from fer_edge.errors import FerEdgeError
from fer_edge.fileio import read_json
from fer_edge.optimize.quantize import pad_window

log = logging.getLogger(__name__)


def data_provenance(data, *, length: int, trimmed: bool) -> dict:
    """What a bundle records about its data, so it can be evaluated later."""
    return {"preprocessed": str(Path(data.root).resolve()), "split": data.split, "labels": list(data.labels),
            "length": int(length), "trimmed": bool(trimmed)}


def data_from_bundle(bundle, *, preprocessed: str | os.PathLike | None = None,
                     split_file: str | os.PathLike | None = None):
    """A :class:`~fer_edge.train.data.ClipSet` for the data recorded in ``bundle``'s provenance."""
    from fer_edge.data.preprocess import read_index
    from fer_edge.data.splits import check_split
    from fer_edge.train.data import ClipSet

    info = bundle.provenance.get("data") if isinstance(bundle.provenance.get("data"), dict) else {}
    root = preprocessed or info.get("preprocessed")
    if not root:
        raise FerEdgeError(f"bundle {bundle.path} does not record its data; pass --data PREPROCESSED "
                           "and --split-file SPLIT.json")
    split = info.get("split")
    if split_file:
        split = read_json(split_file, "split file", expect=dict)
    if not split:
        raise FerEdgeError(f"bundle {bundle.path} records no split; pass --split-file SPLIT.json")
    check_split(split)
    labels = tuple(bundle.labels)
    records = [r for r in read_index(root) if r.get("status") == "ok" and r["emotion"] in labels]
    return ClipSet(Path(root), records, labels, split)


def predict_bundle(bundle, data, part: str = "test", *, batch_size: int = 64, trimmed: bool | None = None,
                   progress: bool = False):
    """Scores of ``bundle`` for every clip of ``part``; returns :class:`Predictions`.

    Example:
        >>> pred = predict_bundle(load_bundle("runs/x/bundle"), data, "test")  # doctest: +SKIP
        >>> pred.scores.shape  # doctest: +SKIP
        (18, 6)
    """
    from fer_edge.deploy.engine import EngineConfig, load_model
    from fer_edge.train.evaluate import Predictions

    if tuple(bundle.labels) != tuple(data.labels):
        raise FerEdgeError(f"bundle labels {list(bundle.labels)} differ from the data's {list(data.labels)}")
    info = bundle.provenance.get("data") or {}
    trimmed = info.get("trimmed", True) if trimmed is None else trimmed
    engine = EngineConfig(precision="f32")
    roles = {"cascade": ("spatial", "temporal"), "clip": ("clip",), "frame": ("frame",)}[bundle.kind]
    models = {r: load_model(bundle.model_path(r), engine) for r in roles}
    length = bundle.window.length
    size = bundle.frame.size[0]
    records = data.part(part)
    iterator = records
    if progress:
        from tqdm import tqdm

        iterator = tqdm(records, desc=f"predict {part}", unit="clip")
    scores = []
    # The manifest's normalisation, exactly as the runtime applies it.
    mean = np.asarray(bundle.frame.mean, np.float32)
    std = np.asarray(bundle.frame.std, np.float32)
    for record in iterator:
        clip = data.load(record, size=size, trimmed=trimmed)
        x = (clip.astype(np.float32) / 255.0 - mean) / std
        if bundle.kind == "cascade":
            x = x[:length]
            feats = np.concatenate([models["spatial"](x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
            f, m = pad_window(feats, length)
            scores.append(models["temporal"](f[None], m[None])[0])
        elif bundle.kind == "clip":
            c, _ = pad_window(x, length)
            scores.append(models["clip"](c[None])[0])
        else:
            per = np.concatenate([models["frame"](x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
            scores.append(per.mean(0))
    names = [r["name"] for r in records]
    y = [data.label_index(r) for r in records]
    return Predictions(names, tuple(data.labels), np.asarray(y), np.asarray(scores).reshape(len(names), -1))
