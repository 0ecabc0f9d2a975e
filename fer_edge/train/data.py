"""The clips a recipe trains on: preprocessed folder (made on demand), subject split, parts.

:func:`prepare_data` makes sure ``data.preprocessed`` exists (generating a synthetic raw
dataset and/or running the ``preprocess`` stage when the recipe says how), builds the
subject-independent split and saves it as ``<out>/split.json`` so every later step (and every
parallel fold job) uses the same one.

Parts are named ``test``, ``fold-<i>`` (the subjects of fold ``i``), ``train-<i>`` (all folds
but ``i``: the training set when fold ``i`` validates) and ``train`` (all folds).

numpy/OpenCV only: no TensorFlow here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fer_edge.core.atomic import write_json
from fer_edge.core.errors import FerEdgeError
from fer_edge.core.fileio import read_json
from fer_edge.data.clipset import ClipSet

log = logging.getLogger(__name__)


def _ensure_preprocessed(recipe, progress: bool) -> Path:
    data = recipe.data
    pre = Path(data.preprocessed)
    if (pre / "index.jsonl").is_file():
        return pre
    if not data.raw:
        raise FerEdgeError(
            f"{pre} has no index.jsonl; run fer-edge preprocess --root DATA --out {pre} or set data.raw in the recipe"
        )
    raw = Path(data.raw)
    if not raw.exists() or not any(raw.iterdir()):
        if data.synth is None:
            raise FerEdgeError(f"data.raw {raw} does not exist; point it at your dataset copy")
        from fer_edge.data.synth_dataset import subject_ids, write_dataset

        s = data.synth
        subjects = subject_ids(s.subjects)
        log.info("generating a synthetic dataset of %d subjects in %s", s.subjects, raw)
        write_dataset(
            raw,
            subjects=subjects,
            labels=list(recipe.label_names),
            frames=s.frames,
            size=tuple(s.size),
            seed=s.seed,
            background=s.background,
            progress=progress,
        )
    from fer_edge.core.config import from_dict
    from fer_edge.data.preprocess import PreprocessConfig, preprocess

    config = from_dict(
        PreprocessConfig,
        {"labels": list(recipe.label_names), "plot": False, "executor": recipe.executor, **data.preprocess},
        where="data.preprocess.",
        source="recipe",
    )
    report = preprocess(raw, pre, config=config, progress=progress)
    log.info(report.describe())
    return pre


def _make_split(recipe, subjects: list[str]) -> dict:
    from fer_edge.data import splits

    cfg = recipe.data.split
    if cfg.method == "kfold":
        return splits.make_split(subjects, k=cfg.k, test=cfg.test, seed=cfg.seed)
    if cfg.method == "thesis":
        base = splits.thesis_split()
    else:
        base = splits.read_split(Path(cfg.file))
    split, dropped = splits.restrict(base, subjects)
    if dropped:
        log.warning("%d subjects of the split are not in the data (e.g. %s)", len(dropped), dropped[0])
    return split


def _check_trimming_signal(recipe, pre: Path, records: list[dict]) -> None:
    """A recipe that trims on OpenFace AUs (section 3.2.1) refuses clips trimmed on anything else."""
    opts = recipe.data.preprocess
    if not recipe.data.trimmed or not opts.get("au_dir") or opts.get("intensity") not in (None, "openface"):
        return
    other = [r["name"] for r in records if r.get("intensity_source") != "openface"]
    if other:
        raise FerEdgeError(
            f"{pre}: {len(other)} clips (e.g. {other[0]}) were trimmed on '{_source(records, other[0])}', the recipe "
            "asks for OpenFace AU intensities (thesis 3.2.1): rerun fer-edge preprocess with --au-dir, or "
            "--set data.preprocess.intensity=flow to accept the built-in estimate"
        )


def _source(records: list[dict], name: str) -> str:
    return next(str(r.get("intensity_source")) for r in records if r["name"] == name)


def _without_anomalies(recipe, records: list[dict], split: dict) -> list[dict]:
    """Leave Algorithm 1's anomalies out of the folds (the thesis reworked them by hand).

    Test clips stay (used whole), so the test set remains the thesis' 120 videos.
    """
    if not recipe.data.trimmed or recipe.data.anomalies != "exclude":
        return records
    test = set(split.get("test") or [])
    left_out = [r["name"] for r in records if r.get("anomaly") and r["subject"] not in test]
    if left_out:
        log.warning(
            "%d anomalous clips left out of training (e.g. %s); see review/ of the preprocessed "
            "folder, or set data.anomalies: untrimmed",
            len(left_out),
            left_out[0],
        )
    kept = [r for r in records if not (r.get("anomaly") and r["subject"] not in test)]
    for i, fold in enumerate(split["folds"]):
        if not any(r["subject"] in set(fold) for r in kept):
            raise FerEdgeError(
                f"fold {i} has no clip left once Algorithm 1's anomalies are out ({len(left_out)} "
                "anomalies in all); review them (review/ of the preprocessed folder) or set "
                "data.anomalies: untrimmed"
            )
    return kept


def check_fer2013_copy(recipe) -> Path:
    """Stage 1 on its own reads only ``spatial.fer2013`` (the Kaggle CSV or a class-folder copy)."""
    path = Path(str(recipe.spatial.fer2013))
    if not path.exists():
        raise FerEdgeError(
            f"spatial.fer2013 {path} does not exist; pass your FER2013 copy (fer2013.csv, or a folder with "
            "train/<class>/ and test/<class>/) with --set spatial.fer2013=PATH"
        )
    return path


def prepare_data(recipe, *, progress: bool = False) -> ClipSet:
    """Preprocessed clips + the saved split of a recipe (created on first use).

    Raises:
        FerEdgeError: no usable clips, too few subjects for k folds, or a saved split that
            no longer matches (the run folder belongs to another experiment).
    """
    from fer_edge.data.preprocess import read_index

    labels = recipe.label_names
    pre = _ensure_preprocessed(recipe, progress)
    records = [r for r in read_index(pre) if r.get("status") == "ok"]
    others = sorted({r["emotion"] for r in records} - set(labels))
    if others:
        log.info("ignoring clips of labels outside the label set: %s", ", ".join(others))
    records = [r for r in records if r["emotion"] in labels]
    if not records:
        raise FerEdgeError(f"{pre} has no usable clip with labels {', '.join(labels)}; check data.preprocessed")
    _check_trimming_signal(recipe, pre, records)
    subjects = sorted({r["subject"] for r in records})
    split = _make_split(recipe, subjects)
    records = _without_anomalies(recipe, records, split)
    out = Path(recipe.out)
    saved = out / "split.json"
    if saved.is_file():
        old = read_json(saved, "split file")
        if old != split:
            raise FerEdgeError(
                f"{saved} holds another split than this recipe makes; use another --out "
                "or delete the run folder to start again"
            )
    else:
        write_json(saved, split, indent=1)
    return ClipSet(pre, records, labels, split)
