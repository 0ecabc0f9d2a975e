"""``benchmark merge`` and ``compare``: one matcher, strict JSON, hostile reports named in one line."""

from __future__ import annotations

import json
import math

import pytest

from fer_edge.benchmark.identity import bundle_fingerprint, resolve_detector
from fer_edge.benchmark.jsonout import dumps
from fer_edge.benchmark.matching import match_rows
from fer_edge.benchmark.merge import merge_reports
from fer_edge.benchmark.report import BenchmarkReport, Row, compare, load_report, save_comparison
from fer_edge.benchmark.writer import save_report
from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from tests.support.ovmodels import frame_bundle

MACHINE = {
    "cpu": "Xeon",
    "cores": 4,
    "cores_usable": 4,
    "isa": ["AVX2"],
    "memory_gb": 8.0,
    "os": "Debian 12",
    "python": "3.11",
    "arch": "x86_64",
    "versions": {"openvino": "2026.4.1"},
    "devices": {"CPU": "Xeon"},
}


def _row(stage="frame", precision="FP32", median=1.0, device="CPU", model="tiny", hint="default", **kw) -> Row:
    fields = dict(
        stage=stage,
        model=model,
        format="IR",
        precision=precision,
        device=device,
        batch=1,
        latency_ms={"median": median, "p90": median * 1.5, "mean": median * 1.1},
        fps=1000.0 / median,
        size_mb=0.1,
        hint=hint,
    )
    fields.update(kw)
    return Row(**fields)


def _save(folder, host, rows, **settings) -> str:
    save_report(BenchmarkReport({**MACHINE, "host": host}, rows, {"label": host, **settings}), folder)
    return str(folder / "benchmark.json")


def test_merge_matrix_columns_speedups_and_outputs(tmp_path):
    a = _save(
        tmp_path / "a",
        "nuc",
        [_row(), _row(precision="INT8", median=0.5, accuracy=0.9), _row(device="GPU", median=0.25)],
    )
    b = _save(tmp_path / "b", "pi", [_row(median=4.0), _row(precision="INT8", median=2.0), _row(stage="temporal")])
    fleet = merge_reports([a, b], reference="nuc CPU")
    assert [c.name for c in fleet.columns] == ["nuc CPU", "nuc GPU", "pi CPU"]
    by_key = {(k[0], k[3]): i for i, k in enumerate(fleet.keys)}
    fp32 = by_key[("frame", "FP32")]
    assert [r is not None for r in fleet.cells[fp32]] == [True, True, True]  # device is the column, not the row
    assert fleet.speedup(fp32, 1) == 4.0 and fleet.speedup(fp32, 2) == 0.25
    assert fleet.cells[by_key[("temporal", "FP32")]][:2] == [None, None]
    files = fleet.save(tmp_path / "fleet")
    data = json.loads((tmp_path / "fleet" / "fleet.json").read_text())
    assert data["reference"] == "nuc CPU" and len(data["rows"]) == 3
    md = (tmp_path / "fleet" / "fleet.md").read_text()
    assert "not measured" in md and "x0.25" in md and "0.9000" in md and "Host: pi" in md
    html = (tmp_path / "fleet" / "fleet.html").read_text()
    assert html.count("<svg") == 2 and "Headline" in html and "src=" not in html and "<script" not in html
    assert set(files) == {"json", "md", "html"}
    with pytest.raises(FerEdgeError, match="did you mean|known"):
        merge_reports([a, b], reference="nux")


def _hostile(tmp_path) -> dict[str, tuple[str, str]]:
    good = json.loads(open(_save(tmp_path / "good", "ok", [_row()])).read())
    cases = {
        "nan": (json.dumps(good).replace('"fps": 1000.0', '"fps": NaN'), "NaN"),
        "versions-list": (json.dumps({**good, "machine": {**MACHINE, "versions": ["2026"]}}), "machine.versions"),
        "no-rows": (json.dumps({"machine": MACHINE}), "needs 'machine' and 'rows'"),
        "row-missing": (json.dumps({**good, "rows": [{"stage": "frame"}]}), "missing"),
        "batch-text": (json.dumps({**good, "rows": [{**good["rows"][0], "batch": "1"}]}), "'batch' must be an integer"),
        "newer": (json.dumps({**good, "schema": 99}), "newer"),
        "foreign": (json.dumps([1, 2, 3]), "not a fer-edge benchmark report"),
        "notes-number": (json.dumps({**good, "settings": {"notes": 5}}), "settings.notes"),
    }
    paths = {}
    for name, (text, match) in cases.items():
        (tmp_path / f"{name}.json").write_text(text)
        paths[name] = (str(tmp_path / f"{name}.json"), match)
    paths["good"] = (str(tmp_path / "good" / "benchmark.json"), "")
    return paths


def test_hostile_reports_are_named_and_left_out(tmp_path):
    paths = _hostile(tmp_path)
    fleet = merge_reports([p for p, _ in paths.values()])
    assert [c.name for c in fleet.columns] == ["ok CPU"]
    reasons = dict(fleet.skipped)
    assert len(reasons) == len(paths) - 1
    for name, (path, match) in paths.items():
        if name != "good":
            assert match in reasons[path] and "\n" not in reasons[path], (name, reasons[path])
    with pytest.raises(FerEdgeError, match="NaN"):  # one report: its own reason
        merge_reports([paths["nan"][0]])
    with pytest.raises(FerEdgeError, match="none of the 2 report"):
        merge_reports([paths["nan"][0], paths["newer"][0]])
    big = _save(tmp_path / "big", "big", [_row(model=f"m{i}") for i in range(10_000)])  # 10,000 rows
    fleet = merge_reports([big, paths["good"][0], paths["nan"][0]])
    assert len(fleet.keys) == 10_001 and [c.name for c in fleet.columns] == ["big CPU", "ok CPU"]


def test_merge_cli_one_line_per_bad_report(tmp_path, capsys, caplog):
    paths = _hostile(tmp_path)
    out = tmp_path / "fleet"
    assert main(["benchmark", "merge", *[p for p, _ in paths.values()], "--out", str(out)]) == 0
    captured = capsys.readouterr()
    left = [r.getMessage() for r in caplog.records if r.getMessage().startswith("left out")]
    assert len(left) == len(paths) - 1 and "Traceback" not in captured.err
    assert (out / "fleet.html").is_file() and "1 column(s)" in captured.out
    assert main(["benchmark", "merge", paths["nan"][0], "--out", str(tmp_path / "none")]) == 2
    assert not (tmp_path / "none").exists()


def test_10000_disjoint_rows_match_linearly_and_compare_writes_strict_json(tmp_path):
    a = [_row(model=f"a{i}") for i in range(10_000)]
    b = [_row(model=f"b{i}", hint=f"h{i}") for i in range(10_000)]
    assert len(match_rows([a, b])) == 20_000  # quadratic matching took hours here
    same = [_row(model="m", hint=f"h{i}") for i in range(10_000)]  # one loose key, 10,000 hints
    assert len(match_rows([same, []])) == 10_000 and len(match_rows([same, same])) == 10_000
    ra, rb = BenchmarkReport(MACHINE, a), BenchmarkReport(MACHINE, b)
    assert sum(1 for p in compare(ra, rb) if p.a and p.b) == 0
    # zero and non-finite numbers make no NaN token
    za = BenchmarkReport(MACHINE, [_row(fps=0.0, latency_ms={"median": 0.0, "p90": 0.0})])
    zb = BenchmarkReport(MACHINE, [_row(fps=float("inf"))])
    files = save_comparison(za, zb, tmp_path / "cmp")
    text = open(files["json"]).read()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in compare.json"))
    assert dumps({"x": math.nan, "y": [math.inf]}) == '{\n  "x": null,\n  "y": [\n    null\n  ]\n}\n'


def test_loose_match_joins_a_default_run_with_a_pinned_one():
    a, b = [_row(hint="default")], [_row(hint="f32", median=2.0)]
    (m,) = match_rows([a, b])
    assert m.rows == [a[0], b[0]]
    pairs = compare(BenchmarkReport(MACHINE, a), BenchmarkReport(MACHINE, b))
    assert len(pairs) == 1 and pairs[0].latency_ratio == 2.0


def test_compare_cli_writes_html(tmp_path, capsys):
    a = _save(tmp_path / "a", "nuc", [_row()])
    b = _save(tmp_path / "b", "pi", [_row(median=3.0)])
    assert main(["benchmark", "compare", a, b, "--out", str(tmp_path / "c")]) == 0
    html = (tmp_path / "c" / "compare.html").read_text()
    assert "nuc CPU" in html and "pi CPU" in html and "<svg" in html


def test_old_report_merges_with_missing_fields_shown(tmp_path):
    old = {"schema": 1, "machine": {"cpu": "Old CPU"}, "rows": [_row().__dict__]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    report = load_report(tmp_path / "old.json")
    assert report.machine["cpu"] == "Old CPU"
    fleet = merge_reports([str(tmp_path / "old.json"), _save(tmp_path / "new", "nuc", [_row()])])
    md = fleet.save(tmp_path / "f")["md"]
    text = open(md).read()
    assert "Host: not recorded" in text and "hash not recorded" in text


def test_report_records_what_a_fleet_needs(tmp_path):
    from fer_edge.benchmark.runner import benchmark

    bundle = frame_bundle(tmp_path / "b")
    report = benchmark([bundle.path], baseline=None, iterations=2, warmup=0, throughput=False, label="bench-1")
    m, s = report.machine, report.settings
    assert m["host"] == "bench-1" and s["label"] == "bench-1"
    assert m["cpu"] and m["cores"] >= 1 and m["os"] and m["python"] and m["versions"]["openvino"]
    assert "CPU" in m["device_details"] and m["device_details"]["CPU"]["full_device_name"]
    (info,) = s["bundle_info"]
    assert info["sha256"] == bundle_fingerprint(bundle)["sha256"] and info["precisions"]["frame"][0] == "FP32"
    assert s["hints"] == ["default"] and report.created
    md = report.to_markdown()
    assert "Machine label: bench-1" in md and f"sha256 {info['sha256'][:12]}" in md


def test_video_rows_default_to_the_demos_detector():
    from fer_edge.runtime.faces import blazeface

    detector, why = resolve_detector(None)
    assert detector == ("blazeface" if blazeface.available() else "haar")
    assert (why is None) == blazeface.available()
    assert resolve_detector("haar") == ("haar", None)
