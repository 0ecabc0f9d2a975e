"""``fer-edge train spatial``: fine-tune the per-frame CNN, score it on FER2013's PrivateTest when
it trained on FER2013 alone (the thesis' stage 1), and save it as a ``frame`` bundle.

The run folder's layout is :mod:`fer_edge.train.experiment`'s (``spatial/``, ``evaluation/``,
``frame-bundle/``, the protocol card).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fer_edge.runtime.bundle import WindowSpec
from fer_edge.train.experiment import TrainReport, _announce_card, spatial_model
from fer_edge.train.usage import preflight

__all__ = ["run_spatial"]


def run_spatial(recipe, *, progress: bool = True, announce: Callable[[str], None] | None = None) -> TrainReport:
    """``fer-edge train spatial``: fine-tune and save the classifier as a ``frame`` bundle.

    With ``spatial.source: fer2013`` this is the thesis' stage 1 on its own: the FER2013 copy is
    all it reads (no BU-4DFE), and the classifier is scored on PrivateTest as table 3.4's row,
    table 3.5 and figure 3.12 (:mod:`fer_edge.train.table34`). The ``spatial/model.keras`` it
    writes is what the cascade recipes' ``spatial.weights`` point at.
    """
    from fer_edge.train.bundling import save_single_bundle

    start = time.perf_counter()
    preflight(recipe, "spatial")
    out = Path(recipe.out)
    report = TrainReport("spatial", recipe.out, files={"model": str(out / "spatial" / "model.keras")})
    standalone = recipe.spatial.source == "fer2013" and not recipe.spatial.weights
    if standalone:
        from fer_edge.train.data import check_fer2013_copy

        check_fer2013_copy(recipe)
        data = None
    else:
        from fer_edge.train.data import prepare_data

        data = prepare_data(recipe, progress=progress)
    _announce_card(recipe, "spatial", announce, report, data=data)
    model, info = spatial_model(recipe, data, progress=progress)
    if "validation" in info:
        val = info.get("val_accuracy")
        report.notes.append(
            f"validation: {info['validation']}" + (f", best accuracy {100 * val:.1f} %" if val is not None else "")
        )
    labels = data.labels if data is not None else recipe.label_names
    if standalone:
        from fer_edge.train.table34 import evaluate_fer2013_test

        ev = evaluate_fer2013_test(model, recipe, out / "evaluation")
        if ev is None:
            report.notes.append(f"test: {recipe.spatial.fer2013} has no PrivateTest rows, nothing to score")
        else:
            report.test_accuracy = ev.accuracy
            report.comparison = ev.line()
            report.files.update(ev.files)
            info["test_accuracy"], info["test_samples"] = ev.accuracy, ev.samples
    if recipe.spatial.frame_bundle and int(model.outputs[0].shape[-1]) == len(labels):
        size = int(model.inputs[0].shape[1])
        if data is not None:
            from fer_edge.data.clipset import data_provenance

            samples = np.concatenate([data.load(r, size=size)[:4] for r in data.part("train")[:4]])
            provenance = data_provenance(data, length=5, trimmed=recipe.data.trimmed)
        else:
            from fer_edge.train.table34 import fer2013_rgb

            samples = fer2013_rgb(recipe.spatial.fer2013, labels, size, "train", limit=16)[0]
            provenance = {"fer2013": str(Path(recipe.spatial.fer2013).resolve()), "labels": list(labels)}
        bundle = save_single_bundle(
            out / "frame-bundle",
            kind="frame",
            model=model,
            labels=labels,
            name=f"{recipe.name}-frame",
            window=WindowSpec(5, 1, 1),
            samples=samples,
            pad_y=int(recipe.data.preprocess.get("pad_y", 10)),
            metrics=info,
            source="fer-edge train spatial",
            data=provenance,
        )
        report.bundle = str(bundle.path)
    report.seconds = time.perf_counter() - start
    return report
