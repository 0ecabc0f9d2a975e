"""Cross-validation (section 3.2.3): fold runs, epoch-wise averaged curves, finalize.

A *task* (:class:`fer_edge.train.tasks.TemporalTask`, :class:`~fer_edge.train.tasks.ClipTask`)
says how to build a compiled model and the training / validation data of a fold; this module
runs it the thesis' way:

* :func:`run_fold` trains fold ``i`` (validation = fold ``i``, training = the other folds)
  for a fixed number of epochs with a CSV log, TensorBoard and a best-checkpoint. A finished
  fold writes ``fold-<i>/result.json`` and is skipped when run again, so folds are
  independent jobs: ``fer-edge train temporal --recipe R --fold 3`` on several machines /
  GPUs sharing the run folder, then one plain run collects them.
* :func:`summarize` averages the curves epoch-wise across folds (``curves.png``) and writes
  the per-fold table (``folds.csv`` / ``folds.md``).
* :func:`finalize_epochs` is the thesis' rule: every fold's early-stopping epoch (patience
  10 on validation accuracy), averaged and rounded, is the epoch count of the final model
  trained on all training subjects (:func:`train_final`). By default the early-stopping
  epochs are read off the fold logs (:func:`early_stop_epoch` replays Keras' EarlyStopping
  on the curve, identical for the deterministic runs); ``finalize.separate_runs`` re-runs
  each fold with EarlyStopping and ReduceLROnPlateau instead, as the thesis did (section
  3.2.4: "with learning rate decay of factor 0.5 if accuracy does not improve after 5 epochs
  for finalizing model"), and the final fit then keeps that schedule (:func:`final_schedule`).
"""

from __future__ import annotations

import csv
import functools
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.atomic import open_atomic, write_json, write_text
from fer_edge.core.errors import FerEdgeError
from fer_edge.train.readback import read_final_record, read_fold_result

log = logging.getLogger(__name__)


@dataclass
class FoldResult:
    """One fold's run: its curves and the numbers the table shows."""

    fold: int
    epochs: int
    history: dict[str, list[float]]
    best_val_accuracy: float
    best_epoch: int  # 1-based epoch of the best validation accuracy
    last_val_accuracy: float
    stop_epoch: int  # 1-based epoch EarlyStopping(patience) keeps
    seconds: float = 0.0


@dataclass
class CVReport:
    """All folds of a cross-validation and the files describing them."""

    folds: list[FoldResult]
    files: dict[str, str] = field(default_factory=dict)

    @property
    def val_accuracies(self) -> list[float]:
        return [f.best_val_accuracy for f in self.folds]

    @property
    def mean_val_accuracy(self) -> float:
        return float(np.mean(self.val_accuracies)) if self.folds else 0.0


def early_stop_epoch(val_accuracy: Sequence[float], patience: int) -> int:
    """The 1-based epoch EarlyStopping(monitor=val_accuracy, patience, restore_best) keeps.

    Training stops once ``patience`` epochs pass without a strictly better value; the best
    epoch so far is the one kept.

    Example:
        >>> early_stop_epoch([0.5, 0.6, 0.6, 0.55, 0.9], patience=2)
        2
        >>> early_stop_epoch([0.5, 0.6, 0.6, 0.55, 0.9], patience=3)
        5
    """
    if not len(val_accuracy):
        raise FerEdgeError("no validation accuracy recorded: cannot pick an early-stopping epoch")
    best = 0
    for epoch, value in enumerate(val_accuracy):
        if value > val_accuracy[best]:
            best = epoch
        elif epoch - best >= patience:
            break
    return best + 1


def finalize_epochs(stop_epochs: Sequence[int]) -> int:
    """Epochs of the final model: the mean of the folds' early-stopping epochs, rounded half up.

    Example (the thesis' five folds, section 3.2.4: 9, 22, 4, 4, 16 -> 11):
        >>> finalize_epochs([9, 22, 4, 4, 16])
        11
    """
    if not stop_epochs:
        raise FerEdgeError("finalize needs at least one fold's early-stopping epoch")
    return max(1, int(math.floor(float(np.mean(stop_epochs)) + 0.5)))


def _fit(
    task,
    model,
    train,
    val,
    epochs: int,
    folder: Path,
    *,
    early_stopping: int = 0,
    reduce_lr: tuple[float, int] | None = None,
    progress: bool = True,
) -> dict[str, list[float]]:
    from fer_edge.train.kerasutil import callbacks

    cbs = callbacks(
        folder,
        monitor_val=val is not None,
        checkpoint=val is not None,
        early_stopping=early_stopping,
        reduce_lr=reduce_lr,
        reduce_lr_on_train=val is None,
    )
    from fer_edge.train.kerasutil import fit_verbosity

    verbose, extra = fit_verbosity(progress)
    history = model.fit(train, validation_data=val, epochs=epochs, verbose=verbose, callbacks=cbs + extra)
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


def _result_path(folder: Path) -> Path:
    return folder / "result.json"


def _write_json(path: Path, data: Any) -> None:
    write_json(path, data, indent=1)


def run_fold(
    task,
    fold: int,
    folder: str | os.PathLike,
    *,
    epochs: int,
    patience: int = 10,
    early_stopping: int = 0,
    reduce_lr: tuple[float, int] | None = None,
    progress: bool = True,
) -> FoldResult:
    """Train fold ``fold`` (or reuse its finished run); returns its :class:`FoldResult`.

    Example:
        >>> r = run_fold(task, 0, "runs/x/cv/fold-0", epochs=40)  # doctest: +SKIP
        >>> r.best_val_accuracy  # the fold's best validation accuracy  # doctest: +SKIP
    """
    from fer_edge.train.kerasutil import seed_everything

    folder = Path(folder)
    done = _result_path(folder)
    if done.is_file():
        data = read_fold_result(done, fold)
        if data.get("epochs_requested") == epochs:
            data.pop("epochs_requested")
            log.info("fold %d already done (%s); skipping", fold, done)
            return FoldResult(**data)
    if not 0 <= fold < task.num_folds:
        raise FerEdgeError(f"fold {fold} does not exist; use 0..{task.num_folds - 1}")
    seed_everything(task.seed)
    start = time.perf_counter()
    model = task.build()
    history = _fit(
        task,
        model,
        task.train_data(exclude=fold),
        task.val_data(fold),
        epochs,
        folder,
        early_stopping=early_stopping,
        reduce_lr=reduce_lr,
        progress=progress,
    )
    val = history.get("val_accuracy") or [0.0]
    result = FoldResult(
        fold,
        len(val),
        history,
        float(max(val)),
        int(np.argmax(val)) + 1,
        float(val[-1]),
        early_stop_epoch(val, patience),
        time.perf_counter() - start,
    )
    _write_json(done, {**asdict(result), "epochs_requested": epochs})
    return result


def _fold_job(fold: int, *, task, folder: str, **kw) -> FoldResult:
    """One fold as an executor item (top level: Ray ships it by reference)."""
    return run_fold(task, fold, Path(folder) / f"fold-{fold}", **kw)


def cross_validate(
    task,
    folder: str | os.PathLike,
    *,
    epochs: int,
    folds: Sequence[int] | None = None,
    patience: int = 10,
    progress: bool = True,
    executor: str | None = None,
) -> CVReport:
    """Run (or reuse) the given folds (default all) and summarise them.

    ``executor`` (see :mod:`fer_edge.cluster`): ``local`` runs the folds one after the other
    here; ``ray[=ADDRESS]`` runs one task per fold.

    Example:
        >>> report = cross_validate(task, "runs/x/cv", epochs=40)  # doctest: +SKIP
        >>> report.files["curves"]  # doctest: +SKIP
        'runs/x/cv/curves.png'
    """
    folder = Path(folder)
    folds = list(range(task.num_folds)) if folds is None else list(folds)
    from fer_edge.cluster import executor_for

    ex = executor_for(executor)
    job = functools.partial(
        _fold_job,
        task=task,
        folder=str(folder),
        epochs=epochs,
        patience=patience,
        progress=progress and not ex.distributed,
    )
    results = ex.map(job, folds, desc="cv folds", workdir=folder, uses_tf=True)
    report = CVReport(results)
    if len(results) == task.num_folds:
        report.files = summarize(results, folder)
    return report


def collect(folder: str | os.PathLike, num_folds: int) -> tuple[list[FoldResult], list[int]]:
    """Finished fold results under ``folder`` and the folds still missing."""
    folder = Path(folder)
    have, missing = [], []
    for i in range(num_folds):
        path = _result_path(folder / f"fold-{i}")
        if path.is_file():
            data = read_fold_result(path, i)
            data.pop("epochs_requested", None)
            have.append(FoldResult(**data))
        else:
            missing.append(i)
    return have, missing


def summarize(results: Sequence[FoldResult], folder: str | os.PathLike) -> dict[str, str]:
    """Epoch-wise mean curves across folds (PNG + CSV) and the per-fold table (CSV + Markdown)."""
    from fer_edge.core.plots import pyplot, save_figure

    plt = pyplot()
    folder = Path(folder)
    n = min(len(r.history.get("loss", [])) for r in results)
    keys = [k for k in ("accuracy", "val_accuracy", "loss", "val_loss") if all(k in r.history for r in results)]
    mean = {k: np.mean([r.history[k][:n] for r in results], axis=0) for k in keys}
    files = {}
    rows = [[str(e + 1), *(f"{mean[k][e]:.4f}" for k in keys)] for e in range(n)]
    files["curves_csv"] = _write_rows(folder / "curves.csv", [["epoch", *keys], *rows])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("accuracy", "loss")):
        for k in (metric, f"val_{metric}"):
            if k in mean:
                ax.plot(range(1, n + 1), mean[k], label=("validation" if k.startswith("val") else "train"))
        ax.set_xlabel("epoch")
        ax.set_title(f"{metric}, mean of {len(results)} folds")
        ax.legend()
    save_figure(fig, folder / "curves.png")
    files["curves"] = str(folder / "curves.png")
    header = ["fold", "max val accuracy", "epoch of max", "last val accuracy", "early-stop epoch", "seconds"]
    table = [
        [
            str(r.fold),
            f"{r.best_val_accuracy:.4f}",
            str(r.best_epoch),
            f"{r.last_val_accuracy:.4f}",
            str(r.stop_epoch),
            f"{r.seconds:.1f}",
        ]
        for r in results
    ]
    accs = [r.best_val_accuracy for r in results]
    table.append(
        [
            "mean",
            f"{np.mean(accs):.4f}",
            "",
            f"{np.mean([r.last_val_accuracy for r in results]):.4f}",
            f"{np.mean([r.stop_epoch for r in results]):.1f}",
            "",
        ]
    )
    files["folds_csv"] = _write_rows(folder / "folds.csv", [header, *table])
    md = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
    md += "".join("| " + " | ".join(row) + " |\n" for row in table)
    write_text(folder / "folds.md", md)
    files["folds_md"] = str(folder / "folds.md")
    return files


def _write_rows(path: Path, rows: list[list[str]]) -> str:
    with open_atomic(path, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return str(path)


def _es_job(item: tuple[int, int], *, task, folder: str, **kw) -> FoldResult:
    fold, epochs = item
    return run_fold(task, fold, Path(folder) / f"fold-{fold}", epochs=epochs, **kw)


def stop_epochs(
    task,
    results: Sequence[FoldResult],
    folder: str | os.PathLike,
    cfg,
    *,
    progress: bool = True,
    executor: str | None = None,
) -> list[int]:
    """Every fold's early-stopping epoch: read off the CV logs, or from separate ES runs."""
    if not cfg.separate_runs:
        return [early_stop_epoch(r.history["val_accuracy"], cfg.patience) for r in results]
    from fer_edge.cluster import executor_for

    ex = executor_for(executor)
    job = functools.partial(
        _es_job,
        task=task,
        folder=str(folder),
        patience=cfg.patience,
        early_stopping=cfg.patience,
        reduce_lr=(cfg.reduce_lr_factor, cfg.reduce_lr_patience),
        progress=progress and not ex.distributed,
    )
    # Long enough for patience to trigger; the run stops itself.
    runs = ex.map(
        job,
        [(r.fold, max(r.epochs, 1) + cfg.patience) for r in results],
        desc="finalize folds",
        workdir=folder,
        uses_tf=True,
    )
    return [es.best_epoch for es in runs]


def final_schedule(cfg) -> tuple[float, int] | None:
    """The final fit's ReduceLROnPlateau ``(factor, patience)``: the fold runs' one under the
    thesis protocol (``separate_runs``), none when the stop epochs came from fixed-LR logs.

    There is no validation set in the final fit, so the plateau is watched on training
    accuracy (the thesis says "if accuracy does not improve"; an assumption the card lists).
    """
    return (cfg.reduce_lr_factor, cfg.reduce_lr_patience) if cfg.separate_runs else None


def train_final(
    task, folder: str | os.PathLike, epochs: int, *, reduce_lr: tuple[float, int] | None = None, progress: bool = True
) -> Any:
    """Train on all training folds for ``epochs`` (no validation); reuses ``final.keras``."""
    from fer_edge.models import load_keras_model
    from fer_edge.train.kerasutil import save_atomic, seed_everything

    folder = Path(folder)
    path = folder / "final.keras"
    meta = folder / "final.json"
    schedule = list(reduce_lr) if reduce_lr else None
    if path.is_file() and meta.is_file():
        done = read_final_record(meta)
        if done.get("epochs") == epochs and done.get("reduce_lr") == schedule:
            log.info("final model already trained: %s", path)
            return load_keras_model(path)
    seed_everything(task.seed)
    model = task.build()
    history = _fit(
        task,
        model,
        task.train_data(exclude=None),
        None,
        epochs,
        folder / "final",
        reduce_lr=reduce_lr,
        progress=progress,
    )
    save_atomic(model, path)
    _write_json(meta, {"epochs": epochs, "reduce_lr": schedule, "history": history})
    return model
