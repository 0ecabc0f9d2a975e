"""The pipelined runtime: several streams, decode-ahead and writer threads, one set of models.

Per stream a reader thread decodes ahead into a bounded queue and a writer thread writes the
events, draws and encodes the video from another bounded queue; the main thread takes the
frames that are ready (never waiting for one stream: a stalled camera only stalls itself),
detects/tracks and crops each, runs the frame model once on all their faces together and hands
each stream its rows (:meth:`Pipeline.prepare` / :meth:`Pipeline.finish`). Each stream keeps its
own tracks and buffers, so its events are the ones the sequential loop would write; frames stay
in order within a stream (FIFO queues, one consumer each).

Timing is per stream: each stage's busy time (``decode`` in the reader, ``detect`` ... ``infer``
in the main thread, ``draw``/``write`` in the writer; a batched inference is shared out by
faces) and ``latency``, the end-to-end milliseconds from a frame being decoded to its events
and video frame being written.

numpy + OpenCV + OpenVINO only.
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

from fer_edge.deploy.events import EventWriter, face_event, note_event
from fer_edge.deploy.overlay import draw_frame
from fer_edge.deploy.pipeline import Pipeline
from fer_edge.deploy.stream import ResilientSource, open_input
from fer_edge.deploy.timers import LATENCY
from fer_edge.video.source import camera_index

log = logging.getLogger(__name__)

__all__ = ["StreamOutputs", "stream_names"]


@dataclass
class StreamOutputs:
    """Where one stream's results go (None: not written)."""

    video: str | None = None
    events: str | None = None
    timing: str | None = None


def stream_names(sources: Sequence[Any]) -> list[str]:
    """Folder names for ``out/<stream>/``: file stem, ``cam<N>`` or the URL's tail; made unique.

    Example:
        >>> stream_names(["a/clip.mp4", "b/clip.mp4", 0, "rtsp://10.0.0.2/live"])
        ['clip', 'clip-2', 'cam0', '10.0.0.2-live']
    """
    names: list[str] = []
    for src in sources:
        index = camera_index(src) if isinstance(src, (str, int, np.integer)) else None
        if index is not None:
            name = f"cam{index}"
        elif isinstance(src, (str, os.PathLike)) and not str(src).lower().startswith(("rtsp:", "rtmp:", "http")):
            name = Path(src).stem or "stream"
        else:
            text = str(src).split("://", 1)[-1] if isinstance(src, (str, os.PathLike)) else type(src).__name__
            name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "stream"
        base, k = name, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


class _Reader(threading.Thread):
    """Decode ahead into a bounded queue; ``None`` marks the end of the stream."""

    def __init__(self, name: str, src: Any, size: int, wake: threading.Event, timer) -> None:
        super().__init__(name=f"fer-edge-read-{name}", daemon=True)
        self.src, self.wake, self.timer = src, wake, timer
        self.queue: queue.Queue = queue.Queue(maxsize=size)
        self.stop = threading.Event()

    def run(self) -> None:
        end: Any = None
        try:
            while not self.stop.is_set():
                start = time.perf_counter()
                frame = self.src.read()
                done = time.perf_counter()
                self.timer.add("decode", (done - start) * 1000.0)
                notes = self.src.drain_notes() if isinstance(self.src, ResilientSource) else []
                if frame is None or not self._put((frame, done, notes)):
                    break
        except Exception as exc:  # noqa: BLE001 - ends this stream only; reported by the main thread
            end = exc
        self._put(end)

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                self.wake.set()
                return True
            except queue.Full:
                continue
        return False


class _Writer(threading.Thread):
    """Events, overlay and video of one stream, in frame order; counts a frame once written."""

    def __init__(self, name: str, outputs: StreamOutputs, fps: float, size: tuple[int, int], timer) -> None:
        super().__init__(name=f"fer-edge-write-{name}", daemon=True)
        from fer_edge.video import open_writer

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

    def _write(self, index: int, frame: np.ndarray, faces: list, decoded: float, notes: list[str]) -> None:
        t = index / self.fps
        ev = self.events
        if ev is not None:
            for note in notes:
                ev.write(note_event(index, t, note))
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


class _Stream:
    def __init__(self, name: str, source: Any, pipe: Pipeline, outputs: StreamOutputs, wake: threading.Event,
                 policy, queue_size: int, fps: float | None = None) -> None:
        self.name, self.source, self.pipe, self.outputs = name, source, pipe, outputs
        if hasattr(source, "read"):
            self.src = source
        else:
            self.src = open_input(source, policy=policy, fps=fps)
        info = self.src.info
        self.fps = info.fps if info.fps and info.fps > 0 else 30.0
        self.index = 0
        self.ended = False
        self.reader = _Reader(name, self.src, queue_size, wake, pipe.timer)
        self.writer = _Writer(name, outputs, self.fps, (info.width, info.height), pipe.timer)
        self.start = time.perf_counter()
        self.seconds = 0.0

    def begin(self) -> None:
        self.start = time.perf_counter()
        self.reader.start()
        self.writer.start()

    def end(self) -> None:
        """Stop reading, let the writer finish what it was given."""
        if not self.ended:
            self.ended = True
            self.reader.stop.set()
            self.writer.queue.put(None)

    def join(self) -> None:
        self.writer.join()
        self.seconds = time.perf_counter() - self.start
        # Never release a capture while the reader may be inside its read (OpenCV captures are
        # not thread-safe): wait for the read in progress; a read stuck for good (a stalled
        # source) is left to its daemon thread.
        self.reader.join(timeout=5.0)
        if self.reader.is_alive() and not isinstance(self.src, ResilientSource):
            log.warning("%s: a read is still blocked; leaving the source to its thread", self.name)
            return
        try:
            self.src.close()
        except Exception:  # noqa: BLE001 - closing a stalled source is best effort
            log.debug("closing %s failed", self.name, exc_info=True)


def _infer_together(ready: list[tuple[_Stream, Any]], model) -> list[tuple[np.ndarray | None, float]]:
    """One frame-model call over every prepared frame's faces; rows and a time share per frame."""
    batches = [work.batch for _, work in ready]
    sizes = [0 if b is None else len(b) for b in batches]
    total = sum(sizes)
    if total == 0 or model is None:
        return [(b, 0.0) for b in batches]
    x = np.concatenate([b for b in batches if b is not None])
    start = time.perf_counter()
    if model.input_shape and model.input_shape[0] == 1 and total > 1:  # a static batch of one
        out = np.concatenate([model(x[i:i + 1]) for i in range(total)])
    else:
        out = model(x)
    ms = (time.perf_counter() - start) * 1000.0
    rows, at = [], 0
    for n in sizes:
        rows.append((out[at:at + n] if n else None, ms * n / total))
        at += n
    return rows


def run_pipelined(sources: Sequence[Any], bundle, *, config=None, engine=None,
                  outputs: Sequence[StreamOutputs] | None = None, names: Sequence[str] | None = None,
                  max_frames: int | None = None, policy=None, stop=None, queue_size: int = 8,
                  progress: bool = False, fps: float | None = None) -> list[dict[str, Any]]:
    """Run every source through the pipelined runtime; one result dict per stream.

    ``stop`` is an object with a ``requested`` flag (the caller's signal handler); when it is
    set, reading stops and the frames already processed are written before returning. Each
    result has ``frames``, ``seconds``, ``frames_with_face``, ``tracks``, ``outputs``,
    ``pipe`` (the stream's :class:`Pipeline`, for its timer) and ``interrupted``.
    """
    names = list(names or stream_names(sources))
    outputs = list(outputs or [StreamOutputs() for _ in sources])
    wake = threading.Event()
    streams: list[_Stream] = []
    first: Pipeline | None = None
    bar = None
    try:
        for name, source, out in zip(names, sources, outputs):
            pipe = Pipeline(bundle, config, engine, share=first)
            first = first or pipe
            streams.append(_Stream(name, source, pipe, out, wake, policy, queue_size, fps))
        if progress:
            from fer_edge.progress import progress as progress_bar

            bar = progress_bar(unit="frame", desc="demo")  # a bar on a terminal, log lines elsewhere
        for s in streams:
            s.begin()
        _schedule(streams, wake, first, max_frames, stop, bar)
    except BaseException:
        for s in streams:
            s.end()
        for s in streams:
            s.join()
            s.writer.close(ok=False)
        raise
    finally:
        if bar is not None:
            bar.close()
    results = []
    for s in streams:
        s.join()
        if s.writer.error is not None:
            for other in streams:
                other.writer.close(ok=False)
            raise s.writer.error
    for s in streams:
        results.append({"name": s.name, "source": str(s.source), "frames": s.writer.frames,
                        "seconds": s.seconds, "frames_with_face": s.writer.with_face,
                        "tracks": len(s.writer.tracks), "outputs": s.writer.close(ok=True), "pipe": s.pipe,
                        "interrupted": bool(stop is not None and stop.requested)})
    return results


def _schedule(streams: list[_Stream], wake: threading.Event, first: Pipeline, max_frames: int | None,
              stop, bar) -> None:
    """The main thread: take what is ready from every stream, infer together, hand on in order."""
    active = list(streams)
    while active and not (stop is not None and stop.requested):
        wake.clear()
        ready = []
        for s in list(active):
            try:
                item = s.reader.queue.get_nowait()
            except queue.Empty:
                continue
            if isinstance(item, BaseException):
                log.warning("%s: %s; the other streams go on", s.name, item)
                item = None
            if item is None or (max_frames is not None and s.index >= max_frames):
                s.end()
                active.remove(s)
                continue
            ready.append((s, item))
        if not ready:
            wake.wait(0.05)
            continue
        prepared = [(s, s.pipe.prepare(item[0], s.index)) for s, item in ready]
        rows = _infer_together(prepared, first.frame_model)
        for (s, item), (_, work), (per_frame, ms) in zip(ready, prepared, rows):
            faces = s.pipe.finish(work, per_frame, infer_ms=ms) if work.batch is not None else []
            frame, decoded, notes = item
            s.writer.queue.put((s.index, frame, faces, decoded, notes))
            s.index += 1
            if max_frames is not None and s.index >= max_frames:
                s.end()
                active.remove(s)
        if bar is not None:
            bar.set_postfix(faces=sum(s.writer.with_face for s in streams),
                            tracks=sum(len(s.writer.tracks) for s in streams), refresh=False)
            bar.update(len(ready))
    for s in streams:
        s.end()
