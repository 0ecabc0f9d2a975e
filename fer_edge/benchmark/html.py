"""A self-contained ``benchmark.html``: machine, inline SVG latency bars, the full table.

No JavaScript, no CDN, no external fonts or images: the file opens the same offline, in a
mail attachment or on a Pi. One chart per stage and mode; a bar per configuration (model,
format, precision, device), coloured by precision: latency with the p90 as a thin whisker, or
FPS for throughput rows.
"""

from __future__ import annotations

from collections import OrderedDict
from html import escape
from typing import TYPE_CHECKING

from fer_edge.benchmark.text import FOOTNOTE, machine_lines, run_lines

if TYPE_CHECKING:
    from fer_edge.benchmark.report import BenchmarkReport, Row

# Colour per model precision (colour-blind-friendly Okabe-Ito palette).
COLORS = {
    "FP32": "#0072B2",
    "FP16": "#009E73",
    "BF16": "#56B4E9",
    "INT8": "#D55E00",
    "INT8-WEIGHTS": "#E69F00",
    "MIXED": "#CC79A7",
}
_OTHER = "#777777"

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:3px 6px}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}
.legend span{display:inline-block;margin-right:1em}.sw{display:inline-block;width:.9em;height:.9em;
margin-right:.3em;vertical-align:middle}svg text{font-size:12px;font-family:inherit}
"""


def _stage_groups(rows: list[Row]) -> OrderedDict[str, list[Row]]:
    groups: OrderedDict[str, list[Row]] = OrderedDict()
    for r in rows:
        title = r.stage if r.mode == "latency" else f"{r.stage} ({r.mode})"
        groups.setdefault(title, []).append(r)
    return groups


def _bar_value(r: Row) -> tuple[float, float | None, str]:
    """(bar length, whisker or None, unit) of a row: FPS for throughput rows, else latency ms
    (the mean for runtime-on-video rows, the statistic their FPS comes from; the median otherwise)."""
    if r.mode == "throughput":
        return r.fps, None, "FPS"
    if r.stage.startswith("video") and "mean" in r.latency_ms:
        return r.latency_ms["mean"], r.latency_ms["p90"], "ms mean"
    return r.latency_ms["median"], r.latency_ms["p90"], "ms median"


def bar_chart(title: str, rows: list[Row]) -> str:
    """An inline SVG bar per row: latency (median, or mean for video rows) with its p90 as a
    whisker, or FPS for throughput rows; each bar's label names the statistic.

    Example:
        >>> svg = bar_chart("frame", report.rows)  # doctest: +SKIP
        >>> svg.startswith("<svg")  # doctest: +SKIP
        True
    """
    label_w, bar_w, row_h, top = 360, 480, 22, 8
    values = [_bar_value(r) for r in rows]
    unit = values[0][2].split()[0] if values else "ms"
    longest = max((max(v, w or 0.0) for v, w, _ in values), default=0.0) or 1.0
    height = top + row_h * len(rows) + 24
    width = label_w + bar_w + 190
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)} {"throughput" if unit == "FPS" else "latency"}">'
    ]
    for i, (r, (value, whisker, what)) in enumerate(zip(rows, values)):
        y = top + i * row_h
        w = max(1.0, bar_w * value / longest)
        wp = bar_w * whisker / longest if whisker is not None else 0.0
        color = COLORS.get(r.precision.upper(), _OTHER)
        hint = "" if r.hint == "default" else f" [{r.hint}]"
        text = f"{r.label()}{hint}"
        p90 = f", p90 {whisker:.3f} ms" if whisker is not None else ""
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(text)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{color}">'
            f"<title>{escape(text)}: {value:.3f} {what}{p90}, {r.fps:.1f} FPS</title></rect>"
        )
        if wp > w:
            cy = y + row_h / 2
            parts.append(
                f'<line x1="{label_w + w:.1f}" y1="{cy}" x2="{label_w + wp:.1f}" y2="{cy}" '
                'stroke="#333" stroke-width="1"/>'
            )
            parts.append(
                f'<line x1="{label_w + wp:.1f}" y1="{cy - 4}" x2="{label_w + wp:.1f}" y2="{cy + 4}" '
                'stroke="#333" stroke-width="1"/>'
            )
        # The label names both numbers, so it cannot be read as the whisker's value.
        label = f"{value:.1f} FPS" if unit == "FPS" else f"{value:.3f} {what}{p90}"
        parts.append(f'<text x="{label_w + max(w, wp) + 6:.1f}" y="{y + 15}">{escape(label)}</text>')
    axis_y = top + row_h * len(rows) + 4
    parts.append(f'<line x1="{label_w}" y1="{axis_y}" x2="{label_w + bar_w}" y2="{axis_y}" stroke="#999"/>')
    parts.append(f'<text x="{label_w}" y="{axis_y + 16}">0</text>')
    end = f"{longest:.1f} FPS" if unit == "FPS" else f"{longest:.3f} ms"
    parts.append(f'<text x="{label_w + bar_w}" y="{axis_y + 16}" text-anchor="end">{end}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: list[Row]) -> str:
    head = (
        "stage",
        "mode",
        "model",
        "format",
        "precision",
        "infer",
        "device",
        "batch",
        "median ms",
        "mean ms",
        "p90 ms",
        "FPS",
        "size MB",
        "accuracy",
    )
    out = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for r in rows:
        mode = r.mode if r.requests <= 1 else f"{r.mode} x{r.requests}"
        infer = r.inference_precision if r.hint == "default" else f"{r.inference_precision} (pinned)"
        cells = [r.stage, mode, r.model, r.format, r.precision, infer, r.device]
        mean = r.latency_ms.get("mean")
        nums = [
            str(r.batch),
            f"{r.latency_ms['median']:.3f}",
            "-" if mean is None else f"{mean:.3f}",
            f"{r.latency_ms['p90']:.3f}",
            f"{r.fps:.1f}",
            "-" if r.size_mb is None else f"{r.size_mb:.3f}",
            "-" if r.accuracy is None else f"{r.accuracy:.4f}",
        ]
        out.append(
            "<tr>"
            + "".join(f"<td>{escape(str(c))}</td>" for c in cells)
            + "".join(f'<td class="n">{escape(n)}</td>' for n in nums)
            + "</tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def to_html(report: BenchmarkReport) -> str:
    """The whole report as one HTML page with inline CSS and SVG only."""
    used = sorted({r.precision.upper() for r in report.rows})
    legend = "".join(
        f'<span><i class="sw" style="background:{COLORS.get(p, _OTHER)}"></i>{escape(p)}</span>' for p in used
    )
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>fer-edge benchmark</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>fer-edge benchmark</h1>",
        f"<p>Created {escape(report.created)}.</p>",
        "<ul>",
    ]
    body += [f"<li>{escape(line)}</li>" for line in machine_lines(report.machine)]
    body += [f"<li>{escape(line)}</li>" for line in run_lines(report.settings)]
    body.append("</ul>")
    if report.rows:
        body.append(
            '<p class="legend">Bars: median latency per inference (model rows), mean ms per frame or per '
            "call (video rows), or FPS (throughput rows); whisker: p90. "
            f"Colour = model precision: {legend}</p>"
        )
    for title, rows in _stage_groups(report.rows).items():
        body.append(f"<h2>{escape(title)}</h2>")
        body.append(bar_chart(title, rows))
    body.append("<h2>All rows</h2>")
    body.append(_table(report.rows))
    body += [f"<p>Note: {escape(n)}</p>" for n in report.settings.get("notes") or []]
    body.append(f"<p>{escape(FOOTNOTE)}</p>")
    body.append("</body></html>\n")
    return "\n".join(body)
