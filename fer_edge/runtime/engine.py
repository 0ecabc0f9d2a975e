"""OpenVINO inference engine: devices by name, hints, precision, model cache.

Only numpy and OpenVINO are imported here: this runs on a Raspberry Pi.

On CPUs with AVX512_BF16 or AMX, OpenVINO's CPU plugin infers in BF16 unless told otherwise,
which shifts outputs by ~1e-3; ``precision="f32"`` pins full precision.
"""

from __future__ import annotations

import logging
import os
import platform
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.errors import FerEdgeError, reason, unknown_choice

log = logging.getLogger(__name__)

DEVICES = ("CPU", "GPU", "NPU", "AUTO", "MYRIAD")
HINTS = {"latency": "LATENCY", "throughput": "THROUGHPUT"}
PRECISIONS = {"f32": "f32", "bf16": "bf16", "f16": "f16"}

_INSTALL_HINTS = {
    "GPU": "install Intel's GPU compute runtime (intel-opencl-icd / level-zero) and add the user to the 'render' group",
    "NPU": "install the Intel NPU driver (linux-npu-driver) on a Core Ultra machine; see deploy/npu/README.md",
}


@dataclass
class EngineConfig:
    """How models are compiled.

    Attributes:
        device: ``CPU``, ``GPU``, ``NPU``, ``AUTO`` or a specific one like ``GPU.1``.
        hint: ``latency`` (one request at a time, the runtime's case) or ``throughput``.
        precision: ``f32``, ``bf16``, ``f16`` or None for the plugin's default.
        cache_dir: OpenVINO model cache, speeds up the second start on GPU/NPU.
        streams: number of CPU streams; None lets the hint decide.
    """

    device: str = "CPU"
    hint: str = "latency"
    precision: str | None = None
    cache_dir: str | None = None
    streams: int | None = None

    def __post_init__(self) -> None:
        if self.hint not in HINTS:
            raise unknown_choice("performance hint", self.hint, HINTS)
        if self.precision is not None and self.precision.lower() not in PRECISIONS:
            raise unknown_choice("inference precision", self.precision, PRECISIONS)


_CORE = None


def core():
    """The process-wide ``openvino.Core`` (creating one per model costs ~50 ms)."""
    global _CORE
    if _CORE is None:
        from fer_edge.runtime.ovcompat import Core

        _CORE = Core()
        _build_numpy_tables()
    return _CORE


def _build_numpy_tables() -> None:
    """Build the OpenVINO bindings' numpy type tables now, in the thread creating the Core.

    The bindings build them on first use in C++ function-local statics whose initializers call
    numpy (Python code, which may hand the GIL to another thread half-way). A second thread that
    reaches the same static meanwhile waits in ``__cxa_guard_acquire`` holding the GIL, and the
    first can never take the GIL back: every thread hangs. Two stream workers' first
    ``tensor.data`` at once did this in ~2 % of multi-stream demos (``make stress``). Built once
    here, before any model is compiled (so before any request exists), they are read-only after.
    """
    try:
        from openvino import Tensor, Type
    except ImportError:
        try:  # OpenVINO 2022.3
            from openvino.runtime import Tensor, Type  # type: ignore[no-redef]
        except ImportError:  # OpenVINO 2021.4 (IECore, the NCS2's on a Pi): other bindings, no such tables
            return

    Tensor(np.zeros((1,), np.float32)).data  # noqa: B018 - the dtype -> element type table and back
    Type.f32.to_dtype()


def available_devices() -> list[str]:
    """Devices OpenVINO sees on this machine, e.g. ``['CPU', 'GPU.0']``."""
    return list(core().available_devices)


def check_device(device: str) -> str:
    """Normalise a device name and make sure it is present.

    Raises:
        FerEdgeError: naming the devices that are present and what to install.

    Example:
        >>> check_device("cpu")
        'CPU'
    """
    name = device.strip().upper()
    present = available_devices()
    base = name.split(".")[0].split(":")[0]
    if base == "MYRIAD" and not any(p.split(".")[0] == "MYRIAD" for p in present):
        from fer_edge.runtime.ovcompat import MYRIAD_LAST, myriad_hint, myriad_plugin_error, version

        # A plugin that loads searches USB itself when compiling (a stick still booting is not
        # listed yet); its own no-device error is then answered with the hint by compile_checked.
        if version() > MYRIAD_LAST or myriad_plugin_error(core()):
            raise FerEdgeError(f"device MYRIAD is not available: {myriad_hint(core())}")
        return name
    if base in ("AUTO", "MULTI", "HETERO"):
        return name
    if base not in DEVICES:
        raise unknown_choice("device", device, DEVICES)
    if not any(p == name or p.split(".")[0] == name for p in present):
        raise FerEdgeError(
            f"device {name} is not present (present: {', '.join(present) or 'none'}); "
            f"{_INSTALL_HINTS.get(base, 'check the device name')}"
        )
    return name


def _properties(config: EngineConfig, device: str) -> dict[str, Any]:
    props: dict[str, Any] = {"PERFORMANCE_HINT": HINTS[config.hint]}
    if config.precision:
        props["INFERENCE_PRECISION_HINT"] = PRECISIONS[config.precision.lower()]
    if config.streams and device.startswith("CPU"):
        props["NUM_STREAMS"] = str(config.streams)
    if config.cache_dir:
        try:
            os.makedirs(config.cache_dir, exist_ok=True)
        except OSError as exc:
            raise FerEdgeError(
                f"--cache-dir {config.cache_dir}: cannot use it as a folder ({exc.strerror}); give a writable folder"
            ) from None
        props["CACHE_DIR"] = str(config.cache_dir)
    return props


class CompiledModel:
    """A compiled OpenVINO model called with numpy arrays.

    Example:
        >>> m = load_model("bundle/frame.xml", EngineConfig(precision="f32"))  # doctest: +SKIP
        >>> scores = m(faces)  # (N, classes)  # doctest: +SKIP
    """

    def __init__(self, compiled: Any, path: Path, device: str) -> None:
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self.path = path
        self.device = device
        port = compiled.inputs[0]
        self.input_shape = tuple(d.get_length() if d.is_static else -1 for d in port.get_partial_shape())
        out = compiled.outputs[0]
        self.output_shape = tuple(d.get_length() if d.is_static else -1 for d in out.get_partial_shape())
        self.num_inputs = len(compiled.inputs)

    @property
    def inference_precision(self) -> str:
        """The precision the model's compute layers actually run in.

        See :func:`inference_precision`.
        """
        return inference_precision(self._compiled)

    def probe(self) -> str | None:
        """Run one inference on zeros; the error's first line if it fails, else None."""
        zeros = [
            np.zeros([d.get_length() if d.is_static else 1 for d in port.get_partial_shape()], np.float32)
            for port in self._compiled.inputs
        ]
        try:
            self._request.infer(zeros)
        except Exception as exc:  # noqa: BLE001 - any failure means this model cannot run here
            # OpenVINO stacks "Exception from <file>:<line>:" lines above the one that says what failed.
            lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
            said = [x for x in lines if not x.startswith("Exception from")]
            return (said or lines or [type(exc).__name__])[-1][:200]
        return None

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        """Run one synchronous inference; returns the first output as a new array."""
        if len(inputs) != self.num_inputs:
            raise ValueError(f"{self.path.name} takes {self.num_inputs} inputs, got {len(inputs)}")
        step = self.input_shape[0] if self.input_shape else -1
        if 0 < step < len(inputs[0]):  # a static batch (the stick's): run the rows in slices of it
            if len(inputs[0]) % step:
                raise ValueError(f"{self.path.name} has a static batch of {step}; got {len(inputs[0])} rows")
            return np.concatenate([self(*(x[i : i + step] for x in inputs)) for i in range(0, len(inputs[0]), step)])
        result = self._request.infer([np.ascontiguousarray(x) for x in inputs])
        return np.array(result[self._compiled.outputs[0]], copy=True)

    @property
    def compiled(self) -> Any:
        return self._compiled


# Layer types whose precision is the model's: the rest (reorders, reshapes) follow the data.
_COMPUTE_LAYERS = ("Convolution", "GroupConvolution", "Deconvolution", "FullyConnected", "MatMul", "RNNSeq", "RNNCell")
_INT8 = ("u8", "i8")


def _text(value: Any) -> str:
    return value.astype(str) if hasattr(value, "astype") else str(value)  # an OVAny


def executed_precision(compiled: Any) -> str | None:
    """The most common runtime precision of a compiled model's compute layers (``int8`` for
    u8/i8), from the plugin's runtime model; None where the plugin does not expose one."""
    try:
        ops = compiled.get_runtime_model().get_ordered_ops()
    except Exception:  # noqa: BLE001 - AUTO and some plugins have no runtime model
        return None
    counts: Counter[str] = Counter()
    for op in ops:
        info = op.get_rt_info()
        if "layerType" in info and "runtimePrecision" in info and _text(info["layerType"]) in _COMPUTE_LAYERS:
            ran = _text(info["runtimePrecision"]).lower()
            if ran not in _INT8 and "outputPrecisions" in info:
                # A layer with f16-compressed weights reports f16 here but computes in its output's type.
                ran = _text(info["outputPrecisions"]).lower().split(",")[0].strip() or ran
            counts[ran] += 1
    if not counts:
        return None
    top = counts.most_common(1)[0][0]
    return "int8" if top in _INT8 else top


def inference_precision(compiled: Any) -> str:
    """The precision an OpenVINO compiled model's compute layers actually run in.

    ``int8`` for a quantized model, ``bf16`` on AVX512_BF16 CPUs by default, and ``f32``
    where an ``f16`` hint is not supported: the plugin may still say ``f16`` on a 64-bit ARM
    core without FP16 arithmetic (Raspberry Pi 4's Cortex-A72), which computes in f32
    (:func:`arm_fp16_arithmetic`). The plugin's hint where it exposes no runtime model,
    ``unknown`` where it reports neither.
    """
    ran = executed_precision(compiled)
    if not ran:
        try:
            value = compiled.get_property("INFERENCE_PRECISION_HINT")
            ran = value.get_type_name() if hasattr(value, "get_type_name") else str(value)
        except Exception:  # noqa: BLE001 - not every plugin reports it
            return "unknown"
    if ran == "f16" and _on_cpu(compiled) and arm_fp16_arithmetic() is False:
        return "f32"
    return ran


def _on_cpu(compiled: Any) -> bool:
    """True when every device the compiled model runs on is the CPU (MYRIAD computes f16 itself)."""
    try:
        devices = [_text(d) for d in compiled.get_property("EXECUTION_DEVICES")]
    except Exception:  # noqa: BLE001 - older plugins do not report it
        return False
    return bool(devices) and all(d.upper().startswith("CPU") for d in devices)


_FP16_FLAGS = ("fphp", "asimdhp")  # ARMv8.2-A FP16 arithmetic: scalar, vector
_HWCAP_FP16 = (1 << 9) | (1 << 10)  # the same two bits of the aarch64 Linux AT_HWCAP


def _hwcap() -> int | None:
    """This process's aarch64 ``AT_HWCAP`` (what the kernel, or QEMU, says the core has)."""
    try:
        import ctypes

        getauxval = ctypes.CDLL(None).getauxval
        getauxval.restype = ctypes.c_ulong
        return int(getauxval(16))  # AT_HWCAP
    except (OSError, AttributeError):
        return None


_CPUINFO = "/proc/cpuinfo"


def arm_fp16_arithmetic(cpuinfo: str | os.PathLike | None = None) -> bool | None:
    """Whether this 64-bit ARM CPU has FP16 arithmetic (``fphp`` and ``asimdhp``); None off aarch64.

    The ``Features`` line of ``/proc/cpuinfo`` says so (Cortex-A76/Pi 5: yes; Cortex-A72/Pi 4,
    ARMv8.0: no); where it has none (QEMU user emulation shows the host's), ``AT_HWCAP`` does.

    Example:
        >>> arm_fp16_arithmetic() in (True, False, None)
        True
    """
    if platform.machine().lower() not in ("aarch64", "arm64"):
        return None
    try:
        with open(cpuinfo or _CPUINFO, encoding="utf-8", errors="replace") as f:
            lines = [x for x in f if x.lower().startswith("features")]
    except OSError:
        lines = []
    if lines:
        flags = lines[0].partition(":")[2].split()
        return all(flag in flags for flag in _FP16_FLAGS)
    hwcap = _hwcap()
    return None if hwcap is None else hwcap & _HWCAP_FP16 == _HWCAP_FP16


def load_model(
    path: str | os.PathLike, config: EngineConfig | None = None, *, fallback: str | os.PathLike | None = None
) -> CompiledModel:
    """Read and compile an IR (``.xml``) or ONNX model on the configured device.

    Args:
        fallback: a model to run instead when this one fails its first inference, which is
            probed right after compiling: INT8 models compile but fail on CPUs without int8
            dot-product (Raspberry Pi 4's Cortex-A72); one warning line says so.

    Raises:
        FerEdgeError: missing/corrupt file, absent device.
    """
    config = config or EngineConfig()
    path = Path(path)
    if not path.is_file():
        raise FerEdgeError(f"model file not found: {path}")
    if path.suffix not in (".xml", ".onnx"):
        raise FerEdgeError(f"{path}: the runtime reads OpenVINO IR (.xml) or ONNX; export it with fer-edge export")
    device = check_device(config.device)
    compiled = compile_checked(read_checked(path), device, _properties(config, device), path)
    result = CompiledModel(compiled, path, device)
    error = result.probe() if fallback is not None else None
    if error:
        log.warning("%s cannot run on this %s (%s); running %s instead", path.name, device, error, Path(fallback).name)
        return load_model(fallback, config)
    return result


def read_checked(path: str | os.PathLike) -> Any:
    """``Core.read_model`` whose failures, and inputs the runtime cannot feed, are one-line errors.

    The runtime feeds batches of fixed-rank tensors: every input needs a static rank, the
    first one 3 (features) or more (a second one may be a (N, T) mask).
    """
    try:
        model = core().read_model(str(path))
    except Exception as exc:  # noqa: BLE001 - a corrupt model is a user-facing problem
        raise FerEdgeError(f"cannot read model {path}: {reason(exc)}; re-export it") from None
    for i, port in enumerate(model.inputs):
        shape = port.get_partial_shape()
        if shape.rank.is_dynamic or shape.rank.get_length() < (3 if i == 0 else 2):
            raise FerEdgeError(
                f"model {path} has input '{port.get_any_name() if port.get_names() else '?'}' "
                f"of shape {shape}; the runtime needs (N, ...) inputs of rank 3 or more: re-export it"
            )
    return model


def compile_checked(model: Any, device: str, properties: dict[str, Any], path: str | os.PathLike) -> Any:
    """``Core.compile_model`` with plugin errors (unknown HETERO devices, unsupported ops) as one line."""
    from fer_edge.runtime.ovcompat import supported_properties

    try:
        return core().compile_model(model, device, supported_properties(core(), device, properties))
    except Exception as exc:  # noqa: BLE001 - the plugin's error names the problem
        if device.upper().startswith("MYRIAD"):
            from fer_edge.runtime.ovcompat import myriad_hint

            hint = myriad_hint(core())
            raise FerEdgeError(f"cannot compile {path} for device MYRIAD: {reason(exc)}; {hint}") from None
        raise FerEdgeError(
            f"cannot compile {path} for device {device}: {reason(exc)}; try --device CPU or re-export the model"
        ) from None


def compile_f32(model: Any, device: str = "CPU", *, threads: int | None = None) -> Any:
    """Compile an ``openvino.Model`` or a model file with full f32 inference, through
    :func:`compile_checked` (the CPU plugin would otherwise use BF16 on AVX512_BF16/AMX CPUs):
    what parity checks, calibration and feature extraction compare against Keras with.

    Args:
        threads: caps the CPU plugin's inference threads (a cluster task's CPUs); None: all cores.
    """
    props: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "f32"} if device.upper().startswith("CPU") else {}
    if threads:
        props["INFERENCE_NUM_THREADS"] = int(threads)
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    return compile_checked(model, device, props, model if isinstance(model, str) else model.friendly_name)
