"""Interruption: SIGKILLed preprocess and extract resume to the same outputs; the demo finalizes on SIGTERM/SIGINT."""

from __future__ import annotations

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

from fer_edge.core.outputs import MARKER
from tests.support import interrupt as harness
from tests.support.interrupt_files import digest
from tests.support.ovmodels import frame_bundle

ROOT = Path(__file__).resolve().parents[2]
FOLDS_HEAD = "| fold | max val accuracy | seconds |\n|---|---|---|\n"


@pytest.mark.slow
def test_preprocess_killed_twice_resumes_to_the_same_outputs(tmp_path):
    stage = harness.STAGES["preprocess"]
    record = harness.run_stage(stage, tmp_path, kills=2, rng=random.Random(1))
    assert record.get("error") is None, record
    assert record["killed"] == 2 and record["final_rc"] == 0, record.get("final_error") or record
    assert record["half_written"] == []
    assert record["diff"] == {"only_reference": [], "only_interrupted": [], "differ": []}
    assert record["files"] > 10 and all(r["equal"] for r in record["resumed_runs"])


@pytest.mark.slow
@pytest.mark.tf
def test_extract_killed_twice_resumes_to_the_same_stores(tmp_path):
    record = harness.run_stage(harness.STAGES["extract"], tmp_path, kills=2, rng=random.Random(3))
    assert record.get("error") is None, record
    assert record["killed"] == 2 and record["final_rc"] == 0, record.get("final_error") or record
    assert record["half_written"] == [], record["half_written"]
    assert record["diff"] == {"only_reference": [], "only_interrupted": [], "differ": []}
    # the fold and test stores (originals and offline copies), the split and the run-folder marker
    assert record["files"] == 7 and all(r["equal"] for r in record["resumed_runs"])


def test_stale_or_partial_files_under_final_names_are_caught(tmp_path):
    """After a kill, a final-named file that parses but is not the final content is reported."""
    stage = harness.STAGES["train"]
    ref, out = tmp_path / "ref", tmp_path / "out"
    for root, rows in ((ref, "epoch,loss\n0,1.0\n1,0.5\n"), (out, "epoch,loss\n0,1.0\n")):
        (root / "cv").mkdir(parents=True)
        (root / "cv" / "log.csv").write_text(rows, encoding="utf-8")
        (root / "cv" / "folds.md").write_text(f"{FOLDS_HEAD}| 0 | 0.5000 | 12.3 |\n", encoding="utf-8")
    (out / "cv" / "folds.md").write_text(f"{FOLDS_HEAD}| 0 | 0.5000 | 9.9 |\n", encoding="utf-8")  # wall time: masked
    (out / "cv" / ".log.partial.csv").write_text("epoch,lo", encoding="utf-8")  # temporary: allowed
    (out / "extra.json").write_text("{}", encoding="utf-8")
    assert harness.check_complete_files(out) == []  # every file parses...
    problems = harness.stale_files(ref, out, stage)  # ...but two are not what a finished run writes
    assert problems == [
        "cv/log.csv: differs from the final content",
        "extra.json: not an output of the uninterrupted run",
    ]


def test_resumed_hdf5_store_compares_by_content(tmp_path):
    """A resumed store (another byte layout) equals one written in one go; a changed value does not."""
    import h5py
    import numpy as np

    from fer_edge.data.store import StoreWriter

    stage = harness.STAGES["extract"]
    for name, chunks in (("a", [[0, 1, 2]]), ("b", [[0], [1, 2]])):
        path = tmp_path / name / "s.h5"
        for chunk in chunks:  # "b": written, closed without finishing, reopened, finished
            writer = StoreWriter(path, features=4, classes=["x", "y"], length=3, attrs={"extractor": "e"})
            for i in chunk:
                writer.append(f"c{i}", np.full((2, 4), i, np.float32), "y")
            if chunk is chunks[-1]:
                writer.close()
            else:
                writer.abort()
    assert digest(tmp_path / "a" / "s.h5", stage) == digest(tmp_path / "b" / "s.h5", stage)
    with h5py.File(tmp_path / "b" / "s.h5", "a") as f:
        f["features"][0, 0, 0] = 7
    assert digest(tmp_path / "a" / "s.h5", stage) != digest(tmp_path / "b" / "s.h5", stage)


def test_half_written_files_are_detected(tmp_path):
    """The checker itself: a truncated JSON, PNG or JSONL under a final name is reported."""
    (tmp_path / "a.json").write_text('{"x": 1', encoding="utf-8")
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "c.jsonl").write_text('{"a": 1}\n{"b"', encoding="utf-8")
    (tmp_path / ".d.json.tmp-12").write_text("{", encoding="utf-8")  # temporary: allowed
    (tmp_path / "e.csv").write_text("a,b\n1,2\n3", encoding="utf-8")
    (tmp_path / "f.keras").write_bytes(b"PK\x03\x04cut")
    problems = harness.check_complete_files(tmp_path)
    assert [p.split(":")[0] for p in problems] == ["a.json", "b.png", "c.jsonl", "e.csv", "f.keras"]


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


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_demo_finalizes_outputs_on_signal(tmp_path, long_video, sig):
    bundle = frame_bundle(tmp_path / "bundle")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fer_edge",
            "demo",
            "--source",
            str(long_video),
            "--bundle",
            str(bundle.path),
            "--no-show",
            "--out",
            str(out),
            "--detector",
            "haar",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    # Wait until frames are being processed (events reached the temporary file: past its buffer).
    while time.monotonic() < deadline and not any(p.stat().st_size for p in out.glob(".events.jsonl.tmp-*")):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
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
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "demo.mp4", "events.jsonl", "timing.json"]


def test_optimize_report_timings_are_masked_by_rule_and_nothing_else(tmp_path):
    """Two optimize reports that differ only in measured times compare equal; any other cell does not."""
    from fer_edge.optimize.report import OptimizeReport, VariantRow

    def report(folder, scale: float, accuracy: float = 0.9):
        rows = [
            VariantRow("fp32", "openvino", "FP32", 0.2, 1000, 2_000_000, 0.9, 0.0),
            VariantRow("int8", "openvino", "INT8", 0.1, 1000, 2_000_000, accuracy, accuracy - 0.9),
        ]
        for i, r in enumerate(rows):
            r.latency_f32_ms = {"median": scale * (i + 1), "p90": scale * (i + 2)}
            r.latency_default_ms = {"median": scale * (i + 3), "p90": scale * (i + 4)}
            r.default_precision = "bf16"
            r.speedup_f32, r.speedup_default = 1.0 + scale * i, 1.0 + 2 * scale * i
        rep = OptimizeReport(bundle="b_int8", source="b", precision="int8", rows=rows, seconds=scale * 10)
        return rep.save(folder)

    stage = harness.STAGES["optimize"]
    a, b, c = report(tmp_path / "a", 1.0), report(tmp_path / "b", 1.7), report(tmp_path / "c", 1.0, accuracy=0.8)
    for name in ("report.md", "report.json"):
        assert a[name].read_text() != b[name].read_text()  # the times do differ...
        assert digest(a[name], stage) == digest(b[name], stage)  # ...and are masked
        assert digest(a[name], stage) != digest(c[name], stage)  # an accuracy is not a timing
