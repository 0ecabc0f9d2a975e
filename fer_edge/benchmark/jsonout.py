"""The one JSON writer of benchmark outputs: strict JSON, NaN and infinities written as null."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["dumps"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def dumps(data: Any) -> str:
    """``data`` as indented JSON that every parser reads (no ``NaN``/``Infinity`` tokens).

    Example:
        >>> dumps({"ratio": float("nan")})
        '{\\n  "ratio": null\\n}\\n'
    """
    return json.dumps(_clean(data), indent=2, allow_nan=False) + "\n"
