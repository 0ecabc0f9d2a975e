"""Interruption: SIGKILLed preprocess resumes to the same outputs; the demo finalizes on SIGTERM/SIGINT."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from tests.ovmodels import frame_bundle

ROOT = Path(__file__).resolve().parents[1]


def _harness():
    spec = importlib.util.spec_from_file_location("fer_edge_interrupt", ROOT / "benchmarks" / "interrupt.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_preprocess_killed_twice_resumes_to_the_same_outputs(tmp_path):
    harness = _harness()
    stage = harness.STAGES["preprocess"]
    record = harness.run_stage(stage, tmp_path, kills=2, rng=random.Random(1))
    assert record.get("error") is None, record
    assert record["killed"] == 2 and record["final_rc"] == 0
    assert record["half_written"] == []
    assert record["diff"] == {"only_reference": [], "only_interrupted": [], "differ": []}
    assert record["files"] > 10 and all(r["equal"] for r in record["resumed_runs"])


def test_half_written_files_are_detected(tmp_path):
    """The checker itself: a truncated JSON, PNG or JSONL under a final name is reported."""
    harness = _harness()
    (tmp_path / "a.json").write_text('{"x": 1', encoding="utf-8")
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "c.jsonl").write_text('{"a": 1}\n{"b"', encoding="utf-8")
    (tmp_path / ".d.json.tmp-12").write_text("{", encoding="utf-8")  # temporary: allowed
    problems = harness.check_complete_files(tmp_path)
    assert [p.split(":")[0] for p in problems] == ["a.json", "b.png", "c.jsonl"]


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    from fer_edge.data.synth import make_clip

    clip = make_clip("happy", subject="F001", frames=30, size=(160, 120), seed=2)
    path = tmp_path_factory.mktemp("long") / "long.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (160, 120))
    for i in range(4000):  # long enough that the demo is still running when signalled
        writer.write(clip.frames[i % 30])
    writer.release()
    return path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_demo_finalizes_outputs_on_signal(tmp_path, long_video, sig):
    bundle = frame_bundle(tmp_path / "bundle")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "fer_edge", "demo", "--source", str(long_video), "--bundle",
                             str(bundle.path), "--no-show", "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    # Wait until frames are being processed (the events file exists under its temporary name).
    while time.monotonic() < deadline and not list(out.glob(".events.jsonl.tmp-*")):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr
    timing = json.loads((out / "timing.json").read_text())
    assert timing["interrupted"] is True and 0 < timing["frames"] < 4000
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert max(e["frame"] for e in events) == timing["frames"] - 1
    video = cv2.VideoCapture(str(out / "demo.mp4"))
    count = 0
    while video.read()[0]:
        count += 1
    assert count == timing["frames"]
    assert sorted(p.name for p in out.iterdir()) == ["demo.mp4", "events.jsonl", "timing.json"]
