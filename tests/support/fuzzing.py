"""Helpers for the fuzz suites: run a case, check how it ends, count the endings per class.

A case may end in two ways only: handled (returns) or a one-line :class:`FerEdgeError` that
names the file. Any other exception propagates and fails the test (a traceback is a bug).
When the environment names a file in ``FER_EDGE_FUZZ_COUNTS``, counts are merged into it when
a test module finishes; ``benchmarks/fuzz_counts.py`` does that for
``benchmarks/results/fuzz_counts.json``. A plain test run writes nothing: tests never rewrite
tracked files.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fer_edge.core.atomic import write_json
from fer_edge.core.errors import FerEdgeError

ENV = "FER_EDGE_FUZZ_COUNTS"
COUNTS: dict[str, Counter] = defaultdict(Counter)


def run_case(cls: str, fn: Callable[[], Any], *, names: str | os.PathLike | None = None) -> Any:
    """Run ``fn``; count it under ``cls`` as ``handled`` or ``FerEdgeError``.

    Args:
        cls: input class, e.g. ``"openface_csv"``.
        fn: the call to make.
        names: a file whose name a FerEdgeError message must contain.

    Returns:
        ``fn()``'s value, or the FerEdgeError raised.
    """
    try:
        value = fn()
    except FerEdgeError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg, f"{cls}: error is not one line: {msg!r}"
        if names is not None:
            name = Path(names).name
            assert name in msg, f"{cls}: error does not name {name}: {msg!r}"
        COUNTS[cls]["FerEdgeError"] += 1
        return exc
    COUNTS[cls]["handled"] += 1
    return value


def flush() -> None:
    """Merge this process' counts into ``$FER_EDGE_FUZZ_COUNTS`` (classes seen here are replaced)."""
    target = os.environ.get(ENV)
    if not COUNTS or not target:
        return
    results = Path(target)
    results.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    classes = data.get("classes", {})
    for cls, counter in sorted(COUNTS.items()):
        classes[cls] = {"tried": sum(counter.values()), **dict(sorted(counter.items()))}
    data = {
        "note": "cases tried per input class and how each ended (handled, or a one-line FerEdgeError "
        "naming the file); any other ending fails the fuzz tests (tests/robustness/test_fuzz_*.py)",
        "total": sum(c["tried"] for c in classes.values()),
        "classes": dict(sorted(classes.items())),
    }
    write_json(results, data)
