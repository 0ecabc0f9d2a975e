"""Default output folders: ``runs/demo``, then ``runs/demo2``, ``runs/demo3`` ... never reused.

Like Ultralytics' ``runs/detect/predict2``: a command run without ``--out`` still saves its
results, in a new folder each time, so a second run never overwrites the first one's files.
An explicit ``--out`` goes through the output policy of :mod:`fer_edge.core.outputs` (a folder
fer-edge did not create is refused unless ``--force``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from fer_edge.core.outputs import discard_empty, new_run_folder, run_folder


@contextlib.contextmanager
def run_dir(
    given: str | os.PathLike | None,
    default: str,
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
    force: bool = False,
) -> Iterator[Path]:
    """``--out`` as given (checked, marked), or the next free ``default`` folder, for the block.

    A default folder the block failed to write anything into is removed again (with the parents
    this call created), so a failed start leaves no empty ``runs/demo7``.

    Example:
        >>> with run_dir(None, "runs/demo") as out:  # doctest: +SKIP
        ...     (out / "events.jsonl").write_text("")
    """
    if given:
        yield run_folder(given, inputs=inputs, force=force)
        return
    new_parents = [p for p in Path(default).absolute().parents if not p.exists()]  # on a first run ``runs/`` too
    path = new_run_folder(default)
    try:
        yield path
    except BaseException:
        discard_empty([path.absolute(), *new_parents])
        raise
