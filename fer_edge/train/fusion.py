"""Late fusion of several models' softmax scores (section 3.2.6, equations 3.1-3.3).

With ``f(x_i)`` the score vector of model ``i`` and ``W_i`` its performance (its mean
cross-validation accuracy, or any weights given)::

    average   f = (f(x_1) + ... + f(x_n)) / n                  (3.1)
    weighted  f = (W_1 f(x_1) + ... + W_n f(x_n)) / n          (3.2)
    max       f = max(f(x_1), ..., f(x_n))   element-wise      (3.3)

The fused class is the arg-max (ties to the first-listed class). The result is a
:class:`~fer_edge.train.metrics.Predictions`, evaluated like any model and saved as
``predictions.csv``, which ``fer-edge evaluate`` and ``fer-edge fuse`` read again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_edge.core.errors import FerEdgeError, unknown_choice
from fer_edge.core.fileio import check_finite, read_json
from fer_edge.train.metrics import Predictions

METHODS = ("average", "weighted", "max")


def _schemas():
    """(metrics.json beside a predictions file, a bundle's provenance.metrics): the keys fusion reads."""
    from fer_edge.core.fileio import ANY, ListOf, Num, Obj

    accuracy = (None, Num(0, 1))
    bundle = {"mean_val_accuracy": accuracy, "val_accuracy": accuracy, "val_accuracies": (None, ListOf(Num(0, 1)))}
    return Obj(optional={"weight": (None, Num(0, 1e6))}, values=ANY), Obj(optional=bundle, values=ANY)


def fuse_scores(
    scores: Sequence[np.ndarray], method: str = "average", weights: Sequence[float] | None = None
) -> np.ndarray:
    """Fuse ``n`` arrays of scores ``(N, C)`` by equation 3.1, 3.2 or 3.3.

    Example:
        >>> a, b = np.array([[0.6, 0.4]]), np.array([[0.2, 0.8]])
        >>> fuse_scores([a, b], "average").tolist()
        [[0.4, 0.6000000000000001]]
        >>> fuse_scores([a, b], "weighted", [0.9, 0.3]).round(2).tolist()
        [[0.3, 0.3]]
        >>> fuse_scores([a, b], "max").tolist()
        [[0.6, 0.8]]
    """
    if method not in METHODS:
        raise unknown_choice("fusion method", method, METHODS)
    if len(scores) < 1:
        raise FerEdgeError("fusion needs at least one model's scores")
    stack = np.stack([np.asarray(s, np.float64) for s in scores])
    if method == "average":
        return stack.mean(0)
    if method == "max":
        return stack.max(0)
    if weights is None or len(weights) != len(scores):
        raise FerEdgeError(
            f"weighted fusion needs one weight per model ({len(scores)}), got {0 if weights is None else len(weights)}"
        )
    # NaN/inf would silently rank every clip the same (a NaN weight scored 0.5 accuracy).
    w = np.array([check_finite(v, "a fusion weight", lo=0, hi=1e6) for v in weights], np.float64)
    if not w.any():
        raise FerEdgeError(f"fusion weights are all 0 ({w.tolist()}); give at least one positive weight")
    return (w[:, None, None] * stack).sum(0) / len(scores)


@dataclass
class Member:
    """One model taking part in a fusion: its scores and its weight (validation accuracy)."""

    name: str
    predictions: Predictions
    weight: float | None = None


@dataclass
class FusionResult:
    """Fused predictions per method and each member's own accuracy."""

    fused: dict[str, Predictions] = field(default_factory=dict)
    members: list[Member] = field(default_factory=list)


def align(members: Sequence[Member]) -> list[Member]:
    """Put every member's clips in the first member's order; refuse different clip sets or labels."""
    if not members:
        raise FerEdgeError("nothing to fuse: give two or more bundles or predictions files")
    first = members[0].predictions
    out = [members[0]]
    for m in members[1:]:
        p = m.predictions
        if tuple(p.labels) != tuple(first.labels):
            raise FerEdgeError(
                f"{m.name} has labels {list(p.labels)}, {members[0].name} {list(first.labels)}; "
                "fuse models trained on the same label set"
            )
        index = {n: i for i, n in enumerate(p.names)}
        missing = [n for n in first.names if n not in index]
        if missing or len(p.names) != len(first.names):
            raise FerEdgeError(
                f"{m.name} scored other clips than {members[0].name} "
                f"(e.g. {missing[:1] or p.names[:1]}); "
                "evaluate every member on the same split"
            )
        order = [index[n] for n in first.names]
        if (p.y_true[order] != first.y_true).any():
            raise FerEdgeError(f"{m.name} and {members[0].name} disagree on true labels; they used other data")
        out.append(
            Member(m.name, Predictions(list(first.names), first.labels, first.y_true, p.scores[order]), m.weight)
        )
    return out


def fuse(members: Sequence[Member], methods: Sequence[str] = METHODS) -> FusionResult:
    """Fuse aligned members with each method; ``weighted`` uses the members' weights.

    Example:
        >>> result = fuse([Member("lstm", p1, 0.7), Member("c3d", p2, 0.5)], ["weighted"])  # doctest: +SKIP
        >>> result.fused["weighted"].y_pred  # doctest: +SKIP
    """
    members = align(members)
    first = members[0].predictions
    result = FusionResult(members=list(members))
    for method in methods:
        weights = None
        if method == "weighted":
            weights = [m.weight for m in members]
            if any(w is None for w in weights):
                lacking = [m.name for m in members if m.weight is None]
                raise FerEdgeError(
                    f"weighted fusion needs a validation accuracy for {', '.join(lacking)}; "
                    "pass --weights or use bundles trained with cross-validation"
                )
        scores = fuse_scores([m.predictions.scores for m in members], method, weights)
        result.fused[method] = Predictions(list(first.names), first.labels, first.y_true, scores)
    return result


def bundle_weight(bundle) -> float | None:
    """A bundle's fusion weight: its mean cross-validation accuracy (else its validation accuracy)."""
    from fer_edge.core.fileio import check_schema

    where = f"bundle {bundle.path} manifest (provenance.metrics)"
    m = check_schema(bundle.provenance.get("metrics") or {}, _schemas()[1], where)
    for key in ("mean_val_accuracy", "val_accuracy"):
        if isinstance(m.get(key), (int, float)):
            return float(m[key])
    accs = m.get("val_accuracies")
    if isinstance(accs, list) and accs:
        return float(np.mean(accs))
    return None


def load_member(
    path: str | os.PathLike, *, part: str = "test", preprocessed=None, split_file=None, progress: bool = False
) -> Member:
    """A fusion member from a bundle (scored now on ``part``) or a ``predictions.csv`` / evaluation folder."""
    from fer_edge.train.metrics import load_predictions

    path = Path(path)
    if (path / "manifest.json").is_file():
        from fer_edge.data.clipset import data_from_bundle
        from fer_edge.runtime.bundle import load_bundle
        from fer_edge.train.predict import predict_bundle

        bundle = load_bundle(path)
        data = data_from_bundle(bundle, preprocessed=preprocessed, split_file=split_file)
        return Member(bundle.name, predict_bundle(bundle, data, part, progress=progress), bundle_weight(bundle))
    pred = load_predictions(path)
    weight = None
    metrics = (path if path.is_dir() else path.parent) / "metrics.json"
    if metrics.is_file():
        from fer_edge.core.fileio import check_schema

        data = check_schema(read_json(metrics, "metrics file"), _schemas()[0], f"metrics file {metrics}")
        weight = None if data.get("weight") is None else float(data["weight"])
    return Member(path.stem if path.is_file() else path.name, pred, weight)
