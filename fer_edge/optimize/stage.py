"""``fer-edge optimize``: a bundle -> a new bundle with smaller/faster models and a report.

Order of the steps: [distill into a student] -> [prune channels + fine-tune] -> precision
(FP16 / INT8 weights / NNCF INT8 with optional accuracy control) -> measure -> write.
The output (``<bundle>_<precision>/`` by default) is a complete bundle whose default models
have the new precision, with the FP32 models kept as ``variants["FP32"]`` so the runtime can
compare (``fer-edge demo --precision FP32``); its provenance records the parent bundle.

Example:
    >>> report = optimize_bundle("runs/synthetic/bundle", OptimizeConfig(precision="int8"))  # doctest: +SKIP
    >>> report.bundle  # doctest: +SKIP
    'runs/synthetic/bundle_int8'
"""

from __future__ import annotations

import functools
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.config import coerce_fields, load
from fer_edge.core.errors import FerEdgeError
from fer_edge.core.outputs import check_output
from fer_edge.optimize import quantize as q
from fer_edge.optimize import validation as ev
from fer_edge.optimize.measure import latency_inputs, set_speedups, variant_row
from fer_edge.optimize.report import OptimizeReport, ir_params
from fer_edge.runtime.bundle import (
    Bundle,
    ModelEntry,
    load_bundle,
    provenance,
    staging,
    write_manifest,
)
from fer_edge.runtime.kinds import BundleKind, kind_of

log = logging.getLogger(__name__)


@dataclass
class OptimizeConfig:
    """Settings of one optimization run (CLI > recipe file > these defaults).

    Attributes:
        precision: ``int8`` (NNCF, calibrated), ``int8-weights`` (weights only, no data),
            ``fp16`` or ``fp32``.
        calibration: ``--calibration`` DATA; None = the bundle's own data (or sample videos).
        subset_size: calibration samples per model (300 recommended; fewer warns).
        max_drop: accuracy-control budget (absolute, e.g. 0.01 = 1 point); None = plain INT8.
        prune: structured channel-pruning ratio in (0, 0.9]; None = no pruning.
        prune_epochs: fine-tuning epochs after pruning.
        distill: registry name of the student to distill into (e.g. ``student``).
        distill_epochs: student training epochs.
        temperature: distillation temperature T.
        alpha: weight of the soft-target KL term (1 - alpha weighs the labels' cross-entropy).
        student_options: keyword options of the student factory (e.g. ``{"width": 0.5}``).
        device: device the latency is measured on.
        iterations: timed inferences per latency measurement.
        seed: seed of subsets, training and data order.
        out: output bundle; None = ``<bundle>_<precision>`` next to the input.
        force: replace an existing ``out`` that is not a fer-edge bundle.
    """

    precision: str = "int8"
    calibration: str | None = None
    subset_size: int = 300
    max_drop: float | None = None
    prune: float | None = None
    prune_epochs: int = 3
    distill: str | None = None
    distill_epochs: int = 10
    temperature: float = 4.0
    alpha: float = 0.7
    student_options: dict[str, Any] = field(default_factory=dict)
    device: str = "CPU"
    iterations: int = 200
    seed: int = 0
    out: str | None = None
    force: bool = False

    def __post_init__(self) -> None:
        coerce_fields(self)  # from Python too: "300" -> 300, nan refused
        self.precision = q.check_precision(self.precision)
        if self.subset_size < 1:
            raise FerEdgeError(f"--subset-size must be >= 1, got {self.subset_size}")
        if self.max_drop is not None and not 0.0 <= self.max_drop < 1.0:
            raise FerEdgeError(f"--max-drop must be in [0, 1) (0.01 = 1 point), got {self.max_drop}")
        if self.max_drop is not None and self.precision != "int8":
            raise FerEdgeError(
                f"--max-drop controls INT8 quantization; use it with --precision int8, not {self.precision}"
            )
        if self.prune is not None and not 0.0 < self.prune <= 0.9:
            raise FerEdgeError(f"--prune must be in (0, 0.9] (the fraction of channels removed), got {self.prune}")
        if not 0.0 <= self.alpha <= 1.0:
            raise FerEdgeError(f"alpha must be in [0, 1], got {self.alpha}")
        if not 0 < self.temperature < float("inf"):
            raise FerEdgeError(f"temperature must be a finite number > 0, got {self.temperature}")
        for name in ("prune_epochs", "distill_epochs", "iterations"):
            if getattr(self, name) < 1:
                raise FerEdgeError(f"{name} must be >= 1, got {getattr(self, name)}")

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> OptimizeConfig:
        """A recipe file (``optimize/*.yaml``) with CLI ``overrides`` on top (None = not given).

        Example:
            >>> cfg = OptimizeConfig.from_yaml("optimize/int8.yaml", subset_size=100)  # doctest: +SKIP
        """
        return load(cls, path, overrides=overrides, see="optimize/*.yaml")


def default_out(bundle: Path, precision: str) -> Path:
    """``<bundle>_int8`` etc. next to the input bundle."""
    from fer_edge.runtime.bundle import variant_dir

    return variant_dir(bundle, precision)


def _fp32_model(bundle: Bundle, role: str) -> Any:
    from fer_edge.runtime.engine import core

    entry = bundle.models[role]
    if entry.precision != "FP32" and "FP32" not in entry.variants:
        raise FerEdgeError(
            f"bundle {bundle.path} has no FP32 {role} model to optimize (has {entry.precision}); "
            "optimize the original bundle instead"
        )
    path = bundle.model_path(role, "FP32")
    if path.suffix != ".xml":
        raise FerEdgeError(f"{path}: optimize needs OpenVINO IR; run fer-edge export {bundle.path} first")
    return core().read_model(str(path))


def _compile_all(models: dict[str, Any]) -> dict[str, Any]:
    return {role: q.compile_f32(m) for role, m in models.items()}


def _validation_fn(kind: BundleKind, role: str, current: dict[str, Any], length: int):
    """``(compiled_model, items) -> (metric, per-item correctness)`` with ``role`` swapped in."""

    def fn(compiled, items):
        models = {**current, role: compiled}
        correct = [float(np.argmax(ev.scores(kind, models, clip, length)) == target) for clip, target in items]
        return (float(np.mean(correct)) if correct else 0.0), correct

    return fn


def _precision_step(
    bundle: Bundle, base: dict[str, Any], data, val, cfg: OptimizeConfig, report: OptimizeReport
) -> dict[str, Any]:
    """The base FP32 models -> models of ``cfg.precision`` (role by role, upstream first)."""
    kind, length = kind_of(bundle), bundle.window.length
    if cfg.precision in ("fp32", "fp16"):
        return dict(base)
    if cfg.precision == "int8-weights":
        return {role: q.to_precision(m, "int8-weights") for role, m in base.items()}
    current = _compile_all(base)
    out = {}
    for role in kind.roles:
        # Batch-1 inputs of ``role``: frames, or windows of what the (optimized) upstream models give.
        upstream = {r: q.as_model(m) for r, m in current.items()}
        items = kind.calibration_items(role, data, upstream, length, cfg.subset_size, cfg.seed)
        report.calibration_samples[role] = len(items)
        control = cfg.max_drop is not None and val is not None
        val_items = list(zip(val.clips, val.targets.tolist())) if control else None
        out[role] = q.quantize_model(
            base[role],
            items,
            role=role,
            subset_size=cfg.subset_size,
            max_drop=cfg.max_drop if control else None,
            validation=val_items,
            validation_fn=_validation_fn(kind, role, current, length),
            seed=cfg.seed,
        )
        current[role] = q.compile_f32(out[role])
    return out


def _keras_step(bundle: Bundle, data, cfg: OptimizeConfig, report: OptimizeReport) -> dict[str, Any]:
    """Distillation and/or pruning in Keras; returns ``{role: keras.Model}`` of changed models."""
    changed: dict[str, Any] = {}
    if cfg.distill:
        from fer_edge.optimize.distill import distill_bundle

        result = distill_bundle(
            bundle,
            data,
            cfg.distill,
            epochs=cfg.distill_epochs,
            temperature=cfg.temperature,
            alpha=cfg.alpha,
            seed=cfg.seed,
            options=cfg.student_options,
        )
        changed.update(result.models)
        report.steps.append(f"distill {cfg.distill} ({result.describe()})")
    if cfg.prune:
        from fer_edge.optimize.prune import prune_bundle

        result = prune_bundle(bundle, data, cfg.prune, epochs=cfg.prune_epochs, seed=cfg.seed, models=changed)
        changed.update(result.models)
        report.steps.append(f"prune {cfg.prune:g} ({result.describe()})")
    return changed


def optimize_bundle(bundle_path: str | Path, config: OptimizeConfig | None = None, **overrides: Any) -> OptimizeReport:
    """Optimize every model of a bundle into a new bundle; returns the measured report.

    Args:
        bundle_path: the bundle to optimize (its FP32 IR, and ``.keras`` for prune/distill).
        config: settings; ``overrides`` replace single fields.

    Raises:
        FerEdgeError: no calibration data, a ``--max-drop`` that cannot be met (nothing is
            written), an op NNCF cannot handle, bad ratios, a student that does not fit.

    Example:
        >>> r = optimize_bundle("runs/fer", precision="fp16")  # doctest: +SKIP
        >>> r.rows[-1].precision  # doctest: +SKIP
        'FP16'
    """
    start = time.perf_counter()
    cfg = config or OptimizeConfig()
    if overrides:
        cfg = OptimizeConfig(**{**asdict(cfg), **overrides})
    bundle = load_bundle(bundle_path)
    out = Path(cfg.out) if cfg.out else default_out(bundle.path, cfg.precision)
    out = check_output(out, inputs=[bundle.path, cfg.calibration], force=cfg.force, folder=True)
    needs_data = cfg.precision == "int8" or cfg.prune or cfg.distill
    from fer_edge.optimize.calibration import load_calibration

    data = None
    try:
        data = load_calibration(bundle, cfg.calibration, seed=cfg.seed)
    except FerEdgeError as exc:
        if needs_data or cfg.calibration:
            raise
        log.info("no data to measure accuracy on (%s); the report has no accuracy column", exc)
    prec = q.MANIFEST_PRECISION[cfg.precision]
    report = OptimizeReport(
        bundle=str(out),
        source=str(bundle.path),
        precision=prec,
        device=cfg.device,
        calibration=data.source if data else None,
    )
    kind = kind_of(bundle)
    roles = kind.roles
    parent = {r: _fp32_model(bundle, r) for r in roles}
    length = bundle.window.length
    reference = _compile_all(parent)
    val = ev.validation_set(kind, data, reference, length, seed=cfg.seed) if data else None
    if val is not None:
        report.metric, report.validation_items = val.metric, len(val)
    ref_acc = ev.accuracy(kind, reference, val, length) if val else None

    keras_models = _keras_step(bundle, data, cfg, report) if (cfg.prune or cfg.distill) else {}
    base = dict(parent)
    if keras_models:
        from fer_edge.convert.keras import to_openvino

        base.update({r: to_openvino(m) for r, m in keras_models.items()})
    base_acc = ev.accuracy(kind, _compile_all(base), val, length) if (val and keras_models) else ref_acc
    optimized = _precision_step(bundle, base, data, val, cfg, report)
    if cfg.precision != "fp32":
        report.steps.append(prec + (f" (max drop {cfg.max_drop:g})" if cfg.max_drop is not None else ""))
    opt_acc = ev.accuracy(kind, _compile_all(optimized), val, length) if val else None
    if cfg.max_drop is not None and val is not None:
        check = q.AccuracyCheck(val.metric, base_acc, opt_acc, len(val))
        report.accuracy_control = check.as_dict()
        if check.drop > cfg.max_drop + 1e-9:
            raise FerEdgeError(
                f"INT8 {val.metric} drop {100 * check.drop:.2f} points exceeds --max-drop {100 * cfg.max_drop:.2f} "
                f"(best reached {100 * opt_acc:.2f} % vs FP32 {100 * base_acc:.2f} %); nothing written: "
                "raise --max-drop, add calibration data, or use --precision fp16"
            )

    inputs = latency_inputs(bundle, data, base)
    row = functools.partial(variant_row, device=cfg.device, iterations=cfg.iterations)
    with staging(out, inputs=[bundle.path, cfg.calibration], force=cfg.force) as tmp:
        from fer_edge.runtime.ovcompat import save_ir

        entries: dict[str, ModelEntry] = {}
        for role in roles:
            old = bundle.models[role]
            keras_file = None
            if role in keras_models:
                keras_file = f"{role}.keras"
                keras_models[role].save(tmp / keras_file)
            elif old.keras:
                keras_file = old.keras
                shutil.copy2(bundle.path / old.keras, tmp / old.keras)
            save_ir(base[role], tmp / f"{role}-fp32.xml")
            variants = {}
            if cfg.precision == "fp32":
                file = f"{role}-fp32.xml"
            else:
                file = f"{role}.xml"
                save_ir(optimized[role], tmp / file, fp16=cfg.precision == "fp16")
                variants["FP32"] = f"{role}-fp32.xml"
            shape = [int(d.get_length()) for d in base[role].inputs[0].get_partial_shape()[1:]]
            out_dim = base[role].outputs[0].get_partial_shape()[-1]
            entries[role] = ModelEntry(
                file,
                prec,
                output=int(out_dim.get_length()) if out_dim.is_static else None,
                input=shape,
                variants=variants,
                keras=keras_file,
            )
        params_parent = sum(ir_params(m) for m in parent.values())
        params_base = sum(ir_params(m) for m in base.values())
        parent_files = {r: str(bundle.model_path(r, "FP32").relative_to(bundle.path)) for r in roles}
        # The parent's temporal head takes the parent's feature size (a distilled student may differ).
        report.rows.append(
            row(
                "parent",
                "FP32",
                bundle.path,
                parent_files,
                parent,
                ref_acc,
                ref_acc,
                latency_inputs(bundle, data, parent),
                params_parent,
            )
        )
        if keras_models:
            report.rows.append(
                row(
                    "+".join(s.split()[0] for s in report.steps if s.split()[0] in ("distill", "prune")),
                    "FP32",
                    tmp,
                    {r: f"{r}-fp32.xml" for r in roles},
                    base,
                    base_acc,
                    ref_acc,
                    inputs,
                    params_base,
                )
            )
        if cfg.precision != "fp32":
            report.rows.append(
                row(
                    cfg.precision,
                    prec,
                    tmp,
                    {r: e.file for r, e in entries.items()},
                    base,
                    opt_acc,
                    ref_acc,
                    inputs,
                    params_base,
                )
            )
        set_speedups(report.rows)
        report.seconds = time.perf_counter() - start
        prov = provenance(
            str(bundle.path),
            parent=bundle.provenance,
            optimize={
                "precision": prec,
                "steps": report.steps,
                "calibration": report.calibration,
                "subset_size": cfg.subset_size,
                "max_drop": cfg.max_drop,
                "seed": cfg.seed,
            },
            metrics={
                "metric": report.metric,
                "reference": ref_acc,
                "optimized": opt_acc if cfg.precision != "fp32" else base_acc,
            },
        )
        if isinstance(bundle.provenance.get("data"), dict):
            prov["data"] = bundle.provenance["data"]  # so the new bundle can be evaluated/optimized again
        write_manifest(
            Bundle(
                tmp,
                bundle.name + ("" if cfg.precision == "fp32" else f"-{cfg.precision}"),
                bundle.kind,
                bundle.labels,
                bundle.frame,
                bundle.window,
                entries,
                prov,
            )
        )
        report.save(tmp)
    log.info("optimized %s -> %s in %.0f s", bundle.path, out, report.seconds)
    return report
