"""The thesis' own numbers (tables 3.4 to 3.7) and the side-by-side tables runs print."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = [
    "TABLE_3_4",
    "TABLE_3_5",
    "TABLE_3_6",
    "TABLE_3_7",
    "TABLE_3_7_MEMBERS",
    "markdown_table",
    "measured",
    "side_by_side_3_5",
    "side_by_side_3_7",
    "thesis_tables",
]

# Table 3.4 (section 3.2.4), FER2013 PrivateTest accuracy after fine-tuning with the last 2
# convolution blocks unfrozen. DenseNet201 has no row: "no reasonable result was recorded".
TABLE_3_4: dict[str, dict] = {
    "VGG16": {"unfrozen": 2, "accuracy": 0.65, "params": 38_677_511, "note": "-"},
    "ResNet50": {"unfrozen": 2, "accuracy": 0.63, "params": 24_189_959, "note": "strongly overfitted"},
    "VGGFace": {"unfrozen": 2, "accuracy": 0.69, "params": 39_727_111, "note": "-"},
    "DenseNet201": {
        "unfrozen": 2,
        "accuracy": None,
        "params": None,
        "note": "no row in table 3.4: 'no reasonable result was recorded with DenseNet201'",
    },
}

# Table 3.5: the fine-tuned VGGFace per class on PrivateTest (precision, recall, F1, samples).
TABLE_3_5: dict[str, tuple[float, float, float, int]] = {
    "angry": (0.63, 0.61, 0.62, 491),
    "disgust": (0.68, 0.69, 0.68, 55),
    "fear": (0.53, 0.51, 0.52, 528),
    "happy": (0.83, 0.91, 0.87, 879),
    "neutral": (0.69, 0.66, 0.67, 626),
    "sad": (0.54, 0.51, 0.53, 594),
    "surprise": (0.79, 0.81, 0.80, 416),
}

# Table 3.6 (section 3.3.2), test accuracy on the 120 test videos.
TABLE_3_6 = {
    "VGGFace + LSTM": 0.625,
    "VGGFace + BiLSTM": 0.625,
    "VGGFace + 1D-CNN": 0.65,
    "C3D": 0.50,
    "ConvLSTM": 0.442,
    "Human ground truth": 0.678,
}

# Table 3.7 (section 3.3.2): test accuracy of late fusion, per subset and method.
TABLE_3_7: dict[str, dict[str, float]] = {
    "LSTM + BiLSTM": {"average": 0.6333, "weighted": 0.6333, "max": 0.625},
    "LSTM + BiLSTM + 1D-CNN": {"average": 0.6333, "weighted": 0.6333, "max": 0.625},
    "C3D + ConvLSTM": {"average": 0.475, "weighted": 0.4667, "max": 0.4833},
    "1D-CNN + C3D": {"average": 0.625, "weighted": 0.6583, "max": 0.6333},
    "All": {"average": 0.6333, "weighted": 0.6417, "max": 0.625},
}
# The table 3.6 rows each subset fuses.
TABLE_3_7_MEMBERS: dict[str, tuple[str, ...]] = {
    "LSTM + BiLSTM": ("VGGFace + LSTM", "VGGFace + BiLSTM"),
    "LSTM + BiLSTM + 1D-CNN": ("VGGFace + LSTM", "VGGFace + BiLSTM", "VGGFace + 1D-CNN"),
    "C3D + ConvLSTM": ("C3D", "ConvLSTM"),
    "1D-CNN + C3D": ("VGGFace + 1D-CNN", "C3D"),
    "All": ("VGGFace + LSTM", "VGGFace + BiLSTM", "VGGFace + 1D-CNN", "C3D", "ConvLSTM"),
}


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table.

    Example:
        >>> print(markdown_table(["a", "b"], [[1, 2]]), end="")
        | a | b |
        |---|---|
        | 1 | 2 |
    """
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def side_by_side_3_5(classes: Mapping[str, Mapping[str, float]]) -> str:
    """Table 3.5: measured precision/recall/F1/samples per class next to the thesis' VGGFace values.

    Example:
        >>> print(side_by_side_3_5({"happy": {"precision": .8, "recall": .9, "f1": .85, "support": 10}}), end="")
        | class | precision | recall | f1 | samples | thesis precision | thesis recall | thesis f1 | thesis samples |
        |---|---|---|---|---|---|---|---|---|
        | happy | 0.80 | 0.90 | 0.85 | 10 | 0.83 | 0.91 | 0.87 | 879 |
    """
    rows = []
    for label, c in classes.items():
        thesis = TABLE_3_5.get(label)
        ours = [f"{c['precision']:.2f}", f"{c['recall']:.2f}", f"{c['f1']:.2f}", str(int(c["support"]))]
        theirs = [f"{v:.2f}" for v in thesis[:3]] + [str(thesis[3])] if thesis else ["-"] * 4
        rows.append([label, *ours, *theirs])
    header = ["class", "precision", "recall", "f1", "samples"]
    return markdown_table(header + [f"thesis {h}" for h in header[1:]], rows)


def side_by_side_3_7(measured: Mapping[str, Mapping[str, float]]) -> str:
    """Table 3.7 with each measured accuracy next to the thesis' (``thesis / measured``).

    Example:
        >>> print(side_by_side_3_7({"All": {"average": 0.6}}).splitlines()[-1])
        | All | 63.3 % / 60.0 % | 64.2 % / - | 62.5 % / - |
    """
    methods = ("average", "weighted", "max")
    rows = []
    for subset, thesis in TABLE_3_7.items():
        got = measured.get(subset, {})
        rows.append([subset, *(f"{_pct(thesis[m])} / {_pct(got.get(m))}" for m in methods)])
    return markdown_table(["subset (thesis / measured)", *methods], rows)


def _schemas() -> dict[str, object]:
    """What :func:`measured` reads of each run file (other keys are not looked at)."""
    from fer_edge.core.fileio import Num, Obj

    row = {"row": (None, str)}
    thesis = (None, Obj(optional={"thesis": (None, Obj(optional=row))}))
    metrics = (None, Obj(optional={"test_accuracy": (None, Num(0, 1))}))
    return {
        "manifest": Obj(optional={"provenance": (None, Obj(optional={"recipe": thesis, "metrics": metrics}))}),
        "fusion": Obj(optional={"subset": (None, str), "accuracy": (None, Obj(values=Num(0, 1)))}),
        "metrics": Obj(optional={"accuracy": Num(0, 1)}),
        "recipe": thesis,
    }


def _json(path: Path, kind: str) -> dict:
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.core.fileio import check_schema, read_json

    if not path.is_file():
        return {}
    try:
        return check_schema(read_json(path, "run file", expect=dict), _schemas()[kind], f"run file {path}")
    except FerEdgeError as exc:  # a broken file in a run folder is reported as "-", not fatal: said, not hidden
        log.warning("%s; its table cell shows '-'", str(exc).removesuffix("; fix the file"))
        return {}


def measured(runs: str | os.PathLike) -> dict[str, dict]:
    """What the run folders under ``runs`` measured, keyed by thesis table and row.

    Table 3.4 from ``<run>/recipe.yaml``'s ``thesis.row`` and ``<run>/evaluation/metrics.json``;
    table 3.6 from ``<run>/bundle/manifest.json`` (its recipe's row, its test accuracy); table 3.7
    from ``<run>/fusion.json`` (written by ``fer-edge fuse``).
    """
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.core.fileio import check_schema, read_yaml

    root = Path(runs)
    if not root.is_dir():
        raise FerEdgeError(f"{root} is not a folder of runs; pass the folder holding runs/<recipe>/ (e.g. runs)")
    out: dict[str, dict] = {"3.4": {}, "3.6": {}, "3.7": {}}
    for run in sorted(p for p in root.iterdir() if p.is_dir()):
        manifest = _json(run / "bundle" / "manifest.json", "manifest")
        prov = manifest.get("provenance") or {}
        row = ((prov.get("recipe") or {}).get("thesis") or {}).get("row")
        acc = (prov.get("metrics") or {}).get("test_accuracy")
        if row in TABLE_3_6 and acc is not None:
            out["3.6"][row] = float(acc)
        fusion = _json(run / "fusion.json", "fusion")
        if fusion.get("subset") in TABLE_3_7:
            out["3.7"][fusion["subset"]] = {k: float(v) for k, v in (fusion.get("accuracy") or {}).items()}
        if (run / "recipe.yaml").is_file() and (run / "evaluation" / "metrics.json").is_file():
            try:
                recipe = check_schema(
                    read_yaml(run / "recipe.yaml", "recipe"), _schemas()["recipe"], f"recipe {run / 'recipe.yaml'}"
                )
            except FerEdgeError as exc:  # as above
                log.warning("%s; its table cell shows '-'", str(exc).removesuffix("; fix the file"))
                continue
            row = ((recipe or {}).get("thesis") or {}).get("row")
            if row in TABLE_3_4:
                out["3.4"][row] = float(_json(run / "evaluation" / "metrics.json", "metrics").get("accuracy", "nan"))
    return out


def thesis_tables(runs: str | os.PathLike) -> str:
    """Tables 3.4, 3.6 and 3.7 as Markdown: the thesis' figure, then what ``runs`` measured ("-": not run)."""
    got = measured(runs)
    t34 = [[row, _pct(t["accuracy"]), _pct(got["3.4"].get(row))] for row, t in TABLE_3_4.items()]
    t36 = [[row, _pct(acc), _pct(got["3.6"].get(row))] for row, acc in TABLE_3_6.items()]
    return (
        "Table 3.4 (FER2013 PrivateTest)\n\n"
        + markdown_table(["network", "thesis", "measured"], t34)
        + "\nTable 3.6 (test videos)\n\n"
        + markdown_table(["model", "thesis", "measured"], t36)
        + "\nTable 3.7 (fusion, test videos)\n\n"
        + side_by_side_3_7(got["3.7"])
    )
