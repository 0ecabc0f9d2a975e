"""Hostile inputs: invalid numbers, broken files, models the runtime cannot feed, files that
point outside a bundle, side effects. Each case states the exit code (or the FerEdgeError) and
the message it must give; CLI cases compare the file system before/after. Rules:
``fer_edge.core.fileio`` (one loader per format, finite numbers), ``fer_edge.runtime.engine``
(read/compile), ``fer_edge.runtime.bundle`` (files inside the bundle), ``fer_edge.core.telemetry``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.bundle import load_bundle
from tests.support import fuzzing
from tests.support.hostile import _counts, assets, run_cli, world  # noqa: F401 - shared fixtures, used by name
from tests.support.hostile import demo_argv as _demo

ROOT = Path(__file__).resolve().parents[2]


# --- class 3: invalid accepted ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_manifest_mean_std_must_be_finite(tmp_path, assets, value):
    import shutil

    b = tmp_path / "b"
    shutil.copytree(assets[0], b)
    data = json.loads((b / "manifest.json").read_text())
    data["frame"]["std"][1] = "@"
    (b / "manifest.json").write_text(json.dumps(data).replace('"@"', value))
    err = fuzzing.run_case("hostile_manifest", lambda: load_bundle(b), names="manifest.json")
    assert isinstance(err, FerEdgeError) and "'frame.std' must be 3 numbers for RGB (finite" in str(err)


def test_invalid_numbers_on_the_command_line(world, assets, capsys):
    run_cli(world, _demo(assets, "--max-frames", "-5"), capsys, rc=2, message=r"--max-frames must be >= 1")
    run_cli(
        world,
        _demo(assets, "--stream-timeout", "inf"),
        capsys,
        rc=2,
        message=r"stream read-timeout must be in \(0, 86400\] seconds, got inf",
    )
    run_cli(
        world,
        ["benchmark", str(assets[0]), "--device", ",,", "--source", "none", "--out", str(world / "b")],
        capsys,
        rc=2,
        message=r"--device names nothing",
    )
    with pytest.raises(SystemExit) as info:
        main(["import", "keras", "m.keras", "--out", str(world / "o"), "--mean", "nan"])
    assert info.value.code == 2 and "expected finite numbers" in capsys.readouterr().err


def test_fusion_weights_must_be_finite(world, capsys):
    from fer_edge.train.metrics import Predictions

    labels = ("happy", "sad")
    for name in ("a", "b"):
        Predictions(["x", "y"], labels, np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]])).save_csv(
            world / name / "predictions.csv"
        )
    members = [str(world / "a" / "predictions.csv"), str(world / "b" / "predictions.csv")]
    run_cli(
        world,
        ["fuse", *members, "--weights", "nan,1", "--out", str(world / "f")],
        capsys,
        rc=2,
        message=r"--weights must be a finite number, got 'nan'",
        changes=("f",),
    )
    (world / "a" / "metrics.json").write_text("{not json")
    run_cli(
        world,
        ["fuse", *members, "--out", str(world / "f")],
        capsys,
        rc=2,
        message=r"metrics file .*metrics\.json: not valid JSON",
        changes=("f",),
    )


# --- class 4: tracebacks at boundaries ------------------------------------------------------


def test_odd_sources_and_devices(world, assets, capsys):
    run_cli(world, _demo(assets, source="²"), capsys, rc=2, message=r"video not found: ²")
    run_cli(
        world,
        _demo(assets, source="20000000000000000000"),
        capsys,
        rc=2,
        message=r"camera index 20000000000000000000 is out of range 0\.\.255",
    )
    cache = world / "cache-file"
    cache.write_text("")
    run_cli(
        world,
        _demo(assets, "--cache-dir", str(cache)),
        capsys,
        rc=2,
        message=r"--cache-dir .*cache-file: cannot use it as a folder",
    )
    run_cli(
        world,
        _demo(assets, "--device", "HETERO:NOPE,CPU"),
        capsys,
        rc=2,
        message=r"cannot compile .*frame\.xml for device HETERO:NOPE,CPU",
    )


def test_thin_image_as_source(world, assets, capsys):
    img = world / "thin.png"
    cv2.imwrite(str(img), np.full((5, 4000, 3), 128, np.uint8))
    run_cli(world, _demo(assets, "--events", str(world / "e.jsonl"), source=img), capsys, rc=0, changes=("e.jsonl",))
    assert "no face" in (world / "e.jsonl").read_text()


def test_deep_json_everywhere(world, assets, capsys):
    import shutil

    deep = "[" * 200_000 + "]" * 200_000
    b = world / "b"
    shutil.copytree(assets[0], b)
    (b / "manifest.json").write_text(deep)
    run_cli(
        world,
        _demo(assets, bundle=b),
        capsys,
        rc=2,
        message=r"bundle manifest .*manifest\.json: not valid JSON \(maximum recursion depth",
    )
    (world / "r.json").write_text(deep)
    run_cli(
        world,
        ["benchmark", "compare", str(world / "r.json"), str(world / "r.json")],
        capsys,
        rc=2,
        message=r"benchmark report .*r\.json: not valid JSON",
    )
    (world / "schema.json").write_text('{"schema": "x", "machine": {}, "rows": []}')
    run_cli(
        world,
        ["benchmark", "compare", str(world / "schema.json"), str(world / "schema.json")],
        capsys,
        rc=2,
        message=r"'schema' must be an integer",
    )


def test_non_utf8_and_broken_files(tmp_path):
    from fer_edge.core.fileio import read_csv, read_yaml
    from fer_edge.data.preprocess import read_index
    from fer_edge.train.config import load_recipe

    bad = tmp_path / "recipe.yaml"
    bad.write_bytes(b"out: caf\xe9\n")
    for call, name in ((lambda: load_recipe(bad), bad), (lambda: read_yaml(bad), bad)):
        err = fuzzing.run_case("hostile_files", call, names=name)
        assert isinstance(err, FerEdgeError) and "is not UTF-8 text" in str(err)
    csv = tmp_path / "p.csv"
    csv.write_bytes(b"name,true\n\xff\xfe,1\n")
    err = fuzzing.run_case("hostile_files", lambda: read_csv(csv), names=csv)
    assert isinstance(err, FerEdgeError) and "not UTF-8" in str(err)
    pre = tmp_path / "pre"
    pre.mkdir()
    (pre / "index.jsonl").write_text('{"name": "a", "status": "ok", "emotion": "happy"}\n')
    err = fuzzing.run_case("hostile_files", lambda: read_index(pre), names="index.jsonl")
    assert isinstance(err, FerEdgeError) and "record 1: 'subject' is missing" in str(err)
    (pre / "index.jsonl").write_text('{"status": "ok"}\n')
    err = fuzzing.run_case("hostile_files", lambda: read_index(pre), names="index.jsonl")
    assert isinstance(err, FerEdgeError) and ":1 lacks key(s) name" in str(err)


def test_calibration_npz_and_images(tmp_path, assets):
    from fer_edge.optimize.calibration import load_calibration

    bundle = load_bundle(assets[0])
    obj = tmp_path / "obj.npz"
    np.savez(obj, frames=np.array([np.zeros((2, 2)), "x"], dtype=object))
    err = fuzzing.run_case("hostile_files", lambda: load_calibration(bundle, obj), names=obj)
    assert isinstance(err, FerEdgeError) and "not a readable numeric .npz" in str(err)
    nan = tmp_path / "nan.npz"
    np.savez(nan, frames=np.full((2, 8, 8, 3), np.nan, np.float32))
    err = fuzzing.run_case("hostile_files", lambda: load_calibration(bundle, nan), names=nan)
    assert isinstance(err, FerEdgeError) and "NaN or infinite" in str(err)
    folder = tmp_path / "faces"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((40, 30, 3), 100, np.uint8))
    cv2.imwrite(str(folder / "b.png"), np.full((17, 90, 3), 200, np.uint8))
    os.mkfifo(folder / "c.png")  # never opened
    data = load_calibration(bundle, folder)
    assert [c.shape for c in data.clips] == [(1, 32, 32, 3)] * 2


def test_models_the_runtime_cannot_feed(tmp_path):
    import openvino as ov
    import openvino.opset13 as ops

    from fer_edge.runtime.engine import load_model

    cases = {
        "rank2": ov.Model([ops.relu(x := ops.parameter([-1, 3], np.float32))], [x]),
        "dynrank": ov.Model([ops.relu(y := ops.parameter(ov.PartialShape.dynamic(), np.float32))], [y]),
    }
    for name, model in cases.items():
        path = tmp_path / f"{name}.xml"
        ov.save_model(model, str(path))
        err = fuzzing.run_case("hostile_models", lambda p=path: load_model(p), names=path)
        assert isinstance(err, FerEdgeError) and "needs (N, ...) inputs of rank 3 or more" in str(err)


def test_two_input_frame_model_is_refused(tmp_path, assets):
    import shutil

    import openvino as ov
    import openvino.opset13 as ops

    from fer_edge.runtime.pipeline import Pipeline

    b = tmp_path / "b"
    shutil.copytree(assets[0], b)
    x1, x2 = ops.parameter([-1, 32, 32, 3], np.float32), ops.parameter([-1, 32, 32, 3], np.float32)
    pooled = ops.reduce_mean(ops.add(x1, x2), ops.constant(np.array([1, 2], np.int64)), keep_dims=False)
    ov.save_model(ov.Model([ops.softmax(pooled, -1)], [x1, x2]), str(b / "frame.xml"))
    err = fuzzing.run_case("hostile_models", lambda: Pipeline(load_bundle(b)), names="frame.xml")
    assert isinstance(err, FerEdgeError) and "takes 2 inputs, the runtime feeds 1" in str(err)


# --- class 5: files that point outside ------------------------------------------------------


def test_bin_symlink_out_of_bundle(tmp_path, assets):
    import shutil

    b = tmp_path / "b"
    shutil.copytree(assets[0], b)
    outside = tmp_path / "outside.bin"
    shutil.move(b / "frame.bin", outside)
    os.symlink(outside, b / "frame.bin")
    err = fuzzing.run_case("hostile_manifest", lambda: load_bundle(b), names="manifest.json")
    assert isinstance(err, FerEdgeError) and "frame.bin resolves outside the bundle" in str(err)


# --- class 6: side effects ------------------------------------------------------------------


@pytest.mark.slow
def test_no_telemetry_writes_in_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("CI", None)
    done = subprocess.run(
        [sys.executable, "-c", "import fer_edge, openvino, nncf"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert list(home.iterdir()) == [], list(home.iterdir())
