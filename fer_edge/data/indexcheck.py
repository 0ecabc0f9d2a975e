"""The schema of a preprocessed folder's ``index.jsonl`` records, checked before any reader uses them."""

from __future__ import annotations

from typing import Any

from fer_edge.core.errors import FerEdgeError
from fer_edge.core.fileio import ListOf, Num, Obj, check_schema

__all__ = ["check_record"]

_COUNT = Num(0, 100_000_000, integer=True)
RECORD = Obj(required={"name": str, "status": str}, optional={"error": (None, str)})
OK_RECORD = Obj(
    required={
        "name": str,
        "status": str,
        "emotion": str,
        "subject": str,
        "folder": str,
        "span": ListOf(_COUNT, min_len=2, max_len=2),
        "frames": _COUNT,
    },
    optional={
        "intensity": (None, ListOf(Num(), max_len=100_000_000)),
        "fps": (None, Num(0)),
        "intensity_source": (None, str),
        "warnings": ListOf(str, max_len=10_000),
    },
)


def check_record(record: Any, where: str) -> dict:
    """``record`` if it is a usable index record (an "ok" one with everything a reader uses), else
    one line naming ``where`` (the file and record) and the key."""
    check_schema(record, RECORD, where)
    if record["status"] not in ("ok", "error"):
        raise FerEdgeError(f'{where}: \'status\' must be "ok" or "error", got {record["status"][:40]!r}')
    if record["status"] == "ok":
        check_schema(record, OK_RECORD, where)
        first, stop = record["span"]
        if not first <= stop <= record["frames"]:
            raise FerEdgeError(f"{where}: 'span' {record['span']} is not inside the clip's {record['frames']} frames")
    return record
