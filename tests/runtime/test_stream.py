"""Stream faults: stalled reads, dropped frames and reconnects never hang or kill the runtime."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime import EngineConfig, run_video
from fer_edge.runtime import stream as stream_mod
from fer_edge.runtime.bundle import load_bundle
from fer_edge.runtime.stream import ResilientSource, StreamPolicy, is_live, open_stream
from fer_edge.runtime.video import VideoInfo
from tests.support.ovmodels import frame_bundle

FAST = dict(read_timeout=0.2, open_timeout=0.5, backoff=0.0, max_backoff=0.0)


class FakeCapture:
    """A scripted live source: each step is 'frame', 'stall' (blocks), 'drop' (None) or 'error'."""

    def __init__(self, script, release: threading.Event, size=(64, 48)):
        self.script = list(script)
        self.release = release
        self.info = VideoInfo("rtsp://fake", 25.0, None, size[0], size[1], "stream")
        self.closed = False
        self.count = 0

    def read(self):
        step = self.script.pop(0) if self.script else "end"
        if step == "stall":
            self.release.wait(5)  # a stuck cap.read(); the test frees it at teardown
            return None
        if step == "error":
            raise RuntimeError("decoder exploded\nsecond line")
        if step in ("drop", "end"):
            return None
        self.count += 1
        return np.full((self.info.height, self.info.width, 3), self.count % 255, np.uint8)

    def close(self):
        self.closed = True


class FakeOpener:
    """Opens FakeCaptures from a list of scripts; 'refuse' fails to open, 'hang' blocks."""

    def __init__(self, scripts):
        self.scripts = list(scripts)
        self.opened: list[FakeCapture] = []
        self.release = threading.Event()

    def __call__(self, source):
        script = self.scripts.pop(0) if self.scripts else "refuse"
        if script == "refuse":
            raise FerEdgeError(f"cannot read any frame from stream {source}; check the URL")
        if script == "hang":
            self.release.wait(5)
            raise FerEdgeError("too late")
        cap = FakeCapture(script, self.release)
        self.opened.append(cap)
        return cap


@pytest.fixture
def opener():
    op = FakeOpener([])
    yield op
    op.release.set()


def _frames(src, n=100):
    out = []
    for _ in range(n):
        f = src.read()
        if f is None:
            break
        out.append(f)
    return out


def test_is_live():
    assert is_live(0) and is_live("1") and is_live("rtsp://cam/x") and is_live("HTTP://x/y.mjpg")
    assert not is_live("clip.mp4") and not is_live(True)


def test_policy_checks_and_backoff():
    p = StreamPolicy(backoff=0.5, max_backoff=3.0)
    assert [p.wait(i) for i in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    for bad in (dict(read_timeout=0), dict(max_reconnects=-1), dict(backoff=2.0, max_backoff=1.0)):
        with pytest.raises(FerEdgeError):
            StreamPolicy(**bad)


def test_stall_reconnects_and_is_reported(opener):
    opener.scripts = [["frame", "frame", "stall"], ["frame", "frame"]]
    src = ResilientSource("rtsp://fake", StreamPolicy(max_reconnects=3, **FAST), opener=opener)
    start = time.monotonic()
    frames = _frames(src)
    assert time.monotonic() - start < 4  # the stalled read did not hang the caller
    assert len(frames) == 4
    notes = src.drain_notes()
    assert notes[0] == "stream stalled for 0.2 s; reconnecting (1/3)"
    assert notes[1] == "stream reconnected after 1 attempt"
    # the second capture ends, nothing more opens: bounded tries, then a final note
    assert notes[-1].endswith("giving up after 3 reconnect attempts")
    assert src.stalls == 1 and src.reconnects == 1 and src.drops == 1
    assert src.read() is None and src.drain_notes() == []
    assert opener.opened[1].closed


def test_dropped_frames_and_errors_reconnect(opener):
    opener.scripts = [["frame", "drop"], "refuse", ["error"], ["frame"]]
    src = ResilientSource("rtsp://fake", StreamPolicy(max_reconnects=4, **FAST), opener=opener)
    frames = _frames(src)
    notes = src.drain_notes()
    assert len(frames) == 2
    assert notes[:4] == [
        "stream dropped (no frame); reconnecting (1/4)",
        "reopen failed (cannot read any frame from stream rtsp://fake; check the URL); reconnecting (2/4)",
        "stream reconnected after 2 attempts",
        "stream read failed (decoder exploded); reconnecting (1/4)",
    ]
    assert all("\n" not in n for n in notes)


def test_reopen_that_hangs_times_out(opener):
    opener.scripts = [["frame", "drop"], "hang", ["frame"]]
    src = ResilientSource("rtsp://fake", StreamPolicy(max_reconnects=2, **FAST), opener=opener)
    assert len(_frames(src, 3)) == 2
    notes = src.drain_notes()
    assert notes[1] == "reopen timed out after 0.5 s; reconnecting (2/2)"


def test_first_open_fails_with_one_line(opener):
    opener.scripts = ["hang"]
    with pytest.raises(FerEdgeError, match=r"cannot open 'rtsp://fake' within 0.5 s"):
        ResilientSource("rtsp://fake", StreamPolicy(**FAST), opener=opener)
    opener.scripts = ["refuse"]
    with pytest.raises(FerEdgeError, match="cannot read any frame from stream"):
        open_stream("rtsp://fake", policy=StreamPolicy(**FAST), opener=opener)


def test_no_reconnects_policy_and_backoff_sleeps(opener):
    waits = []
    opener.scripts = [["frame", "drop"], "refuse", "refuse"]
    src = ResilientSource(
        "rtsp://fake",
        StreamPolicy(read_timeout=0.2, open_timeout=0.5, max_reconnects=2, backoff=0.25, max_backoff=1.0),
        opener=opener,
        sleep=waits.append,
    )
    assert len(_frames(src)) == 1 and waits == [0.25, 0.5]
    opener.scripts = [["drop"]]
    src = ResilientSource("rtsp://fake", StreamPolicy(max_reconnects=0, **FAST), opener=opener)
    assert src.read() is None
    assert src.drain_notes() == ["stream dropped (no frame); not reconnecting"]


@pytest.mark.parametrize("threads", [1, 2], ids=["sequential", "pipelined"])
def test_run_video_keeps_going_and_notes_events(tmp_path, monkeypatch, opener, threads):
    """End to end: the runtime on a flaky 'RTSP' stream writes the notes into its events file,
    those that come with the end of the stream included, in both loops."""
    opener.scripts = [["frame"] * 3 + ["stall"], ["drop"], ["frame"] * 4]
    monkeypatch.setattr(stream_mod, "open_source", opener)
    bundle = load_bundle(frame_bundle(tmp_path / "b").path)
    report = run_video(
        "rtsp://fake",
        bundle,
        engine=EngineConfig(precision="f32"),
        events=tmp_path / "e.jsonl",
        timing=tmp_path / "t.json",
        progress=False,
        stream=StreamPolicy(max_reconnects=2, **FAST),
        threads=threads,
    )
    assert report.frames == 7 and not report.interrupted
    lines = [json.loads(x) for x in (tmp_path / "e.jsonl").read_text().splitlines()]
    notes = [(e["frame"], e["note"]) for e in lines if e.get("note") not in (None, "no face")]
    assert notes == [
        (3, "stream stalled for 0.2 s; reconnecting (1/2)"),
        (3, "stream reconnected after 1 attempt"),
        (3, "stream dropped (no frame); reconnecting (1/2)"),
        (3, "stream reconnected after 1 attempt"),
        (7, "stream dropped (no frame); reconnecting (1/2)"),
        (7, "reopen failed (cannot read any frame from stream rtsp://fake; check the URL); reconnecting (2/2)"),
        (
            7,
            "reopen failed (cannot read any frame from stream rtsp://fake; check the URL); "
            "giving up after 2 reconnect attempts",
        ),
    ]
    assert all(set(e) >= {"frame", "t", "track", "box", "label"} for e in lines)
    assert json.loads((tmp_path / "t.json").read_text())["frames"] == 7
