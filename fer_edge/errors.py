"""Errors a user can cause and fix, and the guard for optional extras.

The CLI prints a :class:`FerEdgeError` as one line and exits non-zero; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class FerEdgeError(Exception):
    """A mistake the user can fix (missing file, wrong option, absent device, ...).

    The message is one line naming the problem and the fix.
    """

    exit_code = 2


def require(module: str, extra: str, *, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise a one-line error naming the extra that provides it.

    Args:
        module: importable module name, e.g. ``"tensorflow"``.
        extra: the fer-edge extra that installs it, e.g. ``"train"``.
        purpose: what needs it, for the message.

    Example:
        >>> keras = require("keras", "train", purpose="importing a Keras model")  # doctest: +SKIP
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        why = f" for {purpose}" if purpose else ""
        raise FerEdgeError(
            f"{module} is needed{why} but is not installed ({exc}); "
            f"install it with: pip install 'fer-edge[{extra}]'"
        ) from None
