"""Per-track smoothing of class scores: an exponential moving average with explicit alpha."""

from __future__ import annotations

import numpy as np

from fer_edge.core.errors import FerEdgeError


class EMA:
    """``s_t = alpha * x_t + (1 - alpha) * s_{t-1}``; the first value passes through.

    ``alpha=1`` disables smoothing; smaller alpha reacts more slowly and flickers less.

    Example:
        >>> ema = EMA(0.5)
        >>> ema.update([1.0, 0.0]).tolist(), ema.update([0.0, 1.0]).tolist()
        ([1.0, 0.0], [0.5, 0.5])
    """

    def __init__(self, alpha: float) -> None:
        if not 0.0 < float(alpha) <= 1.0:
            raise FerEdgeError(f"smoothing alpha must be in (0, 1], got {alpha}; 1 disables smoothing")
        self.alpha = float(alpha)
        self.value: np.ndarray | None = None

    def update(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if self.value is None:
            self.value = x.copy()
        else:
            self.value = self.alpha * x + (1.0 - self.alpha) * self.value
        return self.value

    def reset(self) -> None:
        self.value = None
