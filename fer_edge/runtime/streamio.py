"""One stream's reading and writing, shared by both modes of the run loop (:mod:`fer_edge.runtime.multi`):
a reader that decodes (ahead, into a bounded queue, when threaded), a writer that writes events, draws
the overlay (FPS included), encodes, hands each annotated frame to the run's sinks and renames its
outputs into place when the stream is complete; and the one rule for where each stream's files go.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.events import EventWriter, face_event, note_event
from fer_edge.runtime.overlay import draw_frame
from fer_edge.runtime.stream import ResilientSource
from fer_edge.runtime.timers import LATENCY
from fer_edge.runtime.video.source import camera_index

log = logging.getLogger(__name__)

__all__ = ["StreamOutputs", "StreamReader", "StreamWriter", "stream_names", "stream_outputs"]

# Characters a derived folder name keeps (letters and digits in any script, "_", ".", "-").
_UNSAFE = re.compile(r"[^\w.-]+")


@dataclass
class StreamOutputs:
    """Where one stream's results go (None: not written)."""

    video: str | None = None
    events: str | None = None
    timing: str | None = None


def _safe_name(text: str) -> str:
    """``text`` as one harmless path component: no separator, never ``.``/``..``/hidden, <= 80 chars."""
    name = _UNSAFE.sub("-", text).strip("-.")[:80].strip("-.")
    return name or "stream"


def stream_names(sources: Sequence[Any]) -> list[str]:
    """Folder names for ``out/<stream>/``: file stem, ``cam<N>`` or the URL's tail; safe and unique.

    Every name is one plain path component (a file named ``...mp4`` or a folder given as
    ``dir/x/..`` becomes ``stream``, never ``..``), so no stream writes outside ``out``.

    Example:
        >>> stream_names(["a/clip.mp4", "b/clip.mp4", 0, "rtsp://10.0.0.2/live", "...mp4"])
        ['clip', 'clip-2', 'cam0', '10.0.0.2-live', 'stream']
    """
    names: list[str] = []
    for src in sources:
        index = camera_index(src) if isinstance(src, (str, int, np.integer)) else None
        if index is not None:
            name = f"cam{index}"
        elif isinstance(src, (str, os.PathLike)) and not str(src).lower().startswith(("rtsp:", "rtmp:", "http")):
            name = Path(src).stem
        else:
            name = str(src).split("://", 1)[-1] if isinstance(src, (str, os.PathLike)) else type(src).__name__
        base = name = _safe_name(name)
        k = 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def stream_outputs(out: str | os.PathLike, names: Sequence[str], *, video: bool = True) -> list[StreamOutputs]:
    """Each stream's ``out/<name>/demo.mp4``, ``events.jsonl`` and ``timing.json``, all inside ``out``.

    Raises:
        FerEdgeError: a name that would leave ``out`` (only a caller's own names can: see
            :func:`stream_names`).
    """
    root = Path(out).resolve()
    result = []
    for name in names:
        folder = (root / name).resolve()
        if folder.parent != root:
            raise FerEdgeError(f"stream name {name!r} would write outside {out}; name the stream a plain folder name")
        result.append(
            StreamOutputs(
                str(folder / "demo.mp4") if video else None, str(folder / "events.jsonl"), str(folder / "timing.json")
            )
        )
    return result


class StreamReader:
    """Decode one frame at a time (:meth:`read`), inline or from its own thread into a bounded queue.

    An item is ``(frame, decoded_at, notes)``; ``(None, t, notes)`` carries why a stream ended.
    """

    def __init__(self, name: str, src: Any, size: int, timer, limit: int | None = None) -> None:
        self.name, self.src, self.timer, self.limit = name, src, timer, limit
        self.queue: queue.Queue = queue.Queue(maxsize=size)
        self.stop = threading.Event()
        self.count = 0
        self.done = False
        self.thread: threading.Thread | None = None

    def read(self) -> tuple | None:
        """The next item, or None when the stream is over (``limit`` frames read, or no more)."""
        if self.done or (self.limit is not None and self.count >= self.limit):
            self.done = True
            return None
        self.count += 1  # no frame decoded past --max-frames: decode time counts frames used
        start = time.perf_counter()
        frame = self.src.read()
        done = time.perf_counter()
        self.timer.add("decode", (done - start) * 1000.0)
        notes = self.src.drain_notes() if isinstance(self.src, ResilientSource) else []
        if frame is None:
            self.done = True
            return (None, done, notes) if notes else None  # why the stream ended, as a note
        return frame, done, notes

    def start(self) -> None:
        """Decode ahead in a thread; items, then ``None`` (or the exception that ended it), in :attr:`queue`."""
        self.thread = threading.Thread(target=self._run, name=f"fer-edge-read-{self.name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        end: Any = None
        try:
            while not self.stop.is_set():
                item = self.read()
                if item is None or not self._put(item) or item[0] is None:
                    break
        except Exception as exc:  # noqa: BLE001 - ends this stream only; its worker logs it
            end = exc
        self._put(end)

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def is_alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class StreamWriter:
    """Events, overlay (FPS included), video and sinks of one stream in frame order; counts a frame once written.

    :meth:`write` runs inline (one thread) or from the writer's own thread fed by :attr:`queue`
    (:meth:`start`). ``sinks`` get each annotated frame (see :class:`fer_edge.runtime.loop.RunOptions`).
    """

    def __init__(self, name: str, outputs: StreamOutputs, fps: float, size: tuple[int, int], timer, sinks=()) -> None:
        from fer_edge.runtime.video import open_writer

        self.name = name
        self.queue: queue.Queue = queue.Queue(maxsize=8)
        self.timer, self.fps = timer, fps
        self.sinks = list(sinks)
        self.frames = self.with_face = 0
        self.tracks: set[int] = set()
        self.error: BaseException | None = None
        self.closed: dict[str, str] | None = None
        self.start_time = time.perf_counter()
        self.thread: threading.Thread | None = None
        self.video = open_writer(outputs.video, fps, size) if outputs.video else None
        try:
            self.events = EventWriter(outputs.events) if outputs.events else None
        except BaseException:
            if self.video is not None:
                self.video.abort()
            raise

    def start(self) -> None:
        self.start_time = time.perf_counter()
        self.thread = threading.Thread(target=self._run, name=f"fer-edge-write-{self.name}", daemon=True)
        self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                if self.error is None:  # this stream is complete: its outputs are final now
                    try:
                        self.close(ok=True)
                    except BaseException as exc:  # noqa: BLE001 - re-raised by the main thread
                        self.error = exc
                return
            if self.error is not None:
                continue  # keep draining so the main thread never blocks on a full queue
            try:
                self.write(*item)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the main thread
                self.error = exc

    def write(self, index: int, frame: np.ndarray | None, faces: list, decoded: float, notes: list[str]) -> None:
        t = index / self.fps
        ev = self.events
        if ev is not None:
            for note in notes:
                ev.write(note_event(index, t, note))
        if frame is None:  # notes that came with the end of the stream: no frame to count
            return
        if ev is not None:
            if not faces:
                ev.write(note_event(index, t, "no face"))
            for f in faces:
                ev.write(face_event(index, t, f.track, f.box, f.label, f.scores, f.window))
        if self.video is not None or self.sinks:
            with self.timer("draw"):
                elapsed = time.perf_counter() - self.start_time
                fps = self.frames / elapsed if elapsed > 0 and self.frames else None
                draw_frame(frame, faces, fps)
            if self.video is not None:
                with self.timer("write"):
                    self.video.write(frame)
            for sink in self.sinks:
                sink.publish(self.name, frame, faces, fps)
        self.frames += 1  # counted only once written
        if faces:
            self.with_face += 1
            self.tracks.update(f.track for f in faces)
        self.timer.add(LATENCY, (time.perf_counter() - decoded) * 1000.0)

    def close(self, ok: bool) -> dict[str, str]:
        """Rename the outputs into place (``ok``) or remove them; once (later calls return the same)."""
        if self.closed is not None:
            return self.closed
        outputs = {}
        for kind, out in (("video", self.video), ("events", self.events)):
            if out is None:
                continue
            if ok:
                outputs[kind] = str(out.close())
            else:
                out.abort()
        self.closed = outputs
        return outputs
