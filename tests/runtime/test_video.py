"""fer_edge.runtime.video: open files, folders, cameras and streams; write videos and frame folders atomically."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.video import VideoInfo, open_source, open_writer, write_frames

W, H, N, FPS = 64, 48, 12, 10.0


def _frame(i: int, width: int = W, height: int = H) -> np.ndarray:
    """A frame whose brightness encodes its index (survives lossy codecs) plus a colour cue."""
    frame = np.full((height, width, 3), 10 + 20 * i, np.uint8)
    frame[: height // 2, : width // 2] = (255, 0, 0)  # blue in BGR: catches channel swaps
    return frame


def _index_of(frame: np.ndarray) -> int:
    return round((float(frame[H // 2 :, W // 2 :].mean()) - 10) / 20)


@pytest.fixture(params=[".mp4", ".avi"])
def video_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / f"clip{request.param}"
    with open_writer(path, FPS, (W, H)) as writer:
        for i in range(N):
            writer.write(_frame(i))
    return path


def test_file_round_trip(video_file: Path) -> None:
    with open_source(video_file) as video:
        assert video.info == VideoInfo(str(video_file), FPS, N, W, H, "file")
        items = list(video)
    assert [i for i, _ in items] == list(range(N))
    assert [_index_of(f) for _, f in items] == list(range(N))  # first frame not lost by the probe
    first = items[0][1]
    assert first.dtype == np.uint8 and first.shape == (H, W, 3)
    assert first[2, 2, 0] > 200 and first[2, 2, 2] < 60  # still blue: BGR order kept


def test_read_returns_none_at_end_and_after_close(video_file: Path) -> None:
    video = open_source(str(video_file))
    frames = [video.read() for _ in range(N)]
    assert all(f is not None for f in frames)
    assert video.read() is None
    video.close()
    assert video.read() is None
    video.close()  # idempotent


def test_fps_override(video_file: Path) -> None:
    with open_source(video_file, fps=25) as video:
        assert video.info.fps == 25.0


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FerEdgeError, match=r"video not found: .*nope\.mp4; check the path"):
        open_source(tmp_path / "nope.mp4")


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "random.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(FerEdgeError, match=r"cannot read any frame from .*random\.mp4.*ffmpeg -i"):
        open_source(path)


@pytest.mark.parametrize("ext, fourcc", [(".mp4", "mp4v"), (".avi", "MJPG")])
def test_zero_frame_file_fails_at_open(tmp_path: Path, ext: str, fourcc: str) -> None:
    path = tmp_path / f"empty{ext}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (W, H))
    writer.release()
    assert path.exists()
    with pytest.raises(FerEdgeError, match="corrupt, empty or unsupported"):
        open_source(path)


def test_folder_natural_order_and_conversions(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    # Names that sort wrongly as text (10 before 2); a gray PNG, an RGBA PNG, a JPEG, and junk.
    cv2.imwrite(str(folder / "1.png"), _frame(1))
    cv2.imwrite(str(folder / "2.png"), cv2.cvtColor(_frame(2), cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "10.png"), cv2.cvtColor(_frame(10), cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(folder / "3.jpg"), _frame(3))
    cv2.imwrite(str(folder / "4.PNG"), _frame(4, W * 2, H * 2))  # other size: resized
    (folder / "notes.txt").write_text("not a frame")
    with open_source(folder) as video:
        assert video.info.kind == "folder"
        assert video.info.frames == 5
        assert video.info.fps == 30.0
        assert (video.info.width, video.info.height) == (W, H)
        frames = [f for _, f in video]
    assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 for f in frames)
    # Gray frame 2 has lost its colour: compare the (gray) index patch, not the blue corner.
    assert [_index_of(f) for f in frames] == [1, 2, 3, 4, 10]
    assert open_source(folder, fps=12.5).info.fps == 12.5


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(FerEdgeError, match=r"no images found in folder .*\.jpg, \.jpeg, \.png, \.bmp"):
        open_source(tmp_path)


def test_single_image_is_one_frame_video(tmp_path: Path) -> None:
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), _frame(5))
    with open_source(path) as video:
        assert video.info.frames == 1
        assert [_index_of(f) for _, f in video] == [5]


def test_camera_that_does_not_exist() -> None:
    for source in (97, "97"):
        with pytest.raises(FerEdgeError, match=r"cannot open camera 97; .*permission.*another index"):
            open_source(source)


class _FakeCapture:
    """Stands in for cv2.VideoCapture on a machine without a camera: 3 gray frames, then done."""

    opened_with: list[object] = []

    def __init__(self, target: object) -> None:
        self.opened_with.append(target)
        self.left = 3
        self.props: dict[int, float] = {}

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def set(self, prop: int, value: float) -> bool:
        self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        return self.props.get(prop, 0.0)

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.left == 0:
            return False, None
        self.left -= 1
        return True, np.full((H, W), 100 + self.left, np.uint8)

    def release(self) -> None:
        self.left = 0


@pytest.mark.parametrize(
    "source, target, kind",
    [(0, 0, "camera"), ("1", 1, "camera"), ("rtsp://camera.local/stream", "rtsp://camera.local/stream", "stream")],
)
def test_camera_and_stream_dispatch(monkeypatch: pytest.MonkeyPatch, source: object, target: object, kind: str) -> None:
    _FakeCapture.opened_with = []
    monkeypatch.setattr(cv2, "VideoCapture", _FakeCapture)
    with open_source(source, fps=15) as video:  # type: ignore[arg-type]
        assert _FakeCapture.opened_with == [target]
        assert video.info.kind == kind
        assert video.info.frames is None
        assert video.info.fps == 15.0
        frames = [f for _, f in video]
    assert [int(f[0, 0, 0]) for f in frames] == [102, 101, 100]  # probe frame kept, in order
    assert all(f.shape == (H, W, 3) for f in frames)  # gray converted to BGR


def test_writer_temp_then_rename(tmp_path: Path) -> None:
    path = tmp_path / "out" / "nested" / "video.mp4"  # parent folders are created
    writer = open_writer(path, FPS, (W, H))
    writer.write(_frame(0))
    assert writer.temp.exists() and writer.temp.suffix == ".mp4" and writer.temp.parent == path.parent
    assert not path.exists()
    assert writer.close() == path
    assert path.exists() and not writer.temp.exists()
    assert writer.frames_written == 1


def test_writer_abort_and_exception_remove_temp(tmp_path: Path) -> None:
    path = tmp_path / "video.avi"
    path.write_bytes(b"previous result")
    writer = open_writer(path, FPS, (W, H))
    writer.write(_frame(0))
    writer.abort()
    assert not writer.temp.exists()
    assert path.read_bytes() == b"previous result"  # an aborted write never touches the target

    with pytest.raises(RuntimeError, match="boom"):
        with open_writer(path, FPS, (W, H)) as writer:
            writer.write(_frame(1))
            raise RuntimeError("boom")
    assert not writer.temp.exists()
    assert path.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video.avi"]


def test_writer_resizes_and_converts(tmp_path: Path) -> None:
    path = tmp_path / "resized.avi"
    with open_writer(path, FPS, (W, H)) as writer:
        writer.write(_frame(3, W * 2, H * 2))
        writer.write(cv2.cvtColor(_frame(4), cv2.COLOR_BGR2GRAY))
    with open_source(path) as video:
        frames = [f for _, f in video]
    assert [f.shape for f in frames] == [(H, W, 3)] * 2
    assert [_index_of(f) for f in frames] == [3, 4]


@pytest.mark.parametrize("name", ["out.mkv", "out.mov", "out"])
def test_writer_unsupported_extension(tmp_path: Path, name: str) -> None:
    with pytest.raises(FerEdgeError, match=r"unsupported extension .*use one of \.mp4, \.avi"):
        open_writer(tmp_path / name, FPS, (W, H))


@pytest.mark.parametrize("fps, size", [(0, (W, H)), (float("nan"), (W, H)), (FPS, (0, H))])
def test_writer_bad_fps_or_size(tmp_path: Path, fps: float, size: tuple[int, int]) -> None:
    with pytest.raises(FerEdgeError, match="cannot write video"):
        open_writer(tmp_path / "x.mp4", fps, size)


def test_write_frames_layout_and_replace(tmp_path: Path) -> None:
    folder = tmp_path / "F001" / "Happy"
    assert write_frames(folder, (_frame(i) for i in range(N))) == folder
    assert sorted(os.listdir(folder)) == [f"{i:03d}.png" for i in range(N)]
    with open_source(folder) as video:
        assert [_index_of(f) for _, f in video] == list(range(N))
    assert np.array_equal(cv2.imread(str(folder / "004.png")), _frame(4))  # PNG is lossless

    write_frames(folder, [_frame(7)] * 2, ext="jpg")  # replaces the old folder wholesale
    assert sorted(os.listdir(folder)) == ["000.jpg", "001.jpg"]
    assert sorted(os.listdir(folder.parent)) == ["Happy"]  # no temporary or old folders left


def test_write_frames_failure_keeps_previous(tmp_path: Path) -> None:
    folder = tmp_path / "clip"
    write_frames(folder, [_frame(1)])

    def broken():
        yield _frame(2)
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError, match="generator failed"):
        write_frames(folder, broken())
    assert sorted(os.listdir(tmp_path)) == ["clip"]
    assert os.listdir(folder) == ["000.png"]
    assert _index_of(cv2.imread(str(folder / "000.png"))) == 1


def test_write_frames_wide_names_and_bad_ext(tmp_path: Path) -> None:
    small = np.zeros((2, 2, 3), np.uint8)
    folder = write_frames(tmp_path / "long", [small] * 1001, ext=".bmp")
    names = sorted(os.listdir(folder))
    assert names[0] == "0000.bmp" and names[-1] == "1000.bmp" and len(names) == 1001
    with pytest.raises(FerEdgeError, match=r"cannot write frames as '\.gif'"):
        write_frames(tmp_path / "gif", [small], ext=".gif")
