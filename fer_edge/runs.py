"""Default output folders: ``runs/demo``, then ``runs/demo2``, ``runs/demo3`` ... never reused.

Like Ultralytics' ``runs/detect/predict2``: a command run without ``--out`` still saves its
results, in a new folder each time, so a second run never overwrites the first one's files.
An explicit ``--out`` is used as given.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def next_run_dir(base: str | os.PathLike, *, create: bool = True) -> Path:
    """The first of ``base``, ``base2``, ``base3`` ... that does not exist yet.

    Args:
        base: the default folder, e.g. ``runs/demo``.
        create: create the folder (so two runs started together get different ones).

    Example:
        >>> next_run_dir("runs/demo")  # doctest: +SKIP
        PosixPath('runs/demo2')
    """
    base = Path(base)
    n = 1
    while True:
        path = base if n == 1 else base.with_name(f"{base.name}{n}")
        if not path.exists():
            if not create:
                return path
            try:
                path.mkdir(parents=True)
                return path
            except FileExistsError:  # another run took it between the check and the mkdir
                pass
        n += 1


def out_dir(given: str | os.PathLike | None, default: str) -> Path:
    """``--out`` as given, or the next free ``default`` folder (created).

    Example:
        >>> out_dir(None, "runs/benchmark")  # doctest: +SKIP
        PosixPath('runs/benchmark3')
    """
    return Path(given) if given else next_run_dir(default)


@contextlib.contextmanager
def run_dir(given: str | os.PathLike | None, default: str) -> Iterator[Path]:
    """:func:`out_dir` for the block; a default folder the block failed to write anything into is
    removed again, so a failed start leaves no empty ``runs/demo7``.

    Example:
        >>> with run_dir(None, "runs/demo") as out:  # doctest: +SKIP
        ...     (out / "events.jsonl").write_text("")
    """
    outer = Path(default)
    while not outer.parent.exists():
        outer = outer.parent  # on a first run ``runs/`` itself is new too
    path = out_dir(given, default)
    try:
        yield path
    except BaseException:
        if not given:
            created = path if outer == Path(default) else outer
            for folder in (path, *path.parents):
                if not folder.is_dir() or any(folder.iterdir()):
                    break
                folder.rmdir()
                if folder == created:
                    break
        raise
