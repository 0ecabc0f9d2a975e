"""Write videos and frame folders atomically.

Writers write to a temporary name next to the target and rename it when closed, so a crash
never leaves a half-written video under the final name.

numpy + OpenCV only: this module is imported by the edge runtime.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from fer_edge.core.atomic import clean_stale, commit, is_special, staging_dir, temp_path, write_error, writing
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.video.source import IMAGE_EXTENSIONS, _quiet_opencv, _to_bgr

__all__ = ["WRITER_FOURCC", "VideoWriter", "open_writer", "write_frames"]

_CHECK_EVERY = 16  # frames between free-space checks (a statvfs call)
_MIN_FREE = 1 << 20  # bytes: below this the next frames may not fit

# The opencv-python wheels carry no H.264 encoder; mp4v and MJPG always work.
WRITER_FOURCC = {".mp4": "mp4v", ".avi": "MJPG"}


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
        if self.frames_written % _CHECK_EVERY == 0:
            self._check_space()
        self._writer.write(np.ascontiguousarray(frame))
        self.frames_written += 1

    def _check_space(self) -> None:
        """OpenCV drops a frame it cannot write with only a log line: stop before the disk is full."""
        try:
            free = shutil.disk_usage(self.temp.parent).free
        except OSError:
            return
        if free < _MIN_FREE:
            error = write_error(self.path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))  # before abort frees
            self.abort()
            raise error

    def close(self) -> Path:
        """Finish the file and move it to :attr:`path`; returns :attr:`path`.

        Raises:
            FerEdgeError: the file on disk does not hold every frame written (OpenCV's writers
                drop a failed write silently, e.g. on a full disk); the temporary is removed.
        """
        if self._writer is None:
            return self.path
        self._writer.release()
        self._writer = None
        try:
            with writing(self.path):
                self._check_complete()
                commit(self.temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                self.temp.unlink()
            raise
        return self.path

    def _check_complete(self) -> None:
        """Read the finished file's frame count back (its index: no decoding) and compare."""
        if not self.frames_written:
            return
        if self.temp.suffix.lower() == ".mp4" and not _has_moov(self.temp):  # FFmpeg would log "moov atom not found"
            raise write_error(self.path, RuntimeError("no moov atom"))
        with _quiet_opencv():
            cap = cv2.VideoCapture(str(self.temp))
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
            cap.release()
        if count != self.frames_written:
            # OpenCV kept no errno; write_error says what the disk has left.
            raise write_error(self.path, RuntimeError(f"{count} of {self.frames_written} frames on disk"))

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


def _has_moov(path: Path) -> bool:
    """Whether an MP4 has its index (the ``moov`` box, written last): walks the top-level boxes."""
    try:
        with open(path, "rb") as fh:
            end, at = os.fstat(fh.fileno()).st_size, 0
            while at + 8 <= end:
                fh.seek(at)
                head = fh.read(16)
                size, kind = int.from_bytes(head[:4], "big"), head[4:8]
                if kind == b"moov":
                    return True
                if size == 1 and len(head) == 16:
                    size = int.from_bytes(head[8:16], "big")
                if size < 8:  # 0: "to the end of the file"; others: damaged
                    return False
                at += size
    except OSError:
        return False
    return False


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
    if path.is_dir() or is_special(path):
        raise FerEdgeError(f"cannot write video {path}: it is a folder, device or FIFO; give a new file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FerEdgeError(f"cannot create folder {path.parent} ({exc}); choose a writable output path") from None
    clean_stale(path)
    # Keep the real extension last: OpenCV picks the container from it.
    temp = temp_path(path, keep_suffix=True)
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
    with staging_dir(folder) as temp:
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
    return folder
