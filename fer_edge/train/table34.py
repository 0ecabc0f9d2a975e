"""Stage 1's test report: the fine-tuned classifier on FER2013's PrivateTest as table 3.4's row,
table 3.5 (per-class precision/recall/F1) and figure 3.12 (confusion), the thesis beside each.

Files in ``<run>/evaluation/``: ``table-3.4.md``, ``table-3.5.md``, ``confusion.png`` (figure
3.12), ``confusion_normalized.png``, ``predictions.csv``, ``errors.md``, ``metrics.json`` and
``report.md`` (:func:`fer_edge.train.metrics.evaluate_predictions`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.atomic import write_text
from fer_edge.core.errors import FerEdgeError
from fer_edge.train.thesis_tables import TABLE_3_4, markdown_table, side_by_side_3_5

__all__ = ["Table34Report", "evaluate_fer2013_test", "fer2013_rgb", "table_3_4_row"]

# Registry backbone -> table 3.4 row (what a recipe without thesis.row is compared with).
_ROWS = {"vggface_vgg16": "VGGFace", "vgg16": "VGG16", "resnet50": "ResNet50", "densenet201": "DenseNet201"}


@dataclass
class Table34Report:
    """The PrivateTest evaluation of one fine-tuned spatial model."""

    row: str | None
    accuracy: float
    samples: int
    params: int
    unfrozen: int
    files: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        """``table 3.4, VGGFace: thesis 69.0 % | measured 61.2 % (-7.8 points) on 3589 PrivateTest faces``."""
        thesis = TABLE_3_4.get(self.row or "", {}).get("accuracy")
        measured = f"measured {100 * self.accuracy:.1f} %"
        if thesis is None:
            what = f"table 3.4, {self.row}: no thesis figure" if self.row else "table 3.4: no matching row"
            return f"{what} | {measured} on {self.samples} PrivateTest faces"
        diff = 100 * (self.accuracy - thesis)
        return (
            f"table 3.4, {self.row}: thesis {100 * thesis:.1f} % | {measured} ({diff:+.1f} points) "
            f"on {self.samples} PrivateTest faces"
        )


def table_3_4_row(recipe) -> str | None:
    """The table 3.4 row a spatial recipe reproduces: ``thesis.row`` when it names one, else its backbone's.

    Example:
        >>> from fer_edge.train.config import load_recipe
        >>> table_3_4_row(load_recipe(None, overrides=["spatial.model=resnet50"]))
        'ResNet50'
    """
    if recipe.thesis.row in TABLE_3_4:
        return recipe.thesis.row
    return _ROWS.get(recipe.spatial.model)


def fer2013_rgb(
    path: str | os.PathLike, labels, size: int, split: str = "test", *, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """One split of a FER2013 copy mapped to ``labels``, as RGB ``size x size`` uint8 (None: no rows)."""
    import cv2

    from fer_edge.data import fer2013

    part = fer2013.to_labels(fer2013.load(path), tuple(labels)).subset(split)
    if not len(part):
        return None
    images, y = part.images[:limit], part.labels[:limit]
    x = np.stack([cv2.cvtColor(cv2.resize(im, (size, size)), cv2.COLOR_GRAY2RGB) for im in images])
    return x, y


def evaluate_fer2013_test(
    model: Any, recipe, folder: str | os.PathLike, *, batch_size: int = 64
) -> Table34Report | None:
    """Score ``model`` on the PrivateTest split of ``recipe.spatial.fer2013`` and write the tables.

    Returns None when the copy has no test rows (nothing to report).

    Example:
        >>> report = evaluate_fer2013_test(model, recipe, "runs/x/evaluation")  # doctest: +SKIP
        >>> print(report.line())  # doctest: +SKIP
        table 3.4, VGGFace: thesis 69.0 % | measured 68.1 % (-0.9 points) on 3589 PrivateTest faces
    """
    from fer_edge.train.metrics import Predictions, evaluate_predictions

    labels = recipe.label_names
    classes = int(model.outputs[0].shape[-1])
    if classes != len(labels):
        raise FerEdgeError(
            f"the spatial model has {classes} classes, the recipe's labels {len(labels)}; "
            "set labels to the set it was trained on (e.g. fer2013)"
        )
    frames = fer2013_rgb(recipe.spatial.fer2013, labels, int(model.inputs[0].shape[1]))
    if frames is None:
        return None
    x, y = frames
    scores = model.predict(x.astype(np.float32), batch_size=batch_size, verbose=0)
    names = [f"PrivateTest-{i:05d}" for i in range(len(y))]
    row = table_3_4_row(recipe)
    thesis = TABLE_3_4.get(row or "", {})
    folder = Path(folder)
    ev = evaluate_predictions(
        Predictions(names, labels, y, scores),
        folder,
        reference=thesis.get("accuracy"),
        title=f"{recipe.name} (FER2013 PrivateTest, figure 3.12)",
    )
    levels = [p.unfreeze for p in recipe.spatial.phases]
    unfrozen = -1 if -1 in levels else max(levels)
    report = Table34Report(row, ev.accuracy, ev.samples, int(model.count_params()), unfrozen)
    rows = [
        [
            name,
            t["unfrozen"],
            "-" if t["accuracy"] is None else f"{100 * t['accuracy']:.0f} %",
            "-" if t["params"] is None else f"{t['params']:,}",
            t["note"],
        ]
        for name, t in TABLE_3_4.items()
    ]
    measured = [
        f"**{recipe.name}** ({recipe.spatial.model}, measured)",
        "all" if unfrozen == -1 else unfrozen,
        f"{100 * ev.accuracy:.1f} %",
        f"{report.params:,}",
        f"{ev.samples} PrivateTest faces",
    ]
    header = ["network", "unfrozen conv blocks", "test accuracy", "#params", "note"]
    files = {
        "table_3_4": write_text(
            folder / "table-3.4.md",
            "# Table 3.4: fine-tuning result (thesis rows, then this run)\n\n"
            + markdown_table(header, [*rows, measured])
            + f"\n{report.line()}\n",
        ),
        "table_3_5": write_text(
            folder / "table-3.5.md",
            "# Table 3.5: classification result per class (this run | the thesis' fine-tuned VGGFace)\n\n"
            + side_by_side_3_5(ev.classes),
        ),
    }
    report.files = {
        **{k: str(v) for k, v in files.items()},
        "figure_3_12": ev.files["confusion"],
        "report": ev.files["report"],
    }
    return report
