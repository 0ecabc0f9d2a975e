"""Run the pipeline over a source: events, overlay video, timing, a report.

Outputs are written under temporary names and renamed at the end. Ctrl-C (SIGINT) and SIGTERM
end the run early but still finalize the video, the events and the timing of the frames done.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fer_edge.core.atomic import write_json
from fer_edge.runtime.bundle import Bundle
from fer_edge.runtime.engine import EngineConfig
from fer_edge.runtime.events import EventWriter, face_event, note_event
from fer_edge.runtime.multi import stream_names
from fer_edge.runtime.overlay import draw_frame
from fer_edge.runtime.pipeline import Pipeline, PipelineConfig
from fer_edge.runtime.stream import ResilientSource, StreamPolicy, open_input

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    """What a run did and how fast."""

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
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def run_video(
    source: str | int,
    bundle: Bundle,
    *,
    config: PipelineConfig | None = None,
    engine: EngineConfig | None = None,
    output: str | os.PathLike | None = None,
    events: str | os.PathLike | None = None,
    timing: str | os.PathLike | None = None,
    show: bool = False,
    max_frames: int | None = None,
    progress: bool = True,
    stream: StreamPolicy | None = None,
    fps: float | None = None,
    threads: int = 1,
    sinks: tuple = (),
) -> RunReport:
    """Process a video file, camera index, frame folder or stream end to end.

    Cameras and stream URLs are read through :func:`fer_edge.runtime.stream.open_stream`
    (read timeout, bounded reconnects, per ``stream``); what happens to them is written to the
    events file as note lines. ``fps`` overrides the source's frame rate (raw H.264 streams such
    as ``rpicam-vid``'s carry none) and is requested from cameras.

    ``threads=1`` runs the sequential loop (decode, step, write one after the other; easiest
    to debug); more runs the pipelined runtime of :mod:`fer_edge.runtime.multi` (decode-ahead,
    worker and writer threads, inference on shared asynchronous requests), which writes the
    same events.

    Example:
        >>> report = run_video("face.mp4", load_bundle("runs/fer"), output="out.mp4",
        ...                    events="out.jsonl", timing="timing.json")  # doctest: +SKIP
        >>> report.fps  # frames per second, decode to write  # doctest: +SKIP
    """
    from fer_edge.runtime.video import open_writer

    engine = engine or EngineConfig()
    if threads > 1:
        from fer_edge.runtime.streamio import StreamOutputs

        return run_sources(
            [source],
            bundle,
            config=config,
            engine=engine,
            progress=progress,
            stream=stream,
            outputs=[StreamOutputs(output and str(output), events and str(events), timing and str(timing))],
            max_frames=max_frames,
            fps=fps,
            sinks=sinks,
        )[0]
    # Signals only set a flag from here on: the loop stops at a frame boundary, so every
    # counted frame has its events and its video frame (a KeyboardInterrupt could land between).
    with _StopOnSignal() as stop:
        pipe = Pipeline(bundle, config, engine)
        timer = pipe.timer
        stats_tracks: set[int] = set()
        frames = with_face = 0
        writer = ev = None
        bar = None
        src = open_input(source, policy=stream, fps=fps)
        name = stream_names([source])[0] if sinks else ""
        info = src.info
        fps_in = info.fps if info.fps and info.fps > 0 else 30.0
        start = time.perf_counter()
        try:
            if output:
                writer = open_writer(output, fps_in, (info.width, info.height))
            if events:
                ev = EventWriter(events)
            if progress:
                from fer_edge.core.progress import progress as progress_bar

                total = info.frames if max_frames is None else min(info.frames or max_frames, max_frames)
                bar = progress_bar(total=total or None, unit="frame", desc="demo")
            start = time.perf_counter()
            while (max_frames is None or frames < max_frames) and not stop.requested:
                with timer("decode"):
                    frame = src.read()
                if ev is not None and isinstance(src, ResilientSource):
                    for note in src.drain_notes():
                        ev.write(note_event(frames, frames / fps_in, note))
                if frame is None:
                    break
                index = frames
                t = index / fps_in
                faces = pipe.step(frame, index)
                for sink in sinks:  # observers such as the live view (fer_edge.runtime.live)
                    sink.publish(name, frame, faces, frames / (time.perf_counter() - start) if frames else None)
                if ev is not None:
                    if not faces:
                        ev.write(note_event(index, t, "no face"))
                    for f in faces:
                        ev.write(face_event(index, t, f.track, f.box, f.label, f.scores, f.window))
                if writer is not None or show:
                    with timer("draw"):
                        elapsed = time.perf_counter() - start
                        draw_frame(frame, faces, frames / elapsed if elapsed > 0 else None)
                if writer is not None:
                    with timer("write"):
                        writer.write(frame)
                # Counted only once its events and video frame are written.
                frames += 1
                if faces:
                    with_face += 1
                    stats_tracks.update(f.track for f in faces)
                if show:
                    show = _show(frame)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(faces=with_face, tracks=len(stats_tracks), refresh=False)
            interrupted = stop.requested
        except KeyboardInterrupt:  # a second signal, or Ctrl-C outside the main thread
            interrupted = True
        except BaseException:
            if writer is not None:
                writer.abort()
            if ev is not None:
                ev.abort()
            raise
        finally:
            src.close()
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - start
        if interrupted:
            log.warning("interrupted after %d frames; finalizing outputs", frames)
        outputs = {}
        if writer is not None:
            outputs["video"] = str(writer.close())
        if ev is not None:
            outputs["events"] = str(ev.close())
        summary = timer.summary(frames)
        report = RunReport(
            source=str(source),
            bundle=str(bundle.path),
            device=engine.device,
            inference_precision=pipe.inference_precision,
            frames=frames,
            seconds=seconds,
            fps=frames / seconds if seconds > 0 else 0.0,
            stages_ms={k: v["median"] for k, v in summary.items()},
            stages_p90_ms={k: v["p90"] for k, v in summary.items()},
            stages_mean_ms={k: v["mean"] for k, v in summary.items()},
            frames_with_face=with_face,
            tracks=len(stats_tracks),
            interrupted=interrupted,
            outputs=outputs,
            stages=summary,
        )
        if timing:
            write_json(timing, report.timing())
            report.outputs["timing"] = str(timing)
    return report


def run_sources(
    sources: list,
    bundle: Bundle,
    *,
    config: PipelineConfig | None = None,
    engine: EngineConfig | None = None,
    out: str | os.PathLike | None = None,
    outputs: list | None = None,
    max_frames: int | None = None,
    progress: bool = True,
    stream: StreamPolicy | None = None,
    video: bool = True,
    fps: float | None = None,
    requests: int = 0,
    sinks: tuple = (),
) -> list[RunReport]:
    """Several sources at once through the pipelined runtime (one set of compiled models).

    Each stream writes ``out/<stream>/demo.mp4``, ``events.jsonl`` and ``timing.json`` (or the
    given ``outputs``); a stalled stream never holds up the others. SIGINT/SIGTERM stop all
    streams at a frame boundary and finalize what was written. ``requests``: OpenVINO infer
    requests per shared model (0 = the plugin's optimal number for ``engine.hint``).

    Example:
        >>> reports = run_sources(["a.mp4", "b.mp4"], load_bundle("runs/fer"), out="runs/multi")  # doctest: +SKIP
        >>> [r.fps for r in reports]  # one per source  # doctest: +SKIP
    """
    from fer_edge.runtime.multi import run_pipelined
    from fer_edge.runtime.streamio import StreamOutputs

    engine = engine or EngineConfig()
    names = stream_names(sources)
    if outputs is None:
        outputs = [StreamOutputs()] * len(sources)
        if out is not None:
            outputs = [
                StreamOutputs(
                    str(Path(out) / n / "demo.mp4") if video else None,
                    str(Path(out) / n / "events.jsonl"),
                    str(Path(out) / n / "timing.json"),
                )
                for n in names
            ]
    with _StopOnSignal() as stop:
        results = run_pipelined(
            sources,
            bundle,
            config=config,
            engine=engine,
            outputs=outputs,
            names=names,
            max_frames=max_frames,
            policy=stream,
            stop=stop,
            progress=progress,
            fps=fps,
            requests=requests,
            sinks=sinks,
        )
        reports = []
        for res, outs in zip(results, outputs):
            pipe = res["pipe"]
            summary = pipe.timer.summary(res["frames"])
            seconds = res["seconds"]
            report = RunReport(
                source=res["source"],
                bundle=str(bundle.path),
                device=engine.device,
                inference_precision=pipe.inference_precision,
                frames=res["frames"],
                seconds=seconds,
                fps=res["frames"] / seconds if seconds > 0 else 0.0,
                stages_ms={k: v["median"] for k, v in summary.items()},
                stages_p90_ms={k: v["p90"] for k, v in summary.items()},
                stages_mean_ms={k: v["mean"] for k, v in summary.items()},
                frames_with_face=res["frames_with_face"],
                tracks=res["tracks"],
                interrupted=res["interrupted"],
                outputs=res["outputs"],
                stages=summary,
            )
            if outs.timing:
                write_json(outs.timing, {**report.timing(), "stream": res["name"], "pipelined": True})
                report.outputs["timing"] = str(outs.timing)
            reports.append(report)
        if stop.requested:
            log.warning(
                "interrupted; finalized %s", ", ".join(f"{r['name']} after {r['frames']} frames" for r in results)
            )
    return reports


_WARNED_DISPLAY = False


def _show(frame) -> bool:
    """Show a frame in a window; False (stop showing) when OpenCV has no GUI or the user quit."""
    global _WARNED_DISPLAY
    import cv2

    try:
        cv2.imshow("fer-edge", frame)
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)
    except cv2.error:
        if not _WARNED_DISPLAY:
            log.warning("this OpenCV build has no display support (headless); use --output to see results")
            _WARNED_DISPLAY = True
        return False
