"""Overlay drawing, in place on BGR frames: box, track id, label, scores, FPS.

Sizes follow the frame (a unit of ``max(height, width) / 640``), so the text reads the same at
320x240 and at 1080p. Scores sit on a translucent dark panel beside the face with white text,
readable on light and dark backgrounds alike; each class gets a bar and its value.
"""

from __future__ import annotations

import cv2
import numpy as np

_PALETTE = [
    (80, 80, 230),
    (60, 160, 60),
    (160, 60, 160),
    (40, 200, 240),
    (200, 120, 40),
    (220, 220, 60),
    (160, 160, 160),
    (100, 60, 200),
]
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE = (255, 255, 255)
_PANEL = (32, 32, 32)
_ALPHA = 0.6  # panel opacity


def color_for(track: int) -> tuple[int, int, int]:
    """A stable colour per track id."""
    return _PALETTE[track % len(_PALETTE)]


def scale_for(frame: np.ndarray) -> float:
    """Drawing scale of a frame: 1.0 at 640 pixels on the long side, never below 0.8 (legible text).

    Example:
        >>> scale_for(np.zeros((1080, 1920, 3), np.uint8))
        3.0
    """
    return max(0.8, max(frame.shape[:2]) / 640.0)


def _panel(frame: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    """Darken a rectangle of ``frame`` (clipped to it) so white text reads on any background."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 > x0 and y1 > y0:
        roi = frame[y0:y1, x0:x1]
        roi[:] = cv2.addWeighted(roi, 1.0 - _ALPHA, np.full_like(roi, _PANEL), _ALPHA, 0.0)


def draw_face(frame: np.ndarray, box, track: int, label: str | None, scores: dict[str, float] | None) -> None:
    """Draw one face's annotation onto ``frame`` (modified in place).

    Example:
        >>> img = np.zeros((120, 160, 3), np.uint8)
        >>> draw_face(img, (40, 30, 50, 50), 1, "happy", {"happy": 0.9, "sad": 0.1})
        >>> bool(img.any())
        True
    """
    s = scale_for(frame)
    font, thick = 0.45 * s, max(1, int(round(s)))
    x, y, w, h = (int(v) for v in box)
    col = color_for(track)
    cv2.rectangle(frame, (x, y), (x + w, y + h), col, max(2, int(round(2 * s))))
    title = f"#{track} {label}" if label else f"#{track} ..."
    if label and scores and label in scores:
        title += f" {scores[label]:.2f}"
    (tw, th), base = cv2.getTextSize(title, _FONT, font, thick)
    pad = max(2, int(round(3 * s)))
    ty = max(y - pad, th + 2 * pad)
    cv2.rectangle(frame, (x, ty - th - 2 * pad), (x + tw + 2 * pad, ty + base // 2), col, -1)
    cv2.putText(frame, title, (x + pad, ty - pad), _FONT, font, _WHITE, thick, cv2.LINE_AA)
    if not scores:
        return
    # Panel beside the face: right of the box, or left when the frame ends there.
    small = 0.38 * s
    names = [n[:10] for n in scores]
    name_w = max(cv2.getTextSize(n, _FONT, small, thick)[0][0] for n in names)
    val_w = cv2.getTextSize("0.00", _FONT, small, thick)[0][0]
    row = int(round(14 * s))
    bar_w = int(round(50 * s))
    panel_w = 4 * pad + name_w + bar_w + val_w
    panel_h = row * len(scores) + 2 * pad
    px = x + w + pad if x + w + pad + panel_w <= frame.shape[1] else max(0, x - pad - panel_w)
    py = min(max(0, y), max(0, frame.shape[0] - panel_h))
    _panel(frame, px, py, px + panel_w, py + panel_h)
    for i, (name, value) in enumerate(zip(names, scores.values())):
        v = float(np.clip(value, 0.0, 1.0))
        by = py + pad + i * row
        base_y = by + row - max(2, row // 4)
        cv2.putText(frame, name, (px + pad, base_y), _FONT, small, _WHITE, thick, cv2.LINE_AA)
        bx = px + 2 * pad + name_w
        cv2.rectangle(frame, (bx, by + row // 4), (bx + bar_w, by + row - row // 6), (90, 90, 90), -1)
        cv2.rectangle(frame, (bx, by + row // 4), (bx + int(bar_w * v), by + row - row // 6), col, -1)
        cv2.putText(frame, f"{v:.2f}", (bx + bar_w + pad, base_y), _FONT, small, _WHITE, thick, cv2.LINE_AA)


def draw_status(frame: np.ndarray, text: str, *, corner: str = "left") -> None:
    """A one-line status (no face, FPS ...) on a translucent panel in a top corner.

    Example:
        >>> img = np.full((240, 320, 3), 255, np.uint8)
        >>> draw_status(img, "30.0 fps", corner="right")
        >>> bool((img[:20, -60:] < 255).any())
        True
    """
    s = scale_for(frame)
    font, thick = 0.5 * s, max(1, int(round(s)))
    (tw, th), base = cv2.getTextSize(text, _FONT, font, thick)
    pad = max(3, int(round(4 * s)))
    x = pad if corner == "left" else frame.shape[1] - tw - 3 * pad
    _panel(frame, x, pad, x + tw + 2 * pad, pad + th + base + 2 * pad)
    cv2.putText(frame, text, (x + pad, pad + th + pad), _FONT, font, _WHITE, thick, cv2.LINE_AA)


def draw_frame(frame: np.ndarray, faces, fps: float | None = None) -> None:
    """Every face's annotation, "no face" when there is none, and the FPS in the top-right corner.

    Args:
        faces: results with ``box``, ``track``, ``label`` and ``scores`` (the pipeline's).
        fps: frames per second so far (None: not drawn).
    """
    for f in faces:
        draw_face(frame, f.box, f.track, f.label, f.scores)
    if not faces:
        draw_status(frame, "no face")
    if fps is not None:
        draw_status(frame, f"{fps:.1f} fps", corner="right")
