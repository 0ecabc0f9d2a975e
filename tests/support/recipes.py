"""The tiny training recipe shared by the train-pipeline and interrupt tests (6 subjects x 3 labels, 32 px)."""

from __future__ import annotations

LABELS = ["happy", "sad", "surprise"]
SUBJECTS = ["F001", "F002", "F003", "M001", "M002", "M003"]


def tiny_spatial() -> dict:
    """The ``spatial`` section: the test CNN, 3 frames per clip, one short phase (a fresh dict per call)."""
    return {
        "model": "test_spatial",
        "options": {"input_shape": [32, 32, 3]},
        "frames_per_clip": 3,
        "validation": 0.25,
        "early_stopping": 0,
        "online_augmentation": True,
        "batch_size": 16,
        "phases": [{"epochs": 2, "learning_rate": 5e-3, "unfreeze": -1}],
    }
