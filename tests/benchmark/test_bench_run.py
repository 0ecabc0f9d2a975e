"""The benchmark stage and CLI on tiny bundles: rows per model/precision/hint, video, baseline, compare."""

from __future__ import annotations

import json

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from fer_edge.benchmark.report import load_report
from fer_edge.benchmark.runner import benchmark, select_precisions
from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.bundle import Bundle, FrameSpec, ModelEntry, WindowSpec, load_bundle, provenance, write_manifest
from fer_edge.runtime.latency import compile_model, make_inputs, measure_latency, measure_throughput, static_shapes
from tests.support.ovmodels import frame_bundle, save, spatial_model


def _masked_temporal(timesteps: int, features: int, classes: int) -> ov.Model:
    """(B, T, F) features + (B, T) mask -> softmax: the two-input head the trainer writes."""
    rng = np.random.default_rng(4)
    x = ops.parameter([-1, timesteps, features], np.float32, name="features")
    m = ops.parameter([-1, timesteps], np.float32, name="mask")
    masked = ops.multiply(x, ops.unsqueeze(m, ops.constant(np.array([2], np.int64))))
    pooled = ops.reduce_sum(masked, ops.constant(np.array([1], np.int64)), keep_dims=False)
    w = ops.constant(rng.normal(size=(features, classes)).astype(np.float32))
    return ov.Model([ops.softmax(ops.matmul(pooled, w, False, False), -1)], [x, m], "masked_temporal")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    frame = frame_bundle(root / "frame")
    c = root / "cascade"
    c.mkdir()
    labels = ("happy", "sad", "surprise")
    save(spatial_model(32), c / "spatial.xml")
    ov.save_model(spatial_model(32), str(c / "spatial-fp16.xml"), compress_to_fp16=True)
    save(_masked_temporal(6, 8, 3), c / "temporal.xml")
    ov.save_model(_masked_temporal(6, 8, 3), str(c / "temporal-fp16.xml"), compress_to_fp16=True)
    cascade = Bundle(
        c,
        "tiny-cascade",
        "cascade",
        labels,
        FrameSpec((32, 32), "RGB", (0.5,) * 3, (0.25,) * 3),
        WindowSpec(6, 2, 2),
        {
            "spatial": ModelEntry(
                "spatial.xml", "FP32", output=8, input=[32, 32, 3], variants={"FP16": "spatial-fp16.xml"}
            ),
            "temporal": ModelEntry(
                "temporal.xml", "FP32", output=3, input=[6, 8], variants={"FP16": "temporal-fp16.xml"}
            ),
        },
        provenance("tests", metrics={"test_accuracy": 0.875}),
    )
    write_manifest(cascade)
    return load_bundle(frame.path), load_bundle(c)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    from fer_edge.data.synth import make_clip
    from fer_edge.runtime.video import open_writer

    clip = make_clip("happy", subject="F001", frames=12, size=(160, 120), seed=1)
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    with open_writer(path, 25.0, (160, 120)) as writer:
        for f in clip.frames:
            writer.write(f)
    return str(path)


def test_benchmark_rows(bundles, video, tmp_path):
    frame, cascade = bundles
    report = benchmark(
        [frame.path, cascade.path],
        hints=["default", "f32"],
        baseline=None,
        source=video,
        iterations=5,
        warmup=1,
        frames=8,
        detector="haar",  # no BlazeFace asset in tests; the default (the demo's) is checked in test_bench_merge
        out=tmp_path / "out",
    )
    assert report.settings["detector"] == "haar"
    keys = {(r.stage, r.model, r.precision, r.mode, r.hint) for r in report.rows}
    for model, stages in (("tiny-frame", ["frame"]), ("tiny-cascade", ["spatial", "temporal"])):
        for stage in stages:
            for precision in ("FP32", "FP16"):
                for hint in ("default", "f32"):
                    assert (stage, model, precision, "latency", hint) in keys
                    assert (stage, model, precision, "throughput", hint) in keys
        assert ("video", model, "FP32", "per frame", "default") in keys
        assert ("video:infer", model, "FP16", "per frame", "default") in keys
        assert ("video:detect", model, "FP32", "per call", "default") in keys  # detection skips frames
    for r in report.rows:
        assert r.latency_ms["median"] >= 0 and r.latency_ms["p90"] >= r.latency_ms["median"] - 1e-9
        assert r.fps > 0 and r.device == "CPU" and r.batch == 1
        if r.hint == "f32":
            assert r.inference_precision == "f32"
        if r.mode == "throughput":
            assert r.requests >= 2
    video_row = next(r for r in report.rows if r.stage == "video" and r.model == "tiny-frame")
    assert video_row.iterations == 8
    for r in report.rows:  # video rows: FPS from the per-frame mean, the statistic shown beside it
        if r.mode == "per frame":
            assert r.fps == pytest.approx(1000.0 / r.latency_ms["mean"], rel=1e-3)
    stages = [r for r in report.rows if r.model == "tiny-frame" and r.precision == "FP32" and r.mode == "per frame"]
    whole = next(r for r in stages if r.stage == "video").latency_ms["mean"]
    assert sum(r.latency_ms["mean"] for r in stages if r.stage != "video") <= whole * 1.05 + 0.01  # parts add up
    # the recorded test accuracy goes on the head row of the bundle's own precision only
    acc = {(r.stage, r.precision, r.mode, r.hint): r.accuracy for r in report.rows if r.model == "tiny-cascade"}
    assert acc[("temporal", "FP32", "latency", "default")] == 0.875
    assert acc[("spatial", "FP32", "latency", "default")] is None
    assert acc[("temporal", "FP16", "latency", "f32")] is None
    sizes = {r.precision: r.size_mb for r in report.rows if r.stage == "spatial" and r.mode == "latency"}
    files = cascade.path / "spatial.xml", cascade.path / "spatial.bin"
    assert sizes["FP32"] == round(sum(f.stat().st_size for f in files) / 1e6, 4)
    saved = load_report(tmp_path / "out" / "benchmark.json")
    assert len(saved.rows) == len(report.rows) and saved.settings["precisions"][str(cascade.path)] == ["FP32", "FP16"]
    assert saved.machine["tf_gpus"] is None  # no baseline asked


def test_precision_selection(bundles):
    frame, cascade = bundles
    assert select_precisions([frame], "all") == {str(frame.path): ["FP32", "FP16"]}
    assert select_precisions([frame], "fp16") == {str(frame.path): ["FP16"]}
    with pytest.raises(FerEdgeError, match="did you mean 'int8'"):
        select_precisions([frame], "int9")
    with pytest.raises(FerEdgeError, match="no bundle carries precision INT8.*fer-edge optimize"):
        select_precisions([frame, cascade], "int8")


def test_latency_and_throughput_functions(bundles):
    _, cascade = bundles
    compiled = compile_model(cascade.model_path("temporal"), precision="f32", dims=[6, 8])
    inputs = make_inputs(compiled)
    assert [x.shape for x in inputs] == [(1, 6, 8), (1, 6)] and (inputs[1] == 1).all()
    t = measure_latency(compiled, inputs, warmup=0, iterations=3)
    assert t.iterations == 3 and t.inference_precision == "f32" and t.mode == "latency"
    tp = measure_throughput(
        compile_model(cascade.model_path("spatial"), hint="throughput"), requests=3, warmup=1, iterations=6
    )
    assert tp.requests == 3 and tp.mode == "throughput" and tp.fps > 0
    with pytest.raises(FerEdgeError, match="iterations"):
        measure_latency(compiled, inputs, iterations=0)


def test_unresolvable_dynamic_shape_is_one_line():
    x = ops.parameter([-1, -1, 4], np.float32, name="x")
    model = ov.Model([ops.relu(x)], [x], "dyn")
    assert static_shapes(model, 2, [5, 4]) == {0: [2, 5, 4]}
    with pytest.raises(FerEdgeError, match="dynamic dimension 1.*'input'"):
        static_shapes(model, 1, None)


def test_cli_benchmark_and_compare(bundles, tmp_path, capsys):
    frame, _ = bundles
    base = [
        "benchmark",
        str(frame.path),
        "--source",
        "none",
        "--baseline",
        "none",
        "--iterations",
        "4",
        "--warmup",
        "1",
        "--no-throughput",
    ]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "| frame | latency | tiny-frame | IR | FP32 |" in out and "next: fer-edge benchmark compare" in out
    assert main([*base, "--precision", "fp32", "--infer-precision", "f32", "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "benchmark",
                "compare",
                str(tmp_path / "a" / "benchmark.json"),
                str(tmp_path / "b" / "benchmark.json"),
                "--out",
                str(tmp_path / "c"),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "1 configuration(s) in both reports, 1 in only one." in text  # FP32 default meets FP32 pinned f32
    assert (tmp_path / "c" / "compare.md").is_file()
    assert (
        main(
            [
                "benchmark",
                "compare",
                str(tmp_path / "a" / "benchmark.json"),
                str(tmp_path / "a" / "benchmark.json"),
                "--out",
                str(tmp_path / "d"),
            ]
        )
        == 0
    )
    assert "| 1.00 |" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--device", "MYRIAD"], "MYRIAD .*2022.3 LTS"),
        (["--device", "CPUU"], "did you mean 'CPU'"),
        (["--precision", "int8"], "no bundle carries precision INT8"),
        (["--infer-precision", "f64"], "unknown inference precision hint 'f64'"),
        (["--iterations", "0"], "iterations >= 1"),
    ],
)
def test_cli_user_errors_are_one_line(bundles, tmp_path, capsys, argv, message):
    frame, _ = bundles
    code = main(["benchmark", str(frame.path), "--source", "none", "--baseline", "none", *argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    import re

    assert re.search(message, err), err


def test_cli_compare_needs_two_reports(tmp_path, capsys):
    assert main(["benchmark", "compare", str(tmp_path / "only.json")]) == 2
    assert "two reports" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.tf
def test_tensorflow_baseline_row(tmp_path, capsys):
    import keras

    from fer_edge.convert.importer import import_keras

    inp = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(7, activation="softmax")(x))
    model.save(tmp_path / "m.keras")
    bundle = import_keras(tmp_path / "m.keras", tmp_path / "bundle", labels="fer2013", name="tiny-keras")
    code = main(
        [
            "benchmark",
            str(bundle.path),
            "--source",
            "none",
            "--iterations",
            "5",
            "--warmup",
            "1",
            "--no-throughput",
            "--precision",
            "fp32",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "out" / "benchmark.json").read_text())
    tf_rows = [r for r in data["rows"] if r["format"] == "Keras"]
    assert len(tf_rows) == 1 and tf_rows[0]["device"] in ("CPU", "GPU")
    assert tf_rows[0]["engine"].startswith("TensorFlow") and tf_rows[0]["latency_ms"]["median"] > 0
    assert isinstance(data["machine"]["tf_gpus"], list)
    assert {r["format"] for r in data["rows"]} == {"IR", "Keras"}
