"""Hostile inputs, archives: ``bundle pack`` writes only what ``bundle unpack`` accepts (one set of
name and tree rules in ``fer_edge.runtime.archive``), and unpack turns every crafted member into
one line, never a traceback, leaving nothing behind."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime import archive as archive_mod
from fer_edge.runtime.archive import SUMS, pack_bundle, unpack_bundle
from tests.support.ovmodels import frame_bundle


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


@pytest.fixture
def bundle(tmp_path):
    return frame_bundle(tmp_path / "tiny")


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _crafted(path: Path, bundle, extra: list[tuple[tarfile.TarInfo, bytes]], listed: dict[str, bytes]) -> Path:
    """A .tar.gz of the bundle plus ``extra`` members; SUMS lists the bundle and ``listed``."""
    files = {**_tree(bundle.path), **listed}
    sums = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in files.items()).encode()
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        head = tarfile.TarInfo(f"tiny/{SUMS}")
        head.size = len(sums)
        tar.addfile(head, io.BytesIO(sums))
        for rel, data in _tree(bundle.path).items():
            info = tarfile.TarInfo(f"tiny/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data))
    return path


def _member(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(f"tiny/{name}")
    info.size = len(data)
    return info, data


@pytest.mark.parametrize(
    "name, message",
    [
        ("notes\nsecond line.txt", "control character"),
        ("back\rslash.txt", "control character"),
        ("/".join(["d" * 200] * 6) + "/f", "longer than 1024 bytes"),
    ],
)
def test_pack_refuses_what_unpack_refuses(tmp_path, bundle, name, message):
    target = bundle.path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("x")
    with pytest.raises(FerEdgeError, match=message):
        pack_bundle(bundle.path, tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists() and not _leftovers(tmp_path)
    # The same name crafted into an archive is refused by unpack (a line break splits its SUMS line).
    evil = _crafted(tmp_path / "evil.tar.gz", bundle, [_member(name)], {name: b"x"})
    with pytest.raises(FerEdgeError, match=f"{message}|malformed {SUMS} line"):
        unpack_bundle(evil, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)


def test_pack_refuses_a_non_utf8_name(tmp_path, bundle):
    with open(os.path.join(os.fsencode(bundle.path), b"caf\xe9.txt"), "wb") as fh:  # a Latin-1 name
        fh.write(b"x")
    with pytest.raises(FerEdgeError, match=r"not UTF-8.*rename it"):
        pack_bundle(bundle.path, tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists() and not _leftovers(tmp_path)


def test_pack_refuses_more_files_than_unpack_takes(tmp_path, bundle, monkeypatch):
    monkeypatch.setattr(archive_mod, "MAX_MEMBERS", 4)  # the rule, not 10,000 real files
    for i in range(5):
        (bundle.path / f"extra{i}.txt").write_text("x")
    with pytest.raises(FerEdgeError, match=r"more than a bundle holds \(4\)"):
        pack_bundle(bundle.path, tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists() and not _leftovers(tmp_path)


def test_what_pack_writes_unpack_reads(tmp_path, bundle):
    """Names at the limits of the rules round-trip."""
    edge = "é" * 126 + ".t"  # 254 bytes, inside the 255-byte component limit
    (bundle.path / "sub" / "deeper").mkdir(parents=True)
    (bundle.path / "sub" / "deeper" / edge).write_text("x")
    (bundle.path / "with space & 'quote'.txt").write_text("y")
    archive = pack_bundle(bundle.path, tmp_path / "b.tar.gz").archive
    out = unpack_bundle(archive, tmp_path / "out")
    assert _tree(out) == _tree(bundle.path)


def test_unpack_refuses_a_file_then_a_folder_of_the_same_name(tmp_path, bundle):
    evil = _crafted(tmp_path / "evil.tar.gz", bundle, [_member("a"), _member("a/b")], {"a": b"x", "a/b": b"x"})
    with pytest.raises(FerEdgeError, match=r"'a' is both a file and a folder"):
        unpack_bundle(evil, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)


def test_unpack_refuses_a_negative_pax_size(tmp_path, bundle):
    info, data = _member("neg.bin", b"")
    info.pax_headers = {"size": "-5"}
    evil = _crafted(tmp_path / "evil.tar.gz", bundle, [(info, data)], {"neg.bin": b""})
    with pytest.raises(FerEdgeError, match=r"neg\.bin.*(negative|not a complete)"):
        unpack_bundle(evil, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)


def test_unpack_refuses_a_long_member_name(tmp_path, bundle):
    name = "m" * 300
    evil = _crafted(tmp_path / "evil.tar.gz", bundle, [_member(name)], {name: b"x"})
    with pytest.raises(FerEdgeError, match="longer than 255 bytes"):
        unpack_bundle(evil, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)


def test_many_long_names_round_trip(tmp_path, bundle):
    """A SHA256SUMS of 1.1 MB (1,400 files of 746-byte names, inside the limits) unpacks: pack and
    unpack share the bound (it was 1 MiB on unpack and none on pack)."""
    deep = bundle.path / ("d" * 250) / ("e" * 250)
    deep.mkdir(parents=True)
    for i in range(1400):
        (deep / f"{i:04d}{'f' * 240}").write_bytes(b"")
    archive = pack_bundle(bundle.path, tmp_path / "b.tar.gz").archive
    out = unpack_bundle(archive, tmp_path / "out")
    assert len(list((out / ("d" * 250) / ("e" * 250)).iterdir())) == 1400


def test_pack_refuses_more_bytes_than_unpack_takes(tmp_path, bundle, monkeypatch):
    monkeypatch.setattr(archive_mod, "MAX_BYTES", 4096)  # the rule, not 8 GiB of files
    (bundle.path / "data.bin").write_bytes(bytes(5000))
    with pytest.raises(FerEdgeError, match=r"more than a bundle archive takes"):
        pack_bundle(bundle.path, tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists() and not _leftovers(tmp_path)
