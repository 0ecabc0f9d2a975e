"""The one atomic-write convention.

Every file or folder fer-edge writes goes to a temporary sibling ``.<name>.tmp-<pid>`` (or
``.<stem>.tmp-<pid><suffix>`` where a library picks the format from the suffix) and is renamed
over the target when complete; the temporary is removed on every failure path, and those left
by killed runs (their pid is gone) are removed on the next write of the same output.

Every rename of a finished temporary over its target happens here (:func:`commit`); the few
other ``os.replace`` calls in ``fer_edge/`` are listed with their reason in docs/architecture.md.

What fer-edge may write or replace in the first place (the output policy: :func:`check_output`,
:func:`run_folder`) is :mod:`fer_edge.core.outputs`; callers apply it before writing here.

numpy-free and import-light: the edge runtime uses it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Union

from fer_edge.core.errors import FerEdgeError

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


def is_special(path: PathLike) -> bool:
    """True for an existing device, FIFO or socket (anything not a regular file or folder)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


# --- failed writes --------------------------------------------------------------------------

_FULL = (errno.ENOSPC, errno.EDQUOT)


def _free(path: Path) -> str:
    for folder in (path.parent, *path.parent.parents):
        with contextlib.suppress(OSError):
            return f"{shutil.disk_usage(folder).free / 2**20:.1f} MiB free there"
    return "free space unknown"


_TEMP = re.compile(r"^\.(.+)\.tmp-\d+(\.[^.]*)?$")


def final_path(path: PathLike) -> Path:
    """The output a temporary stands for: every ``.<name>.tmp-<pid>[.ext]`` part back to its name.

    Example:
        >>> str(final_path("runs/.opt.tmp-12/frame.xml"))
        'runs/opt/frame.xml'
    """
    parts = []
    for part in Path(path).parts:
        match = _TEMP.match(part)
        parts.append(match.group(1) + (match.group(2) or "") if match else part)
    return Path(*parts) if parts else Path(path)


def write_error(path: PathLike, exc: BaseException) -> FerEdgeError:
    """The one line for a write of ``path`` that failed: a full disk or quota, a file-size limit,
    a read-only or forbidden folder, or a library that hides the errno (OpenVINO's serialize says
    only ``basic_ios::clear: iostream error``); it names the path and the fix."""
    space = _free(Path(path))
    path = final_path(path)
    code = getattr(exc, "errno", None)
    if code in _FULL:
        return FerEdgeError(
            f"cannot write {path}: no space left on the disk ({space}); free some space or write elsewhere"
        )
    if code == errno.EFBIG:
        return FerEdgeError(
            f"cannot write {path}: file too large for this file system or the file-size limit (ulimit -f); "
            "write elsewhere or raise the limit"
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return FerEdgeError(f"cannot write {path} ({os.strerror(code)}); choose a writable path")
    if isinstance(exc, OSError):
        return FerEdgeError(f"cannot write {path} ({exc.strerror or exc}); choose a writable path")
    return FerEdgeError(
        f"cannot write {path}: the write failed ({space}; is the disk full?); free some space or write elsewhere"
    )


def _is_write_failure(exc: BaseException) -> bool:
    # OpenVINO's C++ serializer throws std::ios_base::failure, which reaches Python as a
    # RuntimeError with this text and no errno.
    return isinstance(exc, OSError) or (isinstance(exc, RuntimeError) and "iostream error" in str(exc))


@contextlib.contextmanager
def writing(path: PathLike) -> Iterator[None]:
    """Turn a failed write of ``path`` inside the block into :func:`write_error`'s one line.

    Example:
        >>> with writing("runs/x/frame.xml"):  # doctest: +SKIP
        ...     ov.save_model(model, tmp)
    """
    try:
        yield
    except FerEdgeError:
        raise
    except (OSError, RuntimeError) as exc:
        if not _is_write_failure(exc):
            raise
        raise write_error(path, exc) from None


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


def commit(temp: PathLike, path: PathLike) -> Path:
    """Rename the finished temporary ``temp`` over ``path`` (atomic on one filesystem).

    For writers that hold their own handle over a long run (OpenCV's ``VideoWriter``, an HDF5
    file, a Keras callback); one-shot writes use :func:`save_via` and the helpers on it.
    An ``OSError`` is left to the caller, who knows what failing means there.
    """
    os.replace(temp, path)
    return Path(path)


def save_via(
    path: PathLike, save: Callable[[Path], Any], *, keep_suffix: bool = False, companions: tuple[str, ...] = ()
) -> Path:
    """Call ``save(temp)`` and rename the temporary over ``path``; the temp never outlives a failure.

    Args:
        path: the final output.
        save: writes the file at the path it is given.
        keep_suffix: see :func:`temp_path`.
        companions: suffixes of files ``save`` writes beside the temporary under the same stem
            (OpenVINO IR: ``(".bin",)`` beside the ``.xml``); each is renamed before ``path``, so
            a present ``path`` always has them.

    Example:
        >>> save_via("runs/x/curves.png", lambda p: fig.savefig(p), keep_suffix=True)  # doctest: +SKIP
        >>> save_via("b/frame.xml", lambda p: ov.save_model(m, str(p)), companions=(".bin",))  # doctest: +SKIP
    """
    path = _prepare_file(path)
    for suffix in companions:
        clean_stale(path.with_suffix(suffix))
    tmp = temp_path(path, keep_suffix=keep_suffix or bool(companions))
    try:
        with writing(path):
            save(tmp)
            for suffix in companions:
                commit(tmp.with_suffix(suffix), path.with_suffix(suffix))
            commit(tmp, path)
    except BaseException as exc:
        for leftover in (tmp, *(tmp.with_suffix(s) for s in companions)):
            _remove(leftover)
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
        with writing(path):
            save(tmp)
        try:
            yield holder[0]
        except OSError as exc:
            if exc.errno in (*_FULL, errno.EFBIG):  # the block's writes to the file
                raise write_error(path, exc) from None
            raise
        with writing(path):
            holder[0].close()  # a full disk often shows only when the last buffer is flushed
            commit(tmp, path)
    except BaseException:
        if holder and not holder[0].closed:
            with contextlib.suppress(OSError):
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
        with writing(self.path):
            self.fh: IO = open(self.temp, mode, **kwargs)  # noqa: SIM115 - closed in close/abort

    def write(self, data: Any) -> None:
        """Append ``data``; a full disk is one line naming :attr:`path` (the temporary is dropped)."""
        try:
            with writing(self.path):
                self.fh.write(data)
        except FerEdgeError:
            self.abort()
            raise

    def close(self) -> Path:
        if not self.fh.closed:
            try:
                with writing(self.path):
                    self.fh.close()
                    commit(self.temp, self.path)
            except FerEdgeError:
                self.abort()
                raise
        return self.path

    def abort(self) -> None:
        if not self.fh.closed:
            with contextlib.suppress(OSError):  # the close flushes; on a full disk that fails too
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
