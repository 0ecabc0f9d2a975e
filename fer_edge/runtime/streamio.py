"""One stream's I/O threads in the pipelined runtime (:mod:`fer_edge.runtime.multi`): a reader that
decodes ahead into a bounded queue, and a writer that writes events, draws and encodes in frame
order and renames its outputs into place when the stream is complete.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_edge.runtime.events import EventWriter, face_event, note_event
from fer_edge.runtime.overlay import draw_frame
from fer_edge.runtime.stream import ResilientSource
from fer_edge.runtime.timers import LATENCY


@dataclass
class StreamOutputs:
    """Where one stream's results go (None: not written)."""

    video: str | None = None
    events: str | None = None
    timing: str | None = None


class StreamReader(threading.Thread):
    """Decode ahead into a bounded queue; ``None`` marks the end of the stream."""

    def __init__(self, name: str, src: Any, size: int, timer, limit: int | None = None) -> None:
        super().__init__(name=f"fer-edge-read-{name}", daemon=True)
        self.src, self.timer, self.limit = src, timer, limit
        self.queue: queue.Queue = queue.Queue(maxsize=size)
        self.stop = threading.Event()

    def run(self) -> None:
        end: Any = None
        try:
            read = 0
            while not self.stop.is_set() and (self.limit is None or read < self.limit):
                read += 1  # no frame decoded past --max-frames: decode time counts frames used
                start = time.perf_counter()
                frame = self.src.read()
                done = time.perf_counter()
                self.timer.add("decode", (done - start) * 1000.0)
                notes = self.src.drain_notes() if isinstance(self.src, ResilientSource) else []
                if frame is None:
                    if notes:  # why the stream ended (as the sequential loop writes it)
                        self._put((None, done, notes))
                    break
                if not self._put((frame, done, notes)):
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


class StreamWriter(threading.Thread):
    """Events, overlay and video of one stream, in frame order; counts a frame once written."""

    def __init__(self, name: str, outputs: StreamOutputs, fps: float, size: tuple[int, int], timer) -> None:
        super().__init__(name=f"fer-edge-write-{name}", daemon=True)
        from fer_edge.runtime.video import open_writer

        self.queue: queue.Queue = queue.Queue(maxsize=8)
        self.timer, self.fps = timer, fps
        self.frames = self.with_face = 0
        self.tracks: set[int] = set()
        self.error: BaseException | None = None
        self.closed: dict[str, str] | None = None
        self.video = open_writer(outputs.video, fps, size) if outputs.video else None
        self.events = EventWriter(outputs.events) if outputs.events else None

    def run(self) -> None:
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
                self._write(*item)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the main thread
                self.error = exc

    def _write(self, index: int, frame: np.ndarray | None, faces: list, decoded: float, notes: list[str]) -> None:
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
        if self.video is not None:
            with self.timer("draw"):
                draw_frame(frame, faces)
            with self.timer("write"):
                self.video.write(frame)
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
