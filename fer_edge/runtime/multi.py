"""The pipelined runtime: several streams, each in its own threads, one set of shared models.

Per stream three threads and two bounded queues: a reader decodes ahead, a worker detects,
tracks, crops and keeps the stream's buffers (:meth:`Pipeline.step`, as the sequential loop),
a writer writes the events, draws and encodes the video. The workers' model calls go to one
:class:`~fer_edge.runtime.asyncinfer.InferBatcher` per model (frame and temporal/clip), which
batches the faces of every stream that is waiting into one infer request (``start_async``, then
``wait`` with the GIL released): while a request runs, the other streams decode, detect and
draw (OpenCV and OpenVINO release the GIL, so that work uses the other cores). A stalled
camera only stalls its own threads. Each stream keeps its own tracks and buffers and one frame
in flight, so its events are the ones the sequential loop would write, in frame order.

Timing is per stream: each stage's busy time (``decode`` in the reader, ``detect`` ... ``infer``
in the worker, ``draw``/``write`` in the writer; ``infer`` is the stream's share of the shared
requests' time, split by faces, without the time spent waiting for other streams' requests)
and ``latency``, the end-to-end milliseconds from a frame being decoded to its events and video
frame being written. Stages of different frames overlap, so the latency is not the sum of the
stages, and the stage times do not add up to the wall time per frame either.

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
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.runtime.asyncinfer import InferBatcher, SharedModel, WaitingTimer
from fer_edge.runtime.pipeline import Pipeline
from fer_edge.runtime.stream import ResilientSource, open_input
from fer_edge.runtime.streamio import StreamOutputs, StreamReader, StreamWriter
from fer_edge.runtime.video.source import camera_index

log = logging.getLogger(__name__)

__all__ = ["share_models", "stream_names"]


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


class _Stream:
    def __init__(
        self,
        name: str,
        source: Any,
        pipe: Pipeline,
        outputs: StreamOutputs,
        policy,
        queue_size: int,
        fps: float | None = None,
        max_frames: int | None = None,
    ) -> None:
        self.name, self.source, self.pipe, self.outputs = name, source, pipe, outputs
        if hasattr(source, "read"):
            self.src = source
        else:
            self.src = open_input(source, policy=policy, fps=fps)
        info = self.src.info
        self.fps = info.fps if info.fps and info.fps > 0 else 30.0
        self.index = 0
        self.ended = False
        self._ending = threading.Lock()
        self.reader = StreamReader(name, self.src, queue_size, pipe.timer, max_frames)
        self.writer = StreamWriter(name, outputs, self.fps, (info.width, info.height), pipe.timer)
        self.start = time.perf_counter()
        self.seconds = 0.0

    def begin(self) -> None:
        self.start = time.perf_counter()
        self.reader.start()
        self.writer.start()

    def end(self) -> None:
        """Stop reading, let the writer finish what it was given (once; the worker or the main thread)."""
        with self._ending:
            if self.ended:
                return
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


class _Worker(threading.Thread):
    """One stream's processing, in frame order: take a decoded frame, :meth:`Pipeline.step` it,
    hand it to the writer. Its model calls go to the shared batchers, so a stream waiting for a
    camera (or for its rows) holds up no other stream."""

    def __init__(self, stream: _Stream, max_frames: int | None, sinks: Sequence[Any] = ()) -> None:
        super().__init__(name=f"fer-edge-step-{stream.name}", daemon=True)
        self.stream, self.max_frames, self.sinks = stream, max_frames, sinks
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        s = self.stream
        try:
            while not self.stop.is_set() and (self.max_frames is None or s.index < self.max_frames):
                try:
                    item = s.reader.queue.get(timeout=0.1)
                except queue.Empty:
                    continue
                if isinstance(item, BaseException):
                    log.warning("%s: %s; the other streams go on", s.name, item)
                    break
                if item is None:
                    break
                frame, decoded, notes = item
                if frame is None:
                    s.writer.queue.put((s.index, None, [], decoded, notes))
                    continue
                faces = s.pipe.step(frame, s.index)
                for sink in self.sinks:  # observers such as the live view (fer_edge.runtime.live)
                    sink.publish(s.name, frame, faces, None)
                s.writer.queue.put((s.index, frame, faces, decoded, notes))
                s.index += 1
        except BaseException as exc:  # noqa: BLE001 - a bug: the main thread stops every stream and raises it
            self.error = exc
        finally:
            s.end()


def share_models(pipes: Sequence[Pipeline], requests: int = 0) -> list[InferBatcher]:
    """Route the pipelines' model calls through one :class:`InferBatcher` per model.

    ``pipes`` share ``pipes[0]``'s compiled models (``Pipeline(..., share=pipes[0])``); each
    gets a :class:`WaitingTimer` (before any sample) and calls the batchers from its own
    thread.

    Example (each step from its stream's thread; stream a's faces batch with stream b's):
        >>> batchers = share_models([pipe_a, pipe_b])  # doctest: +SKIP
        >>> faces = pipe_a.step(frame, 0)  # doctest: +SKIP
    """
    batchers = {}
    for role in ("frame_model", "head"):
        model = getattr(pipes[0], role)
        if model is not None:
            batchers[role] = InferBatcher(model, requests)
    for pipe in pipes:
        pipe.timer = WaitingTimer(pipe.timer.window)
        for role, batcher in batchers.items():
            setattr(pipe, role, SharedModel(batcher, pipe.timer))
    return list(batchers.values())


def run_pipelined(
    sources: Sequence[Any],
    bundle,
    *,
    config=None,
    engine=None,
    outputs: Sequence[StreamOutputs] | None = None,
    names: Sequence[str] | None = None,
    max_frames: int | None = None,
    policy=None,
    stop=None,
    queue_size: int = 8,
    progress: bool = False,
    fps: float | None = None,
    requests: int = 0,
    sinks: Sequence[Any] = (),
) -> list[dict[str, Any]]:
    """Run every source through the pipelined runtime; one result dict per stream.

    ``stop`` is an object with a ``requested`` flag (the caller's signal handler); when it is
    set, reading stops and the frames already processed are written before returning. Each
    result has ``frames``, ``seconds``, ``frames_with_face``, ``tracks``, ``outputs``,
    ``pipe`` (the stream's :class:`Pipeline`, for its timer) and ``interrupted``.
    ``requests``: infer requests per shared model (:class:`InferBatcher`; 0 = the plugin's choice).
    """
    names = list(names or stream_names(sources))
    outputs = list(outputs or [StreamOutputs() for _ in sources])
    streams: list[_Stream] = []
    workers: list[_Worker] = []
    first: Pipeline | None = None
    bar = None
    try:
        for name, source, out in zip(names, sources, outputs):
            pipe = Pipeline(bundle, config, engine, share=first)
            first = first or pipe
            streams.append(_Stream(name, source, pipe, out, policy, queue_size, fps, max_frames))
        share_models([s.pipe for s in streams], requests)
        for s in streams:
            s.reader.timer = s.writer.timer = s.pipe.timer
        if progress:
            from fer_edge.core.progress import progress as progress_bar

            bar = progress_bar(unit="frame", desc="demo")  # a bar on a terminal, log lines elsewhere
        workers = [_Worker(s, max_frames, sinks) for s in streams]
        for s, w in zip(streams, workers):
            s.begin()
            w.start()
        _supervise(streams, workers, stop, bar)
    except BaseException:
        for w in workers:
            w.stop.set()
        for s in streams:
            s.end()
        for w in workers:
            w.join()
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
        results.append(
            {
                "name": s.name,
                "source": str(s.source),
                "frames": s.writer.frames,
                "seconds": s.seconds,
                "frames_with_face": s.writer.with_face,
                "tracks": len(s.writer.tracks),
                "outputs": s.writer.close(ok=True),
                "pipe": s.pipe,
                "interrupted": bool(stop is not None and stop.requested),
            }
        )
    return results


def _supervise(streams: list[_Stream], workers: list[_Worker], stop, bar) -> None:
    """The main thread: pass a stop request on, show progress, raise a worker's error."""
    shown = 0
    running = True
    while running:
        running = any(w.is_alive() for w in workers)
        if stop is not None and stop.requested:
            for w in workers:
                w.stop.set()
        for w in workers:
            if w.error is not None:
                raise w.error
        if bar is not None:
            done = sum(s.writer.frames for s in streams)
            bar.set_postfix(
                faces=sum(s.writer.with_face for s in streams),
                tracks=sum(len(s.writer.tracks) for s in streams),
                refresh=False,
            )
            bar.update(done - shown)
            shown = done
        if running:
            time.sleep(0.05)  # the signal handler runs in this thread: it must not block for long
