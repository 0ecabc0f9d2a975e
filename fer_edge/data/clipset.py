"""A preprocessed folder's usable clips, their labels and the subject split (:class:`ClipSet`).

Training makes one from a recipe (:func:`fer_edge.train.data.prepare_data`); evaluation and
optimization make one from what a bundle's provenance records (:func:`data_from_bundle`).
numpy/OpenCV only: no TensorFlow here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_edge.core.errors import FerEdgeError


@dataclass
class ClipSet:
    """Usable clips of a preprocessed folder, their label set and the split.

    Made by :func:`fer_edge.train.data.prepare_data` for a recipe, or by :func:`data_from_bundle`
    for the data a bundle records.

    Example:
        >>> data = prepare_data(load_recipe("train/synthetic.yaml"))  # doctest: +SKIP
        >>> len(data.part("test")), data.num_folds                    # doctest: +SKIP
        (18, 5)
    """

    root: Path
    records: list[dict]
    labels: tuple[str, ...]
    split: dict

    @property
    def num_folds(self) -> int:
        return len(self.split["folds"])

    def subjects(self, part: str) -> list[str]:
        """Subject ids of a part (``test``, ``fold-<i>``, ``train-<i>``, ``train``)."""
        folds = self.split["folds"]
        if part == "test":
            return list(self.split.get("test") or [])
        if part == "train":
            return [s for f in folds for s in f]
        match = re.fullmatch(r"(fold|train)-(\d+)", part)
        if not match or int(match.group(2)) >= len(folds):
            raise FerEdgeError(
                f"unknown data part '{part}'; use test, train, fold-<i> or train-<i> with i in 0..{len(folds) - 1}"
            )
        i = int(match.group(2))
        if match.group(1) == "fold":
            return list(folds[i])
        return [s for j, f in enumerate(folds) if j != i for s in f]

    def part(self, part: str) -> list[dict]:
        """Records of the clips of a part, in dataset order."""
        keep = set(self.subjects(part))
        return [r for r in self.records if r["subject"] in keep]

    def label_index(self, record: dict) -> int:
        return self.labels.index(record["emotion"])

    def load(self, record: dict, *, size: int | None = None, trimmed: bool = True) -> np.ndarray:
        """A clip as RGB uint8 ``(T, size, size, 3)`` (the models' colour order)."""
        from fer_edge.data.preprocess import load_clip

        clip = load_clip(self.root, record, trimmed=trimmed)[..., ::-1]
        return resize_clip(clip, size)


def resize_clip(clip: np.ndarray, size: int | None) -> np.ndarray:
    """Resize every frame to ``size x size`` (area interpolation, as the runtime does)."""
    import cv2

    if size is None or clip.shape[1:3] == (size, size):
        return np.ascontiguousarray(clip)
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in clip])


def data_provenance(data, *, length: int, trimmed: bool) -> dict:
    """What a bundle records about its data, so it can be evaluated later."""
    return {
        "preprocessed": str(Path(data.root).resolve()),
        "split": data.split,
        "labels": list(data.labels),
        "length": int(length),
        "trimmed": bool(trimmed),
    }


def data_from_bundle(
    bundle, *, preprocessed: str | os.PathLike | None = None, split_file: str | os.PathLike | None = None
):
    """A :class:`ClipSet` for the data recorded in ``bundle``'s provenance (``fer-edge evaluate``
    and ``optimize`` read the data a bundle was trained on)."""
    from fer_edge.data.preprocess import read_index
    from fer_edge.data.splits import check_split, read_split

    info = bundle.provenance.get("data") if isinstance(bundle.provenance.get("data"), dict) else {}
    root = preprocessed or info.get("preprocessed")
    if not root:
        raise FerEdgeError(
            f"bundle {bundle.path} does not record its data; pass --data PREPROCESSED and --split-file SPLIT.json"
        )
    split = info.get("split")
    if split_file:
        split = read_split(split_file)
    if not split:
        raise FerEdgeError(f"bundle {bundle.path} records no split; pass --split-file SPLIT.json")
    if not split_file:
        check_split(split, f"bundle {bundle.path} (provenance.data.split)")
    labels = tuple(bundle.labels)
    records = [r for r in read_index(root) if r.get("status") == "ok" and r["emotion"] in labels]
    return ClipSet(Path(root), records, labels, split)
