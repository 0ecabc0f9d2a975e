"""Small Keras helpers shared by the training stages: seeding, optimizers, callbacks, saving."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.atomic import commit, save_via
from fer_edge.core.errors import FerEdgeError, require


def seed_everything(seed: int) -> Any:
    """Seed Python, numpy and TensorFlow and ask for deterministic ops; returns ``keras``.

    Example:
        >>> keras = seed_everything(0)  # doctest: +SKIP
    """
    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # oneDNN reorders float sums run to run
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    keras = require("keras", "train", purpose="training")
    keras.utils.set_random_seed(int(seed))
    try:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    except (ImportError, AttributeError, RuntimeError):  # other backends / already configured
        pass
    return keras


def check_gpu(device: str) -> None:
    """``device`` ``"gpu"`` must find one; ``"cpu"`` hides GPUs; ``"auto"`` takes what is there."""
    device = str(device).strip().lower()  # CPU and cpu alike, as for OpenVINO devices
    if device not in ("auto", "cpu", "gpu"):
        raise FerEdgeError(f"unknown device '{device}'; use auto, cpu or gpu")
    if device == "auto":
        return
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise FerEdgeError(
            "a GPU was requested but TensorFlow sees none; install a CUDA build of "
            "TensorFlow (pip install 'tensorflow[and-cuda]') or use --device cpu"
        )
    if device == "cpu" and gpus:
        tf.config.set_visible_devices([], "GPU")


def optimizer(name: str, learning_rate: float) -> Any:
    """Adam (the thesis' choice for every temporal/clip model) or SGD (phase 1 of fine-tuning)."""
    import keras

    # Fixed names: Keras would number them by how many optimizers this process made before
    # ("adam_3"), so a resumed run would save different .keras files than an uninterrupted one.
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9, name="sgd")
    return keras.optimizers.Adam(learning_rate=learning_rate, name="adam")


def callbacks(
    folder: Path,
    *,
    monitor_val: bool = True,
    checkpoint: bool = True,
    early_stopping: int = 0,
    reduce_lr: tuple[float, int] | None = None,
    reduce_lr_on_train: bool = False,
    tensorboard: bool = True,
) -> list[Any]:
    """CSVLogger (always), TensorBoard, ModelCheckpoint of the best validation accuracy,
    optional EarlyStopping (restoring the best weights) and ReduceLROnPlateau."""
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    # A killed fit leaves its log and checkpoint under temporary names only (renamed when the
    # fit ends), so a half-finished run never looks finished; a rerun starts them afresh.
    out: list[Any] = [_csv_logger(folder / "log.csv")]
    if tensorboard and _has_tensorboard():
        shutil.rmtree(folder / "tensorboard", ignore_errors=True)  # event files of a killed fit
        out.append(keras.callbacks.TensorBoard(log_dir=str(folder / "tensorboard"), write_graph=False))
    if monitor_val and checkpoint:
        out.append(_best_checkpoint(folder / "best.keras", monitor="val_accuracy"))
    if monitor_val and early_stopping:
        out.append(
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", mode="max", patience=early_stopping, restore_best_weights=True
            )
        )
    if reduce_lr and (monitor_val or reduce_lr_on_train):
        factor, patience = reduce_lr
        # Without a validation set (the final fit) the plateau is watched on training accuracy.
        out.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_accuracy" if monitor_val else "accuracy", mode="max", factor=factor, patience=patience
            )
        )
    return out


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.stem}.partial{path.suffix}")  # keeps .keras / .csv last


def _csv_logger(path: Path) -> Any:
    """``CSVLogger`` into ``.log.partial.csv``, renamed to ``log.csv`` when the fit ends."""
    import keras

    class AtomicCSVLogger(keras.callbacks.CSVLogger):
        def on_train_end(self, logs=None):
            super().on_train_end(logs)
            commit(self.filename, path)

    return AtomicCSVLogger(str(_partial(path)))


def _best_checkpoint(path: Path, monitor: str) -> Any:
    """``ModelCheckpoint(save_best_only, mode="max")`` saved atomically under a partial name
    while the fit runs, renamed to ``path`` when it ends."""
    import keras

    partial = _partial(path)

    class BestCheckpoint(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.best = -float("inf")
            partial.unlink(missing_ok=True)

        def on_epoch_end(self, epoch, logs=None):
            current = (logs or {}).get(monitor)
            if current is not None and current > self.best:  # strictly better, as ModelCheckpoint
                self.best = current
                save_atomic(self.model, partial)

        def on_train_end(self, logs=None):
            if partial.exists():
                commit(partial, path)

    return BestCheckpoint()


def _has_tensorboard() -> bool:
    import importlib.util

    # The callback needs the tensorboard package (not part of TensorFlow's own wheel).
    return importlib.util.find_spec("tensorboard") is not None


def save_atomic(model: Any, path: str | os.PathLike) -> Path:
    """``model.save`` under a temporary name, renamed when complete."""
    return save_via(path, model.save, keep_suffix=True)


def set_trainable(model: Any, unfreeze: int) -> int:
    """Freeze the base except its last ``unfreeze`` blocks; the classifier always trains.

    Blocks are found by layer-name prefix (``block5_conv1`` -> block 5, ``conv5_block3_out``
    -> block 5); returns how many base layers train.

    Example:
        >>> set_trainable(create_model("test_spatial"), 1)  # doctest: +SKIP
        2
    """
    names = [layer.name for layer in model.layers]
    if "flatten" not in names:
        raise FerEdgeError(f"model '{model.name}' has no 'flatten' layer; use a registry spatial model")
    head_from = names.index("flatten")
    block_of = {}
    for layer in model.layers[:head_from]:
        match = re.match(r"(?:block|conv)(\d+)_", layer.name)
        if match:
            block_of[layer.name] = int(match.group(1))
    blocks = sorted(set(block_of.values()))
    keep = set(blocks[-unfreeze:]) if unfreeze > 0 else set()
    trained = 0
    for i, layer in enumerate(model.layers):
        if i >= head_from:
            layer.trainable = True
            continue
        layer.trainable = unfreeze == -1 or block_of.get(layer.name) in keep
        trained += layer.trainable and bool(layer.weights)
    return trained


class FrameBatches:
    """Keras ``PyDataset`` of frames with seeded online augmentation (built lazily: Keras).

    With ``size``, frames stored smaller (FER2013's 48 px faces) are resized per batch to the
    model's ``size x size``: 28,709 faces stay 200 MB instead of 4.3 GB at 224 px.
    """

    def __new__(cls, x, y, *, batch_size: int, augment: bool, seed: int, shuffle: bool = True, size: int | None = None):
        import keras

        from fer_edge.data.augment import OnlineAugmenter

        class FrameBatches(keras.utils.PyDataset):
            def __init__(self):
                super().__init__()
                self.epoch = 0
                self.aug = OnlineAugmenter(seed=seed) if augment else None
                self.order = self._order()

            def _order(self):
                order = np.arange(len(x))
                if shuffle:
                    np.random.default_rng([seed, self.epoch]).shuffle(order)
                return order

            def __len__(self):
                return int(np.ceil(len(x) / batch_size))

            def __getitem__(self, i):
                idx = self.order[i * batch_size : (i + 1) * batch_size]
                frames = x[idx]
                if size is not None and frames.shape[1:3] != (size, size):
                    import cv2

                    frames = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_LINEAR) for f in frames])
                if self.aug is not None:
                    frames = np.stack(
                        [self.aug(f[None], index=int(j), epoch=self.epoch)[0] for f, j in zip(frames, idx)]
                    )
                return frames.astype(np.float32), y[idx]

            def on_epoch_end(self):
                self.epoch += 1
                self.order = self._order()

        return FrameBatches()


def fit_verbosity(progress: bool, *, stream: Any = None) -> tuple[int, list[Any]]:
    """``(verbose, callbacks)`` for ``model.fit``: Keras' bar on a terminal, one plain log line per
    epoch otherwise (no ANSI colours or carriage returns in a log file), nothing when not ``progress``.

    Example:
        >>> verbose, extra = fit_verbosity(False)
        >>> verbose, extra
        (0, [])
    """
    import sys

    if not progress:
        return 0, []
    stream = sys.stdout if stream is None else stream
    if getattr(stream, "isatty", lambda: False)():
        return 1, []
    return 0, [_epoch_logger()]


def _epoch_logger() -> Any:
    """A callback logging ``epoch 3/20: loss 0.912, accuracy 0.671, ... (14 s)`` through logging."""
    import logging
    import time

    import keras

    log = logging.getLogger("fer_edge.core.progress")

    class EpochLogger(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            total = self.params.get("epochs") if self.params else None
            items = ", ".join(f"{k} {float(v):.4g}" for k, v in sorted((logs or {}).items()) if _is_number(v))
            log.info("epoch %d/%s: %s (%.0f s)", epoch + 1, total or "?", items, time.monotonic() - self.start)

    return EpochLogger()


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
