"""A recipe end to end: data -> spatial extractor -> features -> CV -> finalize -> test -> bundle.

Run folder (``recipe.out``)::

    recipe.yaml, split.json        the effective recipe and the subject split
    protocol.json, protocol.md     the protocol card, written before any training
    spatial/                       fine-tuned spatial model (model.keras, phase logs, result.json)
    frame-bundle/                  the spatial classifier as a per-frame bundle (optional)
    features/                      the feature stores (fold-<i>-features-<F>.h5 ...)
    cv/fold-<i>/                   per-fold log.csv, TensorBoard, best.keras, result.json
    cv/curves.png, folds.md        epoch-wise mean curves, per-fold table
    final.keras, final.json        the final model and its epoch count
    evaluation/                    test metrics, confusion PNGs, error table
    bundle/                        the deployable bundle (manifest.json, .keras + IR)

Every step reuses what a previous run finished, so an interrupted run continues where it
stopped and ``--fold i`` jobs can fill ``cv/`` in parallel.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.atomic import replace_folder
from fer_edge.runtime.bundle import WindowSpec
from fer_edge.train.usage import preflight

log = logging.getLogger(__name__)


@dataclass
class TrainReport:
    """What a training run produced."""

    stage: str
    out: str
    bundle: str | None = None
    test_accuracy: float | None = None
    val_accuracies: list[float] = field(default_factory=list)
    final_epochs: int | None = None
    stop_epochs: list[int] = field(default_factory=list)
    seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)
    pending_folds: list[int] = field(default_factory=list)
    comparison: str | None = None  # the thesis' table 3.4/3.6 row next to the measured accuracy
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"train {self.stage}: {self.out} ({self.seconds:.0f} s)"]
        if self.val_accuracies:
            accs = ", ".join(f"{100 * a:.1f}" for a in self.val_accuracies)
            lines.append(f"  cross-validation: mean {100 * np.mean(self.val_accuracies):.1f} % [{accs}]")
        if self.final_epochs:
            lines.append(f"  final model: {self.final_epochs} epochs (fold early-stop epochs {self.stop_epochs})")
        if self.test_accuracy is not None:
            lines.append(f"  test accuracy: {100 * self.test_accuracy:.1f} %")
        if self.comparison:
            lines.append(f"  {self.comparison}")
        lines += [f"  {note}" for note in self.notes]
        if self.pending_folds:
            lines.append(f"  folds still to run: {self.pending_folds}")
        lines += [f"  {k}: {v}" for k, v in self.files.items()]
        return "\n".join(lines)


def _window(recipe) -> WindowSpec:
    length = recipe.data.length
    return WindowSpec(length, min(recipe.window.stride, length), min(recipe.window.min_frames, length))


def _announce_card(recipe, stage: str, announce: Callable[[str], None] | None, report: TrainReport, **facts) -> None:
    """Build, store and show the protocol card, before any training."""
    from fer_edge.train.protocol import protocol_card

    card = protocol_card(recipe, stage=stage, **facts)
    report.files.update(card.write(recipe.out))
    if announce is not None:
        announce(card.describe())


def _load_spatial(recipe) -> Any:
    """``spatial.weights`` loaded, checked against the recipe's backbone and input size."""
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.models import load_keras_model

    path = Path(recipe.spatial.weights)
    model = load_keras_model(path)
    if recipe.spatial.model not in model.name:
        raise FerEdgeError(
            f"spatial.weights {path} holds model '{model.name}', the recipe says spatial.model "
            f"'{recipe.spatial.model}'; point spatial.weights at a {recipe.spatial.model} model "
            "or --set spatial.model to match"
        )
    want = recipe.spatial.options.get("input_shape")
    got = tuple(int(d) for d in model.inputs[0].shape[1:])
    if want is not None and tuple(int(d) for d in want) != got:
        raise FerEdgeError(
            f"spatial.weights {path} takes {got} images, the recipe's spatial.options.input_shape "
            f"is {tuple(want)} (thesis: 224x224, section 3.2.4); "
            "fine-tune at that size or fix the recipe"
        )
    return model


def spatial_model(recipe, data, *, progress: bool = True) -> tuple[Any, dict]:
    """The recipe's trained spatial classifier (trained now, reused, or ``spatial.weights``)."""
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.models import load_keras_model

    if recipe.spatial.weights:
        model = _load_spatial(recipe)
        out = int(model.outputs[0].shape[-1])
        labels = data.labels if data is not None else recipe.label_names
        if "predictions" in [layer.name for layer in model.layers] and out != len(labels):
            log.info(
                "spatial model has %d classes (e.g. FER2013), the recipe %d: only its features are used",
                out,
                len(labels),
            )
        return model, {"weights": recipe.spatial.weights}
    from fer_edge.train.finetune import train_spatial

    result = train_spatial(recipe, data, Path(recipe.out) / "spatial", progress=progress)
    if not Path(result.model_path).is_file():
        raise FerEdgeError(f"spatial model {result.model_path} is missing; delete {recipe.out}/spatial and rerun")
    info = {"val_accuracy": result.val_accuracy, "validation": result.validation, "phases": result.phases}
    return load_keras_model(result.model_path), info


def run_extract(recipe, *, parts=None, progress: bool = True, before: Callable[[Any, Any], None] | None = None):
    """``fer-edge extract``: the spatial extractor's features of every fold and the test set.

    ``before(data, extractor)`` runs once both are ready and before any extraction (the
    protocol card of ``train temporal``).
    """
    from fer_edge.models import feature_extractor
    from fer_edge.train.data import prepare_data
    from fer_edge.train.features import extract_features

    data = prepare_data(recipe, progress=progress)
    model, _ = spatial_model(recipe, data, progress=progress)
    extractor = feature_extractor(model, recipe.extract.layer)
    if before is not None:
        before(data, extractor)
    cfg = recipe.extract
    kw = dict(
        parts=parts,
        augment=cfg.augment,
        layer=cfg.layer,
        batch_size=cfg.batch_size,
        backend=cfg.backend,
        dtype=cfg.dtype,
        length=recipe.data.length,
        trimmed=recipe.data.trimmed,
        seed=recipe.seed,
        progress=progress,
    )
    if recipe.executor == "local":
        report = extract_features(data, extractor, Path(recipe.out) / "features", **kw)
    else:  # one task per (part, copy, shard), merged at the end
        from fer_edge.train.shards import extract_sharded

        report = extract_sharded(data, extractor, Path(recipe.out) / "features", executor=recipe.executor, **kw)
    return data, extractor, report


def _test_and_bundle(
    recipe, data, stage: str, report: TrainReport, cv, *, models: dict, samples: dict, progress: bool
) -> None:
    from fer_edge.data.clipset import data_provenance
    from fer_edge.train.bundling import save_cascade_bundle, save_single_bundle
    from fer_edge.train.metrics import evaluate_predictions
    from fer_edge.train.predict import predict_bundle

    out = Path(recipe.out)
    metrics = {
        "val_accuracies": cv.val_accuracies,
        "mean_val_accuracy": cv.mean_val_accuracy,
        "final_epochs": report.final_epochs,
        "stop_epochs": report.stop_epochs,
        "fold_epochs": [f.epochs for f in cv.folds],
    }
    common = dict(
        labels=data.labels,
        name=recipe.name,
        window=_window(recipe),
        pad_y=int(recipe.data.preprocess.get("pad_y", 10)),
        metrics=metrics,
        data=data_provenance(data, length=recipe.data.length, trimmed=recipe.data.trimmed),
        recipe=recipe.to_dict(),
    )
    # The bundle is built and evaluated under a temporary name and moved to bundle/ only with its
    # test score in the manifest: a killed run never leaves a bundle that looks finished.
    partial = out / ".bundle.partial"
    if stage == "temporal":
        bundle = save_cascade_bundle(
            partial,
            spatial=models["spatial"],
            temporal=models["temporal"],
            sample_frames=samples["frames"],
            sample_features=samples["features"],
            source="fer-edge train temporal",
            **common,
        )
    else:
        bundle = save_single_bundle(
            partial, kind="clip", model=models["clip"], samples=samples["clips"], source="fer-edge train clip", **common
        )
    if data.part("test"):
        pred = predict_bundle(bundle, data, "test", progress=progress)
        ev = evaluate_predictions(
            pred, out / "evaluation", reference=recipe.reference_accuracy, title=f"{recipe.name} (test)"
        )
        report.test_accuracy = ev.accuracy
        from fer_edge.train.protocol import table_3_6_line

        report.comparison = table_3_6_line(recipe, ev.accuracy)
        report.files.update({k: v for k, v in ev.files.items() if k in ("report", "confusion_normalized", "errors_md")})
        # The test score goes into the bundle's provenance (rewritten in place, atomically).
        from fer_edge.runtime.bundle import write_manifest

        bundle.provenance["metrics"]["test_accuracy"] = ev.accuracy
        bundle.provenance["metrics"]["test_samples"] = ev.samples
        write_manifest(bundle)
    report.bundle = str(replace_folder(partial, out / "bundle"))


def run_temporal(
    recipe, *, folds: list[int] | None = None, progress: bool = True, announce: Callable[[str], None] | None = None
) -> TrainReport:
    """``fer-edge train temporal``: extraction, CV, finalize, test evaluation, cascade bundle.

    With ``folds`` given, only those folds run (independent jobs) and the run stops there
    unless every fold is finished.

    Example:
        >>> report = run_temporal(load_recipe("train/synthetic.yaml"))  # doctest: +SKIP
        >>> report.test_accuracy >= 0.9  # doctest: +SKIP
        True
    """
    start = time.perf_counter()
    preflight(recipe, "temporal")  # before Keras loads: a wrong recipe fails in a second
    from fer_edge.train.features import extractor_id
    from fer_edge.train.tasks import TemporalTask

    out = Path(recipe.out)
    report = TrainReport("temporal", str(out), files={"features": str(out / "features")})

    def card(data, extractor):
        _announce_card(
            recipe,
            "temporal",
            announce,
            report,
            data=data,
            input_size=int(extractor.inputs[0].shape[1]),
            features=int(extractor.outputs[0].shape[-1]),
        )

    data, extractor, ext = run_extract(recipe, progress=progress, before=card)
    log.info(ext.describe())
    task = TemporalTask(
        recipe, out / "features", features=ext.feature_size, folds=data.num_folds, extractor=extractor_id(extractor)
    )
    done = _cross_validate_and_finalize(task, recipe, data, out, report, recipe.temporal.epochs, folds, progress)
    if done is None:
        report.seconds = time.perf_counter() - start
        return report
    cv, final = done
    test = data.part("test") or data.part("fold-0")
    size = int(extractor.inputs[0].shape[1])
    frames = np.concatenate([data.load(r, size=size)[:4] for r in test[:4]]).astype(np.float32)
    from fer_edge.data.store import read_store

    store = read_store(task.store_path(0))
    x, m, _ = store.batch(list(range(min(4, len(store)))))
    _test_and_bundle(
        recipe,
        data,
        "temporal",
        report,
        cv,
        models={"spatial": extractor, "temporal": final},
        samples={"frames": frames, "features": (x, m)},
        progress=progress,
    )
    report.seconds = time.perf_counter() - start
    return report


def _cross_validate_and_finalize(
    task, recipe, data, out: Path, report: TrainReport, epochs: int, folds: list[int] | None, progress: bool
):
    """Fold runs, then (once every fold is done) the curves, finalize's epoch rule and the final fit.

    Returns ``(cv, final_model)``, or None while folds are still pending (``--fold`` jobs): the
    report then lists them and the validation accuracies of the folds that are done.
    """
    from fer_edge.train import crossval

    crossval.cross_validate(
        task,
        out / "cv",
        epochs=epochs,
        folds=folds,
        patience=recipe.finalize.patience,
        progress=progress,
        executor=recipe.executor,
    )
    results, missing = crossval.collect(out / "cv", data.num_folds)
    if missing:
        report.pending_folds = missing
        report.val_accuracies = [r.best_val_accuracy for r in results]
        return None
    cv = crossval.CVReport(results, crossval.summarize(results, out / "cv"))
    report.val_accuracies = cv.val_accuracies
    report.files.update(cv.files)
    report.stop_epochs = crossval.stop_epochs(
        task, results, out / "finalize", recipe.finalize, progress=progress, executor=recipe.executor
    )
    report.final_epochs = crossval.finalize_epochs(report.stop_epochs)
    return cv, crossval.train_final(
        task, out, report.final_epochs, reduce_lr=crossval.final_schedule(recipe.finalize), progress=progress
    )


def run_clip(
    recipe, *, folds: list[int] | None = None, progress: bool = True, announce: Callable[[str], None] | None = None
) -> TrainReport:
    """``fer-edge train clip``: C3D / ConvLSTM with CV, finalize, test evaluation, clip bundle."""
    from fer_edge.train.data import prepare_data

    start = time.perf_counter()
    preflight(recipe, "clip")
    from fer_edge.train.tasks import ClipTask

    out = Path(recipe.out)
    report = TrainReport("clip", str(out))
    data = prepare_data(recipe, progress=progress)
    _announce_card(recipe, "clip", announce, report, data=data)
    task = ClipTask(recipe, data)
    done = _cross_validate_and_finalize(task, recipe, data, out, report, recipe.clip.epochs, folds, progress)
    if done is None:
        report.seconds = time.perf_counter() - start
        return report
    cv, final = done
    clips, _ = task.val_data(0)[0]
    _test_and_bundle(
        recipe, data, "clip", report, cv, models={"clip": final}, samples={"clips": clips[:2]}, progress=progress
    )
    report.seconds = time.perf_counter() - start
    return report
