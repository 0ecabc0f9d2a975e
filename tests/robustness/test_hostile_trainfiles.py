"""Hostile inputs in the files the train wing writes and reads back (fold results, final-model
records, tuner trials, spatial results, the predictions CSV, the preprocess index): right syntax,
wrong shape; each ends in one line naming the file and the key, through the CLI where a verb reads it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from fer_edge.data.preprocess import read_index
from fer_edge.train import crossval, tuning
from fer_edge.train.metrics import load_predictions
from fer_edge.train.readback import read_final_record, read_spatial_result
from tests.support.ovmodels import frame_bundle

HUGE = list(range(2_000_000))


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def _fold(**change) -> dict:
    good = {
        "fold": 0,
        "epochs": 2,
        "history": {"accuracy": [0.4, 0.6], "val_accuracy": [0.5, 0.7], "loss": [1.2, float("nan")]},
        "best_val_accuracy": 0.7,
        "best_epoch": 2,
        "last_val_accuracy": 0.7,
        "stop_epoch": 2,
        "seconds": 1.5,
        "epochs_requested": 2,
    }
    return {k: v for k, v in {**good, **change}.items() if v is not ...}


def _write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


# --- cross-validation fold results (read by collect and by run_fold on resume) -------------------


def test_a_good_fold_result_with_a_diverged_loss_still_loads(tmp_path):
    _write(tmp_path / "fold-0" / "result.json", _fold())
    (result,), missing = crossval.collect(tmp_path, 2)
    assert missing == [1] and result.best_val_accuracy == 0.7 and result.history["loss"][0] == 1.2


@pytest.mark.parametrize(
    "change, message",
    [
        ({"best_val_accuracy": "0.7"}, r"'best_val_accuracy' must be a number in \[0, 1\], got '0.7'"),
        ({"best_epoch": ...}, r"'best_epoch' is missing"),
        ({"last_val_accuracy": float("nan")}, r"'last_val_accuracy' must be a number in \[0, 1\], got NaN|nan"),
        (
            {"history": {"val_accuracy": HUGE}},
            r"'history.val_accuracy' must be a list of numbers of 0 to 100000 items, got a list of 2000000",
        ),
        ({"history": 3}, r"'history' must be an object, got 3"),
        ({"history": {"loss": [0.5, "low"]}}, r"'history.loss\[1\]' must be a number, got 'low'"),
        ({"fold": [0]}, r"'fold' must be an integer in \[0, 100000\], got a list of 1"),
        ({"epochs": 2.5}, r"'epochs' must be an integer"),
    ],
)
def test_damaged_fold_results(tmp_path, change, message):
    path = _write(tmp_path / "fold-0" / "result.json", _fold(**change))
    for read in (lambda: crossval.collect(tmp_path, 1), lambda: crossval.run_fold(None, 0, path.parent, epochs=2)):
        with pytest.raises(FerEdgeError, match=rf"^fold result {re.escape(str(path))}: {message}") as info:
            read()
        assert str(info.value).endswith(f"delete {path.parent} to train this fold again")


def test_a_fold_result_of_another_fold(tmp_path):
    path = _write(tmp_path / "fold-1" / "result.json", _fold())
    with pytest.raises(FerEdgeError, match=r"'fold' is 0, but it is fold 1's file; delete .*fold-1"):
        crossval.collect(tmp_path, 2)
    with pytest.raises(FerEdgeError, match=r"'fold' is 0, but it is fold 1's file"):
        crossval.run_fold(None, 1, path.parent, epochs=2)


def test_a_fold_result_holding_a_list(tmp_path):
    _write(tmp_path / "fold-0" / "result.json", [1, 2])
    with pytest.raises(FerEdgeError, match=r"fold result .* must hold a JSON object, got array"):
        crossval.collect(tmp_path, 1)


# --- final-model records, tuner trials, spatial results ------------------------------------------


@pytest.mark.parametrize(
    "record, message",
    [
        ({"epochs": "5", "reduce_lr": None}, r"'epochs' must be an integer"),
        ({"epochs": 5, "reduce_lr": 0.5}, r"'reduce_lr' must be null or a list of numbers"),
        ({"epochs": 5, "reduce_lr": [0.5, 5], "history": {"loss": [None]}}, r"'history.loss\[0\]' must be a number"),
    ],
)
def test_damaged_final_records(tmp_path, record, message):
    path = _write(tmp_path / "final.json", record)
    with pytest.raises(FerEdgeError, match=rf"^final model record {re.escape(str(path))}: {message}"):
        read_final_record(path)


@pytest.mark.parametrize(
    "trial, message",
    [
        ({"trial": "0", "values": {"units": 64}}, r"'val_accuracy' is missing"),
        ({"trial": "0", "values": {"units": 64}, "val_accuracy": float("inf")}, r"'val_accuracy' must be a number"),
        ({"trial": 0, "values": {"units": 64}, "val_accuracy": 0.5}, r"'trial' must be a string, got 0"),
        ({"trial": "0", "values": [64], "val_accuracy": 0.5}, r"'values' must be an object, got a list of 1"),
        ({"trial": "7", "values": {"units": 64}, "val_accuracy": 0.5}, r"'trial' is '7', not '0'"),
    ],
)
def test_damaged_tuner_trials(tmp_path, trial, message):
    path = _write(tmp_path / "trial-0.json", trial)
    with pytest.raises(FerEdgeError, match=rf"^tuner trial {re.escape(str(path))}: {message}.*run this trial again$"):
        tuning._finished(tmp_path, "0", {"units": 64})


@pytest.mark.parametrize(
    "result, message",
    [
        ({"val_accuracy": 0.5}, r"'model_path' is missing"),
        ({"model_path": 7}, r"'model_path' must be a string, got 7"),
        ({"model_path": "m.keras", "phases": [{}] * 5000}, r"'phases' must be a list of objects of 0 to 1000 items"),
        ({"model_path": "m.keras", "backbone": ["vggface"]}, r"'backbone' must be null or an object"),
        ({"model_path": "m.keras", "val_accuracy": float("nan")}, r"'val_accuracy' must be null or a number"),
    ],
)
def test_damaged_spatial_results(tmp_path, result, message):
    path = _write(tmp_path / "result.json", result)
    with pytest.raises(FerEdgeError, match=rf"^spatial result {re.escape(str(path))}: {message}"):
        read_spatial_result(path)


def test_a_spatial_result_with_unknown_keys_loads(tmp_path):
    path = _write(tmp_path / "result.json", {"model_path": "m.keras", "note": "by hand", "reused": False})
    assert read_spatial_result(path) == {"model_path": "m.keras", "reused": False}


# --- the predictions CSV (fer-edge evaluate reads it) -------------------------------------------

HEADER = "name,true,predicted,happy,sad\n"


@pytest.mark.parametrize(
    "rows, message",
    [
        ("a,happy,happy,nan,0.1\n", r"line 2: score 'happy' must be a finite number, got 'nan'"),
        ("a,happy,happy,0.9,inf\n", r"line 2: score 'sad' must be a finite number, got 'inf'"),
        ("a,happy,happy,0.9,0.1\nb,sad,sad,0.2\n", r"line 3 has 4 cells, the header 5"),
        ("a,happy,happy,0.9,0.1,0.5\n", r"line 2 has 6 cells, the header 5"),
        ("a,angry,happy,0.9,0.1\n", r"line 2: 'true' is 'angry', not one of the header's labels"),
        ("a,happy,,0.9,0.1\n", r"line 2: 'predicted' is '', not one of the header's labels"),
    ],
)
def test_damaged_predictions_through_evaluate(tmp_path, capsys, rows, message):
    path = tmp_path / "predictions.csv"
    path.write_text(HEADER + rows)
    with pytest.raises(FerEdgeError, match=message):
        load_predictions(path)
    out = tmp_path / "eval"
    assert main(["evaluate", str(path), "--out", str(out)]) != 0
    line = _one_line(capsys)
    assert re.search(rf"predictions file {re.escape(str(path))} {message}", line), line
    assert not out.exists()


def test_good_predictions_still_load(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text(HEADER + "a,happy,happy,0.9,0.1\nb,sad,happy,0.6,0.4\n")
    pred = load_predictions(path)
    assert pred.y_true.tolist() == [0, 1] and pred.scores.shape == (2, 2)


# --- the preprocess index (evaluate/optimize/train read the clip list of a preprocessed folder) ---


def _record(**change) -> dict:
    good = {"name": "F001_happy", "status": "ok", "emotion": "happy", "subject": "F001", "folder": "clips/F001_happy"}
    good |= {"span": [0, 3], "frames": 4, "intensity": [0.0, 0.5, 1.0, 0.2], "fps": 25.0, "warnings": []}
    return {k: v for k, v in {**good, **change}.items() if v is not ...}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"span": "0-3"}, r"'span' must be a list of integers"),
        ({"span": [0, 3, 5]}, r"'span' must be a list of integers .* of 2 to 2 items, got a list of 3"),
        ({"span": [0, 9]}, r"'span' \[0, 9\] is not inside the clip's 4 frames"),
        ({"frames": ...}, r"'frames' is missing"),
        ({"emotion": 3}, r"'emotion' must be a string, got 3"),
        ({"intensity": [0.1, float("nan")]}, r"'intensity\[1\]' must be a number"),
        ({"intensity": HUGE[:100] + ["x"]}, r"'intensity\[100\]' must be a number"),
        ({"status": "done"}, r"'status' must be \"ok\" or \"error\", got 'done'"),
        ({"name": None}, r"'name' must be a string, got null"),
    ],
)
def test_damaged_index_records_through_evaluate(tmp_path, capsys, change, message):
    pre = tmp_path / "pre"
    pre.mkdir()
    good = _record(name="F002_sad", emotion="sad", subject="F002", folder="clips/F002_sad")
    (pre / "index.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(_record(**change)) + "\n")
    where = rf"preprocess index {re.escape(str(pre / 'index.jsonl'))}: record 2: "
    with pytest.raises(FerEdgeError, match=rf"^{where}{message}.*rerun: fer-edge preprocess"):
        read_index(pre)
    bundle = frame_bundle(tmp_path / "bundle")
    _write(tmp_path / "split.json", {"test": ["F001"], "folds": [["F002"]]})
    out = tmp_path / "eval"
    argv = ["evaluate", str(bundle.path), "--data", str(pre), "--split-file", str(tmp_path / "split.json")]
    assert main([*argv, "--out", str(out)]) != 0
    assert re.search(where + message, _one_line(capsys))
    assert not out.exists()


def test_a_good_index_and_an_error_record_load(tmp_path):
    error = {"name": "F003_sad", "status": "error", "error": "the video has no frames"}
    (tmp_path / "index.jsonl").write_text(json.dumps(_record()) + "\n" + json.dumps(error) + "\n")
    assert [r["status"] for r in read_index(tmp_path)] == ["ok", "error"]


# --- run files the thesis tables read (fer-edge fuse --thesis-tables): a damaged one is "-" and a warning ---


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("fusion.json", {"subset": ["LSTM + BiLSTM"]}, r"fusion\.json: 'subset' must be null or a string"),
        ("fusion.json", {"subset": "LSTM + BiLSTM", "accuracy": {"max": "high"}}, r"'accuracy\.max' must be a number"),
        ("bundle/manifest.json", {"provenance": [1]}, r"manifest\.json: 'provenance' must be null or an object"),
        ("bundle/manifest.json", {"provenance": {"metrics": {"test_accuracy": 7}}}, r"'provenance\.metrics\.test_acc"),
        ("evaluation/metrics.json", {"accuracy": "high"}, r"metrics\.json: 'accuracy' must be a number in \[0, 1\]"),
        ("recipe.yaml", "thesis: [1, 2]\n", r"recipe\.yaml: 'thesis' must be null or an object"),
    ],
)
def test_damaged_run_files_in_the_thesis_tables(tmp_path, capsys, caplog, name, content, message):
    run = tmp_path / "runs" / "r"
    (run / "evaluation").mkdir(parents=True)
    if name != "recipe.yaml":
        (run / "recipe.yaml").write_text("thesis:\n  row: VGG16\n")
    if name != "evaluation/metrics.json":
        _write(run / "evaluation" / "metrics.json", {"accuracy": 0.5})
    path = run / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    assert main(["fuse", "--thesis-tables", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "Table 3.7" in out.out
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and re.search(message, warnings[0]) and "shows '-'" in warnings[0], warnings
