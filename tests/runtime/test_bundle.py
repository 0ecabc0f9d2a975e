from __future__ import annotations

import json
import os

import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.core.outputs import MARKER
from fer_edge.runtime.bundle import load_bundle, parse_manifest, staging
from tests.support.ovmodels import cascade_bundle, frame_bundle


def _manifest(root):
    return json.loads((root / "manifest.json").read_text())


def test_round_trip(tmp_path):
    b = frame_bundle(tmp_path / "b")
    loaded = load_bundle(tmp_path / "b")
    assert loaded.manifest() == b.manifest()
    assert loaded.model_path("frame", "fp16").name == "frame-fp16.xml"
    assert loaded.model_path("frame").name == "frame.xml"
    with pytest.raises(FerEdgeError, match="no INT8 frame model"):
        loaded.model_path("frame", "INT8")


def test_cascade_round_trip(tmp_path):
    b = cascade_bundle(tmp_path / "c")
    assert load_bundle(tmp_path / "c").window == b.window


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: m.update(format=2), "format 2 is not supported"),
        (lambda m: m.pop("labels"), "missing key 'labels'"),
        (lambda m: m.update(kind="video"), "unknown kind 'video'"),
        (lambda m: m.update(labels=["a", "a", "b"]), "distinct"),
        (lambda m: m.update(labels=["a", "b"]), "3 outputs but 2 labels"),
        (lambda m: m["frame"].update(size=[32]), "height, width"),
        (lambda m: m["frame"].update(color="HSV"), "frame.color"),
        (lambda m: m["frame"].update(std=[1, 0, 1]), "positive"),
        (lambda m: m["frame"].update(mean=[0.5]), "3 numbers"),
        (lambda m: m["window"].update(min_frames=10, length=3), "exceeds"),
        (lambda m: m["window"].update(length="5"), "window.length"),
        (lambda m: m["models"].pop("frame"), "missing frame"),
        (lambda m: m["models"]["frame"].update(file="../outside.xml"), "outside the bundle"),
        (lambda m: m["models"]["frame"].update(file="/etc/passwd.xml"), "outside the bundle"),
        (lambda m: m["models"]["frame"].update(file="gone.xml"), "missing"),
        (lambda m: m["models"]["frame"].update(file="frame.txt"), "expected one of"),
        (lambda m: m["models"]["frame"].update(precision="INT4"), "precision"),
        (lambda m: m.update(provenance=[]), "provenance"),
    ],
)
def test_bad_manifests_are_one_line_errors(tmp_path, mutate, message):
    root = tmp_path / "b"
    frame_bundle(root)
    data = _manifest(root)
    mutate(data)
    (root / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(FerEdgeError, match=message) as info:
        load_bundle(root)
    assert "\n" not in str(info.value)
    assert "manifest.json" in str(info.value)


def test_missing_bin_and_symlink_escape(tmp_path):
    root = tmp_path / "b"
    frame_bundle(root)
    (root / "frame-fp16.bin").unlink()
    with pytest.raises(FerEdgeError, match="no weights file"):
        load_bundle(root)
    outside = tmp_path / "evil.xml"
    outside.write_text("<net/>")
    root2 = tmp_path / "b2"
    frame_bundle(root2)
    os.symlink(outside, root2 / "link.xml")
    data = _manifest(root2)
    data["models"]["frame"]["file"] = "link.xml"
    with pytest.raises(FerEdgeError, match="resolves outside"):
        parse_manifest(data, root2)


def test_not_a_bundle(tmp_path):
    with pytest.raises(FerEdgeError, match="bundle not found"):
        load_bundle(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FerEdgeError, match="no manifest.json"):
        load_bundle(tmp_path / "empty")
    (tmp_path / "empty" / "manifest.json").write_text("{not json")
    with pytest.raises(FerEdgeError, match="not valid JSON"):
        load_bundle(tmp_path / "empty")


def test_cascade_feature_mismatch(tmp_path):
    root = tmp_path / "c"
    cascade_bundle(root)
    data = _manifest(root)
    data["models"]["temporal"]["input"] = [8, 16]
    with pytest.raises(FerEdgeError, match="8 features but the temporal model takes 16"):
        parse_manifest(data, root)


def test_staging_replaces_only_on_success(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(FerEdgeError, match="not created by fer-edge; pass --force"), staging(out):
        pass  # a folder fer-edge did not create is never replaced without --force
    (out / MARKER).write_text("")
    with pytest.raises(FerEdgeError, match="is not a fer-edge bundle; pass --force"), staging(out):
        pass  # a run folder holds a run's other outputs: a bundle never replaces it
    (out / MARKER).unlink()
    (out / "manifest.json").write_text('{"format": 1, "models": {}}')  # a bundle: ours to replace
    with pytest.raises(RuntimeError), staging(out) as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError("boom")
    assert (out / "old.txt").exists() and not (out / "new.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    with staging(out) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    with staging(out, force=True) as tmp:  # not a bundle any more: only --force replaces it
        (tmp / "newer.txt").write_text("newer")
    assert sorted(p.name for p in out.iterdir()) == ["newer.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
