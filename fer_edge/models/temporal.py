"""Temporal heads on spatial features: LSTM(128), BiLSTM(128) and the 1D-CNN (figure 3.27).

Every head takes two inputs, as in the thesis (figure 3.15): ``features`` ``(B, T, F)``
float32 and ``mask`` ``(B, T)`` float32 (1 = real frame, 0 = padding), and outputs a
``num_classes`` softmax named ``predictions``. Padded steps never change the output:
features are zeroed under the mask first, the recurrent layers receive the mask, and the
1D-CNN re-zeroes padded steps after every convolution and pools over real steps only.

Defaults follow section 3.3.2: LSTM 128 units with naive (input) dropout 0.4, BiLSTM 128
with 0.7. The thesis' 1D-CNN has "4 1D convolution layers, 2 max pooling layers and 1
fully connected layer"; its filter counts are in a figure we don't have, so we chose
Conv1D 64-64 -> pool 2 -> Conv1D 128-128 -> pool 2 (kernel 3, ReLU, ``same``), then a
masked global average (length-independent, unlike a Flatten) -> dropout 0.4 -> the
fully connected softmax.

``features`` defaults to 12800, the ``flatten`` size of VGGFace-VGG16 at 160x160 (the
thesis' 25088 is the same layer at 224x224). At F=25088 the LSTM head has 12,911,878
parameters, exactly the thesis' figure 3.15.

``relative=True`` (every head) makes the head see each clip's *change* from its start: the
mean of the first ``reference_frames`` real frames' features is subtracted from every frame
(:class:`~fer_edge.models.layers.RelativeToStart`). What stays constant in a clip (the
person's identity, the lighting) then cancels, which is what lets a head trained on few
subjects generalise to new faces. It assumes the window starts at a (near) neutral face, as
BU-4DFE clips do; use it with untrimmed clips (``data.trimmed: false``), because Algorithm 1's
trimming removes exactly those neutral frames.
"""

from __future__ import annotations

from collections.abc import Sequence

from fer_edge.core.errors import FerEdgeError
from fer_edge.models.registry import register_model

DEFAULT_TIMESTEPS = 100
DEFAULT_FEATURES = 12800


def _inputs(timesteps: int, features: int):
    import keras

    if timesteps < 1 or features < 1:
        raise FerEdgeError(f"timesteps and features must be >= 1, got timesteps={timesteps}, features={features}")
    return keras.Input((timesteps, features), name="features"), keras.Input((timesteps,), name="mask")


def _check(num_classes: int, *rates: float) -> None:
    if num_classes < 2:
        raise FerEdgeError(f"num_classes must be >= 2, got {num_classes}")
    for rate in rates:
        if not 0.0 <= rate < 1.0:
            raise FerEdgeError(f"dropout rates must be in [0, 1), got {rate}")


def _masked_input(features_in, mask_in, relative: bool, reference_frames: int):
    """Zero the padded steps, and subtract the clip's start when ``relative``."""
    from fer_edge.models.layers import ApplySequenceMask, RelativeToStart

    if relative:
        if int(reference_frames) < 1:
            raise FerEdgeError(f"reference_frames must be >= 1, got {reference_frames}")
        return RelativeToStart(int(reference_frames), name="relative_features")([features_in, mask_in])
    return ApplySequenceMask(name="masked_features")([features_in, mask_in])


def recurrent_head(
    *,
    bidirectional: bool,
    timesteps: int = DEFAULT_TIMESTEPS,
    features: int = DEFAULT_FEATURES,
    num_classes: int = 6,
    units: int = 128,
    dropout: float = 0.4,
    recurrent_dropout: float = 0.0,
    unroll: bool = False,
    relative: bool = False,
    reference_frames: int = 3,
    name: str = "lstm",
):
    """One (Bi)LSTM layer on masked features -> softmax.

    Args:
        bidirectional: wrap the LSTM in ``Bidirectional`` (outputs concatenated).
        timesteps: window length T (thesis: 100).
        features: feature size F per frame.
        num_classes: softmax size (thesis: 6).
        units: LSTM units (thesis: 128).
        dropout: naive (input) dropout of the LSTM, the thesis' best regulariser.
        recurrent_dropout: dropout on the recurrent connections (thesis: no gain).
        unroll: unroll over the static T: 3-4x faster in OpenVINO, slower to compile.
        relative: subtract the mean of the first ``reference_frames`` real frames first.
        reference_frames: how many first real frames are the clip's reference (``relative``).
        name: model name.

    Example:
        >>> model = recurrent_head(bidirectional=False, timesteps=8, features=16)  # doctest: +SKIP
    """
    import keras

    from fer_edge.models.layers import BooleanMask

    _check(num_classes, dropout, recurrent_dropout)
    features_in, mask_in = _inputs(timesteps, features)
    x = _masked_input(features_in, mask_in, relative, reference_frames)
    lstm = keras.layers.LSTM(units, dropout=dropout, recurrent_dropout=recurrent_dropout, unroll=unroll, name="lstm")
    if bidirectional:
        lstm = keras.layers.Bidirectional(lstm, name="bilstm")
    x = lstm(x, mask=BooleanMask(name="boolean_mask")(mask_in))
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model([features_in, mask_in], outputs, name=name)


def cnn1d_head(
    *,
    timesteps: int = DEFAULT_TIMESTEPS,
    features: int = DEFAULT_FEATURES,
    num_classes: int = 6,
    filters: Sequence[int] = (64, 64, 128, 128),
    kernel_size: int = 3,
    pool_every: int = 2,
    pooling: str = "average",
    input_dropout: float = 0.0,
    dropout: float = 0.4,
    relative: bool = False,
    reference_frames: int = 3,
    name: str = "cnn1d",
):
    """Mask-aware 1D-CNN: Conv1D blocks with masked max pooling, masked global pooling, softmax.

    Args:
        timesteps: window length T; needs ``T >= 2 ** (len(filters) // pool_every)``.
        features: feature size F per frame.
        num_classes: softmax size.
        filters: one Conv1D per entry (thesis: 4 layers).
        kernel_size: temporal kernel of every Conv1D.
        pool_every: a masked max pool (size 2) after every ``pool_every`` convolutions.
        pooling: ``"average"`` or ``"max"`` over the real steps at the end.
        input_dropout: dropout on the input features.
        dropout: dropout before the fully connected softmax.
        relative: subtract the mean of the first ``reference_frames`` real frames first.
        reference_frames: how many first real frames are the clip's reference (``relative``).
        name: model name.

    Example:
        >>> model = cnn1d_head(timesteps=8, features=16, filters=(8, 8, 16, 16))  # doctest: +SKIP
    """
    import keras

    from fer_edge.models.layers import ApplySequenceMask, MaskedGlobalPooling1D, MaskedMaxPooling1D

    _check(num_classes, input_dropout, dropout)
    if pooling not in ("average", "max"):
        raise FerEdgeError(f"pooling must be 'average' or 'max', got '{pooling}'")
    pools = len(filters) // pool_every if pool_every > 0 else 0
    if timesteps < 2**pools:
        raise FerEdgeError(f"cnn1d with {pools} poolings needs timesteps >= {2**pools}, got {timesteps}")
    features_in, mask_in = _inputs(timesteps, features)
    x = _masked_input(features_in, mask_in, relative, reference_frames)
    if input_dropout:
        # After the mask: dropout rescales, so padded steps must be zero already (they stay zero).
        x = keras.layers.Dropout(input_dropout, name="input_dropout")(x)
    mask = mask_in
    for i, n in enumerate(filters, start=1):
        x = keras.layers.Conv1D(int(n), kernel_size, padding="same", activation="relu", name=f"conv1d_{i}")(x)
        # Re-zero padded steps so the next convolution sees exactly the zero padding a
        # shorter sequence would get: what lies under the mask can never leak in.
        x = ApplySequenceMask(name=f"masked_{i}")([x, mask])
        if pool_every > 0 and i % pool_every == 0:
            x, mask = MaskedMaxPooling1D(2, name=f"pool_{i // pool_every}")([x, mask])
    x = MaskedGlobalPooling1D(pooling, name="temporal_pool")([x, mask])
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model([features_in, mask_in], outputs, name=name)


@register_model("lstm", role="temporal")
def lstm(
    timesteps=DEFAULT_TIMESTEPS,
    features=DEFAULT_FEATURES,
    num_classes=6,
    units=128,
    dropout=0.4,
    recurrent_dropout=0.0,
    unroll=False,
    relative=False,
    reference_frames=3,
):
    """LSTM(128) on masked features (thesis: input dropout 0.4)."""
    # locals() is exactly the factory's parameters here: it is the first statement.
    return recurrent_head(bidirectional=False, name="lstm", **locals())


@register_model("bilstm", role="temporal")
def bilstm(
    timesteps=DEFAULT_TIMESTEPS,
    features=DEFAULT_FEATURES,
    num_classes=6,
    units=128,
    dropout=0.7,
    recurrent_dropout=0.0,
    unroll=False,
    relative=False,
    reference_frames=3,
):
    """Bidirectional LSTM(128) on masked features (thesis: input dropout 0.7)."""
    return recurrent_head(bidirectional=True, name="bilstm", **locals())


@register_model("cnn1d", role="temporal")
def cnn1d(
    timesteps=DEFAULT_TIMESTEPS,
    features=DEFAULT_FEATURES,
    num_classes=6,
    filters=(64, 64, 128, 128),
    kernel_size=3,
    pooling="average",
    input_dropout=0.0,
    dropout=0.4,
    relative=False,
    reference_frames=3,
):
    """The 1D-CNN of figure 3.27: 4 Conv1D, 2 max pools, 1 fully connected; mask-aware."""
    return cnn1d_head(name="cnn1d", **locals())


@register_model("test_temporal", role="temporal")
def test_temporal(timesteps=8, features=16, num_classes=6, seed=0):
    """Tiny 1D-CNN head for tests: (8, 16) features + mask -> softmax."""
    import keras

    keras.utils.set_random_seed(seed)
    return cnn1d_head(
        timesteps=timesteps,
        features=features,
        num_classes=num_classes,
        filters=(8, 8, 16, 16),
        dropout=0.1,
        name="test_temporal",
    )
