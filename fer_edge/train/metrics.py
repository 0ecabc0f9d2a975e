"""Evaluation of class scores: accuracy, per-class precision/recall/F1, confusion matrices,
the error-analysis table (figure 3.29) and a comparison against a reference accuracy.

Works on :class:`Predictions` (clip names, true labels, every class score), whoever produced
them: a bundle run over a data part (:mod:`fer_edge.train.predict`), a fusion of several
(:mod:`fer_edge.train.fusion`) or a ``predictions.csv`` written earlier. numpy + matplotlib.

Outputs in the evaluation folder::

    predictions.csv              name, true label, predicted label, one score column per class
    metrics.json                 accuracy, per-class metrics, confusion, reference
    confusion.png                counts (figure 3.12)
    confusion_normalized.png     rows normalised to recall (figure 3.28)
    errors.csv / errors.md       every misclassified clip with all class scores (figure 3.29)
    report.md                    the above as one Markdown page
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fer_edge.core.atomic import open_atomic, write_text
from fer_edge.core.errors import FerEdgeError, shorten
from fer_edge.core.fileio import file_in, read_csv
from fer_edge.core.outputs import mark

MAX_PLOT_CLASSES = 40
"""Confusion plots of more classes draw the colours only (no tick or cell labels)."""


@dataclass
class Predictions:
    """Scores of clips: ``scores[i, c]`` for clip ``names[i]`` whose true class is ``y_true[i]``."""

    names: list[str]
    labels: tuple[str, ...]
    y_true: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        self.y_true = np.asarray(self.y_true, np.int64)
        self.scores = np.asarray(self.scores, np.float64)
        n = len(self.names)
        if self.scores.shape != (n, len(self.labels)) or self.y_true.shape != (n,):
            raise FerEdgeError(
                f"predictions need {n} names, ({n}, {len(self.labels)}) scores and {n} labels; "
                f"got scores {self.scores.shape}, labels {self.y_true.shape}"
            )

    @property
    def y_pred(self) -> np.ndarray:
        """Arg-max class; ties go to the first-listed class, as in the thesis."""
        return self.scores.argmax(axis=1)

    def save_csv(self, path: str | os.PathLike) -> Path:
        """Write ``name,true,predicted,<label>...`` atomically."""
        path = Path(path)
        with open_atomic(path, newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["name", "true", "predicted", *self.labels])
            for name, t, p, row in zip(self.names, self.y_true, self.y_pred, self.scores):
                w.writerow([name, self.labels[t], self.labels[p], *(f"{v:.6f}" for v in row)])
        return path


def load_predictions(path: str | os.PathLike) -> Predictions:
    """Read a ``predictions.csv`` written by :meth:`Predictions.save_csv`.

    Example:
        >>> p = load_predictions("runs/x/evaluation/predictions.csv")  # doctest: +SKIP
    """
    path = file_in(path, "predictions.csv", "predictions file {path} does not exist; run fer-edge evaluate first")
    rows = read_csv(path, "predictions file")
    if not rows or rows[0][:3] != ["name", "true", "predicted"] or len(rows[0]) < 5:
        raise FerEdgeError(f"{path} is not a fer-edge predictions file (header name,true,predicted,<labels>)")
    labels = tuple(rows[0][3:])
    if len(set(labels)) != len(labels) or len(labels) > 1000:
        raise FerEdgeError(f"{path}: the header's labels must be distinct and at most 1000; rewrite it")
    for number, row in enumerate(rows[1:], start=2):
        _check_row(path, number, row, labels)
    names = [r[0] for r in rows[1:]]
    y = [labels.index(r[1]) for r in rows[1:]]
    scores = np.array([[float(v) for v in r[3:]] for r in rows[1:]], np.float64).reshape(-1, len(labels))
    return Predictions(names, labels, np.asarray(y), scores)


def _check_row(path: Path, number: int, row: list[str], labels: tuple[str, ...]) -> None:
    """One line naming the file, the line and the column of a predictions row that cannot be used."""
    where = f"predictions file {path} line {number}"
    if len(row) != 3 + len(labels):
        raise FerEdgeError(f"{where} has {len(row)} cells, the header {3 + len(labels)}; rewrite it")
    for column, cell in (("true", row[1]), ("predicted", row[2])):
        if cell not in labels:
            raise FerEdgeError(f"{where}: '{column}' is {shorten(repr(cell), 40)}, not one of the header's labels")
    for label, cell in zip(labels, row[3:]):
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            got = shorten(repr(cell), 40)
            raise FerEdgeError(f"{where}: score '{shorten(label, 40)}' must be a finite number, got {got}")


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """``m[t, p]`` = clips of true class ``t`` predicted as ``p``.

    Example:
        >>> confusion_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]), 2).tolist()
        [[1, 1], [0, 1]]
    """
    m = np.zeros((classes, classes), np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def per_class(m: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined).

    Example:
        >>> {k: v.tolist() for k, v in per_class(np.array([[1, 1], [0, 2]])).items()}["recall"]
        [0.5, 1.0]
    """
    tp = np.diag(m).astype(np.float64)
    pred, true = m.sum(0), m.sum(1)
    precision = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    recall = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": true}


@dataclass
class EvalReport:
    """Metrics of one evaluation and where its files are."""

    accuracy: float
    samples: int
    labels: tuple[str, ...]
    classes: dict[str, dict[str, float]]
    confusion: list[list[int]]
    reference: float | None = None
    title: str = ""
    files: dict[str, str] = field(default_factory=dict)

    @property
    def macro_f1(self) -> float:
        return float(np.mean([c["f1"] for c in self.classes.values()]))

    def comparison(self) -> str:
        """One line against the reference accuracy (default: the thesis' human ground truth, table 3.6)."""
        if self.reference is None:
            return ""
        diff = 100 * (self.accuracy - self.reference)
        word = "above" if diff >= 0 else "below"
        return (
            f"accuracy {100 * self.accuracy:.1f} % is {abs(diff):.1f} points {word} the reference "
            f"{100 * self.reference:.1f} %"
        )

    def describe(self) -> str:
        lines = [
            f"{self.title or 'evaluation'}: accuracy {100 * self.accuracy:.1f} % on {self.samples} clips, "
            f"macro F1 {self.macro_f1:.3f}"
        ]
        if self.reference is not None:
            lines.append("  " + self.comparison())
        lines += [f"  {k}: {v}" for k, v in self.files.items()]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["labels"] = list(self.labels)
        d["macro_f1"] = self.macro_f1
        d["comparison"] = self.comparison()
        return d


def metrics(pred: Predictions, *, reference: float | None = None, title: str = "") -> EvalReport:
    """Compute the metrics of ``pred`` (no files).

    Example:
        >>> p = Predictions(["a", "b"], ("x", "y"), np.array([0, 1]), np.array([[.9, .1], [.6, .4]]))
        >>> metrics(p).accuracy
        0.5
    """
    if not len(pred.names):
        raise FerEdgeError("nothing to evaluate: the data part has no clips")
    m = confusion_matrix(pred.y_true, pred.y_pred, len(pred.labels))
    pc = per_class(m)
    classes = {label: {k: float(pc[k][i]) for k in pc} for i, label in enumerate(pred.labels)}
    acc = float((pred.y_true == pred.y_pred).mean())
    return EvalReport(acc, len(pred.names), pred.labels, classes, m.tolist(), reference, title)


def _plot_confusion(m: np.ndarray, labels, path: Path, *, normalized: bool, title: str) -> Path:
    from fer_edge.core.plots import pyplot, save_figure

    plt = pyplot()
    data = m.astype(np.float64)
    if normalized:
        rows = data.sum(1, keepdims=True)
        data = np.divide(data, rows, out=np.zeros_like(data), where=rows > 0)
    n = len(labels)
    # Draw what stays readable: a 600-class matrix would be 360k cell texts and a 600-inch figure.
    big = n > MAX_PLOT_CLASSES
    fig, ax = plt.subplots(figsize=(12, 11) if big else (1.1 * n + 2.5, 1.0 * n + 2))
    im = ax.imshow(data, cmap="Blues", vmin=0, vmax=1 if normalized else max(1, data.max()))
    if not big:
        ax.set_xticks(range(n), labels, rotation=45, ha="right")
        ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title + (" (normalized)" if normalized else ""))
    for i in range(0 if big else n):
        for j in range(n):
            text = f"{data[i, j]:.2f}" if normalized else f"{int(data[i, j])}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                color="white" if data[i, j] > 0.6 * (1 if normalized else data.max()) else "black",
            )
    fig.colorbar(im, ax=ax, fraction=0.046)
    return save_figure(fig, path)


def _write_text(path: Path, text: str) -> Path:
    return write_text(path, text)


def error_rows(pred: Predictions) -> list[list[str]]:
    """Misclassified clips: name, true, predicted, every class score (2 decimals)."""
    wrong = np.flatnonzero(pred.y_true != pred.y_pred)
    return [
        [pred.names[i], pred.labels[pred.y_true[i]], pred.labels[pred.y_pred[i]], *(f"{v:.2f}" for v in pred.scores[i])]
        for i in wrong
    ]


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def evaluate_predictions(
    pred: Predictions,
    out: str | os.PathLike,
    *,
    reference: float | None = 0.678,
    title: str = "",
) -> EvalReport:
    """Write every evaluation output for ``pred`` into ``out`` and return the report.

    Args:
        pred: the scores to evaluate.
        out: evaluation folder (created).
        reference: accuracy to compare against (default: 67.8 %, the thesis' human ground truth: the mean
            of the six per-emotion median accuracies of its annotators, section 3.3.1);
            ``None`` for no comparison.
        title: name shown in plots and the report.

    Example:
        >>> report = evaluate_predictions(pred, "runs/x/evaluation")  # doctest: +SKIP
        >>> report.files["errors_md"]  # doctest: +SKIP
        'runs/x/evaluation/errors.md'
    """
    out = mark(out)  # a run folder: a rerun may replace what this one writes
    report = metrics(pred, reference=reference, title=title)
    m = np.asarray(report.confusion)
    files = {
        "predictions": pred.save_csv(out / "predictions.csv"),
        "confusion": _plot_confusion(m, pred.labels, out / "confusion.png", normalized=False, title=title),
        "confusion_normalized": _plot_confusion(
            m, pred.labels, out / "confusion_normalized.png", normalized=True, title=title
        ),
    }
    header = ["name", "true", "predicted", *pred.labels]
    rows = error_rows(pred)
    with open_atomic(out / "errors.csv", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    files["errors_csv"] = out / "errors.csv"
    files["errors_md"] = _write_text(
        out / "errors.md",
        f"# Misclassified clips ({len(rows)} of {report.samples})\n\n" + _markdown_table(header, rows),
    )
    class_rows = [
        [label, f"{c['precision']:.2f}", f"{c['recall']:.2f}", f"{c['f1']:.2f}", str(int(c["support"]))]
        for label, c in report.classes.items()
    ]
    page = (
        f"# {title or 'Evaluation'}\n\naccuracy **{100 * report.accuracy:.2f} %** on {report.samples} clips, "
        f"macro F1 {report.macro_f1:.3f}\n\n"
        + (report.comparison() + "\n\n" if reference is not None else "")
        + _markdown_table(["class", "precision", "recall", "f1", "samples"], class_rows)
        + "\n![confusion](confusion.png) ![normalized](confusion_normalized.png)\n\n"
        + "## Misclassified clips\n\n"
        + _markdown_table(header, rows)
    )
    files["report"] = _write_text(out / "report.md", page)
    report.files = {k: str(v) for k, v in files.items()}
    files["metrics"] = _write_text(out / "metrics.json", json.dumps(report.as_dict(), indent=1) + "\n")
    report.files["metrics"] = str(files["metrics"])
    return report
