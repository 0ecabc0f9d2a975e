"""The optimization report: one row per variant, printed and saved as JSON and Markdown.

In the spirit of Ultralytics' export table: variant, format, precision, size, parameters,
FLOPs, accuracy (or agreement with FP32 when the data is unlabelled), drop vs FP32, latency
(median / p90 ms, batch 1) with the f32 hint and with the plugin's default precision, and for
each hint the speed-up over the parent measured with that same hint (like with like).

Example:
    >>> report = OptimizeReport(bundle="runs/fer_int8", source="runs/fer", precision="int8")
    >>> report.rows.append(VariantRow("fp32", "openvino", "FP32", 0.22))
    >>> "| fp32 |" in report.markdown()
    True
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.atomic import write_text


@dataclass
class VariantRow:
    """One variant (a whole bundle: all its models) in the report."""

    variant: str
    format: str
    precision: str
    size_mb: float
    params: int | None = None
    flops: int | None = None
    accuracy: float | None = None
    drop: float | None = None
    latency_f32_ms: dict[str, float] | None = None
    latency_default_ms: dict[str, float] | None = None
    default_precision: str | None = None
    # Like with like: the parent's latency over this row's, under the same hint (f32; the plugin's default).
    speedup_f32: float | None = None
    speedup_default: float | None = None


@dataclass
class OptimizeReport:
    """What ``fer-edge optimize`` did, with its measurements."""

    bundle: str
    source: str
    precision: str
    device: str = "CPU"
    metric: str = "accuracy"
    calibration: str | None = None
    calibration_samples: dict[str, int] = field(default_factory=dict)
    validation_items: int = 0
    steps: list[str] = field(default_factory=list)
    accuracy_control: dict[str, Any] = field(default_factory=dict)
    parity: dict[str, Any] = field(default_factory=dict)
    rows: list[VariantRow] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def markdown(self) -> str:
        """The table (and a few lines of context) as Markdown."""
        metric = "agreement" if self.metric == "agreement" else "accuracy"
        lines = [
            f"# fer-edge optimize: {Path(self.bundle).name}",
            "",
            f"source `{self.source}` -> `{self.bundle}`; precision {self.precision}; device {self.device}",
            f"steps: {', '.join(self.steps) or 'none'}",
        ]
        if self.calibration:
            counts = ", ".join(f"{k} {v}" for k, v in self.calibration_samples.items())
            lines.append(f"calibration: {self.calibration} ({counts})")
        if self.metric == "agreement":
            lines.append("accuracy column: top-1 agreement with the FP32 model (the data has no labels)")
        used = sorted({r.default_precision for r in self.rows if r.default_precision})
        default = f"default hint ({'/'.join(used)})" if used else "default hint"
        lines += [
            "",
            f"| variant | format | precision | size MB | params | MFLOPs | {metric} | drop | "
            f"ms, f32 hint (median/p90) | speed-up, f32 hint | ms, {default} | speed-up, {default} |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.variant} | {r.format} | {r.precision} | {r.size_mb:.3f} | {_num(r.params)} | "
                f"{_mflops(r.flops)} | {_pct(r.accuracy)} | {_pts(r.drop)} | {_lat(r.latency_f32_ms)} | "
                f"{_x(r.speedup_f32)} | {_lat(r.latency_default_ms)}"
                f"{f' ({r.default_precision})' if r.default_precision else ''} | {_x(r.speedup_default)} |"
            )
        lines += [
            "",
            "speed-up: the parent's latency over the variant's, measured with the same inference "
            "precision hint (f32 pinned; or the plugin's default, which is bf16 on AVX512-BF16 CPUs).",
        ]
        return "\n".join(lines) + "\n"

    def save(self, folder: str | os.PathLike) -> dict[str, Path]:
        """Write ``report.json`` and ``report.md`` into ``folder`` (atomically)."""
        folder = Path(folder)
        out = {}
        for name, text in (
            ("report.json", json.dumps(self.as_dict(), indent=2) + "\n"),
            ("report.md", self.markdown()),
        ):
            out[name] = write_text(folder / name, text)
        return out


def _num(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def _mflops(v: int | None) -> str:
    return "-" if v is None else f"{v / 1e6:.1f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def _pts(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:+.1f} pt"


def _x(v: float | None) -> str:
    return "-" if not v else f"{v:.2f}x"


def _lat(v: dict[str, float] | None) -> str:
    return "-" if not v else f"{v['median']:.3f} / {v['p90']:.3f}"


def files_size_mb(folder: Path, files: list[str]) -> float:
    """Size of model files (IR ``.xml`` counts its ``.bin`` too) in MB."""
    total = 0
    for f in files:
        p = folder / f
        total += p.stat().st_size
        if p.suffix == ".xml" and p.with_suffix(".bin").is_file():
            total += p.with_suffix(".bin").stat().st_size
    return total / 1e6


def _static(ov_model: Any) -> Any:
    """A copy with every dynamic dimension set to 1 (batch 1), for counting."""
    import openvino as ov

    model = ov_model.clone()
    shapes = {}
    for port in model.inputs:
        shapes[port.any_name] = ov.PartialShape(
            [d if d.is_static else ov.Dimension(1) for d in port.get_partial_shape()]
        )
    model.reshape(shapes)
    return model


def ir_params(ov_model: Any) -> int:
    """Weights of Convolution/MatMul/Add-bias layers of an FP32 IR (= the Keras parameter count
    except BatchNormalization statistics, which OpenVINO folds into the convolutions)."""
    total = 0
    for op in ov_model.get_ordered_ops():
        if op.get_type_name() == "Constant":
            shape = list(op.get_output_shape(0))
            size = int(np.prod(shape)) if shape else 1
            if size > 1 and op.get_output_element_type(0).is_real():
                total += size
    return total


def ir_flops(ov_model: Any) -> int:
    """Multiply-adds x 2 of the convolutions and matrix products at batch 1."""
    model = _static(ov_model)
    flops = 0
    for op in model.get_ordered_ops():
        op_type = op.get_type_name()
        if op_type not in ("Convolution", "GroupConvolution", "MatMul"):
            continue
        out = int(np.prod(list(op.get_output_shape(0))))
        w = list(op.input(1).get_shape())
        if op_type == "Convolution":
            flops += 2 * out * int(np.prod(w[1:]))
        elif op_type == "GroupConvolution":
            flops += 2 * out * int(np.prod(w[2:]))
        else:
            a = list(op.input(0).get_shape())
            transpose_a = bool(op.get_attributes().get("transpose_a", False))
            k = a[-2] if transpose_a and len(a) > 1 else a[-1]
            flops += 2 * out * int(k)
    return flops


def measure_file_latency(
    path: str | os.PathLike,
    inputs: list[np.ndarray],
    *,
    device: str = "CPU",
    precision: str | None = None,
    iterations: int = 200,
    warmup: int = 20,
) -> tuple[dict, str]:
    """Batch-1 synchronous latency of a model file with the latency hint.

    Returns:
        ``({"median": ms, "p90": ms}, inference precision the plugin used)``.

    Example:
        >>> lat, prec = measure_file_latency("b/frame.xml", [x[:1]], precision="f32")  # doctest: +SKIP
    """
    from fer_edge.runtime.engine import EngineConfig, load_model
    from fer_edge.runtime.latency import measure_latency as measure

    # Compiled as the runtime will run it; timed by the benchmark's measurer (one p90 definition).
    model = load_model(path, EngineConfig(device=device, hint="latency", precision=precision))
    feed = [np.ascontiguousarray(x) for x in inputs]
    timing = measure(model.compiled, feed, warmup=warmup, iterations=iterations)
    return {"median": timing.median_ms, "p90": timing.p90_ms}, timing.inference_precision
