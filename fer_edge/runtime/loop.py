"""The run loop's front: one :class:`RunOptions` in, one :class:`RunReport` per stream out.

:func:`run` is the one entry (:func:`run_video` and :func:`run_sources` are its one-source and
many-source spellings); :mod:`fer_edge.runtime.multi` runs the streams (sequentially with
``threads=1``, else pipelined). Outputs are written under temporary names and renamed at the
end. Ctrl-C (SIGINT) and SIGTERM end the run early but still finalize the video, the events and
the timing of the frames done.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fer_edge.core.atomic import write_json
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.bundle import Bundle
from fer_edge.runtime.engine import EngineConfig
from fer_edge.runtime.pipeline import PipelineConfig
from fer_edge.runtime.stream import StreamPolicy
from fer_edge.runtime.streamio import StreamOutputs, stream_names, stream_outputs

log = logging.getLogger(__name__)

__all__ = ["RunOptions", "RunReport", "Sink", "run", "run_sources", "run_video"]


class Sink:
    """An observer of a run: gets every annotated frame of every stream, in frame order per stream.

    Any object with these two methods is a sink (this plain class documents them: Python 3.7,
    the NCS2's, has no ``typing.Protocol``).

    ``publish`` is called by the stream's writer (the calling thread with ``threads=1``, the
    stream's writer thread when pipelined: streams call it concurrently) after the overlay is
    drawn and the video frame written; ``frame`` is the annotated BGR frame (copy it to keep
    it), ``faces`` the frame's :class:`~fer_edge.runtime.pipeline.FaceResult` list, ``fps`` the
    stream's frames per second so far (None for its first frame). An exception stops the run.
    ``close`` is called once when the run ends (finished, interrupted or failed).
    """

    def publish(self, stream: str, frame: Any, faces: list, fps: float | None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


@dataclass
class RunOptions:
    """Everything a run needs besides its sources and bundle, carried whole from the CLI to the loop.

    Attributes:
        config: the pipeline's settings (detector, tracker, smoothing ...); None = :class:`PipelineConfig`.
        engine: the OpenVINO settings; None = :class:`EngineConfig`.
        stream: cameras and URLs: read timeout and reconnects; None = :class:`StreamPolicy`.
        out: a folder: each stream writes ``out/<stream>/demo.mp4``, ``events.jsonl``, ``timing.json``.
        output, events, timing: one source's annotated video, events and timing files (instead of ``out``).
        outputs: each source's :class:`StreamOutputs` (instead of both).
        video: with ``out``, write the annotated videos.
        show: a window with the annotated video (``threads=1``, one source).
        max_frames: stop each stream after this many frames.
        fps: the sources' frame rate when they carry none (raw H.264); requested from cameras.
        threads: 1 = the sequential loop (one thread: easiest to debug); 2+ = pipelined.
        requests: pipelined: infer requests per shared model (0 = the plugin's optimal number).
        progress: a progress bar on a terminal (log lines elsewhere).
        sinks: :class:`Sink` objects that get every annotated frame (a live view, a recorder).
    """

    config: PipelineConfig | None = None
    engine: EngineConfig | None = None
    stream: StreamPolicy | None = None
    out: str | os.PathLike | None = None
    output: str | os.PathLike | None = None
    events: str | os.PathLike | None = None
    timing: str | os.PathLike | None = None
    outputs: Sequence[StreamOutputs] | None = None
    video: bool = True
    show: bool = False
    max_frames: int | None = None
    fps: float | None = None
    threads: int = 1
    requests: int = 0
    progress: bool = True
    sinks: Sequence[Sink] = ()

    def __post_init__(self) -> None:
        if self.max_frames is not None and self.max_frames < 1:
            raise FerEdgeError(f"--max-frames must be >= 1, got {self.max_frames}")
        if self.threads < 1:
            raise FerEdgeError(f"--threads must be >= 1, got {self.threads}")
        if self.requests < 0:
            raise FerEdgeError(f"requests must be >= 0, got {self.requests}")
        self.config = self.config or PipelineConfig()
        self.engine = self.engine or EngineConfig()
        self.stream = self.stream or StreamPolicy()

    def outputs_for(self, sources: Sequence[Any]) -> list[StreamOutputs]:
        """Each source's files: ``outputs``, else ``output``/``events``/``timing`` (one source), else ``out``."""
        single = (self.output, self.events, self.timing)
        if self.outputs is not None:
            if len(self.outputs) != len(sources):
                raise FerEdgeError(f"{len(self.outputs)} outputs for {len(sources)} sources")
            return list(self.outputs)
        if any(single):
            if len(sources) != 1:
                raise FerEdgeError(
                    "with several sources, give a folder (--out FOLDER: each stream writes FOLDER/<stream>/); "
                    "--output/--events/--timing name a single stream's files"
                )
            return [StreamOutputs(*(str(p) if p else None for p in single))]
        if self.out is not None:
            return stream_outputs(self.out, stream_names(sources), video=self.video)
        return [StreamOutputs() for _ in sources]


@dataclass
class RunReport:
    """What a run did and how fast (one per stream)."""

    source: str
    bundle: str
    device: str
    inference_precision: str
    frames: int
    seconds: float
    fps: float
    stages_ms: dict[str, float]
    stages_p90_ms: dict[str, float]
    stages_mean_ms: dict[str, float]
    frames_with_face: int
    tracks: int
    interrupted: bool = False
    outputs: dict[str, str] = field(default_factory=dict)
    # Per stage: per-call median/p90/mean/count and per-frame frame_mean/frame_p90 (StageTimer.summary).
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    stream: str = ""
    threads: int = 1

    def timing(self) -> dict[str, Any]:
        """The ``--timing`` file's content."""
        return {
            "frames": self.frames,
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2),
            "stages_ms": self.stages_ms,
            "stages_p90_ms": self.stages_p90_ms,
            # Detection runs every N frames: its median is 0, its mean is its real cost.
            "stages_mean_ms": self.stages_mean_ms,
            "stages": self.stages,
            "device": self.device,
            "inference_precision": self.inference_precision,
            "source": self.source,
            "bundle": self.bundle,
            "interrupted": self.interrupted,
            "stream": self.stream,
            "pipelined": self.threads > 1,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _report(result: dict[str, Any], bundle: Bundle, options: RunOptions) -> RunReport:
    """The one place a :class:`RunReport` is built (from a stream's result)."""
    pipe = result["pipe"]
    summary = pipe.timer.summary(result["frames"])
    seconds = result["seconds"]
    return RunReport(
        source=result["source"],
        bundle=str(bundle.path),
        device=options.engine.device,
        inference_precision=pipe.inference_precision,
        frames=result["frames"],
        seconds=seconds,
        fps=result["frames"] / seconds if seconds > 0 else 0.0,
        stages_ms={k: v["median"] for k, v in summary.items()},
        stages_p90_ms={k: v["p90"] for k, v in summary.items()},
        stages_mean_ms={k: v["mean"] for k, v in summary.items()},
        frames_with_face=result["frames_with_face"],
        tracks=result["tracks"],
        interrupted=result["interrupted"],
        outputs=dict(result["outputs"]),
        stages=summary,
        stream=result["name"],
        threads=options.threads,
    )


class _StopOnSignal:
    """SIGINT/SIGTERM ask the loop to stop at the next frame boundary (main thread only).

    Raising KeyboardInterrupt from the handler could land between counting a frame and writing
    its events; a flag checked once per frame cannot. A second signal raises KeyboardInterrupt
    for a loop that is stuck (a read that never returns).
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handler(self, signum, frame) -> None:  # noqa: ARG002
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _StopOnSignal:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread: Ctrl-C stays a KeyboardInterrupt
                break
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()


def run(sources: Sequence[Any], bundle: Bundle, options: RunOptions | None = None) -> list[RunReport]:
    """Run the pipeline over every source (file, camera index, frame folder, URL, or an object
    with ``read()``/``info``/``close()``); one :class:`RunReport` per source, in order.

    Example:
        >>> options = RunOptions(out="runs/x", threads=2)
        >>> reports = run(["a.mp4", "b.mp4"], load_bundle("runs/fer"), options)  # doctest: +SKIP
        >>> [r.fps for r in reports]  # doctest: +SKIP
    """
    from fer_edge.runtime.multi import run_streams

    options = options or RunOptions()
    if not sources:
        raise FerEdgeError("no source to run")
    outputs = options.outputs_for(sources)
    sinks = list(options.sinks)
    if options.show:
        if options.threads == 1 and len(sources) == 1:
            sinks.append(_Window())
        else:
            log.warning("a window is shown with one source and --threads 1 only; see the saved video")
    try:
        with _StopOnSignal() as stop:
            results = run_streams(sources, bundle, outputs, replace(options, sinks=sinks), stop)
    finally:
        for sink in sinks:
            sink.close()
    reports = []
    for result, outs in zip(results, outputs):
        report = _report(result, bundle, options)
        if outs.timing:
            write_json(outs.timing, report.timing())
            report.outputs["timing"] = str(outs.timing)
        reports.append(report)
    if stop.requested:
        log.warning("interrupted; finalized %s", ", ".join(f"{r['name']} after {r['frames']} frames" for r in results))
    return reports


def run_video(source: str | int, bundle: Bundle, **options: Any) -> RunReport:
    """One source end to end: ``run([source], bundle, RunOptions(**options))[0]``.

    Example:
        >>> report = run_video("face.mp4", load_bundle("runs/fer"), output="out.mp4",
        ...                    events="out.jsonl", timing="timing.json")  # doctest: +SKIP
        >>> report.fps  # frames per second, decode to write  # doctest: +SKIP
    """
    return run([source], bundle, RunOptions(**options))[0]


def run_sources(sources: Sequence[Any], bundle: Bundle, **options: Any) -> list[RunReport]:
    """Several sources at once, pipelined by default (one set of compiled models): ``run`` with
    ``RunOptions(threads=2, **options)``; each stream writes ``out/<stream>/`` files.

    Example:
        >>> reports = run_sources(["a.mp4", "b.mp4"], load_bundle("runs/fer"), out="runs/multi")  # doctest: +SKIP
    """
    return run(sources, bundle, RunOptions(**{"threads": 2, **options}))


class _Window:
    """The ``show`` sink: the annotated video in a window until the user presses q or Esc."""

    def __init__(self) -> None:
        self.open = True

    def publish(self, stream: str, frame: Any, faces: list, fps: float | None) -> None:  # noqa: ARG002
        import cv2

        if not self.open:
            return
        try:
            cv2.imshow("fer-edge", frame)
            self.open = (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)
        except cv2.error:
            log.warning("this OpenCV build has no display support (headless); use --output to see results")
            self.open = False

    def close(self) -> None:
        pass
