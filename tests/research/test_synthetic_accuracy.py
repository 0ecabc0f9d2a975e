"""The synthetic classes are learnable by the cascade on faces it never saw (a small, fast run).

The full benchmark (``fer-edge train temporal --recipe train/synthetic.yaml``: 95 subjects,
6 classes, >= 90 % test accuracy) takes minutes; this is the same path on 3 classes and few
subjects, with a floor far above chance, so a change that breaks learnability fails here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer_edge.data.synth_prep import write_preprocessed
from fer_edge.train.config import load_recipe

pytestmark = [pytest.mark.tf, pytest.mark.slow]  # trains Keras models

LABELS = ["happy", "sad", "surprise"]
SUBJECTS = [f"{sex}{i:03d}" for i in range(1, 13) for sex in "FM"]  # 24 distinct faces
FRAMES = 20
SIZE = 48


def _preprocessed(root):
    """A preprocess-stage folder from the ground-truth boxes (no detection: fast), untrimmed."""
    return write_preprocessed(
        root, subjects=SUBJECTS, labels=LABELS, frames=FRAMES, crop=SIZE, seed=0, per_clip_seed=True
    )


def _recipe(tmp, pre, *, relative=True):
    return load_recipe(
        None,
        overrides={
            "name": "learnable",
            "out": str(tmp / ("run" if relative else "run-plain")),
            "labels": LABELS,
            "seed": 0,
            "data": {"preprocessed": str(pre), "split": {"k": 3, "test": 0.25}, "length": FRAMES, "trimmed": False},
            "spatial": {
                "model": "test_spatial",
                "options": {"input_shape": [SIZE, SIZE, 3], "dense_units": [32]},
                "frames_per_clip": 8,
                "validation": 0.2,
                "early_stopping": 0,
                "online_augmentation": True,
                "batch_size": 16,
                "phases": [{"epochs": 12, "learning_rate": 2e-3, "unfreeze": -1}],
            },
            "extract": {"layer": "flatten", "augment": [], "batch_size": 64},
            "temporal": {
                "model": "cnn1d",
                "epochs": 30,
                "batch_size": 8,
                "learning_rate": 2e-3,
                "augmented": False,
                "options": {
                    "filters": [16, 16, 32, 32],
                    "dropout": 0.2,
                    "pooling": "max",
                    "relative": relative,
                    "reference_frames": 2,
                },
            },
            "finalize": {"patience": 10},
            "window": {"stride": 2, "min_frames": 4},
        },
    )


def test_relative_cascade_learns_the_synthetic_classes_on_new_faces(tmp_path):
    from fer_edge.runtime.bundle import load_bundle
    from fer_edge.train.experiment import run_temporal

    recipe = _recipe(tmp_path, _preprocessed(tmp_path / "pre"))
    report = run_temporal(recipe, progress=False)
    print(report.describe())  # the numbers, with pytest -s
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    train_subjects = {s for fold in split["folds"] for s in fold}
    # Subject-independent: the test faces are in no fold (neither CNN nor head saw them).
    assert len(split["test"]) == 6 and not train_subjects & set(split["test"])
    assert len(report.val_accuracies) == 3
    # 3 classes: chance is 1/3; 18 test clips of 6 unseen faces.
    assert report.test_accuracy >= 0.7, report.describe()
    assert np.mean(report.val_accuracies) >= 0.6, report.describe()
    bundle = load_bundle(report.bundle)
    assert bundle.provenance["metrics"]["test_accuracy"] == pytest.approx(report.test_accuracy)
    assert bundle.provenance["data"]["trimmed"] is False
