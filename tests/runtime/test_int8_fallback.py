"""INT8 on CPUs without int8 dot-product: probe at compile time, fall back with one warning line;
report the precision the compute layers actually ran in."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from fer_edge.runtime import engine
from fer_edge.runtime.bundle import load_bundle, write_manifest
from fer_edge.runtime.engine import EngineConfig, executed_precision, load_model
from fer_edge.runtime.pipeline import Pipeline
from tests.support.ovmodels import frame_bundle, frame_model, save

# What OpenVINO's CPU plugin says at the first inference of an INT8 model on a Cortex-A72/A53.
A72_ERROR = (
    "Exception from src/plugins/intel_cpu/src/node.cpp:740:\n"
    "[CPU] Convolution node with name 'conv' Primitive descriptor was not found: object is not initialized"
)


class _FailingRequest:
    def infer(self, *args, **kwargs):
        raise RuntimeError(A72_ERROR)


class _FailingCompiled:
    """A compiled model whose inferences fail, as an INT8 model does on a Cortex-A72."""

    def __init__(self, real) -> None:
        self._real = real

    def create_infer_request(self):
        return _FailingRequest()

    def __getattr__(self, name):
        return getattr(self._real, name)


class _A72Core:
    """OpenVINO's Core, except that models named 'int8' fail at their first inference."""

    def __init__(self, real) -> None:
        self._real = real

    def compile_model(self, model, device, props):
        compiled = self._real.compile_model(model, device, props)
        return _FailingCompiled(compiled) if model.get_friendly_name() == "int8" else compiled

    def __getattr__(self, name):
        return getattr(self._real, name)


def _int8_bundle(root: Path, *, fp32: bool = True):
    """A frame bundle whose default model is 'INT8' (the FP32 one kept as a variant, like optimize)."""
    bundle = frame_bundle(root)
    model = frame_model(32, classes=3)
    model.set_friendly_name("int8")
    save(model, root / "frame-int8.xml")
    entry = bundle.models["frame"]
    entry.variants = {"FP32": entry.file} if fp32 else {}
    entry.file, entry.precision = "frame-int8.xml", "INT8"
    write_manifest(bundle)
    return load_bundle(root)


@pytest.fixture
def a72(monkeypatch):
    monkeypatch.setattr(engine, "_CORE", _A72Core(ov.Core()))


def test_int8_that_cannot_run_falls_back_with_one_warning(tmp_path, a72, caplog):
    bundle = _int8_bundle(tmp_path / "b")
    with caplog.at_level(logging.WARNING):
        pipe = Pipeline(bundle, engine=EngineConfig(precision="f32"))
    assert pipe.frame_model.path.name == "frame.xml"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()
    message = warnings[0].getMessage()
    assert "frame-int8.xml cannot run on this CPU" in message and "running frame.xml instead" in message
    assert "object is not initialized" in message and warnings[0].exc_info is None
    assert pipe.inference_precision == "f32"
    scores = pipe.frame_model(np.zeros((2, 32, 32, 3), np.float32))
    assert scores.shape == (2, 3)


def test_int8_that_runs_is_kept(tmp_path, caplog):
    bundle = _int8_bundle(tmp_path / "b")
    with caplog.at_level(logging.WARNING):
        pipe = Pipeline(bundle, engine=EngineConfig(precision="f32"))
    assert pipe.frame_model.path.name == "frame-int8.xml" and not caplog.records


def test_int8_without_a_float_variant_is_not_probed(tmp_path, a72):
    bundle = _int8_bundle(tmp_path / "b", fp32=False)
    pipe = Pipeline(bundle)
    assert pipe.frame_model.path.name == "frame-int8.xml"  # nothing to fall back to: errors surface later


def test_fallback_only_when_asked(tmp_path, a72):
    bundle = _int8_bundle(tmp_path / "b")
    model = load_model(bundle.model_path("frame"))  # no fallback: no probe, the failure surfaces at use
    with pytest.raises(RuntimeError, match="not initialized"):
        model(np.zeros((1, 32, 32, 3), np.float32))
    assert model.probe() == A72_ERROR.splitlines()[-1]  # the line that says what failed


def _fake_quantized_conv() -> ov.Model:
    """A conv between FakeQuantize ops: the CPU plugin runs it in int8, though the hint stays f32."""
    rng = np.random.default_rng(0)
    x = ops.parameter([1, 8, 16, 16], np.float32, name="x")

    def fq(node, lo, hi, levels):
        lo, hi = ops.constant(np.float32(lo)), ops.constant(np.float32(hi))
        return ops.fake_quantize(node, lo, hi, lo, hi, levels)

    # NNCF's pattern: u8 activations (256 levels from 0), symmetric i8 weights (255 levels).
    w = fq(ops.constant(rng.normal(size=(16, 8, 3, 3)).astype(np.float32)), -2.0, 2.0, 255)
    y = ops.convolution(fq(x, 0.0, 4.0, 256), w, [1, 1], [1, 1], [1, 1], [1, 1])
    return ov.Model([ops.relu(y)], [x], "fq_conv")


def test_reported_precision_is_what_ran(tmp_path):
    save(_fake_quantized_conv(), tmp_path / "int8.xml")
    compiled = load_model(tmp_path / "int8.xml", EngineConfig(precision="f32"))
    assert compiled.inference_precision == "int8"  # the hint property alone says f32
    assert executed_precision(compiled.compiled) == "int8" and compiled.probe() is None
    plain = tmp_path / "plain.xml"
    save(frame_model(32), plain)
    assert load_model(plain, EngineConfig(precision="f32")).inference_precision == "f32"
