"""Figures written to files: matplotlib without a display, saved atomically, always closed.

matplotlib is imported when a figure is made (the ``train`` extra installs it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fer_edge.core.atomic import save_via


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (files only: works without a display).

    Raises:
        FerEdgeError: matplotlib is not installed (a runtime-only install): names the extra.
    """
    from fer_edge.core.errors import require

    matplotlib = require("matplotlib", "train", purpose="figures")

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, *, dpi: int = 100) -> Path:
    """Lay out ``fig``, write it to ``path`` through a temporary name, and close it (also on failure).

    Example:
        >>> fig, ax = pyplot().subplots()  # doctest: +SKIP
        >>> save_figure(fig, "runs/x/curves.png")  # doctest: +SKIP
        PosixPath('runs/x/curves.png')
    """
    import matplotlib.pyplot as plt

    try:
        fig.tight_layout()
        return save_via(path, lambda tmp: fig.savefig(tmp, dpi=dpi), keep_suffix=True)
    finally:
        plt.close(fig)
