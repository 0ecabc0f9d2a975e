"""Keras and tf.data loaders over feature stores, reading batches lazily from HDF5.

Kept apart from :mod:`fer_edge.data.store` so the runtime (numpy/OpenCV/OpenVINO) never
imports Keras. Several store files (e.g. the training folds) can be read as one dataset.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from fer_edge.core.errors import FerEdgeError, require
from fer_edge.data.store import FeatureStore


def _stores(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> list[FeatureStore]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    stores = [FeatureStore(p) for p in paths]
    if not stores:
        raise FerEdgeError("no feature store given; pass one or more .h5 files")
    first = stores[0]
    for s in stores[1:]:
        if s.shape[1:] != first.shape[1:] or s.classes != first.classes:
            raise FerEdgeError(
                f"{s.path} has shape {s.shape[1:]} / classes {s.classes}, but {first.path} has "
                f"{first.shape[1:]} / {first.classes}; stores read together must match"
            )
    return stores


def __getattr__(name: str) -> Any:
    # StoreDataset subclasses keras.utils.PyDataset: Keras (and TensorFlow, seconds) loads when it
    # is first used, not when this module is imported (pytest imports every module for doctests).
    if name != "StoreDataset":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _dataset_class()


def _dataset_class() -> type:
    cls = globals().get("StoreDataset")
    if cls is None:
        keras = require("keras", "train", purpose="loading feature stores for training")
        cls = type(
            "StoreDataset",
            (_StoreBatches, keras.utils.PyDataset),
            {"__doc__": _StoreBatches.__doc__, "__module__": __name__},
        )
        globals()["StoreDataset"] = cls
    return cls


class _StoreBatches:
    """``StoreDataset``: batches ``(features, labels)`` (or ``((features, masks), labels)``) from store files.

    Args:
        paths: one store or several (e.g. folds 1-4 for training).
        batch_size: clips per batch.
        shuffle: reshuffle every epoch (seeded by ``seed`` and the epoch number).
        seed: shuffle seed.
        with_mask: also return the ``(B, T)`` mask; padded frames are zero either way, so a
            ``keras.layers.Masking`` layer can recover it.
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` for ``PyDataset``.

    Example:
        >>> ds = StoreDataset(["fold-1-features-512.h5", "fold-2-features-512.h5"],
        ...                   batch_size=16)                        # doctest: +SKIP
        >>> model.fit(ds, epochs=30)                                # doctest: +SKIP
    """

    def __init__(
        self,
        paths: str | os.PathLike | Sequence[str | os.PathLike],
        *,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        with_mask: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if batch_size <= 0:
            raise FerEdgeError(f"batch_size must be > 0, got {batch_size}")
        self.stores = _stores(paths)
        self.batch_size, self.shuffle, self.seed, self.with_mask = batch_size, shuffle, seed, with_mask
        self._rows = np.array(
            [(s, r) for s, st in enumerate(self.stores) for r in range(len(st))], dtype=np.int64
        ).reshape(-1, 2)
        self._epoch = 0
        self._order = self._make_order()

    @property
    def classes(self) -> list[str]:
        """Label names shared by the stores."""
        return self.stores[0].classes

    def _make_order(self) -> np.ndarray:
        order = np.arange(len(self._rows))
        if self.shuffle:
            np.random.default_rng([self.seed, self._epoch]).shuffle(order)
        return order

    def __len__(self) -> int:
        return int(np.ceil(len(self._rows) / self.batch_size))

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(index)
        rows = self._rows[self._order[index * self.batch_size : (index + 1) * self.batch_size]]
        xs, ms, ys = [None] * len(rows), [None] * len(rows), [None] * len(rows)
        for s in np.unique(rows[:, 0]):
            pick = np.flatnonzero(rows[:, 0] == s)
            x, m, y = self.stores[s].batch(rows[pick, 1])
            for j, p in enumerate(pick):
                xs[p], ms[p], ys[p] = x[j], m[j], y[j]
        x, m, y = np.stack(xs), np.stack(ms), np.stack(ys)
        return ((x, m), y) if self.with_mask else (x, y)

    def on_epoch_end(self) -> None:
        self._epoch += 1
        self._order = self._make_order()


def tf_dataset(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = 0,
    with_mask: bool = False,
):
    """A ``tf.data.Dataset`` reading clips lazily from the stores (for custom loops).

    Example:
        >>> ds = tf_dataset("fold-0-features-512.h5", batch_size=8)  # doctest: +SKIP
        >>> next(iter(ds))[0].shape                                    # doctest: +SKIP
        TensorShape([8, 100, 512])
    """
    tf = require("tensorflow", "train", purpose="building a tf.data pipeline")
    source = _dataset_class()(paths, batch_size=batch_size, shuffle=shuffle, seed=seed, with_mask=with_mask)
    _, t, f = source.stores[0].shape
    c = len(source.classes)
    x_spec = tf.TensorSpec((None, t, f), tf.float32)
    y_spec = tf.TensorSpec((None, c), tf.float32)
    spec = ((x_spec, tf.TensorSpec((None, t), tf.uint8)), y_spec) if with_mask else (x_spec, y_spec)

    def gen():
        for i in range(len(source)):
            yield source[i]
        source.on_epoch_end()  # each pass over the dataset is a new shuffle

    return tf.data.Dataset.from_generator(gen, output_signature=spec)
