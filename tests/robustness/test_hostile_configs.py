"""Hostile inputs, files with the right syntax and the wrong shape: every JSON/YAML/CSV a verb
reads goes through a schema check (``fer_edge.core.fileio.check_schema``) and ends in one line
naming the file and the key; a failed verb leaves no folder it created; a ``FER_EDGE_HOME`` that
is a file is named as such, not blamed on the package index."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from fer_edge.data.openface import read_openface
from fer_edge.data.splits import read_split
from fer_edge.train.config import load_recipe
from fer_edge.train.fusion import bundle_weight
from tests.support.ovmodels import frame_bundle


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


# --- split files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "split, message",
    [
        ({"folds": 3}, r"'folds' must be a list of lists of strings, got 3"),
        ({"folds": [1, 2]}, r"'folds\[0\]' must be a list of strings, got 1"),
        ({"folds": [["F001"], ["F002", ["F003"]]]}, r"'folds\[1\]\[1\]' must be a string, got a list of 1"),
        ({"test": "F001", "folds": [["F002"]]}, r"'test' must be null or a list of strings, got 'F001'"),
        ({"test": ["F001"]}, r"'folds' is missing"),
        ({"folds": []}, r"'folds' must be a list of lists of strings of 1 to 1000 items, got a list of 0"),
        ([["F001"]], r"must hold an object, got a list of 1"),
        ({"folds": [["F001"], ["F001"]]}, r"subject F001 is in both fold 0 and fold 1"),
    ],
)
def test_split_files(tmp_path, split, message):
    path = tmp_path / "split.json"
    path.write_text(json.dumps(split))
    with pytest.raises(FerEdgeError, match=rf"^split file {re.escape(str(path))}: ?{message}|{message}"):
        read_split(path)


def test_split_file_on_the_command_line(tmp_path, capsys):
    bundle = frame_bundle(tmp_path / "bundle")
    (tmp_path / "split.json").write_text('{"folds": 5}')
    out = tmp_path / "eval"
    argv = ["evaluate", str(bundle.path), "--data", str(tmp_path), "--split-file", str(tmp_path / "split.json")]
    assert main([*argv, "--out", str(out)]) == 2
    assert re.search(r"split file .*split\.json: 'folds' must be a list of lists of strings, got 5", _one_line(capsys))
    assert not out.exists()


def test_bundle_metrics_of_the_wrong_shape(tmp_path):
    bundle = frame_bundle(tmp_path / "bundle")
    bundle.provenance["metrics"] = [0.7]
    with pytest.raises(FerEdgeError, match=r"provenance\.metrics\) must hold an object, got a list of 1"):
        bundle_weight(bundle)
    bundle.provenance["metrics"] = {"val_accuracies": [0.7, "high"]}
    with pytest.raises(FerEdgeError, match=r"'val_accuracies\[1\]' must be a number in \[0, 1\], got 'high'"):
        bundle_weight(bundle)


# --- fuse: bad members leave no --out behind -----------------------------------------------------


def _member(folder: Path, metrics: str | None) -> Path:
    folder.mkdir()
    rows = ["name,true,predicted,happy,sad", "c1,happy,happy,0.9,0.1", "c2,sad,happy,0.6,0.4", "c3,sad,sad,0.2,0.8"]
    (folder / "predictions.csv").write_text("\n".join(rows) + "\n")
    if metrics is not None:
        (folder / "metrics.json").write_text(metrics)
    return folder


@pytest.mark.parametrize(
    "metrics, extra, message",
    [
        ('{"weight": "high"}', [], r"metrics file .*metrics\.json: 'weight' must be null or a number"),
        ('{"weight": -1}', [], r"'weight' must be null or a number in \[0, 1e\+06\], got -1"),
        ("[1, 2]", [], r"metrics file .*metrics\.json must hold an object"),
        ("{not json", [], r"metrics file .*metrics\.json: not valid JSON"),
        ('{"weight": 0.5}', ["--weights", "nan,1"], r"--weights must be a finite number"),
    ],
)
def test_fuse_leaves_no_folder(tmp_path, capsys, metrics, extra, message):
    a = _member(tmp_path / "a", '{"weight": 0.7}')
    b = _member(tmp_path / "b", metrics)
    out = tmp_path / "runs" / "fusion"
    assert main(["fuse", str(a), str(b), "--out", str(out), *extra]) == 2
    assert re.search(message, _one_line(capsys))
    assert not (tmp_path / "runs").exists()  # nor the parent it would have made


def test_fuse_keeps_an_existing_out(tmp_path, capsys):
    a, b = _member(tmp_path / "a", None), _member(tmp_path / "b", '{"weight": []}')
    out = tmp_path / "fusion"
    out.mkdir()
    assert main(["fuse", str(a), str(b), "--out", str(out)]) == 2
    _one_line(capsys)
    assert out.is_dir()  # not created by this run: never removed


# --- recipes, OpenFace CSVs ---------------------------------------------------------------------------


def test_recipe_section_of_the_wrong_type(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("data:\n  preprocess: 5\n")
    with pytest.raises(FerEdgeError, match=r"r\.yaml: 'data\.preprocess' must be a mapping, got 5"):
        load_recipe(recipe)


def _openface(path: Path, values: list[str]) -> Path:
    header = "frame, face_id, timestamp, confidence, success, AU01_r, AU02_r, AU45_r"
    lines = [f"{i + 1}, 0, {i / 25:.2f}, 0.98, 1, {v}, 1.0, 0.0" for i, v in enumerate(values)]
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def test_openface_csvs(tmp_path):
    assert read_openface(_openface(tmp_path / "ok.csv", ["0.5", "2.0"])).intensity.tolist() == [0.75, 1.5]
    with pytest.raises(FerEdgeError, match=r"line 3, column AU01_r is 1e\+300, outside OpenFace's 0\.\.5"):
        read_openface(_openface(tmp_path / "big.csv", ["0.5", "1e300"]))
    with pytest.raises(FerEdgeError, match=r"line 2, column AU01_r is -3"):
        read_openface(_openface(tmp_path / "neg.csv", ["-3", "1"]))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(_openface(tmp_path / "x.csv", ["1", "1"]).read_bytes().replace(b"frame", b"fr\xe9me"))
    with pytest.raises(FerEdgeError, match=r"OpenFace CSV .*latin\.csv is not UTF-8"):
        read_openface(latin)
    os.mkfifo(tmp_path / "fifo.csv")
    with pytest.raises(FerEdgeError, match=r"is a FIFO, device or socket"):
        read_openface(tmp_path / "fifo.csv")  # would block forever when opened


# --- FER_EDGE_HOME --------------------------------------------------------------------------------


@pytest.mark.parametrize("action", [["fetch", "fer"], ["list"]])
def test_fer_edge_home_that_is_a_file(tmp_path, monkeypatch, capsys, action):
    home = tmp_path / "home.txt"
    home.write_text("not a folder")
    monkeypatch.setenv("FER_EDGE_HOME", str(home))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # were the index asked: refused at once
    monkeypatch.setenv("PIP_RETRIES", "0")
    assert main(["assets", *action]) == 2
    line = _one_line(capsys)
    assert f"FER_EDGE_HOME={home} is not a folder" in line and "package index" not in line, line
    assert home.read_text() == "not a folder"


def test_npz_that_unpacks_too_large(tmp_path):
    """A calibration .npz is sized by what it unpacks to (zeros compress 1000:1), before loading."""
    import numpy as np

    from fer_edge.core.fileio import load_npz

    np.savez_compressed(tmp_path / "zeros.npz", frames=np.zeros((8, 256, 256, 3), np.uint8))
    assert (tmp_path / "zeros.npz").stat().st_size < 20_000
    with pytest.raises(FerEdgeError, match=r"zeros\.npz unpacks to 2 MiB, over the 1 MiB this reader takes"):
        load_npz(tmp_path / "zeros.npz", "calibration file", max_bytes=1 << 20)
    assert load_npz(tmp_path / "zeros.npz")["frames"].shape == (8, 256, 256, 3)


def _store(path: Path, *, names=None, labels=None, frames: int = 4) -> Path:
    import h5py
    import numpy as np

    with h5py.File(path, "w") as f:
        # chunked and never written: a header can claim any size at no cost on disk
        f.create_dataset("features", (2, frames, 5), np.float32, chunks=(1, 1, 5))
        f.create_dataset("masks", (2, frames), np.uint8, chunks=(1, 1))
        f["labels"] = labels if labels is not None else np.eye(2, dtype=np.float32)
        f["names"] = names if names is not None else np.array([b"c0", b"c1"])
    return path


def test_feature_stores(tmp_path):
    import numpy as np

    from fer_edge.data.store import FeatureStore

    assert FeatureStore(_store(tmp_path / "ok.h5")).names == ["c0", "c1"]
    with pytest.raises(FerEdgeError, match=r"features \(2, 1000000000, 5\) .* exceed 100000 frames"):
        FeatureStore(_store(tmp_path / "huge.h5", frames=10**9))
    with pytest.raises(FerEdgeError, match=r"labels must be one-hot values in 0\.\.1"):
        FeatureStore(_store(tmp_path / "nan.h5", labels=np.full((2, 2), np.nan, np.float32)))
    with pytest.raises(FerEdgeError, match=r"latin\.h5: a clip name is not UTF-8"):
        _ = FeatureStore(_store(tmp_path / "latin.h5", names=np.array([b"caf\xe9", b"c1"]))).names


def test_feature_store_declaring_a_billion_clips(tmp_path):
    import h5py
    import numpy as np

    from fer_edge.data.store import FeatureStore

    path = tmp_path / "many.h5"
    with h5py.File(path, "w") as f:
        n = 10**9
        f.create_dataset("features", (n, 4, 5), np.float32, chunks=(1, 4, 5))
        f.create_dataset("masks", (n, 4), np.uint8, chunks=(1, 4))
        f.create_dataset("labels", (n, 2), np.float32, chunks=(1, 2))
        f.create_dataset("names", (n,), h5py.string_dtype("utf-8"), chunks=(1024,))
    with pytest.raises(FerEdgeError, match=r"labels \(1000000000, 2\) exceed"):
        FeatureStore(path)  # its labels are read to check them: never 8 GB of them
