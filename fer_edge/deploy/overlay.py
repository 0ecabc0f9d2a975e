"""Overlay drawing: box, track id, label and a score bar per class, in place on BGR frames."""

from __future__ import annotations

import cv2
import numpy as np

_PALETTE = [(80, 80, 230), (60, 160, 60), (160, 60, 160), (40, 200, 240), (200, 120, 40), (220, 220, 60),
            (160, 160, 160), (100, 60, 200)]


def color_for(track: int) -> tuple[int, int, int]:
    """A stable colour per track id."""
    return _PALETTE[track % len(_PALETTE)]


def draw_face(frame: np.ndarray, box, track: int, label: str | None, scores: dict[str, float] | None) -> None:
    """Draw one face's annotation onto ``frame`` (modified in place).

    Example:
        >>> img = np.zeros((120, 160, 3), np.uint8)
        >>> draw_face(img, (40, 30, 50, 50), 1, "happy", {"happy": 0.9, "sad": 0.1})
        >>> bool(img.any())
        True
    """
    x, y, w, h = (int(v) for v in box)
    col = color_for(track)
    cv2.rectangle(frame, (x, y), (x + w, y + h), col, 2)
    title = f"#{track} {label}" if label else f"#{track} ..."
    if label and scores and label in scores:
        title += f" {scores[label]:.2f}"
    (tw, th), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    ty = max(y - 6, th + 4)
    cv2.rectangle(frame, (x, ty - th - 4), (x + tw + 4, ty + 2), col, -1)
    cv2.putText(frame, title, (x + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    if not scores:
        return
    # Score bars to the right of the box, or to the left when there is no room.
    bar_w, row = 60, 12
    bx = x + w + 6 if x + w + 6 + bar_w + 70 < frame.shape[1] else max(x - bar_w - 76, 0)
    for i, (name, value) in enumerate(scores.items()):
        by = y + i * row
        if by + row > frame.shape[0]:
            break
        cv2.rectangle(frame, (bx, by), (bx + bar_w, by + row - 3), (50, 50, 50), -1)
        cv2.rectangle(frame, (bx, by), (bx + int(bar_w * float(np.clip(value, 0, 1))), by + row - 3), col, -1)
        cv2.putText(frame, name[:8], (bx + bar_w + 4, by + row - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (255, 255, 255), 1, cv2.LINE_AA)


def draw_status(frame: np.ndarray, text: str) -> None:
    """A one-line status (fps, no face...) in the top-left corner."""
    cv2.putText(frame, text, (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(frame, text, (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
