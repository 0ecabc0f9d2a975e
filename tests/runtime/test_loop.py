"""The one run loop: sinks, FPS and progress in both modes, stream folders inside --out, the demo's defaults."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime import EngineConfig, RunOptions, run
from fer_edge.runtime.bundle import load_bundle
from fer_edge.runtime.demo import demo_options
from fer_edge.runtime.events import read_events
from fer_edge.runtime.loop import run_sources
from fer_edge.runtime.streamio import stream_names, stream_outputs
from tests.support.ovmodels import frame_bundle
from tests.support.videos import face_leaves_video

ROOT = Path(__file__).resolve().parents[2]
F32 = EngineConfig(precision="f32")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("loop")
    return load_bundle(frame_bundle(root / "bundle").path), face_leaves_video(root / "one.avi")[0]


class Recorder:
    """A sink that keeps what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, float | None]] = []
        self.closed = 0

    def publish(self, stream, frame, faces, fps) -> None:
        assert frame.dtype == np.uint8 and frame.ndim == 3
        self.calls.append((stream, len(faces), fps))

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("threads", [1, 2])
def test_sinks_get_every_annotated_frame_with_its_fps(tmp_path, tiny, threads):
    bundle, video = tiny
    sink = Recorder()
    options = RunOptions(engine=F32, threads=threads, progress=False, sinks=[sink], events=tmp_path / "e.jsonl")
    (report,) = run([str(video)], bundle, options)
    assert report.frames == len(sink.calls) == 40 and sink.closed == 1
    assert {s for s, _, _ in sink.calls} == {"one"}
    # The FPS drawn on the video (both modes): none for the first frame, then frames per second so far.
    fps = [f for _, _, f in sink.calls]
    assert fps[0] is None and all(f is not None and f > 0 for f in fps[1:])
    faces = [n for _, n, _ in sink.calls]
    events = [e for e in read_events(tmp_path / "e.jsonl") if e["track"] is not None]
    assert sum(faces) == len(events) > 0


def test_a_failing_sink_stops_the_run_and_leaves_no_output(tmp_path, tiny):
    bundle, video = tiny

    class Broken(Recorder):
        def publish(self, stream, frame, faces, fps) -> None:
            raise RuntimeError("viewer gone")

    sink = Broken()
    with pytest.raises(RuntimeError, match="viewer gone"):
        run([str(video)], bundle, RunOptions(engine=F32, threads=2, progress=False, sinks=[sink], out=tmp_path / "o"))
    assert sink.closed == 1
    assert not [p for p in (tmp_path / "o").rglob("*") if p.is_file()]


@pytest.mark.parametrize("threads", [1, 2])
def test_progress_has_a_total_when_the_sources_have_lengths(monkeypatch, tiny, threads):
    import fer_edge.core.progress as progress

    bundle, video = tiny
    seen = []
    real = progress.progress

    def spy(*args, **kwargs):
        seen.append(kwargs.get("total"))
        return real(*args, **kwargs)

    monkeypatch.setattr(progress, "progress", spy)
    run([str(video), str(video)], bundle, RunOptions(engine=F32, threads=threads, max_frames=7))
    assert seen == [14]


def test_derived_stream_names_never_leave_out(tmp_path, tiny):
    bundle, video = tiny
    names = stream_names(["...mp4", "dir/x/..", "a/..mp4", ".hidden.mp4", "ok.mp4", "rtsp://h/../..", "è.mp4"])
    assert names == ["stream", "stream-2", "stream-3", "hidden", "ok", "h", "è"]
    assert all(n not in (".", "..") and "/" not in n and not n.startswith(".") for n in names)
    with pytest.raises(FerEdgeError, match="outside"):
        stream_outputs(tmp_path, [".."])
    # A file named "...mp4" and a folder given as dir/x/..: before, their outputs landed in out/..
    work = tmp_path / "work"
    (work / "dir" / "x").mkdir(parents=True)
    shutil.copy(video, work / "...mp4")
    frames = work / "dir" / "frames"
    (frames / "x").mkdir(parents=True)
    import cv2

    from fer_edge.runtime.video import open_source

    with open_source(video) as src:
        for i, (_, frame) in zip(range(3), src):
            cv2.imwrite(str(frames / f"{i:03d}.png"), frame)
    decoy = tmp_path / "events.jsonl"
    decoy.write_text("the user's own file\n")
    out = tmp_path / "out"
    reports = run_sources(
        [str(work / "...mp4"), str(work / "dir" / "frames" / "x" / ".."), str(video)],
        bundle,
        engine=F32,
        out=out,
        progress=False,
        max_frames=3,
    )
    assert [r.frames for r in reports] == [3, 3, 3]
    assert decoy.read_text() == "the user's own file\n"
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert all(w.startswith(("out/", "work/", "events.jsonl")) for w in written), written
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["one", "stream", "stream-2"]


def test_demo_options_own_the_demo_defaults():
    shown = demo_options(show=True, threads=None, infer_precision="f32", stream_timeout=3, tracker="kcf")
    assert shown.threads == 1 and shown.engine.precision == "f32" and shown.stream.read_timeout == 3.0
    assert shown.config.tracker == "kcf" and shown.config.detector in ("blazeface-both", "haar")
    assert demo_options().threads == 2 and demo_options(sources=2, show=True).threads == 2
    assert demo_options(precision="FP16").config.precision == "FP16"
    with pytest.raises(FerEdgeError, match="did you mean 'tracker'"):
        demo_options(trackr="kcf")
    with pytest.raises(FerEdgeError, match="--threads must be >= 1"):
        demo_options(threads=0)


def test_make_demo_twice_writes_demo_then_demo2(tmp_path, tiny):
    bundle, video = tiny
    make = shutil.which("make")
    if make:  # the Makefile's recipe leaves --out to the runs/demoN naming
        recipe = subprocess.run([make, "-n", "-C", str(ROOT), "demo"], capture_output=True, text=True, check=True)
        assert "fer-edge demo --no-show" in recipe.stdout and "--out" not in recipe.stdout
    from fer_edge.cli import main

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for _ in range(2):
            argv = [
                "-q",
                "demo",
                "--source",
                str(video),
                "--bundle",
                str(bundle.path),
                "--no-show",
                "--max-frames",
                "2",
            ]
            assert main(argv) == 0
    finally:
        os.chdir(cwd)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["demo", "demo2"]
    assert all((tmp_path / "runs" / d / "events.jsonl").is_file() for d in ("demo", "demo2"))


def test_read_events_is_one_line_on_a_bad_file(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"frame": 0, "track": null, "note": "no face"}\n[1, 2]\n')
    with pytest.raises(FerEdgeError, match=r"events.jsonl:2: not an event"):
        read_events(path)
    with pytest.raises(FerEdgeError, match="cannot read events"):
        read_events(tmp_path / "missing.jsonl")
