"""A recipe per thesis table row (issue 24): table 3.4's backbones refuse without their weights file,
the figure 3.19 dense-1024 recipe, table 3.7's fusion subsets with the thesis row beside the measured
one and a card, and ``fuse --thesis-tables`` collecting tables 3.4/3.6/3.7 from run folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from fer_edge.cli import main
from fer_edge.train.config import load_recipe
from fer_edge.train.metrics import Predictions
from fer_edge.train.protocol import protocol_card
from fer_edge.train.thesis_tables import TABLE_3_4, TABLE_3_7, TABLE_3_7_MEMBERS, thesis_tables
from fer_edge.train.usage import check_used, preflight

REPO = Path(__file__).resolve().parents[2]
FINETUNE = {"VGGFace": "vggface_finetune", "VGG16": "vgg16_finetune", "ResNet50": "resnet50_finetune"}
FINETUNE["DenseNet201"] = "densenet201_finetune"
FUSION = {
    "LSTM + BiLSTM": "fusion_lstm_bilstm",
    "LSTM + BiLSTM + 1D-CNN": "fusion_lstm_bilstm_1dcnn",
    "C3D + ConvLSTM": "fusion_c3d_convlstm",
    "1D-CNN + C3D": "fusion_1dcnn_c3d",
    "All": "fusion",
}
RUN_DIR = {
    "VGGFace + LSTM": "vggface_lstm",
    "VGGFace + BiLSTM": "vggface_bilstm",
    "VGGFace + 1D-CNN": "vggface_1dcnn",
    "C3D": "c3d",
    "ConvLSTM": "convlstm",
}


@pytest.mark.parametrize("row", list(TABLE_3_4))
def test_each_table_3_4_row_has_a_recipe_that_refuses_without_its_weights(row, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # an empty Keras cache
    recipe = load_recipe(REPO / "train" / f"{FINETUNE[row]}.yaml")
    assert recipe.thesis.row == row and recipe.spatial.source == "fer2013"
    assert recipe.spatial.options["input_shape"] == [224, 224, 3]
    assert [p.unfreeze for p in recipe.spatial.phases] == [0, 2, 2]
    check_used(recipe, "spatial")
    with pytest.raises(Exception) as err:
        preflight(recipe, "spatial")
    message = str(err.value)
    assert "\n" not in message
    if row == "VGGFace":
        assert "rcmalli_vggface_tf_notop_vgg16.h5" in message
    else:
        model = recipe.spatial.model
        assert f"{tmp_path}/keras/models/{model}_weights_tf_dim_ordering_tf_kernels_notop.h5" in message


def test_dense_1024_recipe_of_figure_3_19():
    recipe = load_recipe(REPO / "train" / "vggface_lstm_dense1024.yaml")
    check_used(recipe, "temporal")
    assert recipe.extract.layer == "dense" and recipe.temporal.options["dropout"] == 0.7
    card = protocol_card(recipe, stage="temporal", features=1024)
    assert card.get("features").value == "dense 1024" and card.get("features").matches is False


@pytest.mark.parametrize("subset", list(TABLE_3_7))
def test_each_table_3_7_row_has_a_fusion_recipe(subset):
    recipe = load_recipe(REPO / "train" / f"{FUSION[subset]}.yaml")
    assert recipe.fusion.subset == subset
    runs = [Path(m).parent.name for m in recipe.fusion.members]
    assert runs == [RUN_DIR[row] for row in TABLE_3_7_MEMBERS[subset]]
    assert recipe.fusion.methods == ["average", "weighted", "max"]


def test_unknown_table_3_7_row_gets_did_you_mean():
    with pytest.raises(Exception, match="did you mean 'C3D \\+ ConvLSTM'"):
        load_recipe(None, overrides=["fusion.subset=C3D + ConvLSTN"])


def _members(tmp_path: Path) -> list[Path]:
    labels = ("happy", "sad", "surprise")
    y = np.array([0, 1, 2, 0])
    first = Predictions(
        ["c1", "c2", "c3", "c4"], labels, y, [[0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6], [0.1, 0.5, 0.4]]
    )
    second = Predictions(
        ["c1", "c2", "c3", "c4"], labels, y, [[0.2, 0.5, 0.3], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.7, 0.2, 0.1]]
    )
    return [first.save_csv(tmp_path / "lstm.csv"), second.save_csv(tmp_path / "c3d.csv")]


def test_fusion_recipe_prints_thesis_row_card_and_writes_fusion_json(tmp_path, capsys):
    a, b = _members(tmp_path)
    out = tmp_path / "runs" / "fusion_1dcnn_c3d"
    argv = ["fuse", str(a), str(b), "--recipe", str(REPO / "train" / "fusion_1dcnn_c3d.yaml"), "--out", str(out)]
    assert main([*argv, "--weights", "0.6,0.5"]) == 0
    text = capsys.readouterr().out
    assert "protocol card: fusion-1dcnn-c3d (fuse), thesis table 3.7 row '1D-CNN + C3D'" in text
    assert "weights W_i: given with --weights: lstm 0.600, c3d 0.500" in text
    assert "| fusion average | 100.00 % | 62.50 % |" in text and "| fusion weighted |" in text
    assert "| fusion max | 100.00 % | 63.33 % |" in text
    saved = json.loads((out / "fusion.json").read_text())
    assert saved["subset"] == "1D-CNN + C3D" and saved["accuracy"]["average"] == 1.0
    assert (out / "protocol.md").is_file()
    # the tables gather what the run folders hold, the thesis beside each
    bundle = tmp_path / "runs" / "vggface_1dcnn" / "bundle"
    bundle.mkdir(parents=True)
    prov = {"recipe": {"thesis": {"row": "VGGFace + 1D-CNN"}}, "metrics": {"test_accuracy": 0.6}}
    (bundle / "manifest.json").write_text(json.dumps({"provenance": prov}))
    spatial = tmp_path / "runs" / "vgg16_finetune"
    (spatial / "evaluation").mkdir(parents=True)
    (spatial / "recipe.yaml").write_text(yaml.safe_dump({"thesis": {"row": "VGG16"}}))
    (spatial / "evaluation" / "metrics.json").write_text(json.dumps({"accuracy": 0.5}))
    assert main(["fuse", "--thesis-tables", str(tmp_path / "runs")]) == 0
    tables = capsys.readouterr().out
    assert tables == thesis_tables(tmp_path / "runs")
    assert "| VGG16 | 65.0 % | 50.0 % |" in tables and "| ResNet50 | 63.0 % | - |" in tables
    assert "| VGGFace + 1D-CNN | 65.0 % | 60.0 % |" in tables and "| C3D | 50.0 % | - |" in tables
    assert "| 1D-CNN + C3D | 62.5 % / 100.0 % | 65.8 % / 100.0 % | 63.3 % / 100.0 % |" in tables
    assert "| All | 63.3 % / - |" in tables
    assert main(["fuse", "--thesis-tables", str(tmp_path / "nothing")]) != 0
    assert "is not a folder of runs" in capsys.readouterr().err


def test_reproduce_script_runs_every_table_3_6_and_3_7_recipe():
    script = (REPO / "train" / "reproduce_tables_3_6_3_7.sh").read_text()
    for name in ["vggface_finetune", *RUN_DIR.values(), *FUSION.values()]:
        assert f"{name}" in script and (REPO / "train" / f"{name}.yaml").is_file()
    assert "fer-edge fuse --thesis-tables" in script


def test_reproduce_script_passes_shellcheck_and_calls_every_step_in_order(tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    script = REPO / "train" / "reproduce_tables_3_6_3_7.sh"
    check = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))
    proc = subprocess.run([check, "-x", "--severity=style", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # A recording fer-edge on PATH: the script's calls, in order, with their arguments.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "fer-edge").write_text('#!/bin/sh\necho "$*" >> "$CALLS"\n')
    (bin_dir / "fer-edge").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(tmp_path / "calls")}
    proc = subprocess.run(["bash", str(script), "w.h5", "my runs"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert [c.split()[0:2] for c in calls[:6]] == [["train", "spatial"]] + [["train", "temporal"]] * 3 + [
        ["train", "clip"]
    ] * 2
    assert "spatial.weights=my runs/vggface_finetune/spatial/model.keras" in calls[1]
    fuses = [c for c in calls if c.startswith("fuse --recipe")]
    assert len(fuses) == 5 and fuses[3].endswith("my runs/vggface_1dcnn/bundle my runs/c3d/bundle")
    assert calls[-1] == "fuse --thesis-tables my runs"
