"""``fleet.html``: the merged matrix as one self-contained page (inline CSS and SVG, no scripts).

One chart per stage and mode; per configuration a bar per column (machine/device), each
labelled with its value. Every text's extent is estimated from its length at the chart's font
size and the SVG is made wide enough for the longest, so no label is cut at an edge.
"""

from __future__ import annotations

from collections import OrderedDict
from html import escape
from typing import TYPE_CHECKING

from fer_edge.benchmark.html import MODEL_INDEPENDENT, SHARED_TITLE
from fer_edge.benchmark.matching import config_label, shown_fps, stat
from fer_edge.benchmark.svg import text_width
from fer_edge.benchmark.text import machine_lines, run_lines

if TYPE_CHECKING:
    from fer_edge.benchmark.merge import FleetReport

# Okabe-Ito, colour-blind friendly; a column's colour is the same in every chart.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:3px 6px}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}
.sw{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}
svg text{font-size:12px;font-family:inherit}.headline{font-size:1.05em;background:#f6f8fa;padding:.6em 1em}
"""


def _color(c: int) -> str:
    return PALETTE[c % len(PALETTE)]


def _groups(fleet: FleetReport) -> OrderedDict[str, list[int]]:
    groups: OrderedDict[str, list[int]] = OrderedDict()
    for i, key in enumerate(fleet.keys):
        stage, mode = key[0], key[6]
        if stage in MODEL_INDEPENDENT:
            continue  # one chart for them all: see _shared_bars
        groups.setdefault(stage if mode == "latency" else f"{stage} ({mode})", []).append(i)
    return groups


# A chart's bars: (label of the group, [(column, value, p90 or None, value text), ...]).
Bars = list[tuple[str, list[tuple[int, float, "float | None", str]]]]


def _config_bars(fleet: FleetReport, indices: list[int]) -> tuple[Bars, bool]:
    throughput = all(fleet.keys[i][6] == "throughput" for i in indices)
    bars: Bars = []
    for i in indices:
        row = []
        for c, r in enumerate(fleet.cells[i]):
            if r is None:
                continue
            value = r.fps if throughput else stat(r)
            text = f"{r.fps:.1f} FPS" if throughput else f"{value:.3f} ms, p90 {r.latency_ms['p90']:.3f}"
            row.append((c, value, None if throughput else r.latency_ms["p90"], text))
        bars.append((_config_text(fleet.keys[i]), row))
    return bars, throughput


def _shared_bars(fleet: FleetReport) -> Bars:
    """Decode, detect and track do not depend on the model: per stage one bar per column, the
    mean over the column's runs of every precision (a bar per precision would show noise)."""
    by: OrderedDict[tuple, list[int]] = OrderedDict()
    for i, key in enumerate(fleet.keys):
        if key[0] in MODEL_INDEPENDENT:
            by.setdefault((key[0], key[6]), []).append(i)
    bars: Bars = []
    for (stage, mode), indices in by.items():
        row = []
        for c in range(len(fleet.columns)):
            cells = [fleet.cells[i][c] for i in indices if fleet.cells[i][c] is not None]
            if cells:
                value = sum(stat(r) for r in cells) / len(cells)
                p90 = sum(r.latency_ms["p90"] for r in cells) / len(cells)
                row.append((c, value, p90, f"{value:.3f} ms, p90 {p90:.3f} (mean of {len(cells)})"))
        bars.append((f"{stage.split(':', 1)[1]} ({mode})", row))
    return bars


def fleet_chart(fleet: FleetReport, bars: Bars, title: str, *, throughput: bool = False) -> str:
    """Grouped horizontal bars: per group, one bar per column with its value label; the SVG is as
    wide as its longest texts, and the p90 tick is drawn also when it falls inside the bar."""
    bar_w, bar_h, gap, top = 420, 14, 10, 6
    label_w = max((text_width(label) for label, _ in bars), default=0.0) + 12
    entries = [e for _, row in bars for e in row]
    longest = max((max(v, w or 0.0) for _, v, w, _ in entries), default=0.0) or 1.0
    value_w = max((text_width(t) for *_, t in entries), default=0.0) + 12
    width = int(label_w + bar_w + value_w + 8)
    y, parts = top, []
    for label, row in bars:
        block = max(1, len(row)) * bar_h
        ly = y + block / 2 + 4
        parts.append(f'<text x="{label_w - 6:.1f}" y="{ly:.1f}" text-anchor="end">{escape(label)}</text>')
        for k, (c, value, whisker, text) in enumerate(row):
            by = y + k * bar_h
            w = max(1.0, bar_w * value / longest)
            wp = bar_w * whisker / longest if whisker is not None else 0.0
            name = fleet.columns[c].name
            parts.append(
                f'<rect x="{label_w:.1f}" y="{by + 1}" width="{w:.1f}" height="{bar_h - 2}" fill="{_color(c)}">'
                f"<title>{escape(name)}: {escape(text)}</title></rect>"
            )
            if whisker is not None:  # p90 drawn even when it is below the bar's end (the mean)
                cy = by + bar_h / 2
                if wp > w:
                    parts.append(
                        f'<line x1="{label_w + w:.1f}" y1="{cy}" x2="{label_w + wp:.1f}" y2="{cy}" '
                        'stroke="#222" stroke-width="1"/>'
                    )
                parts.append(
                    f'<line x1="{label_w + wp:.1f}" y1="{cy - 5}" x2="{label_w + wp:.1f}" y2="{cy + 5}" '
                    f'stroke="{"#222" if wp > w else "#fff"}" stroke-width="2" class="p90"/>'
                )
            end = label_w + max(w, wp) + 5
            parts.append(f'<text x="{end:.1f}" y="{by + bar_h - 3}">{escape(text)}</text>')
        y += block + gap
    height = int(y + 4)
    unit = "throughput" if throughput else "latency"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)} {unit}">'
    )
    return head + "".join(parts) + "</svg>"


def _config_text(key: tuple) -> str:
    _stage, model, fmt, precision, _device, batch, _mode, hint = key
    extra = f" b{batch}" if batch != 1 else ""
    pinned = "" if hint == "default" else f" [{hint}]"
    return f"{model} {fmt} {precision}{extra}{pinned}"


def _headline(fleet: FleetReport) -> str:
    """End-to-end FPS per precision and column (the ``video`` rows), or the frame model's when none."""
    wanted = [i for i, k in enumerate(fleet.keys) if k[0] == "video" and k[6] == "per frame"]
    what = "end-to-end FPS on the video"
    if not wanted:
        wanted = [i for i, k in enumerate(fleet.keys) if k[6] == "latency"][:6]
        what = "model FPS (batch 1)"
    items = []
    for i in wanted:
        cells = [
            f"{escape(fleet.columns[c].name)} <b>{r.fps:.1f}</b>" for c, r in enumerate(fleet.cells[i]) if r is not None
        ]
        items.append(f"<li>{escape(_config_text(fleet.keys[i]))} ({escape(fleet.keys[i][0])}): {', '.join(cells)}</li>")
    return f'<div class="headline"><b>Headline</b>: {what}<ul>{"".join(items)}</ul></div>'


def _table(fleet: FleetReport) -> str:
    head = "".join(f"<th>{escape(c.name)}</th>" for c in fleet.columns)
    out = [f"<table><tr><th>configuration</th><th>accuracy</th>{head}</tr>"]
    for i, key in enumerate(fleet.keys):
        acc = next((r.accuracy for r in fleet.cells[i] if r is not None and r.accuracy is not None), None)
        cells = []
        for c, r in enumerate(fleet.cells[i]):
            if r is None:
                cells.append('<td class="n">not measured</td>')
                continue
            s = fleet.speedup(i, c)
            speed = "" if s is None else f", x{s:.2f}"
            fps = "" if shown_fps(r) is None else f", {r.fps:.1f} FPS"
            cells.append(f'<td class="n">{stat(r):.3f} / {r.latency_ms["p90"]:.3f} ms{fps}{speed}</td>')
        accuracy = "-" if acc is None else f"{acc:.4f}"
        out.append(f'<tr><td>{escape(config_label(key))}</td><td class="n">{accuracy}</td>{"".join(cells)}</tr>')
    out.append("</table>")
    return "\n".join(out)


def fleet_html(fleet: FleetReport) -> str:
    """The merged report as one HTML page."""
    legend = "".join(
        f'<span><i class="sw" style="background:{_color(c)}"></i>{escape(col.name)}</span> '
        for c, col in enumerate(fleet.columns)
    )
    ref = fleet.columns[fleet.reference].name
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>fer-edge fleet benchmark</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>fer-edge fleet benchmark</h1>",
        f"<p>Merged {escape(fleet.created)} from {len(fleet.columns)} column(s); speed-ups against {escape(ref)}.</p>",
        _headline(fleet),
        f"<p>Colour = machine/device: {legend}</p>",
    ]
    for title, indices in _groups(fleet).items():
        bars, throughput = _config_bars(fleet, indices)
        body += [f"<h2>{escape(title)}</h2>", fleet_chart(fleet, bars, title, throughput=throughput)]
    shared = _shared_bars(fleet)
    if shared:
        body += [f"<h2>{escape(SHARED_TITLE)}</h2>", fleet_chart(fleet, shared, SHARED_TITLE)]
    body += ["<h2>Matrix</h2>", "<p>Cells: p50 (mean for video rows) / p90 ms, FPS, speed-up.</p>", _table(fleet)]
    body.append("<h2>Machines</h2>")
    for col in fleet.columns:
        lines = machine_lines(col.machine) + run_lines(col.settings) + [f"Report: {col.source}"]
        body += [f"<h3>{escape(col.name)}</h3><ul>", *[f"<li>{escape(x)}</li>" for x in lines], "</ul>"]
    if fleet.skipped:
        body += ["<h2>Left out</h2><ul>", *[f"<li>{escape(p)}: {escape(r)}</li>" for p, r in fleet.skipped], "</ul>"]
    body.append("</body></html>\n")
    return "\n".join(body)
