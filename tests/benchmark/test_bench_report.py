"""Benchmark reports: JSON schema, Markdown, self-contained HTML, compare, bad report files."""

from __future__ import annotations

import json
import re

import pytest

from fer_edge.benchmark.html import to_html
from fer_edge.benchmark.report import KEY, BenchmarkReport, Row, compare, format_comparison, load_report
from fer_edge.benchmark.writer import save_report
from fer_edge.core.errors import FerEdgeError

MACHINE_A = {
    "cpu": "AMD EPYC",
    "cores": 2,
    "cores_usable": 2,
    "isa": ["AVX2", "AVX-512 VNNI", "AVX-512 BF16"],
    "memory_gb": 23.5,
    "os": "Debian 12",
    "python": "3.11",
    "arch": "x86_64",
    "versions": {"openvino": "2026.4.1", "tensorflow": "2.21.0"},
    "devices": {"CPU": "AMD EPYC"},
    "tf_gpus": [],
}
MACHINE_B = {
    **MACHINE_A,
    "cpu": "Raspberry Pi 5 <Model B>",
    "isa": ["NEON (ASIMD)", "DOTPROD"],
    "arch": "aarch64",
    "tf_gpus": None,
}


def _row(
    stage="frame",
    precision="FP32",
    median=1.0,
    p90=1.5,
    fps=1000.0,
    device="CPU",
    fmt="IR",
    mode="latency",
    hint="default",
    model="tiny",
    **kw,
) -> Row:
    return Row(
        stage=stage,
        model=model,
        format=fmt,
        precision=precision,
        device=device,
        batch=1,
        latency_ms={"median": median, "p90": p90},
        fps=fps,
        size_mb=0.25,
        mode=mode,
        hint=hint,
        **kw,
    )


def _report(machine, rows) -> BenchmarkReport:
    return BenchmarkReport(machine, rows, {"iterations": 10})


def test_json_schema_round_trip(tmp_path):
    rows = [
        _row(),
        _row(precision="INT8", median=0.4, p90=0.5, fps=2500.0, accuracy=0.91, inference_precision="bf16"),
        _row(stage="video:detect", median=0.0, p90=8.0, fps=90.0),
    ]
    report = _report(MACHINE_A, rows)
    out = save_report(report, tmp_path / "bench")
    assert set(out) == {"json", "md", "html"}
    assert not list((tmp_path / "bench").glob(".*tmp*"))  # temporary names are gone
    data = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    assert data["schema"] == 1 and data["machine"]["cpu"] == "AMD EPYC"
    for r in data["rows"]:
        for key in (
            "stage",
            "model",
            "format",
            "precision",
            "device",
            "batch",
            "latency_ms",
            "fps",
            "size_mb",
            "accuracy",
        ):
            assert key in r
        assert set(r["latency_ms"]) == {"median", "p90"}
    again = load_report(tmp_path / "bench")  # a folder works too
    assert [r.key() for r in again.rows] == [r.key() for r in rows]
    assert again.rows[1].accuracy == 0.91 and again.rows[1].inference_precision == "bf16"


def test_markdown_table():
    md = _report(
        MACHINE_A, [_row(), _row(mode="throughput", requests=4, hint="f32", inference_precision="f32")]
    ).to_markdown()
    lines = [line for line in md.splitlines() if line.startswith("|")]
    assert len(lines) == 4 and lines[0].count("|") == lines[2].count("|") == 15
    assert "throughput x4" in lines[3] and "f32 (pinned)" in lines[3]
    assert "AVX-512 VNNI" in md and "TensorFlow GPUs: none" in md


def test_html_is_self_contained_and_escaped():
    rows = [
        _row(model="<script>alert(1)</script>"),
        _row(precision="INT8", median=0.3),
        _row(stage="frame", mode="throughput", requests=2),
        _row(stage="video", median=5.0, p90=9.0),
    ]
    html = to_html(_report(MACHINE_B, rows))
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<script" not in html.lower().replace("&lt;script", "")  # only the escaped text
    assert not re.search(r"(src|href)\s*=", html, re.I), "no external resources"
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    # one chart per stage and mode, one bar per row
    assert html.count("<svg") == 3 and html.count("<rect") == 4
    assert "Raspberry Pi 5 &lt;Model B&gt;" in html
    assert "frame (throughput)" in html


def test_empty_report_still_renders(tmp_path):
    report = _report(MACHINE_A, [])
    save_report(report, tmp_path)
    assert "<svg" not in (tmp_path / "benchmark.html").read_text()
    assert load_report(tmp_path / "benchmark.json").rows == []


def test_compare_matches_by_key_and_gives_ratios():
    a = _report(
        MACHINE_A,
        [
            _row(median=1.0, fps=1000.0),
            _row(precision="INT8", median=0.5, fps=2000.0),
            _row(stage="temporal", median=2.0),
        ],
    )
    b = _report(
        MACHINE_B,
        [
            _row(precision="INT8", median=2.0, fps=500.0),
            _row(median=4.0, fps=250.0),
            _row(hint="f32", median=5.0),
            _row(device="GPU", median=0.1),
        ],
    )
    pairs = compare(a, b)
    both = [p for p in pairs if p.a and p.b]
    assert len(both) == 2
    fp32 = next(p for p in both if p.key[3] == "FP32")
    assert fp32.latency_ratio == 4.0 and fp32.fps_ratio == 0.25
    int8 = next(p for p in both if p.key[3] == "INT8")
    assert int8.latency_ratio == 4.0
    only_a = [p for p in pairs if p.b is None]
    only_b = [p for p in pairs if p.a is None]
    assert [p.key[0] for p in only_a] == ["temporal"]
    assert sorted((p.key[4], p.key[7]) for p in only_b) == [("CPU", "f32"), ("GPU", "default")]
    assert len(KEY) == 8
    text = format_comparison(a, b)
    assert "Raspberry Pi 5" in text and "AMD EPYC" in text
    assert "| 4.00 |" in text and "missing" in text
    assert "2 configuration(s) in both reports, 3 in only one." in text


def test_compare_identical_reports_is_all_ones():
    a = _report(MACHINE_A, [_row(), _row(precision="FP16", median=0.7, fps=1400.0)])
    pairs = compare(a, a)
    assert all(p.latency_ratio == 1.0 and p.fps_ratio == 1.0 for p in pairs)


@pytest.mark.parametrize(
    "content, match",
    [
        (None, "not found"),
        ("{not json", "not valid JSON"),
        ('{"rows": []}', "not a fer-edge benchmark report"),
        ('{"schema": 99, "machine": {}, "rows": []}', "newer"),
        ('{"machine": {}, "rows": [{"stage": "x"}]}', "missing"),
        (
            '{"machine": {}, "rows": [{"stage": "x", "model": "m", "format": "IR", "precision": "FP32", '
            '"device": "CPU", "batch": 1, "latency_ms": 3, "fps": 1, "size_mb": 1, "accuracy": null}]}',
            "latency_ms",
        ),
    ],
)
def test_bad_report_files(tmp_path, content, match):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(FerEdgeError, match=match):
        load_report(path)
