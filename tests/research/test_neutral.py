"""Algorithm 1 (neutral trimming): hand-worked edge cases and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fer_edge.core.errors import FerEdgeError
from fer_edge.data.neutral import Span, trim


def _literal(x: list[float]) -> tuple[int, int, bool]:
    """Algorithm 1 transcribed line by line with a cut mask, to cross-check ``trim``."""
    n = len(x)
    peak = max(x)
    if any(v >= peak for v in x[max(0, n - 20) :]):
        return 0, n, True
    cut = [False] * n
    min_intensity_allowed = 0.5 * peak
    max_frames = n / 2
    stop_begin = stop_end = False
    i = 0
    while True:
        if not stop_begin:
            if x[i] < min_intensity_allowed:
                cut[i] = True
            else:
                stop_begin = True
        if not stop_end:
            if x[n - 1 - i] < min_intensity_allowed or i < 10:
                cut[n - 1 - i] = True
            else:
                stop_end = True
        if (stop_begin and stop_end) or sum(cut) >= max_frames:
            break
        i += 1
    kept = [k for k in range(n) if not cut[k]]
    return kept[0], kept[-1] + 1, False


def test_span_unpacks_and_has_length():
    start, stop, anomaly = trim([0] * 20 + [1] * 60 + [0] * 20)
    assert (start, stop, anomaly) == (20, 80, False)
    assert Span(20, 80, False).length == 60


def test_end_always_loses_ten_frames_even_when_expressive():
    # Flat plateau at the threshold: nothing is "below", yet the end loses exactly 10 frames.
    x = [1.0] * 60
    x[25] = 2.0
    assert trim(x) == (0, 50, False)


def test_end_keeps_cutting_below_threshold_after_ten():
    x = [1.0] * 30 + [2.0] + [1.0] * 20 + [0.2] * 29  # 80 frames, 29 low at the end
    assert trim(x) == (0, 51, False)


def test_start_stops_for_good_at_first_frame_over_threshold():
    # A dip after the first expressive frame must not be cut: the start side has stopped.
    x = [0.0, 0.0, 5.0, 0.0, 0.0] + [6.0] * 40 + [0.0] * 25
    start, stop, anomaly = trim(x)
    assert start == 2 and not anomaly
    assert stop == 45


def test_end_stops_for_good():
    x = [6.0] * 40 + [0.0] * 5 + [6.0] * 3 + [10.0] + [6.0] * 20 + [0.0] * 15
    # The 15 low end frames go; the end side then meets an expressive frame and stops for
    # good, so the earlier dip (frames 40-44) stays.
    start, stop, anomaly = trim(x)
    assert (start, anomaly) == (0, False)
    assert stop == len(x) - 15


def test_half_clip_cap():
    # 60 % neutral: the loop stops when cut frames reach half the clip.
    assert trim([0] * 30 + [1] * 40 + [0] * 30) == (25, 75, False)


def test_half_clip_cap_overshoots_by_one_when_both_sides_cut():
    # n = 42, n/2 = 21: after 10 steps 20 frames are cut (< 21), the 11th step cuts 2 -> 22.
    x = [0.0] * 15 + [1.0] * 12 + [0.0] * 15
    x[13 + 8] = 2.0
    start, stop, anomaly = trim(x)
    assert not anomaly
    assert start + (len(x) - stop) == 22
    assert (start, stop) == _literal(x)[:2]


def test_anomaly_when_maximum_in_last_20_frames():
    x = [0.0] * 10 + [1.0] * 50 + [0.0] * 20
    x[60] = 3.0  # index 60 of 80 -> within the last 20 frames
    assert trim(x) == (0, 80, True)
    x[60] = 0.0
    x[59] = 3.0  # 21st frame from the end -> not an anomaly
    assert trim(x).anomaly is False


def test_short_clip_is_always_an_anomaly():
    assert trim([0, 1, 2, 1, 0]) == (0, 5, True)
    assert trim([3.0]) == (0, 1, True)


def test_constant_curve_is_an_anomaly():
    assert trim(np.zeros(50)) == (0, 50, True)


@pytest.mark.parametrize("bad", [[], [[1.0, 2.0]], [0.0, float("nan"), 1.0]])
def test_bad_input_is_a_user_error(bad):
    with pytest.raises(FerEdgeError):
        trim(bad)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=160))
def test_matches_literal_transcription_and_invariants(x):
    span = trim(x)
    assert tuple(span) == _literal(x)
    n = len(x)
    assert 0 <= span.start < span.stop <= n
    if not span.anomaly:
        cut = n - span.length
        assert cut <= n / 2 + 1
        assert span.start <= int(np.argmax(x)) < span.stop
        # The end rule: at least 10 end frames go unless the half-clip cap ended the loop.
        assert n - span.stop >= 10 or cut >= n / 2
