"""Small FER2013-format sets (the Kaggle CSV and the class-folder layout) whose classes a tiny CNN
can learn in seconds: each class is a bright block at its own place on a noisy grey face."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fer_edge.core.labels import FER2013

USAGE = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}


def faces(n: int, *, classes: int = 7, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 48x48 uint8 images and their labels (round robin over ``classes``)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.integers(40, 120, (n, 48, 48)).astype(np.uint8)
    for i, c in enumerate(y):
        r, col = divmod(int(c), 3)
        x[i, 4 + 14 * r : 16 + 14 * r, 4 + 14 * col : 16 + 14 * col] = 230
    return x, y


def write_csv(path: Path, splits: dict[str, int], *, seed: int = 0) -> Path:
    """A ``fer2013.csv`` with ``splits`` rows per split (``train``, ``val``, ``test``)."""
    rows = ["emotion,pixels,Usage"]
    for k, (split, n) in enumerate(splits.items()):
        x, y = faces(n, seed=seed + k)
        rows += [f"{c},{' '.join(map(str, im.ravel()))},{USAGE[split]}" for im, c in zip(x, y)]
    path.write_text("\n".join(rows) + "\n")
    return path


def write_folders(root: Path, splits: dict[str, int], *, seed: int = 0, names: dict[str, str] | None = None) -> Path:
    """``root/<split>/<class>/<i>.png`` (the folder variant; ``names`` renames classes, e.g. surprised)."""
    names = names or {}
    for k, (split, n) in enumerate(splits.items()):
        x, y = faces(n, seed=seed + k)
        for i, (im, c) in enumerate(zip(x, y)):
            folder = root / split / names.get(FER2013[c], FER2013[c])
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{i:04d}.png"), im)
    return root
