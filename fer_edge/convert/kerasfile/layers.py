"""Keras layers as OpenVINO operations.

Keras is channels-last (NHWC); OpenVINO's convolutions and pools are channels-first. Each
tensor therefore carries its layout: spatial layers take it channels-first, layers whose
meaning depends on element order (Flatten, Reshape, Dense) take it in Keras order, and
element-wise ones take whatever comes. A transpose is inserted only on a change, and
OpenVINO fuses the pairs that remain when it compiles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_edge.convert.kerasfile.reader import LayerSpec
from fer_edge.core.errors import FerEdgeError

TO_FIRST, TO_LAST = [0, 3, 1, 2], [0, 2, 3, 1]
# Keras axis of a rank-4 tensor -> the same axis in channels-first order.
_FIRST_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


class UnsupportedLayer(FerEdgeError):
    """A layer (or option) the built-in reader cannot convert; TensorFlow's converter may."""


def unsupported(spec: LayerSpec, what: str = "") -> UnsupportedLayer:
    detail = f" with {what}" if what else ""
    return UnsupportedLayer(
        f"layer '{spec.name}' ({spec.class_name}{detail}) is not supported by fer-edge's built-in Keras reader; "
        "the 'train' extra (TensorFlow) converts it: pip install 'fer-edge[train]'"
    )


@dataclass
class Tensor:
    """An OpenVINO output and whether it is held channels-first (rank 4 only)."""

    out: Any
    first: bool = False

    @property
    def rank(self) -> int:
        return self.out.get_partial_shape().rank.get_length()


class Builder:
    """Graph-building helpers over one OpenVINO opset module."""

    def __init__(self, opset: Any) -> None:
        self.op = opset

    def const(self, value: Any, dtype: Any = np.float32) -> Any:
        return self.op.constant(np.asarray(value, dtype=dtype)).output(0)

    def first(self, t: Tensor, spec: LayerSpec) -> Any:
        if t.rank != 4:
            raise unsupported(spec, f"a rank-{t.rank} input")
        return t.out if t.first else self.op.transpose(t.out, self.const(TO_FIRST, np.int64)).output(0)

    def last(self, t: Tensor) -> Any:
        return self.op.transpose(t.out, self.const(TO_LAST, np.int64)).output(0) if t.first else t.out

    def axis(self, t: Tensor, axis: int) -> int:
        """A Keras axis of ``t`` as an axis of the tensor as held."""
        axis = axis % t.rank
        return _FIRST_AXIS[axis] if t.first else axis

    def per_channel(self, t: Tensor, values: Any) -> Any:
        """``values`` shaped to broadcast along the channel axis of ``t``."""
        values = np.asarray(values, np.float32).reshape(-1)
        if values.size == 1:
            return self.const(values.reshape(()))
        shape = [1] * t.rank
        shape[1 if t.first else -1] = values.size
        return self.const(values.reshape(shape))

    def same(self, t: Tensor, out: Any) -> Tensor:
        return Tensor(out.output(0) if hasattr(out, "output") else out, t.first)

    def activation(self, t: Tensor, name: Any, spec: LayerSpec) -> Tensor:
        if isinstance(name, dict):  # Keras 3 may serialise a built-in activation as a record
            name = name.get("config", name.get("class_name"))
        name = str(name or "linear").lower()
        op, x = self.op, t.out
        if name == "linear":
            return t
        if name == "softmax":
            return self.same(t, op.softmax(x, self.axis(t, -1)))
        simple: dict[str, Callable[[], Any]] = {
            "relu": lambda: op.relu(x),
            "relu6": lambda: op.clamp(x, 0.0, 6.0),
            "sigmoid": lambda: op.sigmoid(x),
            "tanh": lambda: op.tanh(x),
            "elu": lambda: op.elu(x, 1.0),
            "selu": lambda: op.selu(x, self.const(1.6732632423543772), self.const(1.0507009873554805)),
            "softplus": lambda: op.softplus(x),
            "swish": lambda: op.swish(x),
            "silu": lambda: op.swish(x),
            "gelu": lambda: op.gelu(x, "erf"),
            "exponential": lambda: op.exp(x),
            "leaky_relu": lambda: op.prelu(x, self.const([0.2])),  # Keras 3's default slope
            "hard_silu": lambda: op.hswish(x),
            "hard_swish": lambda: op.hswish(x),
            "mish": lambda: op.mish(x),
        }
        if name not in simple:
            raise unsupported(spec, f"activation '{name}'")
        return self.same(t, simple[name]())


def _channels_last(spec: LayerSpec) -> None:
    if spec.config.get("data_format", "channels_last") not in (None, "channels_last"):
        raise unsupported(spec, f"data_format={spec.config['data_format']}")


def _pair(value: Any) -> list[int]:
    return [int(value)] * 2 if isinstance(value, int) else [int(v) for v in value]


def _padding(spec: LayerSpec) -> str:
    pad = spec.config.get("padding", "valid")
    if pad not in ("valid", "same"):
        raise unsupported(spec, f"padding={pad}")
    # TensorFlow's SAME puts the odd pixel at the end, as OpenVINO's same_upper does.
    return "same_upper" if pad == "same" else "valid"


def _weights(spec: LayerSpec, count: int) -> list[np.ndarray]:
    if len(spec.weights) != count:
        raise FerEdgeError(
            f"layer '{spec.name}' ({spec.class_name}) has {len(spec.weights)} weight arrays, "
            f"expected {count}; the file is damaged or of an unknown layout"
        )
    return spec.weights


def _kernels_bias(spec: LayerSpec, kernels: int) -> tuple[list[np.ndarray], np.ndarray | None]:
    """The layer's ``kernels`` weight arrays and its bias (None with ``use_bias=False``)."""
    use_bias = bool(spec.config.get("use_bias", True))
    w = _weights(spec, kernels + use_bias)
    return w[:kernels], (w[kernels] if use_bias else None)


def _bias_act(b: Builder, t: Tensor, spec: LayerSpec, bias: np.ndarray | None) -> Tensor:
    if bias is not None:
        t = b.same(t, b.op.add(t.out, b.per_channel(t, bias)))
    return b.activation(t, spec.config.get("activation"), spec)


def _window(spec: LayerSpec) -> tuple[list[int], list[int]]:
    return _pair(spec.config.get("strides", 1)), _pair(spec.config.get("dilation_rate", 1))


def _conv(b: Builder, spec: LayerSpec, x: Any, kernel: np.ndarray, groups: int) -> Any:
    """Keras (kh, kw, in/groups, out) kernel as an OpenVINO (grouped) convolution."""
    strides, dilations = _window(spec)
    w = kernel.transpose(3, 2, 0, 1)  # out, in, kh, kw
    zeros = [0, 0]
    if groups == 1:
        return b.op.convolution(x, b.const(w), strides, zeros, zeros, dilations, _padding(spec)).output(0)
    w = w.reshape(groups, w.shape[0] // groups, *w.shape[1:])
    return b.op.group_convolution(x, b.const(w), strides, zeros, zeros, dilations, _padding(spec)).output(0)


def _depthwise(b: Builder, spec: LayerSpec, x: Any, kernel: np.ndarray) -> Any:
    """Keras (kh, kw, in, multiplier) depthwise kernel as a grouped convolution, one group per channel."""
    kh, kw, cin, mult = kernel.shape
    w = kernel.transpose(2, 3, 0, 1).reshape(cin, mult, 1, kh, kw)
    strides, dilations = _window(spec)
    return b.op.group_convolution(x, b.const(w), strides, [0, 0], [0, 0], dilations, _padding(spec)).output(0)


def conv2d(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    _channels_last(spec)
    (kernel,), bias = _kernels_bias(spec, 1)
    out = _conv(b, spec, b.first(xs[0], spec), kernel, int(spec.config.get("groups", 1)))
    return _bias_act(b, Tensor(out, True), spec, bias)


def depthwise_conv2d(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    _channels_last(spec)
    (kernel,), bias = _kernels_bias(spec, 1)
    out = _depthwise(b, spec, b.first(xs[0], spec), kernel)
    return _bias_act(b, Tensor(out, True), spec, bias)


def separable_conv2d(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    _channels_last(spec)
    (depth, point), bias = _kernels_bias(spec, 2)
    deep = _depthwise(b, spec, b.first(xs[0], spec), depth)
    point = point.transpose(3, 2, 0, 1)  # (1, 1, in*mult, out) -> (out, in*mult, 1, 1)
    out = b.op.convolution(deep, b.const(point), [1, 1], [0, 0], [0, 0], [1, 1], "valid").output(0)
    return _bias_act(b, Tensor(out, True), spec, bias)


def dense(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    (kernel,), bias = _kernels_bias(spec, 1)
    out = b.op.matmul(b.last(xs[0]), b.const(kernel), False, False).output(0)
    return _bias_act(b, Tensor(out), spec, bias)


def batch_norm(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    cfg, t = spec.config, xs[0]
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    if not isinstance(axis, int) or axis % t.rank != t.rank - 1:
        raise unsupported(spec, f"axis={axis} (only the channel axis)")
    scale, center = cfg.get("scale", True), cfg.get("center", True)
    w = list(_weights(spec, 2 + int(scale) + int(center)))
    gamma = w.pop(0) if scale else 1.0
    beta = w.pop(0) if center else 0.0
    mean, var = w
    # Folded in float64 so the folding adds no rounding of its own.
    inv = gamma / np.sqrt(var.astype(np.float64) + float(cfg.get("epsilon", 1e-3)))
    x = b.op.multiply(t.out, b.per_channel(t, inv)).output(0)
    return b.same(t, b.op.add(x, b.per_channel(t, beta - mean * inv)))


def _pool(b: Builder, spec: LayerSpec, xs: list[Tensor], mode: str) -> Tensor:
    _channels_last(spec)
    size = _pair(spec.config.get("pool_size", 2))
    strides = _pair(spec.config.get("strides") or size)
    x, zeros, pad = b.first(xs[0], spec), [0, 0], _padding(spec)
    if mode == "max":
        out = b.op.max_pool(x, strides, [1, 1], zeros, zeros, size, "floor", pad).output(0)
    else:  # Keras averages over the valid pixels only at the border: exclude_pad
        out = b.op.avg_pool(x, strides, zeros, zeros, size, True, "floor", pad).output(0)
    return Tensor(out, True)


def _global(b: Builder, spec: LayerSpec, xs: list[Tensor], mode: str) -> Tensor:
    _channels_last(spec)
    keep = bool(spec.config.get("keepdims", False))
    reduce = b.op.reduce_mean if mode == "mean" else b.op.reduce_max
    out = reduce(b.first(xs[0], spec), b.const([2, 3], np.int64), keep).output(0)
    return Tensor(out, keep)


def _merge(b: Builder, spec: LayerSpec, xs: list[Tensor], mode: str) -> Tensor:
    first = all(t.rank == 4 for t in xs) and any(t.first for t in xs)
    outs = [b.first(t, spec) if first else b.last(t) for t in xs]
    if mode == "concat":
        axis = int(spec.config.get("axis", -1)) % xs[0].rank
        return Tensor(b.op.concat(outs, _FIRST_AXIS[axis] if first else axis).output(0), first)
    fn = {
        "add": b.op.add,
        "subtract": b.op.subtract,
        "multiply": b.op.multiply,
        "maximum": b.op.maximum,
        "minimum": b.op.minimum,
        "average": b.op.add,
    }[mode]
    out = outs[0]
    for other in outs[1:]:
        out = fn(out, other).output(0)
    if mode == "average":
        out = b.op.multiply(out, b.const(1.0 / len(outs))).output(0)
    return Tensor(out, first)


def flatten(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    _channels_last(spec)
    return Tensor(b.op.reshape(b.last(xs[0]), b.const([0, -1], np.int64), True).output(0))


def reshape(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    target = [int(d) for d in spec.config["target_shape"]]
    return Tensor(b.op.reshape(b.last(xs[0]), b.const([0, *target], np.int64), True).output(0))


def rescaling(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    t = xs[0]
    x = b.op.multiply(t.out, b.per_channel(t, spec.config.get("scale", 1.0))).output(0)
    return b.same(t, b.op.add(x, b.per_channel(t, spec.config.get("offset", 0.0))))


def channel_normalization(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    """fer-edge's own ``ChannelNormalization``: optional RGB->BGR, then ``(x - mean) / std``."""
    t, cfg = xs[0], spec.config
    x = t.out
    if cfg.get("reverse_channels"):
        n = len(cfg["mean"])
        x = b.op.gather(x, b.const(list(range(n - 1, -1, -1)), np.int64), b.const(b.axis(t, -1), np.int64)).output(0)
    x = b.op.subtract(x, b.per_channel(t, cfg["mean"])).output(0)
    return b.same(t, b.op.multiply(x, b.per_channel(t, 1.0 / np.asarray(cfg["std"], np.float64))))


def zero_padding2d(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    _channels_last(spec)
    pad = spec.config.get("padding", 1)  # n, (rows, cols) or ((top, bottom), (left, right))
    if isinstance(pad, int):
        pad = [pad, pad]
    (top, bottom), (left, right) = (_pair(p) for p in pad)
    out = b.op.pad(
        b.first(xs[0], spec), b.const([0, 0, top, left], np.int64), b.const([0, 0, bottom, right], np.int64), "constant"
    ).output(0)
    return Tensor(out, True)


def relu_layer(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    cfg, t = spec.config, xs[0]
    if float(cfg.get("threshold") or 0.0) != 0.0:
        raise unsupported(spec, "threshold != 0")
    slope = float(cfg.get("negative_slope") or 0.0)
    out = b.op.relu(t.out) if slope == 0.0 else b.op.prelu(t.out, b.const([slope]))
    if cfg.get("max_value") is not None:
        out = b.op.minimum(out, b.const(float(cfg["max_value"])))
    return b.same(t, out)


def leaky_relu(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    slope = spec.config.get("negative_slope", spec.config.get("alpha", 0.3))
    return b.same(xs[0], b.op.prelu(xs[0].out, b.const([float(slope)])))


def softmax(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    axis = spec.config.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    return b.same(xs[0], b.op.softmax(xs[0].out, b.axis(xs[0], int(axis))))


def identity(b: Builder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    return xs[0]


Converter = Callable[..., Tensor]  # (builder, layer spec, input tensors) -> output tensor

CONVERTERS: dict[str, Converter] = {
    "Conv2D": conv2d,
    "DepthwiseConv2D": depthwise_conv2d,
    "SeparableConv2D": separable_conv2d,
    "Dense": dense,
    "BatchNormalization": batch_norm,
    "MaxPooling2D": lambda b, s, xs: _pool(b, s, xs, "max"),
    "AveragePooling2D": lambda b, s, xs: _pool(b, s, xs, "avg"),
    "GlobalAveragePooling2D": lambda b, s, xs: _global(b, s, xs, "mean"),
    "GlobalMaxPooling2D": lambda b, s, xs: _global(b, s, xs, "max"),
    "Add": lambda b, s, xs: _merge(b, s, xs, "add"),
    "Subtract": lambda b, s, xs: _merge(b, s, xs, "subtract"),
    "Multiply": lambda b, s, xs: _merge(b, s, xs, "multiply"),
    "Average": lambda b, s, xs: _merge(b, s, xs, "average"),
    "Maximum": lambda b, s, xs: _merge(b, s, xs, "maximum"),
    "Minimum": lambda b, s, xs: _merge(b, s, xs, "minimum"),
    "Concatenate": lambda b, s, xs: _merge(b, s, xs, "concat"),
    "Flatten": flatten,
    "Reshape": reshape,
    "Rescaling": rescaling,
    "ChannelNormalization": channel_normalization,
    "ZeroPadding2D": zero_padding2d,
    "Activation": lambda b, s, xs: b.activation(xs[0], s.config.get("activation"), s),
    "ReLU": relu_layer,
    "LeakyReLU": leaky_relu,
    "Softmax": softmax,
    "ELU": lambda b, s, xs: b.same(xs[0], b.op.elu(xs[0].out, float(s.config.get("alpha", 1.0)))),
    # Inference-time identities.
    **{
        name: identity
        for name in (
            "Dropout",
            "SpatialDropout2D",
            "GaussianNoise",
            "GaussianDropout",
            "AlphaDropout",
            "ActivityRegularization",
        )
    },
}
