"""Temporal heads with ``relative=True``: features relative to the clip's first real frames."""

from __future__ import annotations

import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.models import create_model, load_keras_model

pytestmark = pytest.mark.tf  # Keras models

SMALL = {
    "cnn1d": dict(timesteps=12, features=10, filters=(8, 8, 16, 16)),
    "lstm": dict(timesteps=12, features=10, units=8),
    "bilstm": dict(timesteps=12, features=10, units=8),
}


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4, 12, 10)).astype("float32")
    mask = (np.arange(12)[None] < np.array([12, 7, 3, 1])[:, None]).astype("float32")
    return x, mask


def _predict(model, x, mask):
    return np.asarray(model([x, mask], training=False))


def test_layer_subtracts_the_mean_of_the_first_real_steps():
    from fer_edge.models.layers import RelativeToStart

    x, mask = _batch()
    mask[0, :2] = 0  # real steps need not start at 0: the first 3 *real* ones are the reference
    out = np.asarray(RelativeToStart(3)([x, mask]))
    for b in range(len(x)):
        real = np.flatnonzero(mask[b])
        base = x[b, real[:3]].mean(0)
        np.testing.assert_allclose(out[b, real], x[b, real] - base, atol=1e-5)
        assert not out[b, mask[b] == 0].any()
    assert np.isfinite(np.asarray(RelativeToStart(3)([x, np.zeros_like(mask)]))).all()
    with pytest.raises(ValueError, match="frames must be >= 1"):
        RelativeToStart(0)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_relative_head_ignores_what_is_constant_in_a_clip(name):
    model = create_model(name, relative=True, reference_frames=3, **SMALL[name])
    x, mask = _batch(1)
    expected = _predict(model, x, mask)
    # Identity/lighting: a per-clip constant added to every frame cancels out...
    offset = np.random.default_rng(2).normal(scale=5.0, size=(4, 1, 10)).astype("float32")
    np.testing.assert_allclose(_predict(model, x + offset, mask), expected, atol=1e-5)
    # ...padded steps still do not matter...
    garbage = np.where(mask[..., None] > 0, x, 40.0).astype("float32")
    np.testing.assert_allclose(_predict(model, garbage, mask), expected, atol=1e-5)
    # ...while a change after the start does (the test can fail).
    changed = x.copy()
    changed[0, 8] += 3.0
    assert np.abs(_predict(model, changed, mask)[0] - expected[0]).max() > 1e-4
    # The plain head is not invariant: the option really changes the model.
    plain = create_model(name, **SMALL[name])
    assert np.abs(_predict(plain, x + offset, mask) - _predict(plain, x, mask)).max() > 1e-4


@pytest.mark.parametrize("name", ["cnn1d", "lstm"])
def test_relative_head_round_trips_and_converts_to_openvino(name, tmp_path):
    import openvino as ov

    model = create_model(name, relative=True, reference_frames=2, **SMALL[name])
    x, mask = _batch(3)
    expected = _predict(model, x, mask)
    model.save(tmp_path / "m.keras")
    loaded = load_keras_model(tmp_path / "m.keras")
    assert loaded.get_layer("relative_features").frames == 2
    np.testing.assert_allclose(_predict(loaded, x, mask), expected, rtol=0, atol=1e-6)
    compiled = ov.Core().compile_model(ov.convert_model(model), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    np.testing.assert_allclose(compiled([x, mask])[compiled.output(0)], expected, rtol=0, atol=1e-5)


def test_bad_reference_frames_is_a_user_error():
    with pytest.raises(FerEdgeError, match="reference_frames must be >= 1"):
        create_model("cnn1d", relative=True, reference_frames=0, **SMALL["cnn1d"])
