"""The shape of a ``benchmark.json``: every field's type checked before use, one line per problem.

A report is JSON with the right syntax; this module checks its shapes (``versions`` an object,
a row's ``latency_ms`` finite numbers, ``batch`` an integer ...) so that a foreign, damaged or
hostile file is named in one line instead of failing deep inside a table or a chart. Fields an
older fer-edge did not write are optional: they show as ``not recorded``.
"""

from __future__ import annotations

import math
from typing import Any

from fer_edge.core.errors import FerEdgeError

__all__ = ["MAX_ROWS", "check_layers", "check_machine", "check_row", "check_settings", "finite"]

#: More rows than any real benchmark writes (bundles x precisions x devices x hints x stages).
MAX_ROWS = 100_000
_TEXT = (str,)
_NUMBER = (int, float)
# machine key -> allowed types (None always allowed: "not recorded").
_MACHINE: dict[str, tuple[type, ...]] = {
    "cpu": _TEXT,
    "cores": (int,),
    "cores_usable": (int,),
    "physical_cores": (int,),
    "isa": (list,),
    "memory_gb": _NUMBER,
    "os": _TEXT,
    "python": _TEXT,
    "arch": _TEXT,
    "versions": (dict,),
    "devices": (dict,),
    "tf_gpus": (list,),
    "host": _TEXT,
    "device_details": (dict,),
}
_ROW_TEXT = ("stage", "model", "format", "precision", "device", "mode", "hint", "inference_precision", "engine")
_ROW_INT = ("batch", "requests", "iterations")
_ROW_OPTIONAL = ("size_mb", "accuracy")
#: Per-layer profiles (``--per-layer``): at most this many profiles, layers per profile.
MAX_PROFILES, MAX_LAYERS = 10_000, 10_000
_PROFILE_TEXT = ("stage", "model", "precision", "device", "hint")
_LAYER_TEXT = ("name", "type", "exec_type")


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def finite(value: Any) -> bool:
    """A real number that is neither NaN nor infinite (booleans are not numbers here)."""
    return _is_number(value) and math.isfinite(value)


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def check_machine(machine: Any, where: str) -> dict[str, Any]:
    """The ``machine`` object with each known key of the right type.

    Raises:
        FerEdgeError: naming the key and what it holds.
    """
    if not isinstance(machine, dict):
        raise FerEdgeError(f"{where}: 'machine' must be an object, got {_type_name(machine)}")
    for key, types in _MACHINE.items():
        value = machine.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            raise FerEdgeError(f"{where}: 'machine.{key}' must be {_type_name(types[0]())}, got {_type_name(value)}")
    for key in ("versions", "devices"):
        for name, value in (machine.get(key) or {}).items():
            if value is not None and not isinstance(value, str):
                raise FerEdgeError(f"{where}: 'machine.{key}.{name}' must be a string, got {_type_name(value)}")
    for name, info in (machine.get("device_details") or {}).items():
        if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
            raise FerEdgeError(f"{where}: 'machine.device_details.{name}' must map names to strings")
    for key in ("isa", "tf_gpus"):
        if not all(isinstance(v, str) for v in machine.get(key) or []):
            raise FerEdgeError(f"{where}: 'machine.{key}' must be an array of strings")
    return machine


def check_settings(settings: Any, where: str) -> dict[str, Any]:
    """The ``settings`` object (or ``{}`` when absent); what the reports print must be text or lists."""
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise FerEdgeError(f"{where}: 'settings' must be an object, got {_type_name(settings)}")
    for key in ("label", "detector"):
        if settings.get(key) is not None and not isinstance(settings[key], str):
            raise FerEdgeError(f"{where}: 'settings.{key}' must be a string, got {_type_name(settings[key])}")
    for key in ("notes", "hints", "bundles", "bundle_info"):
        if settings.get(key) is not None and not isinstance(settings[key], list):
            raise FerEdgeError(f"{where}: 'settings.{key}' must be an array, got {_type_name(settings[key])}")
    if not all(isinstance(n, str) for n in settings.get("notes") or []):
        raise FerEdgeError(f"{where}: 'settings.notes' must be an array of strings")
    return settings


def check_row(data: Any, where: str) -> dict[str, Any]:
    """A row's fields with their types checked: text, integers, finite numbers.

    Raises:
        FerEdgeError: naming the row and the field.
    """
    if not isinstance(data, dict):
        raise FerEdgeError(f"{where}: must be an object, got {_type_name(data)}")
    for key in _ROW_TEXT:
        if key in data and not isinstance(data[key], str):
            raise FerEdgeError(f"{where}: '{key}' must be a string, got {_type_name(data[key])}")
    for key in _ROW_INT:
        if key in data and (isinstance(data[key], bool) or not isinstance(data[key], int)):
            raise FerEdgeError(f"{where}: '{key}' must be an integer, got {_type_name(data[key])}")
    if "fps" in data and not (finite(data["fps"]) and data["fps"] >= 0):
        raise FerEdgeError(f"{where}: 'fps' must be a finite number >= 0, got {data['fps']!r}")
    for key in _ROW_OPTIONAL:
        if data.get(key) is not None and not finite(data[key]):
            raise FerEdgeError(f"{where}: '{key}' must be a finite number or null, got {data[key]!r}")
    lat = data.get("latency_ms")
    if lat is not None:
        ok = isinstance(lat, dict) and all(finite(lat.get(k)) and lat[k] >= 0 for k in ("median", "p90"))
        ok = ok and all(finite(v) for v in lat.values())
        if not ok:
            shape = "{'median': number, 'p90': number} of finite numbers >= 0"
            raise FerEdgeError(f"{where}: 'latency_ms' must be {shape}, got {lat!r}"[:300])
    return data


def check_layers(profiles: Any, where: str) -> list[dict[str, Any]]:
    """The ``layers`` array of per-layer profiles (``[]`` when absent: reports before ``--per-layer``).

    Each profile: ``stage``, ``model``, ``precision``, ``device``, ``hint`` strings, ``iterations``
    an integer, ``total_ms`` a finite number, ``layers`` an array of ``{name, type, exec_type, ms}``.

    Raises:
        FerEdgeError: naming the profile, the layer and the field.
    """
    if profiles is None:
        return []
    if not isinstance(profiles, list) or len(profiles) > MAX_PROFILES:
        raise FerEdgeError(f"{where}: 'layers' must be an array of at most {MAX_PROFILES} profiles")
    for i, prof in enumerate(profiles):
        at = f"{where}: 'layers[{i}]"
        if not isinstance(prof, dict):
            raise FerEdgeError(f"{at}' must be an object, got {_type_name(prof)}")
        for key in _PROFILE_TEXT:
            if not isinstance(prof.get(key), str):
                raise FerEdgeError(f"{at}.{key}' must be a string, got {_type_name(prof.get(key))}")
        if isinstance(prof.get("iterations"), bool) or not isinstance(prof.get("iterations"), int):
            raise FerEdgeError(f"{at}.iterations' must be an integer, got {_type_name(prof.get('iterations'))}")
        if not (finite(prof.get("total_ms")) and prof["total_ms"] >= 0):
            raise FerEdgeError(f"{at}.total_ms' must be a finite number >= 0, got {prof.get('total_ms')!r}"[:200])
        layers = prof.get("layers")
        if not isinstance(layers, list) or len(layers) > MAX_LAYERS:
            raise FerEdgeError(f"{at}.layers' must be an array of at most {MAX_LAYERS} layers")
        for j, layer in enumerate(layers):
            _check_layer(layer, f"{at}.layers[{j}]")
    return profiles


def _check_layer(layer: Any, at: str) -> None:
    if not isinstance(layer, dict):
        raise FerEdgeError(f"{at}' must be an object, got {_type_name(layer)}")
    for key in _LAYER_TEXT:
        if not isinstance(layer.get(key), str):
            raise FerEdgeError(f"{at}.{key}' must be a string, got {_type_name(layer.get(key))}")
    if not (finite(layer.get("ms")) and layer["ms"] >= 0):
        raise FerEdgeError(f"{at}.ms' must be a finite number >= 0, got {layer.get('ms')!r}"[:200])
