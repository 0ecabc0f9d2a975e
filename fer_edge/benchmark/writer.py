"""Writing a benchmark report's files: JSON and Markdown from :mod:`report`, HTML from :mod:`html`."""

from __future__ import annotations

import os
from pathlib import Path

from fer_edge.benchmark.html import to_html
from fer_edge.benchmark.jsonout import dumps
from fer_edge.benchmark.report import BenchmarkReport, to_markdown
from fer_edge.core.atomic import write_text

__all__ = ["save_report"]


def save_report(report: BenchmarkReport, out: str | os.PathLike) -> dict[str, str]:
    """Write ``benchmark.json``, ``benchmark.md`` and ``benchmark.html`` into ``out``.

    Returns the files written (also kept as ``report.outputs``).

    Example:
        >>> save_report(report, "runs/bench")  # doctest: +SKIP
        {'json': 'runs/bench/benchmark.json', 'md': ..., 'html': ...}
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "benchmark.json", "md": out / "benchmark.md", "html": out / "benchmark.html"}
    write_text(files["json"], dumps(report.as_dict()))
    write_text(files["md"], to_markdown(report))
    write_text(files["html"], to_html(report))
    report.outputs = {k: str(v) for k, v in files.items()}
    return report.outputs
