"""One latency measurer, one p90: the runtime's stage timers, ``fer-edge benchmark`` and
``fer-edge optimize`` report the same median and p90 for the same samples."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from fer_edge.optimize import report
from fer_edge.runtime import latency
from fer_edge.runtime.engine import EngineConfig, load_model
from fer_edge.runtime.timers import StageTimer, percentiles
from tests.support.ovmodels import frame_model, save

# Skewed, and 0.9 * (n - 1) falls between two samples: nearest-rank and interpolated p90 differ here.
SAMPLES = [1.0, 2.0, 3.0, 4.0, 100.0, 7.5, 2.5, 9.0, 3.25, 6.0]


class _Clock:
    """``time.perf_counter`` for the measurers: the k-th timed call lasts ``SAMPLES[k]`` ms."""

    def __init__(self, samples: list[float]) -> None:
        self.samples, self.now, self.calls = list(samples), 1000.0, 0

    def perf_counter(self) -> float:
        if self.calls % 2:  # the end of a timed call
            self.now += self.samples[self.calls // 2] / 1000.0
        self.calls += 1
        return self.now


@pytest.fixture()
def model(tmp_path):
    save(frame_model(16), tmp_path / "frame.xml")
    return tmp_path / "frame.xml"


def test_percentiles_is_numpys_linear_definition():
    assert percentiles(SAMPLES) == (float(np.median(SAMPLES)), float(np.percentile(SAMPLES, 90)))
    assert percentiles(SAMPLES, (90,))[0] != sorted(SAMPLES)[int(round(0.9 * (len(SAMPLES) - 1)))]
    with pytest.raises(ValueError, match="no latency samples"):
        percentiles([])


def test_benchmark_optimize_and_stage_timer_agree_on_the_same_samples(model, monkeypatch):
    x = np.zeros((1, 16, 16, 3), np.float32)
    monkeypatch.setattr(latency, "time", SimpleNamespace(perf_counter=_Clock(SAMPLES).perf_counter))
    bench = latency.measure_latency(
        latency.compile_model(model, precision="f32"), [x], warmup=2, iterations=len(SAMPLES)
    )
    monkeypatch.setattr(latency, "time", SimpleNamespace(perf_counter=_Clock(SAMPLES).perf_counter))
    opt, used = report.measure_file_latency(model, [x], precision="f32", warmup=2, iterations=len(SAMPLES))
    timer = StageTimer()
    for ms in SAMPLES:
        timer.add("infer", ms)
    stage = timer.summary()["infer"]

    median, p90 = percentiles(SAMPLES)
    assert (bench.median_ms, bench.p90_ms) == (opt["median"], opt["p90"]) == (round(median, 4), round(p90, 4))
    assert (stage["median"], stage["p90"]) == (round(median, 3), round(p90, 3))
    assert used == bench.inference_precision == "f32"


def test_one_inference_precision_for_runtime_and_benchmark(model):
    from fer_edge.runtime.engine import inference_precision

    compiled = load_model(model, EngineConfig(precision="f32"))
    assert compiled.inference_precision == inference_precision(compiled.compiled) == "f32"
    assert not hasattr(latency, "inference_precision") or latency.inference_precision is inference_precision
