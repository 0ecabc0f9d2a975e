"""Outputs: the one atomic-write convention and the one policy of what fer-edge may replace.

Every file or folder fer-edge writes goes to a temporary sibling ``.<name>.tmp-<pid>`` (or
``.<stem>.tmp-<pid><suffix>`` where a library picks the format from the suffix) and is renamed
over the target when complete; the temporary is removed on every failure path, and those left
by killed runs (their pid is gone) are removed on the next write of the same output.

The output policy (:func:`check_output`, :func:`run_folder`, :func:`staging_dir`):

* fer-edge replaces only what it created: a bundle (a folder with a fer-edge
  ``manifest.json``) is replaced by a bundle; a run folder (a folder holding the
  :data:`MARKER` file fer-edge writes when it creates one) is written into, and the files in
  it (or in its subfolders) are replaced; anything else that exists is refused with one line
  naming ``--force``;
* an output never equals, contains or lies inside one of the command's inputs (not even with
  ``--force``), and never contains the working directory or the home folder;
* devices, FIFOs and sockets are refused as outputs (renaming over them would replace the
  device node; opening a FIFO blocks until someone reads it), as is a folder where a file is
  expected and a file where a folder is expected.

numpy-free and import-light: the edge runtime uses it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Union

from fer_edge.errors import FerEdgeError

MARKER = ".fer-edge-run"
"""File fer-edge writes into every run folder it creates; its presence makes the folder ours."""

PathLike = Union[str, "os.PathLike[str]"]


def temp_path(path: PathLike, *, keep_suffix: bool = False) -> Path:
    """The temporary sibling of ``path`` for this process.

    Args:
        path: the final output.
        keep_suffix: keep the extension last (``.clip.tmp-12.mp4``) for writers that choose
            the format from it (OpenCV, matplotlib, Keras).

    Example:
        >>> temp_path("runs/x/events.jsonl", keep_suffix=False).name
        '.events.jsonl.tmp-...'
    """
    path = Path(path)
    if keep_suffix and path.suffix:
        return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or not a pid at all: leave it alone
    return True


def clean_stale(path: PathLike) -> list[Path]:
    """Remove temporaries of ``path`` left by killed runs (pid no longer alive).

    Returns:
        The removed paths.
    """
    path = Path(path)
    folder = path.parent
    name, stem, suffix = path.name, path.stem, path.suffix
    patterns = [re.compile(rf"^\.{re.escape(name)}\.(?:tmp|old)-(\d+)$")]
    if suffix:
        patterns.append(re.compile(rf"^\.{re.escape(stem)}\.tmp-(\d+){re.escape(suffix)}$"))
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        for pattern in patterns:
            match = pattern.match(entry.name)
            if match and not _alive(int(match.group(1))):
                _remove(Path(entry.path))
                removed.append(Path(entry.path))
                break
    return removed


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


# --- the output policy ------------------------------------------------------------------------


def is_special(path: PathLike) -> bool:
    """True for an existing device, FIFO or socket (anything not a regular file or folder)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def is_run_folder(path: PathLike) -> bool:
    """True if ``path`` is, or lies inside, a run folder fer-edge created (one holding :data:`MARKER`)."""
    path = Path(path).absolute()
    return any((p / MARKER).is_file() for p in (path, *path.parents))


def is_bundle(path: PathLike) -> bool:
    """True if the folder ``path`` holds a fer-edge bundle manifest (a JSON object with format and models)."""
    manifest = Path(path) / "manifest.json"
    if not manifest.is_file():
        return False
    from fer_edge.fileio import read_json

    try:
        data = read_json(manifest, "bundle manifest", max_bytes=16_000_000)
    except FerEdgeError:
        return False
    return isinstance(data, dict) and "format" in data and isinstance(data.get("models"), dict)


def is_ours(path: PathLike) -> bool:
    """True if fer-edge created the folder ``path``: a run folder (or inside one) or a bundle."""
    return is_run_folder(path) or is_bundle(path)


def _flag(what: str) -> str:
    return f"pass --force to replace it or choose another {what}"


def check_output(
    path: PathLike,
    *,
    inputs: Iterable[PathLike | None] = (),
    force: bool = False,
    folder: bool = False,
    replace: bool = True,
    what: str = "--out",
) -> Path:
    """Apply the output policy to ``path`` before anything is written; returns it as a Path.

    Args:
        path: the file or folder the command will write (or replace).
        inputs: the command's inputs; ``path`` may not equal, contain or lie inside any of them.
        force: replace an existing output fer-edge did not create.
        folder: ``path`` is a folder (a bundle, a frame folder) rather than a file.
        replace: the folder is replaced as a whole (a bundle); False for a run folder that
            files are written into, which may then contain inputs (``runs/x/pre``).
        what: the option naming it, for the message (``--out``, ``--events``...).

    Raises:
        FerEdgeError: one line naming ``path``, why it is refused and the fix.

    Example:
        >>> check_output("runs/demo/events.jsonl", what="--events")  # doctest: +SKIP
        PosixPath('runs/demo/events.jsonl')
    """
    raw = os.fspath(path)
    if not str(raw).strip():
        raise FerEdgeError(f"{what} is empty; give a path")
    path = Path(raw).expanduser()
    if "\x00" in str(path):
        raise FerEdgeError(f"{what} {str(path)!r} contains a NUL character")
    target = path.resolve()
    for inp in inputs:
        if not isinstance(inp, (str, os.PathLike)) or not os.fspath(inp):
            continue  # no input, or a camera index
        src = Path(inp).expanduser().resolve()
        if target == src:
            raise FerEdgeError(f"{what} {path} is also an input; choose another {what}")
        if src.is_relative_to(target) and replace:
            raise FerEdgeError(f"{what} {path} contains the input {inp}; choose another {what}")
        if target.is_relative_to(src) and src.is_dir():
            raise FerEdgeError(f"{what} {path} is inside the input {inp}; choose another {what}")
    for keep, name in ((Path.cwd(), "the working directory"), (Path.home(), "your home folder")):
        with contextlib.suppress(OSError, RuntimeError):
            if keep.resolve().is_relative_to(target) and replace and (folder or target.is_dir()):
                raise FerEdgeError(f"{what} {path} contains {name}; choose another {what}")
    if is_special(path):
        raise FerEdgeError(f"{what} {path} is a device, FIFO or socket, not a file; give a regular file path")
    if path.is_symlink() and not path.exists():
        raise FerEdgeError(f"{what} {path} is a dangling symlink; remove it or choose another {what}")
    if folder:
        if path.exists() and not path.is_dir():
            raise FerEdgeError(f"{what} {path} is a file, not a folder; choose another {what}")
        # A folder replaced as a whole must be a bundle: a run folder holds a run's other outputs.
        ours = is_bundle(path) if replace else is_ours(path)
        if path.is_dir() and not force and not ours and any(path.iterdir()):
            kind = "is not a fer-edge bundle" if replace and is_run_folder(path) else "was not created by fer-edge"
            raise FerEdgeError(f"{what} {path} exists and {kind}; {_flag(what)}")
        return path
    if path.is_dir():
        raise FerEdgeError(f"{what} {path} is a folder; give a file name (e.g. {path / 'out'}...)")
    if path.exists() and not force and not is_run_folder(path.parent):
        raise FerEdgeError(f"{what} {path} exists and was not written by fer-edge; {_flag(what)}")
    return path


def mark(folder: PathLike) -> Path:
    """Create ``folder`` if needed and write :data:`MARKER` into it (it becomes a run folder)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / MARKER
        if not marker.is_file():
            marker.write_text("written by fer-edge; it may replace files in this folder\n", encoding="utf-8")
    except OSError as exc:
        raise FerEdgeError(f"cannot create folder {folder} ({exc.strerror}); choose a writable folder") from None
    return folder


def run_folder(
    folder: PathLike, *, inputs: Iterable[PathLike | None] = (), force: bool = False, what: str = "--out"
) -> Path:
    """Check and create a run folder fer-edge writes files into (resuming if it is ours).

    An existing folder is accepted when fer-edge created it or it is empty; other folders are
    refused unless ``force``. The folder gets :data:`MARKER`. Callers choosing a default
    (``runs/demo``, ``runs/demo2``...) can test candidates with :func:`is_ours`.
    """
    folder = check_output(folder, inputs=inputs, force=force, folder=True, replace=False, what=what)
    return mark(folder)


def new_run_folder(base: PathLike, *, limit: int = 10_000) -> Path:
    """Create and mark the first free run folder of ``base``, ``base2``, ``base3``... (default outputs).

    Example:
        >>> new_run_folder("runs/demo")  # doctest: +SKIP
        PosixPath('runs/demo2')
    """
    base = Path(base)
    for i in range(1, limit + 1):
        folder = base if i == 1 else base.with_name(f"{base.name}{i}")
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            continue
        except OSError as exc:
            raise FerEdgeError(f"cannot create folder {folder} ({exc.strerror}); choose a writable --out") from None
        return mark(folder)
    raise FerEdgeError(f"{base} and {limit - 1} numbered siblings exist; pass --out or clean up old runs")


# --- atomic writers ---------------------------------------------------------------------------


def _mkparent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise FerEdgeError(f"cannot write {path}: {path.parent} is a file, not a folder") from None
    except OSError as exc:
        raise FerEdgeError(f"cannot create folder {path.parent} ({exc.strerror}); choose a writable path") from None


def _prepare_file(path: PathLike) -> Path:
    """Before writing a file at ``path``: refuse a folder or special file there, create the
    parent, and remove temporaries that killed runs left for it."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise FerEdgeError(f"cannot write {path}: it is a folder; choose a file name")
    if is_special(path):
        raise FerEdgeError(f"cannot write {path}: it is a device, FIFO or socket; choose a regular file")
    _mkparent(path)
    clean_stale(path)
    return path


def save_via(path: PathLike, save: Callable[[Path], Any], *, keep_suffix: bool = False) -> Path:
    """Call ``save(temp)`` and rename the temporary over ``path``; the temp never outlives a failure.

    Example:
        >>> save_via("runs/x/curves.png", lambda p: fig.savefig(p), keep_suffix=True)  # doctest: +SKIP
    """
    path = _prepare_file(path)
    tmp = temp_path(path, keep_suffix=keep_suffix)
    try:
        save(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, FerEdgeError):
            raise FerEdgeError(f"cannot write {path} ({exc.strerror or exc}); choose a writable path") from None
        raise
    return path


def write_text(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return save_via(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return save_via(path, lambda tmp: tmp.write_bytes(data))


def write_json(path: PathLike, data: Any, *, indent: int | None = 2) -> Path:
    """Write ``data`` as JSON to ``path`` atomically."""
    return write_text(path, json.dumps(data, indent=indent) + "\n")


@contextlib.contextmanager
def open_atomic(path: PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """``open()`` on the temporary; renamed over ``path`` when the block ends without error.

    Example:
        >>> with open_atomic("runs/x/errors.csv", newline="") as fh:  # doctest: +SKIP
        ...     csv.writer(fh).writerows(rows)
    """
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    holder: list[IO] = []

    def save(tmp: Path) -> None:
        holder.append(open(tmp, mode, **kwargs))  # noqa: SIM115 - closed below, before the rename

    path = _prepare_file(path)
    tmp = temp_path(path)
    try:
        save(tmp)
        with holder[0] as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        if holder and not holder[0].closed:
            holder[0].close()
        _remove(tmp)
        raise


class AtomicFile:
    """A file written over a long run (events) and renamed on :meth:`close`; :meth:`abort` drops it."""

    def __init__(self, path: PathLike, mode: str = "w", **kwargs: Any) -> None:
        self.path = _prepare_file(path)
        self.temp = temp_path(self.path)
        if "b" not in mode:
            kwargs.setdefault("encoding", "utf-8")
        try:
            self.fh: IO = open(self.temp, mode, **kwargs)  # noqa: SIM115 - closed in close/abort
        except OSError as exc:
            raise FerEdgeError(f"cannot write {self.path} ({exc.strerror}); choose a writable path") from None

    def close(self) -> Path:
        if not self.fh.closed:
            self.fh.close()
            os.replace(self.temp, self.path)
        return self.path

    def abort(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        _remove(self.temp)


@contextlib.contextmanager
def staging_dir(out: PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder that replaces ``out`` only when the block succeeds.

    The caller applies :func:`check_output` (``folder=True``) first; this only does the
    mechanics: a killed or failed write never leaves a half folder at ``out``, nor the temp.

    Example:
        >>> with staging_dir("runs/my_bundle") as tmp:  # doctest: +SKIP
        ...     (tmp / "frame.xml").write_text(...)
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FerEdgeError(f"cannot write folder {out}: a file of that name exists; choose another path")
    _mkparent(out)
    clean_stale(out)
    tmp = temp_path(out)
    _remove(tmp)
    try:
        tmp.mkdir()
    except OSError as exc:
        raise FerEdgeError(f"cannot write in {out.parent} ({exc.strerror}); choose a writable folder") from None
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    replace_folder(tmp, out)


def replace_folder(src: PathLike, out: PathLike) -> Path:
    """Move the finished folder ``src`` to ``out``, replacing what is there (via ``.<name>.old-<pid>``).

    ``src`` is removed if the move fails; a kill between the two renames leaves the old folder
    under its ``.old-`` name, which the next write of ``out`` cleans up.
    """
    src, out = Path(src), Path(out)
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    try:
        if out.exists():
            os.replace(out, old)
        os.replace(src, out)
    except OSError as exc:
        _remove(src)
        raise FerEdgeError(f"cannot replace {out} ({exc.strerror}); check its permissions") from None
    _remove(old)
    return out
