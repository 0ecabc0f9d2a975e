"""Precision conversion of OpenVINO models: FP16, INT8 weights, NNCF INT8 (+ accuracy control).

NNCF 3.x has no TensorFlow backend, so quantization always runs on the OpenVINO model
(Keras -> IR FP32 -> ``nncf.quantize``). Recurrent layers become an OpenVINO ``Loop`` that
NNCF leaves in float; Conv/Dense layers become INT8.

Everything here is numpy + OpenVINO + NNCF: an existing bundle is quantized without TensorFlow.

Example:
    >>> q = quantize_model(ov_model, items, subset_size=300)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_edge.core.errors import FerEdgeError, require, unknown_choice
from fer_edge.runtime.engine import compile_f32  # noqa: F401 - the one f32 compile, used as q.compile_f32
from fer_edge.runtime.kinds import run_batched

log = logging.getLogger(__name__)

PRECISIONS = ("int8", "int8-weights", "fp16", "fp32")
MANIFEST_PRECISION = {"int8": "INT8", "int8-weights": "INT8-WEIGHTS", "fp16": "FP16", "fp32": "FP32"}
RECOMMENDED_SAMPLES = 300
MIN_SAMPLES = 16  # one calibration batch: below it the activation ranges are noise


@dataclass
class AccuracyCheck:
    """Validation metric (accuracy, or agreement with FP32 when unlabelled) before/after."""

    metric: str
    reference: float
    optimized: float
    items: int

    @property
    def drop(self) -> float:
        return self.reference - self.optimized

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "reference": self.reference,
            "optimized": self.optimized,
            "drop": self.drop,
            "items": self.items,
        }


def check_precision(precision: str) -> str:
    """Normalise ``precision`` or raise a one-line error with a "did you mean".

    Example:
        >>> check_precision("INT8")
        'int8'
    """
    p = str(precision).lower().replace("_", "-")
    if p not in PRECISIONS:
        raise unknown_choice("precision", precision, PRECISIONS, match=p)
    return p


def check_samples(n: int, what: str) -> None:
    """Warn below :data:`RECOMMENDED_SAMPLES`; refuse below one batch (:data:`MIN_SAMPLES`)."""
    if n < MIN_SAMPLES:
        raise FerEdgeError(
            f"only {n} calibration sample(s) for the {what} model, fewer than one batch "
            f"({MIN_SAMPLES}); pass more data with --calibration DATA"
        )
    if n < RECOMMENDED_SAMPLES:
        log.warning(
            "only %d calibration samples for the %s model (%d recommended): INT8 ranges may be less accurate",
            n,
            what,
            RECOMMENDED_SAMPLES,
        )


class _Stderr:
    """Whatever ``sys.stderr`` is at the time of writing (a handler keeps its stream object)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _nncf():
    # NNCF logs (from its import on) and draws progress bars on stdout; stdout is for fer-edge's report.
    with contextlib.redirect_stdout(sys.stderr):
        nncf = require("nncf", "optimize", purpose="INT8 quantization")
    for handler in logging.getLogger("nncf").handlers:
        if type(handler) is logging.StreamHandler and not isinstance(handler.stream, _Stderr):
            handler.setStream(_Stderr())
    return nncf


def _explain(exc: Exception, ov_model: Any, role: str) -> FerEdgeError:
    """A one-line error naming the OpenVINO op (and the Keras layer it came from) that failed."""
    text = str(exc).strip()
    first = text.splitlines()[0][:200] if text else type(exc).__name__
    for op in ov_model.get_ordered_ops():
        name = op.get_friendly_name()
        if name and name in text:
            # convert_model names nodes "<model>/<keras layer>/<op>"; the layer is the middle part.
            parts = name.split("/")
            layer = parts[1] if len(parts) > 2 else parts[0]
            return FerEdgeError(
                f"NNCF cannot quantize op {op.get_type_name()} '{name}' (Keras layer '{layer}') "
                f"of the {role} model: {first}; use --precision fp16 or int8-weights for it"
            )
    return FerEdgeError(
        f"NNCF cannot quantize the {role} model: {first}; use --precision fp16 or int8-weights, or report the model"
    )


def to_precision(ov_model: Any, precision: str) -> Any:
    """FP32/FP16 need no conversion of the graph (FP16 is applied when saving); INT8 weights do.

    Example:
        >>> small = to_precision(ov_model, "int8-weights")  # doctest: +SKIP
    """
    precision = check_precision(precision)
    if precision == "int8-weights":
        nncf = _nncf()
        try:
            with contextlib.redirect_stdout(sys.stderr):  # rich progress bars
                return nncf.compress_weights(ov_model.clone(), mode=nncf.CompressWeightsMode.INT8_ASYM)
        except Exception as exc:  # noqa: BLE001 - NNCF errors are about the model
            raise _explain(exc, ov_model, "weights") from None
    if precision == "int8":
        raise ValueError("int8 needs calibration data: use quantize_model")
    return ov_model


def quantize_model(
    ov_model: Any,
    items: Sequence[Any],
    *,
    role: str = "model",
    subset_size: int = RECOMMENDED_SAMPLES,
    max_drop: float | None = None,
    validation: Sequence[Any] | None = None,
    validation_fn: Callable[[Any, Sequence[Any]], tuple[float, list[float]]] | None = None,
    seed: int = 0,
) -> Any:
    """Post-training INT8 quantization of an ``openvino.Model`` with NNCF.

    Args:
        ov_model: the FP32 model (not modified).
        items: calibration inputs, each a list of arrays (one per model input, batch 1).
        role: model role, for messages.
        subset_size: calibration samples NNCF uses (at most ``len(items)``).
        max_drop: with a validation set, ``nncf.quantize_with_accuracy_control`` restores layers
            to float until the metric drops by at most this much (absolute).
        validation: raw validation items for ``validation_fn``.
        validation_fn: ``(compiled_model, items) -> (metric, per-item values)``.
        seed: NNCF is deterministic given the data order; the seed orders the subset.

    Example:
        >>> q = quantize_model(model, [[x[i:i + 1]] for i in range(300)], role="frame")  # doctest: +SKIP
    """
    nncf = _nncf()
    check_samples(len(items), role)
    order = np.random.default_rng(seed).permutation(len(items))
    dataset = nncf.Dataset([items[i] for i in order])
    subset = int(min(subset_size, len(items)))
    try:
        with contextlib.redirect_stdout(sys.stderr):  # NNCF's rich progress bars
            if max_drop is None or validation is None:
                return nncf.quantize(ov_model.clone(), dataset, subset_size=subset)
            return nncf.quantize_with_accuracy_control(
                ov_model.clone(),
                dataset,
                nncf.Dataset(list(validation)),
                validation_fn,
                max_drop=float(max_drop),
                drop_type=nncf.DropType.ABSOLUTE,
                subset_size=subset,
            )
    except FerEdgeError:
        raise
    except Exception as exc:  # noqa: BLE001 - NNCF errors are about the model
        raise _explain(exc, ov_model, role) from None


def as_model(compiled: Any) -> Callable[..., np.ndarray]:
    """A compiled OpenVINO model as a function of arrays that returns its first output
    (the model type of :mod:`fer_edge.runtime.kinds`)."""

    def run(*inputs: np.ndarray) -> np.ndarray:
        return np.asarray(compiled([np.ascontiguousarray(x) for x in inputs])[0])

    return run


def infer(compiled: Any, *inputs: np.ndarray, batch: int = 64) -> np.ndarray:
    """Run ``compiled`` on inputs with a leading batch axis, ``batch`` rows at a time."""
    return run_batched(as_model(compiled), *inputs, batch=batch)
