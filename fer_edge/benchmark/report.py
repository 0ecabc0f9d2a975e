"""Benchmark reports: rows, their JSON and Markdown, ``compare``; the files are written by :mod:`writer`.

Schema (docs/architecture.md, "Benchmark report")::

    {"schema": 1, "created": "...", "settings": {...},
     "machine": {"cpu": ..., "cores": ..., "isa": [...], "os": ..., "versions": {...}, "devices": {...}},
     "rows": [{"stage": "frame", "model": "fer-mini-xception", "format": "IR", "precision": "INT8",
               "device": "CPU", "batch": 1, "latency_ms": {"median": 0.31, "p90": 0.35},
               "fps": 3200.0, "size_mb": 0.08, "accuracy": null,
               "mode": "latency", "hint": "default", "inference_precision": "bf16",
               "requests": 1, "iterations": 500, "engine": "OpenVINO 2026.4.1"}]}

With ``--per-layer`` an additive ``"layers"`` array: per model and precision ``{"stage", "model",
"precision", "device", "hint", "iterations", "total_ms", "layers": [{"name", "type", "exec_type",
"ms"}]}``, the slowest layers first (a report without it loads with none).

``stage`` is a model role (``frame``, ``spatial``, ``temporal``, ``clip``) or a runtime stage
on a video (``video`` = a whole frame end to end, ``video:detect``, ``video:infer`` ...).
Rows from two machines are matched by (stage, model, format, precision, device, batch, mode,
hint) first: ``mode`` separates sync latency, async throughput and the runtime's per-frame and
per-call rows; ``hint`` the plugin's default inference precision from a pinned one. Rows left
over are then matched without the hint, so a default run meets an ``--infer-precision f32``
run of the same model; the comparison shows each side's hint.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fer_edge.benchmark.jsonout import dumps
from fer_edge.benchmark.matching import KEY, match_rows
from fer_edge.benchmark.schema import MAX_ROWS, check_layers, check_machine, check_row, check_settings
from fer_edge.benchmark.text import FOOTNOTE, layer_tables, machine_lines, run_lines
from fer_edge.core.atomic import write_text

if TYPE_CHECKING:
    from fer_edge.runtime.latency import Timing
from fer_edge.core.errors import FerEdgeError
from fer_edge.core.fileio import file_in, read_json

SCHEMA = 1
_REQUIRED = ("stage", "model", "format", "precision", "device", "batch", "latency_ms", "fps", "size_mb", "accuracy")


@dataclass
class Row:
    """One measured configuration. ``latency_ms`` = ``{"median": ..., "p90": ...}``."""

    stage: str
    model: str
    format: str
    precision: str
    device: str
    batch: int
    latency_ms: dict[str, float]
    fps: float
    size_mb: float | None = None
    accuracy: float | None = None
    mode: str = "latency"
    hint: str = "default"
    inference_precision: str = "unknown"
    requests: int = 1
    iterations: int = 0
    engine: str = ""

    @classmethod
    def timed(cls, t: Timing, **fields: Any) -> Row:
        """The row of one measurement ``t``; ``fields`` name the model, device and settings measured."""
        return cls(
            latency_ms={"median": t.median_ms, "p90": t.p90_ms, "mean": t.mean_ms},
            fps=t.fps,
            mode=t.mode,
            inference_precision=t.inference_precision,
            iterations=t.iterations,
            requests=t.requests,
            **fields,
        )

    def key(self) -> tuple:
        return tuple(getattr(self, k) for k in KEY)

    def label(self) -> str:
        """Short text naming the configuration, for charts and tables."""
        infer = f"/{self.inference_precision}" if self.inference_precision not in ("unknown", "") else ""
        return f"{self.model} {self.format} {self.precision}{infer} {self.device}"


@dataclass
class BenchmarkReport:
    """Machine record + rows; JSON, Markdown and HTML come from the same rows (``writer.save_report``)."""

    machine: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    outputs: dict[str, str] = field(default_factory=dict)
    layers: list[dict[str, Any]] = field(default_factory=list)  # per-layer profiles (--per-layer)

    def as_dict(self) -> dict[str, Any]:
        data = {
            "schema": SCHEMA,
            "created": self.created,
            "settings": self.settings,
            "machine": self.machine,
            "rows": [asdict(r) for r in self.rows],
        }
        if self.layers:  # additive: a report without --per-layer is what it always was
            data["layers"] = self.layers
        return data

    def to_markdown(self) -> str:
        return to_markdown(self)


def row_from_dict(data: dict[str, Any], where: str = "row") -> Row:
    """A :class:`Row` from its JSON form, checking the required fields.

    Raises:
        FerEdgeError: naming the missing or malformed field.
    """
    check_row(data, where)
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise FerEdgeError(f"{where}: missing {', '.join(missing)}; is this a fer-edge benchmark report?")
    lat = data["latency_ms"]
    if not isinstance(lat, dict) or not all(isinstance(lat.get(k), (int, float)) for k in ("median", "p90")):
        raise FerEdgeError(f"{where}: 'latency_ms' must be {{'median': number, 'p90': number}}, got {lat!r}")
    known = set(Row.__dataclass_fields__)
    return Row(**{k: v for k, v in data.items() if k in known})


def load_report(path: str | os.PathLike) -> BenchmarkReport:
    """Read a ``benchmark.json`` written by :meth:`BenchmarkReport.save`.

    Raises:
        FerEdgeError: missing file, not JSON, not a benchmark report.

    Example:
        >>> load_report("runs/bench/benchmark.json").machine["cpu"]  # doctest: +SKIP
        'AMD EPYC'
    """
    path = file_in(
        path, "benchmark.json", "benchmark report not found: {path}; create one with fer-edge benchmark --out DIR"
    )
    data = read_json(path, "benchmark report", finite=True)
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("rows"), list)
        or not isinstance(data.get("machine"), dict)
    ):
        raise FerEdgeError(f"{path}: not a fer-edge benchmark report (needs 'machine' and 'rows')")
    schema = data.get("schema", SCHEMA)
    if isinstance(schema, bool) or not isinstance(schema, int):
        raise FerEdgeError(f"{path}: 'schema' must be an integer, got {schema!r}")
    if schema > SCHEMA:
        raise FerEdgeError(
            f"{path}: report schema {data['schema']} is newer than this fer-edge reads ({SCHEMA}); upgrade fer-edge"
        )
    if len(data["rows"]) > MAX_ROWS:
        raise FerEdgeError(f"{path}: {len(data['rows'])} rows, more than {MAX_ROWS} (not a benchmark report?)")
    machine = check_machine(data["machine"], str(path))
    settings = check_settings(data.get("settings"), str(path))
    created = data.get("created", "")
    if not isinstance(created, str):
        raise FerEdgeError(f"{path}: 'created' must be a date string, got {created!r}"[:200])
    rows = [row_from_dict(r, f"{path} row {i}") for i, r in enumerate(data["rows"])]
    layers = check_layers(data.get("layers"), str(path))
    return BenchmarkReport(machine, rows, settings, created, layers=layers)


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def to_markdown(report: BenchmarkReport) -> str:
    """The report as Markdown: machine lines, then one table of every row.

    Example:
        >>> print(to_markdown(report))  # doctest: +SKIP
    """
    out = ["# fer-edge benchmark", "", f"Created {report.created}.", ""]
    out += [f"- {line}" for line in machine_lines(report.machine)]
    out += [f"- {line}" for line in run_lines(report.settings)]
    notes = report.settings.get("notes") or []
    out += [""] + [f"Note: {n}" for n in notes] + ([""] if notes else [])
    out += [
        "| stage | mode | model | format | precision | infer | device | batch | median ms | mean ms | p90 ms "
        "| FPS | size MB | accuracy |",
        "| --- | --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report.rows:
        mode = r.mode if r.requests <= 1 else f"{r.mode} x{r.requests}"
        infer = r.inference_precision if r.hint == "default" else f"{r.inference_precision} (pinned)"
        out.append(
            f"| {r.stage} | {mode} | {r.model} | {r.format} | {r.precision} | {infer} | {r.device} "
            f"| {r.batch} | {_num(r.latency_ms['median'], 3)} | {_num(r.latency_ms.get('mean'), 3)} "
            f"| {_num(r.latency_ms['p90'], 3)} | {_num(r.fps, 1)} | {_num(r.size_mb, 3)} "
            f"| {_num(r.accuracy, 4)} |"
        )
    out += ["", FOOTNOTE, ""]
    tables = layer_tables(report.layers)
    out += [*tables, ""] if tables else []
    return "\n".join(out)


@dataclass
class Comparison:
    """One configuration measured in both reports; ratios are B / A (> 1: B is slower / faster FPS)."""

    key: tuple
    a: Row | None
    b: Row | None

    @property
    def latency_ratio(self) -> float | None:
        if self.a is None or self.b is None or not _stat(self.a):
            return None
        return round(_stat(self.b) / _stat(self.a), 3)

    @property
    def fps_ratio(self) -> float | None:
        if self.a is None or self.b is None or not self.a.fps:
            return None
        return round(self.b.fps / self.a.fps, 3)


def compare(a: BenchmarkReport, b: BenchmarkReport) -> list[Comparison]:
    """Match rows of two reports: first on every key field, then ignoring the hint.

    The first pass pairs like with like (stage, model, format, precision, device, batch, mode,
    hint). Rows still unpaired are then matched without the hint, so a default run (BF16 on
    one CPU) meets an ``--infer-precision f32`` run of the same model; the table shows each
    side's hint. Rows only one report has come last, with the other side None.

    Example:
        >>> pairs = compare(load_report("laptop.json"), load_report("pi.json"))  # doctest: +SKIP
        >>> pairs[0].latency_ratio  # the Pi's median latency over the laptop's  # doctest: +SKIP
    """

    matches = match_rows([a.rows, b.rows])
    both = [Comparison(m.key, m.rows[0], m.rows[1]) for m in matches if None not in m.rows]
    only_a = [Comparison(m.key, m.rows[0], None) for m in matches if m.rows[1] is None]
    only_b = [Comparison(m.key, None, m.rows[1]) for m in matches if m.rows[0] is None]
    return both + only_a + only_b


def format_comparison(
    a: BenchmarkReport, b: BenchmarkReport, pairs: list[Comparison] | None = None, names: tuple[str, str] = ("A", "B")
) -> str:
    """Side-by-side Markdown: both machines, then hints, median ms, FPS and B/A ratios per configuration."""
    pairs = compare(a, b) if pairs is None else pairs
    na, nb = names
    out = [
        f"{na}: " + "; ".join(machine_lines(a.machine)[:2]),
        f"{nb}: " + "; ".join(machine_lines(b.machine)[:2]),
        "",
        f"| stage | mode | model | format | precision | device | {na} hint (infer) | {nb} hint (infer) "
        f"| {na} ms | {nb} ms | {nb}/{na} latency | {na} FPS | {nb} FPS | {nb}/{na} FPS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in pairs:
        stage, model, fmt, precision, device, _batch, mode, _hint = p.key
        ha = f"{p.a.hint} ({p.a.inference_precision})" if p.a else "-"
        hb = f"{p.b.hint} ({p.b.inference_precision})" if p.b else "-"
        ma = _num(_stat(p.a), 3) if p.a else "missing"
        mb = _num(_stat(p.b), 3) if p.b else "missing"
        fa = _num(p.a.fps, 1) if p.a else "-"
        fb = _num(p.b.fps, 1) if p.b else "-"
        out.append(
            f"| {stage} | {mode} | {model} | {fmt} | {precision} | {device} | {ha} | {hb} | {ma} | {mb} "
            f"| {_num(p.latency_ratio)} | {fa} | {fb} | {_num(p.fps_ratio)} |"
        )
    matched = sum(1 for p in pairs if p.a and p.b)
    out += [
        "",
        f"{matched} configuration(s) in both reports, {len(pairs) - matched} in only one. "
        "ms: median (mean for video rows, the statistic their FPS comes from).",
    ]
    return "\n".join(out)


def _stat(r: Row) -> float:
    """The latency FPS is derived from: the mean for runtime-on-video rows, else the median."""
    if r.stage.startswith("video") and "mean" in r.latency_ms:
        return r.latency_ms["mean"]
    return r.latency_ms["median"]


def save_comparison(
    a: BenchmarkReport,
    b: BenchmarkReport,
    out: str | os.PathLike,
    names: tuple[str, str] = ("A", "B"),
    sources: tuple[str, str] = ("", ""),
) -> dict[str, str]:
    """Write ``compare.md`` and ``compare.json`` (pairs with both rows and the ratios) into ``out``.

    Example:
        >>> save_comparison(load_report("a.json"), load_report("b.json"), "runs/compare")  # doctest: +SKIP
        {'md': 'runs/compare/compare.md', 'json': 'runs/compare/compare.json'}
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pairs = compare(a, b)
    data = {
        "schema": SCHEMA,
        "a": sources[0],
        "b": sources[1],
        "machines": {"a": a.machine, "b": b.machine},
        "pairs": [
            {
                "a": None if p.a is None else asdict(p.a),
                "b": None if p.b is None else asdict(p.b),
                "latency_ratio": p.latency_ratio,
                "fps_ratio": p.fps_ratio,
            }
            for p in pairs
        ],
    }
    files = {"md": out / "compare.md", "json": out / "compare.json"}
    head = f"# fer-edge benchmark compare\n\n{names[0]} = {sources[0]}, {names[1]} = {sources[1]}\n\n"
    write_text(files["md"], head + format_comparison(a, b, pairs, names) + "\n")
    write_text(files["json"], dumps(data))
    return {k: str(v) for k, v in files.items()}
