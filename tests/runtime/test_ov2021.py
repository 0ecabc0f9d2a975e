"""OpenVINO 2021.4 (the Inference Engine API) behind ovcompat, and the MYRIAD answers per case.

The real 2021.4.2 runs in ``make ncs2-check`` (a Debian 11 root); here a stand-in for
``openvino.inference_engine`` with 2021.4's surface (blob dictionaries, a fixed request pool,
config keys instead of properties, 0 for a dynamic dimension) checks the translation.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime import ovcompat

ROOT = Path(__file__).resolve().parents[2]


class _Data:
    def __init__(self, shape):
        self.shape = shape


class _InputInfo:
    def __init__(self, shape):
        self.input_data, self.precision = _Data(shape), "U8"


class _Net:
    def __init__(self, inputs, outputs):
        self.name = "net"
        self.input_info = {k: _InputInfo(v) for k, v in inputs.items()}
        self.outputs = {k: _Data(v) for k, v in outputs.items()}

    def reshape(self, shapes):
        for name, dims in shapes.items():
            self.input_info[name].input_data.shape = list(dims)
        for data in self.outputs.values():
            data.shape = [dims[0], *data.shape[1:]]


class _Blob:
    def __init__(self, buffer):
        self.buffer = buffer


class _Request:
    latency = 1.5

    def __init__(self, net):
        self.net, self.output_blobs = net, {}

    def infer(self, feed):
        assert set(feed) == set(self.net.input_info), feed
        x = next(iter(feed.values()))
        # "scores": the sum over each row, then a second column with its negation
        total = x.reshape(len(x), -1).sum(-1)
        self.output_blobs = {"scores": _Blob(np.stack([total, -total], -1).astype(np.float32))}

    def async_infer(self, feed):
        self.infer(feed)

    def wait(self, timeout):
        assert timeout == -1
        return 0


class _ExecNet:
    def __init__(self, net, config, num_requests):
        self.input_info, self.outputs, self.config = net.input_info, net.outputs, config
        self.requests = [_Request(net) for _ in range(num_requests)]

    def get_metric(self, name):
        assert name == "OPTIMAL_NUMBER_OF_INFER_REQUESTS"
        return 4

    def get_config(self, name):
        return self.config.get(name, "YES" if name == "ENFORCE_BF16" else "")


class _IECore:
    """2021.4's IECore: CPU only, MYRIAD's plugin present but no stick (or cannot load)."""

    myriad = "loads"
    loaded: list = []

    available_devices = ("CPU",)

    def get_versions(self, device):
        if device == "MYRIAD" and _IECore.myriad != "loads":
            raise RuntimeError(_IECore.myriad)
        return {device: "2021.4.2"}

    def get_metric(self, device, name):
        assert name == "SUPPORTED_CONFIG_KEYS"
        return ["ENFORCE_BF16", "CPU_THREADS_NUM", "CPU_THROUGHPUT_STREAMS", "PERF_COUNT"]

    def get_config(self, device, name):
        return ""

    def read_network(self, model, weights=""):
        assert model.endswith(".onnx") and weights == ""
        return _Net({"faces": [0, 4, 4, 1]}, {"scores": [0, 2]})

    def load_network(self, net, device, config=None, num_requests=1):
        if device.startswith("MYRIAD"):
            raise RuntimeError("Can not init Myriad device: NC_ERROR")
        _IECore.loaded.append((device, dict(config), [i.input_data.shape for i in net.input_info.values()]))
        assert all(i.precision == "FP32" for i in net.input_info.values())
        return _ExecNet(net, config, num_requests)


@pytest.fixture
def ov2021(monkeypatch):
    """ovcompat and engine loaded against a stand-in ``openvino`` with only ``inference_engine``."""
    top = types.ModuleType("openvino")
    top.__path__ = []
    ie = types.ModuleType("openvino.inference_engine")
    ie.IECore, ie.get_version = _IECore, lambda: "2021.4.2-3976-0943ed67223-refs/pull/539/head"
    top.inference_engine = ie
    for name, module in (("openvino", top), ("openvino.inference_engine", ie)):
        monkeypatch.setitem(sys.modules, name, module)
    for name in [n for n in sys.modules if n.startswith("openvino.runtime")] + ["openvino.runtime"]:
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "fer_edge.runtime.ovcompat", None)
    spec = importlib.util.spec_from_file_location("fer_edge.runtime.ovcompat", Path(ovcompat.__file__))
    compat = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fer_edge.runtime.ovcompat", compat)
    spec.loader.exec_module(compat)
    import fer_edge.runtime.engine as engine

    monkeypatch.setattr(engine, "_CORE", None)
    _IECore.myriad, _IECore.loaded = "loads", []
    return compat, engine


def test_2021_api_is_presented_as_a_core(ov2021, tmp_path):
    compat, engine = ov2021
    assert compat.Core is compat.LegacyCore and compat.version() == (2021, 4) and compat.Model is None
    (tmp_path / "m.onnx").write_bytes(b"read by the stand-in")
    model = engine.load_model(tmp_path / "m.onnx", engine.EngineConfig(precision="f32", streams=2))
    device, config, shapes = _IECore.loaded[-1]
    # f32 pinned the 2021.4 way; streams by their old key; a dynamic batch fixed to 1 (2021.4 compiles static shapes)
    assert device == "CPU" and config["ENFORCE_BF16"] == "NO" and config["CPU_THROUGHPUT_STREAMS"] == "2"
    assert "PERFORMANCE_HINT" not in config and shapes == [[1, 4, 4, 1]]
    assert model.input_shape == (1, 4, 4, 1) and model.inference_precision == "f32"
    faces = np.arange(3 * 16, dtype=np.float32).reshape(3, 4, 4, 1)
    scores = model(faces)  # three rows through a static batch of one
    want = faces.reshape(3, -1).sum(-1)
    np.testing.assert_allclose(scores, np.stack([want, -want], -1))

    from fer_edge.runtime.asyncinfer import InferBatcher

    batcher = InferBatcher(model)  # start_async / wait / latency / get_output_tensor
    rows, busy = batcher(faces[:2])
    np.testing.assert_allclose(rows, scores[:2])
    assert busy == pytest.approx(3.0)  # two rows through a batch of one: two requests, 1.5 ms each
    assert batcher.requests == 3  # the pool of 4 less the model's own request


def test_myriad_without_a_stick_is_the_plugins_own_error_in_one_line(ov2021, tmp_path):
    compat, engine = ov2021
    (tmp_path / "m.onnx").write_bytes(b"read by the stand-in")
    with pytest.raises(FerEdgeError) as err:
        engine.load_model(tmp_path / "m.onnx", engine.EngineConfig(device="MYRIAD"))
    text = str(err.value)
    assert "Can not init Myriad device: NC_ERROR" in text and "found no Neural Compute Stick 2" in text
    assert "\n" not in text and "no MYRIAD plugin" not in text


@pytest.mark.parametrize(
    "loader, says",
    [
        ("libusb-1.0.so.0: cannot open shared object file: No such file or directory", "apt install libusb-1.0-0"),
        ('Device with "MYRIAD" name is not registered in the OpenVINO Runtime', "has no MYRIAD plugin"),
    ],
)
def test_a_plugin_that_cannot_load_is_told_apart_from_a_missing_one(ov2021, tmp_path, loader, says):
    compat, engine = ov2021
    _IECore.myriad = loader
    with pytest.raises(FerEdgeError, match="device MYRIAD is not available") as err:
        engine.check_device("MYRIAD")
    assert says in str(err.value) and "\n" not in str(err.value)
    other = "has no MYRIAD plugin" if "libusb" in loader else "libusb"
    assert other not in str(err.value)


def test_current_openvino_says_myriad_was_removed(monkeypatch):
    import fer_edge.runtime.engine as engine

    monkeypatch.setattr(engine, "available_devices", lambda: ["CPU"])
    with pytest.raises(FerEdgeError, match="removed in OpenVINO 2023.0: use OpenVINO 2021.4.2"):
        engine.check_device("MYRIAD")
