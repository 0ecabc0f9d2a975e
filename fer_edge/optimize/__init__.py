"""Optimization of bundles: export (IR FP32/FP16, ONNX), NNCF INT8, pruning, distillation, report.

Importing this package is cheap; TensorFlow is needed only by export, pruning and distillation,
NNCF only by INT8.

Example:
    >>> from fer_edge.optimize import OptimizeConfig, optimize_bundle
    >>> report = optimize_bundle("runs/fer", OptimizeConfig(precision="int8"))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib

_LAZY = {
    "OptimizeConfig": "fer_edge.optimize.stage",
    "optimize_bundle": "fer_edge.optimize.stage",
    "OptimizeReport": "fer_edge.optimize.report",
    "export_bundle": "fer_edge.optimize.export",
    "export_onnx": "fer_edge.optimize.export",
    "to_openvino": "fer_edge.convert.keras",
    "save_ir": "fer_edge.runtime.ovcompat",
    "check_parity": "fer_edge.convert.parity",
    "quantize_model": "fer_edge.optimize.quantize",
    "load_calibration": "fer_edge.optimize.calibration",
    "prune_model": "fer_edge.optimize.prune",
    "distillation_loss": "fer_edge.optimize.distill",
    "distill_bundle": "fer_edge.optimize.distill",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fer_edge.optimize' has no attribute '{name}'")


__all__ = sorted(_LAZY)
