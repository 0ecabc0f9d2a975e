"""Bundles as ``.tar.gz`` archives, to move a model from a workstation to a fleet of devices.

Layout: one top-level folder named after the bundle; its first member is ``SHA256SUMS``
(``sha256sum`` format: ``<hex>  <path>`` per line) listing every other member, which follow
sorted by path. The checksums live in that file rather than in ``manifest.json`` because the
manifest cannot hash itself, packing then leaves the bundle untouched, and a device can check
an unpacked copy with the standard ``sha256sum -c SHA256SUMS``.

Unpacking reads the archive as a stream and trusts nothing in it: only regular files under the
top folder, listed in ``SHA256SUMS`` and matching it, each name free of ``..``, absolute paths
and links, within a byte budget and the free disk space. It writes into a temporary sibling
and renames it into place only when every file checked out and the manifest loads.

Archives are reproducible: the same bundle packs to the same bytes (sorted members, zero
times and owners, no name in the gzip header).

Example:
    >>> pack_bundle("runs/fer", "fer.tar.gz")  # doctest: +SKIP
    >>> unpack_bundle("fer.tar.gz", "/opt/fer-edge/bundles/fer")  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fer_edge.core.assets import sha256
from fer_edge.core.atomic import save_via, write_error
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.bundle import load_bundle, staging

SUMS = "SHA256SUMS"
MAX_BYTES = 8 << 30  # no edge bundle comes near this; a larger archive is refused as a bomb
MAX_MEMBERS = 10_000
_DISK_MARGIN = 64 << 20  # leave the device this much free space
_BLOCK = 1 << 20
_BAD_GZIP = getattr(gzip, "BadGzipFile", OSError)  # Python 3.8+; 3.7's gzip raises OSError
_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")  # sha256sum's text and binary forms


@dataclass
class PackResult:
    """What :func:`pack_bundle` wrote."""

    archive: Path
    files: int
    bytes: int
    sha256: str


MAX_NAME = 1024  # bytes of a path inside the bundle; PATH_MAX is 4096 with the device's folder in front
MAX_PART = 255  # bytes of one path component: the limit of ext4, tmpfs, FAT and exFAT


def _max_sums() -> int:
    """The largest SHA256SUMS unpack reads: what pack writes for the most and longest names it allows."""
    return MAX_MEMBERS * (64 + 2 + MAX_NAME + 1)


def _safe_rel(name: str, what: str, fix: str = "refusing the archive") -> str:
    """``name`` as a relative POSIX path that stays inside its folder and that every device can
    write, else an error; the one name rule of :func:`pack_bundle` and :func:`unpack_bundle`.

    Refused: absolute paths, ``.``/``..``/empty components, backslashes, control characters
    (a newline would split a ``SHA256SUMS`` line), names that are not UTF-8, a component over
    :data:`MAX_PART` bytes or a path over :data:`MAX_NAME` bytes.
    """
    shown = name.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")[:120]
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:  # a file name that is not UTF-8 on disk (surrogate escapes)
        raise FerEdgeError(f"{what} {shown!r} is not UTF-8; {fix}") from None
    parts = PurePosixPath(name).parts
    problem = ""
    if not name or name.startswith("/") or not parts or any(p in ("", ".", "..") for p in name.split("/")):
        problem = "is not a plain relative path (absolute, '..' or empty parts)"
    elif "\\" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        problem = "is not a plain relative path (a backslash or a control character such as a newline)"
    elif size > MAX_NAME:
        problem = f"is longer than {MAX_NAME} bytes"
    elif any(len(p.encode("utf-8")) > MAX_PART for p in parts):
        problem = f"has a part longer than {MAX_PART} bytes"
    if problem:
        raise FerEdgeError(f"{what} {shown!r} {problem}; {fix}")
    return "/".join(parts)


def _check_tree(names: list[str], where: str, fix: str) -> None:
    """The set of files a bundle archive may hold: at most :data:`MAX_MEMBERS`, and no name is
    both a file and a folder (``a`` and ``a/b``); shared by pack and unpack."""
    if len(names) > MAX_MEMBERS:
        raise FerEdgeError(f"{where}: {len(names)} files is more than a bundle holds ({MAX_MEMBERS}); {fix}")
    files = set(names)
    for name in names:
        parts = name.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder in files:
                raise FerEdgeError(f"{where}: {folder!r} is both a file and a folder ({name!r}); {fix}")


_PACK_FIX = "rename it (or move it out of the bundle) and pack again"


def _bundle_files(root: Path) -> list[str]:
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in PurePosixPath(rel).parts) or rel == SUMS:
            continue  # staging leftovers and hidden files are not the bundle; SUMS is rewritten
        if path.is_symlink() or not (path.is_dir() or path.is_file()):
            raise FerEdgeError(
                f"{path} is a link or special file; a bundle packs regular files only, copy the target in instead"
            )
        if path.is_file():
            files.append(_safe_rel(rel, f"{root}: file", _PACK_FIX))
    _check_tree(files, str(root), "a bundle is a model, not a data set: move the extra files out")
    return files


class _Hashing(io.RawIOBase):
    """A file read through once while hashing, so a file changed since SUMS was written is caught."""

    def __init__(self, fh) -> None:
        self._fh, self.digest = fh, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._fh.readinto(buffer)
        self.digest.update(memoryview(buffer)[:n])
        return n


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime, info.type = size, 0o644, 0, tarfile.REGTYPE
    return info


def pack_bundle(path: str | os.PathLike, out: str | os.PathLike | None = None, *, force: bool = False) -> PackResult:
    """Write the bundle at ``path`` as a checksummed ``.tar.gz`` (default ``<bundle>.tar.gz``).

    Raises:
        FerEdgeError: not a valid bundle, a link inside it, or ``out`` exists without ``force``.
    """
    bundle = load_bundle(path)
    root = bundle.path.resolve()
    top = _safe_rel(root.name, "bundle folder", _PACK_FIX)
    out = Path(out) if out else root.with_name(f"{root.name}.tar.gz")
    if out.resolve().is_relative_to(root):
        raise FerEdgeError(f"{out} is inside the bundle it packs; write it elsewhere")
    if out.exists() and not force:
        raise FerEdgeError(f"{out} exists; pass --force to replace it or choose another -o")
    files = _bundle_files(root)
    size = sum((root / rel).stat().st_size for rel in files)
    if size > MAX_BYTES:  # unpack refuses more, as a bomb
        raise FerEdgeError(
            f"{root} holds {size / 2**30:.1f} GiB, more than a bundle archive takes ({MAX_BYTES / 2**30:.0f} GiB); "
            "move data out of the bundle"
        )
    sums = {rel: sha256(root / rel) for rel in files}
    listing = "".join(f"{digest}  {rel}\n" for rel, digest in sums.items()).encode()
    total = 0

    def write(tmp: Path) -> None:
        nonlocal total
        # Nested, not one parenthesised `with` (Python 3.9+): unpack runs on the NCS2's Python 3.7.
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                tar.addfile(_info(f"{top}/{SUMS}", len(listing)), io.BytesIO(listing))
                for rel in files:
                    size = (root / rel).stat().st_size
                    with open(root / rel, "rb") as fh:
                        reader = _Hashing(fh)
                        tar.addfile(_info(f"{top}/{rel}", size), io.BufferedReader(reader, _BLOCK))
                    if reader.digest.hexdigest() != sums[rel]:
                        raise FerEdgeError(f"{root / rel} changed while packing; pack again when it is complete")
                    total += size

    save_via(out, write)
    return PackResult(out, len(files), total, sha256(out))


def _parse_sums(text: bytes, archive: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    try:
        lines = text.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise FerEdgeError(f"{archive}: {SUMS} is not text; refusing the archive") from None
    for line in lines:
        match = _LINE.fullmatch(line)
        if not match:
            raise FerEdgeError(f"{archive}: malformed {SUMS} line {line[:80]!r}; refusing the archive")
        digest, rel = match.group(1), _safe_rel(match.group(2), f"{SUMS} entry")
        if rel in sums or rel == SUMS:
            raise FerEdgeError(f"{archive}: {SUMS} lists {rel!r} twice; refusing the archive")
        sums[rel] = digest
    _check_tree(list(sums), str(archive), "refusing the archive")
    return sums


def _member(member: tarfile.TarInfo, top: str, archive: Path) -> str:
    """The path of ``member`` inside the bundle; only regular files under ``top`` pass."""
    if not member.isreg():
        kind = (
            "symlink"
            if member.issym()
            else "hardlink"
            if member.islnk()
            else "directory"
            if member.isdir()
            else "device or fifo"
        )
        raise FerEdgeError(
            f"{archive}: member {member.name!r} is a {kind}; a bundle archive holds regular files only, refusing it"
        )
    rel = _safe_rel(member.name, "member")
    if member.size < 0:  # a pax header can say so; tarfile passes it through
        raise FerEdgeError(f"{archive}: member {member.name!r} has a negative size; refusing the archive")
    head, _, inside = rel.partition("/")
    if head != top or not inside:
        raise FerEdgeError(f"{archive}: member {member.name!r} is outside the archive's folder {top!r}; refusing it")
    return inside


def _copy(src, dst, size: int) -> str:
    digest, left = hashlib.sha256(), size
    while left:
        block = src.read(min(_BLOCK, left))
        if not block:
            raise EOFError("member data ends early")
        digest.update(block)
        dst.write(block)
        left -= len(block)
    return digest.hexdigest()


def unpack_bundle(
    archive: str | os.PathLike, out: str | os.PathLike | None = None, *, force: bool = False, max_bytes: int = MAX_BYTES
) -> Path:
    """Check and unpack an archive written by :func:`pack_bundle` into ``out``.

    ``out`` defaults to the archive's folder name in the current directory. An existing
    ``out`` is replaced only with ``force`` and only when it is a bundle itself.

    Raises:
        FerEdgeError: a damaged or tampered archive, a path trick, a member not listed or
            failing its checksum, more than ``max_bytes`` or than the free disk space.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise FerEdgeError(f"archive not found: {archive}; check the path")
    try:
        with tarfile.open(archive, mode="r|gz") as tar:
            return _unpack(tar, archive, out, force, max_bytes)
    except (tarfile.TarError, EOFError, zlib.error, _BAD_GZIP) as exc:
        raise FerEdgeError(
            f"{archive} is not a complete .tar.gz ({type(exc).__name__}: {str(exc)[:120]}); copy it again"
        ) from None
    except OSError as exc:  # the device's disk: full, read-only, a quota, a file-size limit
        raise write_error(Path(out) if out is not None else Path.cwd(), exc) from None


def _unpack(tar: tarfile.TarFile, archive: Path, out: str | os.PathLike | None, force: bool, max_bytes: int) -> Path:
    first = tar.next()
    top = PurePosixPath(first.name).parts[0] if first is not None and first.name else ""
    if first is None or not first.isreg() or first.name != f"{top}/{SUMS}" or first.size > _max_sums():
        raise FerEdgeError(f"{archive} does not start with <folder>/{SUMS}; it was not written by fer-edge bundle pack")
    top = _safe_rel(top, "archive folder")
    sums = _parse_sums(tar.extractfile(first).read(), archive)
    out = Path(out) if out is not None else Path(top)
    if out.exists() and not force:
        raise FerEdgeError(f"{out} exists; pass --force to replace it or choose another -o")
    if out.exists() and not (out / "manifest.json").is_file():
        raise FerEdgeError(f"{out} exists and is not a bundle; refusing to replace it, choose another -o")
    with staging(out, inputs=[archive], force=force, what="-o") as tmp:
        seen: set[str] = set()
        written = 0
        while True:  # tar.next(), not iteration: iterating a stream yields SUMS again
            member = tar.next()
            if member is None:
                break
            rel = _member(member, top, archive)
            if rel not in sums:
                raise FerEdgeError(f"{archive}: member {rel!r} is not listed in {SUMS}; refusing the archive")
            if rel in seen:
                raise FerEdgeError(f"{archive}: member {rel!r} appears twice; refusing the archive")
            if member.size > max_bytes - written:
                raise FerEdgeError(
                    f"{archive} unpacks to more than {max_bytes / 2**30:.1f} GiB; refusing it "
                    "(not a bundle, or a damaged archive)"
                )
            free = shutil.disk_usage(tmp).free
            if member.size > free - _DISK_MARGIN:
                raise FerEdgeError(
                    f"not enough disk space for {archive} at {out.parent.resolve()} "
                    f"({free / 2**20:.0f} MiB free); free some and try again"
                )
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, open(dest, "xb") as dst:
                digest = _copy(src, dst, member.size)
            if digest != sums[rel]:
                raise FerEdgeError(
                    f"{archive}: {rel} fails its sha256 check (tampered or damaged); refusing the archive"
                )
            os.chmod(dest, 0o644)
            seen.add(rel)
            written += member.size
        missing = sorted(set(sums) - seen)
        if missing:
            raise FerEdgeError(f"{archive} lacks {', '.join(missing[:3])} listed in {SUMS} (truncated?); copy it again")
        try:
            load_bundle(tmp)
        except FerEdgeError as exc:
            raise FerEdgeError(f"{archive} holds no valid bundle: {exc}") from None
    return out
