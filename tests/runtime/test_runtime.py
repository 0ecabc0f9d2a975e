"""The real-time pipeline on synthetic face videos with tiny OpenVINO bundles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime import EngineConfig, Pipeline, PipelineConfig, run_video
from fer_edge.runtime.bundle import load_bundle
from fer_edge.runtime.events import EventWriter
from fer_edge.runtime.smoothing import EMA
from fer_edge.runtime.windows import RingBuffer
from tests.support.ovmodels import cascade_bundle, frame_bundle
from tests.support.videos import face_leaves_video, two_faces_video


@pytest.fixture(scope="module")
def clip_video(tmp_path_factory):
    return face_leaves_video(tmp_path_factory.mktemp("v") / "clip.avi")


@pytest.fixture(scope="module", name="two_faces_video")
def _two_faces_video(tmp_path_factory):
    return two_faces_video(tmp_path_factory.mktemp("v2") / "two.avi", frames=24)


def test_ring_buffer_order_and_mask():
    rb = RingBuffer(4, (2,))
    for i in range(6):
        rb.push(np.full(2, i, np.float32), frame=i)
    items, mask = rb.window()
    assert items[:, 0].tolist() == [2, 3, 4, 5] and mask.tolist() == [1, 1, 1, 1]
    rb2 = RingBuffer(4, (1,))
    rb2.push(np.ones(1), 7)
    items, mask = rb2.window()
    assert mask.tolist() == [1, 0, 0, 0] and items[1:].sum() == 0 and rb2.frames == (7, 7)
    assert rb.mean().tolist() == [3.5, 3.5]


def test_ema():
    e = EMA(0.25)
    e.update([1.0, 0.0])
    assert np.allclose(e.update([0.0, 1.0]), [0.75, 0.25])
    with pytest.raises(FerEdgeError, match="alpha"):
        EMA(0.0)


def test_event_writer_is_atomic(tmp_path):
    ev = EventWriter(tmp_path / "e.jsonl")
    ev.write({"frame": 0})
    assert not (tmp_path / "e.jsonl").exists()
    ev.close()
    assert (tmp_path / "e.jsonl").read_text() == '{"frame":0}\n'
    ev2 = EventWriter(tmp_path / "f.jsonl")
    ev2.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.jsonl"]


def test_frame_bundle_run(tmp_path, clip_video):
    path, clip = clip_video
    bundle = frame_bundle(tmp_path / "b")
    report = run_video(
        str(path),
        load_bundle(bundle.path),
        engine=EngineConfig(precision="f32"),
        output=tmp_path / "o.mp4",
        events=tmp_path / "e.jsonl",
        timing=tmp_path / "t.json",
        progress=False,
    )
    assert report.frames == 40
    events = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    by_frame = {}
    for e in events:
        by_frame.setdefault(e["frame"], []).append(e)
    assert sorted(by_frame) == list(range(40))
    # Every frame with a visible face has a track with scores, except up to `detect_every`
    # (10) frames after the face comes back from the gap (15-23), before the next detection.
    visible = [t for t in range(40) if clip.boxes[t, 0, 0] >= 0 and not 24 <= t < 34]
    tracked = [t for t in range(40) if by_frame[t][0]["track"] is not None]
    assert set(visible) <= set(tracked)
    for t in tracked:
        e = by_frame[t][0]
        assert set(e["scores"]) == {"happy", "sad", "surprise"}
        assert e["label"] == max(e["scores"], key=e["scores"].get)
        assert e["window"][1] == t and e["window"][1] - e["window"][0] < 3
    # the gap: no face -> a "no face" line, and the track is retired, a new one starts after
    assert any(e.get("note") == "no face" for t in range(16, 24) for e in by_frame[t])
    ids = {e["track"] for e in events if e["track"] is not None}
    assert len(ids) == 2
    timing = json.loads((tmp_path / "t.json").read_text())
    assert timing["frames"] == 40 and timing["fps"] > 0
    assert {"decode", "detect", "track", "preprocess", "infer", "postprocess", "draw"} <= set(timing["stages_ms"])
    assert (tmp_path / "o.mp4").stat().st_size > 1000
    assert not list(tmp_path.glob(".*tmp*"))


def test_cascade_runs_head_every_stride(tmp_path, clip_video):
    path, _ = clip_video
    bundle = load_bundle(cascade_bundle(tmp_path / "c", timesteps=8, stride=2, min_frames=3).path)
    pipe = Pipeline(bundle, PipelineConfig(alpha=1.0), EngineConfig(precision="f32"))
    from fer_edge.runtime.video import open_source

    windows = []
    with open_source(path) as src:
        for i, frame in src:
            if i >= 12:
                break
            faces = pipe.step(frame, i)
            windows.append(faces[0].window if faces else None)
    # no prediction before min_frames, then a new window every `stride` frames
    assert windows[0] is None and windows[1] is None
    assert windows[2] == (0, 2)
    assert windows[3] == (0, 2) and windows[4] == (0, 4)
    assert windows[10] == (3, 10) == windows[11]  # a ring of 8 frames, refreshed every 2


def _iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    return iw * ih / float(aw * ah + bw * bh - iw * ih)


def test_two_faces_keep_their_ids(tmp_path, two_faces_video):
    path, clip = two_faces_video
    bundle = frame_bundle(tmp_path / "b")
    run_video(str(path), load_bundle(bundle.path), events=tmp_path / "e.jsonl", progress=False)
    events = [json.loads(x) for x in (tmp_path / "e.jsonl").read_text().splitlines()]
    ids = {0: {}, 1: {}}  # ground-truth face -> {track id: frames}
    for e in events:
        if e["track"] is None:
            continue
        for face in (0, 1):
            if _iou(e["box"], clip.boxes[e["frame"], face]) > 0.5:
                ids[face][e["track"]] = ids[face].get(e["track"], 0) + 1
    # Each real face is seen in every frame under one stable id, distinct from the other's.
    assert list(ids[0].values()) == [24] and list(ids[1].values()) == [24]
    assert set(ids[0]) != set(ids[1])


def test_frame_size_mismatch_is_one_line(tmp_path):
    b = frame_bundle(tmp_path / "b")
    data = json.loads((b.path / "manifest.json").read_text())
    data["frame"]["size"] = [48, 48]
    (b.path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(FerEdgeError, match="does not fit the manifest's frame"):
        Pipeline(load_bundle(b.path))


def test_cli_demo_outputs(tmp_path, clip_video, capsys):
    path, _ = clip_video
    bundle = frame_bundle(tmp_path / "b")
    rc = main(
        [
            "demo",
            "--source",
            str(path),
            "--bundle",
            str(bundle.path),
            "--out",
            str(tmp_path / "run"),
            "--no-show",
            "--tracker",
            "kcf",
            "--precision",
            "FP16",
            "--detector",
            "haar",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "| detect |" in out and "next: fer-edge demo" in out
    for name in ("demo.mp4", "events.jsonl", "timing.json"):
        assert (tmp_path / "run" / name).stat().st_size > 0
    import cv2

    cap = cv2.VideoCapture(str(tmp_path / "run" / "demo.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 40


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--source", "missing.mp4"], "video not found"),
        (["demo", "--device", "MYRIAD"], "2022.3"),
        (["demo", "--smoothing", "2"], "alpha"),
        (["demo", "--detect-every", "0"], "detect-every"),
        (["demo", "--precision", "INT8"], "no INT8 frame model"),
    ],
)
def test_cli_demo_user_errors(tmp_path, clip_video, capsys, argv, message):
    bundle = frame_bundle(tmp_path / "b")
    if "--source" not in argv:
        argv = [*argv, "--source", str(clip_video[0])]
    rc = main([*argv, "--bundle", str(bundle.path), "--no-show", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc != 0 and message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run" / "demo.mp4").exists()


def test_cli_unknown_tracker_did_you_mean(capsys):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--tracker", "kfc"])
    assert info.value.code == 2
    assert "did you mean 'kcf'" in capsys.readouterr().err


def test_stage_timer_memory_is_bounded_and_mean_exact():
    from fer_edge.runtime.timers import StageTimer

    t = StageTimer(window=100)
    for i in range(1000):
        t.add("infer", float(i))
    s = t.summary()["infer"]
    assert s["count"] == 1000 and s["mean"] == 499.5  # whole run
    assert s["median"] == 949.5  # last 100 samples only
    assert t._rings["infer"].data.nbytes == 400


def test_cascade_crop_side_is_locked_per_track(tmp_path):
    from types import SimpleNamespace

    bundle = load_bundle(cascade_bundle(tmp_path / "c").path)
    pipe = Pipeline(bundle, PipelineConfig(relock=1.5), EngineConfig(precision="f32"))
    pipe.tracks[1] = "window"  # stands for a live window of track 1
    assert pipe._locked_box(SimpleNamespace(id=1, box=(100, 100, 90, 90))) == (100, 100, 90, 90)
    # a re-detected box 20 % smaller keeps the side, re-centred; the window goes on
    assert pipe._locked_box(SimpleNamespace(id=1, box=(110, 110, 72, 72))) == (101, 101, 90, 90)
    assert pipe.tracks[1] == "window"
    # a 2x jump re-locks the side and restarts the window
    assert pipe._locked_box(SimpleNamespace(id=1, box=(50, 50, 180, 180))) == (50, 50, 180, 180)
    assert 1 not in pipe.tracks
    with pytest.raises(FerEdgeError, match="relock"):
        PipelineConfig(relock=1.0)
