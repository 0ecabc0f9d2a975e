"""Schemas of the files the train wing writes and reads back on resume, each checked before use."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fer_edge.core.errors import FerEdgeError
from fer_edge.core.fileio import ANY, ListOf, Num, Obj, check_schema, read_json

__all__ = ["read_final_record", "read_fold_result", "read_spatial_result", "read_trial"]

_EPOCHS = Num(0, 1_000_000, integer=True)
_ACCURACY = Num(0, 1)
_HISTORY = Obj(values=ANY)  # curves: checked by _check_history (Keras writes NaN losses)
_MAX_EPOCHS = 100_000

FOLD_RESULT = Obj(
    required={
        "fold": Num(0, 100_000, integer=True),
        "epochs": _EPOCHS,
        "history": _HISTORY,
        "best_val_accuracy": _ACCURACY,
        "best_epoch": _EPOCHS,
        "last_val_accuracy": _ACCURACY,
        "stop_epoch": _EPOCHS,
    },
    optional={"seconds": Num(0), "epochs_requested": _EPOCHS},
)
FINAL_RECORD = Obj(
    required={"epochs": _EPOCHS},
    optional={"reduce_lr": (None, ListOf(Num(0, 1_000_000), max_len=2)), "history": _HISTORY},
)
TRIAL = Obj(
    required={"trial": str, "values": Obj(values=ANY), "val_accuracy": _ACCURACY},
    optional={"history": _HISTORY},
)
SPATIAL_RESULT = Obj(
    required={"model_path": str},
    optional={
        "val_accuracy": (None, _ACCURACY),
        "phases": ListOf(Obj(values=ANY), max_len=1000),
        "reused": bool,
        "backbone": (None, Obj(optional={"weights": (None, str), "sha256": (None, str)}, values=ANY)),
        "validation": (None, str),
    },
)


def _check_history(data: dict, where: str) -> None:
    """Every curve a list of numbers (NaN and infinity allowed: a diverged loss is what Keras recorded)."""
    for key, values in data.get("history", {}).items():
        if not isinstance(values, list) or len(values) > _MAX_EPOCHS:
            shown = f"a list of {len(values)}" if isinstance(values, list) else repr(values)[:40]
            want = f"a list of numbers of 0 to {_MAX_EPOCHS} items"
            raise FerEdgeError(f"{where}: 'history.{key}' must be {want}, got {shown}; fix the file")
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                shown = "a list" if isinstance(v, list) else repr(v)[:40]
                raise FerEdgeError(f"{where}: 'history.{key}[{i}]' must be a number, got {shown}; fix the file")


def _read(path: str | os.PathLike, what: str, schema: Any, hint: str) -> dict:
    where = f"{what} {path}"
    data = read_json(path, what, expect=dict)
    try:
        check_schema(data, schema, where)
        _check_history(data, where)
    except FerEdgeError as exc:
        raise FerEdgeError(f"{str(exc).removesuffix('; fix the file')}; {hint}") from None
    return data


def read_fold_result(path: str | os.PathLike, fold: int) -> dict:
    """Fold ``fold``'s ``result.json`` (:class:`~fer_edge.train.crossval.FoldResult` fields only)."""
    hint = f"delete {Path(path).parent} to train this fold again"
    data = _read(path, "fold result", FOLD_RESULT, hint)
    if data["fold"] != fold:
        raise FerEdgeError(f"fold result {path}: 'fold' is {data['fold']}, but it is fold {fold}'s file; {hint}")
    return {k: data[k] for k in (*FOLD_RESULT.required, *FOLD_RESULT.optional) if k in data}


def read_final_record(path: str | os.PathLike) -> dict:
    """``final.json`` next to a final model: the epochs and schedule it was trained with."""
    return _read(path, "final model record", FINAL_RECORD, f"delete {path} to train the final model again")


def read_trial(path: str | os.PathLike, trial_id: str) -> dict:
    """Trial ``trial_id``'s finished ``trial-<id>.json``."""
    hint = f"delete {path} to run this trial again"
    data = _read(path, "tuner trial", TRIAL, hint)
    if data["trial"] != trial_id:
        raise FerEdgeError(f"tuner trial {path}: 'trial' is {data['trial'][:40]!r}, not {trial_id!r}; {hint}")
    return data


def read_spatial_result(path: str | os.PathLike) -> dict:
    """A spatial run's ``result.json`` (:class:`~fer_edge.train.finetune.SpatialResult` fields only)."""
    data = _read(path, "spatial result", SPATIAL_RESULT, f"delete {Path(path).parent} to train it again")
    return {k: data[k] for k in (*SPATIAL_RESULT.required, *SPATIAL_RESULT.optional) if k in data}
