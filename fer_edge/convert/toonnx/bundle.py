"""A whole bundle as ONNX: every model's FP32 IR written as ``<role>.onnx``, each checked against its IR."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.convert.toonnx import DEFAULT_OPSET, check_opset, onnx_parity, to_onnx
from fer_edge.core.errors import FerEdgeError
from fer_edge.core.outputs import check_output

__all__ = ["export_onnx_bundle"]

TOLERANCE = 1e-4  # ONNX vs the IR it was written from, both at f32: measured 0 on the default model


def _source(bundle: Any, role: str) -> Path:
    """The role's FP32 IR: INT8 (FakeQuantize) and FP16 files are not what the stick should get."""
    entry = bundle.models[role]
    if entry.precision == "FP32":
        return bundle.path / entry.file
    if "FP32" in entry.variants:
        return bundle.path / entry.variants["FP32"]
    raise FerEdgeError(
        f"bundle {bundle.path} has no FP32 {role} model (its {entry.file} is {entry.precision}); export the "
        "bundle it was optimized from (the MYRIAD plugin computes in FP16 itself)"
    )


def export_onnx_bundle(
    bundle_path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    batch: int | None = None,
    frames: np.ndarray | None = None,
    force: bool = False,
) -> tuple[Any, dict[str, dict[str, float]], str]:
    """Write ``bundle_path``'s models as ONNX into a new bundle (``<bundle>_onnx`` by default).

    Args:
        opset: ONNX opset (13: OpenVINO 2021.4 and the Neural Compute Stick 2).
        batch: static batch size (1 for the stick), None for a dynamic one.
        frames: real (N, H, W, C) face crops for the parity of frame/spatial models; seeded
            random inputs otherwise.
        force: replace an ``out`` that is not a fer-edge bundle.

    Returns:
        The new bundle, each role's parity (ONNX vs its IR at f32) and ``real``/``random``.

    Raises:
        FerEdgeError: a model with no ONNX form (naming the operation), no FP32 model, or a
            parity beyond 1e-4.

    Example:
        >>> bundle, parity, inputs = export_onnx_bundle("runs/fer", opset=13, batch=1)  # doctest: +SKIP
    """
    from fer_edge.runtime.bundle import Bundle, ModelEntry, load_bundle, provenance, staging, write_manifest

    opset = check_opset(opset)
    bundle = load_bundle(bundle_path)
    sources = {role: _source(bundle, role) for role in bundle.models}
    out = Path(out) if out else bundle.path.with_name(f"{bundle.path.name}_onnx")
    out = check_output(out, inputs=[bundle.path], force=force, folder=True)
    parity: dict[str, dict[str, float]] = {}
    kinds = set()
    with staging(out, inputs=[bundle.path], force=force) as tmp:
        entries = {}
        for role, entry in bundle.models.items():
            path = to_onnx(sources[role], tmp / f"{role}.onnx", opset=opset, batch=batch)
            real = frames is not None and role in ("frame", "spatial")
            kinds.add("real" if real else "random")
            check = onnx_parity(sources[role], path, [frames] if real else None)
            if not check.max_abs_diff <= TOLERANCE:  # NaN fails too
                raise FerEdgeError(
                    f"{role}: the ONNX differs from {sources[role].name} by {check.max_abs_diff:.2e} "
                    f"(> {TOLERANCE:g}); the conversion is not faithful, report this model"
                )
            parity[role] = check.as_dict()
            if entry.keras:  # the source travels with the bundle, as IR exports keep it
                shutil.copy2(bundle.path / entry.keras, tmp / entry.keras)
            entries[role] = ModelEntry(path.name, "FP32", output=entry.output, input=entry.input, keras=entry.keras)
        export = {"format": "onnx", "opset": opset, "batch": batch, "parity": parity}
        prov = provenance(str(bundle.path), parent=bundle.provenance, export=export)
        if isinstance(bundle.provenance.get("data"), dict):
            prov["data"] = bundle.provenance["data"]
        manifest = Bundle(tmp, bundle.name, bundle.kind, bundle.labels, bundle.frame, bundle.window, entries, prov)
        write_manifest(manifest)
    return load_bundle(out), parity, "/".join(sorted(kinds))
