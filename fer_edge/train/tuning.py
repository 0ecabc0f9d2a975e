"""Classifier search (section 3.2.4): KerasTuner's Bayesian oracle here, trials through an executor.

The oracle (``keras_tuner.oracles.BayesianOptimizationOracle``, seeded with the recipe's seed)
stays in the driver and proposes trials in rounds of ``spatial.tune.parallel``. A round's trials
are items of an executor (:mod:`fer_edge.cluster`): run here one after the other (``local``) or as
Ray tasks that declare their CPUs/GPUs and pin TF's threads (``ray[=ADDRESS]``). While a round
runs, the oracle "hallucinates" the scores of its trials (KerasTuner's own support for parallel
trials), so the trials of one round differ. Each trial seeds itself from its number and writes
``trial-NN.json`` (atomically) when done, hence:

* the same recipe proposes the same trials and gets the same scores locally and on Ray: the
  proposals depend only on the seed, the round size and earlier scores, never on where or in
  which order the trials ran;
* a rerun after Ctrl-C or a kill replays the finished trials from their files through a fresh
  oracle (the same random draws, so the same proposals) and runs only the missing ones.

KerasTuner's own log (``oracle.json``, ``trial_NN/trial.json``) is rewritten under
``keras-tuner/`` on every run; the ``trial-NN.json`` files are the state.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.atomic import write_json
from fer_edge.core.errors import FerEdgeError
from fer_edge.train.readback import read_trial

log = logging.getLogger(__name__)


def search_space(cfg) -> Any:
    """The search space of ``spatial.tune`` as KerasTuner ``HyperParameters``.

    1-2 dense layers (``dense_layers``), each of ``units`` units (``units_i`` is active only
    when there are more than ``i`` layers) and a dropout rate in ``dropout`` (step 0.1).

    Example:
        >>> search_space(TuneConfig()).space[0].name  # doctest: +SKIP
        'dense_layers'
    """
    from fer_edge.core.errors import require

    kt = require("keras_tuner", "train", purpose="the hyperparameter search")
    hp = kt.HyperParameters()
    low, high = min(cfg.dense_layers), max(cfg.dense_layers)
    hp.Int("dense_layers", low, high)
    for i in range(high):
        with hp.conditional_scope("dense_layers", list(range(max(i + 1, low), high + 1))):
            hp.Choice(f"units_{i}", list(cfg.units))
    hp.Float("dropout", *cfg.dropout, step=0.1)
    return hp


def classifier(values: dict[str, Any]) -> dict[str, Any]:
    """A trial's values as the spatial model's options: ``{"dense_units": (...), "dropout": x}``."""
    layers = int(values["dense_layers"])
    return {
        "dense_units": tuple(int(values[f"units_{i}"]) for i in range(layers)),
        "dropout": round(float(values["dropout"]), 2),
    }


def _trial_file(folder: str | os.PathLike, trial_id: str) -> Path:
    return Path(folder) / f"trial-{trial_id}.json"


def _finished(folder: str | os.PathLike, trial_id: str, values: dict) -> dict | None:
    """The result of a finished trial with these values, else None (a different search's file is
    an error: the recipe changed under a half-done search)."""
    path = _trial_file(folder, trial_id)
    if not path.is_file():
        return None
    done = read_trial(path, trial_id)
    if done.get("values") != values:
        raise FerEdgeError(
            f"{path} holds another search's trial (the recipe's spatial.tune or seed changed); "
            f"delete {Path(folder)} to start the search again"
        )
    return done


def _trial_job(
    item: tuple[str, dict],
    *,
    folder: str,
    model: str,
    options: dict,
    data: tuple,
    epochs: int,
    batch_size: int,
    augment: bool,
    seed: int,
    verbose: bool,
    learning_rate: float,
    size: int | None = None,
) -> dict:
    """One trial (an executor item; top level so Ray ships it by reference): build, fit, score."""
    from fer_edge.models import create_model
    from fer_edge.train.kerasutil import FrameBatches, fit_verbosity, optimizer, seed_everything, set_trainable

    trial_id, values = item
    done = _finished(folder, trial_id, values)
    if done is not None:
        return done
    # Seeded by its number: a trial's score does not depend on what ran before it in this process.
    seed_everything(seed + int(trial_id))
    x, y, val_x, val_y = data
    net = create_model(model, **{**options, **classifier(values)})
    set_trainable(net, 0)
    # Phase 1's optimizer (SGD, momentum 0.9, its learning rate): a trial scores the classifier
    # phase 1 will train, not one under another optimizer.
    net.compile(optimizer=optimizer("sgd", learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train = FrameBatches(x, y, batch_size=batch_size, augment=augment, seed=seed, size=size)
    fit_verbose, extra = fit_verbosity(verbose)
    history = net.fit(train, validation_data=(val_x, val_y), epochs=epochs, verbose=fit_verbose, callbacks=extra)
    h = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    result = {"trial": trial_id, "values": values, "val_accuracy": max(h["val_accuracy"]), "history": h}
    write_json(_trial_file(folder, trial_id), result, indent=1)
    return result


def search(
    cfg,
    *,
    model: str,
    options: dict,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None,
    folder: str | os.PathLike,
    seed: int,
    batch_size: int,
    augment: bool,
    executor: str | None = None,
    progress: bool = True,
    learning_rate: float = 1e-2,
    size: int | None = None,
) -> dict[str, Any]:
    """Run (or resume) the Bayesian search of ``cfg`` (a ``TuneConfig``); the best classifier options.

    ``train``/``val`` are ``(frames, labels)``; the classifier trains on the frozen base with phase
    1's SGD (momentum 0.9, ``learning_rate``) for ``cfg.epochs`` epochs per trial and is scored by
    its best validation accuracy.

    Example:
        >>> search(recipe.spatial.tune, model="vggface_vgg16", options={}, train=(x, y), val=(vx, vy),
        ...        folder="runs/x/spatial/tuner", seed=0, batch_size=32, augment=True)  # doctest: +SKIP
        {'dense_units': (512,), 'dropout': 0.5}
    """
    from fer_edge.cluster import executor_for
    from fer_edge.core.errors import require

    if val is None:
        raise FerEdgeError(
            "spatial.tune needs validation frames to score trials: set spatial.validation > 0 "
            "(clips) or use a FER2013 copy with PublicTest rows"
        )
    kt = require("keras_tuner", "train", purpose="the hyperparameter search")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # KerasTuner takes seed 0 for "no seed" (a random one): shift by one so every seed is a seed.
    oracle = kt.oracles.BayesianOptimizationOracle(
        objective=kt.Objective("val_accuracy", "max"),
        max_trials=cfg.trials,
        num_initial_points=cfg.initial or None,
        seed=seed + 1,
    )
    # The same call KerasTuner's Tuner makes: where the oracle writes its own log.
    oracle._set_project_dir(str(folder), "keras-tuner")
    oracle.verbose = 0
    oracle.update_space(search_space(cfg))
    ex = executor_for(executor)
    job = functools.partial(
        _trial_job,
        folder=str(folder),
        model=model,
        options=dict(options),
        data=(train[0], train[1], val[0].astype(np.float32), val[1]),
        epochs=cfg.epochs,
        batch_size=batch_size,
        augment=augment,
        seed=seed,
        verbose=bool(progress and not ex.distributed),
        learning_rate=float(learning_rate),
        size=size,
    )
    scores: dict[str, dict] = {}
    while True:
        trials = [oracle.create_trial(f"slot-{slot}") for slot in range(cfg.parallel)]
        trials = [t for t in trials if t.status == "RUNNING"]
        if not trials:
            break
        items = [(t.trial_id, dict(t.hyperparameters.values)) for t in trials]
        todo = [item for item in items if _finished(folder, *item) is None]
        if todo:
            log.info("tuner: trials %s", ", ".join(trial_id for trial_id, _ in todo))
        for result in ex.map(job, todo, desc="tuner trials", workdir=folder, uses_tf=True):
            scores[result["trial"]] = result
        for trial, (trial_id, values) in zip(trials, items):
            result = scores.get(trial_id) or _finished(folder, trial_id, values)
            scores[trial_id] = result
            oracle.update_trial(trial_id, {"val_accuracy": result["val_accuracy"]})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
    # Ties go to the earlier trial: the order does not depend on where the trials ran.
    best = max(sorted(scores.values(), key=lambda r: int(r["trial"])), key=lambda r: r["val_accuracy"])
    chosen = classifier(best["values"])
    write_json(folder / "best.json", {"trial": best["trial"], "val_accuracy": best["val_accuracy"], **chosen}, indent=1)
    return chosen
