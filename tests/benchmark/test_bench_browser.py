"""benchmark.html and fleet.html in a real browser (headless Chromium): every SVG text inside its
chart, the p90 tick drawn even below the mean, one bar per model-independent stage, a headline."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_edge.benchmark.html import SHARED_TITLE, to_html
from fer_edge.benchmark.merge import merge_reports
from fer_edge.benchmark.report import BenchmarkReport, Row
from fer_edge.benchmark.writer import save_report

MACHINE = {"cpu": "Intel(R) Xeon(R) Platinum 8480+ with a long model name", "cores": 2, "host": "bench-host"}
# Measures every <text> of every <svg> once the page is laid out, and writes what sticks out.
_PROBE = """<script>
const out = [];
document.querySelectorAll("svg").forEach((svg, i) => {
  const w = svg.viewBox.baseVal.width, h = svg.viewBox.baseVal.height;
  svg.querySelectorAll("text").forEach((t) => {
    const b = t.getBBox();
    if (b.x < 0 || b.y < 0 || b.x + b.width > w + 0.5 || b.y + b.height > h + 0.5)
      out.push({svg: i, text: t.textContent, x: b.x, right: b.x + b.width, width: w});
  });
});
document.body.setAttribute("data-texts", document.querySelectorAll("svg text").length);
document.body.setAttribute("data-outside", JSON.stringify(out));
</script>"""


def _row(stage, precision, mean, p90, model="fer-mini-xception-with-a-long-name", fmt="IR", mode="per frame", **kw):
    return Row(
        stage=stage,
        model=model,
        format=fmt,
        precision=precision,
        device=kw.pop("device", "CPU"),
        batch=1,
        latency_ms={"median": mean * 0.8, "p90": p90, "mean": mean},
        fps=round(1000.0 / mean, 2),
        mode=mode,
        **kw,
    )


def _report() -> BenchmarkReport:
    rows = []
    for precision, scale in (("FP32", 1.0), ("FP16", 0.8), ("INT8", 0.5)):
        rows += [
            _row("frame", precision, 0.31 * scale, 0.35 * scale, mode="latency"),
            _row("video", precision, 19.6 * scale, 24.0 * scale),
            _row("video:decode", precision, 1.2, 1.5),
            _row("video:detect", precision, 13.8 if precision == "FP32" else 18.2, 7.0),  # p90 < mean
            _row("video:track", precision, 0.8, 1.1),
            _row("video:postprocess", precision, 0.007, 0.009),  # near zero: no 142,857 FPS
        ]
    rows.append(_row("frame", "FP32", 1.9, 2.4, fmt="Keras", mode="latency"))
    return BenchmarkReport(MACHINE, rows, {"baseline": "tf", "detector": "blazeface", "label": "bench-host"})


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium missing: make test-tools (apt-get install -y chromium)"
    return found


def _browser(html: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    return subprocess.run(
        [_chromium(), *flags, *args, html.as_uri()], capture_output=True, text=True, timeout=120, check=True
    )


def _check_in_browser(html_text: str, tmp: Path, name: str) -> None:
    page = tmp / f"{name}.html"
    page.write_text(html_text)
    probe = tmp / f"{name}-probe.html"
    probe.write_text(html_text.replace("</body>", _PROBE + "</body>"))
    dom = _browser(probe, tmp, "--dump-dom").stdout
    texts = int(re.search(r'data-texts="(\d+)"', dom).group(1))
    outside = json.loads(re.search(r"data-outside=\"([^\"]*)\"", dom).group(1).replace("&quot;", '"'))
    assert texts > 10 and outside == [], outside
    shot = tmp / f"{name}.png"
    _browser(page, tmp, f"--screenshot={shot}", "--window-size=1300,2400")
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (2400, 1300)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 20, "a blank page"


@pytest.mark.slow
def test_benchmark_html_in_chromium(tmp_path):
    html = to_html(_report())
    # one bar per model-independent stage, not one per precision
    shared = html.split(f"<h2>{SHARED_TITLE}</h2>")[1].split("</svg>")[0]
    assert shared.count("<rect") == 3 and "mean of 3 run(s): FP16, FP32, INT8" in shared
    assert html.count('class="p90"') == 4 + 3 + 3 + 3  # frame (+Keras), video, shared, postprocess: all ticked
    head = html.split('<div class="headline">')[1].split("</div>")[0]
    assert "FP32 on CPU: 51.0 FPS end to end" in head and "6.1x the TensorFlow baseline" in head
    assert "142857" not in html and ">142" not in html
    _check_in_browser(html, tmp_path, "benchmark")


@pytest.mark.slow
def test_fleet_html_in_chromium(tmp_path):
    a, b = _report(), _report()
    b.machine = {**MACHINE, "host": "raspberry-pi-5-in-the-kitchen"}
    for report, name in ((a, "a"), (b, "b")):
        save_report(report, tmp_path / name)
    fleet = merge_reports([str(tmp_path / "a"), str(tmp_path / "b")])
    fleet.save(tmp_path / "fleet")
    html = (tmp_path / "fleet" / "fleet.html").read_text()
    shared = html.split(f"<h2>{SHARED_TITLE}</h2>")[1].split("</svg>")[0]
    assert shared.count("<rect") == 3 * 2 and "(mean of 3)" in shared  # per stage a bar per column
    assert "<h2>video:detect" not in html and "<h2>video:postprocess" in html
    _check_in_browser((tmp_path / "fleet" / "fleet.html").read_text(), tmp_path, "fleet")
