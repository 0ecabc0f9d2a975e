"""A bundle re-exported as OpenVINO IR (FP32 / FP16, from Keras) or ONNX (from its IR), with a parity check.

IR: ``openvino.convert_model(keras_model)`` converts Conv, LSTM with masking and 1D-CNN models
exactly (f32 hint: max diff ~1e-7); the SavedModel route is the fallback for models the direct
route rejects. This needs the ``.keras`` models and TensorFlow (the ``train`` extra).

ONNX (for the Neural Compute Stick 2: OpenVINO 2021.4/2022.3 cannot read current IR) is written
from the bundle's IR by :mod:`fer_edge.convert.toonnx`, without TensorFlow: any bundle, the
TensorFlow-free-imported default model included. Recurrent heads (LSTM/BiLSTM compile to a Loop)
have no ONNX form there; for those, where the bundle keeps its ``.keras`` models and the
``optimize`` extra is installed, Keras' own exporter (``tf2onnx``) writes the ONNX instead.

Example:
    >>> result = export_bundle("runs/synthetic/bundle", format="openvino")  # doctest: +SKIP
    >>> result.parity["spatial"]["max_abs_diff"] < 1e-4  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.convert.keras import culprits, to_openvino
from fer_edge.convert.parity import check_parity
from fer_edge.core.atomic import save_via
from fer_edge.core.errors import FerEdgeError, require, unknown_choice
from fer_edge.core.outputs import check_output
from fer_edge.runtime.ovcompat import save_ir

log = logging.getLogger(__name__)


# The opset the Neural Compute Stick's OpenVINO 2021.4 reads without a fallback (2022.3 reads <= 15).
ONNX_OPSET = 13


def onnx_opset(path: str | os.PathLike) -> int:
    """The default-domain opset an ONNX file declares."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return max(int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx"))


def export_onnx(keras_model: Any, path: str | os.PathLike, opset: int = ONNX_OPSET) -> Path:
    """Write ``keras_model`` as ONNX at ``opset`` (atomically) via Keras' exporter (TensorFlow, tf2onnx).

    Raises:
        FerEdgeError: ``tf2onnx``/``onnx`` missing (names the extra), or a failed conversion.

    Example:
        >>> export_onnx(model, "bundle_onnx/frame.onnx")  # doctest: +SKIP
    """
    require("onnx", "optimize", purpose="ONNX export")
    require("tf2onnx", "optimize", purpose="ONNX export")

    def save(tmp: Path) -> None:
        try:
            # Keras' exporter refuses a loaded model that has never been called ("never called").
            dummy = [np.zeros([1 if d is None else d for d in t.shape], np.float32) for t in keras_model.inputs]
            keras_model(dummy if len(dummy) > 1 else dummy[0], training=False)
            keras_model.export(str(tmp), format="onnx", verbose=False, opset_version=opset)
        except Exception as exc:  # noqa: BLE001 - converter failures are about the model
            first = str(exc).strip().splitlines()
            raise FerEdgeError(
                f"ONNX export of '{keras_model.name}' failed: {first[-1][:200] if first else exc}"
                f"{culprits(keras_model, str(exc))}"
            ) from None
        if onnx_opset(tmp) > opset:
            raise FerEdgeError(
                f"ONNX export of '{keras_model.name}' wrote an opset above {opset}, which OpenVINO for the "
                "Neural Compute Stick 2 cannot read; upgrade tf2onnx/keras (optimize extra)"
            )

    return save_via(path, save, keep_suffix=True)


FORMATS = ("openvino", "onnx")


@dataclass
class ExportResult:
    """Files written by :func:`export_bundle` and the parity of each model."""

    bundle: str
    format: str
    files: dict[str, list[str]]
    parity: dict[str, dict[str, float]]
    inputs: str

    def describe(self) -> str:
        lines = [f"export {self.format}: {self.bundle}"]
        for role, files in self.files.items():
            p = self.parity.get(role, {})
            lines.append(
                f"  {role}: {', '.join(files)}  (max |diff| {p.get('max_abs_diff', float('nan')):.1e}, "
                f"argmax agreement {100 * p.get('argmax_agreement', float('nan')):.1f} % on "
                f"{p.get('samples', 0)} {self.inputs} inputs)"
            )
        return "\n".join(lines)


def _parity_inputs(bundle: Any, model: Any, role: str, data: Any) -> tuple[list[np.ndarray], str]:
    """Real inputs for ``role`` from calibration data when there is some, else seeded random ones."""
    from fer_edge.optimize.quantize import infer
    from fer_edge.runtime.windows import pad_window

    length = bundle.window.length
    if data is not None:
        if role in ("frame", "spatial"):
            return [data.frames(16)], "real"
        if role == "clip":
            return [np.stack([pad_window(c, length)[0] for c in data.clips[:4]])], "real"
        if role == "temporal":
            from fer_edge.runtime.engine import compile_f32

            spatial = compile_f32(bundle.model_path("spatial", "FP32"))
            pairs = [pad_window(infer(spatial, c[:length]), length) for c in data.clips[:4]]
            return [np.stack([f for f, _ in pairs]), np.stack([m for _, m in pairs])], "real"
    rng = np.random.default_rng(0)
    arrays = []
    for inp in model.inputs:
        shape = [4, *[int(d) for d in inp.shape[1:]]]
        name = getattr(inp, "name", "")
        arrays.append(
            (rng.random(shape) > 0.2).astype(np.float32)
            if "mask" in name or len(shape) == 2
            else rng.uniform(0, 1 if role == "temporal" else 255, shape).astype(np.float32)
        )
    return arrays, "random"


def _onnx_from_ir(
    bundle: Any,
    out: str | os.PathLike | None,
    *,
    opset: int,
    batch: int | None,
    calibration: str | os.PathLike | None,
    force: bool,
) -> ExportResult:
    """ONNX written from the bundle's IR (no TensorFlow), checked on the bundle's face crops when it has data."""
    from fer_edge.convert.toonnx.bundle import export_onnx_bundle
    from fer_edge.optimize.calibration import load_calibration

    frames = None
    try:
        frames = load_calibration(bundle, calibration).frames(16)
    except FerEdgeError as exc:
        if calibration:
            raise
        log.info("parity checked on random inputs (the bundle records no face data: %s)", str(exc).split(";")[0])
    made, parity, inputs = export_onnx_bundle(bundle.path, out, opset=opset, batch=batch, frames=frames, force=force)
    files = {role: [entry.file] for role, entry in made.models.items()}
    return ExportResult(str(made.path), "onnx", files, parity, inputs)


def export_bundle(
    bundle_path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    format: str = "openvino",
    fp16: bool = True,
    calibration: str | os.PathLike | None = None,
    tolerance: float = 1e-3,
    force: bool = False,
    opset: int = ONNX_OPSET,
    batch: int | None = None,
) -> ExportResult:
    """Re-export every Keras model of a bundle as IR FP32 (+FP16) or ONNX into a new bundle.

    The check after export compares the exported model (OpenVINO, f32 hint; ONNX files are read
    by OpenVINO too) with its source (Keras for IR, the IR for ONNX) on real inputs from the
    bundle's data (random ones otherwise).

    Args:
        bundle_path: a bundle; IR export needs its ``keras`` files, ONNX export any bundle.
        out: output bundle; default ``<bundle>_<format>``.
        format: ``openvino`` or ``onnx``.
        fp16: IR only: also write an FP16 variant (``compress_to_fp16``).
        calibration: data for the parity inputs (see :mod:`fer_edge.optimize.calibration`).
        tolerance: largest max-abs difference accepted.
        force: replace an existing ``out`` that is not a fer-edge bundle.
        opset: ONNX only: the opset (13 for the Neural Compute Stick's OpenVINO 2021.4).
        batch: ONNX only: a static batch size (1 for the stick), None for a dynamic one.

    Raises:
        FerEdgeError: unknown format, a model without a Keras file, a conversion that fails
            (naming the op and the Keras layer) or a parity beyond ``tolerance``.
    """
    import shutil

    from fer_edge.runtime.bundle import Bundle, ModelEntry, load_bundle, provenance, staging, write_manifest

    if format not in FORMATS:
        raise unknown_choice("export format", format, FORMATS)
    bundle = load_bundle(bundle_path)
    if format == "onnx":
        from fer_edge.convert.toonnx import UnsupportedOp

        try:
            return _onnx_from_ir(bundle, out, opset=opset, batch=batch, calibration=calibration, force=force)
        except UnsupportedOp as exc:
            if batch is not None or not all(e.keras for e in bundle.models.values()):
                raise
            log.info("%s; writing the ONNX from the bundle's Keras models instead", exc)
    elif batch is not None:
        raise FerEdgeError("--batch sets a static batch for --format onnx; IR keeps a dynamic batch")
    missing = [r for r, e in bundle.models.items() if not e.keras]
    if missing:
        raise FerEdgeError(
            f"bundle {bundle.path} has no Keras file for {', '.join(missing)} (an imported bundle keeps "
            "only OpenVINO IR): it is IR already; for ONNX use --format onnx, which works from the IR"
        )
    require("keras", "train", purpose=f"exporting the Keras models of {bundle.path}")
    out = Path(out) if out else bundle.path.with_name(f"{bundle.path.name}_{format}")
    out = check_output(out, inputs=[bundle.path, calibration], force=force, folder=True)
    from fer_edge.models import load_keras_model
    from fer_edge.optimize.calibration import load_calibration

    try:
        data = load_calibration(bundle, calibration)
    except FerEdgeError as exc:
        if calibration:
            raise
        log.info("parity checked on random inputs (the bundle records no face data: %s)", str(exc).split(";")[0])
        data = None
    files: dict[str, list[str]] = {}
    parity: dict[str, dict[str, float]] = {}
    kinds = set()
    with staging(out, inputs=[bundle.path, calibration], force=force) as tmp:
        entries = {}
        for role, entry in bundle.models.items():
            model = load_keras_model(bundle.path / entry.keras)
            shutil.copy2(bundle.path / entry.keras, tmp / entry.keras)
            inputs, kind = _parity_inputs(bundle, model, role, data)
            kinds.add(kind)
            variants = {}
            if format == "onnx":
                main = export_onnx(model, tmp / f"{role}.onnx", opset)
            else:
                ov_model = to_openvino(model)
                main = save_ir(ov_model, tmp / f"{role}.xml")
                if fp16:
                    save_ir(ov_model, tmp / f"{role}-fp16.xml", fp16=True)
                    variants["FP16"] = f"{role}-fp16.xml"
            check = check_parity(model, main, inputs)
            if not check.max_abs_diff <= tolerance:  # NaN fails too
                raise FerEdgeError(
                    f"{role}: exported model differs from Keras by {check.max_abs_diff:.2e} "
                    f"(> {tolerance:g}); the conversion is not faithful, report this model"
                )
            parity[role] = check.as_dict()
            files[role] = [main.name, *variants.values()]
            entries[role] = ModelEntry(
                main.name, "FP32", output=entry.output, input=entry.input, variants=variants, keras=entry.keras
            )
        prov = provenance(str(bundle.path), parent=bundle.provenance, export={"format": format, "parity": parity})
        if isinstance(bundle.provenance.get("data"), dict):
            prov["data"] = bundle.provenance["data"]
        write_manifest(Bundle(tmp, bundle.name, bundle.kind, bundle.labels, bundle.frame, bundle.window, entries, prov))
    return ExportResult(str(out), format, files, parity, "/".join(sorted(kinds)))
