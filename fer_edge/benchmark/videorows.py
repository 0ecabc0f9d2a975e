"""The runtime on a video as benchmark rows: one per pipeline stage plus ``video`` (a whole frame)."""

from __future__ import annotations

import time
from pathlib import Path

from fer_edge.benchmark.report import Row
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.bundle import Bundle

__all__ = ["model_format", "video_rows"]


def model_format(path: Path) -> str:
    """``IR``, ``ONNX`` or ``Keras``: the format column of a model file's rows."""
    return {".xml": "IR", ".onnx": "ONNX", ".keras": "Keras"}.get(path.suffix, path.suffix.lstrip("."))


def video_rows(
    source: str | int,
    bundle: Bundle,
    *,
    precision: str,
    device: str,
    hint: str,
    frames: int,
    engine: str,
    detector: str = "haar",
    seconds: float | None = None,
) -> list[Row]:
    """The runtime on a video: one row per pipeline stage plus ``video`` (a whole frame).

    Every frame is decoded and stepped through :class:`~fer_edge.runtime.Pipeline` (detect or
    track, crop, models, smoothing); nothing is drawn or written, so the rows measure the
    processing a camera deployment pays for.
    """
    from fer_edge.runtime.engine import EngineConfig
    from fer_edge.runtime.pipeline import Pipeline, PipelineConfig
    from fer_edge.runtime.video import open_source

    pin = None if hint == "default" else hint
    pipe = Pipeline(
        bundle, PipelineConfig(precision=precision, detector=detector), EngineConfig(device=device, precision=pin)
    )
    src = open_source(source)
    totals: list[float] = []
    deadline = None if seconds is None else time.perf_counter() + seconds
    try:
        while len(totals) < frames and (deadline is None or time.perf_counter() < deadline):
            start = time.perf_counter()
            with pipe.timer("decode"):
                frame = src.read()
            if frame is None:
                break
            pipe.step(frame, len(totals))
            totals.append((time.perf_counter() - start) * 1000.0)
    finally:
        src.close()
    if not totals:
        raise FerEdgeError(f"video {source} gave no frames; check the file or pass --source none")
    from fer_edge.runtime.latency import summarize

    first = next(iter(bundle.models))
    common = dict(
        model=bundle.name,
        format=model_format(bundle.model_path(first, precision)),
        precision=precision,
        device=device,
        batch=1,
        hint=hint,
        inference_precision=pipe.inference_precision,
        engine=engine,
    )
    median, p90, mean = summarize(totals)
    # Per frame, FPS = 1000 / mean ms: frames per second over the run, the same figure the mean gives.
    rows = [
        Row(
            stage="video",
            latency_ms={"median": median, "p90": p90, "mean": mean},
            fps=round(1000.0 / mean, 2) if mean > 0 else 0.0,
            iterations=len(totals),
            mode="per frame",
            **common,
        )
    ]
    for stage, st in pipe.timer.summary(len(totals)).items():
        fm = st["frame_mean"]
        rows.append(
            Row(
                stage=f"video:{stage}",
                mode="per frame",
                iterations=st["frames"],
                latency_ms={"median": st["frame_median"], "p90": st["frame_p90"], "mean": fm},
                fps=round(1000.0 / fm, 2) if fm > 0 else 0.0,
                **common,
            )
        )
        if st["count"] != st["frames"]:  # skips frames (detect) or runs several times per frame
            rows.append(
                Row(
                    stage=f"video:{stage}",
                    mode="per call",
                    iterations=st["count"],
                    latency_ms={"median": st["median"], "p90": st["p90"], "mean": st["mean"]},
                    fps=round(1000.0 / st["mean"], 2) if st["mean"] > 0 else 0.0,
                    **common,
                )
            )
    return rows
