"""What a Keras file must be before it is built: sane sizes, weights that fit, shallow configs.

A model file is untrusted input. Its JSON config can declare anything (a 100000x100000 input,
a Dense of 2**40 units, a config nested 100,000 deep) and its weights can disagree with the
config; each is refused here as one line naming the layer, before anything is allocated or
handed to OpenVINO (whose own shape errors name internal nodes, not the layer).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.errors import FerEdgeError, shorten

MAX_SIDE = 4096  # pixels of an input side or a kernel: a bundle's frame.size takes the same bound
MAX_UNITS = 1 << 20  # units, filters, channels of one layer
MAX_DEPTH = 32  # nesting of one layer's config; Keras writes at most ~6 levels

# Integer options: the key, whether it may be a pair (int or [int, int]), the smallest value.
_FIELDS: dict[str, tuple[tuple[str, bool, int, int], ...]] = {
    "Dense": (("units", False, 1, MAX_UNITS),),
    "Conv2D": (
        ("filters", False, 1, MAX_UNITS),
        ("kernel_size", True, 1, MAX_SIDE),
        ("strides", True, 1, MAX_SIDE),
        ("dilation_rate", True, 1, MAX_SIDE),
        ("groups", False, 1, MAX_UNITS),
    ),
    "DepthwiseConv2D": (
        ("kernel_size", True, 1, MAX_SIDE),
        ("strides", True, 1, MAX_SIDE),
        ("dilation_rate", True, 1, MAX_SIDE),
        ("depth_multiplier", False, 1, MAX_UNITS),
    ),
    "SeparableConv2D": (
        ("filters", False, 1, MAX_UNITS),
        ("kernel_size", True, 1, MAX_SIDE),
        ("strides", True, 1, MAX_SIDE),
        ("dilation_rate", True, 1, MAX_SIDE),
        ("depth_multiplier", False, 1, MAX_UNITS),
    ),
    "MaxPooling2D": (("pool_size", True, 1, MAX_SIDE), ("strides", True, 1, MAX_SIDE)),
    "AveragePooling2D": (("pool_size", True, 1, MAX_SIDE), ("strides", True, 1, MAX_SIDE)),
}


def _where(spec: Any) -> str:
    return f"layer '{shorten(spec.name, 60)}' ({shorten(spec.class_name, 40)})"


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _depth(value: Any) -> int:
    """Nesting depth of JSON data, walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def check_config(spec: Any) -> None:
    """One layer's config: a shallow object whose size options are integers in range.

    Raises:
        FerEdgeError: naming the layer and the option.
    """
    if not isinstance(spec.config, dict):
        raise FerEdgeError(f"{_where(spec)}: its config is {type(spec.config).__name__}, not an object")
    if _depth(spec.config) > MAX_DEPTH:
        raise FerEdgeError(f"{_where(spec)}: its config is nested deeper than {MAX_DEPTH} levels (damaged or crafted)")
    for key, pair, lo, hi in _FIELDS.get(spec.class_name, ()):
        value = spec.config.get(key)
        if value is None:
            continue  # Keras' default
        values = list(value) if pair and isinstance(value, (list, tuple)) else [value]
        if not all(_is_int(v) for v in values) or len(values) not in ((1, 2) if pair else (1,)):
            kind = "an integer or a pair of integers" if pair else "an integer"
            raise FerEdgeError(f"{_where(spec)}: {key} {shorten(repr(value))} is not {kind}")
        if not all(lo <= v <= hi for v in values):
            raise FerEdgeError(f"{_where(spec)}: {key} {shorten(repr(value))} is out of range ({lo}..{hi})")


def check_input(spec: Any) -> list[int | None]:
    """An input layer's declared shape: ``[None, d1, ...]`` with every size in 1..MAX_SIDE
    (checked here, before anything sized from it is allocated)."""
    cfg = spec.config
    shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
    name = shorten(spec.name, 60)
    ok = isinstance(shape, list) and 2 <= len(shape) <= 5 and all(d is None or _is_int(d) for d in shape)
    if not ok or any(d is not None and d < 1 for d in shape):
        raise FerEdgeError(
            f"input '{name}' has shape {shorten(repr(shape))}; expected [None, height, width, channels] of sizes >= 1"
        )
    dims = [d for d in shape[1:] if d is not None]
    if len(shape) == 4 and any(d is not None and d > MAX_SIDE for d in shape[1:3]):
        h, w = (("?" if d is None else d) for d in shape[1:3])
        raise FerEdgeError(
            f"input '{name}' is {h}x{w} pixels; at most {MAX_SIDE}x{MAX_SIDE} is supported (a face crop is far smaller)"
        )
    if any(d > MAX_UNITS for d in dims):
        raise FerEdgeError(f"input '{name}' has shape {shorten(repr(shape))}; sizes over {MAX_UNITS} are not supported")
    return shape


def _expect(spec: Any, label: str, array: np.ndarray, want: tuple[int | None, ...], channel_axis: int | None) -> None:
    """``array`` has shape ``want`` (None: any size); ``channel_axis`` is the one that meets the input."""
    got = tuple(int(d) for d in array.shape)
    if len(got) == len(want) and all(w is None or g == w for g, w in zip(got, want)):
        return
    shown = tuple("n" if w is None else w for w in want)
    if channel_axis is not None and len(got) == len(want):
        others = [i for i in range(len(want)) if i != channel_axis]
        if all(want[i] is None or got[i] == want[i] for i in others):
            unit = "features" if len(want) == 2 else "channels"
            raise FerEdgeError(
                f"{_where(spec)}: {label} has shape {got}, but its input has {want[channel_axis]} {unit}"
            )
    raise FerEdgeError(f"{_where(spec)}: {label} has shape {got}, expected {shown}".replace("'n'", "n"))


def check_weights(spec: Any, channels: int | None) -> None:
    """The weights of ``spec`` have the shapes its config and its input (``channels`` wide) imply.

    Only the layers with weights are checked; a wrong number of arrays is the converter's
    error (it knows the count), so shapes are compared only when the count is right.
    """
    cfg, w = spec.config, spec.weights
    bias = bool(cfg.get("use_bias", True))
    cls = spec.class_name
    if cls == "Dense" and len(w) == 1 + bias:
        units = int(cfg.get("units", w[0].shape[-1]))
        _expect(spec, "kernel", w[0], (channels, units), 0)
        if bias:
            _expect(spec, "bias", w[1], (units,), None)
    elif cls == "Conv2D" and len(w) == 1 + bias:
        kh, kw = _pair(cfg.get("kernel_size", w[0].shape[:2]))
        filters, groups = int(cfg.get("filters", w[0].shape[-1])), int(cfg.get("groups", 1) or 1)
        per_group = None if channels is None else channels // groups
        _expect(spec, "kernel", w[0], (kh, kw, per_group, filters), 2)
        if bias:
            _expect(spec, "bias", w[1], (filters,), None)
    elif cls == "DepthwiseConv2D" and len(w) == 1 + bias:
        kh, kw = _pair(cfg.get("kernel_size", w[0].shape[:2]))
        mult = int(cfg.get("depth_multiplier", 1))
        _expect(spec, "kernel", w[0], (kh, kw, channels, mult), 2)
        if bias:
            _expect(spec, "bias", w[1], (None if channels is None else channels * mult,), None)
    elif cls == "SeparableConv2D" and len(w) == 2 + bias:
        kh, kw = _pair(cfg.get("kernel_size", w[0].shape[:2]))
        mult, filters = int(cfg.get("depth_multiplier", 1)), int(cfg.get("filters", w[1].shape[-1]))
        _expect(spec, "depthwise kernel", w[0], (kh, kw, channels, mult), 2)
        _expect(spec, "pointwise kernel", w[1], (1, 1, None if channels is None else channels * mult, filters), 2)
        if bias:
            _expect(spec, "bias", w[2], (filters,), None)
    elif cls == "BatchNormalization":
        for i, array in enumerate(w):
            _expect(spec, f"weight {i}", array, (channels,), 0)


def _pair(value: Any) -> tuple[int, int]:
    values = [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)] * 2
    return (values[0], values[-1])


@contextlib.contextmanager
def damaged(path: Path) -> Iterator[None]:
    """A config whose structure is not what Keras writes (a number where a list belongs, a
    missing key) surfaces deep in the reader as KeyError/TypeError/...: one line for the file."""
    try:
        yield
    except FerEdgeError as exc:
        if str(exc).startswith("cannot load Keras model") or str(exc).startswith("model not found"):
            raise
        raise type(exc)(f"cannot load Keras model {path}: {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        raise FerEdgeError(
            f"cannot load Keras model {path}: unexpected config layout ({type(exc).__name__}: {shorten(exc)}); "
            "the file is damaged, or the 'train' extra (TensorFlow) may read it"
        ) from None
