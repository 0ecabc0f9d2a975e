"""The benchmark stage: every model of every bundle, per precision, device and hint -> a report.

Per bundle and model precision (FP32/FP16/INT8... as the manifest carries them), per device
and inference-precision hint: sync batch-1 latency, then async throughput; the whole runtime
on a video (per-stage and end-to-end per frame); the bundle's ``.keras`` models in TensorFlow
as the baseline. TensorFlow is imported only when the baseline is asked for.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from typing import Any

from fer_edge.benchmark.baseline import baseline_rows, tensorflow_available
from fer_edge.benchmark.identity import bundle_fingerprint, resolve_detector
from fer_edge.benchmark.kerassource import keras_sources
from fer_edge.benchmark.machine import machine_record
from fer_edge.benchmark.report import BenchmarkReport, Row
from fer_edge.benchmark.videorows import model_format, video_rows
from fer_edge.benchmark.writer import save_report
from fer_edge.core.errors import FerEdgeError, unknown_choice
from fer_edge.runtime.bundle import PRECISIONS, Bundle, load_bundle
from fer_edge.runtime.kinds import kind_of
from fer_edge.runtime.latency import (
    compile_model,
    layer_profile,
    make_inputs,
    measure_latency,
    measure_throughput,
    model_size_mb,
)

log = logging.getLogger(__name__)

BASELINES = ("tf", "none")
HINT_CHOICES = ("default", "f32", "bf16", "f16")


def bundle_precisions(bundle: Bundle, role: str) -> list[str]:
    """Precisions a bundle's model carries: its own first, then its variants.

    Example:
        >>> bundle_precisions(load_bundle("runs/fer"), "frame")  # doctest: +SKIP
        ['FP32', 'FP16']
    """
    entry = bundle.models[role]
    return [entry.precision, *[p for p in entry.variants if p != entry.precision]]


def select_precisions(bundles: Sequence[Bundle], wanted: str | Sequence[str]) -> dict[str, list[str]]:
    """Bundle path -> precisions to run. ``"all"`` = everything each bundle carries.

    Raises:
        FerEdgeError: an unknown precision, or one that no bundle carries.
    """
    plan: dict[str, list[str]] = {}
    if isinstance(wanted, str):
        wanted = [w.strip() for w in wanted.split(",") if w.strip()]
    wanted = [w.upper() for w in wanted] or ["ALL"]
    for w in wanted:
        if w != "ALL" and w not in PRECISIONS:
            raise unknown_choice("precision", w.lower(), ["all", *(p.lower() for p in PRECISIONS)])
    for b in bundles:
        roles = list(b.models)
        have = [p for p in bundle_precisions(b, roles[0]) if all(p in bundle_precisions(b, r) for r in roles)]
        plan[str(b.path)] = have if "ALL" in wanted else [p for p in wanted if p in have]
    if not any(plan.values()):
        from fer_edge.runtime.bundle import variant_hint

        carried = "; ".join(f"{b.name}: {', '.join(bundle_precisions(b, next(iter(b.models))))}" for b in bundles)
        raise FerEdgeError(
            f"no bundle carries precision {', '.join(wanted)} ({carried}); "
            + variant_hint(bundles[0].path, wanted[0], use="{} to fer-edge benchmark")
        )
    return plan


def recorded_accuracy(bundle: Bundle) -> float | None:
    """The test accuracy the bundle's provenance records for its own precision (None if none).

    Example:
        >>> recorded_accuracy(load_bundle("runs/synthetic"))  # doctest: +SKIP
        0.9667
    """
    metrics = bundle.provenance.get("metrics") or {}
    for key in ("test_accuracy", "accuracy", "val_accuracy"):
        value = metrics.get(key) if isinstance(metrics, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return round(float(value), 4)
    return None


def _ov_version() -> str:
    from importlib.metadata import version

    return f"OpenVINO {version('openvino')}"


#: Timed iterations of a ``-t SECONDS`` run: at least (a p90 needs samples), at most (memory).
TIMED_MIN, TIMED_MAX = 10, 1_000_000
#: Inferences that estimate one inference's time before a ``-t`` run sizes itself.
PROBE = 5


def check_seconds(seconds: float | None) -> None:
    """``-t``: None or seconds in (0, 3600].

    Raises:
        FerEdgeError: one line with the value given.
    """
    if seconds is not None and not (math.isfinite(seconds) and 0 < seconds <= 3600):
        raise FerEdgeError(f"-t must be seconds in (0, 3600], got {seconds}")


#: Most inferences a per-layer profile averages (counters slow each one; 50 give stable means).
PROFILED = 50


def check_per_layer(top: int, asked: bool = True) -> None:
    """Layers per model for ``--per-layer`` (``--top-layers N``): 1..10000; 0 (off) when not ``asked``."""
    if isinstance(top, bool) or not isinstance(top, int) or not (0 if not asked else 1) <= top <= 10_000:
        raise FerEdgeError(f"--per-layer: --top-layers must be a count of layers in 1..10000, got {top!r}")


def iterations_for(seconds: float, ms_each: float) -> int:
    """Iterations that take about ``seconds`` at ``ms_each`` per iteration (``benchmark -t``).

    Example:
        >>> iterations_for(2.0, 0.5), iterations_for(0.001, 100.0)
        (4000, 10)
    """
    return int(min(TIMED_MAX, max(TIMED_MIN, math.ceil(seconds * 1000.0 / max(ms_each, 1e-4)))))


def _model_rows(
    bundle: Bundle,
    precision: str,
    device: str,
    hint: str,
    *,
    warmup: int,
    iterations: int,
    throughput: bool,
    requests: int | None,
    engine: str,
    seconds: float | None = None,
    per_layer: int = 0,
    profiles: list[dict[str, Any]] | None = None,
) -> list[Row]:
    rows = []
    accuracy = recorded_accuracy(bundle) if precision == next(iter(bundle.models.values())).precision else None
    for role, entry in bundle.models.items():
        path = bundle.model_path(role, precision)
        if path.suffix == ".keras":
            continue
        pin = None if hint == "default" else hint
        common = dict(
            stage=role,
            model=bundle.name,
            format=model_format(path),
            precision=precision,
            device=device,
            batch=1,
            size_mb=model_size_mb(path),
            hint=hint,
            engine=engine,
        )
        compiled = compile_model(path, device=device, hint="latency", precision=pin, dims=entry.input)
        inputs = make_inputs(compiled)
        n, first = iterations, warmup
        if seconds is not None:  # -t: a short probe sizes the run to about `seconds`
            n = iterations_for(seconds, measure_latency(compiled, inputs, warmup=warmup, iterations=PROBE).mean_ms)
            first = 0
        t = measure_latency(compiled, inputs, warmup=first, iterations=n)
        rows.append(Row.timed(t, accuracy=accuracy if role == kind_of(bundle).score_role else None, **common))
        log.info(
            "%s %s %s %s %s: %.3f ms median (%s)",
            bundle.name,
            role,
            precision,
            device,
            hint,
            t.median_ms,
            t.inference_precision,
        )
        if per_layer and profiles is not None:
            profiles.append(_profile(path, entry.input, pin, per_layer, common, warmup=warmup, iterations=iterations))
        if throughput:
            compiled = compile_model(path, device=device, hint="throughput", precision=pin, dims=entry.input)
            inputs = make_inputs(compiled)
            n, first = iterations, warmup
            if seconds is not None:
                probe = measure_throughput(compiled, inputs, requests=requests, warmup=warmup, iterations=PROBE * 4)
                n, first = iterations_for(seconds, 1000.0 / probe.fps if probe.fps else 1.0), 0
            t = measure_throughput(compiled, inputs, requests=requests, warmup=first, iterations=n)
            rows.append(Row.timed(t, **common))
    return rows


def _profile(
    path: Any, dims: Any, pin: str | None, top: int, common: dict[str, Any], *, warmup: int, iterations: int
) -> dict[str, Any]:
    """One model's per-layer profile (``--per-layer``): compiled apart with PERF_COUNT, so the
    counters' overhead never reaches the timed rows; its ``top`` slowest layers."""
    compiled = compile_model(path, device=common["device"], hint="latency", precision=pin, dims=dims, perf_count=True)
    n = max(1, min(iterations, PROFILED))
    layers = layer_profile(compiled, warmup=min(warmup, 5), iterations=n)
    keys = ("stage", "model", "precision", "device", "hint")
    return {
        **{k: common[k] for k in keys},
        "iterations": n,
        "total_ms": round(sum(layer.ms for layer in layers), 4),
        "layers": [layer.as_dict() for layer in layers[:top]],
    }


def _baseline_device(wanted: str, notes: list[str]) -> str:
    """``CPU`` or ``GPU`` for the TensorFlow rows; a note when a GPU was asked for and none is visible."""
    from fer_edge.benchmark.baseline import tf_gpus

    wanted = wanted.upper()
    if wanted not in ("AUTO", "CPU", "GPU"):
        raise unknown_choice("baseline device", wanted.lower(), ["auto", "cpu", "gpu"])
    gpus = tf_gpus() if wanted != "CPU" else []
    if wanted == "GPU" and not gpus:
        notes.append(
            "TensorFlow baseline on the CPU: --baseline-device GPU, but TensorFlow sees no GPU "
            "(a CUDA build: pip install 'tensorflow[and-cuda]'; check with nvidia-smi)"
        )
        log.warning("%s", notes[-1])
    return "GPU" if gpus else "CPU"


def benchmark(
    bundles: Sequence[str | os.PathLike | Bundle],
    *,
    devices: Sequence[str] = ("CPU",),
    precisions: str | Sequence[str] = "all",
    hints: Sequence[str] = ("default",),
    baseline: str | None = "tf",
    source: str | int | None = None,
    iterations: int = 200,
    warmup: int = 20,
    throughput: bool = True,
    requests: int | None = None,
    frames: int = 300,
    out: str | os.PathLike | None = None,
    progress: bool = False,
    detector: str | None = None,
    label: str | None = None,
    baseline_device: str = "auto",
    seconds: float | None = None,
    per_layer: int = 0,
) -> BenchmarkReport:
    """Benchmark bundles and write ``benchmark.json/.md/.html`` into ``out``.

    Args:
        bundles: bundle directories (or loaded bundles); INT8/FP16 bundles from ``optimize`` too.
        devices: OpenVINO devices (``CPU``, ``GPU``, ``NPU``, ``AUTO``).
        precisions: ``"all"`` or model precisions (``FP32``, ``FP16``, ``INT8`` ...).
        hints: inference-precision hints: ``default`` (the plugin's choice, BF16 on AVX512_BF16
            CPUs) and/or ``f32``, ``bf16``, ``f16``.
        baseline: ``"tf"`` for the TensorFlow/Keras rows, None or ``"none"`` to skip.
        source: video file, camera index or frame folder for the end-to-end rows (None: skip).
        iterations, warmup: timed and untimed inferences per configuration.
        throughput: also measure async throughput.
        requests: parallel requests in throughput mode (None: the plugin's optimum).
        frames: most video frames for the end-to-end rows.
        out: output folder (None: nothing written).
        progress: show a progress bar.
        detector: face detector of the video rows (None: the demo's, BlazeFace where it runs).
        label: this machine's name in fleet reports (default: the host name).
        seconds: time-based runs (``-t``, as benchmark_app): each model configuration runs for about
            this long instead of ``iterations`` (a short probe sizes it), video rows stop after
            it or ``frames``, whichever comes first; the TensorFlow rows keep ``iterations``.
        per_layer: when > 0, per model and precision the ``per_layer`` slowest layers from the
            plugin's counters (benchmark_app's ``-pc``): name, type, the kernel that ran and ms,
            in the report's ``layers`` and a Markdown table per model.
        baseline_device: where the TensorFlow baseline runs: ``auto`` (the GPU when TensorFlow
            sees one), ``CPU`` or ``GPU`` (the CPU, with a note, when TensorFlow sees none).

    Example:
        >>> report = benchmark(["runs/fer", "runs/fer_int8"], hints=["default", "f32"],
        ...                    source="face.mp4", out="runs/bench")  # doctest: +SKIP
        >>> report.rows[0].latency_ms  # {"median": ..., "p90": ...} in ms  # doctest: +SKIP
    """
    from fer_edge.runtime.engine import check_device

    check_seconds(seconds)
    check_per_layer(per_layer, asked=per_layer != 0)
    if iterations < 1 or warmup < 0 or frames < 1:
        raise FerEdgeError(f"need iterations >= 1, warmup >= 0, frames >= 1; got {iterations}, {warmup}, {frames}")
    if baseline in ("none", ""):
        baseline = None
    if baseline is not None and baseline not in BASELINES:
        raise FerEdgeError(f"unknown baseline '{baseline}'; known: {', '.join(BASELINES)}")
    for h in hints:
        if h not in HINT_CHOICES:
            raise FerEdgeError(f"unknown inference precision hint '{h}'; known: {', '.join(HINT_CHOICES)}")
    if not bundles:
        raise FerEdgeError("no bundle given; pass one or more bundle directories")
    loaded = [b if isinstance(b, Bundle) else load_bundle(b) for b in bundles]
    notes: list[str] = []
    if baseline == "tf" and not tensorflow_available():
        # A runtime-only install (a Pi) measures OpenVINO; the baseline needs the train extra.
        notes.append(
            "TensorFlow baseline skipped: TensorFlow is not installed "
            "(pip install 'fer-edge[train]' to add it, or pass --baseline none)"
        )
        log.warning("%s", notes[-1])
        baseline = None
    devices = [check_device(d) for d in devices]
    plan = select_precisions(loaded, precisions)
    if source is not None:
        detector, why = resolve_detector(detector)
        if why:
            notes.append(why)
            log.warning("%s", why)
    machine = machine_record(label=label)
    engine = _ov_version()
    jobs: list[tuple[str, Any]] = []
    for b in loaded:
        for precision in plan[str(b.path)]:
            for device in devices:
                for hint in hints:
                    jobs.append(("models", (b, precision, device, hint)))
                if source is not None:
                    jobs.append(("video", (b, precision, device, hints[0])))
        if baseline:
            sources, why = keras_sources(b)
            if why:
                notes.append(why)
                log.warning("%s", why)
            else:
                jobs.append(("baseline", (b, sources)))
    bar = None
    if progress:
        from fer_edge.core.progress import progress as progress_bar

        bar = progress_bar(total=len(jobs), desc="benchmark", unit="config")
    rows: list[Row] = []
    profiles: list[dict[str, Any]] = []
    tf_device: str | None = None
    try:
        for what, job in jobs:
            if what == "models":
                b, precision, device, hint = job
                rows += _model_rows(
                    b,
                    precision,
                    device,
                    hint,
                    warmup=warmup,
                    iterations=iterations,
                    throughput=throughput,
                    requests=requests,
                    engine=engine,
                    seconds=seconds,
                    per_layer=per_layer,
                    profiles=profiles,
                )
            elif what == "video":
                b, precision, device, hint = job
                rows += video_rows(
                    source,
                    b,
                    precision=precision,
                    device=device,
                    hint=hint,
                    frames=frames,
                    engine=engine,
                    detector=detector,
                    seconds=seconds,
                )
            else:
                if tf_device is None:
                    tf_device = _baseline_device(baseline_device, notes)
                try:
                    new, gpus = baseline_rows(
                        job[0], warmup=warmup, iterations=iterations, sources=job[1], device=tf_device
                    )
                except FerEdgeError as exc:
                    if all(e.keras for e in job[0].models.values()):
                        raise  # the bundle's own .keras copy is broken: the user's to fix
                    notes.append(str(exc))  # a rebuilt one that does not match: said, not fatal
                    log.warning("%s", exc)
                    new, gpus = [], None
                rows += new
                machine.tf_gpus = gpus if gpus is not None else machine.tf_gpus
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    settings = {
        "bundles": [str(b.path) for b in loaded],
        "devices": devices,
        "precisions": plan,
        "hints": list(hints),
        "baseline": baseline or "none",
        "baseline_device": tf_device,
        "source": None if source is None else str(source),
        "iterations": iterations,
        "seconds": seconds,
        "warmup": warmup,
        "throughput": throughput,
        "requests": requests,
        "frames": frames,
        "per_layer": per_layer,
        "detector": detector if source is not None else None,
        "label": machine.host,
        "bundle_info": [bundle_fingerprint(b) for b in loaded],
        "notes": notes,
    }
    report = BenchmarkReport(machine.as_dict(), rows, settings, layers=profiles)
    if out is not None:
        save_report(report, out)
    return report
