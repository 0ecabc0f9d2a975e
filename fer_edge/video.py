"""Open any video source (file, camera, frame folder, stream) and write videos atomically.

Every source yields ``(index, frame)`` with ``frame`` a BGR ``uint8`` array ``H x W x 3``, so
the rest of fer-edge never cares where frames come from. Opening a source reads its first
frame at once (kept, not lost) so that a corrupt or empty file fails with a clear message at
``open_source`` time instead of producing an empty run.

Writers write to a temporary name next to the target and rename it when closed, so a crash
never leaves a half-written video under the final name.

numpy + OpenCV only: this module is imported by the edge runtime.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_edge.errors import FerEdgeError

__all__ = [
    "IMAGE_EXTENSIONS",
    "WRITER_FOURCC",
    "VideoInfo",
    "VideoSource",
    "VideoWriter",
    "open_source",
    "open_writer",
    "write_frames",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
# The opencv-python wheels carry no H.264 encoder; mp4v and MJPG always work.
WRITER_FOURCC = {".mp4": "mp4v", ".avi": "MJPG"}
_STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
_DEFAULT_FPS = 30.0
_FPS_RANGE = (0.01, 1000.0)  # plausible frame rates (time-lapse .. high-speed cameras)


@dataclass(frozen=True)
class VideoInfo:
    """What a source is and what its frames look like.

    Attributes:
        source: the path, URL or camera index as given (as a string).
        fps: frames per second (reported by the container, the ``fps`` override, or 30).
        frames: number of frames, ``None`` for cameras and streams. For files it is the
            container's count, which some formats only estimate.
        width: frame width in pixels (of the first frame).
        height: frame height in pixels.
        kind: ``"file"``, ``"camera"``, ``"folder"`` or ``"stream"``.
    """

    source: str
    fps: float
    frames: int | None
    width: int
    height: int
    kind: str


def _to_bgr(frame: np.ndarray) -> np.ndarray:
    """Return ``frame`` as 3-channel BGR (grayscale and BGRA are converted)."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    channels = frame.shape[2]
    if channels == 3:
        return frame
    if channels == 1:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if channels == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    raise ValueError(f"cannot convert a frame with {channels} channels to BGR")


def _natural_key(name: str) -> list[object]:
    """Sort key that orders ``2.png`` before ``10.png``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings while probing, since we raise a clearer error."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:  # pragma: no cover - very old builds
        yield
        return
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        logging.setLogLevel(level)


class VideoSource:
    """Frames from a file, camera, frame folder or stream.

    Use :func:`open_source` to create one. Iterating yields ``(index, frame)`` pairs starting
    at 0; :meth:`read` returns the next frame or ``None`` at the end.

    Example:
        >>> with open_source("clip.mp4") as video:  # doctest: +SKIP
        ...     for index, frame in video:
        ...         print(index, frame.shape)
    """

    info: VideoInfo

    def __init__(
        self,
        info: VideoInfo,
        first: np.ndarray,
        *,
        capture: cv2.VideoCapture | None = None,
        files: list[Path] | None = None,
    ) -> None:
        self.info = info
        self._capture = capture
        self._files = files
        self._pending: np.ndarray | None = first  # the probed first frame, not yet returned
        self._next_file = 1  # files[0] was probed
        self._index = 0
        self._closed = False

    def read(self) -> np.ndarray | None:
        """Return the next BGR frame, or ``None`` when the source is exhausted or closed.

        Example:
            >>> frame = open_source("clip.mp4").read()  # doctest: +SKIP
        """
        if self._closed:
            return None
        if self._pending is not None:
            frame, self._pending = self._pending, None
        elif self._files is not None:
            frame = self._read_file()
        else:
            assert self._capture is not None
            ok, frame = self._capture.read()
            if not ok or frame is None:
                return None
            frame = _to_bgr(frame)
        if frame is not None:
            self._index += 1
        return frame

    def _read_file(self) -> np.ndarray | None:
        assert self._files is not None
        if self._next_file >= len(self._files):
            return None
        path = self._files[self._next_file]
        self._next_file += 1
        frame = _imread(path)
        if frame.shape[:2] != (self.info.height, self.info.width):
            # Downstream code (trackers, writers) needs one frame size per source.
            frame = cv2.resize(frame, (self.info.width, self.info.height), interpolation=cv2.INTER_AREA)
        return frame

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        while True:
            index = self._index
            frame = self.read()
            if frame is None:
                return
            yield index, frame

    def close(self) -> None:
        """Release the camera or file handle; further reads return ``None``."""
        if not self._closed:
            self._closed = True
            self._pending = None
            if self._capture is not None:
                self._capture.release()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        i = self.info
        return f"VideoSource({i.kind} {i.source!r}, {i.width}x{i.height} @ {i.fps:g} fps, frames={i.frames})"


def _imread(path: Path) -> np.ndarray:
    # imdecode on the bytes (not imread) so non-ASCII paths work on every OS.
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise FerEdgeError(f"cannot read image {path} ({exc}); check the file") from None
    frame = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if frame is None:
        raise FerEdgeError(f"cannot decode image {path} (corrupt or unsupported); re-save it as PNG or JPEG")
    if frame.dtype != np.uint8:
        # 16-bit PNGs: keep the high byte, as viewers show them.
        frame = (frame >> 8).astype(np.uint8) if frame.dtype == np.uint16 else cv2.convertScaleAbs(frame)
    return _to_bgr(frame)


def _valid_fps(value: float | None) -> float | None:
    if value is None:
        return None
    # Damaged or variable-frame-rate headers report 0, NaN or absurd rates (1e-4, 1e6), which
    # writers refuse; fall back to the default rather than fail.
    if not np.isfinite(value) or not _FPS_RANGE[0] <= value <= _FPS_RANGE[1]:
        return None
    return float(value)


def _open_folder(folder: Path, fps: float | None) -> VideoSource:
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
        key=lambda p: _natural_key(p.name),
    )
    if not files:
        raise FerEdgeError(
            f"no images found in folder {folder} (looked for {', '.join(IMAGE_EXTENSIONS)}); "
            "point to a folder of frames or to a video file"
        )
    first = _imread(files[0])
    info = VideoInfo(
        source=str(folder),
        fps=_valid_fps(fps) or _DEFAULT_FPS,
        frames=len(files),
        width=int(first.shape[1]),
        height=int(first.shape[0]),
        kind="folder",
    )
    return VideoSource(info, first, files=files)


def _open_capture(target: str | int, kind: str, shown: str, fps: float | None) -> VideoSource:
    with _quiet_opencv():
        capture = cv2.VideoCapture(target)
        if kind == "camera":
            # A one-frame buffer keeps a live camera's latency low when processing is slower.
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if _valid_fps(fps):
                capture.set(cv2.CAP_PROP_FPS, float(fps))  # type: ignore[arg-type]
        opened = capture.isOpened()
        ok, first = capture.read() if opened else (False, None)
    if not ok or first is None:
        capture.release()
        if kind == "camera":
            raise FerEdgeError(
                f"cannot open camera {shown}; check that it is connected and that this user may use it "
                "(e.g. the 'video' group on Linux, camera permission on macOS/Windows), or try another index"
            )
        if kind == "stream":
            raise FerEdgeError(
                f"cannot read any frame from stream {shown}; check the URL, credentials and network"
            )
        raise FerEdgeError(
            f"cannot read any frame from {shown} (corrupt, empty or unsupported); "
            f"re-encode it, e.g. with ffmpeg -i {shown} -c:v mjpeg out.avi"
        )
    first = _to_bgr(first)
    frames: int | None = None
    if kind == "file":
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        frames = int(count) if np.isfinite(count) and count > 0 else None
    info = VideoInfo(
        source=shown,
        fps=_valid_fps(fps) or _valid_fps(capture.get(cv2.CAP_PROP_FPS)) or _DEFAULT_FPS,
        frames=frames,
        width=int(first.shape[1]),
        height=int(first.shape[0]),
        kind=kind,
    )
    return VideoSource(info, first, capture=capture)


def open_source(source: str | int | os.PathLike[str], *, fps: float | None = None) -> VideoSource:
    """Open a video file, camera index, folder of frames or stream URL.

    Args:
        source: a video file path; a camera index (``0`` or ``"0"``); a folder of frames
            (``.jpg/.jpeg/.png/.bmp``, natural order so ``2.png`` precedes ``10.png``); or a
            URL (``rtsp://``, ``http(s)://``, ...) opened as a stream.
        fps: frame rate to report instead of the container's (folders default to 30); for a
            camera it is also requested from the driver.

    Returns:
        An open :class:`VideoSource`; its first frame has already been read (and is kept).

    Raises:
        FerEdgeError: the path is missing, the file yields no frame, the camera does not open
            or the folder holds no images.

    Example:
        >>> with open_source("0") as camera:  # doctest: +SKIP
        ...     frame = camera.read()
    """
    if isinstance(source, bool):
        raise TypeError("source must be a path, URL or camera index, not a bool")
    if isinstance(source, (int, np.integer)):
        return _open_capture(int(source), "camera", str(int(source)), fps)
    text = os.fspath(source)
    if not isinstance(text, str):
        text = os.fsdecode(text)
    if text.strip().isdigit() and not Path(text).exists():
        return _open_capture(int(text), "camera", text.strip(), fps)
    if text.lower().startswith(_STREAM_PREFIXES):
        return _open_capture(text, "stream", text, fps)
    path = Path(text).expanduser()
    if path.is_dir():
        return _open_folder(path, fps)
    if not path.exists():
        raise FerEdgeError(f"video not found: {text}; check the path")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        # A single still image is a one-frame video (handy for quick checks).
        first = _imread(path)
        h, w = first.shape[:2]
        info = VideoInfo(str(path), _valid_fps(fps) or _DEFAULT_FPS, 1, int(w), int(h), "file")
        return VideoSource(info, first, files=[path])
    return _open_capture(str(path), "file", text, fps)


class VideoWriter:
    """Writes frames to a temporary file and renames it to :attr:`path` on :meth:`close`.

    Use :func:`open_writer` to create one. As a context manager it closes on success and
    aborts (deletes the temporary file) when the block raises.

    Example:
        >>> with open_writer("out.mp4", 30, (640, 360)) as writer:  # doctest: +SKIP
        ...     writer.write(frame)
    """

    path: Path

    def __init__(self, path: Path, temp: Path, writer: cv2.VideoWriter, size: tuple[int, int]) -> None:
        self.path = path
        self.temp = temp
        self.size = size
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = writer

    def write(self, frame: np.ndarray) -> None:
        """Append one BGR ``uint8`` frame; other sizes are resized, gray/BGRA converted."""
        if self._writer is None:
            raise ValueError(f"writer for {self.path} is already closed")
        if frame.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 BGR, got {frame.dtype}")
        frame = _to_bgr(frame)
        width, height = self.size
        if frame.shape[1] != width or frame.shape[0] != height:
            frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        self._writer.write(np.ascontiguousarray(frame))
        self.frames_written += 1

    def close(self) -> Path:
        """Finish the file and move it to :attr:`path`; returns :attr:`path`."""
        if self._writer is None:
            return self.path
        self._writer.release()
        self._writer = None
        os.replace(self.temp, self.path)
        return self.path

    def abort(self) -> None:
        """Stop writing and delete the temporary file; :attr:`path` is left untouched."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        # Never leave a temporary file behind if the writer is dropped without close().
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self.abort()


def _temp_name(path: Path) -> Path:
    # Keep the real extension last: OpenCV picks the container from it.
    return path.with_name(f"{path.stem}.tmp-{os.getpid()}{path.suffix}")


def open_writer(path: str | os.PathLike[str], fps: float, size: tuple[int, int]) -> VideoWriter:
    """Open a video writer for ``.mp4`` (mp4v) or ``.avi`` (MJPG).

    Args:
        path: output file; parent folders are created.
        fps: frame rate, > 0.
        size: ``(width, height)`` of the output; frames of another size are resized.

    Raises:
        FerEdgeError: unsupported extension, invalid fps/size, or OpenCV cannot open the file.

    Example:
        >>> with open_writer("runs/overlay.mp4", 25.0, (640, 360)) as out:  # doctest: +SKIP
        ...     for _, frame in open_source("clip.mp4"):
        ...         out.write(frame)
    """
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in WRITER_FOURCC:
        raise FerEdgeError(
            f"cannot write video {path}: unsupported extension {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(WRITER_FOURCC)} (this OpenCV build cannot write H.264)"
        )
    if not np.isfinite(fps) or fps <= 0:
        raise FerEdgeError(f"cannot write video {path}: fps must be > 0, got {fps}")
    width, height = (int(v) for v in size)
    if width <= 0 or height <= 0:
        raise FerEdgeError(f"cannot write video {path}: size must be positive (width, height), got {size}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FerEdgeError(
            f"cannot create folder {path.parent} ({exc}); choose a writable output path"
        ) from None
    temp = _temp_name(path)
    fourcc = cv2.VideoWriter_fourcc(*WRITER_FOURCC[suffix])
    with _quiet_opencv():
        writer = cv2.VideoWriter(str(temp), fourcc, float(fps), (width, height))
    if not writer.isOpened():
        writer.release()
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise FerEdgeError(f"cannot open video writer for {path}; check that the folder is writable")
    return VideoWriter(path, temp, writer, (width, height))


def write_frames(folder: str | os.PathLike[str], frames: Iterable[np.ndarray], ext: str = ".png") -> Path:
    """Write frames as ``000.png, 001.png, ...`` into ``folder``, atomically.

    The frames go to a temporary sibling folder that is renamed to ``folder`` when all are
    written; an existing ``folder`` is replaced. Names are zero-padded to at least 3 digits
    (more when there are over 1000 frames) so they sort both naturally and alphabetically.

    Args:
        folder: destination folder, e.g. ``data/F001/Happy``.
        frames: BGR ``uint8`` frames (any iterable, consumed once).
        ext: ``.png`` (lossless, the default, as in the thesis), ``.jpg``/``.jpeg`` or ``.bmp``.

    Returns:
        The folder path.

    Example:
        >>> write_frames("data/F001/Happy", [frame] * 10)  # doctest: +SKIP
        PosixPath('data/F001/Happy')
    """
    folder = Path(folder).expanduser()
    ext = ext if ext.startswith(".") else f".{ext}"
    if ext.lower() not in IMAGE_EXTENSIONS:
        raise FerEdgeError(f"cannot write frames as {ext!r}; use one of {', '.join(IMAGE_EXTENSIONS)}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    try:
        count = 0
        # Stream the frames (a long clip need not fit in memory); widen the names afterwards
        # in the rare case of more than 1000 frames.
        for count, frame in enumerate(frames, start=1):
            ok, data = cv2.imencode(ext, frame)
            if not ok:
                raise FerEdgeError(
                    f"cannot encode frame {count - 1} for {folder} as {ext}; frames must be uint8 BGR images"
                )
            data.tofile(str(temp / f"{count - 1:03d}{ext}"))
        digits = len(str(count - 1))
        if digits > 3:
            for i in range(count):
                os.replace(temp / f"{i:03d}{ext}", temp / f"{i:0{digits}d}{ext}")
        if folder.exists():
            old = folder.with_name(f"{folder.name}.old-{os.getpid()}")
            os.replace(folder, old)
            os.replace(temp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, folder)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return folder
