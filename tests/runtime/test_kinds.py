"""Bundle kinds (fer_edge.runtime.kinds): roles, offline clip scores and online buffering with numpy models."""

from __future__ import annotations

import numpy as np
import pytest

from fer_edge.runtime.bundle import FrameSpec
from fer_edge.runtime.kinds import KINDS, kind_of
from fer_edge.runtime.windows import RingBuffer, pad_window


def _frame_model(x: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> per-image scores from the mean pixel (rows sum to 1)."""
    m = x.mean(axis=(1, 2, 3))
    return np.stack([m, 1 - m], -1)


def _spatial(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1)[:, :2] + 1.0


def _temporal(f: np.ndarray, m: np.ndarray) -> np.ndarray:
    return np.stack([(f[..., 0] * m).sum(1), m.sum(1)], -1)


def test_roles_and_windows_of_each_kind():
    assert {k: v.roles for k, v in KINDS.items()} == {
        "frame": ("frame",),
        "cascade": ("spatial", "temporal"),
        "clip": ("clip",),
    }
    assert [kind_of(k).score_role for k in KINDS] == ["frame", "temporal", "clip"]
    assert [kind_of(k).image_role for k in KINDS] == ["frame", "spatial", "clip"]
    assert [kind_of(k).steady_crop for k in KINDS] == [False, True, True]
    assert kind_of("frame").default_window == (1, 1) and kind_of("cascade").default_window == (100, 5)


def test_score_clip_follows_each_kind():
    clip = np.linspace(0, 1, 5 * 2 * 2 * 1, dtype=np.float32).reshape(5, 2, 2, 1)
    frame = kind_of("frame").score_clip({"frame": _frame_model}, clip, 3, batch=2)
    assert np.allclose(frame, _frame_model(clip).mean(0))
    # Cascade: only the first `length` frames, features padded to the window with a mask.
    got = kind_of("cascade").score_clip({"spatial": _spatial, "temporal": _temporal}, clip[:2], 4)
    assert np.allclose(got, [(_spatial(clip[:2])[:, 0]).sum(), 2.0])
    got = kind_of("cascade").score_clip({"spatial": _spatial, "temporal": _temporal}, clip, 3)
    assert np.allclose(got, [(_spatial(clip[:3])[:, 0]).sum(), 3.0])
    seen = []
    kind_of("clip").score_clip({"clip": lambda x: seen.append(x) or np.zeros((1, 2))}, clip, 8)
    assert seen[0].shape == (1, 8, 2, 2, 1) and np.array_equal(seen[0][0], pad_window(clip, 8)[0])


def test_online_buffering():
    logits = np.array([[2.0, 0.0], [0.0, 2.0]], np.float32)
    items = kind_of("frame").buffer_items(logits)
    assert np.allclose(items.sum(-1), 1.0) and items[0, 0] > 0.8  # the frame model's logits become scores
    rb = RingBuffer(3, (2,))
    for i, item in enumerate(items):
        rb.push(item, i)
    assert np.allclose(kind_of("frame").window_scores(rb), items.mean(0))
    assert kind_of("cascade").window_scores(rb) is None and kind_of("clip").window_scores(rb) is None
    assert kind_of("cascade").buffer_items(logits) is logits


class _Data:
    def __init__(self, clips):
        self.clips = clips

    def frames(self, limit=None, *, seed=0):
        return np.concatenate(self.clips)[:limit]


def test_calibration_and_unlabelled_items():
    clips = [np.ones((7, 2, 2, 1), np.float32), np.ones((2, 2, 2, 1), np.float32)]
    assert len(kind_of("frame").unlabelled_items(clips, 4)) == 9  # single frames
    windows = kind_of("clip").unlabelled_items(clips, 4)
    assert [len(w) for w in windows] == [4, 4, 2]  # half-overlapping windows, trimmed to their frames
    data = _Data(clips)
    assert [a.shape for (a,) in kind_of("frame").calibration_items("frame", data, {}, 4, 5, 0)] == [(1, 2, 2, 1)] * 5
    items = kind_of("cascade").calibration_items("temporal", data, {"spatial": _spatial}, 4, 10, 0)
    want = [((1, 4, 2), (1, 4), 4.0)] * 2 + [((1, 4, 2), (1, 4), 2.0)]
    assert [(f.shape, m.shape, m.sum()) for f, m in items] == want
    assert [a.shape for (a,) in kind_of("clip").calibration_items("clip", data, {}, 4, 2, 0)] == [(1, 4, 2, 2, 1)] * 2


def test_cascade_checks_feature_sizes():
    from fer_edge.runtime.bundle import ModelEntry

    models = {"spatial": ModelEntry("s.xml", output=8), "temporal": ModelEntry("t.xml", input=[4, 6])}
    assert "gives 8 features" in kind_of("cascade").check_models(models)
    assert kind_of("frame").check_models({"frame": ModelEntry("f.xml")}) is None


@pytest.mark.parametrize("color, channels", [("RGB", 3), ("GRAY", 1)])
def test_frame_spec_normalise(color, channels):
    spec = FrameSpec((2, 2), color, (0.5,) * channels, (0.25,) * channels)
    x = np.full((1, 2, 2, channels), 255, np.uint8)
    out = spec.normalise(x)
    assert out.dtype == np.float32 and np.allclose(out, 2.0)
