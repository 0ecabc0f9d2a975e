"""HDF5 feature store: per-frame features of many clips, padded to a fixed length.

Contract (docs/architecture.md), one file per fold and extractor (``fold-<i>-features-<F>.h5``):

* ``features`` ``(N, T, F)`` float16/float32, zero after a clip's end;
* ``masks`` ``(N, T)`` uint8, 1 on real frames;
* ``labels`` ``(N, C)`` one-hot float32;
* ``names`` ``(N,)`` utf-8 clip names;
* attributes ``extractor``, ``layer``, ``augmentation``, ``fer_edge`` (version), ``classes``,
  ``length`` (T), plus any the caller adds.

T is 100 by default (98 % of the thesis' trimmed clips are shorter); longer clips are
truncated, shorter ones zero-padded and masked. Datasets are chunked one clip per chunk and
gzip-compressed, so a reader pulls single clips without loading the file.

:class:`StoreWriter` writes ``<path>.partial`` and renames it to ``<path>`` only when closed
successfully. After a crash, opening a writer with the same layout resumes the partial file:
rows counted in the ``written`` attribute are kept (:attr:`StoreWriter.done` lists their names)
and any row past it is discarded. HDF5 is not crash-safe (a SIGKILL during a flush can leave
its B-trees and heaps half-updated, and appending to such a file fails or corrupts it), so a
resume never appends to the killed file: it copies the counted rows that read back whole
into a fresh file (stopping at the first damaged one) and continues there. numpy + h5py only:
the Keras loader is in :mod:`fer_edge.data.store_keras`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fer_edge.core.atomic import clean_stale, commit, temp_path
from fer_edge.core.errors import FerEdgeError

log = logging.getLogger(__name__)

DEFAULT_LENGTH = 100
MAX_FRAMES = 100_000  # timesteps a clip (a window is 100); a crafted header can claim billions
MAX_FEATURES = 1 << 20  # features per timestep (VGG-Face's flattened pool5 is 25,088); labels hold 256x that
_REQUIRED = ("features", "masks", "labels", "names")


def _h5py():
    import h5py  # core dependency; imported here to keep `import fer_edge.data` light

    return h5py


def pad(features: np.ndarray, length: int = DEFAULT_LENGTH) -> tuple[np.ndarray, np.ndarray]:
    """Truncate or zero-pad ``(t, F)`` features to ``(length, F)``; returns features and mask.

    Example:
        >>> x, m = pad(np.ones((3, 2)), length=5)
        >>> float(x.sum()), m.tolist()
        (6.0, [1, 1, 1, 0, 0])
    """
    features = np.asarray(features)
    if features.ndim != 2 or features.shape[0] == 0:
        raise FerEdgeError(f"clip features must be (frames, F) with frames > 0, got {features.shape}")
    t = min(features.shape[0], length)
    out = np.zeros((length, features.shape[1]), dtype=features.dtype)
    out[:t] = features[:t]
    mask = np.zeros(length, dtype=np.uint8)
    mask[:t] = 1
    return out, mask


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


class StoreWriter:
    """Append clips to a feature store; atomic on completion, resumable after a crash.

    Args:
        path: final file name (``fold-0-features-512.h5``).
        features: F, the feature size.
        classes: label names (C = len(classes)).
        length: T, frames per clip after padding/truncation.
        dtype: ``"float16"`` (half the size, the thesis' precision for storage) or ``"float32"``.
        attrs: ``extractor``, ``layer``, ``augmentation`` and any extra metadata.
        compression: gzip level 0-9 (0 = off).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "fold-0-features-4.h5"
        >>> with StoreWriter(path, features=4, classes=["a", "b"], length=3) as w:
        ...     w.append("clip1", np.ones((5, 4)), "b")
        >>> read_store(path).names
        ['clip1']
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        features: int,
        classes: Sequence[str],
        length: int = DEFAULT_LENGTH,
        dtype: str = "float16",
        attrs: Mapping[str, object] | None = None,
        compression: int = 4,
    ) -> None:
        from fer_edge import __version__

        if features <= 0 or length <= 0 or not classes:
            raise FerEdgeError(
                f"store needs features > 0, length > 0 and classes (got {features}, {length}, {list(classes)})"
            )
        if dtype not in ("float16", "float32"):
            raise FerEdgeError(f"store dtype must be float16 or float32, got {dtype}")
        self.path = Path(path)
        self.partial = _partial(self.path)
        self.classes = [str(c) for c in classes]
        self.length, self.features, self.dtype = int(length), int(features), dtype
        self.attrs = {
            "extractor": "",
            "layer": "",
            "augmentation": "none",
            **(attrs or {}),
            "fer_edge": __version__,
            "classes": self.classes,
            "length": self.length,
        }
        self._compression = compression
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self._open()

    def _layout_matches(self, f) -> bool:
        try:
            return (
                all(k in f for k in _REQUIRED)
                and f["features"].shape[1:] == (self.length, self.features)
                and str(f["features"].dtype) == self.dtype
                and list(f.attrs.get("classes", [])) == self.classes
                and all(
                    str(f.attrs.get(k)) == str(v) for k, v in self.attrs.items() if k not in ("classes", "fer_edge")
                )
            )
        except Exception:  # noqa: BLE001 - a damaged partial file is simply not reused
            return False

    def _open(self):
        h5py = _h5py()
        clean_stale(self.partial)  # fresh copies of killed resumes
        tmp = temp_path(self.partial)
        try:
            f = self._create(tmp)
            kept = self._salvage(f) if self.partial.exists() else 0
            f.attrs["written"] = kept
            f.close()
            commit(tmp, self.partial)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if kept:
            log.info("resuming %s at clip %d", self.partial, kept)
        return h5py.File(self.partial, "a")

    def _create(self, path: Path):
        h5py = _h5py()
        f = h5py.File(path, "w")
        opts = {"compression": "gzip", "compression_opts": self._compression} if self._compression else {}
        c = len(self.classes)
        f.create_dataset(
            "features",
            (0, self.length, self.features),
            self.dtype,
            maxshape=(None, self.length, self.features),
            chunks=(1, self.length, self.features),
            **opts,
        )
        f.create_dataset(
            "masks", (0, self.length), "uint8", maxshape=(None, self.length), chunks=(256, self.length), **opts
        )
        f.create_dataset("labels", (0, c), "float32", maxshape=(None, c), chunks=(256, c))
        f.create_dataset("names", (0,), h5py.string_dtype("utf-8"), maxshape=(None,), chunks=(256,))
        for key, value in self.attrs.items():
            f.attrs[key] = value
        return f

    def _salvage(self, dst) -> int:
        """Copy the whole counted rows of the partial file into ``dst``; returns how many.

        The partial file is only read. A row is whole when its features chunk exists (HDF5
        reads a lost chunk back as zeros, without an error), its mask is 1s then 0s and not
        empty, its label row is finite and not zero, and its name is not empty.
        """
        try:
            src = _h5py().File(self.partial, "r")
        except OSError as exc:
            log.warning("cannot reopen %s (%s); starting the store again", self.partial, exc)
            return 0
        kept = 0
        with src:
            if not self._layout_matches(src):
                log.warning("%s was written with other settings; starting it again", self.partial)
                return 0
            try:
                written = min(int(src.attrs.get("written", 0)), *(src[k].shape[0] for k in _REQUIRED))
            except Exception:  # noqa: BLE001 - damaged beyond reading its counter: start again
                written = 0
            for key in _REQUIRED:
                dst[key].resize(written, axis=0)
            for i in range(written):
                try:
                    whole = src["features"].id.get_chunk_info_by_coord((i, 0, 0)).byte_offset is not None
                    row = {k: src[k][i] for k in _REQUIRED}
                except Exception:  # noqa: BLE001 - h5py's errors on a damaged structure or chunk
                    whole = False
                if whole:
                    mask, label = row["masks"], row["labels"]
                    t = int(mask.sum())
                    whole = t > 0 and bool(mask[:t].all()) and np.isfinite(label).all() and label.any()
                    whole = whole and bool(row["names"])
                if not whole:
                    log.warning("%s: clip %d of %d is damaged; extracting from there again", self.partial, i, written)
                    break
                for key in _REQUIRED:
                    dst[key][i] = row[key]
                kept = i + 1
        for key in _REQUIRED:
            dst[key].resize(kept, axis=0)
        return kept

    @property
    def count(self) -> int:
        """Clips written so far (including those kept from an interrupted run)."""
        return int(self._file.attrs["written"])

    @property
    def done(self) -> set[str]:
        """Names already in the store: a resuming caller skips these clips."""
        return {n.decode() if isinstance(n, bytes) else n for n in self._file["names"][: self.count]}

    def append(self, name: str, features: np.ndarray, label: str | int | np.ndarray) -> None:
        """Add one clip: ``features`` ``(t, F)``; ``label`` a class name, index or one-hot row."""
        x, mask = pad(features, self.length)
        if x.shape[1] != self.features:
            raise FerEdgeError(f"clip {name} has {x.shape[1]} features, the store {self.features}")
        onehot = np.zeros(len(self.classes), np.float32)
        if isinstance(label, str):
            if label not in self.classes:
                raise FerEdgeError(f"label '{label}' of clip {name} is not in {self.classes}")
            onehot[self.classes.index(label)] = 1
        elif np.ndim(label) == 0:
            onehot[int(label)] = 1
        else:
            onehot[:] = np.asarray(label, np.float32)
        f, i = self._file, self.count
        for key in _REQUIRED:
            f[key].resize(i + 1, axis=0)
        f["features"][i] = x.astype(self.dtype)
        f["masks"][i] = mask
        f["labels"][i] = onehot
        f["names"][i] = name
        # The row reaches the file before the counter does: a crash before the second flush
        # leaves the row uncounted, never a counted row with a lost chunk.
        f.flush()
        f.attrs["written"] = i + 1
        f.flush()

    def close(self) -> Path:
        """Finish: rename the partial file to its final name; returns the path."""
        if self._file is not None:
            self._file.close()
            self._file = None
            commit(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        """Stop without finishing; the partial file stays for a later resume."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class FeatureStore:
    """Lazy reader: opens the file on first access, reads only the rows asked for.

    Safe to pickle into worker processes (the handle is reopened per process).

    Example:
        >>> store = read_store("runs/fold-0-features-512.h5")   # doctest: +SKIP
        >>> x, mask, y = store.batch([0, 5, 9])                    # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._file = None
        self._pid = None
        f = self._handle()
        try:
            self._validate(f)
            self.shape = tuple(f["features"].shape)
            self.attrs = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in f.attrs.items()}
        except (OSError, KeyError, RuntimeError, ValueError) as exc:  # h5py's errors on a damaged file
            raise FerEdgeError(f"cannot read {self.path} ({str(exc)[:120]}); the file is damaged, rewrite it") from None
        classes = self.attrs.get("classes", list(range(f["labels"].shape[1])))
        if isinstance(classes, (str, bytes)) or not hasattr(classes, "__len__") or len(classes) != f["labels"].shape[1]:
            raise FerEdgeError(
                f"{self.path}: attribute 'classes' ({classes!r}) does not match the "
                f"{f['labels'].shape[1]} label columns; rewrite the store"
            )
        self.classes = [c.decode() if isinstance(c, bytes) else str(c) for c in classes]

    def _validate(self, f) -> None:
        """Datasets present, of the contract's ranks and kinds, with matching N and T."""
        h5py = _h5py()
        missing = [k for k in _REQUIRED if not isinstance(f.get(k), h5py.Dataset)]
        if missing:
            raise FerEdgeError(
                f"{self.path} is not a fer-edge feature store (missing datasets {missing}); "
                "write it with fer_edge.data.store.StoreWriter"
            )
        ranks = {"features": 3, "masks": 2, "labels": 2, "names": 1}
        bad = [f"{k} {f[k].shape}" for k, r in ranks.items() if f[k].ndim != r]
        bad += [f"{k} dtype {f[k].dtype}" for k in ("features", "masks", "labels") if f[k].dtype.kind not in "fiub"]
        if bad:
            raise FerEdgeError(
                f"{self.path}: wrong dataset shape or type ({', '.join(bad)}); expected features "
                "(N, T, F) float, masks (N, T), labels (N, C), names (N,); rewrite the store"
            )
        n = f["features"].shape[0]
        if any(f[k].shape[0] != n for k in _REQUIRED) or f["masks"].shape[1] != f["features"].shape[1]:
            raise FerEdgeError(f"{self.path} has inconsistent dataset shapes; rewrite the store")
        _, t, width = f["features"].shape
        if t > MAX_FRAMES or width > MAX_FEATURES or f["labels"].size > MAX_FEATURES * 256:
            raise FerEdgeError(
                f"{self.path}: features {f['features'].shape} / labels {f['labels'].shape} exceed "
                f"{MAX_FRAMES} frames or {MAX_FEATURES} features a clip, or {MAX_FEATURES * 256} label values "
                "(a damaged or crafted store); rewrite it"
            )
        labels = f["labels"][:]  # (N, C): small, and a NaN label would train silently into NaN
        if labels.size and not (np.isfinite(labels).all() and labels.min() >= 0 and labels.max() <= 1):
            raise FerEdgeError(f"{self.path}: labels must be one-hot values in 0..1 (found NaN or others); rewrite it")

    def _handle(self):
        if self._file is None or self._pid != os.getpid():
            if not self.path.is_file():
                hint = " (an unfinished .partial exists: resume the extraction)" if _partial(self.path).exists() else ""
                raise FerEdgeError(f"feature store {self.path} does not exist{hint}")
            try:
                self._file = _h5py().File(self.path, "r")
            except OSError as exc:
                raise FerEdgeError(f"cannot read {self.path} as HDF5 ({exc}); rewrite it") from None
            self._pid = os.getpid()
        return self._file

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_file"] = state["_pid"] = None
        return state

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def names(self) -> list[str]:
        """All clip names (small: read eagerly on request)."""
        try:
            names = self._handle()["names"][:]
        except (OSError, KeyError, RuntimeError) as exc:
            raise FerEdgeError(f"cannot read names of {self.path} ({str(exc)[:120]}); rewrite it") from None
        try:
            return [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        except UnicodeDecodeError as exc:
            raise FerEdgeError(f"{self.path}: a clip name is not UTF-8 (byte {exc.start}); rewrite the store") from None

    @property
    def labels(self) -> np.ndarray:
        """All one-hot labels ``(N, C)``."""
        return self._handle()["labels"][:]

    def batch(self, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(features (B, T, F) float32, masks (B, T) uint8, labels (B, C))`` for rows."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"row out of range 0..{len(self) - 1} in {self.path}")
        idx = idx % max(len(self), 1)
        order = np.argsort(idx, kind="stable")  # h5py wants increasing, unique indices
        uniq, inverse = np.unique(idx[order], return_inverse=True)
        f = self._handle()
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        try:
            parts = [f[k][uniq.tolist()][inverse][back] for k in ("features", "masks", "labels")]
        except (OSError, KeyError, RuntimeError) as exc:  # a damaged chunk is found only when read
            raise FerEdgeError(
                f"cannot read rows of {self.path} ({str(exc)[:120]}); the file is damaged, rewrite it"
            ) from None
        return parts[0].astype(np.float32), parts[1], parts[2]

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, m, y = self.batch([i])
        return x[0], m[0], y[0]

    def close(self) -> None:
        """Release the file handle (reopened on next access)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def read_store(path: str | os.PathLike) -> FeatureStore:
    """Open a feature store lazily.

    Example:
        >>> read_store("missing.h5")
        Traceback (most recent call last):
        ...
        fer_edge.core.errors.FerEdgeError: feature store missing.h5 does not exist
    """
    return FeatureStore(path)
