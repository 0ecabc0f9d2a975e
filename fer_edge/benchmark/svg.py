"""Sizes of SVG text in the reports: an upper bound of a label's width, so charts fit their labels."""

from __future__ import annotations

__all__ = ["CHAR_PX", "FONT_PX", "text_width"]

FONT_PX = 12
#: Upper bound of one character's advance at FONT_PX in common sans-serif fonts (capitals ~0.72 em,
#: digits ~0.56 em; averaged over a label's mix, 0.62 em is never short of the real width).
CHAR_PX = 0.62 * FONT_PX


def text_width(text: str) -> float:
    """Estimated width in px of ``text`` at :data:`FONT_PX`.

    Example:
        >>> round(text_width("12.5 ms"), 1)
        52.1
    """
    return len(text) * CHAR_PX
