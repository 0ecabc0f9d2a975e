"""Fuzz: bundle manifests (missing keys, wrong types, absurd shapes, unknown kinds/versions, bytes)."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fer_edge.runtime.bundle import Bundle, load_bundle, parse_manifest
from tests.support import fuzzing
from tests.support.ovmodels import cascade_bundle, frame_bundle

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


@pytest.fixture(scope="module", autouse=True)
def _counts():
    yield
    fuzzing.flush()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    return {"frame": frame_bundle(root / "frame"), "cascade": cascade_bundle(root / "cascade")}


def _paths(data):
    """Every (path, parent, key) inside a manifest dict, for mutation."""
    out = []

    def walk(node, path):
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            out.append((path + (key,), node, key))
            walk(value, path + (key,))

    walk(data, ())
    return out


@st.composite
def mutated(draw, base: dict):
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        spots = _paths(data)
        if not spots:
            break
        _, parent, key = draw(st.sampled_from(spots))
        action = draw(st.sampled_from(["drop", "replace", "absurd"]))
        if action == "drop":
            if isinstance(parent, dict):
                del parent[key]
            else:
                parent.pop(key)
        elif action == "replace":
            parent[key] = draw(json_value)
        else:
            parent[key] = draw(
                st.sampled_from(
                    [
                        0,
                        -1,
                        10**9,
                        [10**6, 10**6],
                        [],
                        {},
                        "",
                        "../../etc/passwd",
                        "/etc/passwd",
                        "a" * 300,
                        [1.5, "x"],
                        2,
                        99,
                        "clip3d",
                        True,
                    ]
                )
            )
    return data


@pytest.mark.parametrize("kind", [pytest.param("frame", marks=pytest.mark.slow), "cascade"])
def test_mutated_manifests_end_in_one_line_errors(bundles, kind):
    bundle: Bundle = bundles[kind]
    base = bundle.manifest()

    @SETTINGS
    @given(mutated(base))
    def check(data):
        result = fuzzing.run_case("bundle_manifest", lambda: parse_manifest(data, bundle.path), names="manifest.json")
        if isinstance(result, Bundle):  # accepted: it must be usable, all files inside the bundle
            for role in result.models:
                assert result.model_path(role).resolve().is_relative_to(bundle.path.resolve())

    check()


@SETTINGS
@given(
    st.one_of(
        json_value,
        st.dictionaries(
            st.sampled_from(["format", "name", "kind", "labels", "frame", "window", "models", "provenance"]),
            json_value,
            max_size=8,
        ),
    )
)
def test_random_json_manifests(bundles, data):
    fuzzing.run_case("bundle_manifest", lambda: parse_manifest(data, bundles["frame"].path), names="manifest.json")


@SETTINGS
@given(st.binary(max_size=200))
def test_manifest_file_bytes(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("raw")
    (root / "manifest.json").write_bytes(data)
    fuzzing.run_case("bundle_manifest", lambda: load_bundle(root), names="manifest.json")


@pytest.mark.parametrize("case", ["format 2", "kind", "no models", "bad labels", "huge size", "nan std"])
def test_named_bad_manifests(bundles, case):
    data = bundles["frame"].manifest()
    if case == "format 2":
        data["format"] = 2
    elif case == "kind":
        data["kind"] = "hologram"
    elif case == "no models":
        data["models"] = {}
    elif case == "bad labels":
        data["labels"] = ["happy", "happy", "sad"]
    elif case == "huge size":
        data["frame"]["size"] = [100000, 100000]
    else:
        data["frame"]["std"] = [float("nan")] * 3
    path = bundles["frame"].path
    err = fuzzing.run_case(
        "bundle_manifest", lambda: parse_manifest(json.loads(json.dumps(data)), path), names="manifest.json"
    )
    assert not isinstance(err, Bundle), f"{case} was accepted"
