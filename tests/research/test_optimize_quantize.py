"""fer-edge optimize: INT8 / FP16 / INT8-weights bundles, accuracy control, report, error paths."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from fer_edge.optimize.stage import OptimizeConfig, optimize_bundle
from fer_edge.runtime.bundle import load_bundle
from tests.support.ovmodels import calibration_npz, keras_cascade_bundle, keras_frame_bundle

pytestmark = pytest.mark.tf  # Keras-backed bundles

FAST = {"iterations": 5, "subset_size": 64}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("opt")
    return {
        "frame": keras_frame_bundle(root / "frame"),
        "cascade": keras_cascade_bundle(root / "cascade"),
        "npz": calibration_npz(root / "calib.npz"),
        "root": root,
    }


def _ov(path, x):
    from fer_edge.runtime.engine import EngineConfig, load_model

    return load_model(path, EngineConfig(precision="f32"))(*x)


def test_int8_frame_bundle_agrees_with_fp32(tiny, capsys):
    report = optimize_bundle(
        tiny["frame"].path,
        OptimizeConfig(precision="int8", calibration=str(tiny["npz"]), out=str(tiny["root"] / "f_int8"), **FAST),
    )
    b = load_bundle(report.bundle)
    entry = b.models["frame"]
    assert entry.precision == "INT8" and entry.variants == {"FP32": "frame-fp32.xml"} and entry.keras
    x = np.load(tiny["npz"])["clips"].reshape(-1, 32, 32, 3).astype(np.float32)
    got, want = _ov(b.model_path("frame"), [x]), _ov(b.model_path("frame", "FP32"), [x])
    assert (got.argmax(-1) == want.argmax(-1)).mean() >= 0.9
    assert np.abs(got - want).max() < 0.1
    xml = b.model_path("frame").read_text()
    assert "FakeQuantize" in xml or "u8" in xml or "i8" in xml
    prov = b.provenance
    assert prov["source"] == str(tiny["frame"].path) and prov["parent"]["source"] == "tests"
    assert prov["optimize"]["precision"] == "INT8"
    saved = json.loads((b.path / "report.json").read_text())
    assert [r["variant"] for r in saved["rows"]] == ["parent", "int8"]
    assert saved["metric"] == "accuracy" and saved["calibration_samples"]["frame"] == 64
    assert saved["rows"][1]["latency_f32_ms"]["median"] > 0 and "| int8 |" in (b.path / "report.md").read_text()
    # speed-ups compare like with like: the parent is 1.00x against itself under either hint
    parent, int8 = report.rows
    assert parent.speedup_f32 == pytest.approx(1.0) and parent.speedup_default == pytest.approx(1.0)
    assert int8.speedup_f32 == pytest.approx(parent.latency_f32_ms["median"] / int8.latency_f32_ms["median"])
    default = parent.latency_default_ms["median"] / int8.latency_default_ms["median"]
    assert int8.speedup_default == pytest.approx(default)
    assert "speed-up, f32 hint" in report.markdown()
    assert "nncf" not in capsys.readouterr().out.lower()  # NNCF's logs and bars go to stderr


def test_int8_cascade_with_accuracy_control(tiny):
    out = tiny["root"] / "c_int8"
    report = optimize_bundle(
        tiny["cascade"].path,
        OptimizeConfig(precision="int8", calibration=str(tiny["npz"]), out=str(out), max_drop=0.5, **FAST),
    )
    b = load_bundle(out)
    assert {r: e.precision for r, e in b.models.items()} == {"spatial": "INT8", "temporal": "INT8"}
    assert report.accuracy_control["drop"] <= 0.5 and report.calibration_samples == {"spatial": 64, "temporal": 20}


def test_runtime_runs_optimized_bundle(tiny, tmp_path):
    from fer_edge.data.synth import make_clip
    from fer_edge.runtime import EngineConfig, run_video
    from fer_edge.runtime.video import open_writer

    clip = make_clip("happy", subject="F001", frames=12, size=(320, 240), seed=3)
    video = tmp_path / "v.avi"
    with open_writer(video, 25.0, (320, 240)) as w:
        for f in clip.frames:
            w.write(f)
    out = optimize_bundle(tiny["cascade"].path, precision="fp16", out=str(tmp_path / "fp16"), iterations=5).bundle
    for precision in (None, "FP32"):
        from fer_edge.runtime.pipeline import PipelineConfig

        rep = run_video(
            str(video),
            load_bundle(out),
            config=PipelineConfig(precision=precision, detect_every=2),
            engine=EngineConfig(),
            events=tmp_path / "e.jsonl",
            progress=False,
        )
        assert rep.frames == 12 and rep.frames_with_face > 0
    assert load_bundle(out).models["spatial"].precision == "FP16"


def test_fp16_and_int8_weights_need_no_data(tiny):
    for precision, tag in (("fp16", "FP16"), ("int8-weights", "INT8-WEIGHTS")):
        report = optimize_bundle(
            tiny["frame"].path, precision=precision, out=str(tiny["root"] / precision), iterations=5
        )
        b = load_bundle(report.bundle)
        assert b.models["frame"].precision == tag and report.calibration is None
        assert report.rows[-1].accuracy is None and report.rows[-1].size_mb > 0


def test_unmet_max_drop_writes_nothing(tiny, monkeypatch):
    # NNCF that cannot restore the accuracy: the 'quantized' model answers a class the FP32
    # model rarely gives, so agreement with FP32 (unlabelled data) falls far below 100 %.
    import openvino as ov
    import openvino.opset13 as ops

    from fer_edge.optimize import quantize

    unlabelled = calibration_npz(tiny["root"] / "unlabelled.npz", labels=False)
    x = np.load(unlabelled)["clips"].reshape(-1, 32, 32, 3).astype(np.float32)
    fp32 = _ov(tiny["frame"].model_path("frame"), [x]).argmax(-1)
    rare = int(np.bincount(fp32, minlength=3).argmin())
    inp = ops.parameter([-1, 32, 32, 3], np.float32, name="image")
    pooled = ops.reduce_mean(inp, ops.constant(np.array([1, 2], np.int64)), keep_dims=False)
    zero = ops.matmul(pooled, ops.constant(np.zeros((3, 3), np.float32)), False, False)
    const = ops.add(zero, ops.constant(np.eye(3, dtype=np.float32)[rare]))
    monkeypatch.setattr(quantize, "quantize_model", lambda *a, **k: ov.Model([const], [inp], "wrong"))
    out = tiny["root"] / "unmet"
    with pytest.raises(
        FerEdgeError, match=r"agreement drop .* exceeds --max-drop 1\.00 \(best reached .*nothing written"
    ):
        optimize_bundle(
            tiny["frame"].path, precision="int8", calibration=str(unlabelled), out=str(out), max_drop=0.01, **FAST
        )
    assert not out.exists() and not list(tiny["root"].glob(".unmet*"))


def test_error_paths(tiny, tmp_path, capsys):
    with pytest.raises(FerEdgeError, match="records no calibration data; pass --calibration"):
        optimize_bundle(tiny["frame"].path, precision="int8", out=str(tmp_path / "x"))
    few = calibration_npz(tmp_path / "few.npz", clips=1, frames=4)
    with pytest.raises(FerEdgeError, match="fewer than one batch"):
        optimize_bundle(tiny["frame"].path, precision="int8", calibration=str(few), out=str(tmp_path / "y"))
    with pytest.raises(FerEdgeError, match="did you mean 'int8'"):
        OptimizeConfig(precision="imt8")
    for ratio in (0.0, 0.95, -1):
        with pytest.raises(FerEdgeError, match=r"--prune must be in \(0, 0.9\]"):
            OptimizeConfig(prune=ratio)
    with pytest.raises(FerEdgeError, match="--max-drop controls INT8"):
        OptimizeConfig(precision="fp16", max_drop=0.01)
    np.savez(tmp_path / "bad.npz", images=np.zeros((2, 32, 32, 3)))
    with pytest.raises(FerEdgeError, match="neither 'frames' nor 'clips'"):
        optimize_bundle(tiny["frame"].path, calibration=str(tmp_path / "bad.npz"), out=str(tmp_path / "z"))
    assert main(["optimize", str(tiny["frame"].path), "--precision", "int8", "--prune", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--prune must be in (0, 0.9]" in err[0]


def test_recipe_file_and_cli(tiny, tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("precision: fp16\niterations: 5\nsubset_sise: 10\n")
    with pytest.raises(FerEdgeError, match="did you mean 'subset_size'"):
        OptimizeConfig.from_yaml(recipe)
    recipe.write_text("precision: fp16\niterations: 5\n")
    out = tmp_path / "cli"
    assert (
        main(["optimize", str(tiny["frame"].path), "--recipe", str(recipe), "--precision", "fp32", "--out", str(out)])
        == 0
    )
    text = capsys.readouterr().out
    assert "| parent |" in text and f"fer-edge demo --bundle {out}" in text
    assert load_bundle(out).models["frame"].precision == "FP32"
