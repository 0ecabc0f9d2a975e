"""The thesis recipes: their protocol card against chapter 3, what they refuse, and an end-to-end
run on the generator's BU-4DFE layout with OpenFace-format CSVs and a tiny stand-in backbone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from fer_edge.data import splits
from fer_edge.train.config import load_recipe
from fer_edge.train.protocol import THESIS_FOLD_EPOCHS, protocol_card, table_3_6_line
from fer_edge.train.usage import check_used
from tests.support.openface_csv import write_for_dataset

REPO = Path(__file__).resolve().parents[2]
TEMPORAL = ["vggface_1dcnn", "vggface_lstm", "vggface_bilstm"]


def _recipe(name, **over):
    return load_recipe(REPO / "train" / f"{name}.yaml", overrides=over or None)


@pytest.mark.parametrize("name", TEMPORAL)
def test_card_of_each_cascade_recipe_matches_the_thesis(name):
    recipe = _recipe(name)
    check_used(recipe, "temporal")
    card = protocol_card(recipe, stage="temporal")
    # 224 px is inferred from "25088 features", not stated: an assumption with its passage
    assert card.get("input size").value == "224x224" and card.get("input size").mark == "assumption"
    assert "25088 features" in card.get("input size").thesis
    assert card.get("features").value == "flatten 25088" and card.get("features").matches
    assert card.get("subjects left out").value == "F016"
    signal = card.get("trimming signal")
    assert signal.matches and "without AU45" in signal.value and "OpenFace AUxx_r" in signal.value
    thesis_split = splits.thesis_split()
    assert card.get("split").matches and "F044-F058, M011" in card.get("split").value
    assert recipe.data.split.method == "thesis" and len(thesis_split["test"]) == 20
    rule = card.get("final epochs rule")
    assert THESIS_FOLD_EPOCHS == (9, 22, 4, 4, 16) and rule.value.endswith("-> 11") and rule.matches
    assert card.get("final model").matches and recipe.finalize.separate_runs
    # the tracker starts from the box before the +10 px extension: the one line that differs
    assert [line.item for line in card.deviations] == ["face box"]
    assert card.assumptions and all("(thesis says: " in a for a in card.assumptions)
    copies = {"vggface_lstm": 9, "vggface_bilstm": 3}
    if name in copies:
        assert card.get("augmentation copies").value.startswith(f"{copies[name]}:")
        assert card.get("augmentation copies").matches


def test_card_marks_deviations_and_table_row():
    recipe = _recipe(
        "vggface_1dcnn", **{"spatial.options.input_shape": [160, 160, 3], "data.preprocess.intensity": "flow"}
    )
    card = protocol_card(recipe, stage="temporal")
    assert {line.item for line in card.deviations} == {"input size", "features", "trimming signal", "face box"}
    assert card.get("features").value == "flatten 12800"
    assert "  input size: 160x160  [differs (thesis: 224x224, inferred" in card.describe()
    line = table_3_6_line(recipe, 0.625)
    assert line.startswith("table 3.6, VGGFace + 1D-CNN: thesis 65.0 % | measured 62.5 % (-2.5 points)")


def test_finetune_recipe_card_and_phase_three_regularises():
    recipe = _recipe("vggface_finetune")
    check_used(recipe, "spatial")
    phases = recipe.spatial.phases
    assert [p.unfreeze for p in phases] == [0, 2, 2] and phases[0].optimizer == "sgd"
    # Phase 3 adds regularisation (a higher drop rate), not a lower learning rate (section 3.2.4).
    assert phases[2].dropout > recipe.spatial.options["dropout"] and phases[2].learning_rate == phases[1].learning_rate
    card = protocol_card(recipe, stage="spatial")
    assert card.get("input size").value == "224x224" and card.get("classifier search").matches
    assert card.get("backbone weights").matches is False  # not set yet: the run refuses
    assert any("not stated" in a for a in card.assumptions)


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], "spatial.weights runs/vggface_finetune/spatial/model.keras does not exist"),
        (["--set", "clip.size=64"], "'clip.size' is not read by 'train temporal'"),
        (["--set", "finalize.separate_runs=false"], "finalize.separate_runs is false"),
    ],
)
def test_cascade_recipe_refuses_to_run_off_spec(tmp_path, capsys, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)  # runs/... of the recipe does not exist here
    rc = main(
        [
            "train",
            "temporal",
            "--recipe",
            str(REPO / "train" / "vggface_1dcnn.yaml"),
            "--out",
            str(tmp_path / "run"),
            *args,
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and expected in err[0], err


def test_cascade_recipe_without_openface_csvs_says_what_to_provide(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.keras").write_bytes(b"x")
    rc = main(
        [
            "train",
            "temporal",
            "--recipe",
            str(REPO / "train" / "vggface_1dcnn.yaml"),
            "--out",
            str(tmp_path / "run"),
            "--set",
            f"spatial.weights={tmp_path / 'model.keras'}",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc != 0 and "data.preprocess.au_dir data/openface is not a folder" in err
    assert "--set data.preprocess.au_dir=PATH" in err and "\n" not in err


def test_finetune_recipe_without_vggface_weights_names_the_key_and_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = main(
        ["train", "spatial", "--recipe", str(REPO / "train" / "vggface_finetune.yaml"), "--out", str(tmp_path / "run")]
    )
    err = capsys.readouterr().err.strip()
    assert rc != 0 and "\n" not in err
    assert "--set spatial.options.weights=PATH" in err and "rcmalli_vggface_tf_notop_vgg16.h5" in err
    assert "spatial.options.weights=random" in err


def test_weights_random_must_be_spelled_out_and_imagenet_needs_the_cache(tmp_path, monkeypatch):
    from fer_edge.models.spatial import check_weights_path, require_weights_choice

    require_weights_choice("vggface_vgg16", {"weights": "random"})
    assert check_weights_path("random", allowed=()) is None
    with pytest.raises(FerEdgeError, match="spatial.options.weights is not set"):
        require_weights_choice("vggface_resnet50", {})
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    from fer_edge.models.spatial import require_imagenet_cache

    with pytest.raises(FerEdgeError, match="never downloads at run time"):
        require_imagenet_cache("vgg16")


@pytest.mark.tf
@pytest.mark.slow
def test_thesis_input_gives_25088_features():
    from fer_edge.models import create_model
    from fer_edge.models.spatial import flatten_features
    from fer_edge.train.protocol_lines import THESIS_FEATURES, THESIS_INPUT

    model = create_model("vggface_vgg16", input_shape=(THESIS_INPUT, THESIS_INPUT, 3), num_classes=None)
    assert int(model.outputs[0].shape[-1]) == THESIS_FEATURES == flatten_features("vggface_vgg16", THESIS_INPUT)


@pytest.mark.tf
@pytest.mark.slow
def test_1dcnn_recipe_end_to_end_on_bu4dfe_layout_with_openface_csvs(tmp_path, capsys):
    from fer_edge.data.synth_dataset import write_dataset
    from fer_edge.models import create_model

    labels = ["happy", "sad"]
    # Test subjects F001/M001; one subject per figure 3.6 fold; F016 is left out by the recipe.
    subjects = ["F001", "M001", "F011", "F016", "F028", "F044", "M012", "M028"]
    raw = tmp_path / "BU4DFE"
    write_dataset(raw, subjects=subjects, labels=labels, frames=40, size=(160, 120), seed=0)
    write_for_dataset(raw, tmp_path / "openface", skip=["M028_sad"], late_peak=["M012_happy"])
    create_model("test_spatial", input_shape=(32, 32, 3), num_classes=2).save(tmp_path / "standin.keras")
    sets = {
        "labels": "[happy, sad]",
        "data.raw": raw,
        "data.preprocessed": tmp_path / "pre",
        "data.preprocess.au_dir": tmp_path / "openface",
        "data.preprocess.size": 48,
        "data.length": 16,
        "spatial.model": "test_spatial",
        "spatial.weights": tmp_path / "standin.keras",
        "spatial.options.input_shape": "[32, 32, 3]",
        "extract.augment": "[flip, saltpepper]",
        "extract.backend": "keras",
        "temporal.options": "{filters: [8, 8, 16, 16], dropout: 0.2}",
        "temporal.epochs": 2,
        "temporal.batch_size": 8,
        "finalize.patience": 1,
        "finalize.reduce_lr_patience": 1,
    }
    argv = [
        "train",
        "temporal",
        "--recipe",
        str(REPO / "train" / "vggface_1dcnn.yaml"),
        "--out",
        str(tmp_path / "run"),
        "--quiet",
    ]
    for key, value in sets.items():
        argv += ["--set", f"{key}={value}"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.index("protocol card: vggface-1dcnn") < out.index("test accuracy")
    assert "table 3.6, VGGFace + 1D-CNN: thesis 65.0 % | measured" in out
    card = json.loads((tmp_path / "run" / "protocol.json").read_text())
    lines = {line["item"]: line for line in card["lines"]}
    assert lines["input size"]["value"] == "32x32" and lines["input size"]["matches"] is False
    assert lines["features"]["value"] == "flatten 256" and lines["features"]["matches"] is False
    assert lines["subjects left out"]["value"] == "F016" and lines["subjects left out"]["matches"]
    assert lines["trimming signal"]["matches"] and "clips trimmed on: openface" in lines["trimming signal"]["value"]
    assert "sha256" in lines["spatial extractor"]["value"]
    summary = json.loads((tmp_path / "pre" / "summary.json").read_text())
    assert summary["missing_au_csv"] == ["M028_sad"] and "F016" not in summary["subjects"]
    review = json.loads((tmp_path / "pre" / "review" / "index.json").read_text())
    assert [c["name"] for c in review["clips"]] == ["M012_happy"]
    assert (tmp_path / "pre" / review["clips"][0]["sheet"]).is_file()
    from fer_edge.data.preprocess import read_index
    from fer_edge.data.store import read_store

    store = read_store(tmp_path / "run" / "features" / "fold-3-features-256.h5")  # M012's fold
    usable = {r["name"] for r in read_index(tmp_path / "pre") if r["subject"] == "M012" and r["status"] == "ok"}
    assert "M012_happy" in usable and set(store.names) == usable - {"M012_happy"}  # the anomaly stays out
    final = json.loads((tmp_path / "run" / "final.json").read_text())
    assert final["reduce_lr"] == [0.5, 1]  # the final fit keeps the fold runs' LR schedule
    assert (tmp_path / "run" / "finalize" / "fold-0" / "result.json").is_file()


@pytest.mark.tf
@pytest.mark.slow
def test_finetune_recipe_end_to_end_with_a_stand_in_backbone(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    rows = ["emotion,pixels,Usage"]
    for i in range(42):
        usage = ("Training", "Training", "Training", "Training", "PublicTest", "PrivateTest")[i % 6]
        rows.append(f"{i % 7},{' '.join(map(str, rng.integers(0, 256, 2304)))},{usage}")
    (tmp_path / "fer2013.csv").write_text("\n".join(rows) + "\n")
    phases = (
        "[{epochs: 1, learning_rate: 0.01, optimizer: sgd, unfreeze: 0}, "
        "{epochs: 1, learning_rate: 0.001, optimizer: adam, unfreeze: 2}, "
        "{epochs: 1, learning_rate: 0.001, optimizer: adam, unfreeze: 2, dropout: 0.6}]"
    )
    sets = {
        "spatial.fer2013": tmp_path / "fer2013.csv",
        "spatial.model": "test_spatial",
        "spatial.options": "{input_shape: [32, 32, 3], dense_units: [16], dropout: 0.2}",
        "spatial.tune.trials": 1,
        "spatial.tune.epochs": 1,
        "spatial.batch_size": 8,
        "spatial.phases": phases,
        "spatial.frame_bundle": "false",
    }
    argv = [
        "train",
        "spatial",
        "--recipe",
        str(REPO / "train" / "vggface_finetune.yaml"),
        "--out",
        str(tmp_path / "run"),
        "--quiet",
    ]
    for key, value in sets.items():
        argv += ["--set", f"{key}={value}"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "protocol card: vggface-finetune (train spatial)" in out
    assert "backbone: test_spatial  [differs (thesis: vggface_vgg16" in out
    result = json.loads((tmp_path / "run" / "spatial" / "result.json").read_text())
    assert [p["dropout"] for p in result["phases"]] == [None, None, 0.6]
    from fer_edge.models import load_keras_model

    model = load_keras_model(tmp_path / "run" / "spatial" / "model.keras")
    assert {layer.rate for layer in model.layers if layer.__class__.__name__ == "Dropout"} == {0.6}


@pytest.mark.parametrize(
    "name, verb",
    [("vggface_1dcnn", "temporal"), ("vggface_finetune", "spatial"), ("c3d", "clip"), ("synthetic", "temporal")],
)
def test_saved_effective_recipe_runs_again_as_it_is(tmp_path, name, verb):
    from fer_edge.train.config import save_recipe

    recipe = _recipe(name)
    save_recipe(recipe, tmp_path / "recipe.yaml", verb=verb)
    again = load_recipe(tmp_path / "recipe.yaml")
    check_used(again, verb)  # only what the verb reads was written
    assert again.to_dict() == recipe.to_dict()
