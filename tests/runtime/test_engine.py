from __future__ import annotations

import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.engine import EngineConfig, check_device, load_model
from tests.support.ovmodels import frame_bundle


def test_devices():
    assert check_device("cpu") == "CPU"
    assert check_device("AUTO") == "AUTO"
    with pytest.raises(FerEdgeError, match="2022.3"):
        check_device("MYRIAD")
    with pytest.raises(FerEdgeError, match="did you mean 'GPU'"):
        check_device("GPUU")


def test_absent_device_names_present_ones(monkeypatch):
    import fer_edge.runtime.engine as engine

    monkeypatch.setattr(engine, "available_devices", lambda: ["CPU"])
    with pytest.raises(FerEdgeError, match=r"NPU is not present \(present: CPU\).*driver"):
        check_device("NPU")


def test_config_validation():
    with pytest.raises(FerEdgeError, match="did you mean 'latency'"):
        EngineConfig(hint="latncy")
    with pytest.raises(FerEdgeError, match="inference precision"):
        EngineConfig(precision="int4")


def test_load_and_infer_f32_vs_default(tmp_path):
    b = frame_bundle(tmp_path / "b")
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype(np.float32)
    f32 = load_model(b.model_path("frame"), EngineConfig(precision="f32"))
    assert f32.inference_precision == "f32"
    y = f32(x)
    assert y.shape == (4, 3) and np.allclose(y.sum(1), 1, atol=1e-5)
    fp16 = load_model(b.model_path("frame", "FP16"), EngineConfig(cache_dir=str(tmp_path / "cache")))
    assert np.abs(fp16(x) - y).max() < 2e-2
    assert (fp16(x).argmax(1) == y.argmax(1)).all()


def test_bad_model_files(tmp_path):
    with pytest.raises(FerEdgeError, match="not found"):
        load_model(tmp_path / "nope.xml")
    bad = tmp_path / "bad.xml"
    bad.write_text("this is not IR")
    bad.with_suffix(".bin").write_bytes(b"")
    with pytest.raises(FerEdgeError, match="cannot read model"):
        load_model(bad)
    with pytest.raises(FerEdgeError, match="reads OpenVINO IR"):
        (tmp_path / "m.pb").write_text("x")
        load_model(tmp_path / "m.pb")
