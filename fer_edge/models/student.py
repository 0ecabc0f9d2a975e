"""A compact depthwise-separable spatial backbone, the student for distillation.

MobileNet-style: a strided 3x3 stem, then blocks of (depthwise 3x3 -> BN -> ReLU6 ->
pointwise 1x1 -> BN -> ReLU6), five stride-2 steps in all (160x160 -> 5x5), global
average pooling to ``flatten``. At ``width=1.0`` it has ~0.8 M parameters with a 7-class
head (the limit is 1 M), and ``flatten`` has 512 features. ``width`` scales every
channel count (rounded to a multiple of 8, at least 8).
"""

from __future__ import annotations

from fer_edge.core.errors import FerEdgeError
from fer_edge.models.registry import register_model
from fer_edge.models.spatial import DEFAULT_INPUT_SHAPE, classifier_head

# (pointwise filters, stride) per separable block after a 32-filter stride-2 stem.
_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 2))


def _scaled(channels: int, width: float) -> int:
    return max(8, int(round(channels * width / 8)) * 8)


@register_model("student", role="spatial")
def student(input_shape=DEFAULT_INPUT_SHAPE, num_classes=7, width=1.0, dense_units=(), dropout=0.2, seed=0):
    """Depthwise-separable student backbone (<= 1 M parameters at width 1.0) + head.

    Example:
        >>> model = create_model("student", width=0.5)  # doctest: +SKIP
        >>> model.count_params() < 1_000_000  # doctest: +SKIP
        True
    """
    import keras

    from fer_edge.models.layers import ChannelNormalization

    if not 0.0 < width <= 4.0:
        raise FerEdgeError(f"student width must be in (0, 4], got {width}")
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(tuple(input_shape), name="image")
    # Inputs are RGB 0..255 like every spatial model here; scale to [-1, 1].
    x = ChannelNormalization(mean=(127.5,) * 3, std=(127.5,) * 3, name="normalization")(inputs)
    x = keras.layers.Conv2D(_scaled(32, width), 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(6.0, name="stem_relu")(x)
    for i, (filters, stride) in enumerate(_BLOCKS, start=1):
        x = keras.layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"block{i}_dw")(x)
        x = keras.layers.BatchNormalization(name=f"block{i}_dw_bn")(x)
        x = keras.layers.ReLU(6.0, name=f"block{i}_dw_relu")(x)
        x = keras.layers.Conv2D(_scaled(filters, width), 1, use_bias=False, name=f"block{i}_pw")(x)
        x = keras.layers.BatchNormalization(name=f"block{i}_pw_bn")(x)
        x = keras.layers.ReLU(6.0, name=f"block{i}_pw_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return classifier_head(inputs, x, num_classes=num_classes, dense_units=dense_units, dropout=dropout, name="student")
