"""Windows of per-frame vectors (features, scores or crops) with a mask.

The runtime's per-track ring buffer and the offline window helpers, side by side because they
follow one convention. numpy only: the bundle kinds (:mod:`fer_edge.runtime.kinds`) and the runtime
(:mod:`fer_edge.runtime`) both import it.

The runtime computes each frame's features once and reuses them across overlapping windows:
a window is read out of the ring in time order, padded at the end with zeros and a zero
mask, the convention the temporal heads are trained with. The offline paths (evaluation,
calibration) cut whole clips into windows with :func:`pad_window` and :func:`windows`, the
same convention.
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """Fixed-capacity buffer of the last ``length`` items of shape ``item_shape``.

    Example:
        >>> rb = RingBuffer(3, (2,))
        >>> for i in range(4): rb.push(np.full(2, i), frame=i)
        >>> rb.window()[0][:, 0].tolist(), rb.frames
        ([1.0, 2.0, 3.0], (1, 3))
    """

    def __init__(self, length: int, item_shape: tuple[int, ...], dtype=np.float32) -> None:
        self.length = int(length)
        self._data = np.zeros((self.length, *item_shape), dtype=dtype)
        self._frames = np.full(self.length, -1, dtype=np.int64)
        self._count = 0  # items pushed in total

    def __len__(self) -> int:
        return min(self._count, self.length)

    def push(self, item: np.ndarray, frame: int) -> None:
        slot = self._count % self.length
        self._data[slot] = item
        self._frames[slot] = frame
        self._count += 1

    @property
    def frames(self) -> tuple[int, int] | None:
        """First and last frame index in the buffer (inclusive), or None when empty."""
        n = len(self)
        if n == 0:
            return None
        last = (self._count - 1) % self.length
        first = (self._count - n) % self.length
        return int(self._frames[first]), int(self._frames[last])

    def window(self) -> tuple[np.ndarray, np.ndarray]:
        """``(items, mask)`` in time order, zero-padded at the end to ``length``."""
        n = len(self)
        out = np.zeros_like(self._data)
        mask = np.zeros(self.length, dtype=np.uint8)
        if n:
            start = (self._count - n) % self.length
            idx = (start + np.arange(n)) % self.length
            out[:n] = self._data[idx]
            mask[:n] = 1
        return out, mask

    def mean(self) -> np.ndarray:
        """Mean of the valid items (for window aggregation of per-frame scores)."""
        n = len(self)
        if n == 0:
            raise ValueError("empty buffer")
        if n < self.length:
            start = (self._count - n) % self.length
            idx = (start + np.arange(n)) % self.length
            return self._data[idx].mean(axis=0)
        return self._data.mean(axis=0)


def pad_window(x: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """First ``length`` steps of ``x`` zero-padded to ``length``, and the (length,) float mask.

    Example:
        >>> w, m = pad_window(np.ones((2, 3)), 4)
        >>> w[:, 0].tolist(), m.tolist()
        ([1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0])
    """
    out = np.zeros((length, *x.shape[1:]), np.float32)
    t = min(len(x), length)
    out[:t] = x[:t]
    mask = np.zeros(length, np.float32)
    mask[:t] = 1.0
    return out, mask


def windows(x: np.ndarray, length: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Windows of ``length`` over a clip, half-overlapping (long video tracks give several).

    Example:
        >>> [int(m.sum()) for _, m in windows(np.ones((10, 1)), 4)]
        [4, 4, 4, 4]
    """
    step = max(1, length // 2)
    starts = range(0, max(1, len(x) - length + 1), step)
    return [pad_window(x[s : s + length], length) for s in starts]
