"""Keras models -> OpenVINO (the check that the two agree is :mod:`fer_edge.convert.parity`).

``openvino.convert_model(keras_model)`` converts Conv, LSTM with masking and 1D-CNN models
exactly (f32 hint: max diff ~1e-7); the SavedModel route is the fallback for models the direct
route rejects. Training (bundles), export, optimization (pruned/distilled models) and the
importer's TensorFlow path all convert here. TensorFlow is imported by the caller's model.

Example:
    >>> ov_model = to_openvino(create_model("test_frame"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import tempfile
from typing import Any

from fer_edge.core.errors import FerEdgeError

log = logging.getLogger(__name__)


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
