"""The one policy of what fer-edge may write or replace (:func:`check_output`, :func:`run_folder`).

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

A command that fails leaves no folder it created behind: :func:`mark` records the folders it
creates, and :func:`cleanup_on_failure` (the CLI wraps every verb in it) removes those that still
hold nothing but the marker when the command ends in an error or Ctrl-C.

How the outputs are then written (temporary names, renamed when complete) is
:mod:`fer_edge.core.atomic`. numpy-free and import-light: the edge runtime uses it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from fer_edge.core.atomic import PathLike, is_special
from fer_edge.core.errors import FerEdgeError

MARKER = ".fer-edge-run"
"""File fer-edge writes into every run folder it creates; its presence makes the folder ours."""


def is_run_folder(path: PathLike) -> bool:
    """True if ``path`` is, or lies inside, a run folder fer-edge created (one holding :data:`MARKER`)."""
    path = Path(path).absolute()
    return any((p / MARKER).is_file() for p in (path, *path.parents))


def is_bundle(path: PathLike) -> bool:
    """True if the folder ``path`` holds a fer-edge bundle manifest (a JSON object with format and models)."""
    manifest = Path(path) / "manifest.json"
    if not manifest.is_file():
        return False
    from fer_edge.core.fileio import read_json

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


_created: list[list[Path]] = []
"""Per running command (a stack: nested commands in one process), the folders it created, deepest first."""


def _missing(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    folder = folder.absolute()
    return [p for p in (folder, *folder.parents) if not p.exists()]


def _record(created: list[Path]) -> None:
    if _created and created:
        _created[-1][:0] = created


def discard_empty(folders: Iterable[Path]) -> None:
    """Remove those of ``folders`` (deepest first) that hold nothing but :data:`MARKER`.

    The one rule for "a failed run leaves no empty folder": only folders this run created are
    passed here, and a folder with any other content (a partial, resumable run) is kept.
    """
    for folder in folders:
        with contextlib.suppress(OSError):
            if {p.name for p in folder.iterdir()} - {MARKER}:
                continue  # its parents hold it: kept too
            (folder / MARKER).unlink(missing_ok=True)
            folder.rmdir()


@contextlib.contextmanager
def cleanup_on_failure() -> Iterator[None]:
    """Run folders created inside the block are removed again if it raises while they are empty.

    Example:
        >>> with cleanup_on_failure():  # doctest: +SKIP
        ...     run_folder("runs/x")  # removed again if the block fails before writing into it
    """
    _created.append([])
    try:
        yield
    except BaseException:
        discard_empty(_created[-1])
        raise
    finally:
        _created.pop()


def mark(folder: PathLike) -> Path:
    """Create ``folder`` if needed and write :data:`MARKER` into it (it becomes a run folder)."""
    folder = Path(folder)
    try:
        _record(_missing(folder))
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
        missing = _missing(folder)
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            continue
        except OSError as exc:
            raise FerEdgeError(f"cannot create folder {folder} ({exc.strerror}); choose a writable --out") from None
        _record(missing)
        return mark(folder)
    raise FerEdgeError(f"{base} and {limit - 1} numbered siblings exist; pass --out or clean up old runs")
