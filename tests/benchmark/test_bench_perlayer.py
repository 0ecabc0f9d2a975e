"""``benchmark --per-layer``: the slowest layers per model and precision from OpenVINO's counters
(benchmark_app's ``-pc``), in ``benchmark.json`` (additive ``layers``, checked on load) and ``benchmark.md``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from fer_edge.benchmark.report import load_report
from fer_edge.benchmark.runner import benchmark
from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.latency import compile_model, layer_profile
from tests.support.ovmodels import frame_bundle


def _fq(node, lo: float, hi: float, levels: int):
    c = [ops.constant(np.array(v, np.float32)) for v in (lo, hi, lo, hi)]
    return ops.fake_quantize(node, *c, levels)


def int8_frame_model(path: Path) -> Path:
    """(N, 16, 16, 3) faces -> 3 classes through a FakeQuantize'd convolution (what NNCF INT8 writes)."""
    rng = np.random.default_rng(0)
    x = ops.parameter([-1, 16, 16, 3], np.float32, name="faces")
    nchw = ops.transpose(x, ops.constant(np.array([0, 3, 1, 2], np.int64)))
    w = ops.constant(rng.normal(size=(16, 3, 3, 3)).astype(np.float32))
    conv = ops.convolution(_fq(nchw, 0.0, 4.0, 256), _fq(w, -3.0, 3.0, 255), [1, 1], [1, 1], [1, 1], [1, 1])
    pooled = ops.reduce_mean(ops.relu(conv), ops.constant(np.array([2, 3], np.int64)), keep_dims=False)
    logits = ops.matmul(pooled, ops.constant(rng.normal(size=(16, 3)).astype(np.float32)), False, False)
    ov.save_model(ov.Model([ops.softmax(logits, -1)], [x], "tiny_int8"), str(path), compress_to_fp16=False)
    return path


def test_layer_profile_names_the_int8_kernel(tmp_path):
    xml = int8_frame_model(tmp_path / "q.xml")
    layers = layer_profile(compile_model(xml, perf_count=True), warmup=1, iterations=3)
    assert [x.ms for x in layers] == sorted((x.ms for x in layers), reverse=True)
    conv = next(x for x in layers if x.type == "Convolution")
    assert re.search(r"[IU]8", conv.exec_type), conv  # the INT8 kernel ran, and the profile says so
    assert all(x.ms >= 0 and x.name and x.exec_type for x in layers)


def test_layer_profile_without_counters_is_one_line(tmp_path):
    xml = int8_frame_model(tmp_path / "q.xml")
    with pytest.raises(FerEdgeError, match="no per-layer counters; compile the model with perf_count=True"):
        layer_profile(compile_model(xml), warmup=0, iterations=1)


def test_per_layer_through_the_cli(tmp_path, capsys):
    xml = int8_frame_model(tmp_path / "q.xml")
    out = tmp_path / "bench"
    argv = [
        "benchmark",
        str(xml),
        "--labels",
        "happy,sad,surprise",
        "--per-layer",
        "--top-layers",
        "3",
        "--source",
        "none",
    ]
    argv += ["--baseline", "none", "--no-throughput", "--iterations", "3", "--warmup", "0", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    data = json.loads((out / "benchmark.json").read_text())
    (profile,) = data["layers"]
    assert profile["stage"] == "frame" and profile["iterations"] == 3 and profile["device"] == "CPU"
    assert len(profile["layers"]) == 3 and profile["total_ms"] >= sum(x["ms"] for x in profile["layers"]) - 1e-3
    assert data["settings"]["per_layer"] == 3
    conv = next(x for x in profile["layers"] if x["type"] == "Convolution")
    md = (out / "benchmark.md").read_text()
    assert "## Per-layer counters" in md
    assert re.search(rf"\| {re.escape(conv['name'])} \| Convolution \| {re.escape(conv['exec_type'])} \| ", md)
    assert load_report(out).layers == data["layers"]


def test_every_model_and_precision_gets_a_profile(tmp_path):
    bundle = frame_bundle(tmp_path / "b")
    report = benchmark([bundle.path], baseline=None, throughput=False, iterations=2, warmup=0, per_layer=2)
    assert [(p["stage"], p["precision"]) for p in report.layers] == [("frame", "FP32"), ("frame", "FP16")]
    assert all(1 <= len(p["layers"]) <= 2 for p in report.layers)


def test_without_per_layer_the_report_is_unchanged(tmp_path):
    bundle = frame_bundle(tmp_path / "b")
    report = benchmark([bundle.path], baseline=None, throughput=False, iterations=2, warmup=0, out=tmp_path / "o")
    data = json.loads((tmp_path / "o" / "benchmark.json").read_text())
    assert report.layers == [] and "layers" not in data
    assert "Per-layer" not in (tmp_path / "o" / "benchmark.md").read_text()
    del data["settings"]["per_layer"]  # a report from before --per-layer still loads
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert load_report(tmp_path / "old.json").layers == []


GOOD = {"stage": "frame", "model": "m", "precision": "INT8", "device": "CPU", "hint": "default", "iterations": 3}
LAYER = {"name": "conv", "type": "Convolution", "exec_type": "brgconv_avx512_I8", "ms": 0.01}


@pytest.mark.parametrize(
    "layers, message",
    [
        (3, r"'layers' must be an array of at most 10000 profiles"),
        ([[]], r"'layers\[0\]' must be an object, got an array"),
        ([{**GOOD, "total_ms": 1.0}], r"'layers\[0\].layers' must be an array"),
        ([{**GOOD, "total_ms": "1", "layers": []}], r"'layers\[0\].total_ms' must be a finite number >= 0"),
        ([{**GOOD, "device": 0, "total_ms": 1, "layers": []}], r"'layers\[0\].device' must be a string, got int"),
        ([{**GOOD, "total_ms": 1, "layers": [{**LAYER, "ms": -1}]}], r"'layers\[0\].layers\[0\].ms' must be"),
        ([{**GOOD, "total_ms": 1, "layers": [{**LAYER, "exec_type": None}]}], r"layers\[0\].exec_type' must be a"),
        ([{**GOOD, "total_ms": 1, "layers": [LAYER] * 20_000}], r"'layers\[0\].layers' must be an array of at most"),
    ],
)
def test_damaged_layers_in_a_report_are_one_line(tmp_path, capsys, layers, message):
    bundle = frame_bundle(tmp_path / "b")
    report = benchmark([bundle.path], baseline=None, throughput=False, iterations=1, warmup=0, precisions="fp32")
    data = report.as_dict() | {"layers": layers}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FerEdgeError, match=message):
        load_report(path)
    assert main(["benchmark", "compare", str(path), str(path), "--out", str(tmp_path / "c")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(message, err), err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("value", ["0", "-1", "20000"])
def test_bad_top_layers_is_one_line(tmp_path, capsys, value):
    bundle = frame_bundle(tmp_path / "b")
    argv = ["benchmark", str(bundle.path), "--per-layer", "--top-layers", value, "--source", "none"]
    code = main([*argv, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--top-layers must be a count of layers in 1..10000" in err[0], err
    assert not (tmp_path / "o").exists()
    with pytest.raises(FerEdgeError, match="--top-layers"):
        benchmark([bundle.path], baseline=None, per_layer=-1)
