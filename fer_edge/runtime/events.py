"""Events: JSON Lines, one line per frame and face (contract in docs/architecture.md).

``{"frame": 118, "t": 4.72, "track": 1, "box": [x, y, w, h], "label": "happy",
"scores": {...}, "window": [18, 118]}``. A frame without a face gets one line with
``"track": null`` and ``"note": "no face"``; stream problems get ``"note"`` lines too.
The file is written under a temporary name and renamed when the run ends (also on Ctrl-C).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fer_edge.core.atomic import AtomicFile


class EventWriter:
    """Append events to ``.<name>.tmp-<pid>``; ``close()`` renames it to ``path``.

    Example:
        >>> with EventWriter("runs/demo/events.jsonl") as ev:  # doctest: +SKIP
        ...     ev.write({"frame": 0, "t": 0.0, "track": None, "note": "no face"})
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self._file = AtomicFile(path)
        self.path = self._file.path
        self.count = 0

    def write(self, event: dict[str, Any]) -> None:
        self._file.write(json.dumps(event, separators=(",", ":")) + "\n")
        self.count += 1

    def close(self) -> Path:
        return self._file.close()

    def abort(self) -> None:
        self._file.abort()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


def face_event(
    frame: int,
    t: float,
    track: int,
    box,
    label: str | None,
    scores: dict[str, float] | None,
    window: tuple[int, int] | None,
) -> dict[str, Any]:
    """One face's event in the contract's key order."""
    return {
        "frame": int(frame),
        "t": round(float(t), 3),
        "track": int(track),
        "box": [int(v) for v in box],
        "label": label,
        "scores": None if scores is None else {k: round(float(v), 4) for k, v in scores.items()},
        "window": None if window is None else [int(window[0]), int(window[1])],
    }


def note_event(frame: int, t: float, note: str) -> dict[str, Any]:
    """A line for a frame without faces or a stream event (stall, reconnect...)."""
    return {
        "frame": int(frame),
        "t": round(float(t), 3),
        "track": None,
        "box": None,
        "label": None,
        "scores": None,
        "window": None,
        "note": note,
    }


def read_events(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The events of a run's ``events.jsonl``, one dict per line, in order.

    Raises:
        FerEdgeError: a missing file or a line that is not a JSON object.
    """
    from fer_edge.core.errors import FerEdgeError

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FerEdgeError(f"cannot read events {path}: {getattr(exc, 'strerror', None) or exc}") from None
    events = []
    for number, line in enumerate(lines, 1):
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            raise FerEdgeError(f"{path}:{number}: not an event (one JSON object per line)")
        events.append(event)
    return events
