"""``fer-edge bundle pack/unpack``: checksummed, reproducible archives; unpack refuses every trick."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.archive import SUMS, pack_bundle, unpack_bundle
from fer_edge.runtime.bundle import load_bundle
from tests.support.ovmodels import frame_bundle


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


@pytest.fixture
def bundle(tmp_path):
    b = frame_bundle(tmp_path / "tiny")
    (b.path / "report").mkdir()
    (b.path / "report" / "notes.txt").write_text("sub-folders travel too\n")
    return b


def test_round_trip_is_exact_and_reproducible(tmp_path, bundle, monkeypatch):
    first = pack_bundle(bundle.path, tmp_path / "a.tar.gz")
    second = pack_bundle(bundle.path, tmp_path / "b.tar.gz")
    assert first.files == 6 and first.sha256 == second.sha256  # same bundle, same bytes
    with tarfile.open(first.archive) as tar:
        names = tar.getnames()
        listing = tar.extractfile(names[0]).read().decode()
    assert names[0] == f"tiny/{SUMS}" and names[1:] == sorted(names[1:])
    for line in listing.splitlines():
        digest, rel = line.split("  ")
        assert hashlib.sha256((bundle.path / rel).read_bytes()).hexdigest() == digest
    monkeypatch.chdir(tmp_path)
    (tmp_path / "device").mkdir()
    monkeypatch.chdir(tmp_path / "device")
    out = unpack_bundle(first.archive)
    assert out == Path("tiny") and _tree(out) == _tree(bundle.path)
    assert load_bundle(out).name == bundle.name and not _leftovers(Path("."))


def test_existing_outputs_are_kept(tmp_path, bundle):
    archive = pack_bundle(bundle.path, tmp_path / "b.tar.gz").archive
    with pytest.raises(FerEdgeError, match="exists; pass --force"):
        pack_bundle(bundle.path, archive)
    with pytest.raises(FerEdgeError, match="inside the bundle"):
        pack_bundle(bundle.path, bundle.path / "self.tar.gz")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("not a bundle")
    with pytest.raises(FerEdgeError, match="exists; pass --force"):
        unpack_bundle(archive, mine)
    with pytest.raises(FerEdgeError, match="is not a bundle; refusing to replace it"):
        unpack_bundle(archive, mine, force=True)
    assert (mine / "thesis.tex").read_text() == "not a bundle"
    old = frame_bundle(tmp_path / "old", labels=("a", "b", "c"))
    unpack_bundle(archive, old.path, force=True)  # an older copy of a bundle is replaced
    assert load_bundle(old.path).labels == bundle.labels and not _leftovers(tmp_path)


def test_pack_refuses_links(tmp_path, bundle):
    (bundle.path / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(FerEdgeError, match="link or special file"):
        pack_bundle(bundle.path, tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists() and not _leftovers(tmp_path)


def _archive(
    path: Path, members: list[tuple[tarfile.TarInfo, bytes]], listing: dict[str, bytes] | None = None, top: str = "tiny"
) -> Path:
    """A .tar.gz whose first member is a SUMS listing ``listing`` (default: the regular members)."""
    if listing is None:
        listing = {m.name.split("/", 1)[1]: data for m, data in members if m.isreg()}
    sums = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in listing.items()).encode()
    with tarfile.open(path, "w:gz") as tar:
        head = tarfile.TarInfo(f"{top}/{SUMS}")
        head.size = len(sums)
        tar.addfile(head, io.BytesIO(sums))
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def _file(name: str, data: bytes = b"x", **attrs) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def _good(bundle) -> list[tuple[tarfile.TarInfo, bytes]]:
    return [_file(f"tiny/{rel}", data) for rel, data in _tree(bundle.path).items()]


@pytest.mark.parametrize(
    "trick, message",
    [
        (lambda good: good + [_file("/etc/cron.d/evil")], "not a plain relative path"),
        (lambda good: good + [_file("tiny/../../evil")], "not a plain relative path"),
        (lambda good: good + [_file("other/frame.xml")], "outside the archive's folder"),
        (lambda good: good + [_file("tiny/link", b"", type=tarfile.SYMTYPE, linkname="/etc/passwd")], "is a symlink"),
        (
            lambda good: good + [_file("tiny/hard", b"", type=tarfile.LNKTYPE, linkname="tiny/frame.xml")],
            "is a hardlink",
        ),
        (lambda good: good + [_file("tiny/dev", b"", type=tarfile.CHRTYPE, devmajor=1, devminor=3)], "device or fifo"),
        (lambda good: good + [_file("tiny/extra.bin")], "'extra.bin' is not listed"),
        (lambda good: good + [good[0]], "appears twice"),
    ],
)
def test_unpack_refuses_path_tricks(tmp_path, bundle, trick, message):
    good = _good(bundle)
    listing = {m.name.split("/", 1)[1]: d for m, d in good}
    evil = _archive(tmp_path / "evil.tar.gz", trick(good), listing)
    with pytest.raises(FerEdgeError, match=message):
        unpack_bundle(evil, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)


def test_unpack_refuses_tampering_and_damage(tmp_path, bundle):
    good = _good(bundle)
    listing = {m.name.split("/", 1)[1]: d for m, d in good}
    tampered = [
        (info, data if not info.name.endswith("manifest.json") else data.replace(b"happy", b"angry"))
        for info, data in good
    ]
    cases = {
        "fails its sha256 check": _archive(tmp_path / "t.tar.gz", tampered, listing),
        "lacks": _archive(tmp_path / "m.tar.gz", good[1:], listing),
        "holds no valid bundle": _archive(tmp_path / "n.tar.gz", [g for g in good if "manifest" not in g[0].name]),
        "does not start with": _archive(tmp_path / "s.tar.gz", good, listing, top="tiny/.."),
    }
    whole = (tmp_path / "t.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(whole[: len(whole) // 2])
    cases["not a complete .tar.gz"] = tmp_path / "cut.tar.gz"
    (tmp_path / "plain.tar.gz").write_bytes(gzip.compress(b"just text, not a tar"))
    cases["not a complete .tar.gz|does not start"] = tmp_path / "plain.tar.gz"
    for message, archive in cases.items():
        with pytest.raises(FerEdgeError, match=message):
            unpack_bundle(archive, tmp_path / "out")
        assert not (tmp_path / "out").exists() and not _leftovers(tmp_path), message


def test_unpack_refuses_size_bombs(tmp_path, bundle):
    archive = pack_bundle(bundle.path, tmp_path / "b.tar.gz").archive
    with pytest.raises(FerEdgeError, match="unpacks to more than"):
        unpack_bundle(archive, tmp_path / "out", max_bytes=1000)
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)


def test_cli_pack_and_unpack(tmp_path, bundle, capsys):
    assert main(["bundle", "pack", str(bundle.path), "-o", str(tmp_path / "b.tar.gz")]) == 0
    assert "next: copy it to the device" in capsys.readouterr().out
    assert main(["bundle", "unpack", str(tmp_path / "b.tar.gz"), "-o", str(tmp_path / "pi" / "tiny")]) == 0
    assert f"fer-edge demo --bundle {tmp_path / 'pi' / 'tiny'}" in capsys.readouterr().out
    assert main(["bundle", "unpack", str(tmp_path / "nope.tar.gz")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "archive not found" in err
