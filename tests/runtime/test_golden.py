"""Behaviour unchanged: the demo's events, each bundle kind's runtime and offline scores, and
``fer-edge optimize``'s calibration items and metrics match the outputs saved in
``tests/data/golden`` (written by ``python -m tests.support.golden`` before a refactor)."""

from __future__ import annotations

import json

import pytest

from tests.support import golden

ATOL = 5e-4  # event scores are written with 4 decimals
RTOL = 1e-5


def _compare(got, want, where: str = "") -> list[str]:
    """Differences between two JSON values: exact for strings/ints/structure, close for floats."""
    if isinstance(want, dict):
        if not isinstance(got, dict) or sorted(got) != sorted(want):
            return [f"{where}: keys {sorted(got) if isinstance(got, dict) else got!r} != {sorted(want)}"]
        return [d for k in want for d in _compare(got[k], want[k], f"{where}.{k}")]
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{where}: {len(got) if isinstance(got, list) else got!r} items, expected {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in _compare(g, w, f"{where}[{i}]")]
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return [] if abs(got - want) <= ATOL + RTOL * abs(want) else [f"{where}: {got} != {want}"]
    return [] if got == want and type(got) is type(want) else [f"{where}: {got!r} != {want!r}"]


def test_compare_sees_differences():
    assert _compare({"a": [1.0, "x"]}, {"a": [1.0002, "x"]}) == []
    assert _compare({"a": [1.01]}, {"a": [1.0]}) and _compare({"a": ["y"]}, {"a": ["x"]})
    assert _compare({"a": [1, 2]}, {"a": [1]}) and _compare({"b": 1}, {"a": 1}) and _compare(None, 0.5)


@pytest.mark.slow
def test_outputs_match_the_saved_golden_outputs(tmp_path):
    got = json.loads(json.dumps(golden.compute(tmp_path)))
    for name, value in got.items():
        want = json.loads((golden.GOLDEN / f"{name}.json").read_text())
        diffs = _compare(value, want, name)
        assert not diffs, f"{len(diffs)} difference(s) from tests/data/golden/{name}.json: " + "; ".join(diffs[:5])
