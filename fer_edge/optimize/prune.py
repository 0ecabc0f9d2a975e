"""Structured channel pruning of Keras CNNs: fewer filters, a narrower model, a real CPU speed-up.

Unstructured sparsity (zeros inside dense tensors) gives no speed-up on a CPU, and NNCF 3.x
prunes only PyTorch; so this rebuilds the model with fewer filters:

1. rank the filters of each prunable ``Conv2D`` by the L1 norm of their kernels;
2. keep the ``1 - ratio`` strongest, rebuild the model from its config with those widths;
3. copy the surviving weights, slicing every consumer (BatchNormalization, depthwise and
   separable convolutions, the next convolution, ``Dense`` after global pooling or ``Flatten``);
4. fine-tune against the unpruned model (soft targets for classifiers, features for extractors).

A convolution is prunable when everything between it and the next weighted layer keeps
channels one-to-one (BN, activations, pooling, dropout, padding, depthwise convs). Outputs that
reach an ``Add``/``Concatenate`` (residual branches must stay aligned) or the model's output
(the feature size is the contract with the temporal head) keep all their channels.

Example:
    >>> pruned, kept = prune_model(model, 0.5)  # doctest: +SKIP
    >>> kept["block1_conv1"].size  # doctest: +SKIP
    4
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fer_edge.core.errors import FerEdgeError

log = logging.getLogger(__name__)

# Layers whose output channel c depends only on input channel c.
_PASS = {
    "BatchNormalization",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "PReLU",
    "MaxPooling2D",
    "AveragePooling2D",
    "Dropout",
    "SpatialDropout2D",
    "ZeroPadding2D",
    "Cropping2D",
    "DepthwiseConv2D",
    "GaussianNoise",
}
# Layers that take any number of input channels (their weights are sliced on the input side).
_SINKS = {"Conv2D", "SeparableConv2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "Dense"}


@dataclass
class PruneResult:
    """Pruned Keras models per role and what was removed."""

    models: dict[str, Any]
    params_before: int = 0
    params_after: int = 0
    layers: dict[str, str] = field(default_factory=dict)
    fine_tune_loss: list[float] = field(default_factory=list)

    def describe(self) -> str:
        return f"params {self.params_before:,} -> {self.params_after:,}, {len(self.layers)} conv layers narrowed"


def check_ratio(ratio: float) -> float:
    """Pruning ratios are fractions of channels removed, in (0, 0.9]."""
    if not isinstance(ratio, (int, float)) or not 0.0 < float(ratio) <= 0.9:
        raise FerEdgeError(f"--prune must be in (0, 0.9] (the fraction of channels removed), got {ratio}")
    return float(ratio)


def _graph(model: Any) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {lyr.name: [] for lyr in model.layers}
    for layer in model.layers:
        node = layer._inbound_nodes[0] if layer._inbound_nodes else None
        ins = [t._keras_history.operation.name for t in node.input_tensors] if node else []
        parents[layer.name] = ins
        for p in ins:
            children.setdefault(p, []).append(layer.name)
    return parents, children


def _prunable(model: Any, name: str, children: dict[str, list[str]], outputs: set[str]) -> bool:
    """True when every path from ``name`` reaches a channel-slicing consumer through pass layers."""
    stack = [name]
    while stack:
        cur = stack.pop()
        if cur in outputs:
            return False
        for child in children.get(cur, []):
            cls = type(model.get_layer(child)).__name__
            if cls == "Flatten":
                # Flatten -> Dense is sliceable; Flatten as the output (features) is not.
                if child in outputs or any(type(model.get_layer(c)).__name__ != "Dense" for c in children[child]):
                    return False
            elif cls == "DepthwiseConv2D" and model.get_layer(child).depth_multiplier != 1:
                return False
            elif cls in _PASS:
                stack.append(child)
            elif cls not in _SINKS:
                return False
    return True


def prune_model(model: Any, ratio: float) -> tuple[Any, dict[str, np.ndarray]]:
    """A narrower copy of ``model`` with the L1-strongest ``1 - ratio`` filters of each prunable conv.

    Returns:
        ``(pruned_model, {conv layer: kept filter indices})`` (not yet fine-tuned).

    Raises:
        FerEdgeError: bad ratio, or no convolution that can be pruned.
    """

    import fer_edge.models.layers  # noqa: F401 - custom layers for from_config

    ratio = check_ratio(ratio)
    parents, children = _graph(model)
    outputs = {t._keras_history.operation.name for t in model.outputs}
    keep: dict[str, np.ndarray] = {}
    for layer in model.layers:
        if type(layer).__name__ == "Conv2D" and layer.groups == 1 and _prunable(model, layer.name, children, outputs):
            kernel = layer.get_weights()[0]
            n = kernel.shape[-1]
            k = max(1, int(math.ceil(n * (1.0 - ratio))))
            if k < n:
                norms = np.abs(kernel).reshape(-1, n).sum(0)
                keep[layer.name] = np.sort(np.argsort(-norms, kind="stable")[:k])
    if not keep:
        raise FerEdgeError(
            f"model '{model.name}' has no convolution that can be pruned (outputs feeding Add, "
            "Concatenate or the model output must keep their channels); try --distill instead"
        )
    config = model.get_config()
    for item in config["layers"]:
        # Saved build shapes hold the old channel counts; the functional rebuild infers new ones.
        item.pop("build_config", None)
        if item["name"] in keep:
            item["config"]["filters"] = int(keep[item["name"]].size)
    pruned = model.__class__.from_config(config)
    # The kept channels of each layer's output; None = all.
    out_keep: dict[str, np.ndarray | None] = {}
    for layer in model.layers:
        name, cls = layer.name, type(layer).__name__
        ins = parents[name]
        in_keep = out_keep.get(ins[0]) if len(ins) == 1 else None
        weights = layer.get_weights()
        new = pruned.get_layer(name)
        if cls == "Conv2D":
            k = keep.get(name)
            w = [weights[0][:, :, in_keep] if in_keep is not None else weights[0], *weights[1:]]
            if k is not None:
                w = [w[0][..., k], *[b[k] for b in w[1:]]]
            new.set_weights(w)
            out_keep[name] = k
            continue
        if in_keep is not None and weights:
            if cls == "BatchNormalization":
                weights = [v[in_keep] for v in weights]
            elif cls == "DepthwiseConv2D":
                weights = [weights[0][:, :, in_keep], *[b[in_keep] for b in weights[1:]]]
            elif cls == "SeparableConv2D":
                weights = [weights[0][:, :, in_keep], weights[1][:, :, in_keep], *weights[2:]]
            elif cls == "Dense":
                src = model.get_layer(ins[0])
                if type(src).__name__ == "Flatten":
                    c = int(src.input.shape[-1])
                    positions = int(np.prod(src.input.shape[1:-1]))
                    rows = (np.arange(positions)[:, None] * c + in_keep[None, :]).ravel()
                else:
                    rows = in_keep
                weights = [weights[0][rows], *weights[1:]]
        new.set_weights(weights)
        passes = cls in _PASS or cls in ("GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten")
        out_keep[name] = in_keep if passes else None
    log.info(
        "pruned %s: %d conv layers, params %d -> %d", model.name, len(keep), model.count_params(), pruned.count_params()
    )
    return pruned, keep


def prune_bundle(
    bundle: Any,
    data: Any,
    ratio: float,
    *,
    epochs: int = 3,
    seed: int = 0,
    models: dict[str, Any] | None = None,
    batch_size: int = 32,
) -> PruneResult:
    """Prune the bundle's image model (``frame``/``spatial``/``clip`` CNN) and fine-tune it.

    Fine-tuning learns from the unpruned model: its soft targets for classifiers (plus labels
    when the data has them), its features (MSE) for a cascade's feature extractor.

    Args:
        bundle: the loaded bundle (its ``.keras`` files).
        data: :class:`~fer_edge.optimize.calibration.CalibrationData` (model-ready frames).
        ratio: fraction of channels to remove, (0, 0.9].
        epochs: fine-tuning epochs.
        seed: training seed.
        models: already-changed Keras models per role (e.g. a distilled student) to prune instead.
        batch_size: fine-tuning batch size.
    """
    import keras

    from fer_edge.models import load_keras_model
    from fer_edge.optimize.distill import distillation_loss
    from fer_edge.runtime.kinds import kind_of

    ratio = check_ratio(ratio)
    role = kind_of(bundle).image_role
    entry = bundle.models[role]
    if role not in (models or {}) and not entry.keras:
        raise FerEdgeError(f"bundle {bundle.path} has no Keras file for its {role} model; pruning needs one")
    original = (models or {}).get(role) or load_keras_model(bundle.path / entry.keras)
    pruned, keep = prune_model(original, ratio)
    keras.utils.set_random_seed(seed)
    if role == "clip":
        from fer_edge.runtime.windows import pad_window

        x = np.stack([pad_window(c, bundle.window.length)[0] for c in data.clips])
    else:
        x = data.frames(4000, seed=seed)
    teacher = np.asarray(original.predict(x, batch_size=batch_size, verbose=0))
    if original.outputs[0].shape[-1] == len(bundle.labels) and role != "spatial":
        pruned.compile(optimizer=keras.optimizers.Adam(1e-3), loss=distillation_loss(temperature=2.0, alpha=1.0))
        target = np.concatenate([np.zeros_like(teacher), teacher], axis=-1)
    else:
        pruned.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        target = teacher
    hist = pruned.fit(x, target, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    layers = {n: f"{original.get_layer(n).filters} -> {k.size}" for n, k in keep.items()}
    # An uncompiled copy: the saved .keras must not refer to the fine-tuning loss function.
    clean = pruned.__class__.from_config(pruned.get_config())
    clean.set_weights(pruned.get_weights())
    return PruneResult(
        {role: clean}, original.count_params(), pruned.count_params(), layers, [float(v) for v in hist.history["loss"]]
    )
