"""Measuring a variant for the optimization report: its models' latency one after the other
(summed per-model timings), size, parameters, FLOPs and accuracy, as one :class:`VariantRow`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.optimize import quantize as q
from fer_edge.optimize.report import VariantRow, files_size_mb, ir_flops, measure_file_latency
from fer_edge.runtime.bundle import Bundle
from fer_edge.runtime.kinds import kind_of


def bundle_latency(
    bundle_dir: Path,
    files: dict[str, str],
    inputs: dict[str, list[np.ndarray]],
    precision: str | None,
    *,
    device: str,
    iterations: int,
) -> tuple[dict[str, float], str]:
    """Median/p90 of the bundle's models run one after the other (sum of per-model timings)."""
    total = {"median": 0.0, "p90": 0.0}
    used = ""
    for role, f in files.items():
        lat, used = measure_file_latency(
            bundle_dir / f,
            inputs[role],
            device=device,
            precision=precision,
            iterations=iterations,
            warmup=max(5, iterations // 10),
        )
        total = {k: total[k] + lat[k] for k in total}
    return total, used


def variant_row(
    name: str,
    precision: str,
    folder: Path,
    files: dict[str, str],
    ov_models: dict[str, Any],
    acc,
    ref_acc,
    inputs,
    params: int | None,
    *,
    device: str,
    iterations: int,
) -> VariantRow:
    """The report row of one variant: size, parameters, FLOPs, accuracy and its drop, latency with
    the f32 hint and with the plugin's default precision."""
    lat32, _ = bundle_latency(folder, files, inputs, "f32", device=device, iterations=iterations)
    latdef, used = bundle_latency(folder, files, inputs, None, device=device, iterations=iterations)
    fmt = "onnx" if all(f.endswith(".onnx") for f in files.values()) else "openvino"
    return VariantRow(
        name,
        fmt,
        precision,
        files_size_mb(folder, list(files.values())),
        params,
        sum(ir_flops(m) for m in ov_models.values()),
        acc,
        None if acc is None or ref_acc is None else ref_acc - acc,
        lat32,
        latdef,
        used,
    )


def latency_inputs(bundle: Bundle, data, base: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    """Example inputs of each model: a frame/clip of ``data`` (zeros without), through the upstream models."""
    h, w = bundle.frame.size
    frame = np.zeros((1, h, w, bundle.frame.channels), np.float32)
    if data is not None:
        frame = data.clips[0][:1]
    clip = data.clips[0] if data is not None else frame
    # The models that feed another one (a cascade's spatial model gives the temporal head's features).
    upstream = {r: q.as_model(q.compile_f32(m)) for r, m in base.items() if r != kind_of(bundle).score_role}
    return kind_of(bundle).example_inputs(frame, clip, upstream, bundle.window.length)


def set_speedups(rows: list[VariantRow]) -> None:
    """Each row's speed-up over the first (the parent), like with like: the same hint on both sides."""
    parent = rows[0]
    for row in rows:
        row.speedup_f32 = parent.latency_f32_ms["median"] / row.latency_f32_ms["median"]
        row.speedup_default = parent.latency_default_ms["median"] / row.latency_default_ms["median"]
