"""What a new user runs first: default outputs, quiet TensorFlow, honest numbers, helpful typos.

CLI checks run ``python -m fer_edge`` in a subprocess from a temporary working directory, as a
user's shell would (no pytest capture, stderr not a terminal).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer_edge.benchmark.report import BenchmarkReport, Row, load_report
from fer_edge.benchmark.writer import save_report
from fer_edge.cli import build_parser, main
from fer_edge.core.errors import FerEdgeError
from fer_edge.data.synth import make_clip
from fer_edge.runtime.bundle import load_bundle
from fer_edge.runtime.video import open_writer
from tests.support.ovmodels import frame_bundle

ROOT = Path(__file__).resolve().parents[2]


def _cli(
    args: list[str], cwd: Path, *, env: dict[str, str] | None = None, pythonpath: list[str] = (), timeout: int = 300
) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "FER_EDGE_LOG_EVERY"))}
    full["PYTHONPATH"] = os.pathsep.join([*pythonpath, str(ROOT), full.get("PYTHONPATH", "")])
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "fer_edge", *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    clip = make_clip("happy", subject="F001", frames=24, size=(320, 240), seed=3)
    path = tmp_path_factory.mktemp("nv") / "clip.avi"
    with open_writer(path, 25.0, (320, 240)) as writer:
        for f in clip.frames:
            writer.write(f)
    return path


# 1. default outputs ------------------------------------------------------------------------------


def test_next_run_dir_increments_and_failed_start_leaves_nothing(tmp_path):
    from fer_edge.core.outputs import new_run_folder
    from fer_edge.core.runs import run_dir

    base = tmp_path / "runs" / "demo"
    assert [new_run_folder(base).name for _ in range(3)] == ["demo", "demo2", "demo3"]
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError), run_dir(None, str(fresh / "runs" / "demo")):
        raise RuntimeError("bad source")
    assert not (fresh / "runs").exists()  # nothing created by the failed start remains
    with run_dir(None, str(base)) as out:
        (out / "x").write_text("kept")
    assert out.name == "demo4" and (out / "x").is_file()


@pytest.mark.slow
def test_demo_saves_to_runs_demo_then_demo2_and_says_so(tmp_path, video):
    bundle = frame_bundle(tmp_path / "b")
    args = ["demo", "--source", str(video), "--bundle", str(bundle.path), "--no-show"]
    first = _cli(args, tmp_path, env={"FER_EDGE_LOG_EVERY": "0"})
    assert first.returncode == 0, first.stderr
    for name in ("demo.mp4", "events.jsonl", "timing.json"):
        assert (tmp_path / "runs" / "demo" / name).stat().st_size > 0
        assert f"runs/demo/{name}" in first.stdout
    assert "results saved to runs/demo/" in first.stdout
    # 10. stderr is not a terminal: progress comes as plain log lines, never carriage returns
    assert "demo: " in first.stderr and "frames/s" in first.stderr and "\r" not in first.stderr
    # the second run goes to a new folder, the first is untouched
    before = (tmp_path / "runs" / "demo" / "events.jsonl").stat().st_mtime_ns
    cwd = Path.cwd()
    try:
        os.chdir(tmp_path)
        assert main([*args, "-q"]) == 0
    finally:
        os.chdir(cwd)
    assert (tmp_path / "runs" / "demo2" / "timing.json").is_file()
    assert (tmp_path / "runs" / "demo" / "events.jsonl").stat().st_mtime_ns == before
    # 6. the timing file has per-frame and per-call statistics
    timing = json.loads((tmp_path / "runs" / "demo2" / "timing.json").read_text())
    detect = timing["stages"]["detect"]
    assert detect["frames"] == 24 and detect["count"] < 24  # detection skips frames
    assert detect["frame_mean"] == pytest.approx(detect["mean"] * detect["count"] / 24, abs=2e-3)


# 2. TensorFlow noise ----------------------------------------------------------------------------


@pytest.mark.tf
@pytest.mark.slow
def test_first_tensorflow_import_prints_no_cuda_or_absl_lines(tmp_path):
    import keras

    inp = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inp, keras.layers.Dense(7, activation="softmax")(x)).save(tmp_path / "m.keras")
    proc = _cli(["import", "keras", str(tmp_path / "m.keras"), "--labels", "fer2013", "--out", "bundle"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    for noise in ("E0000", "cuInit", "absl::InitializeLog", "cudart_stub", "cpu_feature_guard", "UserWarning"):
        assert noise not in proc.stderr, proc.stderr
    assert "converting" in proc.stderr  # progress during the conversion


def _blocker(folder: Path) -> str:
    """A sitecustomize that makes TensorFlow and Keras unimportable, like a runtime-only install."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoTF:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tensorflow', 'keras'):\n"
        "            raise ModuleNotFoundError(f\"No module named '{name}'\")\n"
        "        return None\n"
        "sys.meta_path.insert(0, _NoTF())\n"
    )
    return str(folder)


def test_tensorflow_import_error_is_one_line(tmp_path):
    (tmp_path / "m.h5").write_bytes(b"never read")
    proc = _cli(
        ["import", "keras", str(tmp_path / "m.h5"), "--labels", "fer2013", "--out", "b", "--converter", "tensorflow"],
        tmp_path,
        pythonpath=[_blocker(tmp_path / "site")],
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.strip().splitlines() if not line.startswith("INFO ")]
    assert len(errors) == 1 and "fer-edge[train]" in errors[0], proc.stderr


# 3. benchmark without TensorFlow -----------------------------------------------------------------


def test_benchmark_without_tensorflow_skips_the_baseline_and_writes_its_report(tmp_path):
    bundle = frame_bundle(tmp_path / "b")
    manifest = json.loads((bundle.path / "manifest.json").read_text())
    manifest["models"]["frame"]["keras"] = "frame.keras"  # asks for the TF baseline
    (bundle.path / "frame.keras").write_bytes(b"not read: TensorFlow is absent")
    (bundle.path / "manifest.json").write_text(json.dumps(manifest))
    proc = _cli(
        [
            "benchmark",
            str(bundle.path),
            "--source",
            "none",
            "--iterations",
            "3",
            "--warmup",
            "0",
            "--no-throughput",
            "--precision",
            "fp32",
        ],
        tmp_path,
        pythonpath=[_blocker(tmp_path / "site")],
    )
    assert proc.returncode == 0, proc.stderr
    report = load_report(tmp_path / "runs" / "benchmark" / "benchmark.json")
    assert {r.format for r in report.rows} == {"IR"}
    assert "TensorFlow baseline skipped" in report.settings["notes"][0]
    assert "note: TensorFlow baseline skipped" in proc.stdout and "results saved to runs/benchmark/" in proc.stdout


# 6 + 8. statistics that agree; compare across hints ---------------------------------------------


def test_stage_timer_per_frame_and_per_call():
    from fer_edge.runtime.timers import StageTimer, format_table

    t = StageTimer()
    for i in range(20):
        t.add("decode", 1.0)
        if i % 10 == 0:
            t.add("detect", 10.0)
    s = t.summary()
    assert s["detect"]["mean"] == 10.0 and s["detect"]["count"] == 2  # per call
    assert s["detect"]["frame_mean"] == 1.0 and s["detect"]["frame_median"] == 0.0  # per frame, skips = 0 ms
    assert s["detect"]["frame_p90"] == pytest.approx(np.percentile([10.0] * 2 + [0.0] * 18, 90))
    table = format_table(s)
    assert "| detect | 1.00 |" in table and "2 of 20" in table and "| sum | 2.00 |" in table


def _row(**kw) -> Row:
    base = dict(
        stage="frame",
        model="m",
        format="IR",
        precision="FP32",
        device="CPU",
        batch=1,
        latency_ms={"median": 1.0, "p90": 1.2, "mean": 1.1},
        fps=1000.0,
        hint="default",
        inference_precision="bf16",
    )
    base.update(kw)
    return Row(**base)


def test_compare_matches_across_hints_and_writes_out(tmp_path, capsys):
    a = BenchmarkReport({"cpu": "A"}, [_row(), _row(precision="FP16")])
    b = BenchmarkReport(
        {"cpu": "B"}, [_row(hint="f32", inference_precision="f32", latency_ms={"median": 2.0, "p90": 2.5}, fps=500.0)]
    )
    save_report(a, tmp_path / "a")
    save_report(b, tmp_path / "b")
    assert main(["benchmark", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "1 configuration(s) in both reports, 1 in only one." in out
    assert "| default (bf16) | f32 (f32) |" in out and "| 2.00 |" in out and "| 0.50 |" in out
    saved = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert saved["pairs"][0]["latency_ratio"] == 2.0 and (tmp_path / "c" / "compare.md").is_file()


def test_benchmark_markdown_and_html_say_which_statistic():
    from fer_edge.benchmark.html import to_html

    rows = [
        _row(),
        _row(mode="throughput", fps=3000.0, requests=4),
        _row(stage="video:detect", mode="per frame", latency_ms={"median": 0.0, "p90": 4.0, "mean": 2.0}, fps=500.0),
    ]
    report = BenchmarkReport({"cpu": "x"}, rows)
    md = report.to_markdown()
    assert "| video:detect | per frame |" in md and "| 0.000 | 2.000 | 4.000 | 500.0 |" in md
    html = to_html(report)
    assert "3000.0 FPS" in html  # the throughput chart plots FPS
    assert "2.000 ms mean, p90 4.000 ms" in html  # the detect bar is the mean, not an empty median
    assert "1.000 ms median, p90 1.200 ms" in html


# 9. small inconsistencies -----------------------------------------------------------------------


def test_misspelt_options_get_a_did_you_mean(tmp_path):
    proc = _cli(["demo", "--trakcer", "kcf"], tmp_path)
    assert proc.returncode == 2 and "did you mean '--tracker'?" in proc.stderr
    proc = _cli(["benchmark", "--iteratons", "3", "--sorce", "none"], tmp_path)
    assert "'--iterations' for '--iteratons'" in proc.stderr and "'--source' for '--sorce'" in proc.stderr


def test_verbose_and_quiet_after_the_verb_and_device_case():
    p = build_parser()
    assert p.parse_args(["demo", "-v"]).verbose and p.parse_args(["-v", "demo"]).verbose
    assert not p.parse_args(["demo"]).verbose and p.parse_args(["benchmark", "--quiet"]).quiet
    assert p.parse_args(["train", "temporal", "--recipe", "r.yaml", "--device", "CPU"]).device == "cpu"
    assert p.parse_args(["demo", "--tracker", "KCF", "--infer-precision", "F32"]).tracker == "kcf"


@pytest.mark.slow
def test_synth_writes_no_carriage_returns_off_a_terminal(tmp_path):
    proc = _cli(
        ["synth", "--out", "raw", "--subjects", "F001", "--frames", "3", "--size", "64x48"],
        tmp_path,
        env={"FER_EDGE_LOG_EVERY": "0"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "synth: " in proc.stderr


def test_plain_ir_model_runs_in_demo_and_benchmark(tmp_path, video, capsys):
    bundle = frame_bundle(tmp_path / "b")
    xml = bundle.path / "frame.xml"
    assert (
        main(
            [
                "demo",
                "--bundle",
                str(xml),
                "--labels",
                "happy,sad,surprise",
                "--mean",
                "0.5",
                "--std",
                "0.25",
                "--source",
                str(video),
                "--no-show",
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    assert "happy" in (tmp_path / "run" / "events.jsonl").read_text()
    assert (
        main(
            [
                "benchmark",
                str(xml),
                "--labels",
                "happy,sad,surprise",
                "--source",
                "none",
                "--baseline",
                "none",
                "--iterations",
                "2",
                "--warmup",
                "0",
                "--no-throughput",
                "--out",
                str(tmp_path / "bench"),
            ]
        )
        == 0
    )
    assert load_report(tmp_path / "bench").rows[0].model == "frame"
    capsys.readouterr()
    assert main(["benchmark", str(xml), "--source", "none", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--labels" in err and len(err.strip().splitlines()) == 1
    assert (
        main(
            [
                "demo",
                "--bundle",
                str(xml),
                "--labels",
                "happy,sad",
                "--no-show",
                "--source",
                str(video),
                "--out",
                str(tmp_path / "y"),
            ]
        )
        == 2
    )
    assert "gives 3 scores but 2 labels" in capsys.readouterr().err


# 5. the INT8 hint meets the result ----------------------------------------------------------------


def test_missing_precision_hint_names_the_optimized_sibling(tmp_path):
    bundle = frame_bundle(tmp_path / "fer")
    with pytest.raises(
        FerEdgeError,
        match=r"optimize .*fer --precision int8 \(writes .*fer_int8\), then pass "
        r"--bundle .*fer_int8",
    ):
        bundle.model_path("frame", "INT8")
    frame_bundle(tmp_path / "fer_int8")  # what `fer-edge optimize fer --precision int8` writes
    with pytest.raises(FerEdgeError, match=r"fer_int8 has it: pass --bundle .*fer_int8"):
        load_bundle(bundle.path).model_path("frame", "INT8")


# 7. overlay --------------------------------------------------------------------------------------


def _ink_rows(img: np.ndarray) -> int:
    """Rows of the top-right FPS label that carry white text."""
    return int(((img[: img.shape[0] // 5, -img.shape[1] // 4 :] > 200).all(-1)).any(1).sum())


def test_overlay_scales_with_the_frame_and_shows_values_and_fps():
    from types import SimpleNamespace

    from fer_edge.runtime.overlay import draw_frame

    face = SimpleNamespace(track=1, label="happy", scores={"happy": 0.75, "sad": 0.25})
    sizes = {}
    for w, h in ((320, 240), (1920, 1080)):
        img = np.zeros((h, w, 3), np.uint8)
        face.box = (w // 4, h // 4, w // 5, w // 5)
        draw_frame(img, [face], 29.7)
        sizes[w] = _ink_rows(img)
    assert sizes[1920] >= 2.5 * sizes[320] > 0  # text grows with the frame
    light = np.full((240, 320, 3), 255, np.uint8)
    face.box = (40, 60, 80, 80)
    draw_frame(light, [face], None)
    panel = light[62:84, 124:140]
    assert (panel < 200).any(-1).mean() > 0.5  # a dark panel behind the white score text
    blank = np.full((240, 320, 3), 255, np.uint8)
    draw_frame(blank, [], 12.0)
    assert (blank[:30, :80] < 255).any() and (blank[:30, -80:] < 255).any()  # "no face" left, FPS right


def test_timing_table_sum_leaves_out_end_to_end_latency():
    from fer_edge.runtime.timers import LATENCY, StageTimer, format_table

    t = StageTimer()
    t.add("decode", 1.0)
    t.add("infer", 2.0)
    t.add(LATENCY, 10.0)  # spans decode..write in the pipelined runtime
    assert format_table(t.summary(1)).splitlines()[-1] == "| sum | 3.00 | | | | |"
