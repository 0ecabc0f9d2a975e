"""``benchmark merge``: many reports -> one matrix of configurations (rows) by machine/device (columns).

Each input is a ``benchmark.json`` from one machine (``fer-edge benchmark`` there, or a Ray,
Slurm or PBS job of the fleet runners). A column is one machine label and one OpenVINO device;
a row is one configuration (stage, model, format, precision, batch, mode, hint), matched by
:mod:`fer_edge.benchmark.matching`. Each cell has p50/p90 latency and FPS; speed-ups are the
reference column's latency over the cell's (> 1: faster than the reference). A report that
cannot be read is named in one line and left out; the rest still merge.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fer_edge.benchmark.jsonout import dumps
from fer_edge.benchmark.matching import KEY, config_label, match_rows, shown_fps, stat
from fer_edge.benchmark.report import SCHEMA, BenchmarkReport, Row, load_report
from fer_edge.benchmark.text import machine_lines, run_lines
from fer_edge.core.atomic import write_text
from fer_edge.core.errors import FerEdgeError, unknown_choice

__all__ = ["Column", "FleetReport", "compare_html", "merge_reports"]

log = logging.getLogger(__name__)


@dataclass
class Column:
    """One machine and device: its label, the report it came from and that report's machine."""

    name: str
    machine_label: str
    device: str
    source: str
    machine: dict[str, Any]
    settings: dict[str, Any]


@dataclass
class FleetReport:
    """The merged matrix; ``cells[i][c]`` is row ``i``'s measurement in column ``c`` (or None)."""

    columns: list[Column]
    keys: list[tuple]
    cells: list[list[Row | None]]
    reference: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def speedup(self, i: int, c: int) -> float | None:
        """Reference latency / this cell's latency for row ``i`` (None where either is missing)."""
        ref, cell = self.cells[i][self.reference], self.cells[i][c]
        if ref is None or cell is None or not stat(cell):
            return None
        return round(stat(ref) / stat(cell), 3)

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "kind": "fleet",
            "created": self.created,
            "reference": self.columns[self.reference].name if self.columns else None,
            "columns": [asdict(c) for c in self.columns],
            "skipped": [{"report": p, "reason": r} for p, r in self.skipped],
            "rows": [
                {
                    **{k: v for k, v in zip(KEY, key) if k != "device"},
                    "cells": {
                        col.name: None
                        if cell is None
                        else {
                            "p50_ms": cell.latency_ms["median"],
                            "p90_ms": cell.latency_ms["p90"],
                            "mean_ms": cell.latency_ms.get("mean"),
                            "fps": cell.fps,
                            "accuracy": cell.accuracy,
                            "inference_precision": cell.inference_precision,
                            "speedup": self.speedup(i, c),
                        }
                        for c, (col, cell) in enumerate(zip(self.columns, self.cells[i]))
                    },
                }
                for i, key in enumerate(self.keys)
            ],
        }

    def save(self, out: str | os.PathLike) -> dict[str, str]:
        """Write ``fleet.json``, ``fleet.md`` and ``fleet.html`` into ``out``."""
        from fer_edge.benchmark.fleethtml import fleet_html

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        files = {"json": out / "fleet.json", "md": out / "fleet.md", "html": out / "fleet.html"}
        write_text(files["json"], dumps(self.as_dict()))
        write_text(files["md"], fleet_markdown(self))
        write_text(files["html"], fleet_html(self))
        return {k: str(v) for k, v in files.items()}


def _columns(reports: list[tuple[str, BenchmarkReport]]) -> tuple[list[Column], list[list[Row]]]:
    columns: list[Column] = []
    rows: list[list[Row]] = []
    used: dict[str, int] = {}
    keys: list[set[tuple]] = []
    for path, report in reports:
        label = report.machine.get("host") or report.settings.get("label") or Path(path).parent.name or path
        by_device: OrderedDict[str, list[Row]] = OrderedDict()
        for r in report.rows:
            by_device.setdefault(r.device, []).append(r)
        for device, device_rows in by_device.items():
            name = f"{label} {device}"
            new = {r.key() for r in device_rows}
            # One job per precision (PBS, Slurm): the reports of one machine and device that
            # measured different configurations fill one column; a repeated measurement gets its own.
            same = next((c for c, col in enumerate(columns) if col.name == name and not keys[c] & new), None)
            if same is not None:
                rows[same] += device_rows
                keys[same] |= new
                columns[same].source += f", {path}"
                continue
            used[name] = used.get(name, 0) + 1
            if used[name] > 1:
                name = f"{name} #{used[name]}"
            columns.append(Column(name, label, device, path, report.machine, report.settings))
            rows.append(device_rows)
            keys.append(new)
    return columns, rows


def merge_reports(paths: list[str], *, reference: str | None = None) -> FleetReport:
    """Load every report, leave out (and name) the ones that cannot be read, match the rest.

    Args:
        paths: ``benchmark.json`` files or the folders holding them.
        reference: the column the speed-ups are against (``LABEL DEVICE`` or a unique prefix of
            it, e.g. the machine label); default the first column.

    Raises:
        FerEdgeError: no report could be read, or ``reference`` names no column.

    Example:
        >>> fleet = merge_reports(["pi/benchmark.json", "nuc/benchmark.json"], reference="nuc")  # doctest: +SKIP
        >>> fleet.save("runs/fleet")  # doctest: +SKIP
    """
    good: list[tuple[str, BenchmarkReport]] = []
    skipped: list[tuple[str, str]] = []
    for path in paths:
        try:
            good.append((str(path), load_report(path)))
        except FerEdgeError as exc:
            skipped.append((str(path), str(exc)))
    if not good and len(skipped) == 1:
        raise FerEdgeError(skipped[0][1])
    for path, reason in skipped:
        log.warning("left out %s", reason if path in reason else f"{path}: {reason}")
    if not good:
        raise FerEdgeError(f"none of the {len(paths)} report(s) could be read (each named above)")
    columns, rows = _columns(good)
    matches = match_rows(rows, ignore=("device",))
    ref = 0
    if reference is not None:
        names = [c.name for c in columns]
        hits = [i for i, n in enumerate(names) if n == reference]
        hits = hits or [i for i, n in enumerate(names) if n.startswith(reference)]
        if not hits:
            raise unknown_choice("reference column", reference, names)
        ref = hits[0]
    return FleetReport(columns, [m.key for m in matches], [m.rows for m in matches], ref, skipped)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fleet_markdown(fleet: FleetReport) -> str:
    """The matrix as Markdown: machines, then p50 / p90 ms, FPS and speed-up per column."""
    out = ["# fer-edge fleet benchmark", "", f"Merged {fleet.created}.", ""]
    for c in fleet.columns:
        out.append(f"## {c.name}")
        out += [f"- {line}" for line in machine_lines(c.machine) + run_lines(c.settings)]
        out += [f"- Report: {c.source}", ""]
    ref = fleet.columns[fleet.reference].name
    out += [
        f"Cells: p50 / p90 ms, FPS (not for video sub-stages), speed-up against **{ref}** "
        "(its latency / the cell's; > 1 is faster).",
        "",
        "| configuration | accuracy | " + " | ".join(c.name for c in fleet.columns) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in fleet.columns) + " |",
    ]
    for i, key in enumerate(fleet.keys):
        accuracy = next((r.accuracy for r in fleet.cells[i] if r is not None and r.accuracy is not None), None)
        cells = []
        for c, r in enumerate(fleet.cells[i]):
            if r is None:
                cells.append("not measured")
                continue
            speed = fleet.speedup(i, c)
            fps = "" if shown_fps(r) is None else f", {_num(r.fps, 1)} FPS"
            tail = "" if speed is None else f", x{speed:.2f}"
            cells.append(f"{_num(stat(r), 3)} / {_num(r.latency_ms['p90'], 3)}{fps}{tail}")
        out.append(f"| {config_label(key)} | {_num(accuracy, 4)} | " + " | ".join(cells) + " |")
    if fleet.skipped:
        out += ["", "Left out:"] + [f"- {p}: {r}" for p, r in fleet.skipped]
    out += ["", "Video rows: ms per frame (mean); model rows: median. p90 = 90th percentile.", ""]
    return "\n".join(out)


def compare_html(paths: list[str], out: str | os.PathLike) -> str:
    """``compare.html`` for ``benchmark compare``: the two reports as a two-machine fleet page.

    Example:
        >>> compare_html(["a.json", "b.json"], "runs/compare")  # doctest: +SKIP
        'runs/compare/compare.html'
    """
    from fer_edge.benchmark.fleethtml import fleet_html

    path = Path(out) / "compare.html"
    write_text(path, fleet_html(merge_reports(paths)))
    return str(path)
