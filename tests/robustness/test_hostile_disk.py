"""Hostile inputs, a full disk: every verb that writes ends in one line naming the output and
the fix, a non-zero exit, and nothing partial under a final name (temporaries removed). The
disk is really full (``tests.support.fulldisk``); the rule is ``fer_edge.core.atomic.writing``.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from tests.support.fulldisk import FULL, run_full
from tests.support.ovmodels import frame_bundle

TEMP = re.compile(r"\.(tmp|old|part)-\d+")


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("full_disk_assets")
    bundle = frame_bundle(root / "bundle").path
    video = root / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (96, 64))
    rng = np.random.default_rng(0)
    for _ in range(120):  # noise: large frames for the writer, no face for the events
        writer.write(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    writer.release()
    return bundle, video


def _demo(assets, *out: str) -> list[str]:
    return ["demo", "--bundle", str(assets[0]), "--source", str(assets[1]), "--no-show", "--detector", "haar", *out]


def _nothing_final(run, *names: str) -> None:
    assert not [p for p in run.left if TEMP.search(p)], run.left
    for name in names:
        assert not [p for p in run.left if p.split("/")[-1] == name], run.left


def test_demo_video_on_a_full_disk(tmp_path, assets):
    run = run_full(_demo(assets, "--out", "full/run"), tmp_path / "full", size_kb=64, cwd=tmp_path)
    assert run.rc != 0
    assert re.search(rf"cannot write full/run/(demo\.mp4|events\.jsonl|timing\.json): ({FULL})", run.one_line())
    _nothing_final(run, "demo.mp4", "events.jsonl", "timing.json")


def test_demo_events_on_a_full_disk(tmp_path, assets):
    """The events writer (its own thread) meets ENOSPC on a write or on the final flush."""
    argv = _demo(assets, "--output", str(tmp_path / "demo.mp4"), "--events", "full/events.jsonl")
    argv += ["--timing", str(tmp_path / "timing.json")]
    run = run_full(argv, tmp_path / "full", size_kb=4, cwd=tmp_path)
    assert run.rc != 0
    # with the file-size limit instead of a tmpfs (no namespaces), the video outgrows it first
    written = r"full/events\.jsonl" if run.how == "tmpfs" else r"(full/events\.jsonl|\S*demo\.mp4)"
    assert re.search(rf"cannot write {written}: ({FULL})", run.one_line())
    _nothing_final(run, "events.jsonl")


def test_demo_video_cut_short_is_not_renamed(tmp_path, assets):
    """OpenCV drops frames it cannot write with a log line only; the count read back catches it."""
    run = run_full(_demo(assets, "--out", "full/run"), tmp_path / "full", size_kb=40, cwd=tmp_path, how="fsize")
    assert run.rc != 0
    assert re.search(rf"cannot write full/run/demo\.mp4: ({FULL})", run.one_line())
    _nothing_final(run, "demo.mp4", "events.jsonl", "timing.json")


def test_optimize_on_a_full_disk(tmp_path, assets):
    """OpenVINO's serializer says only 'basic_ios::clear: iostream error': the line names the output."""
    argv = ["optimize", str(assets[0]), "--precision", "fp16", "--out", "full/opt"]
    run = run_full(argv, tmp_path / "full", size_kb=2, cwd=tmp_path)
    assert run.rc != 0
    line = run.one_line()
    assert re.search(rf"cannot write full/opt/frame(-fp16|-fp32)?\.(xml|bin): ({FULL})", line), line
    assert run.left == [], run.left  # the staging folder is gone, and no opt/ was made


def test_bundle_unpack_on_a_full_disk(tmp_path, assets):
    from fer_edge.runtime.archive import pack_bundle

    archive = pack_bundle(assets[0], tmp_path / "b.tar.gz").archive
    run = run_full(["bundle", "unpack", str(archive), "-o", "full/b"], tmp_path / "full", size_kb=4, cwd=tmp_path)
    assert run.rc != 0
    line = run.one_line()
    assert re.search(rf"not enough disk space for .*b\.tar\.gz|cannot write full/b: ({FULL})", line), line
    assert run.left == [], run.left
