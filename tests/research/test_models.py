"""Model registry: every model builds, round-trips through .keras, masks padding, converts."""

from __future__ import annotations

import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.models import create_model, feature_extractor, list_models, load_keras_model

# Small but real configurations of every registry model (big backbones get their own test).
SMALL = {
    "lstm": dict(timesteps=12, features=10, units=8),
    "bilstm": dict(timesteps=12, features=10, units=8),
    "cnn1d": dict(timesteps=12, features=10, filters=(8, 8, 16, 16)),
    "test_temporal": {},
    "c3d": dict(input_shape=(8, 32, 32, 3), filters=(4, 4, 8), dense_units=(16, 16), padding="same"),
    "convlstm": dict(input_shape=(4, 16, 16, 3), filters=(4, 4)),
    "test_clip": {},
    "test_spatial": {},
    "test_frame": {},
    "student": dict(input_shape=(32, 32, 3), width=0.25, num_classes=6),
    "vggface_vgg16": dict(input_shape=(32, 32, 3), dense_units=(16,)),
    "vggface_resnet50": dict(input_shape=(32, 32, 3), dense_units=(16,)),
}
BIG = ("vgg16", "resnet50", "densenet201")
# The slowest to build and save (seconds each on 2 cores): marked slow.
SLOW_BUILDS = {"c3d", "student", "vggface_resnet50", "vggface_vgg16"}


def _inputs(model, seed=0, batch=2):
    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in model.inputs:
        shape = (batch, *tensor.shape[1:])
        if tensor.name == "mask":
            lengths = np.linspace(shape[1], 1, batch).astype(int)
            arrays.append((np.arange(shape[1])[None] < lengths[:, None]).astype("float32"))
        elif len(shape) >= 4:  # images / clips: RGB pixels 0..255
            arrays.append(rng.uniform(0, 255, shape).astype("float32"))
        else:
            arrays.append(rng.normal(size=shape).astype("float32"))
    return arrays


def _predict(model, arrays):
    return np.asarray(model(arrays if len(arrays) > 1 else arrays[0], training=False))


def test_every_registered_model_is_covered_and_kinds_are_right():
    assert set(SMALL) | set(BIG) == set(list_models())
    assert list_models("temporal") == ["bilstm", "cnn1d", "lstm", "test_temporal"]
    assert list_models("clip") == ["c3d", "convlstm", "test_clip"]
    assert list_models("frame") == ["test_frame"]
    assert "vggface_vgg16" in list_models("spatial") and "student" in list_models("spatial")


def test_unknown_names_and_options_say_did_you_mean():
    with pytest.raises(FerEdgeError, match=r"unknown model 'lstn'; did you mean 'lstm'\? known: .*bilstm"):
        create_model("lstn")
    with pytest.raises(FerEdgeError, match=r"model 'lstm' has no option 'unit'; did you mean 'units'"):
        create_model("lstm", unit=3)
    with pytest.raises(FerEdgeError, match=r"unknown model kind 'tempral'; did you mean 'temporal'"):
        list_models("tempral")


@pytest.mark.tf
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_BUILDS else n for n in sorted(SMALL)]
)
def test_model_builds_and_round_trips_through_keras_file(name, tmp_path):
    model = create_model(name, **SMALL[name])
    arrays = _inputs(model)
    before = _predict(model, arrays)
    assert before.shape[0] == 2 and np.allclose(before.sum(-1), 1.0, atol=1e-5)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = load_keras_model(path)  # safe_mode=True inside
    np.testing.assert_allclose(_predict(loaded, arrays), before, rtol=1e-6, atol=1e-6)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


@pytest.mark.slow
@pytest.mark.tf
def test_big_backbones_build_with_right_feature_sizes():
    # At 32x32 every base ends in a 1x1 map: flatten = its channel count.
    for name, channels in zip(BIG, (512, 2048, 1920)):
        model = create_model(name, input_shape=(32, 32, 3), num_classes=7, dense_units=(8,))
        assert feature_extractor(model, "flatten").output_shape == (None, channels)
        assert model.output_shape == (None, 7)
        assert model.get_layer("normalization") is not None


@pytest.mark.tf
def test_feature_extractor_layers_and_sizes():
    model = create_model("test_spatial", dense_units=(32,))
    x = _inputs(model)[0]
    assert feature_extractor(model).output_shape == (None, 256)
    dense = feature_extractor(model, "dense")
    assert dense(x).shape == (2, 32)
    headless = create_model("test_spatial", num_classes=None)
    assert headless.output_shape == (None, 256)
    with pytest.raises(FerEdgeError, match=r"has no layer 'flaten'; did you mean 'flatten'"):
        feature_extractor(model, "flaten")


@pytest.mark.tf
def test_vgg_style_flatten_is_12800_at_160():
    model = create_model("vggface_vgg16", num_classes=None)
    assert model.output_shape == (None, 5 * 5 * 512)


@pytest.mark.slow
@pytest.mark.tf
def test_student_is_under_one_million_parameters_and_width_scales():
    full = create_model("student")
    assert full.count_params() <= 1_000_000
    assert feature_extractor(full).output_shape == (None, 512)
    half = create_model("student", width=0.5)
    assert half.count_params() < full.count_params() / 2.5
    with pytest.raises(FerEdgeError, match="width"):
        create_model("student", width=0)


@pytest.mark.tf
def test_thesis_parameter_counts():
    # Figure 3.15 (LSTM on 25088 features) and figure 3.22 (C3D at 100x160x160x3).
    assert create_model("lstm", features=25088).count_params() == 12_911_878
    assert create_model("c3d").count_params() == 53_372_502


@pytest.mark.tf
def test_c3d_too_small_input_is_a_user_error():
    with pytest.raises(FerEdgeError, match="too small.*padding='same'"):
        create_model("c3d", input_shape=(8, 32, 32, 3))


@pytest.mark.tf
@pytest.mark.parametrize("name", ["lstm", pytest.param("bilstm", marks=pytest.mark.slow), "cnn1d"])
def test_padded_frames_do_not_change_the_output(name):
    model = create_model(name, **SMALL[name])
    rng = np.random.default_rng(1)
    t, f = SMALL[name]["timesteps"], SMALL[name]["features"]
    lengths = np.array([12, 7, 4, 1])
    mask = (np.arange(t)[None] < lengths[:, None]).astype("float32")
    real = rng.normal(size=(4, t, f)).astype("float32")
    zeros = real * mask[..., None]
    garbage = np.where(mask[..., None] > 0, real, rng.normal(scale=50, size=real.shape)).astype("float32")
    out_zero = _predict(model, [zeros, mask])
    out_garbage = _predict(model, [garbage, mask])
    np.testing.assert_allclose(out_garbage, out_zero, rtol=0, atol=1e-6)
    # ...while a real frame does change it (the test can fail).
    changed = zeros.copy()
    changed[1, 3] += 3.0
    assert np.abs(_predict(model, [changed, mask])[1] - out_zero[1]).max() > 1e-4
    # A fully padded window is defined (no NaN).
    assert np.isfinite(_predict(model, [garbage, np.zeros_like(mask)])).all()


@pytest.mark.tf
def test_lstm_on_padded_window_equals_lstm_on_the_short_sequence():
    padded = create_model("lstm", timesteps=12, features=10, units=8)
    short = create_model("lstm", timesteps=5, features=10, units=8)
    short.set_weights(padded.get_weights())
    x = np.random.default_rng(2).normal(size=(1, 12, 10)).astype("float32")
    mask = (np.arange(12) < 5).astype("float32")[None]
    np.testing.assert_allclose(
        _predict(padded, [x, mask]), _predict(short, [x[:, :5], np.ones((1, 5), "float32")]), atol=1e-6
    )


@pytest.mark.tf
@pytest.mark.parametrize("name", ["cnn1d", "lstm"])
def test_openvino_conversion_matches_keras_in_f32(name):
    import openvino as ov

    model = create_model(name, **SMALL[name])
    features, mask = _inputs(model, seed=3, batch=3)
    expected = _predict(model, [features, mask])
    compiled = ov.Core().compile_model(ov.convert_model(model), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    got = compiled([features, mask])[compiled.output(0)]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
