"""What cross-validation trains: a temporal head on stored features, or a clip model on clips.

Both expose ``num_folds``, ``seed``, ``build()`` (a compiled model) and
``train_data(exclude=i)`` / ``val_data(i)`` (Keras ``PyDataset`` s that read lazily: features
clip by clip from HDF5, raw clips batch by batch from the PNG folders, so memory stays bounded
whatever the dataset size).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.errors import FerEdgeError, require

keras = require("keras", "train", purpose="training")


class _FloatMask(keras.utils.PyDataset):
    """((features, mask uint8), y) -> ((features, mask float32), y): the heads' input dtypes."""

    def __init__(self, source) -> None:
        super().__init__()
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i):
        (x, m), y = self.source[i]
        return (x, m.astype(np.float32)), y

    def on_epoch_end(self) -> None:
        self.source.on_epoch_end()


class TemporalTask:
    """A temporal head trained on the feature stores of :func:`fer_edge.train.features.extract_features`.

    Example:
        >>> task = TemporalTask(recipe, "runs/x/features", features=256, folds=5,
        ...                     extractor="test_spatial_flatten-3f2a...")  # doctest: +SKIP
        >>> model = task.build()  # doctest: +SKIP
    """

    def __init__(
        self, recipe, features_dir: str | Path, *, features: int, folds: int, extractor: str | None = None
    ) -> None:
        from fer_edge.data.store import read_store
        from fer_edge.train.features import check_store, store_name

        self.cfg = recipe.temporal
        self.seed = recipe.seed
        self.labels = recipe.label_names
        self.length = recipe.data.length
        self.features = int(features)
        self.num_folds = int(folds)
        self.dir = Path(features_dir)
        self._paths: dict[tuple[int, bool], Path] = {}
        for i in range(folds):
            for aug in (False, True) if self.cfg.augmented and recipe.extract.augment else (False,):
                path = self.dir / store_name(f"fold-{i}", self.features, augmented=aug)
                store = read_store(path)
                check_store(store, extractor=extractor, layer=recipe.extract.layer, labels=self.labels)
                if store.shape[1] != self.length:
                    raise FerEdgeError(
                        f"{path} has T={store.shape[1]}, the recipe data.length={self.length}; extract again"
                    )
                store.close()
                self._paths[(i, aug)] = path

    def store_path(self, fold: int, *, augmented: bool = False) -> Path:
        """The store of fold ``fold`` (originals, or their offline copies)."""
        return self._paths[(fold, augmented)]

    def build(self) -> Any:
        from fer_edge.models import create_model
        from fer_edge.train.kerasutil import optimizer

        model = create_model(
            self.cfg.model,
            timesteps=self.length,
            features=self.features,
            num_classes=len(self.labels),
            **self.cfg.options,
        )
        model.compile(
            optimizer=optimizer("adam", self.cfg.learning_rate), loss="categorical_crossentropy", metrics=["accuracy"]
        )
        return model

    def _dataset(self, paths, shuffle: bool):
        from fer_edge.data.store_keras import StoreDataset

        return _FloatMask(
            StoreDataset(
                [str(p) for p in paths], batch_size=self.cfg.batch_size, shuffle=shuffle, seed=self.seed, with_mask=True
            )
        )

    def train_data(self, exclude: int | None):
        """Folds other than ``exclude`` (all when None), with their offline copies."""
        paths = [p for (i, _), p in sorted(self._paths.items()) if i != exclude]
        return self._dataset(paths, shuffle=True)

    def val_data(self, fold: int):
        return self._dataset([self._paths[(fold, False)]], shuffle=False)


class ClipBatches(keras.utils.PyDataset):
    """Raw clips ``(B, T, S, S, 3)`` RGB 0..255, zero-padded to T, loaded batch by batch.

    Online augmentation (the thesis' ``ImageDataGenerator`` ranges) draws one transform per
    clip and epoch from ``(seed, epoch, index)``, applied identically to every frame.
    """

    def __init__(
        self,
        data,
        records: list[dict],
        *,
        size: int,
        length: int,
        batch_size: int,
        shuffle: bool,
        augment: bool,
        seed: int,
        trimmed: bool = True,
    ) -> None:
        super().__init__()
        from fer_edge.data.augment import OnlineAugmenter

        if not records:
            raise FerEdgeError("no clips for this part of the split; check the split and the data")
        self.data, self.records = data, records
        self.size, self.length, self.batch_size = size, length, batch_size
        self.shuffle, self.seed, self.trimmed = shuffle, seed, trimmed
        self.aug = OnlineAugmenter(seed=seed) if augment else None
        self.epoch = 0
        self.order = self._order()

    def _order(self) -> np.ndarray:
        order = np.arange(len(self.records))
        if self.shuffle:
            np.random.default_rng([self.seed, self.epoch]).shuffle(order)
        return order

    def __len__(self) -> int:
        return int(np.ceil(len(self.records) / self.batch_size))

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        x = np.zeros((len(idx), self.length, self.size, self.size, 3), np.float32)
        y = np.zeros((len(idx), len(self.data.labels)), np.float32)
        for row, j in enumerate(idx):
            record = self.records[j]
            clip = self.data.load(record, size=self.size, trimmed=self.trimmed)[: self.length]
            if self.aug is not None:
                clip = self.aug(clip, index=int(j), epoch=self.epoch)
            x[row, : len(clip)] = clip
            y[row, self.data.label_index(record)] = 1
        return x, y

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._order()


class ClipTask:
    """A clip model (C3D / ConvLSTM) on raw clips of a :class:`~fer_edge.data.clipset.ClipSet`."""

    def __init__(self, recipe, data) -> None:
        self.cfg = recipe.clip
        self.seed = recipe.seed
        self.data = data
        self.length = recipe.data.length
        self.trimmed = recipe.data.trimmed
        self.num_folds = data.num_folds

    def build(self) -> Any:
        from fer_edge.models import create_model
        from fer_edge.train.kerasutil import optimizer

        shape = (self.length, self.cfg.size, self.cfg.size, 3)
        model = create_model(self.cfg.model, input_shape=shape, num_classes=len(self.data.labels), **self.cfg.options)
        model.compile(
            optimizer=optimizer("adam", self.cfg.learning_rate), loss="categorical_crossentropy", metrics=["accuracy"]
        )
        return model

    def _batches(self, records, *, train: bool) -> ClipBatches:
        return ClipBatches(
            self.data,
            records,
            size=self.cfg.size,
            length=self.length,
            batch_size=self.cfg.batch_size,
            shuffle=train,
            augment=train and self.cfg.online_augmentation,
            seed=self.seed,
            trimmed=self.trimmed,
        )

    def train_data(self, exclude: int | None) -> ClipBatches:
        part = "train" if exclude is None else f"train-{exclude}"
        return self._batches(self.data.part(part), train=True)

    def val_data(self, fold: int) -> ClipBatches:
        return self._batches(self.data.part(f"fold-{fold}"), train=False)
