"""Keras -> OpenVINO IR (FP32 / FP16) with a parity check against Keras.

``openvino.convert_model(keras_model)`` converts Conv, LSTM with masking and 1D-CNN models
exactly (f32 hint: max diff ~1e-7); the SavedModel route is the fallback for models the direct
route rejects.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.errors import FerEdgeError

log = logging.getLogger(__name__)


@dataclass
class Parity:
    """OpenVINO (f32 hint) vs Keras on the same inputs."""

    max_abs_diff: float
    argmax_agreement: float
    samples: int

    def as_dict(self) -> dict[str, float]:
        return {"max_abs_diff": self.max_abs_diff, "argmax_agreement": self.argmax_agreement,
                "samples": self.samples}


def to_openvino(model: Any) -> Any:
    """Convert a Keras model into an ``openvino.Model``.

    Tries the direct conversion first and falls back to a SavedModel export.

    Raises:
        FerEdgeError: when neither route works, naming the first unsupported operation.
    """
    import openvino as ov

    try:
        return ov.convert_model(model)
    except Exception as direct:  # noqa: BLE001 - any converter failure -> try the fallback
        log.info("direct conversion failed (%s); trying the SavedModel route", str(direct).splitlines()[0])
        with tempfile.TemporaryDirectory(prefix="fer-edge-savedmodel-") as tmp:
            try:
                model.export(tmp, format="tf_saved_model")
                return ov.convert_model(tmp)
            except Exception as fallback:  # noqa: BLE001
                detail = str(fallback).strip().splitlines()
                raise FerEdgeError(
                    f"OpenVINO cannot convert model '{model.name}': {detail[-1] if detail else fallback}; "
                    "replace the unsupported layer or report it with the model summary"
                ) from None


def save_ir(ov_model: Any, xml: str | os.PathLike, *, fp16: bool = False) -> Path:
    """Write IR ``.xml``/``.bin`` next to each other, atomically (both renamed at the end)."""
    import openvino as ov

    xml = Path(xml)
    xml.parent.mkdir(parents=True, exist_ok=True)
    tmp = xml.with_name(f".{xml.stem}.tmp-{os.getpid()}.xml")
    ov.save_model(ov_model, str(tmp), compress_to_fp16=fp16)
    os.replace(tmp.with_suffix(".bin"), xml.with_suffix(".bin"))
    os.replace(tmp, xml)
    return xml


def check_parity(keras_model: Any, xml: str | os.PathLike, inputs: np.ndarray) -> Parity:
    """Compare the IR (CPU, f32 hint) against Keras on ``inputs``."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    got = np.asarray(compiled(inputs)[0])
    want = np.asarray(keras_model(inputs, training=False))
    return Parity(
        max_abs_diff=float(np.abs(got - want).max()),
        argmax_agreement=float((got.argmax(-1) == want.argmax(-1)).mean()),
        samples=int(len(inputs)),
    )
