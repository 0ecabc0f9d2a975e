"""VGGFace (VGG16 and ResNet50) in Keras 3 with keras-vggface's layer names, and its loader.

The keras-vggface package no longer imports on Keras 3, but its weight files
(``rcmalli_vggface_tf_vgg16.h5``, ``rcmalli_vggface_tf_notop_resnet50.h5``...) are plain
Keras-2 HDF5 weight files: root attribute ``layer_names``, one group per layer with an
attribute ``weight_names`` and one dataset per weight. :func:`load_vggface_weights` reads
that layout with h5py and assigns weights by layer name.

Names follow keras-vggface's ``models.py``: VGG16 ``conv1_1 ... conv5_3``, ``pool1..5``,
``fc6``/``fc7``/``fc8``; ResNet50 ``conv1/7x7_s2`` (+ ``/bn``), ``conv{stage}_{block}_1x1_reduce``,
``_3x3``, ``_1x1_increase``, ``_1x1_proj`` (each + ``/bn``), ``classifier``. Keras 3 forbids
``/`` in layer names, so a ``/`` becomes ``_`` (``conv1/7x7_s2/bn`` -> ``conv1_7x7_s2_bn``);
the loader applies the same rule to the file's names.

Inputs are RGB in ``[0, 255]``; keras-vggface's ``preprocess_input`` (RGB->BGR, mean
subtraction: version 1 for VGG16, version 2 for ResNet50) is the model's first layer.
At 160x160 the ``flatten`` features are 12800 (VGG16, 5x5x512) and 2048 (ResNet50, after
``avg_pool``); at 224x224, 25088 and 2048.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fer_edge.core.errors import FerEdgeError, closest
from fer_edge.models.registry import register_model
from fer_edge.models.spatial import DEFAULT_INPUT_SHAPE, _normalization, check_weights_path, classifier_head

# keras_vggface.utils.preprocess_input means (BGR order, after the channel reversal).
VGG16_MEAN = (93.5940, 104.7624, 129.1863)
RESNET50_MEAN = (91.4953, 103.8827, 131.0912)


_VGG_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
_RESNET_STAGES = ((2, (64, 64, 256), 3), (3, (128, 128, 512), 4), (4, (256, 256, 1024), 6), (5, (512, 512, 2048), 3))


def keras_layer_name(original: str) -> str:
    """keras-vggface layer name -> the Keras 3 name used here (``/`` is not allowed).

    Example:
        >>> keras_layer_name("conv1/7x7_s2/bn")
        'conv1_7x7_s2_bn'
    """
    return original.replace("/", "_")


def vggface_weight_layers(arch: str, *, include_top: bool = False) -> list[str]:
    """Original (keras-vggface) names of the layers with weights, in model order.

    Example:
        >>> vggface_weight_layers("vgg16")[:3]
        ['conv1_1', 'conv1_2', 'conv2_1']
    """
    if arch == "vgg16":
        names = [f"conv{b}_{i}" for b, (_, n) in enumerate(_VGG_BLOCKS, start=1) for i in range(1, n + 1)]
        return names + (["fc6", "fc7", "fc8"] if include_top else [])
    if arch == "resnet50":
        names = ["conv1/7x7_s2", "conv1/7x7_s2/bn"]
        for stage, _, blocks in _RESNET_STAGES:
            for block in range(1, blocks + 1):
                convs = ["1x1_reduce", "3x3", "1x1_increase"] + (["1x1_proj"] if block == 1 else [])
                for conv in convs:
                    names += [f"conv{stage}_{block}_{conv}", f"conv{stage}_{block}_{conv}/bn"]
        return names + (["classifier"] if include_top else [])
    raise ValueError(f"arch must be 'vgg16' or 'resnet50', got {arch!r}")


def _vgg16_base(x):
    import keras

    for b, (filters, convs) in enumerate(_VGG_BLOCKS, start=1):
        for i in range(1, convs + 1):
            x = keras.layers.Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"conv{b}_{i}")(x)
        x = keras.layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"pool{b}")(x)
    return x


def _resnet_block(x, filters, stage: int, block: int, strides=(2, 2)):
    """keras-vggface's resnet_conv_block (block 1, with projection) / resnet_identity_block."""
    import keras

    f1, f2, f3 = filters
    prefix = f"conv{stage}_{block}"
    first = block == 1
    y = keras.layers.Conv2D(
        f1, (1, 1), strides=strides if first else (1, 1), use_bias=False, name=f"{prefix}_1x1_reduce"
    )(x)
    y = keras.layers.BatchNormalization(axis=3, name=f"{prefix}_1x1_reduce_bn")(y)
    y = keras.layers.Activation("relu", name=f"{prefix}_1x1_reduce_relu")(y)
    y = keras.layers.Conv2D(f2, (3, 3), padding="same", use_bias=False, name=f"{prefix}_3x3")(y)
    y = keras.layers.BatchNormalization(axis=3, name=f"{prefix}_3x3_bn")(y)
    y = keras.layers.Activation("relu", name=f"{prefix}_3x3_relu")(y)
    y = keras.layers.Conv2D(f3, (1, 1), use_bias=False, name=f"{prefix}_1x1_increase")(y)
    y = keras.layers.BatchNormalization(axis=3, name=f"{prefix}_1x1_increase_bn")(y)
    shortcut = x
    if first:
        shortcut = keras.layers.Conv2D(f3, (1, 1), strides=strides, use_bias=False, name=f"{prefix}_1x1_proj")(x)
        shortcut = keras.layers.BatchNormalization(axis=3, name=f"{prefix}_1x1_proj_bn")(shortcut)
    y = keras.layers.Add(name=f"{prefix}_add")([y, shortcut])
    return keras.layers.Activation("relu", name=f"{prefix}_relu")(y)


def _resnet50_base(x):
    import keras

    x = keras.layers.Conv2D(64, (7, 7), strides=(2, 2), padding="same", use_bias=False, name="conv1_7x7_s2")(x)
    x = keras.layers.BatchNormalization(axis=3, name="conv1_7x7_s2_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.MaxPooling2D((3, 3), strides=(2, 2), name="pool1")(x)
    for stage, filters, blocks in _RESNET_STAGES:
        for block in range(1, blocks + 1):
            x = _resnet_block(x, filters, stage, block, strides=(1, 1) if stage == 2 else (2, 2))
    # keras-vggface pools 7x7 (the whole map at 224); a smaller input has a smaller map,
    # so pool over whatever is there: identical at 224, still defined at 160 (5x5).
    pool = min(7, x.shape[1]), min(7, x.shape[2])
    return keras.layers.AveragePooling2D(pool, name="avg_pool")(x)


def _vggface(arch, *, input_shape, num_classes, dense_units, dropout, weights, include_top):
    import keras

    weights = check_weights_path(weights, allowed=())
    inputs = keras.Input(tuple(input_shape), name="image")
    mean = VGG16_MEAN if arch == "vgg16" else RESNET50_MEAN
    x = _normalization(mean, (1.0, 1.0, 1.0), True)(inputs)
    x = (_vgg16_base if arch == "vgg16" else _resnet50_base)(x)
    if include_top:
        model = _original_top(arch, inputs, x, input_shape)
    else:
        model = classifier_head(
            inputs, x, num_classes=num_classes, dense_units=dense_units, dropout=dropout, name=f"vggface_{arch}"
        )
    if weights is not None:
        load_vggface_weights(model, weights)
    return model


def _original_top(arch, inputs, x, input_shape):
    """keras-vggface's own face-identity classifier (2622 / 8631 identities), 224x224 only."""
    import keras

    if tuple(input_shape[:2]) != (224, 224):
        raise FerEdgeError(
            f"include_top=True is keras-vggface's 224x224 identity classifier; got input_shape={tuple(input_shape)}: "
            "use include_top=False for other sizes"
        )
    x = keras.layers.Flatten(name="flatten")(x)
    if arch == "vgg16":
        x = keras.layers.Dense(4096, activation="relu", name="fc6")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc7")(x)
        x = keras.layers.Dense(2622, activation="softmax", name="fc8")(x)
    else:
        x = keras.layers.Dense(8631, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, x, name=f"vggface_{arch}")


@register_model("vggface_vgg16", role="spatial")
def vggface_vgg16(
    input_shape=DEFAULT_INPUT_SHAPE, num_classes=7, dense_units=(1024,), dropout=0.5, weights=None, include_top=False
):
    """VGGFace VGG16 (keras-vggface names) + classifier head; ``weights``: a keras-vggface .h5, or None/"random"."""
    # locals() is exactly the factory's parameters here: it is the first statement.
    return _vggface("vgg16", **locals())


@register_model("vggface_resnet50", role="spatial")
def vggface_resnet50(
    input_shape=DEFAULT_INPUT_SHAPE, num_classes=7, dense_units=(1024,), dropout=0.5, weights=None, include_top=False
):
    """VGGFace ResNet50 (keras-vggface names) + classifier head; ``weights``: a keras-vggface .h5, or None/"random"."""
    return _vggface("resnet50", **locals())


@dataclass
class WeightLoadReport:
    """What :func:`load_vggface_weights` did: layers assigned and file layers left unused."""

    path: str
    assigned: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


def load_vggface_weights(model, h5_path: str | os.PathLike[str]) -> WeightLoadReport:
    """Assign keras-vggface ``.h5`` weights to ``model``'s VGGFace layers, by layer name.

    Every VGGFace layer of the model (names from :func:`vggface_weight_layers`) must be in
    the file with the same weight shapes; new layers (``dense``, ``predictions``) keep their
    initialisation, and file layers the model lacks (``fc6``... of a with-top file) are
    listed in ``unused``. Nothing is assigned unless everything matches; otherwise one
    :class:`FerEdgeError` names the first mismatching layer.

    Example:
        >>> model = create_model("vggface_vgg16", input_shape=(224, 224, 3))  # doctest: +SKIP
        >>> load_vggface_weights(model, "rcmalli_vggface_tf_notop_vgg16.h5").assigned[:2]  # doctest: +SKIP
        ['conv1_1', 'conv1_2']
    """
    path = Path(h5_path)
    file_layers = _read_keras2_weights(path)
    by_keras_name = {keras_layer_name(name): name for name in file_layers}
    known = {
        keras_layer_name(n) for arch in ("vgg16", "resnet50") for n in vggface_weight_layers(arch, include_top=True)
    }
    targets = [layer for layer in _weighted_layers(model) if layer.name in known]
    if not targets:
        raise FerEdgeError(
            f"model '{model.name}' has no VGGFace layers to load {path} into; "
            "build it with create_model('vggface_vgg16') or create_model('vggface_resnet50')"
        )
    plan = []
    for layer in targets:
        original = by_keras_name.get(layer.name)
        if original is None:
            close = closest(layer.name, by_keras_name)
            hint = f" (closest: '{by_keras_name[close]}')" if close else ""
            raise FerEdgeError(
                f"weights file {path} has no layer '{layer.name}'{hint}: it is not a keras-vggface file for "
                f"'{model.name}' (notop files lack fc6/fc7/fc8/classifier: build with include_top=False)"
            )
        plan.append((layer, original, _match_weights(layer, original, file_layers[original], path)))
    for layer, _, values in plan:
        layer.set_weights(values)
    used = {original for _, original, _ in plan}
    return WeightLoadReport(str(path), [layer.name for layer, _, _ in plan], [n for n in file_layers if n not in used])


def _weighted_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:  # a nested model
            yield from _weighted_layers(layer)
        elif layer.weights:
            yield layer


def _match_weights(layer, original: str, stored: list[tuple[str, object]], path: Path) -> list:
    """Order the file's arrays like ``layer.weights`` (by weight name, else by position)."""
    expected = [(w.name, tuple(w.shape)) for w in layer.weights]
    if len(stored) != len(expected):
        raise FerEdgeError(
            f"layer '{original}' in {path} has {len(stored)} weights but the model's '{layer.name}' has "
            f"{len(expected)} ({', '.join(n for n, _ in expected)}): the file is for a different architecture"
        )
    by_short = {name.split("/")[-1].split(":")[0]: array for name, array in stored}
    ordered = [by_short[n] for n, _ in expected] if all(n in by_short for n, _ in expected) else [a for _, a in stored]
    for (name, shape), array in zip(expected, ordered):
        if tuple(array.shape) != shape:
            raise FerEdgeError(
                f"layer '{original}' in {path}: weight '{name}' has shape {tuple(array.shape)} but the model expects "
                f"{shape}: build the model with the input size and head the file was made for (224x224 for fc6)"
            )
    return ordered


def _read_keras2_weights(path: Path) -> dict[str, list[tuple[str, object]]]:
    """Read a Keras-2 HDF5 weight file: {layer name: [(weight name, array), ...]}."""
    import h5py
    import numpy as np

    if not path.is_file():
        raise FerEdgeError(
            f"VGGFace weights file {path} does not exist; download the keras-vggface .h5 and pass its path"
        )
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            names = _attr_list(root, "layer_names")
            if names is None:
                raise FerEdgeError(
                    f"{path} is not a Keras-2 HDF5 weight file (no 'layer_names' attribute); pass the keras-vggface .h5"
                )
            layers = {}
            for name in names:
                if name not in root:
                    raise FerEdgeError(
                        f"{path} lists layer '{name}' but has no group for it: the file is truncated or corrupt"
                    )
                group = root[name]
                weight_names = _attr_list(group, "weight_names") or []
                if weight_names:
                    layers[name] = [(w, np.asarray(group[w])) for w in weight_names]
            return layers
    except OSError as exc:
        raise FerEdgeError(f"cannot read {path} as HDF5 ({exc}); the download may be incomplete") from None
    except KeyError as exc:
        raise FerEdgeError(f"{path} is missing a weight dataset ({exc}); the file is truncated or corrupt") from None


def _attr_list(group, key: str) -> list[str] | None:
    """An attribute list; Keras 2 splits long ones into ``key0``, ``key1``..."""
    if key in group.attrs:
        values = list(group.attrs[key])
    elif f"{key}0" in group.attrs:
        values, i = [], 0
        while f"{key}{i}" in group.attrs:
            values.extend(group.attrs[f"{key}{i}"])
            i += 1
    else:
        return None
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]
