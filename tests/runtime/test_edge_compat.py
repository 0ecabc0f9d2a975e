"""The runtime's OpenVINO-release compatibility, the edge checks' event comparer, stream details."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime import ovcompat

ROOT = Path(__file__).resolve().parents[2]


def _compare_events():
    spec = importlib.util.spec_from_file_location("compare_events", ROOT / "deploy" / "checks" / "compare_events.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _face(frame, label, box=(10, 10, 50, 50), happy=0.9):
    return {
        "frame": frame,
        "t": frame / 25,
        "track": 1,
        "box": list(box),
        "label": label,
        "scores": {"happy": happy, "sad": round(1 - happy, 4)},
    }


def _jsonl(path, events):
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return str(path)


def test_compare_events_labels_missing_faces_and_score_diff(tmp_path):
    cmp = _compare_events()
    ref = [_face(i, "happy") for i in range(100)] + [{"frame": 100, "t": 4.0, "track": None, "note": "no face"}]
    other = [_face(i, "happy", box=(11, 10, 50, 50), happy=0.9 - (0.05 if i == 3 else 0)) for i in range(99)]
    other[7] = _face(7, "sad", happy=0.4)
    a, b = _jsonl(tmp_path / "a.jsonl", ref), _jsonl(tmp_path / "b.jsonl", other)
    result = cmp.compare(cmp.read_faces(a), cmp.read_faces(b))
    # frame 99 is missing from the other run, frame 7 disagrees; the note line is not a face
    assert (result["faces"], result["same"]) == (100, 98)
    assert result["max_score_diff"] == pytest.approx(0.5)
    assert cmp.main([a, b, "--min-agree", "0.98"]) == 0
    assert cmp.main([a, b, "--min-agree", "0.99"]) == 1


def test_compare_events_matches_faces_by_nearest_box(tmp_path):
    cmp = _compare_events()
    ref = [_face(0, "happy", box=(0, 0, 40, 40)), _face(0, "sad", box=(200, 0, 40, 40), happy=0.1)]
    other = list(reversed(ref))  # same faces, other order (track ids may differ between runs)
    result = cmp.compare(cmp.read_faces(_jsonl(tmp_path / "a", ref)), cmp.read_faces(_jsonl(tmp_path / "b", other)))
    assert result["agree"] == 1.0 and result["max_score_diff"] == 0.0


class _FakeCore:
    def __init__(self, supported=None, myriad_plugin=False):
        self.supported = supported
        self.myriad_plugin = myriad_plugin

    def get_property(self, device, name):
        assert name == "SUPPORTED_PROPERTIES"
        if self.supported is None:
            raise RuntimeError("AUTO lists nothing")
        return self.supported

    def get_versions(self, device):
        if not self.myriad_plugin:
            raise RuntimeError(f'Device with "{device}" name is not registered in the OpenVINO Runtime')
        return {device: "2022.3"}


def test_supported_properties_drops_plugin_hints_the_device_lacks():
    props = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32", "CACHE_DIR": "/tmp/c"}
    myriad = _FakeCore(supported=["PERFORMANCE_HINT", "DEVICE_ID"])
    assert ovcompat.supported_properties(myriad, "MYRIAD.1.2-ma2480", props) == {
        "PERFORMANCE_HINT": "LATENCY",
        "CACHE_DIR": "/tmp/c",
    }
    assert ovcompat.supported_properties(_FakeCore(), "AUTO", props) == props


@pytest.mark.parametrize(
    "release, plugin, message",
    [
        ((2026, 4), False, "removed in OpenVINO 2023.0"),
        ((2022, 3), False, "has no MYRIAD plugin (the 2022.3 pip wheels and Raspberry Pi archives lack it)"),
        ((2022, 3), True, "loaded but found no Neural Compute Stick 2"),
    ],
)
def test_myriad_hint_names_the_case(monkeypatch, release, plugin, message):
    monkeypatch.setattr(ovcompat, "version", lambda: release)
    assert message in ovcompat.myriad_hint(_FakeCore(myriad_plugin=plugin))


def test_myriad_is_a_device_when_the_plugin_sees_a_stick(monkeypatch):
    import fer_edge.runtime.engine as engine

    monkeypatch.setattr(engine, "available_devices", lambda: ["CPU", "MYRIAD"])
    assert engine.check_device("myriad") == "MYRIAD"
    monkeypatch.setattr(engine, "available_devices", lambda: ["CPU"])
    with pytest.raises(FerEdgeError, match="device MYRIAD is not available: .*install-ncs2.sh"):
        engine.check_device("MYRIAD")


def test_openvino_2022_api_comes_from_openvino_runtime(monkeypatch):
    """2022.x has Core, Model... in ``openvino.runtime`` only: the compat layer finds them there."""
    import sys
    import types

    names = ("Core", "Model", "get_version")
    runtime = types.ModuleType("openvino.runtime")
    for name in names:
        setattr(runtime, name, type(name, (), {}))
    legacy = types.ModuleType("openvino")  # 2022.x: nothing at the top level
    legacy.__path__ = []
    legacy.runtime = runtime
    monkeypatch.setitem(sys.modules, "openvino", legacy)
    monkeypatch.setitem(sys.modules, "openvino.runtime", runtime)
    spec = importlib.util.spec_from_file_location("ovcompat_2022", Path(ovcompat.__file__))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert all(getattr(module, name) is getattr(runtime, name) for name in names)


def test_openvino_version_is_a_pair():
    major, minor = ovcompat.version()
    assert major >= 2022 and 0 <= minor < 100


class _FakeCapture:
    calls: list = []

    def __init__(self, target):
        self.target = target

    def set(self, prop, value):
        _FakeCapture.calls.append((self.target, prop, value))
        return True

    def isOpened(self):
        return True

    def read(self):
        import numpy as np

        return True, np.zeros((4, 6, 3), np.uint8)

    def get(self, prop):
        return 0.0

    def release(self):
        pass


@pytest.mark.parametrize("url, buffered", [("tcp://127.0.0.1:8888", True), ("rtsp://cam/stream", False)])
def test_tcp_streams_get_a_one_frame_buffer(monkeypatch, url, buffered):
    import cv2

    import fer_edge.runtime.video.source as source

    _FakeCapture.calls = []
    monkeypatch.setattr(source.cv2, "VideoCapture", _FakeCapture)
    with source.open_source(url, fps=30) as video:
        assert video.info.kind == "stream" and video.info.fps == 30
    assert ((url, cv2.CAP_PROP_BUFFERSIZE, 1) in _FakeCapture.calls) is buffered


def test_demo_fps_sets_event_times(tmp_path):
    from fer_edge.data.synth import make_clip
    from fer_edge.runtime import run_video
    from fer_edge.runtime.bundle import load_bundle
    from fer_edge.runtime.video import open_writer
    from tests.support.ovmodels import frame_bundle

    clip = make_clip("happy", subject="F001", frames=6, size=(160, 120), seed=2)
    video = tmp_path / "v.avi"
    with open_writer(video, 25.0, (160, 120)) as writer:
        for f in clip.frames:
            writer.write(f)
    bundle = load_bundle(frame_bundle(tmp_path / "b", size=32).path)
    run_video(str(video), bundle, events=tmp_path / "e.jsonl", progress=False, fps=10.0)
    times = {e["frame"]: e["t"] for e in map(json.loads, (tmp_path / "e.jsonl").read_text().splitlines())}
    assert times[5] == pytest.approx(0.5)


def test_runtime_modules_parse_as_python_3_9():
    """The NCS2 kit runs the runtime on Python 3.9: no syntax from 3.10+ in what it imports."""
    import ast

    runtime = [
        ROOT / "fer_edge" / name
        for name in ("bundle.py", "errors.py", "defaults.py", "assets.py", "labels.py", "__init__.py", "__main__.py")
    ]
    for package in ("deploy", "faces", "video", "cli", "kerasfile"):
        runtime += sorted((ROOT / "fer_edge" / package).glob("*.py"))
    for path in runtime:
        if path.exists():
            ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))
