"""Augmentation: the nine offline transforms, online draws, determinism, same transform per frame."""

from __future__ import annotations

import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.data.augment import (
    OFFLINE,
    OnlineAugmenter,
    OnlineConfig,
    OnlineParams,
    apply_offline,
    apply_online,
    draw,
    offline_variants,
)


@pytest.fixture(scope="module")
def clip():
    # Distinct frames (a moving gradient) so per-frame differences would show.
    rng = np.random.default_rng(0)
    base = rng.integers(30, 200, (40, 48, 3)).astype(np.uint8)
    return np.stack([np.roll(base, k, axis=1) for k in range(5)])


def _same_on_every_frame(fn, clip):
    """fn(clip)[t] must equal fn(clip[t:t+1])[0] for every t: nothing varies with t."""
    out = fn(clip)
    for t in range(len(clip)):
        np.testing.assert_array_equal(out[t], fn(clip[t : t + 1])[0])
    return out


def test_nine_offline_transforms(clip):
    assert len(OFFLINE) == 9
    outs = dict(offline_variants(clip, seed=3))
    assert list(outs) == list(OFFLINE)
    for name, out in outs.items():
        assert out.shape == clip.shape and out.dtype == np.uint8, name
        assert not np.array_equal(out, clip), name
    np.testing.assert_array_equal(outs["flip"], clip[:, :, ::-1])
    ref = clip.astype(int)
    np.testing.assert_array_equal(outs["bright50"], np.clip(ref + 50, 0, 255))
    np.testing.assert_array_equal(outs["bright20"], np.clip(ref + 20, 0, 255))
    np.testing.assert_array_equal(outs["contrast2"], np.clip(ref * 2, 0, 255))
    np.testing.assert_array_equal(outs["contrast17"], np.clip(np.round(ref * 1.7 + 50), 0, 255))
    # 1 % of each channel's pixels (0.5 % salt + 0.5 % pepper, drawn with replacement).
    changed = outs["saltpepper"] != clip
    assert 0.006 < changed.mean() < 0.011
    assert set(np.unique(outs["saltpepper"][(outs["saltpepper"] != clip)])) <= {0, 255}
    assert not np.array_equal(outs["rot+8"], outs["rot-8"])
    # Blur keeps the mean and lowers the variance.
    assert abs(outs["blur"].mean() - clip.mean()) < 1
    assert outs["blur"].std() < clip.std()


def test_rotations_turn_about_the_centre():
    img = np.zeros((1, 41, 41), np.uint8)
    img[0, 19:22, 34:37] = 255  # a dot 15 px right of the centre (20, 20)
    for name, dy in (("rot+8", -15 * np.sin(np.radians(8))), ("rot-8", 15 * np.sin(np.radians(8)))):
        out = apply_offline(img, name)[0].astype(float)
        ys, xs = np.indices(out.shape)
        cy, cx = (out * ys).sum() / out.sum(), (out * xs).sum() / out.sum()
        assert abs(cy - (20 + dy)) < 0.3 and abs(cx - (20 + 15 * np.cos(np.radians(8)))) < 0.3


def test_salt_and_pepper_is_fresh_per_frame_and_channel_and_seeded_per_clip(clip):
    from fer_edge.data.augment import augment_seed

    out = apply_offline(clip, "saltpepper", seed=augment_seed(0, "F001_happy"))
    hit = (out != clip) & ((out == 0) | (out == 255))
    assert not np.array_equal(hit[0], hit[1])  # another mask on the next frame
    assert not np.array_equal(hit[0, ..., 0], hit[0, ..., 1])  # and on the next channel
    assert not hit[:, -1].any() and not hit[:, :, -1].any()  # randint(0, i - 1) never hits the last row/col
    again = apply_offline(clip, "saltpepper", seed=augment_seed(0, "F001_happy"))
    other = apply_offline(clip, "saltpepper", seed=augment_seed(0, "F002_happy"))
    np.testing.assert_array_equal(out, again)
    assert not np.array_equal(out, other)


def test_rotation_fills_corners_black():
    img = np.full((1, 40, 40, 3), 200, np.uint8)
    for name in ("rot+8", "rot-8"):
        out = apply_offline(img, name)[0]
        assert (out[0, 0] == 0).all() and (out[-1, -1] == 0).all()  # imutils.rotate: constant 0 border
        assert (out[20, 20] == 200).all()


@pytest.mark.parametrize("name", [n for n in OFFLINE if n != "saltpepper"])
def test_offline_same_transform_on_every_frame(clip, name):
    _same_on_every_frame(lambda c: apply_offline(c, name, seed=5), clip)


def test_offline_grayscale_and_determinism(clip):
    gray = clip[..., 0]
    a = apply_offline(gray, "saltpepper", seed=1)
    assert a.shape == gray.shape
    np.testing.assert_array_equal(a, apply_offline(gray, "saltpepper", seed=1))
    assert not np.array_equal(a, apply_offline(gray, "saltpepper", seed=2))


def test_offline_errors(clip):
    with pytest.raises(FerEdgeError, match="did you mean 'contrast2'"):
        apply_offline(clip, "contrast")
    with pytest.raises(FerEdgeError, match="uint8"):
        apply_offline(clip.astype(np.float32), "flip")


def test_online_draws_stay_in_thesis_ranges():
    rng = np.random.default_rng(0)
    params = [draw(rng, (160, 120)) for _ in range(400)]
    theta = np.array([p.theta for p in params])
    assert theta.min() >= -10 and theta.max() <= 10 and theta.std() > 4
    assert all(abs(p.tx) <= 16 and abs(p.ty) <= 12 for p in params)
    assert all(abs(p.shear) <= 0.15 for p in params)
    assert all(0.9 <= p.zx <= 1.1 and 0.9 <= p.zy <= 1.1 for p in params)
    assert all(0.4 <= p.brightness <= 1.5 for p in params)
    assert 150 < sum(p.flip for p in params) < 250
    none = draw(rng, (32, 32), OnlineConfig(horizontal_flip=False))
    assert none.flip is False


def test_online_same_draw_on_every_frame_and_seeded(clip):
    aug = OnlineAugmenter(seed=11)
    out = _same_on_every_frame(lambda c: aug(c, index=4, epoch=2), clip)
    np.testing.assert_array_equal(out, OnlineAugmenter(seed=11)(clip, index=4, epoch=2))
    assert not np.array_equal(out, aug(clip, index=4, epoch=3))
    assert not np.array_equal(out, aug(clip, index=5, epoch=2))
    assert not np.array_equal(out, OnlineAugmenter(seed=12)(clip, index=4, epoch=2))


def test_online_components(clip):
    ident = OnlineParams(0, 0, 0, 0, 1, 1, False, 1.0)
    np.testing.assert_array_equal(apply_online(clip, ident), clip)
    flip = apply_online(clip, OnlineParams(0, 0, 0, 0, 1, 1, True, 1.0))
    np.testing.assert_array_equal(flip, clip[:, :, ::-1])
    dark = apply_online(clip, OnlineParams(0, 0, 0, 0, 1, 1, False, 0.5))
    np.testing.assert_allclose(dark.astype(float), clip * 0.5, atol=0.51)
    # A whole-pixel shift moves content and fills with the nearest (edge) pixel.
    shifted = apply_online(clip, OnlineParams(0, 2, 0, 0, 1, 1, False, 1.0))
    np.testing.assert_array_equal(shifted[:, :, :-2], clip[:, :, 2:])
    np.testing.assert_array_equal(shifted[:, :, -1], clip[:, :, -1])


def test_online_config_checks():
    with pytest.raises(FerEdgeError):
        OnlineConfig(rotation=-1)
    with pytest.raises(FerEdgeError):
        OnlineConfig(brightness=(1.5, 0.4))
