"""Spatial fine-tuning (section 3.2.4): classifier on the frozen base, unfreeze, refine.

Each phase of ``recipe.spatial.phases`` sets which convolution blocks train (``unfreeze``:
0 = classifier only, ``n`` = the last ``n`` blocks, -1 = everything), the optimizer and
learning rate, and trains with TensorBoard, ModelCheckpoint, CSVLogger, EarlyStopping and
ReduceLROnPlateau; a phase's ``dropout`` raises the classifier's drop rate (phase 3, "refining",
adds regularisation in the thesis). A pretrained backbone must name its weights (a keras-vggface
``.h5``, ``imagenet`` or ``random``). An optional KerasTuner Bayesian search (``spatial.tune.trials``) picks the
classifier (1-2 dense layers of 256/512/1024 units, dropout 0.2-0.9) before phase 1; its trials
run through the recipe's executor (``--executor ray`` runs them as Ray tasks, see
:mod:`fer_edge.train.tuning`).

Training frames come from FER2013 (``spatial.source: fer2013``, as in the thesis) or from the
training subjects' clips (``clips``: ``frames_per_clip`` frames evenly spaced in each trimmed
clip, labelled with the clip's expression; test subjects are never used). Online augmentation
uses the thesis' ``ImageDataGenerator`` ranges (:mod:`fer_edge.data.augment`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.atomic import write_json
from fer_edge.core.errors import FerEdgeError
from fer_edge.train.kerasutil import FrameBatches, set_trainable
from fer_edge.train.readback import read_spatial_result

log = logging.getLogger(__name__)


@dataclass
class SpatialResult:
    """A trained spatial model: where it is and how it did per phase."""

    model_path: str
    val_accuracy: float | None = None
    phases: list[dict] = field(default_factory=list)
    reused: bool = False
    backbone: dict | None = None  # the pretrained weights it started from: path and sha256
    validation: str | None = None  # where the validation frames came from ("none" when there were none)


def clip_frames(data, part: str, *, size: int, frames_per_clip: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``frames_per_clip`` most expressive frames of every clip of a part: frames, labels, subjects.

    Example:
        >>> x, y, subjects = clip_frames(data, "train", size=48, frames_per_clip=4)  # doctest: +SKIP
        >>> x.shape  # doctest: +SKIP
        (288, 48, 48, 3)
    """
    xs, ys, ss = [], [], []
    for record in data.part(part):
        clip = data.load(record, size=size)
        pick = _expressive_frames(record, len(clip), frames_per_clip)
        xs.append(clip[pick])
        ys += [data.label_index(record)] * len(pick)
        ss += [record["subject"]] * len(pick)
    if not xs:
        raise FerEdgeError(f"no clips in part '{part}' to train the spatial model on")
    return np.concatenate(xs), np.asarray(ys, np.int64), np.asarray(ss)


def _expressive_frames(record: dict, frames: int, count: int) -> np.ndarray:
    """The ``count`` most intense frames of the trimmed clip (its apex), else evenly spaced.

    The clip's label only holds where the face shows it: onset and offset frames look
    neutral, so they would teach the CNN label noise.
    """
    intensity = record.get("intensity")
    span = record.get("span") or [0, frames]
    if intensity is not None and len(intensity) >= span[1] and span[1] - span[0] == frames:
        values = np.asarray(intensity[span[0] : span[1]], np.float64)
        return np.sort(np.argsort(-values, kind="stable")[:count])
    return np.unique(np.linspace(0, frames - 1, count).round().astype(int))


def fer2013_frames(
    path: str, labels, *, size: int, validation: float = 0.0, seed: int = 0
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str]:
    """FER2013 mapped to ``labels``, as RGB uint8 per split (train/val/test), and where the
    validation frames came from.

    The grey faces are copied into 3 channels (the thesis does not say how it fed them); val and
    test are resized to ``size x size``, train stays at 48 px (``FrameBatches(size=...)`` resizes
    each batch, so the largest split never exists at 224 px in memory). Without
    PublicTest rows (the folder layout has train/ and test/ only) a seeded, class-stratified
    ``validation`` fraction of the training rows is held out; with ``validation`` 0 there is none.
    """
    import cv2

    from fer_edge.data import fer2013

    data = fer2013.to_labels(fer2013.load(path), tuple(labels))

    def rgb(images: np.ndarray, side: int | None) -> np.ndarray:
        if side is not None:
            images = [cv2.resize(im, (side, side), interpolation=cv2.INTER_LINEAR) for im in images]
        return np.stack([cv2.cvtColor(im, cv2.COLOR_GRAY2RGB) for im in images])

    out = {}
    for split in ("train", "val", "test"):
        sub = data.subset(split)
        if len(sub):
            out[split] = (rgb(sub.images, None if split == "train" else size), sub.labels)
    if "train" not in out:
        raise FerEdgeError(f"{path} has no training rows; check the FER2013 copy")
    if "val" in out:
        return out, f"PublicTest ({len(out['val'][1])} faces)"
    if validation <= 0:
        return out, "none (no PublicTest rows and spatial.validation is 0)"
    x, y = out["train"]
    held = fer2013.stratified_holdout(y, validation, seed=seed)
    if not held.any():
        return out, "none (too few training faces to hold any out)"
    out["val"], out["train"] = (rgb(x[held][..., 0], size), y[held]), (x[~held], y[~held])
    return out, (
        f"{int(held.sum())} training faces held out ({100 * validation:g} %, class-stratified, seed {seed}; "
        "FER2013 has no PublicTest rows here and records no subjects)"
    )


def set_dropout(model: Any, rate: float) -> int:
    """Set the drop rate of the classifier's Dropout layers (section 3.2.4's phase 3, "refining":
    "re-train it with more regularization ... an increase of drop rate"); returns how many.

    The new rate takes effect at the next ``compile`` and is saved with the model.
    """
    import keras

    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    if not layers:
        raise FerEdgeError(
            f"model '{model.name}' has no Dropout layer to regularise; a phase 'dropout' "
            "needs a classifier head with dropout"
        )
    for layer in layers:
        layer.rate = float(rate)
    return len(layers)


def _backbone(weights) -> dict | None:
    """Provenance of the starting weights, so a later protocol card can name the file it came from."""
    if weights is None or weights in ("random", "imagenet"):
        return {"weights": weights or "random"}
    from fer_edge.core.assets import sha256

    return {"weights": str(weights), "sha256": sha256(weights)}


def random_base(model: str, options: dict) -> bool:
    """True when ``model`` would start from random weights (no pretrained ``weights`` to load)."""
    import inspect

    from fer_edge.models.registry import get_model_spec

    takes_weights = "weights" in inspect.signature(get_model_spec(model).factory).parameters
    return not takes_weights or options.get("weights") in (None, "random")


def check_learnable(spatial, *, warn: bool = True) -> None:
    """A frozen random base cannot learn: refuse phases that only ever train the classifier on one,
    warn (one line, with ``warn``) when the first phases do.

    Raises:
        FerEdgeError: every phase has ``unfreeze: 0`` and the base starts from random weights.
    """
    if not random_base(spatial.model, spatial.options):
        return
    frozen = [i for i, p in enumerate(spatial.phases, start=1) if p.unfreeze == 0]
    if len(frozen) == len(spatial.phases):
        raise FerEdgeError(
            f"spatial.phases train only the classifier (unfreeze 0) on a randomly initialised {spatial.model} base: "
            "its features never learn and it collapses to the majority class; set unfreeze: -1 in a phase, "
            "or start from pretrained spatial.options.weights"
        )
    if frozen and warn:
        log.warning(
            "spatial phase(s) %s train only the classifier on a random %s base (unfreeze 0): wasted epochs; "
            "the later phases unfreeze it",
            ", ".join(map(str, frozen)),
            spatial.model,
        )


def train_spatial(recipe, data, folder: str | Path, *, progress: bool = True) -> SpatialResult:
    """Fine-tune the recipe's spatial model phase by phase; reuses a finished run.

    ``data`` is the recipe's :class:`~fer_edge.data.clipset.ClipSet` (``spatial.source: clips``) or
    None (``fer2013``: the FER2013 copy alone, labels from ``recipe.labels``).

    Writes ``<folder>/model.keras`` (the classifier), per-phase CSV logs, TensorBoard runs
    and ``result.json``.

    Example:
        >>> result = train_spatial(recipe, prepare_data(recipe), "runs/x/spatial")  # doctest: +SKIP
    """
    from fer_edge.models import create_model
    from fer_edge.train.kerasutil import (
        callbacks,
        fit_verbosity,
        optimizer,
        save_atomic,
        seed_everything,
    )

    cfg = recipe.spatial
    folder = Path(folder)
    done = folder / "result.json"
    if done.is_file() and (folder / "model.keras").is_file():
        result = SpatialResult(**read_spatial_result(done))
        result.reused = True
        log.info("spatial model already trained: %s", result.model_path)
        return result
    from fer_edge.models.spatial import require_weights_choice

    require_weights_choice(cfg.model, cfg.options)
    check_learnable(cfg)
    seed_everything(recipe.seed)
    labels = tuple(data.labels) if data is not None else recipe.label_names
    options = dict(cfg.options)
    options.setdefault("num_classes", len(labels))

    def build(**over):
        return create_model(cfg.model, **{**options, **over})

    model = build()
    size = int(model.inputs[0].shape[1])
    if cfg.source == "fer2013":
        sets, val_source = fer2013_frames(cfg.fer2013, labels, size=size, validation=cfg.validation, seed=recipe.seed)
        (x, y), val = sets["train"], sets.get("val")
    else:
        x, y, subject = clip_frames(data, "train", size=size, frames_per_clip=cfg.frames_per_clip)
        val = None
        val_source = "none (spatial.validation is 0)"
        if cfg.validation > 0:
            # Hold out whole subjects, so validation faces are never seen in training.
            subjects = sorted(set(subject.tolist()))
            held = np.random.default_rng(recipe.seed).permutation(subjects)[
                : max(1, round(len(subjects) * cfg.validation))
            ]
            pick = np.isin(subject, held)
            val, x, y = (x[pick], y[pick]), x[~pick], y[~pick]
            val_source = f"{len(held)} training subjects held out ({', '.join(sorted(held.tolist()))})"
    log.info("spatial validation: %s", val_source)
    train = FrameBatches(x, y, batch_size=cfg.batch_size, augment=cfg.online_augmentation, seed=recipe.seed, size=size)
    val_data = (val[0].astype(np.float32), val[1]) if val is not None else None
    if cfg.tune.trials:
        from fer_edge.train.tuning import search

        best = search(
            cfg.tune,
            model=cfg.model,
            options=options,
            train=(x, y),
            val=val,
            folder=folder / "tuner",
            seed=recipe.seed,
            batch_size=cfg.batch_size,
            augment=cfg.online_augmentation,
            executor=recipe.executor,
            progress=progress,
            learning_rate=cfg.phases[0].learning_rate if cfg.phases[0].optimizer == "sgd" else 1e-2,
            size=size,
        )
        log.info("tuner: best classifier %s", best)
        options.update(best)
        model = build()
    phases = []
    for i, phase in enumerate(cfg.phases, start=1):
        set_trainable(model, phase.unfreeze)
        if phase.dropout is not None:
            set_dropout(model, phase.dropout)
        model.compile(
            optimizer=optimizer(phase.optimizer, phase.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        verbose, extra = fit_verbosity(progress)
        history = model.fit(
            train,
            validation_data=val_data,
            epochs=phase.epochs,
            verbose=verbose,
            callbacks=callbacks(
                folder / f"phase-{i}",
                monitor_val=val_data is not None,
                checkpoint=False,
                early_stopping=cfg.early_stopping,
                reduce_lr=(0.5, 3),
            )
            + extra,
        )
        h = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        phases.append(
            {
                "phase": i,
                "unfreeze": phase.unfreeze,
                "dropout": phase.dropout,
                "epochs": len(h.get("loss", [])),
                "accuracy": h.get("accuracy", [None])[-1],
                # None without validation frames: never a 0 that reads like a score.
                "val_accuracy": max(h["val_accuracy"]) if h.get("val_accuracy") else None,
            }
        )
    path = save_atomic(model, folder / "model.keras")
    result = SpatialResult(
        str(path),
        phases[-1]["val_accuracy"] if val_data is not None else None,
        phases,
        backbone=_backbone(cfg.options.get("weights")),
        validation=val_source,
    )
    write_json(done, result.__dict__, indent=1)
    return result
