"""Clip models on raw frames ``(T, H, W, 3)``: C3D (figure 3.22) and ConvLSTM (section 3.3.2).

Inputs are RGB in ``[0, 255]`` (scaled to ``[0, 1]`` inside the model); the output is a
``num_classes`` softmax named ``predictions``.

C3D follows figure 3.22 exactly at its defaults: Conv3D 16/16/32 (3x3x3, ``valid``, ReLU),
each followed by MaxPooling3D 2x2x2, Flatten (103,680 at 100x160x160), Dense 512, Dense
512, softmax: 53,372,502 parameters at 100x160x160x3 with 6 classes. ``padding="same"``
lets short clips (e.g. 8 frames) through.

ConvLSTM: two ConvLSTM2D layers of 8 filters (3x3, the Keras default ``valid`` padding;
the thesis doesn't state them), the first returning sequences, then Flatten and the
softmax; dropout before the softmax is configurable.

Clip models take no mask: the thesis fed zero-padded clips unmasked to both.
"""

from __future__ import annotations

from collections.abc import Sequence

from fer_edge.core.errors import FerEdgeError
from fer_edge.models.registry import register_model

DEFAULT_CLIP_SHAPE = (100, 160, 160, 3)


def _check_clip(input_shape: Sequence[int], num_classes: int, dropout: float) -> tuple[int, ...]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 4 or shape[-1] != 3:
        raise FerEdgeError(f"clip input_shape must be (frames, height, width, 3), got {shape}")
    if num_classes < 2:
        raise FerEdgeError(f"num_classes must be >= 2, got {num_classes}")
    if not 0.0 <= dropout < 1.0:
        raise FerEdgeError(f"dropout must be in [0, 1), got {dropout}")
    return shape


def c3d_model(
    *,
    input_shape: Sequence[int] = DEFAULT_CLIP_SHAPE,
    num_classes: int = 6,
    filters: Sequence[int] = (16, 16, 32),
    kernel_size: int = 3,
    dense_units: Sequence[int] = (512, 512),
    dropout: float = 0.0,
    padding: str = "valid",
    name: str = "c3d",
):
    """C3D: [Conv3D -> MaxPooling3D(2)] per filter count, Flatten, dense layers, softmax.

    Example:
        >>> model = c3d_model(input_shape=(8, 32, 32, 3), padding="same")  # doctest: +SKIP
    """
    import keras

    shape = _check_clip(input_shape, num_classes, dropout)
    if padding not in ("valid", "same"):
        raise FerEdgeError(f"padding must be 'valid' or 'same', got '{padding}'")
    dims = list(shape[:3])
    for _ in filters:
        dims = [(d - (kernel_size - 1 if padding == "valid" else 0)) // 2 for d in dims]
        if min(dims) < 1:
            raise FerEdgeError(
                f"c3d input {shape} is too small for {len(filters)} conv+pool stages with padding='{padding}'; "
                "use more frames/pixels, fewer filters or padding='same'"
            )
    inputs = keras.Input(shape, name="clip")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescaling")(inputs)
    for i, n in enumerate(filters):
        suffix = f"_{i}" if i else ""
        x = keras.layers.Conv3D(int(n), kernel_size, padding=padding, activation="relu", name=f"conv3d{suffix}")(x)
        x = keras.layers.MaxPooling3D(2, name=f"max_pooling3d{suffix}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(dense_units):
        suffix = f"_{i}" if i else ""
        x = keras.layers.Dense(int(units), activation="relu", name=f"dense{suffix}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout{suffix}")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def convlstm_model(
    *,
    input_shape: Sequence[int] = DEFAULT_CLIP_SHAPE,
    num_classes: int = 6,
    filters: Sequence[int] = (8, 8),
    kernel_size: int = 3,
    dropout: float = 0.0,
    name: str = "convlstm",
):
    """Stacked ConvLSTM2D (the last returns only its final state), Flatten, softmax.

    Example:
        >>> model = convlstm_model(input_shape=(8, 32, 32, 3))  # doctest: +SKIP
    """
    import keras

    shape = _check_clip(input_shape, num_classes, dropout)
    if not filters:
        raise FerEdgeError("convlstm needs at least one ConvLSTM2D layer (filters=(8, 8) in the thesis)")
    inputs = keras.Input(shape, name="clip")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescaling")(inputs)
    for i, n in enumerate(filters):
        last = i == len(filters) - 1
        suffix = f"_{i}" if i else ""
        x = keras.layers.ConvLSTM2D(int(n), kernel_size, return_sequences=not last, name=f"conv_lstm2d{suffix}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


@register_model("c3d", role="clip")
def c3d(
    input_shape=DEFAULT_CLIP_SHAPE,
    num_classes=6,
    filters=(16, 16, 32),
    kernel_size=3,
    dense_units=(512, 512),
    dropout=0.0,
    padding="valid",
):
    """C3D of figure 3.22: Conv3D 16/16/32 + max pooling, 2 x Dense 512, softmax."""
    # locals() is exactly the factory's parameters here: it is the first statement.
    return c3d_model(**locals())


@register_model("convlstm", role="clip")
def convlstm(input_shape=DEFAULT_CLIP_SHAPE, num_classes=6, filters=(8, 8), kernel_size=3, dropout=0.0):
    """ConvLSTM: 2 x ConvLSTM2D of 8 filters, Flatten, softmax."""
    return convlstm_model(**locals())


@register_model("test_clip", role="clip")
def test_clip(input_shape=(8, 32, 32, 3), num_classes=6, seed=0):
    """Tiny C3D for tests: 8x32x32x3 -> softmax."""
    import keras

    keras.utils.set_random_seed(seed)
    return c3d_model(
        input_shape=input_shape,
        num_classes=num_classes,
        filters=(4, 4, 8),
        dense_units=(16,),
        padding="same",
        name="test_clip",
    )
