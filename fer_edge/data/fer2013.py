"""Read FER2013: the Kaggle CSV or its image-folder variant, as 48x48 grayscale arrays.

* CSV (``fer2013.csv``): columns ``emotion`` (0-6, in :data:`fer_edge.core.labels.FER2013` order),
  ``pixels`` (2304 space-separated values) and ``Usage`` (``Training``, ``PublicTest``,
  ``PrivateTest``). Splits map to ``train``, ``val`` and ``test``.
* Folders: ``<root>/train/<class>/*.png`` and ``<root>/test/<class>/*.png`` (class names such
  as ``angry`` or ``surprised``; spellings go through :func:`fer_edge.core.labels.canonical`).

Rows or files that cannot be read are listed in :attr:`Fer2013.problems`, never dropped
silently. :func:`to_labels` maps to another label set (e.g. the thesis' 6 by dropping neutral).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_edge.core.errors import FerEdgeError
from fer_edge.core.labels import FER2013, canonical, mapping

SIDE = 48
USAGE = {"training": "train", "publictest": "val", "privatetest": "test"}
_FOLDER_SPLITS = {
    "train": "train",
    "training": "train",
    "val": "val",
    "validation": "val",
    "test": "test",
    "publictest": "val",
    "privatetest": "test",
}


@dataclass
class Fer2013:
    """Images and labels of FER2013 (or a subset).

    Attributes:
        images: ``(N, 48, 48)`` uint8 grayscale.
        labels: ``(N,)`` int indices into ``classes``.
        splits: ``(N,)`` ``"train"``, ``"val"`` or ``"test"``.
        classes: label names.
        problems: ``(where, reason)`` of rows or files that were not read.
    """

    images: np.ndarray
    labels: np.ndarray
    splits: np.ndarray
    classes: tuple[str, ...] = FER2013
    problems: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, split: str) -> Fer2013:
        """Only the rows of one split.

        Example:
            >>> data = Fer2013(np.zeros((2, 48, 48), np.uint8), np.array([0, 1]),
            ...                np.array(["train", "test"]))
            >>> len(data.subset("test"))
            1
        """
        keep = self.splits == split
        return Fer2013(self.images[keep], self.labels[keep], self.splits[keep], self.classes, [])

    def counts(self) -> dict[str, dict[str, int]]:
        """Samples per split and class (compare with the thesis' table 3.3)."""
        out: dict[str, dict[str, int]] = {}
        for split in sorted(set(self.splits.tolist())):
            sel = self.labels[self.splits == split]
            out[split] = {name: int((sel == i).sum()) for i, name in enumerate(self.classes)}
        return out


def read_csv(path: str | os.PathLike, *, limit: int | None = None) -> Fer2013:
    """Read the Kaggle ``fer2013.csv``.

    Args:
        path: the CSV file.
        limit: read at most this many rows (quick experiments).

    Raises:
        FerEdgeError: missing file or missing columns, or no readable row.

    Example:
        >>> data = read_csv("data/fer2013.csv")        # doctest: +SKIP
        >>> data.images.shape, data.counts()["val"]["happy"]  # doctest: +SKIP
        ((35887, 48, 48), 895)
    """
    path = Path(path)
    if not path.is_file():
        raise FerEdgeError(f"FER2013 CSV {path} does not exist; download fer2013.csv from Kaggle")
    images, labels, splits, problems = [], [], [], []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = {(h or "").strip().lower(): h for h in (reader.fieldnames or [])}
            missing = [c for c in ("emotion", "pixels") if c not in header]
            if missing:
                raise FerEdgeError(
                    f"{path} lacks column(s) {missing} (has {list(header)}); expected the Kaggle "
                    "fer2013.csv with emotion,pixels,Usage"
                )
            usage_col = header.get("usage")
            for line, row in enumerate(reader, start=2):
                if limit is not None and len(labels) >= limit:
                    break
                where = f"{path.name}:{line}"
                try:
                    label = int(row[header["emotion"]])
                    values = np.array(row[header["pixels"]].split(), dtype=np.int64)
                except (TypeError, ValueError, AttributeError, OverflowError):
                    problems.append((where, "emotion or pixels is not numeric"))
                    continue
                if not 0 <= label < len(FER2013):
                    problems.append((where, f"emotion {label} outside 0..{len(FER2013) - 1}"))
                    continue
                if values.size != SIDE * SIDE or values.min() < 0 or values.max() > 255:
                    problems.append((where, f"pixels has {values.size} values (need {SIDE * SIDE} in 0..255)"))
                    continue
                usage = (row.get(usage_col) or "Training").strip() if usage_col else "Training"
                split = USAGE.get(usage.lower())
                if split is None:
                    problems.append((where, f"unknown Usage '{usage}' (Training/PublicTest/PrivateTest)"))
                    continue
                images.append(values.astype(np.uint8).reshape(SIDE, SIDE))
                labels.append(label)
                splits.append(split)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FerEdgeError(
            f"{path} is not a readable FER2013 CSV ({exc}); use the Kaggle fer2013.csv (UTF-8, emotion,pixels,Usage)"
        ) from None
    if not labels:
        raise FerEdgeError(f"no readable row in {path} ({len(problems)} bad rows); is it fer2013.csv?")
    return Fer2013(np.stack(images), np.array(labels, np.int64), np.array(splits), FER2013, problems)


def read_folders(root: str | os.PathLike, *, classes: Sequence[str] = FER2013) -> Fer2013:
    """Read the image-folder variant ``<root>/{train,test}/<class>/*.png``.

    Images are converted to grayscale and resized to 48x48 when they are not already.

    Raises:
        FerEdgeError: missing root or no split folder / no image found.

    Example:
        >>> data = read_folders("data/fer2013")   # doctest: +SKIP
    """
    import cv2  # OpenCV is a core dependency; imported here to keep module import light

    root = Path(root)
    if not root.is_dir():
        raise FerEdgeError(f"FER2013 folder {root} does not exist; expected {root}/train/<class>/*.png")
    images, labels, splits, problems = [], [], [], []
    split_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    for split_dir in split_dirs:
        split = _FOLDER_SPLITS.get(split_dir.name.lower())
        if split is None:
            problems.append((str(split_dir), "not a split folder (train/val/test)"))
            continue
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            label = canonical(class_dir.name)
            if label is None or label not in classes:
                problems.append((str(class_dir), f"class '{class_dir.name}' not in {list(classes)}"))
                continue
            for file in sorted(class_dir.iterdir()):
                if file.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp"):
                    continue
                img = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
                if img is None:
                    problems.append((str(file), "unreadable image"))
                    continue
                if img.shape != (SIDE, SIDE):
                    img = cv2.resize(img, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
                images.append(img)
                labels.append(list(classes).index(label))
                splits.append(split)
    if not labels:
        raise FerEdgeError(f"no FER2013 images under {root}; expected {root}/train/<class>/*.png")
    return Fer2013(np.stack(images), np.array(labels, np.int64), np.array(splits), tuple(classes), problems)


def load(path: str | os.PathLike, **kwargs) -> Fer2013:
    """Read either layout: a ``.csv`` file or a folder.

    Example:
        >>> load("data/fer2013.csv", limit=100)   # doctest: +SKIP
    """
    path = Path(path)
    if path.is_dir():
        return read_folders(path, **kwargs)
    return read_csv(path, **kwargs)


def to_labels(data: Fer2013, classes: Sequence[str]) -> Fer2013:
    """Map to another label set, dropping samples whose class it lacks.

    Example:
        >>> from fer_edge.core.labels import THESIS
        >>> d = Fer2013(np.zeros((3, 48, 48), np.uint8), np.array([3, 6, 5]),
        ...             np.array(["train"] * 3))
        >>> to_labels(d, THESIS).labels.tolist()
        [3, 5]
    """
    table = mapping(data.classes, classes)
    keep = np.array([int(i) in table for i in data.labels], dtype=bool)
    new = np.array([table[int(i)] for i in data.labels[keep]], dtype=np.int64)
    return Fer2013(data.images[keep], new, data.splits[keep], tuple(classes), list(data.problems))


def stratified_holdout(labels: np.ndarray, fraction: float, *, seed: int) -> np.ndarray:
    """A seeded, class-stratified validation mask over ``labels`` (FER2013 records no subjects, so
    a subject-disjoint split is impossible); every class with 2+ samples gives at least one.

    Example:
        >>> int(stratified_holdout(np.array([0, 0, 0, 0, 1, 1]), 0.5, seed=0).sum())
        3
    """
    labels = np.asarray(labels)
    mask = np.zeros(labels.shape[0], bool)
    rng = np.random.default_rng(seed)
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        if len(idx) < 2:
            continue  # a lone sample stays in training
        take = min(len(idx) - 1, max(1, round(len(idx) * fraction)))
        mask[rng.permutation(idx)[:take]] = True
    return mask
