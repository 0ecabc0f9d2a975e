"""Subject-independent splits: the thesis' exact split, k-fold, nested CV, overlap check."""

from __future__ import annotations

import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.data.splits import (
    check_split,
    fold_subjects,
    group_kfold,
    make_split,
    nested_splits,
    restrict,
    thesis_split,
    unassigned,
)


def test_thesis_split_is_exact():
    s = thesis_split()
    assert s["test"] == [f"F{i:03d}" for i in range(1, 11)] + [f"M{i:03d}" for i in range(1, 11)]
    f = s["folds"]
    assert f[0] == [f"F{i:03d}" for i in (*range(11, 16), *range(17, 28))]
    assert f[1] == [f"F{i:03d}" for i in range(28, 44)]
    assert f[2] == [f"F{i:03d}" for i in range(44, 59)] + ["M011"]
    assert f[3] == [f"M{i:03d}" for i in range(12, 28)]
    assert f[4] == [f"M{i:03d}" for i in range(28, 44)]
    everyone = s["test"] + [x for fold in f for x in fold]
    assert len(everyone) == len(set(everyone)) == 100
    assert "F016" not in everyone


def test_thesis_split_is_a_fresh_copy():
    s = thesis_split()
    s["test"].clear()
    assert len(thesis_split()["test"]) == 20


@pytest.mark.parametrize(
    "split",
    [
        {"test": ["A"], "folds": [["B"], ["A"]]},
        {"folds": [["A", "B"], ["C", "A"]]},
        {"folds": [["A", "A"], ["B"]]},
        {"folds": [["A"], []]},
        {"test": ["A"]},
    ],
)
def test_check_split_refuses_overlap_and_empty(split):
    with pytest.raises(FerEdgeError):
        check_split(split)


def test_group_kfold_balanced_disjoint_deterministic():
    subjects = [f"S{i:02d}" for i in range(23)] * 6  # one entry per clip
    folds = group_kfold(subjects, 5, seed=3)
    assert sorted(len(f) for f in folds) == [4, 4, 5, 5, 5]
    assert sorted(s for f in folds for s in f) == sorted(set(subjects))
    assert folds == group_kfold(subjects, 5, seed=3)
    assert folds != group_kfold(subjects, 5, seed=4)
    assert group_kfold(subjects, 5, seed=None)[0] == ["S00", "S01", "S02", "S03", "S04"]


def test_group_kfold_rejects_impossible_k():
    with pytest.raises(FerEdgeError):
        group_kfold(["A", "B"], 3)
    with pytest.raises(FerEdgeError):
        group_kfold(["A", "B"], 1)


def test_make_split_test_fraction_and_explicit():
    subjects = [f"S{i:02d}" for i in range(20)]
    s = make_split(subjects, k=4, test=0.25, seed=0)
    assert len(s["test"]) == 5 and all(len(f) == 15 // 4 or len(f) == 4 for f in s["folds"])
    assert not set(s["test"]) & {x for f in s["folds"] for x in f}
    s2 = make_split(subjects, k=3, test=["S00", "S01"], seed=None)
    assert s2["test"] == ["S00", "S01"] and s2["folds"][0][0] == "S02"
    with pytest.raises(FerEdgeError, match="not in the dataset"):
        make_split(subjects, test=["X99"])


def test_nested_cv_every_subject_tested_once_never_leaks():
    subjects = [f"S{i:02d}" for i in range(15)]
    splits = nested_splits(subjects, outer=5, inner=3, seed=0)
    tested = [s for sp in splits for s in sp["test"]]
    assert sorted(tested) == subjects
    for sp in splits:
        inner = {x for f in sp["folds"] for x in f}
        assert len(sp["folds"]) == 3
        assert not inner & set(sp["test"])
        assert inner | set(sp["test"]) == set(subjects)


def test_fold_subjects_partitions():
    parts = fold_subjects(thesis_split(), 4)
    assert parts["val"][0] == "M028" and len(parts["train"]) == 64
    assert not set(parts["train"]) & set(parts["val"])
    with pytest.raises(FerEdgeError):
        fold_subjects(thesis_split(), 5)


def test_restrict_and_unassigned():
    s, dropped = restrict(thesis_split(), ["F001", "F011", "F028", "F044", "M012", "M028", "F016"])
    assert s["folds"] == [["F011"], ["F028"], ["F044"], ["M012"], ["M028"]]
    assert len(dropped) == 100 - 6
    assert unassigned(s, ["F016", "F001"]) == ["F016"]
    with pytest.raises(FerEdgeError, match="empty"):
        restrict(thesis_split(), ["F001"])
