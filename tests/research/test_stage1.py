"""Stage 1 on its own (issue 24): ``train spatial`` on a FER2013 copy alone (CSV or class folders),
PrivateTest scored as table 3.4's row, table 3.5 and figure 3.12; validation carved or "none";
a frozen random base refused; epoch lines in a log carry no terminal control codes."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from fer_edge.cli import main
from tests.support.fer2013_sets import write_csv, write_folders

REPO = Path(__file__).resolve().parents[2]
PHASE = "[{epochs: 6, learning_rate: 0.005, optimizer: adam, unfreeze: -1}]"


def _argv(tmp_path: Path, fer: Path, *extra: str) -> list[str]:
    sets = {
        "spatial.fer2013": fer,
        "spatial.model": "test_spatial",
        "spatial.options": "{input_shape: [32, 32, 3], dense_units: [32], dropout: 0.1}",
        "spatial.tune": "{trials: 0}",
        "spatial.batch_size": 16,
        "spatial.early_stopping": 0,
        # The classes are blocks at fixed places: a flipped face would be another class.
        "spatial.online_augmentation": "false",
        "spatial.phases": PHASE,
    }
    argv = ["train", "spatial", "--recipe", str(REPO / "train" / "vggface_finetune.yaml")]
    argv += ["--out", str(tmp_path / "run"), "--quiet"]
    for key, value in sets.items():
        argv += ["--set", f"{key}={value}"]
    return argv + list(extra)


@pytest.mark.tf
@pytest.mark.slow
def test_stage1_runs_on_a_fer2013_csv_alone_and_writes_tables_3_4_and_3_5(tmp_path, capsys):
    csv = write_csv(tmp_path / "fer2013.csv", {"train": 210, "test": 70})  # no PublicTest rows
    assert main(_argv(tmp_path, csv)) == 0
    out = capsys.readouterr().out
    run = tmp_path / "run"
    assert not Path("runs/pre").exists() or "index.jsonl" not in out  # no BU-4DFE asked for
    result = json.loads((run / "spatial" / "result.json").read_text())
    assert "held out" in result["validation"] and "stratified" in result["validation"]
    assert result["val_accuracy"] is not None and result["val_accuracy"] > 0.5
    assert "validation: " in out and "held out" in out
    assert "next: fer-edge train temporal --recipe train/vggface_1dcnn.yaml --set spatial.weights=" in out
    line = next(x for x in out.splitlines() if "table 3.4, VGGFace" in x)
    assert "thesis 69.0 %" in line and "on 70 PrivateTest faces" in line
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert metrics["samples"] == 70 and metrics["accuracy"] > 0.6  # the blocks are learnable
    t34 = (run / "evaluation" / "table-3.4.md").read_text()
    assert "| VGGFace | 2 | 69 % | 39,727,111 | - |" in t34 and "(test_spatial, measured)" in t34
    t35 = (run / "evaluation" / "table-3.5.md").read_text()
    assert "| happy |" in t35 and "| 0.83 | 0.91 | 0.87 | 879 |" in t35
    assert (run / "evaluation" / "confusion.png").stat().st_size > 1000  # figure 3.12
    manifest = json.loads((run / "frame-bundle" / "manifest.json").read_text())
    assert manifest["labels"][-1] == "neutral"
    assert manifest["provenance"]["metrics"]["test_accuracy"] == metrics["accuracy"]
    # the extractor it wrote is what a cascade recipe's spatial.weights consumes
    from fer_edge.models import feature_extractor
    from fer_edge.train.config import load_recipe
    from fer_edge.train.experiment import _load_spatial  # the loader temporal runs use

    cascade = load_recipe(
        REPO / "train" / "vggface_1dcnn.yaml",
        overrides={
            "spatial.weights": str(run / "spatial" / "model.keras"),
            "spatial.model": "test_spatial",
            "spatial.options.input_shape": [32, 32, 3],
        },
    )
    assert feature_extractor(_load_spatial(cascade), cascade.extract.layer).output.shape[-1] == 256


@pytest.mark.tf
@pytest.mark.slow
def test_stage1_on_class_folders_without_validation_says_none(tmp_path, capsys):
    root = write_folders(tmp_path / "fer", {"train": 140, "test": 35}, names={"surprise": "surprised"})
    argv = _argv(tmp_path, root, "--set", "spatial.validation=0", "--set", "spatial.frame_bundle=false")
    assert main(argv) == 0
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "run" / "spatial" / "result.json").read_text())
    assert result["val_accuracy"] is None and all(p["val_accuracy"] is None for p in result["phases"])
    assert result["validation"].startswith("none")
    assert "validation: none" in out and "val_accuracy: 0" not in out
    metrics = json.loads((tmp_path / "run" / "evaluation" / "metrics.json").read_text())
    assert metrics["samples"] == 35 and metrics["classes"]["surprise"]["support"] == 5


def test_frozen_random_base_is_refused_in_one_line(tmp_path, capsys):
    csv = write_csv(tmp_path / "fer2013.csv", {"train": 14, "test": 7})
    argv = _argv(tmp_path, csv, "--set", "spatial.phases=[{epochs: 1, unfreeze: 0}]")
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "randomly initialised test_spatial base" in err and "unfreeze: -1" in err


def test_data_section_is_refused_when_stage1_reads_fer2013_alone(tmp_path, capsys):
    csv = write_csv(tmp_path / "fer2013.csv", {"train": 14, "test": 7})
    assert main(_argv(tmp_path, csv, "--set", "data.preprocessed=runs/pre")) != 0
    err = capsys.readouterr().err
    assert "'data.preprocessed' is not read" in err and "FER2013 copy alone" in err


@pytest.mark.tf
def test_epoch_lines_off_a_terminal_have_no_control_codes(caplog):
    import numpy as np

    from fer_edge.models import create_model
    from fer_edge.train.kerasutil import fit_verbosity

    model = create_model("test_frame", num_classes=2)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = np.zeros((4, 32, 32, 3), np.float32), np.array([0, 1, 0, 1])
    verbose, extra = fit_verbosity(True, stream=io.StringIO())
    assert verbose == 0 and len(extra) == 1
    with caplog.at_level(logging.INFO, logger="fer_edge.core.progress"):
        model.fit(x, y, epochs=2, verbose=verbose, callbacks=extra)
    lines = [r.getMessage() for r in caplog.records if r.name == "fer_edge.core.progress"]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("\x1b" not in line and "\r" not in line and "accuracy" in line for line in lines)


def test_missing_fer2013_copy_is_one_line_naming_it(tmp_path, capsys):
    assert main(_argv(tmp_path, tmp_path / "nowhere.csv")) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nowhere.csv does not exist" in err and "--set spatial.fer2013=" in err
