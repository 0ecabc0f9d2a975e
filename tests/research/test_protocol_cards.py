"""Every recipe's protocol card, printed: no silent line (issue 24). Each line is "= thesis",
"differs" or "assumption (thesis says: ...)"; the silent differences the issue lists are on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_edge.train.config import load_recipe
from fer_edge.train.protocol import MARKS, fusion_card, protocol_card

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted(p.stem for p in (REPO / "train").glob("*.yaml"))


def _verb(name: str) -> str:
    if name.startswith("fusion"):
        return "fuse"
    if name.endswith("_finetune"):
        return "spatial"
    return "clip" if name in ("c3d", "convlstm") else "temporal"


def _card(name: str):
    recipe = load_recipe(REPO / "train" / f"{name}.yaml")
    verb = _verb(name)
    if verb == "fuse":
        members = [(Path(m).parent.name, 0.6) for m in recipe.fusion.members]
        return recipe, fusion_card(
            recipe.name, members=members, methods=recipe.fusion.methods, split="test", subset=recipe.fusion.subset
        )
    return recipe, protocol_card(recipe, stage=verb)


def test_recipes_are_all_covered():
    assert len(RECIPES) >= 16 and {"vgg16_finetune", "fusion_1dcnn_c3d", "vggface_lstm_dense1024"} <= set(RECIPES)


@pytest.mark.parametrize("name", RECIPES)
def test_every_line_of_every_card_is_marked(name):
    _, card = _card(name)
    text = card.describe()
    print(text)  # every recipe's card, as `fer-edge train` / `fer-edge fuse` prints it
    title, *lines = text.splitlines()
    assert title.startswith("protocol card: ") and lines
    for line in lines:
        assert any(mark in line for mark in MARKS), f"{name}: unmarked line {line!r}"
        if "assumption (thesis says:" in line:
            assert line.rstrip().endswith(")]") and "thesis says: )" not in line


@pytest.mark.parametrize(
    "name, item, words",
    [
        ("vggface_finetune", "fine-tuning pixels", "grey faces copied into 3 channels"),  # 1
        ("vggface_1dcnn", "extractor pixels", "colour crops"),  # 1
        ("c3d", "clip input", "raw videos were fed directly"),  # 2
        ("convlstm", "architecture", "valid padding"),  # 3
        ("c3d", "architecture", "/255"),  # 3
        ("vggface_finetune", "fine-tuning batch", "64"),  # 4
        ("vggface_finetune", "classifier search", "phase 1's SGD (momentum 0.9"),  # 4
        ("vggface_finetune", "normalisation", "keras-vggface preprocess_input"),  # 5
        ("vggface_lstm", "copies made at", "224x224 model input"),  # 6
        ("vggface_1dcnn", "face box", "before the tracking"),  # 7
        ("fusion", "weights W_i", "performance of model i"),  # 8
        ("vggface_bilstm", "reported CV accuracy", "collected, averaged"),  # 9
        ("vgg16_finetune", "input size", "inferred"),  # 10
        ("vggface_lstm", "anomalies", "test-set anomalies kept, used whole"),
    ],
)
def test_the_issues_silent_differences_are_on_the_card(name, item, words):
    _, card = _card(name)
    line = card.get(item)
    assert words in line.describe()


def test_random_weights_differ_and_real_ones_match():
    recipe = load_recipe(REPO / "train" / "vggface_finetune.yaml", overrides=["spatial.options.weights=random"])
    line = protocol_card(recipe, stage="spatial").get("backbone weights")
    assert line.value == "random initialisation" and line.mark == "differs"
    recipe = load_recipe(REPO / "train" / "resnet50_finetune.yaml")
    line = protocol_card(recipe, stage="spatial").get("backbone weights")
    assert line.value == "imagenet (Keras cache)" and line.mark == "= thesis"
    assert protocol_card(recipe, stage="spatial").get("backbone").thesis == "resnet50"


def test_an_assumption_without_its_passage_is_refused():
    with pytest.raises(Exception, match="names no thesis passage"):
        load_recipe(None, overrides={"thesis.assumptions": ["batch 64"]})
