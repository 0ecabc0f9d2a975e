"""Custom Keras layers used by the registry models.

Every layer here is registered under the ``fer_edge`` package and has a ``get_config``
covering all its arguments, so ``model.save("m.keras")`` followed by
``keras.models.load_model("m.keras", safe_mode=True)`` round-trips (no ``Lambda`` layers:
safe mode refuses them). Importing this module registers the layers; :func:`~fer_edge.models.registry.load_keras_model`
in :mod:`fer_edge.models.registry` does that for you.

Masking convention for temporal heads: the model takes an explicit float mask ``(B, T)``
(1 = real frame, 0 = padding) next to the features ``(B, T, F)``, exactly like the thesis'
``features``/``masks`` inputs. An explicit mask (rather than ``keras.layers.Masking``) keeps
a genuinely all-zero feature frame (a black frame after ReLU) from being dropped, and
converts to OpenVINO as plain element-wise ops.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

# Added to padded steps before a max so they can never win; finite so that OpenVINO and
# every backend keep it exact (x + 0.0 == x for valid steps).
_NEG = -1e9


@keras.saving.register_keras_serializable(package="fer_edge")
class ChannelNormalization(keras.layers.Layer):
    """Per-channel ``(x - mean) / std``, optionally after reversing RGB to BGR.

    Puts the backbone's own input convention inside the model so that every spatial model
    takes RGB float pixels in ``[0, 255]``: the runtime never needs to know whether a base
    was trained caffe-style (BGR, mean subtracted) or torch-style.

    Args:
        mean: per-channel mean, in the channel order *after* the optional reversal.
        std: per-channel standard deviation (same order); ``1`` keeps the scale.
        reverse_channels: reverse the last axis first (RGB -> BGR).

    Example:
        >>> layer = ChannelNormalization(mean=(103.939, 116.779, 123.68), reverse_channels=True)
    """

    def __init__(
        self,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        reverse_channels: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if len(mean) != len(std):
            raise ValueError(f"mean and std need the same length, got {len(mean)} and {len(std)}")
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        self.reverse_channels = bool(reverse_channels)

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.reverse_channels:
            x = ops.flip(x, axis=-1)
        mean = ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)
        inv_std = ops.convert_to_tensor([1.0 / s for s in self.std], dtype=self.compute_dtype)
        return (x - mean) * inv_std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(mean=self.mean, std=self.std, reverse_channels=self.reverse_channels)
        return config


@keras.saving.register_keras_serializable(package="fer_edge")
class ApplySequenceMask(keras.layers.Layer):
    """Zero the padded steps: ``[x (B, T, C), mask (B, T)] -> x * mask[..., None]``.

    Applied to the input and after every convolution of the 1D-CNN so that nothing
    computed on a padded step can leak into a real one: the output then depends only on
    the real frames, whatever the padded frames contain.

    Example:
        >>> zeroed = ApplySequenceMask()([features, mask])  # doctest: +SKIP
    """

    def call(self, inputs):
        x, mask = inputs
        mask = ops.cast(mask, x.dtype)
        return x * ops.expand_dims(mask, -1)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="fer_edge")
class BooleanMask(keras.layers.Layer):
    """Float mask ``(B, T)`` (1 real, 0 padded) -> boolean mask for recurrent layers.

    Example:
        >>> lstm_mask = BooleanMask()(mask)  # doctest: +SKIP
    """

    def call(self, inputs):
        return ops.greater(ops.cast(inputs, "float32"), 0.5)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype="bool")


@keras.saving.register_keras_serializable(package="fer_edge")
class MaskedMaxPooling1D(keras.layers.Layer):
    """Max pooling over time that ignores padded steps, pooling the mask alongside.

    ``[x (B, T, C), mask (B, T)] -> [x' (B, T', C), mask' (B, T')]`` with
    ``T' = floor((T - pool_size) / strides) + 1`` (``valid`` pooling, as Keras'
    ``MaxPooling1D``). A pooled step is real when any step of its window is real; padded
    steps can never be the maximum, and fully padded windows come out as zeros.

    Args:
        pool_size: window length.
        strides: step between windows; defaults to ``pool_size``.

    Example:
        >>> x, mask = MaskedMaxPooling1D(2)([x, mask])  # doctest: +SKIP
    """

    def __init__(self, pool_size: int = 2, strides: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.strides = int(strides) if strides is not None else self.pool_size

    def call(self, inputs):
        x, mask = inputs
        m = ops.expand_dims(ops.cast(mask, x.dtype), -1)
        shifted = x + (1.0 - m) * _NEG
        pooled = ops.max_pool(shifted, self.pool_size, self.strides, padding="valid")
        pooled_mask = ops.max_pool(m, self.pool_size, self.strides, padding="valid")
        return [pooled * pooled_mask, ops.squeeze(pooled_mask, -1)]

    def compute_output_shape(self, input_shape):
        x_shape = input_shape[0]
        steps = x_shape[1]
        if steps is not None:
            steps = (steps - self.pool_size) // self.strides + 1
        return [(x_shape[0], steps, x_shape[2]), (x_shape[0], steps)]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides)
        return config


@keras.saving.register_keras_serializable(package="fer_edge")
class MaskedGlobalPooling1D(keras.layers.Layer):
    """Average or max over the real steps only: ``[x (B, T, C), mask (B, T)] -> (B, C)``.

    A sequence with no real step gives zeros (never NaN).

    Args:
        mode: ``"average"`` or ``"max"``.

    Example:
        >>> pooled = MaskedGlobalPooling1D("average")([x, mask])  # doctest: +SKIP
    """

    def __init__(self, mode: str = "average", **kwargs) -> None:
        super().__init__(**kwargs)
        if mode not in ("average", "max"):
            raise ValueError(f"mode must be 'average' or 'max', got {mode!r}")
        self.mode = mode

    def call(self, inputs):
        x, mask = inputs
        m = ops.expand_dims(ops.cast(mask, x.dtype), -1)
        count = ops.sum(m, axis=1)
        if self.mode == "average":
            return ops.sum(x * m, axis=1) / ops.maximum(count, 1.0)
        best = ops.max(x + (1.0 - m) * _NEG, axis=1)
        return best * ops.minimum(count, 1.0)

    def compute_output_shape(self, input_shape):
        x_shape = input_shape[0]
        return (x_shape[0], x_shape[2])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(mode=self.mode)
        return config


@keras.saving.register_keras_serializable(package="fer_edge")
class RelativeToStart(keras.layers.Layer):
    """Features relative to the clip's start: subtract the mean of the first ``k`` real steps.

    ``[x (B, T, C), mask (B, T)] -> (x - mean of x over the first k real steps) * mask``.
    An expression is a *change* of the face: a clip that starts neutral (BU-4DFE, the
    synthetic clips) gives, after this layer, features of that change, while whatever stays
    constant through the clip (who the face is, the lighting) cancels out. The first ``k``
    steps whose mask is 1 are the reference, wherever they lie; padded steps are never part
    of it and come out as zeros. With fewer than ``k`` real steps all of them are the
    reference; with none the output is all zeros (never NaN).

    Args:
        frames: ``k``, how many first real steps make the reference (>= 1).

    Example:
        >>> relative = RelativeToStart(3)([features, mask])  # doctest: +SKIP
    """

    def __init__(self, frames: int = 3, **kwargs) -> None:
        super().__init__(**kwargs)
        if int(frames) < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        self.frames = int(frames)

    def call(self, inputs):
        x, mask = inputs
        m = ops.cast(mask, x.dtype)
        # The k first real steps: running count of real steps <= k (CumSum converts to one
        # OpenVINO op; no gather, so any mask layout works).
        first = m * ops.cast(ops.less_equal(ops.cumsum(m, axis=1), float(self.frames)), x.dtype)
        first = ops.expand_dims(first, -1)
        base = ops.sum(x * first, axis=1, keepdims=True) / ops.maximum(ops.sum(first, axis=1, keepdims=True), 1.0)
        return (x - base) * ops.expand_dims(m, -1)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(frames=self.frames)
        return config
