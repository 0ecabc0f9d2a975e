"""HDF5 feature store: contract, padding/mask, atomic write, resume, lazy reads, Keras loader."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.data.store import StoreWriter, pad, read_store

CLASSES = ["angry", "happy", "sad"]


def _clip(i: int, frames: int, f: int = 6) -> np.ndarray:
    return np.random.default_rng(i).normal(size=(frames, f)).astype(np.float32) + i


def _write(path, rows, **kw):
    with StoreWriter(path, features=6, classes=CLASSES, length=8, **kw) as w:
        for name, x, label in rows:
            w.append(name, x, label)
    return path


def test_pad_truncates_pads_and_masks():
    x, m = pad(np.arange(20.0).reshape(10, 2), length=4)
    assert x.tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]] and m.tolist() == [1, 1, 1, 1]
    x, m = pad(np.ones((2, 3)), length=4)
    assert x[2:].sum() == 0 and m.tolist() == [1, 1, 0, 0]
    with pytest.raises(FerEdgeError):
        pad(np.ones((0, 3)))


def test_round_trip_contract(tmp_path):
    rows = [
        ("F001_angry", _clip(0, 5), "angry"),
        ("F001_happy", _clip(1, 12), 1),
        ("M002_sad", _clip(2, 8), np.array([0, 0, 1.0])),
    ]
    path = _write(
        tmp_path / "fold-0-features-6.h5",
        rows,
        dtype="float32",
        attrs={"extractor": "vgg16", "layer": "fc6", "augmentation": "offline9"},
    )
    assert not (tmp_path / "fold-0-features-6.h5.partial").exists()
    with h5py.File(path) as f:
        assert f["features"].shape == (3, 8, 6) and f["features"].dtype == np.float32
        assert f["masks"].dtype == np.uint8 and f["labels"].shape == (3, 3)
        assert f["features"].chunks == (1, 8, 6) and f["features"].compression == "gzip"
        assert f.attrs["extractor"] == "vgg16" and f.attrs["layer"] == "fc6"
        assert f.attrs["augmentation"] == "offline9" and f.attrs["fer_edge"]
    store = read_store(path)
    assert len(store) == 3 and store.names == ["F001_angry", "F001_happy", "M002_sad"]
    assert store.classes == CLASSES and store.attrs["length"] == 8
    np.testing.assert_array_equal(store.labels.argmax(1), [0, 1, 2])
    x, m, y = store[0]
    np.testing.assert_allclose(x[:5], rows[0][1]) and np.testing.assert_array_equal(x[5:], 0)
    assert m.tolist() == [1] * 5 + [0] * 3
    x, m, _ = store[1]
    np.testing.assert_allclose(x, rows[1][1][:8]) and np.testing.assert_array_equal(m, 1)
    # Unordered, repeated and negative indices come back in the order asked.
    xb, mb, yb = store.batch([2, 0, 2, -3])
    np.testing.assert_allclose(xb[0], store[2][0]) and np.testing.assert_allclose(xb[1], store[0][0])
    np.testing.assert_allclose(xb[2], xb[0]) and np.testing.assert_allclose(xb[3], xb[1])
    assert yb.argmax(1).tolist() == [2, 0, 2, 0]


def test_float16_default_and_bad_rows(tmp_path):
    w = StoreWriter(tmp_path / "s.h5", features=6, classes=CLASSES, length=8)
    with pytest.raises(FerEdgeError, match="not in"):
        w.append("x", _clip(0, 3), "fear")
    with pytest.raises(FerEdgeError, match="features"):
        w.append("x", np.ones((3, 5)), "sad")
    w.append("ok", _clip(0, 3), "sad")
    w.close()
    store = read_store(tmp_path / "s.h5")
    with h5py.File(tmp_path / "s.h5") as f:
        assert f["features"].dtype == np.float16
    np.testing.assert_allclose(store[0][0][:3], _clip(0, 3), atol=1e-2)


def test_abort_keeps_partial_and_resume_continues(tmp_path):
    path = tmp_path / "fold-1.h5"
    w = StoreWriter(path, features=6, classes=CLASSES, length=8)
    for i in range(3):
        w.append(f"c{i}", _clip(i, 4 + i), i)
    w.abort()
    assert not path.exists() and (tmp_path / "fold-1.h5.partial").exists()
    with pytest.raises(FerEdgeError, match="resume"):
        read_store(path)
    w = StoreWriter(path, features=6, classes=CLASSES, length=8)
    assert w.count == 3 and w.done == {"c0", "c1", "c2"}
    for i in range(3, 5):
        w.append(f"c{i}", _clip(i, 4 + i), i % 3)
    w.close()
    store = read_store(path)
    assert store.names == [f"c{i}" for i in range(5)]
    np.testing.assert_allclose(store[1][0][:5], _clip(1, 5), atol=1e-2)


def test_resume_after_kill_mid_write_drops_uncounted_row(tmp_path):
    path = tmp_path / "killed.h5"
    # A real process killed by os._exit after growing the datasets for a 3rd row but before
    # the counter moved: the half row must not survive.
    code = textwrap.dedent(f"""
        import os, numpy as np
        from fer_edge.data.store import StoreWriter
        w = StoreWriter({str(path)!r}, features=6, classes={CLASSES!r}, length=8)
        for i in range(2):
            w.append(f"c{{i}}", np.full((3, 6), i, np.float32), i)
        f = w._file
        for k in ("features", "masks", "labels", "names"):
            f[k].resize(3, axis=0)
        f["features"][2] = 9
        f.flush()
        os._exit(1)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert not path.exists()
    w = StoreWriter(path, features=6, classes=CLASSES, length=8)
    assert w.count == 2 and w.done == {"c0", "c1"}
    w.append("c2", np.full((3, 6), 2, np.float32), 2)
    w.close()
    store = read_store(path)
    assert store.names == ["c0", "c1", "c2"] and store[2][0][0, 0] == 2


def _damage_chunk(partial, dataset: str, row: int) -> None:
    """Overwrite the bytes of the chunk holding ``row`` of ``dataset``, as a flush torn by a
    SIGKILL leaves it (a chunk index pointing at bytes that are no longer that chunk's)."""
    with h5py.File(partial, "r") as f:
        d = f[dataset]
        info = d.id.get_chunk_info_by_coord((row,) + (0,) * (d.ndim - 1))
    with open(partial, "r+b") as fh:
        fh.seek(info.byte_offset)
        fh.write(b"\xff" * info.size)


@pytest.mark.parametrize("dataset, kept", [("features", 3), ("masks", 0), ("names", 0)])
def test_resume_copies_the_whole_rows_of_a_damaged_partial(tmp_path, dataset, kept):
    """A killed writer's half-flushed HDF5 file is never appended to: its whole rows are kept
    (up to the first damaged one), the store then completes to the same content."""
    path = tmp_path / "s.h5"
    rows = [(f"c{i}", _clip(i, 3 + i), i % 3) for i in range(5)]
    w = StoreWriter(path, features=6, classes=CLASSES, length=8, compression=4)
    for row in rows:
        w.append(*row)
    w.abort()
    _damage_chunk(tmp_path / "s.h5.partial", dataset, 3)
    w = StoreWriter(path, features=6, classes=CLASSES, length=8, compression=4)
    assert w.count == kept and w.done == {f"c{i}" for i in range(kept)}
    for row in rows[kept:]:
        w.append(*row)
    w.close()
    assert not list(tmp_path.glob(".*")), "the fresh copy was renamed, not left behind"
    store = read_store(path)
    assert store.names == [name for name, _, _ in rows]
    for i, (_, x, label) in enumerate(rows):
        got, mask, y = store[i]
        np.testing.assert_allclose(got[: len(x)], x, atol=2e-2)
        assert mask.sum() == len(x) and y.argmax() == label


def test_partial_with_other_settings_or_corrupt_starts_over(tmp_path):
    path = tmp_path / "s.h5"
    w = StoreWriter(path, features=6, classes=CLASSES, length=8, attrs={"extractor": "a"})
    w.append("c0", _clip(0, 3), 0)
    w.abort()
    w = StoreWriter(path, features=6, classes=CLASSES, length=8, attrs={"extractor": "b"})
    assert w.count == 0
    w.abort()
    (tmp_path / "s.h5.partial").write_bytes(b"not hdf5 at all")
    w = StoreWriter(path, features=6, classes=CLASSES, length=8)
    assert w.count == 0
    w.append("c0", _clip(0, 3), 0)
    assert w.close() == path and len(read_store(path)) == 1


def test_reader_rejects_foreign_files(tmp_path):
    (tmp_path / "x.h5").write_bytes(b"garbage")
    with pytest.raises(FerEdgeError, match="HDF5"):
        read_store(tmp_path / "x.h5")
    with h5py.File(tmp_path / "y.h5", "w") as f:
        f["features"] = np.zeros((1, 2, 3))
    with pytest.raises(FerEdgeError, match="missing"):
        read_store(tmp_path / "y.h5")


@pytest.mark.tf
def test_keras_pydataset_reads_several_folds(tmp_path):
    a = _write(tmp_path / "fold-1.h5", [(f"a{i}", _clip(i, 5), i % 3) for i in range(5)])
    b = _write(tmp_path / "fold-2.h5", [(f"b{i}", _clip(10 + i, 9), i % 3) for i in range(3)])
    from fer_edge.data.store_keras import StoreDataset

    ds = StoreDataset([a, b], batch_size=3, shuffle=True, seed=1)
    assert len(ds) == 3 and ds.classes == CLASSES
    seen = []
    for i in range(len(ds)):
        x, y = ds[i]
        assert x.dtype == np.float32 and x.shape[1:] == (8, 6) and y.shape[1] == 3
        seen += [float(v) for v in x[:, 0, 0]]
    first = list(seen)
    assert len(seen) == 8
    ds.on_epoch_end()
    again = [float(v) for i in range(len(ds)) for v in ds[i][0][:, 0, 0]]
    assert sorted(again) == sorted(first) and again != first
    (x, m), _ = StoreDataset(b, batch_size=2, shuffle=False, with_mask=True)[0]
    assert m.shape == (2, 8) and m[0].sum() == 8
    with pytest.raises(FerEdgeError, match="must match"):
        bad = tmp_path / "bad.h5"
        with StoreWriter(bad, features=6, classes=["x", "y"], length=8) as w:
            w.append("z", _clip(0, 2), 0)
        StoreDataset([a, bad])
