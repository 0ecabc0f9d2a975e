"""Spatial (per-frame) models: ImageNet backbones, the shared classifier head, tiny models.

Every spatial model takes RGB float pixels in ``[0, 255]`` of shape ``(H, W, 3)``; the
backbone's own normalisation (caffe BGR mean, torch mean/std) is a
:class:`~fer_edge.models.layers.ChannelNormalization` layer inside the model, so the
runtime and the bundle never have to re-derive it (bundle ``frame.mean = 0, std = 1``).

Layout after the convolutional base, as in the thesis' figure 3.13::

    base -> Flatten "flatten" -> [Dense "dense" (1024, relu) -> Dropout]* -> Dense "predictions"

Features for the temporal heads come from ``flatten`` (25088 for VGG-style bases at
224x224; 12800 at the default 160x160) or from the 1024-unit ``dense`` layer; see
:func:`feature_extractor`. ``num_classes=None`` builds the base and ``flatten`` only.
Flattened feature sizes at 160x160: VGG16 12800 (5x5x512), ResNet50 51200 (5x5x2048),
DenseNet201 48000 (5x5x1920).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from fer_edge.core.errors import FerEdgeError, closest
from fer_edge.models.registry import register_model

DEFAULT_INPUT_SHAPE = (160, 160, 3)

# keras-vggface's release files, which fer_edge.models.vggface loads (the with-top variants,
# ``rcmalli_vggface_tf_vgg16.h5`` / ``_resnet50.h5``, load too: their fc/classifier layers are
# reported unused).
WEIGHTS_FILES = {
    "vggface_vgg16": "rcmalli_vggface_tf_notop_vgg16.h5",
    "vggface_resnet50": "rcmalli_vggface_tf_notop_resnet50.h5",
}
WEIGHTS_SOURCE = "https://github.com/rcmalli/keras-vggface/releases (v2.0)"

# name -> (keras.applications class, mean, std, RGB->BGR), mean/std on the 0..255 scale
# and in the channel order after the reversal; these are Keras' own preprocess_input.
_CAFFE = ((103.939, 116.779, 123.68), (1.0, 1.0, 1.0), True)
_TORCH = ((0.485 * 255, 0.456 * 255, 0.406 * 255), (0.229 * 255, 0.224 * 255, 0.225 * 255), False)
_APPLICATIONS = {
    "vgg16": ("VGG16", *_CAFFE),
    "resnet50": ("ResNet50", *_CAFFE),
    "densenet201": ("DenseNet201", *_TORCH),
}


def classifier_head(
    inputs,
    base_output,
    *,
    num_classes: int | None,
    dense_units: Sequence[int] = (1024,),
    dropout: float = 0.5,
    name: str,
):
    """Flatten the base output and add the fine-tuning classifier; returns a ``keras.Model``.

    Layer names are fixed so that :func:`feature_extractor` and fine-tuning code can find
    them: ``flatten``, ``dense``/``dense_1``..., ``dropout``/``dropout_1``..., ``predictions``.

    Args:
        inputs: the model's input tensor.
        base_output: the last feature map (or vector) of the base.
        num_classes: classes of the softmax; ``None`` stops at ``flatten``.
        dense_units: hidden dense layers (the thesis searched 1-2 of 256/512/1024).
        dropout: drop rate after each hidden dense layer (thesis range 0.2-0.9).
        name: model name.

    Example:
        >>> model = classifier_head(inputs, x, num_classes=7, name="my_base")  # doctest: +SKIP
    """
    import keras

    _check_rate("dropout", dropout)
    x = keras.layers.Flatten(name="flatten")(base_output)
    if num_classes is not None:
        if num_classes < 2:
            raise FerEdgeError(f"num_classes must be >= 2, got {num_classes}")
        for i, units in enumerate(dense_units):
            suffix = f"_{i}" if i else ""
            x = keras.layers.Dense(int(units), activation="relu", name=f"dense{suffix}")(x)
            x = keras.layers.Dropout(dropout, name=f"dropout{suffix}")(x)
        x = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=name)


def feature_extractor(model, layer: str = "flatten"):
    """A model sharing ``model``'s weights that outputs ``layer`` (e.g. ``flatten``, ``dense``).

    Example:
        >>> extractor = feature_extractor(create_model("vggface_vgg16"), "flatten")  # doctest: +SKIP
        >>> extractor.output_shape  # doctest: +SKIP
        (None, 12800)
    """
    import keras

    names = [lyr.name for lyr in model.layers]
    if layer not in names:
        close = closest(layer, names)
        hint = f"; did you mean '{close}'?" if close else ";"
        raise FerEdgeError(
            f"model '{model.name}' has no layer '{layer}'{hint} feature layers are usually 'flatten' or 'dense'"
        )
    return keras.Model(model.inputs, model.get_layer(layer).output, name=f"{model.name}_{layer}")


def _check_rate(what: str, rate: float) -> None:
    if not 0.0 <= rate < 1.0:
        raise FerEdgeError(f"{what} must be in [0, 1), got {rate}")


# Keras' own cache names of the no-top ImageNet files (keras.applications downloads them there).
IMAGENET_FILES = {
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "densenet201": "densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5",
}


def keras_cache_file(name: str) -> Path:
    """Where keras.applications looks for ``name`` (``$KERAS_HOME`` or ``~/.keras``, ``models/``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / name


def require_imagenet_cache(key: str) -> None:
    """Refuse ``weights: imagenet`` when Keras' cache lacks ``key``'s no-top file (naming it and how to get it)."""
    # No network at run time: "imagenet" must already be in Keras' cache, else one line saying how.
    path = keras_cache_file(IMAGENET_FILES[key])
    if not path.is_file():
        raise FerEdgeError(
            f"weights 'imagenet' for {key} need {path} (Keras' cache; fer-edge never downloads at run time): "
            f'fetch it once online with python -c "import keras; keras.applications.{_APPLICATIONS[key][0]}'
            f"(include_top=False)\", or pass a weights file, or 'random' to train from scratch"
        )


def check_weights_path(weights: str | os.PathLike[str] | None, *, allowed: Sequence[str]) -> str | None:
    """Validate a ``weights`` argument: ``None``/``"random"`` (random init), an ``allowed`` name, or a file."""
    if weights is None or weights == "random":
        return None
    if isinstance(weights, str) and weights in allowed:
        return weights
    path = Path(weights)
    if not path.is_file():
        raise FerEdgeError(
            f"weights file {path} does not exist; pass an existing file, 'random' (random init)"
            + (f" or one of: {', '.join(allowed)}" if allowed else "")
        )
    return str(path)


def _application(
    key: str,
    *,
    input_shape: Sequence[int],
    num_classes: int | None,
    dense_units: Sequence[int],
    dropout: float,
    weights: str | os.PathLike[str] | None,
):
    import keras

    cls_name, mean, std, reverse = _APPLICATIONS[key]
    # "imagenet" downloads (or reads Keras' cache); only ever when the user asks for it.
    weights = check_weights_path(weights, allowed=("imagenet",))
    if weights == "imagenet":
        require_imagenet_cache(key)
    inputs = keras.Input(tuple(input_shape), name="image")
    x = _normalization(mean, std, reverse)(inputs)
    # input_tensor keeps the base's layers in this graph (not a nested model), so
    # fine-tuning can unfreeze "block5_conv1" etc. by name.
    base = getattr(keras.applications, cls_name)(include_top=False, weights=weights, input_tensor=x)
    return classifier_head(
        inputs, base.output, num_classes=num_classes, dense_units=dense_units, dropout=dropout, name=key
    )


def _normalization(mean, std, reverse):
    from fer_edge.models.layers import ChannelNormalization

    return ChannelNormalization(mean=mean, std=std, reverse_channels=reverse, name="normalization")


@register_model("vgg16", role="spatial")
def vgg16(input_shape=DEFAULT_INPUT_SHAPE, num_classes=7, dense_units=(1024,), dropout=0.5, weights=None):
    """VGG16 (keras.applications) + classifier head; ``weights`` None/"random", "imagenet" or a file."""
    # locals() is exactly the factory's parameters here: it is the first statement.
    return _application("vgg16", **locals())


@register_model("resnet50", role="spatial")
def resnet50(input_shape=DEFAULT_INPUT_SHAPE, num_classes=7, dense_units=(1024,), dropout=0.5, weights=None):
    """ResNet50 (keras.applications) + classifier head; ``weights`` None/"random", "imagenet" or a file."""
    return _application("resnet50", **locals())


@register_model("densenet201", role="spatial")
def densenet201(input_shape=DEFAULT_INPUT_SHAPE, num_classes=7, dense_units=(1024,), dropout=0.5, weights=None):
    """DenseNet201 (keras.applications) + classifier head; ``weights`` None/"random", "imagenet" or a file."""
    return _application("densenet201", **locals())


@register_model("test_spatial", role="spatial")
def test_spatial(input_shape=(32, 32, 3), num_classes=6, dense_units=(32,), dropout=0.2, seed=0):
    """Tiny VGG-style extractor for tests: 32x32x3 -> 256 ``flatten`` features (4x4x16)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(tuple(input_shape), name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="normalization")(inputs)
    for i, filters in enumerate((8, 16, 16), start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{i}_conv1")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    return classifier_head(
        inputs, x, num_classes=num_classes, dense_units=dense_units, dropout=dropout, name="test_spatial"
    )


@register_model("test_frame", role="frame")
def test_frame(input_shape=(32, 32, 3), num_classes=6, seed=0):
    """Tiny per-frame classifier for tests: 32x32x3 RGB -> ``num_classes`` softmax."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(tuple(input_shape), name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="normalization")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name="test_frame")


def flatten_features(model: str, size: int) -> int | None:
    """Size of the ``flatten`` layer of registry spatial model ``model`` at ``size x size`` (None: unknown).

    Example (section 3.2.4: "7x7x512 which results in 25088 features"):
        >>> flatten_features("vggface_vgg16", 224), flatten_features("vggface_vgg16", 160)
        (25088, 12800)
    """
    per_map = {"vgg16": 512, "vggface_vgg16": 512, "resnet50": 2048, "densenet201": 1920}
    if model in per_map:
        return (size // 32) ** 2 * per_map[model]
    if model == "vggface_resnet50":
        return 2048  # avg_pool over the whole last map
    if model == "test_spatial":
        return (size // 8) ** 2 * 16
    return None


def require_weights_choice(model: str, options: dict, *, key: str = "spatial.options.weights") -> None:
    """A pretrained backbone must say where its weights come from: a file, "imagenet" or "random".

    Starting VGGFace from random weights would silently undo the thesis' point (section 3.2.4:
    VGGFace, "pre-trained with faces", reached 69 % on FER2013 against VGG16's 65 %).

    Raises:
        FerEdgeError: ``options`` has no ``weights`` for a backbone that has pretrained weights.
    """
    if options.get("weights") is not None:
        return
    if model in WEIGHTS_FILES:
        raise FerEdgeError(
            f"{key} is not set: {model} starts from the keras-vggface face weights ({WEIGHTS_FILES[model]}, "
            f"from {WEIGHTS_SOURCE}, loaded by layer name); pass --set {key}=PATH, "
            f"or {key}=random to train from scratch"
        )
    if model in _APPLICATIONS:
        raise FerEdgeError(
            f"{key} is not set: pass --set {key}=imagenet (needs {keras_cache_file(IMAGENET_FILES[model])} "
            f"in Keras' cache), a weights file, or {key}=random to train {model} from scratch"
        )
