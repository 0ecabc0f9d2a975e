"""The pipelined multi-stream runtime: same events as the sequential loop, streams independent."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from fer_edge.bundle import load_bundle
from fer_edge.deploy import EngineConfig, run_video
from fer_edge.deploy.multi import stream_names
from fer_edge.deploy.run import run_sources
from fer_edge.video import VideoInfo, open_source
from tests.ovmodels import cascade_bundle, frame_bundle
from tests.videos import face_leaves_video, two_faces_video

F32 = EngineConfig(precision="f32")


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi")
    return face_leaves_video(root / "one.avi")[0], two_faces_video(root / "two.avi", frames=30)[0]


def _frames(path) -> int:
    with open_source(path) as src:
        return sum(1 for _ in src)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["frame", "cascade"])
def test_pipelined_events_equal_sequential(tmp_path, videos, kind):
    build = frame_bundle if kind == "frame" else cascade_bundle
    bundle = load_bundle(build(tmp_path / "bundle").path)
    for video in videos:
        out = {}
        for threads in (1, 2):
            folder = tmp_path / f"{video.stem}-{threads}"
            report = run_video(video, bundle, engine=F32, threads=threads, output=folder / "demo.avi",
                               events=folder / "events.jsonl", timing=folder / "timing.json", progress=False)
            out[threads] = (folder / "events.jsonl").read_text(), report
        assert out[1][0] == out[2][0] and out[1][0]
        assert out[1][1].frames == out[2][1].frames == _frames(video)
        assert _frames(tmp_path / f"{video.stem}-2" / "demo.avi") == out[2][1].frames
        stages = out[2][1].stages_ms
        assert {"decode", "detect", "infer", "draw", "write", "latency"} <= set(stages)


@pytest.mark.slow
def test_many_sources_share_models_and_write_per_stream(tmp_path, videos):
    bundle = load_bundle(frame_bundle(tmp_path / "bundle").path)
    sources = [videos[0], videos[1], videos[0]]
    reports = run_sources(sources, bundle, engine=F32, out=tmp_path / "out", progress=False)
    names = stream_names(sources)
    assert names == ["one", "two", "one-2"]
    for name, video, report in zip(names, sources, reports):
        folder = tmp_path / "out" / name
        assert sorted(p.name for p in folder.iterdir()) == ["demo.mp4", "events.jsonl", "timing.json"]
        assert report.frames == _frames(video)
        # Each stream has its own tracks: the same events as running it alone.
        alone = tmp_path / f"alone-{name}.jsonl"
        run_video(video, bundle, engine=F32, events=alone, progress=False)
        assert (folder / "events.jsonl").read_text() == alone.read_text()


class BlockingSource:
    """A live source that hangs in ``read`` until released (then ends)."""

    def __init__(self) -> None:
        self.info = VideoInfo(source="blocked", fps=25.0, frames=None, width=64, height=48, kind="stream")
        self.release = threading.Event()

    def read(self):
        self.release.wait(60)
        return None

    def close(self) -> None:
        self.release.set()


def test_a_stalled_stream_never_blocks_the_others(tmp_path, videos):
    bundle = load_bundle(frame_bundle(tmp_path / "bundle").path)
    blocked = BlockingSource()
    finished_while_blocked = []

    def watchdog():
        deadline = time.monotonic() + 120
        done = tmp_path / "out" / "one" / "events.jsonl"
        while time.monotonic() < deadline and not done.exists():
            time.sleep(0.05)
        finished_while_blocked.append(done.exists() and not blocked.release.is_set())
        blocked.release.set()

    dog = threading.Thread(target=watchdog, daemon=True)
    dog.start()
    reports = run_sources([videos[0], blocked], bundle, engine=F32, out=tmp_path / "out", progress=False)
    dog.join()
    assert finished_while_blocked == [True]
    assert reports[0].frames == _frames(videos[0]) and reports[1].frames == 0


def test_stream_names_are_unique_folder_names():
    assert stream_names(["x/a.mp4", "y/a.mp4", "a", 1, "rtsp://h:554/s?x=1"]) == [
        "a", "a-2", "a-3", "cam1", "h-554-s-x-1"]
    assert np.unique(stream_names(["v.mp4"] * 5)).size == 5
