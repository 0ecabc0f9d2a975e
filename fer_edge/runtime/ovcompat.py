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
* MYRIAD exists only in 2022.x, and only in Intel's archives: the ``openvino==2022.3.*`` pip
  wheels have no MYRIAD plugin (:func:`myriad_hint` says which case applies).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from fer_edge.core.atomic import temp_path, writing

log = logging.getLogger(__name__)

MYRIAD_LAST = (2022, 3)  # MYRIAD was removed in OpenVINO 2023.0
NCS2_KIT = "deploy/raspberrypi/install-ncs2.sh"

try:  # 2023.1 and later
    from openvino import Core, Model, get_version
except ImportError:  # 2022.x: the API lives in openvino.runtime only
    from openvino.runtime import Core, Model, get_version  # type: ignore[no-redef]

# opset13 since OpenVINO 2023.3; opset10 is the newest of 2022.3 LTS (the NCS2's last release).
_OPSETS = ("openvino.opset13", "openvino.runtime.opset10")

__all__ = [
    "Core",
    "MYRIAD_LAST",
    "Model",
    "can_convert",
    "get_version",
    "myriad_hint",
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


def myriad_hint(core: Any) -> str:
    """What to do when MYRIAD is not among ``core``'s devices: which of three cases this is."""
    release = version()
    if release > MYRIAD_LAST:
        return (
            "MYRIAD (Neural Compute Stick 2) was removed in OpenVINO 2023.0: use OpenVINO 2022.3 LTS in a "
            f"separate environment ({NCS2_KIT}, see deploy/raspberrypi/README.md)"
        )
    try:
        core.get_versions("MYRIAD")  # loads the plugin library; raises when it is not there
    except Exception:  # noqa: BLE001 - "not registered" / cannot load: the plugin is missing
        return (
            f"this OpenVINO {release[0]}.{release[1]} has no MYRIAD plugin (the openvino pip wheels lack it): "
            f"use the 2022.3.2 archive, which {NCS2_KIT} installs"
        )
    return (
        "the MYRIAD plugin is here but sees no Neural Compute Stick 2: plug it in (USB 03e7:2485), install "
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
    xml = Path(xml)
    xml.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(xml, keep_suffix=True)  # inside a staging folder: removed with it on failure
    with writing(xml):  # a full disk: one line, not OpenVINO's "basic_ios::clear: iostream error"
        save_model(ov_model, str(tmp), compress_to_fp16=fp16)
        os.replace(tmp.with_suffix(".bin"), xml.with_suffix(".bin"))
        os.replace(tmp, xml)
    return xml
