"""The TensorFlow/Keras baseline: the bundle's own ``.keras`` model at batch 1.

A fair baseline is a compiled graph, not eager ``model(x)`` or ``predict`` (both ~100x
slower on single samples): the model is wrapped in a ``tf.function`` with a fixed input
signature, traced once, warmed up, then timed like the OpenVINO rows. It runs on the GPU when
TensorFlow sees one, else on the CPU, and the row says which.

This is the only benchmark module that imports TensorFlow (the ``train`` extra).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fer_edge.benchmark.report import Row
from fer_edge.core.errors import FerEdgeError, require
from fer_edge.runtime.latency import Timing, model_size_mb, summarize

if TYPE_CHECKING:
    from fer_edge.runtime.bundle import Bundle

log = logging.getLogger(__name__)


@dataclass
class KerasBaseline:
    """A measured Keras model: the timing, where it ran and what TensorFlow saw."""

    timing: Timing
    device: str  # "CPU" or "GPU"
    device_name: str  # e.g. "/GPU:0 (NVIDIA H100)" or "/CPU:0"
    tf_gpus: list[str]
    tf_version: str


def tf_gpus() -> list[str]:
    """GPUs TensorFlow can use (imports TensorFlow).

    Example:
        >>> tf_gpus()  # doctest: +SKIP
        []
    """
    tf = require("tensorflow", "train", purpose="the TensorFlow baseline")
    out = []
    for dev in tf.config.list_physical_devices("GPU"):
        try:
            name = tf.config.experimental.get_device_details(dev).get("device_name", "")
        except Exception:  # noqa: BLE001 - details are optional
            name = ""
        out.append(f"{dev.name} ({name})" if name else dev.name)
    return out


def _load(path: str | os.PathLike):
    keras = require("keras", "train", purpose="the TensorFlow baseline")
    try:
        # Registering fer-edge's custom layers lets its trained models load by name.
        import fer_edge.models.layers  # noqa: F401 - `fer_edge.models` alone registers nothing
    except Exception as exc:  # noqa: BLE001 - custom layers are only needed for our own models
        log.debug("fer_edge.models not importable (%s); loading with Keras' built-in layers only", exc)
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - any loader failure is a bad file for the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FerEdgeError(f"cannot load Keras model {path}: {first[:200]}") from None


def keras_inputs(model, *, dims: Sequence[int] | None = None, seed: int = 0) -> list[np.ndarray]:
    """Batch-1 inputs for every Keras input: noise, and ones for a 2-D mask after the first.

    Dynamic dimensions other than the batch come from ``dims`` (the manifest's per-sample
    input shape) or, for a mask, from the first input's time axis.
    """
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for i, tensor in enumerate(model.inputs):
        shape = [1]
        for axis, d in enumerate(tuple(tensor.shape)[1:], start=1):
            if d is not None:
                shape.append(int(d))
            elif i == 0 and dims is not None and axis - 1 < len(dims):
                shape.append(int(dims[axis - 1]))
            elif i > 0 and out and axis < out[0].ndim:
                shape.append(out[0].shape[axis])
            else:
                raise FerEdgeError(
                    f"Keras input {i} of {model.name} has an unknown dimension {axis}; "
                    "record the input shape in the bundle manifest ('input')"
                )
        if i > 0 and len(shape) == 2:
            out.append(np.ones(shape, np.float32))
        else:
            out.append(rng.standard_normal(shape).astype(np.float32))
    return out


def measure_keras(
    path: str | os.PathLike,
    *,
    dims: Sequence[int] | None = None,
    warmup: int = 20,
    iterations: int = 200,
    device: str | None = None,
    seed: int = 0,
    check=None,
) -> KerasBaseline:
    """Time a ``.keras`` model as a traced ``tf.function`` at batch 1.

    Args:
        path: the ``.keras`` file.
        dims: per-sample input shape for dynamic dimensions.
        warmup, iterations: untimed then timed calls.
        device: ``CPU`` or ``GPU``; None = the GPU when TensorFlow sees one, else the CPU.
        seed: seed of the inputs.
        check: called with the loaded model; a string it returns is raised as the reason not to time it.

    Example:
        >>> base = measure_keras("bundle/frame.keras", iterations=200)  # doctest: +SKIP
        >>> base.device, base.timing.median_ms  # ("CPU", milliseconds)  # doctest: +SKIP
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's start-up logs out of the report
    tf = require("tensorflow", "train", purpose="the TensorFlow baseline")
    gpus = tf_gpus()
    if device is None:
        device = "GPU" if gpus else "CPU"
    device = device.upper()
    if device == "GPU" and not gpus:
        raise FerEdgeError(
            "TensorFlow sees no GPU; run the baseline on the CPU (--baseline tf) or install a CUDA-enabled TensorFlow"
        )
    if device not in ("CPU", "GPU"):
        raise FerEdgeError(f"the TensorFlow baseline runs on CPU or GPU, not {device}")
    name = f"/{device}:0"
    model = _load(path)
    why = check(model) if check is not None else None
    if why:
        raise FerEdgeError(why)
    inputs = keras_inputs(model, dims=dims, seed=seed)
    spec = [tf.TensorSpec(x.shape, tf.float32) for x in inputs]

    # One positional argument per model input keeps the signature static (no retracing).
    if len(spec) == 1:
        fn = tf.function(lambda a: model(a, training=False), input_signature=spec)
    else:
        fn = tf.function(lambda *xs: model(list(xs), training=False), input_signature=spec)
    with tf.device(name):
        tensors = [tf.constant(x) for x in inputs]
        for _ in range(max(1, warmup)):
            out = fn(*tensors)
        _ = np.asarray(out)
        samples = []
        clock = time.perf_counter
        for _ in range(iterations):
            start = clock()
            out = fn(*tensors)
            _ = out.numpy()  # wait for the device: GPU calls return before they finish
            samples.append((clock() - start) * 1000.0)
    median, p90, mean = summarize(samples)
    timing = Timing(
        median, p90, mean, round(1000.0 / median, 2) if median > 0 else 0.0, iterations, 1, 1, "latency", "f32"
    )
    full = f"{name} ({gpus[0]})" if device == "GPU" else name
    return KerasBaseline(timing, device, full, gpus, tf.__version__)


def tensorflow_available() -> bool:
    """True when TensorFlow and Keras can be found (without importing them).

    Example:
        >>> isinstance(tensorflow_available(), bool)
        True
    """
    import importlib.util

    try:
        return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "keras"))
    except (ImportError, ValueError):  # a finder that refuses the name counts as absent
        return False


def baseline_rows(
    bundle: Bundle,
    *,
    warmup: int,
    iterations: int,
    sources: dict[str, Path] | None = None,
    device: str | None = None,
) -> tuple[list[Row], list[str] | None]:
    """TensorFlow rows for every model of the bundle with a Keras file (``sources``: role -> file,
    default its ``.keras`` copies; see :mod:`fer_edge.benchmark.kerassource`)."""
    from fer_edge.benchmark.kerassource import check_rebuilt

    rows, gpus = [], None
    if sources is None:
        sources = {role: bundle.path / e.keras for role, e in bundle.models.items() if e.keras}
    for role, path in sources.items():
        entry = bundle.models[role]
        rebuilt = not entry.keras
        base = measure_keras(
            path,
            dims=entry.input,
            warmup=warmup,
            iterations=iterations,
            device=device,
            check=(lambda m, p=path: check_rebuilt(bundle, m, p)) if rebuilt else None,
        )
        gpus = base.tf_gpus
        t = base.timing
        rows.append(
            Row.timed(
                t,
                stage=role,
                model=bundle.name,
                format="Keras",
                precision="FP32",
                device=base.device,
                batch=1,
                size_mb=model_size_mb(path),
                hint="default",
                engine=f"TensorFlow {base.tf_version} tf.function on {base.device_name}"
                + (f" (rebuilt from {path.name})" if rebuilt else ""),
            )
        )
    return rows, gpus
