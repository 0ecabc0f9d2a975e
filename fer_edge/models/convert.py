"""Keras models -> OpenVINO, and the check that the two agree.

``openvino.convert_model(keras_model)`` converts Conv, LSTM with masking and 1D-CNN models
exactly (f32 hint: max diff ~1e-7); the SavedModel route is the fallback for models the direct
route rejects. Training (bundles), export, optimization (pruned/distilled models) and the
importer's TensorFlow path all convert here. TensorFlow is imported by the caller's model.

Example:
    >>> ov_model = to_openvino(create_model("test_frame"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
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
        return {"max_abs_diff": self.max_abs_diff, "argmax_agreement": self.argmax_agreement, "samples": self.samples}


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
                    f"OpenVINO cannot convert model '{model.name}': {detail[-1][:200] if detail else fallback}"
                    f"{culprits(model, str(direct) + str(fallback))}; "
                    "replace the unsupported layer or report it with the model summary"
                ) from None


def check_parity(keras_model: Any, xml: str | os.PathLike, inputs: np.ndarray | Sequence[np.ndarray]) -> Parity:
    """The IR (CPU, f32 hint) against Keras on the same inputs (one array, or one per model input)."""
    import openvino as ov

    feed = [np.ascontiguousarray(x, dtype=np.float32) for x in ([inputs] if isinstance(inputs, np.ndarray) else inputs)]
    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    got = np.asarray(compiled(feed)[0])
    want = np.asarray(keras_model(feed if len(feed) > 1 else feed[0], training=False))
    return Parity(
        max_abs_diff=float(np.abs(got - want).max()),
        argmax_agreement=float((got.argmax(-1) == want.argmax(-1)).mean()),
        samples=int(len(feed[0])),
    )


# TensorFlow ops that a Keras layer class turns into, for naming the layer behind a failing op.
_OP_LAYERS = {
    "TensorList": ("LSTM", "GRU", "SimpleRNN", "ConvLSTM", "RNN", "Bidirectional"),
    "While": ("LSTM", "GRU", "SimpleRNN", "ConvLSTM", "RNN", "Bidirectional"),
}


def culprits(model: Any, message: str) -> str:
    """`` (op X; Keras layer(s) 'a', 'b')`` for the unsupported ops named in a converter message."""
    import re

    ops = sorted(set(re.findall(r"operations?:\s*([A-Za-z0-9_, ]+)", message)))
    names = [o.strip() for group in ops for o in group.split(",") if o.strip()]
    layers = []
    for layer in getattr(model, "layers", []):
        cls = type(layer).__name__
        hit = any(key in op and any(c in cls for c in classes) for op in names for key, classes in _OP_LAYERS.items())
        if hit or (layer.name and layer.name in message) or any(cls == op for op in names):
            layers.append(f"'{layer.name}' ({cls})")
    parts = []
    if names:
        parts.append(f"op {', '.join(names[:3])}")
    if layers:
        parts.append(f"Keras layer {', '.join(layers[:3])}")
    return f" ({'; '.join(parts)})" if parts else ""
