"""``benchmark -t SECONDS``: runs sized by time (as benchmark_app -t), recorded in the report."""

from __future__ import annotations

import pytest

from fer_edge.benchmark.runner import TIMED_MAX, TIMED_MIN, benchmark, iterations_for
from fer_edge.cli import main
from tests.support.ovmodels import frame_bundle


def test_iterations_follow_the_time_asked_for():
    assert iterations_for(2.0, 0.5) == 4000 and iterations_for(10.0, 20.0) == 500
    assert iterations_for(0.001, 100.0) == TIMED_MIN and iterations_for(3600, 0.0) == TIMED_MAX


def test_timed_run_records_seconds_and_sizes_each_row(tmp_path):
    bundle = frame_bundle(tmp_path / "b")
    report = benchmark([bundle.path], baseline=None, seconds=0.05, iterations=3, warmup=0, precisions="fp32")
    assert report.settings["seconds"] == 0.05
    latency, through = (next(r for r in report.rows if r.mode == m) for m in ("latency", "throughput"))
    # sized by the probe, not by iterations=3
    assert latency.iterations >= TIMED_MIN and through.iterations >= TIMED_MIN


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "7200"])
def test_bad_time_is_one_line(tmp_path, capsys, value):
    bundle = frame_bundle(tmp_path / "b")
    code = main(["benchmark", str(bundle.path), "-t", value, "--source", "none", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "-t must be seconds" in err[0]
    assert not (tmp_path / "o").exists()
