"""Open any video source (file, camera, frame folder, stream).

Every source yields ``(index, frame)`` with ``frame`` a BGR ``uint8`` array ``H x W x 3``, so
the rest of fer-edge never cares where frames come from. Opening a source reads its first
frame at once (kept, not lost) so that a corrupt or empty file fails with a clear message at
``open_source`` time instead of producing an empty run.

numpy + OpenCV only: this module is imported by the edge runtime.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_edge.core.errors import FerEdgeError

__all__ = ["IMAGE_EXTENSIONS", "STREAM_PREFIXES", "VideoInfo", "VideoSource", "open_source"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
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


def _open_capture(target: str | int, source_type: str, shown: str, fps: float | None) -> VideoSource:
    with _quiet_opencv():
        capture = cv2.VideoCapture(target)
        if source_type == "camera" or str(target).lower().startswith("tcp://"):
            # A one-frame buffer keeps a live camera's latency low when processing is slower
            # (tcp:// is how a Pi's camera module arrives, via rpicam-vid).
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if _valid_fps(fps):
                capture.set(cv2.CAP_PROP_FPS, float(fps))  # type: ignore[arg-type]
        opened = capture.isOpened()
        ok, first = capture.read() if opened else (False, None)
    if not ok or first is None:
        capture.release()
        if source_type == "camera":
            raise FerEdgeError(
                f"cannot open camera {shown}; check that it is connected and that this user may use it "
                "(e.g. the 'video' group on Linux, camera permission on macOS/Windows), or try another index"
            )
        if source_type == "stream":
            raise FerEdgeError(f"cannot read any frame from stream {shown}; check the URL, credentials and network")
        raise FerEdgeError(
            f"cannot read any frame from {shown} (corrupt, empty or unsupported); "
            f"re-encode it, e.g. with ffmpeg -i {shown} -c:v mjpeg out.avi"
        )
    first = _to_bgr(first)
    frames: int | None = None
    if source_type == "file":
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        frames = int(count) if np.isfinite(count) and count > 0 else None
    info = VideoInfo(
        source=shown,
        fps=_valid_fps(fps) or _valid_fps(capture.get(cv2.CAP_PROP_FPS)) or _DEFAULT_FPS,
        frames=frames,
        width=int(first.shape[1]),
        height=int(first.shape[0]),
        kind=source_type,
    )
    return VideoSource(info, first, capture=capture)


MAX_CAMERA = 255


def camera_index(source: str | int) -> int | None:
    """The camera index ``source`` names (``0``, ``"1"``), or None for a path/URL.

    Only ASCII digits count (``"²".isdigit()`` is true in Python), and a digit string that is
    an existing path stays a path.

    Raises:
        FerEdgeError: an index outside 0..MAX_CAMERA.

    Example:
        >>> camera_index("0"), camera_index("clip.mp4"), camera_index("²")
        (0, None, None)
    """
    if isinstance(source, bool):
        return None
    if isinstance(source, (int, np.integer)):
        index = int(source)
    else:
        text = os.fspath(source) if isinstance(source, (str, os.PathLike)) else str(source)
        text = (text if isinstance(text, str) else os.fsdecode(text)).strip()
        if not (text.isascii() and text.isdigit()) or os.path.exists(text):
            return None
        index = int(text)
    if not 0 <= index <= MAX_CAMERA:
        raise FerEdgeError(
            f"camera index {index} is out of range 0..{MAX_CAMERA}; "
            "give a camera number such as 0, a video file or a URL"
        )
    return index


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
    index = camera_index(source)
    if index is not None:
        return _open_capture(index, "camera", str(index), fps)
    text = os.fspath(source)
    if not isinstance(text, str):
        text = os.fsdecode(text)
    if text.lower().startswith(STREAM_PREFIXES):
        return _open_capture(text, "stream", text, fps)
    path = Path(text).expanduser()
    if path.is_dir():
        return _open_folder(path, fps)
    if not path.exists():
        raise FerEdgeError(f"video not found: {text}; check the path")
    if not path.is_file():
        # A FIFO or device never ends (or blocks until a writer comes): live input is a camera
        # index or a stream URL.
        raise FerEdgeError(
            f"{text} is a FIFO, device or socket, not a video file; "
            "for live input give a camera index (0) or a stream URL"
        )
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        # A single still image is a one-frame video (handy for quick checks).
        first = _imread(path)
        h, w = first.shape[:2]
        info = VideoInfo(str(path), _valid_fps(fps) or _DEFAULT_FPS, 1, int(w), int(h), "file")
        return VideoSource(info, first, files=[path])
    return _open_capture(str(path), "file", text, fps)
