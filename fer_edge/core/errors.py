"""Errors a user can cause and fix, and the guard for optional extras.

The CLI prints a :class:`FerEdgeError` as one line and exits non-zero; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
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
            f"{module} is needed{why} but is not installed ({exc}); install it with: pip install 'fer-edge[{extra}]'"
        ) from None


def closest(word: object, choices: Iterable[object]) -> str | None:
    """The choice most like ``word`` (difflib's ratio >= 0.6), or None: every "did you mean" uses it.

    Example:
        >>> closest("kfc", ["csrt", "kcf"])
        'kcf'
    """
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return close[0] if close else None


def unknown_choice(
    what: str, value: object, known: Iterable[object], *, match: object = None, prefix: str = "", note: str = ""
) -> FerEdgeError:
    """The one-line error for a name that is not one of ``known``, with a "did you mean".

    Args:
        what: what the name names (``"tracker"``, ``"key 'temporal.epoch'"``...).
        value: the name given.
        known: the names accepted, listed in the message.
        match: what to compare with ``known`` when it is not ``value`` itself (a normalised form).
        prefix: put first, e.g. the file the name came from (``"recipe.yaml: "``).
        note: appended after the list of known names.

    Example:
        >>> str(unknown_choice("tracker", "kfc", ["csrt", "kcf"]))
        "unknown tracker 'kfc'; did you mean 'kcf'? known: csrt, kcf"
    """
    known = [str(k) for k in known]
    close = closest(value if match is None else match, known)
    hint = f"; did you mean '{close}'?" if close else ";"
    return FerEdgeError(f"{prefix}unknown {what} '{shorten(value)}'{hint} known: {listing(known, 30)}{note}")


def shorten(text: object, limit: int = 80) -> str:
    """``text`` (``str()`` of it) cut to ``limit`` characters: a crafted file's value can be megabytes.

    Example:
        >>> shorten("x" * 1000, 10)
        'xxxxxxxxxx... (1000 characters)'
    """
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def listing(items: Iterable[object], limit: int = 10) -> str:
    """``items`` joined by commas, the first ``limit`` of them and how many more: one line stays short.

    Example:
        >>> listing(range(25), 3)
        '0, 1, 2, ... (22 more)'
    """
    items = [str(i) for i in items]
    shown = ", ".join(shorten(i, 40) for i in items[:limit])
    return shown if len(items) <= limit else f"{shown}, ... ({len(items) - limit} more)"


def reason(exc: BaseException) -> str:
    """The line of a library's error that says what is wrong, one line of at most 300 characters.

    OpenVINO puts where it failed first ("Exception from src/inference/src/cpp/core.cpp:84:",
    "Check '...' failed at ...", "While validating node ...", "Loading input model") and why last.

    Example:
        >>> reason(RuntimeError("Exception from src/core.cpp:84:\\nCheck 'x' failed at a.cpp:1:\\nFile does not exist"))
        'File does not exist'
    """
    noise = ("Exception from ", "Check '", "While validating node", "[ GENERAL_ERROR ]")
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(noise) and not ln.endswith(":")]
    text = (useful or lines or [type(exc).__name__])[-1]
    return text if len(text) <= 300 else text[:300] + "..."
