"""The pipelined multi-stream runtime: same events as the sequential loop, streams independent."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from fer_edge.runtime import EngineConfig, run_video
from fer_edge.runtime.asyncinfer import InferBatcher, WaitingTimer
from fer_edge.runtime.bundle import load_bundle
from fer_edge.runtime.loop import run_sources
from fer_edge.runtime.multi import stream_names
from fer_edge.runtime.timers import format_table
from fer_edge.runtime.video import VideoInfo, open_source
from tests.support.ovmodels import cascade_bundle, frame_bundle
from tests.support.videos import face_leaves_video, two_faces_video

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
            report = run_video(
                video,
                bundle,
                engine=F32,
                threads=threads,
                output=folder / "demo.avi",
                events=folder / "events.jsonl",
                timing=folder / "timing.json",
                progress=False,
            )
            out[threads] = (folder / "events.jsonl").read_text(), report
        assert out[1][0] == out[2][0] and out[1][0]
        assert out[1][1].frames == out[2][1].frames == _frames(video)
        assert _frames(tmp_path / f"{video.stem}-2" / "demo.avi") == out[2][1].frames
        stages = out[2][1].stages_ms
        assert {"decode", "detect", "infer", "draw", "write", "latency"} <= set(stages)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["frame", "cascade"])
def test_many_sources_share_models_and_write_per_stream(tmp_path, videos, kind):
    build = frame_bundle if kind == "frame" else cascade_bundle
    bundle = load_bundle(build(tmp_path / "bundle").path)
    sources = [videos[0], videos[1], videos[0]]
    reports = run_sources(sources, bundle, engine=F32, out=tmp_path / "out", progress=False)
    names = stream_names(sources)
    assert names == ["one", "two", "one-2"]
    for name, video, report in zip(names, sources, reports):
        folder = tmp_path / "out" / name
        assert sorted(p.name for p in folder.iterdir()) == ["demo.mp4", "events.jsonl", "timing.json"]
        assert report.frames == _frames(video)
        # Each stream has its own tracks: the same events as running it alone, sequentially.
        alone = tmp_path / f"alone-{name}.jsonl"
        run_video(video, bundle, engine=F32, events=alone, progress=False, threads=1)
        assert (folder / "events.jsonl").read_text() == alone.read_text()
        if kind == "cascade":  # the temporal head ran, through the shared batcher
            assert any(json.loads(line).get("label") for line in alone.read_text().splitlines())


class BlockingSource:
    """A live source that gives ``frames`` (faces: its stream uses the shared models), then hangs
    in ``read`` until released (then ends)."""

    def __init__(self, frames=()) -> None:
        h, w = frames[0].shape[:2] if len(frames) else (48, 64)
        self.info = VideoInfo(source="blocked", fps=25.0, frames=None, width=w, height=h, kind="stream")
        self.frames = list(frames)
        self.release = threading.Event()

    def read(self):
        if self.frames:
            return self.frames.pop(0)
        self.release.wait(60)
        return None

    def close(self) -> None:
        self.release.set()


@pytest.mark.parametrize("given", [0, 5])
def test_a_stalled_stream_never_blocks_the_others(tmp_path, videos, given):
    bundle = load_bundle(cascade_bundle(tmp_path / "bundle").path)
    with open_source(videos[0]) as src:
        frames = [src.read() for _ in range(given)]
    blocked = BlockingSource(frames)
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
    assert reports[0].frames == _frames(videos[0]) and reports[1].frames == given
    if given:  # the stalled stream's frames before the stall were written, faces and all
        name = stream_names([videos[0], blocked])[1]
        events = [json.loads(line) for line in (tmp_path / "out" / name / "events.jsonl").read_text().splitlines()]
        assert sorted({e["frame"] for e in events}) == list(range(given)) and any(e["track"] for e in events)


def test_stream_names_are_unique_folder_names():
    assert stream_names(["x/a.mp4", "y/a.mp4", "a", 1, "rtsp://h:554/s?x=1"]) == [
        "a",
        "a-2",
        "a-3",
        "cam1",
        "h-554-s-x-1",
    ]
    assert np.unique(stream_names(["v.mp4"] * 5)).size == 5


@pytest.mark.slow
def test_pipelined_timing_is_busy_time_not_wall_time(tmp_path, videos):
    bundle = load_bundle(cascade_bundle(tmp_path / "bundle").path)
    reports = run_sources(
        [videos[0], videos[1]], bundle, engine=F32, out=tmp_path / "out", progress=False, video=False, max_frames=20
    )
    for report, name in zip(reports, ["one", "two"]):
        timing = json.loads((tmp_path / "out" / name / "timing.json").read_text())
        stages = timing["stages"]
        assert timing["pipelined"] and timing["frames"] == report.frames > 0
        # one latency sample per written frame; one infer sample per frame with a face
        assert stages["latency"]["count"] == report.frames
        assert stages["infer"]["count"] == report.frames_with_face > 0
        assert stages["decode"]["count"] == report.frames == 20  # nothing decoded past --max-frames
        assert all(s["mean"] >= 0 and s["p90"] >= s["median"] >= 0 for s in stages.values())
        # The table's sum is over the stages; latency spans them and is left out of it (with
        # overlapping frames neither bounds the other, so nothing here compares them).
        table = format_table(stages).splitlines()
        total = sum(s["frame_mean"] for k, s in stages.items() if k != "latency")
        assert table[-1] == f"| sum | {total:.2f} | | | | |"


def test_waiting_timer_books_waits_out_of_infer():
    timer = WaitingTimer()
    timer.waiting_ms = 5.0
    timer.add("detect", 3.0)  # only infer samples are reduced
    timer.add("infer", 7.0)
    timer.add("infer", 4.0)  # the wait was used up by the first sample
    timer.waiting_ms = 9.0
    timer.add("infer", 4.0)  # never below zero
    s = timer.summary(3)
    assert s["detect"]["mean"] == 3.0 and s["infer"]["count"] == 3
    assert timer._rings["infer"].recent().tolist() == [2.0, 4.0, 0.0] and timer.waiting_ms == 0.0


@pytest.mark.parametrize("static_one, requests", [(False, 1), (False, 2), (True, 2)])
def test_batcher_gives_each_thread_its_own_rows(tmp_path, static_one, requests):
    import openvino as ov

    from fer_edge.runtime.engine import load_model
    from tests.support.ovmodels import frame_model

    model = frame_model(16)
    if static_one:  # a model exported with a fixed batch of one: one request per row
        model.reshape([1, 16, 16, 3])
    ov.save_model(model, str(tmp_path / "m.xml"))
    compiled = load_model(tmp_path / "m.xml", F32)
    batcher = InferBatcher(compiled, requests)  # 2: two leaders' batches run at once
    rng = np.random.default_rng(0)
    inputs = [rng.random((1 + i % 3, 16, 16, 3), dtype=np.float32) * 2 - 1 for i in range(24)]
    want = [np.concatenate([compiled(x[j : j + 1]) for j in range(len(x))]) for x in inputs]
    got: dict[int, tuple] = {}
    start = threading.Barrier(len(inputs))

    def call(i):
        start.wait()  # all at once: the batcher joins several callers' rows into one request
        got[i] = batcher(inputs[i])
        got[i] = batcher(inputs[i])  # again, while others are still in their first call

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with pytest.raises(ValueError, match="takes 1 inputs"):
        batcher(inputs[0], inputs[0])
    for i, (rows, busy) in got.items():
        np.testing.assert_allclose(rows, want[i], rtol=1e-5, atol=1e-6)
        assert busy > 0
    assert sorted(got) == list(range(len(inputs)))
