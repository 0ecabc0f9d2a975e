"""Subject-independent splits: the thesis' exact split, grouped k-fold and nested CV.

A split is a plain dict of subject ids, JSON-ready::

    {"test": ["F001", ...], "folds": [["F011", ...], ["F028", ...], ...]}

Every clip of a subject goes wherever its subject goes, so a face seen in training is never
used for validation or testing. :func:`check_split` refuses a split where a subject appears
twice; every function here calls it on what it returns.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Sequence

from fer_edge.core.errors import FerEdgeError
from fer_edge.core.fileio import ListOf, Obj, check_schema, read_json

Split = dict[str, list]

_SUBJECT = str  # subject ids, "F001"
SCHEMA = Obj(
    required={"folds": ListOf(ListOf(_SUBJECT, max_len=100_000), min_len=1, max_len=1000)},
    optional={"test": (None, ListOf(_SUBJECT, max_len=100_000))},
)


def _ids(prefix: str, first: int, last: int) -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(first, last + 1)]


def thesis_split() -> Split:
    """The thesis' split of BU-4DFE (figure 3.6): 20 test subjects and 5 folds of 16.

    F016 is left out, as in the thesis.

    Example:
        >>> s = thesis_split()
        >>> len(s["test"]), [len(f) for f in s["folds"]]
        (20, [16, 16, 16, 16, 16])
        >>> s["folds"][2][-1]
        'M011'
    """
    split = {
        "test": _ids("F", 1, 10) + _ids("M", 1, 10),
        "folds": [
            _ids("F", 11, 15) + _ids("F", 17, 27),
            _ids("F", 28, 43),
            _ids("F", 44, 58) + ["M011"],
            _ids("M", 12, 27),
            _ids("M", 28, 43),
        ],
    }
    check_split(split)
    return split


def check_split(split: Split, where: str = "split") -> None:
    """Raise :class:`FerEdgeError` if ``split`` is not ``{"folds": [[ids]], "test": [ids]}``,
    a subject is in two places or a fold is empty; ``where`` names its origin (a file).

    Example:
        >>> check_split({"test": ["F001"], "folds": [["F002"], ["F001"]]})
        Traceback (most recent call last):
        ...
        fer_edge.core.errors.FerEdgeError: subject F001 is in both test and fold 1; ...
    """
    check_schema(split, SCHEMA, where)
    origin = "" if where == "split" else f"{where}: "
    seen: dict[str, str] = {}
    parts = [("test", split.get("test") or [])]
    parts += [(f"fold {i}", fold) for i, fold in enumerate(split["folds"])]
    for part, members in parts:
        if part != "test" and not members:
            raise FerEdgeError(f"{origin}{part} of the split is empty; use fewer folds or more subjects")
        for subject in members:
            if subject in seen:
                place = "twice in " + part if seen[subject] == part else (f"in both {seen[subject]} and {part}")
                raise FerEdgeError(
                    f"{origin}subject {subject} is {place}; a subject must stay in one part of the split "
                    "(remove the duplicate)"
                )
            seen[subject] = part


def read_split(path: str | os.PathLike) -> Split:
    """A split file, checked (:func:`check_split`): one line naming the file and the key if not.

    Example:
        >>> read_split("splits/bu4dfe.json")  # doctest: +SKIP
    """
    split = read_json(path, "split file", max_bytes=64 << 20)
    check_split(split, f"split file {path}")
    return split


def group_kfold(subjects: Iterable[str], k: int = 5, *, seed: int | None = 0) -> list[list[str]]:
    """Split subjects into ``k`` folds of near-equal size (sizes differ by at most one).

    Args:
        subjects: subject ids; duplicates are allowed (one entry per clip is fine).
        k: number of folds, 2 <= k <= number of subjects.
        seed: shuffle seed; ``None`` keeps sorted order and makes contiguous folds, like the
            thesis' figure 3.6.

    Example:
        >>> group_kfold(["F1", "F2", "F3", "M1", "M2"], 2, seed=None)
        [['F1', 'F2', 'F3'], ['M1', 'M2']]
    """
    unique = sorted(set(subjects))
    if k < 2:
        raise FerEdgeError(f"k-fold needs k >= 2 folds, got {k}")
    if len(unique) < k:
        raise FerEdgeError(f"cannot make {k} subject folds from {len(unique)} subjects; use k <= {len(unique)}")
    if seed is not None:
        random.Random(seed).shuffle(unique)
    base, extra = divmod(len(unique), k)
    folds, at = [], 0
    for i in range(k):
        size = base + (1 if i < extra else 0)
        folds.append(sorted(unique[at : at + size]) if seed is not None else unique[at : at + size])
        at += size
    check_split({"folds": folds})
    return folds


def make_split(
    subjects: Iterable[str],
    *,
    k: int = 5,
    test: Sequence[str] | float = 0.2,
    seed: int | None = 0,
) -> Split:
    """A test set plus ``k`` validation folds of the remaining subjects, for any dataset.

    Args:
        subjects: subject ids (duplicates allowed).
        k: number of cross-validation folds.
        test: explicit test subject ids, or the fraction of subjects held out (0 allowed).
        seed: shuffle seed, ``None`` for sorted order.

    Example:
        >>> s = make_split([f"S{i}" for i in range(10)], k=4, test=0.2, seed=1)
        >>> len(s["test"]), sorted(len(f) for f in s["folds"])
        (2, [2, 2, 2, 2])
    """
    unique = sorted(set(subjects))
    if isinstance(test, (int, float)) and not isinstance(test, bool):
        if not 0 <= test < 1:
            raise FerEdgeError(f"test fraction must be in [0, 1), got {test}")
        order = list(unique)
        if seed is not None:
            random.Random(seed).shuffle(order)
        held = sorted(order[: round(len(order) * test)])
    else:
        held = sorted(set(test))
        missing = [s for s in held if s not in unique]
        if missing:
            raise FerEdgeError(f"test subjects {missing} are not in the dataset; check the ids")
    rest = [s for s in unique if s not in set(held)]
    split = {"test": held, "folds": group_kfold(rest, k, seed=seed)}
    check_split(split)
    return split


def nested_splits(subjects: Iterable[str], outer: int = 5, inner: int = 4, *, seed: int | None = 0) -> list[Split]:
    """Nested cross-validation (the thesis' Algorithm 2): one split per outer fold.

    Outer fold ``i`` is the test set of split ``i``; the other subjects are split into
    ``inner`` validation folds.

    Example:
        >>> splits = nested_splits([f"S{i:02d}" for i in range(12)], outer=3, inner=2)
        >>> [len(s["test"]) for s in splits], [len(s["folds"]) for s in splits]
        ([4, 4, 4], [2, 2, 2])
    """
    outer_folds = group_kfold(subjects, outer, seed=seed)
    result = []
    for i, test in enumerate(outer_folds):
        rest = [s for j, fold in enumerate(outer_folds) if j != i for s in fold]
        inner_seed = None if seed is None else seed + 1 + i
        split = {"test": list(test), "folds": group_kfold(rest, inner, seed=inner_seed)}
        check_split(split)
        result.append(split)
    return result


def fold_subjects(split: Split, val_fold: int) -> dict[str, list[str]]:
    """Train / validation / test subjects when fold ``val_fold`` validates.

    Example:
        >>> parts = fold_subjects(thesis_split(), 0)
        >>> len(parts["train"]), len(parts["val"]), len(parts["test"])
        (64, 16, 20)
    """
    check_split(split)
    folds = split["folds"]
    if not 0 <= val_fold < len(folds):
        raise FerEdgeError(f"validation fold {val_fold} does not exist; use 0..{len(folds) - 1}")
    return {
        "train": [s for i, f in enumerate(folds) if i != val_fold for s in f],
        "val": list(folds[val_fold]),
        "test": list(split.get("test") or []),
    }


def restrict(split: Split, available: Iterable[str]) -> tuple[Split, list[str]]:
    """Drop subjects absent from the data; returns the new split and the dropped ids.

    Useful when a dataset copy lacks some subjects (or ``--exclude`` removed them).

    Example:
        >>> s, dropped = restrict(thesis_split(), ["F001", "F011", "F028", "F044", "M012", "M028"])
        >>> s["test"], dropped[:2]
        (['F001'], ['F002', 'F003'])
    """
    have = set(available)
    dropped = []
    out = {"test": [], "folds": []}
    for s in split.get("test") or []:
        (out["test"] if s in have else dropped).append(s)
    for fold in split["folds"]:
        kept = [s for s in fold if s in have]
        dropped += [s for s in fold if s not in have]
        out["folds"].append(kept)
    check_split(out)
    return out, dropped


def unassigned(split: Split, subjects: Iterable[str]) -> list[str]:
    """Subjects of the data that the split does not mention (e.g. F016 in the thesis split).

    Example:
        >>> unassigned(thesis_split(), ["F016", "F001"])
        ['F016']
    """
    placed = set(split.get("test") or []) | {s for f in split["folds"] for s in f}
    return sorted(set(subjects) - placed)
