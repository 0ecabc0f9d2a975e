"""Training without TensorFlow: recipes, fusion arithmetic, finalize's epoch rule, evaluation outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from fer_edge.train.config import load_recipe, parse_override
from fer_edge.train.crossval import early_stop_epoch, finalize_epochs
from fer_edge.train.fusion import Member, fuse, fuse_scores
from fer_edge.train.metrics import Predictions, evaluate_predictions, load_predictions, metrics

LABELS = ("happy", "sad", "surprise")


# --- recipes -----------------------------------------------------------------------------


def test_every_recipe_loads():
    from pathlib import Path

    recipes = sorted(Path("train").glob("*.yaml"))
    assert len(recipes) >= 7
    for path in recipes:
        recipe = load_recipe(path)
        assert recipe.name and recipe.out


def test_override_order_cli_over_file_over_defaults(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("temporal: {epochs: 7, learning_rate: 1e-4}\nextract: {augment: [flip]}\n")
    recipe = load_recipe(path, overrides=["temporal.epochs=3"])
    assert recipe.temporal.epochs == 3  # CLI wins
    assert recipe.temporal.learning_rate == pytest.approx(1e-4)  # file (YAML reads 1e-4 as text)
    assert recipe.temporal.batch_size == 32  # default
    assert recipe.extract.augment == ["flip"]
    assert parse_override("data.split={k: 3}") == ("data.split", {"k": 3})


@pytest.mark.parametrize(
    "text, message",
    [
        ("temporal: {epoch: 3}", "unknown key 'temporal.epoch'; did you mean 'epochs'?"),
        ("tempral: {epochs: 3}", "did you mean 'temporal'?"),
        ("temporal: {epochs: many}", "'temporal.epochs' must be a number"),
        ("extract: {augment: [flp]}", "did you mean 'flip'?"),
        ("data: {split: {k: 1}}", "split.k must be >= 2"),
        ("- a list", "must be a mapping"),
    ],
)
def test_recipe_mistakes_are_one_line(tmp_path, text, message):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(FerEdgeError, match=message.replace("(", r"\(").replace("?", r"\?")) as info:
        load_recipe(path)
    assert "\n" not in str(info.value)


def test_cli_train_unknown_recipe_key(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text("finalize: {patiance: 3}\n")
    assert main(["train", "temporal", "--recipe", str(path)]) != 0
    err = capsys.readouterr().err
    assert "did you mean 'patience'?" in err and len(err.strip().splitlines()) == 1


# --- finalize's epoch rule ---------------------------------------------------------------


def test_finalize_epochs_thesis_example():
    # Section 3.2.4: folds stopped at epochs 9, 22, 4, 4, 16 -> the final model trains 11 epochs.
    assert finalize_epochs([9, 22, 4, 4, 16]) == 11
    assert finalize_epochs([1, 2]) == 2  # 1.5 rounds half up
    assert finalize_epochs([3]) == 3
    with pytest.raises(FerEdgeError):
        finalize_epochs([])


def test_early_stop_epoch_replays_keras_early_stopping():
    curve = [0.2, 0.5, 0.5, 0.4, 0.45, 0.9, 0.3]
    assert early_stop_epoch(curve, patience=3) == 2  # 3 epochs without a strictly better value
    assert early_stop_epoch(curve, patience=4) == 6
    assert early_stop_epoch([0.7], patience=10) == 1
    assert early_stop_epoch([0.1, 0.2, 0.3], patience=10) == 3  # ran out of epochs: the best one


# --- fusion arithmetic (equations 3.1-3.3) -----------------------------------------------


def test_fusion_equations():
    a = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4]])
    b = np.array([[0.2, 0.3, 0.5], [0.0, 0.1, 0.9]])
    np.testing.assert_allclose(fuse_scores([a, b], "average"), (a + b) / 2)
    np.testing.assert_allclose(fuse_scores([a, b], "weighted", [0.8, 0.4]), (0.8 * a + 0.4 * b) / 2)
    np.testing.assert_allclose(fuse_scores([a, b], "max"), np.maximum(a, b))
    # the weights change the decision: equal weights tie-break differently from weighted ones
    assert fuse_scores([a, b], "weighted", [0.8, 0.4]).argmax(1).tolist() == [0, 2]
    assert fuse_scores([a, b], "max").argmax(1).tolist() == [0, 2]
    with pytest.raises(FerEdgeError, match="did you mean 'average'"):
        fuse_scores([a, b], "averag")
    with pytest.raises(FerEdgeError, match="one weight per model"):
        fuse_scores([a, b], "weighted", [1.0])


def _pred(names, y, scores):
    return Predictions(list(names), LABELS, np.array(y), np.array(scores, float))


def test_fuse_aligns_clips_by_name_and_refuses_mismatch():
    p1 = _pred(["c1", "c2"], [0, 1], [[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    p2 = _pred(["c2", "c1"], [1, 0], [[0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    result = fuse([Member("a", p1, 0.9), Member("b", p2, 0.3)], ["average", "weighted"])
    np.testing.assert_allclose(result.fused["average"].scores, [[0.4, 0.25, 0.35], [0.3, 0.6, 0.1]])
    assert result.fused["average"].y_pred.tolist() == [0, 1]
    np.testing.assert_allclose(
        result.fused["weighted"].scores[0], (0.9 * np.array([0.6, 0.3, 0.1]) + 0.3 * np.array([0.2, 0.2, 0.6])) / 2
    )
    p3 = _pred(["c1", "c3"], [0, 1], [[1, 0, 0], [0, 1, 0]])
    with pytest.raises(FerEdgeError, match="other clips"):
        fuse([Member("a", p1), Member("c", p3)], ["average"])
    with pytest.raises(FerEdgeError, match="validation accuracy for b"):
        fuse([Member("a", p1, 0.5), Member("b", p2)], ["weighted"])


# --- evaluation --------------------------------------------------------------------------


def test_metrics_per_class():
    p = _pred(["a", "b", "c", "d"], [0, 0, 1, 2], [[0.9, 0.1, 0], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    report = metrics(p)
    assert report.accuracy == 0.75
    assert report.confusion == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert report.classes["sad"]["precision"] == 0.5 and report.classes["happy"]["recall"] == 0.5
    assert report.classes["surprise"]["f1"] == 1.0
    # ties go to the first-listed class, as in the thesis
    assert _pred(["t"], [0], [[0.5, 0.5, 0.0]]).y_pred.tolist() == [0]


def test_evaluate_writes_pngs_error_table_and_round_trips(tmp_path, capsys):
    p = _pred(
        ["F001_happy", "F001_sad", "M001_surprise"], [0, 1, 2], [[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7]]
    )
    report = evaluate_predictions(p, tmp_path / "ev", reference=0.678, title="t")
    for name in (
        "confusion.png",
        "confusion_normalized.png",
        "errors.csv",
        "errors.md",
        "report.md",
        "metrics.json",
        "predictions.csv",
    ):
        assert (tmp_path / "ev" / name).stat().st_size > 0
    assert (tmp_path / "ev" / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    errors = (tmp_path / "ev" / "errors.csv").read_text().splitlines()
    assert errors == ["name,true,predicted,happy,sad,surprise", "F001_sad,sad,happy,0.60,0.30,0.10"]
    assert "| F001_sad | sad | happy | 0.60 | 0.30 | 0.10 |" in (tmp_path / "ev" / "errors.md").read_text()
    assert "1.1 points below the reference 67.8 %" in report.comparison()
    saved = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert saved["accuracy"] == pytest.approx(2 / 3)
    back = load_predictions(tmp_path / "ev" / "predictions.csv")
    assert back.names == p.names and np.allclose(back.scores, p.scores)
    # a fused/earlier predictions file is itself evaluable from the CLI
    assert main(["evaluate", str(tmp_path / "ev" / "predictions.csv"), "--out", str(tmp_path / "again")]) == 0
    assert "accuracy 66.7 %" in capsys.readouterr().out
    assert not list(tmp_path.rglob(".*tmp*"))


def test_cli_fuse_predictions(tmp_path, capsys):
    p1 = _pred(["c1", "c2", "c3"], [0, 1, 2], [[0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6]])
    p2 = _pred(["c1", "c2", "c3"], [0, 1, 2], [[0.2, 0.5, 0.3], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    a, b = p1.save_csv(tmp_path / "a.csv"), p2.save_csv(tmp_path / "b.csv")
    rc = main(["fuse", str(a), str(b), "--weights", "0.5,0.9", "--out", str(tmp_path / "f")])
    out = capsys.readouterr().out
    assert rc == 0 and "| a | 66.67 % |" in out and "| fusion average | 100.00 % |" in out
    assert "| fusion weighted | 66.67 % |" in out  # b's weight makes c1 sad
    assert (tmp_path / "f" / "max" / "confusion_normalized.png").is_file()
    assert main(["fuse", str(a), str(b), "--weights", "0.5", "--out", str(tmp_path / "g")]) != 0
    assert "--weights has 1 values for 2 members" in capsys.readouterr().err
