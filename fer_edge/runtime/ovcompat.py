"""The one place that knows how OpenVINO's Python API differs between releases.

The runtime runs on current OpenVINO (2025+) and on 2022.3 LTS, the last release with the
MYRIAD plugin (Neural Compute Stick 2), which ships Python bindings for 3.7-3.10 only:

* ``Core`` lives in ``openvino`` since 2023.1 and in ``openvino.runtime`` before (2022.x);
  ``openvino.runtime`` is gone in 2026.
* ``InferRequest.start_async``/``wait``/``latency`` and the ``OPTIMAL_NUMBER_OF_INFER_REQUESTS``
  property, which the pipelined runtime's batcher uses, are the same in both.
* ``opset13`` (2023.3+) vs ``openvino.runtime.opset10`` (2022.3) for building graphs (:func:`opset`).
* Plugins reject properties they do not know (MYRIAD has no ``INFERENCE_PRECISION_HINT``);
  :func:`supported_properties` keeps the ones a device lists.
* ``save_model`` (with ``compress_to_fp16``) arrived in 2023.0; 2022.x has ``serialize`` and a
  separate FP16 compression pass (:func:`save_model` covers both; :func:`save_ir` writes
  through temporary names, renamed when both files are complete).
* MYRIAD exists only up to 2022.3: in Intel's 2022.3 x86 archive (the ``openvino==2022.3.*`` pip
  wheels have no MYRIAD plugin, nor the Raspberry Pi archives), and in 2021.4.2: its x86 pip wheels
  and its Raspbian (armhf) archive, Intel's path for a stick on a Pi (:func:`myriad_hint` says
  which case applies).
* 2021.4 has neither ``Core`` nor ``openvino.runtime``: only the Inference Engine API
  (``openvino.inference_engine.IECore``: ``read_network``, ``load_network`` with a fixed pool of
  infer requests, ``infer``/``async_infer`` on blob dictionaries). ``ovlegacy.LegacyCore`` presents it
  as the subset of ``Core`` the runtime uses; the runtime's other modules never see the difference.
  It reads ONNX (not current IR, v11) with static shapes: a dynamic batch is fixed to 1.

This module and the runtime's code path for the stick run on Python 3.7 (the Raspbian
2021.4.2 build's Python): ``make lint`` checks them with ``vermin``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from fer_edge.core.atomic import save_via

log = logging.getLogger(__name__)


# --- OpenVINO 2021.4: the Inference Engine API as the subset of ``Core`` the runtime uses ---

# Properties in current names -> 2021.4 config keys and values.
_LEGACY_KEYS = {"INFERENCE_NUM_THREADS": "CPU_THREADS_NUM", "NUM_STREAMS": "CPU_THROUGHPUT_STREAMS"}
_LEGACY_REQUESTS = 4  # a compiled model's pool: the runtime's request + the batcher's (<= 3)


class _Dim:
    def __init__(self, n: int) -> None:
        self._n = int(n)

    is_static = property(lambda self: self._n >= 0)
    is_dynamic = property(lambda self: self._n < 0)

    def get_length(self) -> int:
        return self._n


class _Shape:
    def __init__(self, dims: Any) -> None:
        self._dims = [_Dim(d) for d in dims]

    rank = property(lambda self: _Dim(len(self._dims)))

    def __iter__(self) -> Any:
        return iter(self._dims)

    def __getitem__(self, i: int) -> _Dim:
        return self._dims[i]

    def __len__(self) -> int:
        return len(self._dims)

    def to_shape(self) -> list:
        return [d.get_length() for d in self._dims]

    def __str__(self) -> str:
        return "[{}]".format(",".join("?" if d.is_dynamic else str(d.get_length()) for d in self._dims))


class _Port:
    """An input or output by name and shape (``Output``'s methods the runtime calls)."""

    def __init__(self, name: str, dims: Any) -> None:
        self.name, self._shape = name, _Shape(dims)

    def get_partial_shape(self) -> _Shape:
        return self._shape

    def get_any_name(self) -> str:
        return self.name

    def get_names(self) -> set:
        return {self.name}


def _dims(data: Any) -> list:
    try:
        return [int(d) or -1 for d in data.shape]  # 2021.4 reports a dynamic dimension as 0
    except Exception:  # noqa: BLE001 - a dynamic shape 2021.4 cannot even report
        return [-1]


class _Network:
    """A read ``IENetwork`` as a ``Model``: ``inputs``, ``outputs``, ``reshape``, ``friendly_name``."""

    def __init__(self, net: Any) -> None:
        self.net = net
        self.friendly_name = net.name

    @property
    def inputs(self) -> list:
        return [_Port(name, _dims(info.input_data)) for name, info in self.net.input_info.items()]

    @property
    def outputs(self) -> list:
        return [_Port(name, _dims(data)) for name, data in self.net.outputs.items()]

    def reshape(self, shapes: dict) -> None:
        self.net.reshape({getattr(p, "name", p): [int(d) for d in dims] for p, dims in shapes.items()})


class _Tensor:
    def __init__(self, data: Any) -> None:
        self.data = data


class _Request:
    """An ``InferRequest``: ``infer`` (returns outputs by port), ``start_async``/``wait``, ``latency``."""

    def __init__(self, request: Any, compiled: _Compiled) -> None:
        self._request, self._compiled = request, compiled

    def _feed(self, inputs: Any) -> dict:
        if isinstance(inputs, dict):
            return {getattr(k, "name", k): v for k, v in inputs.items()}
        return {p.name: x for p, x in zip(self._compiled.inputs, inputs)}

    def infer(self, inputs: Any) -> dict:
        self._request.infer(self._feed(inputs))
        blobs = self._request.output_blobs
        return {p: blobs[p.name].buffer for p in self._compiled.outputs}

    def start_async(self, inputs: Any) -> None:
        self._request.async_infer(self._feed(inputs))

    def wait(self) -> None:
        self._request.wait(-1)

    @property
    def latency(self) -> float:
        return float(self._request.latency)

    def get_output_tensor(self, index: int = 0) -> _Tensor:
        return _Tensor(self._request.output_blobs[self._compiled.outputs[index].name].buffer)


class _Compiled:
    """An ``ExecutableNetwork`` as a ``CompiledModel``; its infer requests come from a fixed pool."""

    def __init__(self, exec_net: Any, device: str) -> None:
        self._net, self._device = exec_net, device
        self.inputs = [_Port(n, _dims(i.input_data)) for n, i in exec_net.input_info.items()]
        self.outputs = [_Port(n, _dims(d)) for n, d in exec_net.outputs.items()]
        self._pool = list(exec_net.requests)

    def create_infer_request(self) -> _Request:
        if not self._pool:
            raise RuntimeError(f"OpenVINO 2021.4: all {_LEGACY_REQUESTS} infer requests of this model are in use")
        return _Request(self._pool.pop(0), self)

    def get_property(self, name: str) -> Any:
        if name == "OPTIMAL_NUMBER_OF_INFER_REQUESTS":
            return min(int(self._net.get_metric(name)), _LEGACY_REQUESTS - 1)
        if name == "INFERENCE_PRECISION_HINT":
            if self._device.startswith("MYRIAD"):
                return "f16"  # the stick computes in FP16 whatever the model's precision
            bf16 = self._net.get_config("ENFORCE_BF16") == "YES" and "avx512_bf16" in _cpu_flags()
            return "bf16" if bf16 else "f32"
        return self._net.get_config(name)


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


class LegacyCore:
    """OpenVINO 2021.4's ``IECore`` as the subset of ``Core`` the runtime uses."""

    def __init__(self) -> None:
        from openvino.inference_engine import IECore

        self._ie = IECore()

    @property
    def available_devices(self) -> list:
        return list(self._ie.available_devices)

    def get_versions(self, device: str) -> Any:
        return self._ie.get_versions(device)

    def read_model(self, path: Any) -> _Network:
        path = Path(path)
        weights = str(path.with_suffix(".bin")) if path.suffix == ".xml" else ""
        return _Network(self._ie.read_network(model=str(path), weights=weights))

    def get_property(self, device: str, name: str) -> Any:
        if name != "SUPPORTED_PROPERTIES":
            return self._ie.get_config(device, name)
        keys = {str(k) for k in self._ie.get_metric(device, "SUPPORTED_CONFIG_KEYS")}
        names = {new for new, old in _LEGACY_KEYS.items() if old in keys} | keys
        if "ENFORCE_BF16" in keys:
            names.add("INFERENCE_PRECISION_HINT")
        return sorted(names)

    def _config(self, device: str, props: dict) -> dict:
        base = device.split(".")[0].split(":")[0]
        keys = {str(k) for k in self._ie.get_metric(base, "SUPPORTED_CONFIG_KEYS")}
        config = {}
        for key, value in (props or {}).items():
            if key == "INFERENCE_PRECISION_HINT":
                key, value = "ENFORCE_BF16", "YES" if str(value) == "bf16" else "NO"
            key = _LEGACY_KEYS.get(key, key)
            if key in keys:
                config[key] = str(value)
            else:
                log.debug("%s does not support %s; not set", device, key)
        return config

    def compile_model(self, model: Any, device: str = "CPU", config: Any = None) -> _Compiled:
        if not isinstance(model, _Network):
            model = self.read_model(model)
        dynamic = {p.name: [1, *p.get_partial_shape().to_shape()[1:]] for p in model.inputs}
        if any(d < 0 for p in model.inputs for d in p.get_partial_shape().to_shape()):
            if any(d < 0 for dims in dynamic.values() for d in dims):
                raise RuntimeError("OpenVINO 2021.4 needs static input shapes: export with --batch 1")
            model.net.reshape(dynamic)  # 2021.4 compiles static shapes only
        for info in model.net.input_info.values():
            info.precision = "FP32"
        exec_net = self._ie.load_network(
            model.net, device, config=self._config(device, config), num_requests=_LEGACY_REQUESTS
        )
        return _Compiled(exec_net, device)

    def query_model(self, model: Any, device: str) -> dict:
        """Operation name -> the device that would run it (every op mapped: the model runs there)."""
        if not isinstance(model, _Network):
            model = self.read_model(model)
        return dict(self._ie.query_network(model.net, device))


MYRIAD_LAST = (2022, 3)  # MYRIAD was removed in OpenVINO 2023.0
NCS2_KIT = "deploy/raspberrypi/install-ncs2.sh"

try:  # 2023.1 and later
    from openvino import Core, Model, get_version
except ImportError:
    try:  # 2022.x: the API lives in openvino.runtime only
        from openvino.runtime import Core, Model, get_version  # type: ignore[no-redef]
    except ImportError:  # 2021.4: the Inference Engine API (ovlegacy presents it as a Core)
        from openvino.inference_engine import get_version  # type: ignore[no-redef]

        Core = LegacyCore  # type: ignore[assignment,misc]

        Model = None  # type: ignore[assignment,misc]  # 2021.4 builds no graphs in Python here

# opset13 since OpenVINO 2023.3; opset10 is the newest of 2022.3 LTS (the NCS2's last release).
_OPSETS = ("openvino.opset13", "openvino.runtime.opset10")

__all__ = [
    "Core",
    "LegacyCore",
    "MYRIAD_LAST",
    "Model",
    "can_convert",
    "get_version",
    "myriad_hint",
    "myriad_plugin_error",
    "opset",
    "save_ir",
    "save_model",
    "supported_properties",
    "version",
    "version_text",
]


def opset() -> Any:
    """The newest opset module both releases share the operations of (the Keras importer builds with it)."""
    import importlib

    from fer_edge.core.errors import FerEdgeError

    for name in _OPSETS:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise FerEdgeError("this OpenVINO has neither opset13 nor opset10 in its Python API; install openvino>=2022.3")


def version_text() -> str:
    """OpenVINO's release without the build suffix, e.g. ``2022.3.0``."""
    return str(get_version()).split("-")[0]


def version() -> tuple[int, int]:
    """OpenVINO's (major, minor) release, e.g. ``(2022, 3)`` or ``(2026, 4)``."""
    text = version_text()
    parts = [int("".join(c for c in p if c.isdigit()) or 0) for p in text.split(".")[:2]]
    parts += [0, 0]
    return parts[0], parts[1]


def can_convert() -> bool:
    """Whether this OpenVINO converts ``.tflite`` (and other frameworks' files) itself: 2023.1+;
    the NCS2's 2022.3 does not."""
    import openvino as ov

    return hasattr(ov, "convert_model") and hasattr(ov, "save_model")


def myriad_plugin_error(core: Any) -> str | None:
    """Why the MYRIAD plugin cannot load here (its loader's first line), or None when it loads."""
    try:
        core.get_versions("MYRIAD")  # loads the plugin library; raises when it is missing or cannot load
    except Exception as exc:  # noqa: BLE001 - "not registered" / a missing library: said by the text
        lines = [x.strip() for x in str(exc).splitlines() if x.strip() and not x.startswith("Exception from")]
        return (lines or [type(exc).__name__])[-1][:200]
    return None


def myriad_hint(core: Any) -> str:
    """What to do when MYRIAD cannot run: which of four cases this is.

    OpenVINO 2023+ (removed), no plugin (the 2022.3 pip wheels), a plugin that cannot load
    (``libusb-1.0.so.0`` missing: the MYRIAD plugin links it), or a plugin that sees no stick.
    """
    release = version()
    if release > MYRIAD_LAST:
        return (
            "MYRIAD (Neural Compute Stick 2) was removed in OpenVINO 2023.0: use OpenVINO 2021.4.2 (or 2022.3 LTS from "
            f"Intel's x86 archive) in a separate environment ({NCS2_KIT}, see deploy/raspberrypi/README.md)"
        )
    error = myriad_plugin_error(core)
    if error and "libusb" in error:
        return (
            f"the MYRIAD plugin is installed but cannot load ({error}): install libusb "
            "(sudo apt install libusb-1.0-0) and run again"
        )
    if error:
        return (
            f"this OpenVINO {release[0]}.{release[1]} has no MYRIAD plugin (the 2022.3 pip wheels and Raspberry Pi "
            f"archives lack it): install openvino==2021.4.2 (x86, Python <= 3.9) or Intel's 2021.4.2 Raspbian "
            f"archive; {NCS2_KIT} does"
        )
    return (
        "the MYRIAD plugin loaded but found no Neural Compute Stick 2: plug it in (USB 03e7:2485), install "
        f"the udev rules ({NCS2_KIT} does) and re-plug it"
    )


# Properties a plugin may not know; the rest (CACHE_DIR) are the Core's and always apply.
_PLUGIN_KEYS = ("PERFORMANCE_HINT", "INFERENCE_PRECISION_HINT", "NUM_STREAMS")


def supported_properties(core: Any, device: str, props: dict[str, Any]) -> dict[str, Any]:
    """``props`` without the plugin hints ``device`` does not list (logged at debug level)."""
    try:
        known = {str(p) for p in core.get_property(device.split(".")[0].split(":")[0], "SUPPORTED_PROPERTIES")}
    except Exception:  # noqa: BLE001 - virtual devices (AUTO, MULTI) list nothing: pass all through
        return dict(props)
    kept = {k: v for k, v in props.items() if k in known or k not in _PLUGIN_KEYS}
    for name in sorted(set(props) - set(kept)):
        log.debug("%s does not support %s; not set", device, name)
    return kept


def save_model(model: Any, xml: str, *, compress_to_fp16: bool = False) -> None:
    """Write ``model`` as IR ``xml`` + ``.bin``; FP16 weights when asked (the model is not changed)."""
    try:
        from openvino import save_model as _save
    except ImportError:  # 2022.x
        from openvino.runtime import serialize

        if compress_to_fp16:
            from openvino._offline_transformations import compress_model_transformation

            model = model.clone()  # the pass works in place
            compress_model_transformation(model)
        serialize(model, xml)
        return
    _save(model, xml, compress_to_fp16=compress_to_fp16)


def save_ir(ov_model: Any, xml: str | os.PathLike, *, fp16: bool = False) -> Path:
    """Write IR ``.xml``/``.bin`` next to each other, atomically (both renamed at the end)."""
    return save_via(xml, lambda tmp: save_model(ov_model, str(tmp), compress_to_fp16=fp16), companions=(".bin",))
