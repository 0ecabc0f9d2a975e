"""OpenVINO latency (sync, batch 1) and throughput (async, several requests) of one model.

numpy and OpenVINO only: this runs on a Raspberry Pi. The method is benchmark_app's: the
model is reshaped to static shapes, compiled with a performance hint, warmed up (the first
inferences allocate memory and tune kernels), then timed over many iterations; the report
gives the median and p90, which stay meaningful on a shared, noisy CPU where the mean does not.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.engine import (
    HINTS,
    PRECISIONS,
    check_device,
    compile_checked,
    inference_precision,
    read_checked,
)
from fer_edge.runtime.timers import percentiles


@dataclass
class Timing:
    """Measured latency of one compiled model.

    Attributes:
        median_ms, p90_ms, mean_ms: per-inference latency in milliseconds.
        fps: inputs per second (batch / median latency in sync mode; completed inputs / wall
            time in throughput mode).
        iterations: timed inferences (after the warm-up).
        batch: inputs per inference.
        requests: parallel infer requests (1 in sync mode).
        mode: ``latency`` (sync) or ``throughput`` (async queue).
        inference_precision: what the plugin actually computes in (``bf16``, ``f32``, ``f16``).
    """

    median_ms: float
    p90_ms: float
    mean_ms: float
    fps: float
    iterations: int
    batch: int = 1
    requests: int = 1
    mode: str = "latency"
    inference_precision: str = "unknown"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(samples_ms: Sequence[float]) -> tuple[float, float, float]:
    """``(median, p90, mean)`` of latency samples in ms, by the runtime's one percentile
    definition (:func:`fer_edge.runtime.timers.percentiles`).

    Example:
        >>> summarize([1.0, 2.0, 3.0, 4.0, 100.0])
        (3.0, 61.6, 22.0)
    """
    median, p90 = percentiles(samples_ms, (50, 90))
    return round(median, 4), round(p90, 4), round(float(np.mean(samples_ms)), 4)


def static_shapes(model: Any, batch: int = 1, dims: Sequence[int] | None = None) -> dict[int, list[int]]:
    """Static shapes for every input of ``model``: dynamic batch -> ``batch``, other dynamic dims
    from ``dims`` (the manifest's per-sample input shape) or, for a second input such as a mask
    ``(B, T)``, from the first input's time axis.

    Raises:
        FerEdgeError: when a dynamic dimension cannot be resolved.
    """
    shapes: dict[int, list[int]] = {}
    first: list[int] | None = None
    for i, port in enumerate(model.inputs):
        pshape = port.get_partial_shape()
        out = []
        for axis, d in enumerate(pshape):
            if d.is_static:
                out.append(d.get_length())
            elif axis == 0:
                out.append(batch)
            elif i == 0 and dims is not None and axis - 1 < len(dims):
                out.append(int(dims[axis - 1]))
            elif i > 0 and first is not None and axis < len(first):
                out.append(first[axis])  # mask (B, T) follows features (B, T, F)
            else:
                raise FerEdgeError(
                    f"input {i} of {model.friendly_name} has a dynamic dimension {axis} "
                    f"({pshape}); record the input shape in the bundle manifest ('input')"
                )
        shapes[i] = out
        if i == 0:
            first = out
    return shapes


def compile_model(
    path: str | os.PathLike,
    *,
    device: str = "CPU",
    hint: str = "latency",
    precision: str | None = None,
    batch: int = 1,
    dims: Sequence[int] | None = None,
    cache_dir: str | None = None,
    perf_count: bool = False,
) -> Any:
    """Read ``path`` (IR or ONNX), make its shapes static, compile it for benchmarking.

    Static shapes are what NPUs require and what lets the CPU plugin pick its best kernels.

    Args:
        path: ``.xml`` or ``.onnx`` model.
        device: OpenVINO device (``CPU``, ``GPU``, ``NPU``, ``AUTO``).
        hint: ``latency`` or ``throughput``.
        precision: inference precision hint (``f32``, ``bf16``, ``f16``) or None for the default.
        batch: batch size to reshape to.
        dims: per-sample input shape for dynamic non-batch dimensions.
        cache_dir: OpenVINO model cache.
        perf_count: collect per-layer counters (``PERF_COUNT``, benchmark_app's ``-pc``) for
            :func:`layer_profile`; they cost time, so timed runs compile without them.

    Example:
        >>> compiled = compile_model("bundle/frame.xml", precision="f32")  # doctest: +SKIP
    """
    if hint not in HINTS:
        raise FerEdgeError(f"unknown performance hint '{hint}'; known: {', '.join(HINTS)}")
    device = check_device(device)
    model = read_checked(path)
    shapes = static_shapes(model, batch, dims)
    try:
        model.reshape({model.inputs[i]: s for i, s in shapes.items()})
    except Exception as exc:  # noqa: BLE001 - a model that cannot take these shapes
        raise FerEdgeError(f"cannot reshape {path} to {list(shapes.values())}: {exc!s:.200}") from None
    props: dict[str, Any] = {"PERFORMANCE_HINT": HINTS[hint]}
    if precision:
        if precision.lower() not in PRECISIONS:
            raise FerEdgeError(f"unknown inference precision '{precision}'; known: {', '.join(PRECISIONS)}")
        props["INFERENCE_PRECISION_HINT"] = PRECISIONS[precision.lower()]
    if cache_dir:
        props["CACHE_DIR"] = str(cache_dir)
    if perf_count:
        props["PERF_COUNT"] = True
    return compile_checked(model, device, props, path)


def make_inputs(compiled: Any, *, seed: int = 0) -> list[np.ndarray]:
    """Deterministic inputs for every port: normal noise, and all-ones for a ``(B, T)`` mask.

    Example:
        >>> [x.shape for x in make_inputs(compiled)]  # doctest: +SKIP
        [(1, 64, 64, 1)]
    """
    rng = np.random.default_rng(seed)
    out = []
    for i, port in enumerate(compiled.inputs):
        shape = tuple(port.get_shape())
        dtype = port.get_element_type().to_dtype()
        if i > 0 and len(shape) == 2:
            out.append(np.ones(shape, dtype=dtype))  # a mask: every step valid, the costly case
        elif np.issubdtype(dtype, np.floating):
            out.append(rng.standard_normal(shape).astype(dtype))
        else:
            out.append(rng.integers(0, 2, size=shape).astype(dtype))
    return out


def _check_counts(warmup: int, iterations: int) -> None:
    if warmup < 0 or iterations < 1:
        raise FerEdgeError(f"need warmup >= 0 and iterations >= 1, got {warmup} and {iterations}")


def measure_latency(
    compiled: Any, inputs: Sequence[np.ndarray] | None = None, *, warmup: int = 20, iterations: int = 200
) -> Timing:
    """Synchronous latency: one request, one inference at a time (the real-time case).

    Example:
        >>> t = measure_latency(compile_model("frame.xml"), iterations=500)  # doctest: +SKIP
        >>> t.median_ms, t.fps  # doctest: +SKIP
    """
    _check_counts(warmup, iterations)
    inputs = list(inputs) if inputs is not None else make_inputs(compiled)
    request = compiled.create_infer_request()
    for _ in range(warmup):
        request.infer(inputs)
    samples = []
    clock = time.perf_counter
    for _ in range(iterations):
        start = clock()
        request.infer(inputs)
        samples.append((clock() - start) * 1000.0)
    return _timing(compiled, inputs, samples, iterations, requests=1, wall=None)


def _timing(
    compiled: Any,
    inputs: Sequence[np.ndarray],
    samples: list[float],
    iterations: int,
    *,
    requests: int,
    wall: float | None,
) -> Timing:
    """The :class:`Timing` of ``samples`` (ms). FPS: from the median when one request at a time
    (``wall`` None, latency mode), else completed inputs per ``wall`` second (throughput mode)."""
    median, p90, mean = summarize(samples)
    batch = int(inputs[0].shape[0]) if inputs and inputs[0].ndim else 1
    if wall is None:
        fps, mode = (round(1000.0 * batch / median, 2) if median > 0 else 0.0), "latency"
    else:
        fps, mode = (round(iterations * batch / wall, 2) if wall > 0 else 0.0), "throughput"
    return Timing(median, p90, mean, fps, iterations, batch, requests, mode, inference_precision(compiled))


def optimal_requests(compiled: Any, at_least: int = 1) -> int:
    """The plugin's optimal number of parallel infer requests for how ``compiled`` was compiled
    (CPU: 1 for the ``latency`` hint, one per CPU stream for ``throughput``), never below
    ``at_least``; ``at_least`` where the plugin does not say."""
    try:
        return max(at_least, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
    except Exception:  # noqa: BLE001 - not every plugin reports it
        return at_least


def measure_throughput(
    compiled: Any,
    inputs: Sequence[np.ndarray] | None = None,
    *,
    requests: int | None = None,
    warmup: int = 20,
    iterations: int = 200,
) -> Timing:
    """Asynchronous throughput: an ``AsyncInferQueue`` keeps ``requests`` inferences in flight.

    Compile with ``hint="throughput"`` so the plugin creates several streams. The latency
    reported is per request under load; ``fps`` is completed inputs per second of wall time.

    Example:
        >>> t = measure_throughput(compile_model("frame.xml", hint="throughput"))  # doctest: +SKIP
    """
    import openvino as ov

    _check_counts(warmup, iterations)
    inputs = list(inputs) if inputs is not None else make_inputs(compiled)
    n = requests or optimal_requests(compiled, at_least=2)  # at least 2: requests overlap
    if n < 1:
        raise FerEdgeError(f"need at least one infer request, got {n}")
    queue = ov.AsyncInferQueue(compiled, n)
    samples: list[float] = []
    clock = time.perf_counter

    def done(request: Any, started: float) -> None:  # noqa: ARG001 - OpenVINO callback signature
        samples.append((clock() - started) * 1000.0)

    queue.set_callback(done)
    for _ in range(max(warmup, n)):
        queue.start_async(inputs, clock())
    queue.wait_all()
    samples.clear()
    start = clock()
    for _ in range(iterations):
        queue.get_idle_request_id()  # wait for a free request first: latency = time in flight
        queue.start_async(inputs, clock())
    queue.wait_all()
    return _timing(compiled, inputs, samples, iterations, requests=n, wall=clock() - start)


def model_size_mb(path: str | os.PathLike) -> float:
    """Size on disk of a model: ``.xml`` + ``.bin`` for IR, the file itself otherwise.

    Example:
        >>> model_size_mb("bundle/frame.xml")  # doctest: +SKIP
        0.26
    """
    path = os.fspath(path)
    total = os.path.getsize(path)
    if path.endswith(".xml"):
        weights = path[:-4] + ".bin"
        if os.path.exists(weights):
            total += os.path.getsize(weights)
    return round(total / 1e6, 4)


@dataclass
class LayerTime:
    """One layer's mean time per inference from the plugin's counters.

    Attributes:
        name: the layer (node) name in the compiled model.
        type: its operation type (``Convolution``, ``MatMul`` ...).
        exec_type: the kernel that ran (e.g. ``brgconv_avx512_amx_I8``: ``I8`` = an INT8 kernel).
        ms: mean real time per inference in milliseconds.
    """

    name: str
    type: str
    exec_type: str
    ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _profiling_info(request: Any) -> list[Any]:
    """The request's per-layer counters: ``profiling_info`` (2022.1+) or ``get_profiling_info()``."""
    info = getattr(request, "profiling_info", None)
    return list(info if info is not None else request.get_profiling_info())


def layer_profile(
    compiled: Any, inputs: Sequence[np.ndarray] | None = None, *, warmup: int = 5, iterations: int = 20
) -> list[LayerTime]:
    """Per-layer time of a model compiled with ``perf_count=True``: each executed layer's real time
    averaged over ``iterations`` sync inferences after ``warmup``, slowest first.

    Raises:
        FerEdgeError: the plugin reports no counters (compiled without ``perf_count``).

    Example:
        >>> layers = layer_profile(compile_model("frame.xml", perf_count=True))  # doctest: +SKIP
        >>> layers[0].name, layers[0].exec_type, layers[0].ms  # doctest: +SKIP
    """
    _check_counts(warmup, iterations)
    inputs = list(inputs) if inputs is not None else make_inputs(compiled)
    request = compiled.create_infer_request()
    for _ in range(warmup):
        request.infer(inputs)
    total: dict[str, float] = {}
    kinds: dict[str, tuple[str, str]] = {}
    for _ in range(iterations):
        request.infer(inputs)
        for p in _profiling_info(request):
            if "EXECUTED" not in str(p.status) or "NOT_RUN" in str(p.status):
                continue
            total[p.node_name] = total.get(p.node_name, 0.0) + p.real_time.total_seconds() * 1000.0
            kinds[p.node_name] = (str(p.node_type), str(p.exec_type))
    if not kinds:
        raise FerEdgeError("the plugin reported no per-layer counters; compile the model with perf_count=True")
    layers = [LayerTime(n, *kinds[n], round(t / iterations, 4)) for n, t in total.items()]
    return sorted(layers, key=lambda layer: (-layer.ms, layer.name))
