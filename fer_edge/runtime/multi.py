"""The run loop's engine: every stream read, stepped and written, in one thread or pipelined.

Each stream has a reader (decode), a worker step (:meth:`Pipeline.step`: detect, track, crop,
models, buffers) and a writer (events, overlay with FPS, video, sinks). The sequential mode
(``threads=1``) runs the three inline, stream after stream, frame by frame, in the calling
thread (easiest to debug; a shown window needs it). The pipelined mode gives each stream three
threads and two bounded queues: the reader decodes ahead, the worker steps, the writer writes.
The workers' model calls go to one :class:`~fer_edge.runtime.asyncinfer.InferBatcher` per model
(frame and temporal/clip), which batches the faces of every stream that is waiting into one
infer request (``start_async``, then ``wait`` with the GIL released): while a request runs, the
other streams decode, detect and draw. A stalled camera only stalls its own threads. In both
modes each stream keeps its own tracks and buffers and one frame in flight, so its events are
the same, in frame order.

Timing is per stream: each stage's busy time (``decode`` in the reader, ``detect`` ... ``infer``
in the worker, ``draw``/``write`` in the writer; pipelined, ``infer`` is the stream's share of the
shared requests' time, split by faces, without the time spent waiting for other streams'
requests) and ``latency``, the milliseconds from a frame being decoded to its events and video
frame being written. Pipelined, stages of different frames overlap, so neither the latency nor
the wall time per frame is the sum of the stages.

numpy + OpenCV + OpenVINO only.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

from fer_edge.runtime.asyncinfer import InferBatcher, SharedModel, WaitingTimer
from fer_edge.runtime.pipeline import Pipeline
from fer_edge.runtime.stream import ResilientSource, open_input
from fer_edge.runtime.streamio import StreamOutputs, StreamReader, StreamWriter, stream_names

log = logging.getLogger(__name__)

__all__ = ["StreamResult", "run_streams", "share_models", "stream_names"]

StreamResult = dict  # name, source, frames, seconds, frames_with_face, tracks, outputs, pipe, interrupted


class _Stream:
    """One source's reader, pipeline and writer."""

    def __init__(self, name: str, source: Any, src: Any, pipe: Pipeline, outputs: StreamOutputs, options, sinks):
        self.name, self.source, self.src, self.pipe = name, source, src, pipe
        info = src.info
        self.fps = info.fps if info.fps and info.fps > 0 else 30.0
        limit = options.max_frames
        self.total = info.frames if limit is None else min(info.frames or limit, limit)
        self.index = 0
        self.ended = False
        self._ending = threading.Lock()
        self.reader = StreamReader(name, self.src, 8, pipe.timer, options.max_frames)
        self.writer = StreamWriter(name, outputs, self.fps, (info.width, info.height), pipe.timer, sinks)
        self.start = time.perf_counter()
        self.seconds = 0.0

    def step(self, item: tuple) -> tuple:
        """A decoded item -> the writer's item (the worker's part, in frame order)."""
        frame, decoded, notes = item
        if frame is None:
            return (self.index, None, [], decoded, notes)
        faces = self.pipe.step(frame, self.index)
        self.index += 1
        return (self.index - 1, frame, faces, decoded, notes)

    def begin(self) -> None:
        self.start = self.writer.start_time = time.perf_counter()
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
        self.close_source()

    def close_source(self) -> None:
        try:
            self.src.close()
        except Exception:  # noqa: BLE001 - closing a stalled source is best effort
            log.debug("closing %s failed", self.name, exc_info=True)

    def result(self, interrupted: bool) -> StreamResult:
        w = self.writer
        return {
            "name": self.name,
            "source": str(self.source),
            "frames": w.frames,
            "seconds": self.seconds,
            "frames_with_face": w.with_face,
            "tracks": len(w.tracks),
            "outputs": w.close(ok=True),
            "pipe": self.pipe,
            "interrupted": interrupted,
        }


class _Worker(threading.Thread):
    """One stream's processing in the pipelined mode: take a decoded frame, step it, hand it to
    the writer. Its model calls go to the shared batchers, so a stream waiting for a camera (or
    for its rows) holds up no other stream."""

    def __init__(self, stream: _Stream) -> None:
        super().__init__(name=f"fer-edge-step-{stream.name}", daemon=True)
        self.stream = stream
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        s = self.stream
        try:
            while not self.stop.is_set():
                try:
                    item = s.reader.queue.get(timeout=0.1)
                except queue.Empty:
                    continue
                if isinstance(item, BaseException):
                    log.warning("%s: %s; the other streams go on", s.name, item)
                    break
                if item is None:
                    break
                s.writer.queue.put(s.step(item))
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


def run_streams(sources: Sequence[Any], bundle, outputs: Sequence[StreamOutputs], options, stop) -> list[StreamResult]:
    """Every source through the pipeline per ``options`` (a :class:`~fer_edge.runtime.loop.RunOptions`).

    ``stop`` has a ``requested`` flag (the caller's signal handler); when set, reading stops and
    the frames already processed are written before returning. One result per stream, in order.
    """
    names = stream_names(sources)
    sinks = list(options.sinks)
    streams: list[_Stream] = []
    srcs: list[Any] = []
    first: Pipeline | None = None
    try:
        # Every source opens before any output is created: a bad one leaves no file behind.
        for source in sources:
            opened = hasattr(source, "read")
            srcs.append(source if opened else open_input(source, policy=options.stream, fps=options.fps))
        for name, source, src, out in zip(names, sources, srcs, outputs):
            pipe = Pipeline(bundle, options.config, options.engine, share=first)
            first = first or pipe
            streams.append(_Stream(name, source, src, pipe, out, options, sinks))
    except BaseException:
        for s in streams:
            s.writer.close(ok=False)
        for src in srcs:
            try:
                src.close()
            except Exception:  # noqa: BLE001 - best effort on the way out
                log.debug("closing a source failed", exc_info=True)
        raise
    totals = [s.total for s in streams]
    bar = None
    if options.progress:
        from fer_edge.core.progress import progress as progress_bar

        # A bar with a total and an ETA on a terminal (log lines elsewhere) when every source has a length.
        bar = progress_bar(total=sum(totals) if all(totals) else None, unit="frame", desc="demo")
    try:
        if options.threads > 1:
            _pipelined(streams, options.requests, stop, bar)
        else:
            _sequential(streams, stop, bar)
    finally:
        if bar is not None:
            bar.close()
    interrupted = bool(stop.requested)
    return [s.result(interrupted) for s in streams]


def _sequential(streams: list[_Stream], stop, bar) -> None:
    """All streams in this thread, a frame of each in turn: read, step, write."""
    live = list(streams)
    for s in streams:
        s.start = s.writer.start_time = time.perf_counter()
    try:
        while live and not stop.requested:
            for s in list(live):
                item = s.reader.read()
                if item is None:
                    live.remove(s)
                    continue
                s.writer.write(*s.step(item))
                if item[0] is None:
                    live.remove(s)
                elif bar is not None:
                    _show_progress(bar, streams, 1)
                if stop.requested:
                    break
    except KeyboardInterrupt:  # a second signal, or Ctrl-C outside the main thread
        stop.requested = True
    except BaseException:
        for s in streams:
            s.writer.close(ok=False)
            s.close_source()
        raise
    for s in streams:
        s.seconds = time.perf_counter() - s.start
        s.close_source()


def _pipelined(streams: list[_Stream], requests: int, stop, bar) -> None:
    """Reader, worker and writer threads per stream; the models shared through batchers."""
    workers: list[_Worker] = []
    try:
        share_models([s.pipe for s in streams], requests)
        for s in streams:
            s.reader.timer = s.writer.timer = s.pipe.timer
        workers = [_Worker(s) for s in streams]
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
    for s in streams:
        s.join()
        if s.writer.error is not None:
            for other in streams:
                other.writer.close(ok=False)
            raise s.writer.error


def _show_progress(bar, streams: list[_Stream], done: int) -> None:
    bar.set_postfix(
        faces=sum(s.writer.with_face for s in streams),
        tracks=sum(len(s.writer.tracks) for s in streams),
        refresh=False,
    )
    bar.update(done)


def _supervise(streams: list[_Stream], workers: list[_Worker], stop, bar) -> None:
    """The main thread: pass a stop request on, show progress, raise a worker's error."""
    shown = 0
    running = True
    while running:
        running = any(w.is_alive() for w in workers)
        if stop.requested:
            for w in workers:
                w.stop.set()
        for w in workers:
            if w.error is not None:
                raise w.error
        if bar is not None:
            done = sum(s.writer.frames for s in streams)
            _show_progress(bar, streams, done - shown)
            shown = done
        if running:
            time.sleep(0.05)  # the signal handler runs in this thread: it must not block for long
