"""A self-contained ``benchmark.html``: machine, inline SVG latency bars, the full table.

No JavaScript, no CDN, no external fonts or images: the file opens the same offline, in a
mail attachment or on a Pi. One chart per stage and mode; a bar per configuration (model,
format, precision, device), coloured by precision: latency with the p90 as a thin whisker, or
FPS for throughput rows.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from html import escape
from typing import TYPE_CHECKING

from fer_edge.benchmark.matching import shown_fps
from fer_edge.benchmark.svg import text_width
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
#: Video stages that do not depend on the model: one bar each, not one per precision.
MODEL_INDEPENDENT = ("video:decode", "video:detect", "video:track")
SHARED_TITLE = "video: model-independent stages (decode, detect, track)"

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:3px 6px}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}
.legend span{display:inline-block;margin-right:1em}.sw{display:inline-block;width:.9em;height:.9em;
margin-right:.3em;vertical-align:middle}svg text{font-size:12px;font-family:inherit}
.headline{font-size:1.05em;background:#f6f8fa;padding:.6em 1em}
"""


def _stage_groups(rows: list[Row]) -> OrderedDict[str, list[Row]]:
    """Charts by stage and mode; the model-independent video stages share one chart, a bar each."""
    groups: OrderedDict[str, list[Row]] = OrderedDict()
    shared = [r for r in rows if r.stage in MODEL_INDEPENDENT]
    for r in rows:
        if r.stage in MODEL_INDEPENDENT:
            continue
        title = r.stage if r.mode == "latency" else f"{r.stage} ({r.mode})"
        groups.setdefault(title, []).append(r)
    if shared:
        groups[SHARED_TITLE] = model_independent(shared)
    return groups


def model_independent(rows: list[Row]) -> list[Row]:
    """One row per model-independent stage, mode and device: the mean over the runs of every precision.

    Decoding, detection and tracking do not depend on the model, so a bar per precision would
    show run-to-run noise as if it were a precision's cost.
    """
    by: OrderedDict[tuple, list[Row]] = OrderedDict()
    for r in rows:
        by.setdefault((r.stage, r.mode, r.device), []).append(r)
    out = []
    for same in by.values():
        lat = {k: sum(r.latency_ms.get(k) or 0.0 for r in same) / len(same) for k in ("median", "p90", "mean")}
        runs = ", ".join(sorted({r.precision for r in same}))
        out.append(
            replace(
                same[0],
                model=f"mean of {len(same)} run(s): {runs}",
                format="",
                precision="any",
                inference_precision="unknown",
                latency_ms=lat,
                fps=0.0,
            )
        )
    return out


def _bar_value(r: Row) -> tuple[float, float | None, str]:
    """(bar length, whisker or None, unit) of a row: FPS for throughput rows, else latency ms
    (the mean for runtime-on-video rows, the statistic their FPS comes from; the median otherwise)."""
    if r.mode == "throughput":
        return r.fps, None, "FPS"
    if r.stage.startswith("video") and "mean" in r.latency_ms:
        return r.latency_ms["mean"], r.latency_ms["p90"], "ms mean"
    return r.latency_ms["median"], r.latency_ms["p90"], "ms median"


def _bar_text(r: Row) -> str:
    hint = "" if r.hint == "default" else f" [{r.hint}]"
    if r.precision == "any":
        return f"{r.stage.split(':', 1)[-1]} {r.device} ({r.model})"
    return f"{r.label()}{hint}"


def bar_chart(title: str, rows: list[Row]) -> str:
    """An inline SVG bar per row: latency (median, or mean for video rows) with its p90 as a
    whisker, or FPS for throughput rows; each bar's label names the statistic.

    The SVG is as wide as its longest texts (estimated by :func:`~fer_edge.benchmark.svg.text_width`),
    so no label is cut at an edge; the p90 tick is drawn also when it falls inside the bar (p90 < mean).

    Example:
        >>> svg = bar_chart("frame", report.rows)  # doctest: +SKIP
        >>> svg.startswith("<svg")  # doctest: +SKIP
        True
    """
    bar_w, row_h, top = 420, 22, 8
    values = [_bar_value(r) for r in rows]
    unit = values[0][2].split()[0] if values else "ms"
    longest = max((max(v, w or 0.0) for v, w, _ in values), default=0.0) or 1.0
    texts = [_bar_text(r) for r in rows]
    labels = []
    for value, whisker, what in values:
        p90 = f", p90 {whisker:.3f} ms" if whisker is not None else ""
        labels.append(f"{value:.1f} FPS" if unit == "FPS" else f"{value:.3f} {what}{p90}")
    label_w = max((text_width(t) for t in texts), default=0.0) + 12
    end = f"{longest:.1f} FPS" if unit == "FPS" else f"{longest:.3f} ms"
    value_w = max([text_width(t) for t in labels] + [text_width(end) / 2]) + 12
    height = top + row_h * len(rows) + 24
    width = int(label_w + bar_w + value_w + 8)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)} {"throughput" if unit == "FPS" else "latency"}">'
    ]
    for i, (r, (value, whisker, what)) in enumerate(zip(rows, values)):
        y = top + i * row_h
        w = max(1.0, bar_w * value / longest)
        wp = bar_w * whisker / longest if whisker is not None else 0.0
        color = COLORS.get(r.precision.upper(), _OTHER)
        p90 = f", p90 {whisker:.3f} ms" if whisker is not None else ""
        fps = "" if shown_fps(r) is None else f", {r.fps:.1f} FPS"
        parts.append(f'<text x="{label_w - 6:.1f}" y="{y + 15}" text-anchor="end">{escape(texts[i])}</text>')
        parts.append(
            f'<rect x="{label_w:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{color}">'
            f"<title>{escape(texts[i])}: {value:.3f} {what}{p90}{fps}</title></rect>"
        )
        if whisker is not None:
            cy = y + row_h / 2
            # Outside the bar a dark line from its end; inside (p90 below the mean) a white tick.
            stroke = "#333" if wp > w else "#fff"
            if wp > w:
                parts.append(
                    f'<line x1="{label_w + w:.1f}" y1="{cy}" x2="{label_w + wp:.1f}" y2="{cy}" '
                    'stroke="#333" stroke-width="1"/>'
                )
            parts.append(
                f'<line x1="{label_w + wp:.1f}" y1="{cy - 5}" x2="{label_w + wp:.1f}" y2="{cy + 5}" '
                f'stroke="{stroke}" stroke-width="2" class="p90"/>'
            )
        # The label names both numbers, so it cannot be read as the whisker's value.
        parts.append(f'<text x="{label_w + max(w, wp) + 6:.1f}" y="{y + 15}">{escape(labels[i])}</text>')
    axis_y = top + row_h * len(rows) + 4
    parts.append(f'<line x1="{label_w:.1f}" y1="{axis_y}" x2="{label_w + bar_w:.1f}" y2="{axis_y}" stroke="#999"/>')
    parts.append(f'<text x="{label_w:.1f}" y="{axis_y + 16}">0</text>')
    parts.append(f'<text x="{label_w + bar_w:.1f}" y="{axis_y + 16}" text-anchor="middle">{end}</text>')
    parts.append("</svg>")
    return "".join(parts)


def headline(report: BenchmarkReport) -> list[str]:
    """The numbers to read first: end-to-end FPS per precision and device (the ``video`` rows, or
    the frame model's when there is no video), and each OpenVINO model's speed-up over the
    TensorFlow baseline of the same model and stage."""
    out = []
    video = [r for r in report.rows if r.stage == "video" and r.mode == "per frame"]
    for r in video:
        hint = "" if r.hint == "default" else f" [{r.hint}]"
        out.append(f"{r.model} {r.precision}{hint} on {r.device}: {r.fps:.1f} FPS end to end ({_stat(r):.2f} ms/frame)")
    keras = {(r.model, r.stage): r for r in report.rows if r.format == "Keras" and r.mode == "latency"}
    for r in report.rows:
        if r.format == "Keras" or r.mode != "latency" or r.stage.startswith("video"):
            continue
        base = keras.get((r.model, r.stage))
        if not video and r.hint == "default":
            out.append(f"{r.model} {r.stage} {r.precision} on {r.device}: {r.fps:.1f} FPS (batch 1, model only)")
        if base is not None and r.latency_ms["median"] > 0 and r.hint == "default":
            speed = base.latency_ms["median"] / r.latency_ms["median"]
            out.append(
                f"{r.model} {r.stage} {r.precision} on OpenVINO {r.device}: {r.latency_ms['median']:.3f} ms, "
                f"{speed:.1f}x the TensorFlow baseline ({base.device}, {base.latency_ms['median']:.3f} ms)"
            )
    if not keras and report.settings.get("baseline") not in (None, "none"):
        out.append("no TensorFlow baseline row (see the notes)")
    return out


def _stat(r: Row) -> float:
    return r.latency_ms["mean"] if r.latency_ms.get("mean") is not None else r.latency_ms["median"]


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
            "-" if shown_fps(r) is None else f"{r.fps:.1f}",
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
    head = headline(report)
    if head:
        items = "".join(f"<li>{escape(h)}</li>" for h in head)
        body.insert(6, f'<div class="headline"><b>Headline</b><ul>{items}</ul></div>')
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
