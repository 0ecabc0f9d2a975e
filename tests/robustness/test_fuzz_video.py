"""Fuzz: broken and odd videos through open_source, run_video and ``fer-edge demo``.

Truncated, zero-length, wrong extension, random bytes, 1x1 frames, grayscale, 4K, a broken
frame-rate header (what variable-frame-rate files often report), damaged frame folders.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fer_edge.cli import main
from fer_edge.runtime import EngineConfig, RunReport, run_video
from fer_edge.runtime.bundle import load_bundle
from fer_edge.runtime.video import VideoSource, open_source
from tests.support import fuzzing
from tests.support.ovmodels import frame_bundle

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module", autouse=True)
def _counts():
    yield
    fuzzing.flush()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzzvideo")


@pytest.fixture(scope="module")
def bundle(work):
    return load_bundle(frame_bundle(work / "bundle").path)


def _raw_writer(path, size, frames, *, color=True, fps=25.0, fourcc="MJPG"):
    """Write with OpenCV directly (open_writer would convert grayscale to BGR)."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size, color)
    assert w.isOpened(), path
    rng = np.random.default_rng(0)
    for _ in range(frames):
        shape = (size[1], size[0]) if not color else (size[1], size[0], 3)
        w.write(rng.integers(0, 255, shape, dtype=np.uint8))
    w.release()
    return path


@pytest.fixture(scope="module")
def good_avi(work):
    from fer_edge.data.synth import make_clip

    clip = make_clip("happy", subject="F001", frames=12, size=(160, 120), seed=1)
    path = work / "good.avi"
    _raw_writer(path, (160, 120), 0)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (160, 120))
    for f in clip.frames:
        w.write(f)
    w.release()
    return path


def _read_all(path):
    with open_source(path) as src:
        frames = [f for _, f in src]
    assert all(f.dtype == np.uint8 and f.ndim == 3 and f.shape[2] == 3 for f in frames)
    return src.info, len(frames)


def _run(path, bundle, work, **kw):
    return run_video(
        str(path),
        bundle,
        engine=EngineConfig(precision="f32"),
        output=work / "out.avi",
        events=work / "out.jsonl",
        progress=False,
        max_frames=kw.pop("max_frames", 6),
        **kw,
    )


def _both(cls, path, bundle, work):
    """open_source + read all, then the runtime; both must end well."""
    fuzzing.run_case(cls, lambda: _read_all(path), names=path)
    out = fuzzing.run_case(cls, lambda: _run(path, bundle, work), names=path)
    if isinstance(out, RunReport):
        assert out.frames >= 1 and (work / "out.jsonl").is_file()
    return out


@pytest.mark.slow
@SETTINGS
@given(st.floats(0.0, 0.98))
def test_truncated_avi(work, good_avi, bundle, fraction):
    data = good_avi.read_bytes()
    path = work / "cut.avi"
    path.write_bytes(data[: int(len(data) * fraction)])
    _both("video", path, bundle, work)


@pytest.mark.slow
@SETTINGS
@given(st.integers(0, 10**6), st.binary(min_size=1, max_size=64))
def test_corrupted_avi_bytes(work, good_avi, bundle, at, junk):
    data = bytearray(good_avi.read_bytes())
    at %= len(data)
    data[at : at + len(junk)] = junk
    path = work / "flipped.avi"
    path.write_bytes(bytes(data))
    _both("video", path, bundle, work)


@pytest.mark.slow
@SETTINGS
@given(st.binary(max_size=2048), st.sampled_from([".mp4", ".avi", ".mkv", ".png", ".jpg", ".mov", ""]))
def test_random_bytes_any_extension(work, bundle, data, ext):
    path = work / f"random{ext}"
    path.write_bytes(data)
    _both("video", path, bundle, work)


def test_zero_length_and_wrong_extension(work, good_avi, bundle):
    for name, data in [
        ("empty.mp4", b""),
        ("empty.avi", b""),
        ("text.avi", b"not a video\n" * 10),
        ("avi-named.png", good_avi.read_bytes()),
        ("avi-named.txt", good_avi.read_bytes()),
    ]:
        path = work / name
        path.write_bytes(data)
        _both("video", path, bundle, work)
    png = work / "still.png"
    cv2.imwrite(str(png), np.full((64, 64, 3), 90, np.uint8))
    (work / "png-named.mp4").write_bytes(png.read_bytes())
    _both("video", work / "png-named.mp4", bundle, work)


@pytest.mark.parametrize(
    "case", ["1x1", "gray", pytest.param("4k", marks=pytest.mark.slow), "odd 7x5", "broken fps header"]
)
def test_odd_videos(work, bundle, case):
    if case == "1x1":
        path = _raw_writer(work / "one.avi", (1, 1), 3)
    elif case == "gray":
        path = _raw_writer(work / "gray.avi", (96, 64), 4, color=False)
    elif case == "4k":
        path = _raw_writer(work / "uhd.avi", (3840, 2160), 2)
    elif case == "odd 7x5":
        path = _raw_writer(work / "odd.avi", (7, 5), 3)
    else:
        path = _raw_writer(work / "fps.avi", (64, 48), 4)
        data = bytearray(path.read_bytes())
        # AVI main header: dwMicroSecPerFrame = 0; stream header: dwScale = dwRate = 0.
        avih = data.find(b"avih") + 8
        data[avih : avih + 4] = struct.pack("<I", 0)
        strh = data.find(b"strh") + 8
        data[strh + 20 : strh + 28] = struct.pack("<II", 0, 0)
        path.write_bytes(bytes(data))
    out = _both("video", path, bundle, work)
    if case in ("gray", "4k", "broken fps header"):
        assert isinstance(out, RunReport), out
    if isinstance(out, RunReport):
        assert out.fps >= 0 and np.isfinite(out.seconds)


def test_frame_folders(work, bundle):
    cases = {
        "mixed sizes": [np.zeros((40, 60, 3), np.uint8), np.zeros((80, 30), np.uint8), np.zeros((5, 5, 4), np.uint8)],
        "1x1 gray": [np.zeros((1, 1), np.uint8)] * 3,
        "16-bit": [np.full((32, 32), 60000, np.uint16)] * 2,
    }
    for name, frames in cases.items():
        folder = work / name.replace(" ", "_")
        folder.mkdir()
        for i, f in enumerate(frames):
            cv2.imwrite(str(folder / f"{i}.png"), f)
        _both("frame_folder", folder, bundle, work)
    broken = work / "broken_frame"
    broken.mkdir()
    cv2.imwrite(str(broken / "0.png"), np.zeros((32, 32, 3), np.uint8))
    (broken / "1.png").write_bytes(b"\x89PNG broken")
    err = _both("frame_folder", broken, bundle, work)
    assert "1.png" in str(err)
    (work / "no_images").mkdir()
    _both("frame_folder", work / "no_images", bundle, work)


def test_demo_cli_on_broken_and_odd_videos(work, bundle, capsys):
    """The CLI prints one line (no traceback) and exits non-zero on a broken video."""
    path = work / "cli-broken.mp4"
    path.write_bytes(b"\x00" * 1000)
    rc = fuzzing.run_case(
        "video",
        lambda: main(
            [
                "demo",
                "--source",
                str(path),
                "--bundle",
                str(bundle.path),
                "--no-show",
                "--max-frames",
                "2",
                "--detector",
                "haar",
            ]
        ),
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "cli-broken.mp4" in err[0] and "Traceback" not in err[0]
    gray = _raw_writer(work / "cli-gray.avi", (96, 64), 3, color=False)
    rc = fuzzing.run_case(
        "video",
        lambda: main(
            [
                "demo",
                "--source",
                str(gray),
                "--bundle",
                str(bundle.path),
                "--no-show",
                "--out",
                str(work / "cli-out"),
                "--detector",
                "haar",
            ]
        ),
    )
    assert rc == 0 and (work / "cli-out" / "events.jsonl").is_file()


def test_source_reads_are_uint8_bgr(work):
    path = _raw_writer(work / "gray2.avi", (32, 24), 2, color=False)
    src = fuzzing.run_case("video", lambda: open_source(path), names=path)
    assert isinstance(src, VideoSource) and src.read().shape == (24, 32, 3)
    src.close()
