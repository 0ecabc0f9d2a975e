"""The PBS (DevCloud form) and Slurm job scripts run under a simulated scheduler environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fer_edge.benchmark.merge import merge_reports
from fer_edge.runtime.archive import pack_bundle
from tests.support.ovmodels import frame_bundle

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "deploy" / "fleet"
FAST = "--iterations 3 --warmup 0 --no-throughput"


def _fer_edge(tmp: Path) -> str:
    """A ``fer-edge`` command that runs this checkout with this interpreter."""
    wrapper = tmp / "fer-edge"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m fer_edge "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def _run(script: str, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(FLEET / script), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_pbs_job_as_devcloud_ran_it(tmp_path):
    shared = tmp_path / "home"  # PBS_O_WORKDIR: the folder qsub ran in, shared with the nodes
    shared.mkdir()
    pack_bundle(frame_bundle(tmp_path / "tiny").path, shared / "tiny.tar.gz")
    base = {**os.environ, "FER_EDGE": _fer_edge(tmp_path), "FER_EDGE_ARGS": FAST, "PBS_O_WORKDIR": str(shared)}
    elsewhere = tmp_path / "spool"  # PBS starts jobs in the home folder, not where qsub ran
    elsewhere.mkdir()
    for job, (node, precision) in enumerate(
        [("edge-i5-6500te", "FP32"), ("edge-i5-6500te", "FP16"), ("edge-xeon", "FP32")]
    ):
        env = {**base, "PBS_JOBID": f"{100 + job}.v-qsvr-1", "FER_EDGE_LABEL": node}
        done = _run("pbs_job.sh", ["CPU", precision, "tiny.tar.gz", "results"], env, elsewhere)
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
        result = shared / "results" / f"{node}-CPU-{precision}-{100 + job}" / "benchmark.json"
        assert f"result: results/{result.parent.name}/benchmark.json" in done.stdout
        data = json.loads(result.read_text())
        assert data["machine"]["host"] == node and {r["precision"] for r in data["rows"]} == {precision}
    assert not list(elsewhere.iterdir())
    fleet = merge_reports(sorted(str(p) for p in (shared / "results").glob("*/benchmark.json")))
    assert [c.name for c in fleet.columns] == ["edge-i5-6500te CPU", "edge-xeon CPU"]  # one job per precision
    assert sorted(k[3] for k in fleet.keys) == ["FP16", "FP32"]
    fp16 = next(i for i, k in enumerate(fleet.keys) if k[3] == "FP16")
    assert fleet.cells[fp16][0] is not None and fleet.cells[fp16][1] is None


def test_pbs_job_refuses_to_run_outside_pbs_and_bad_arguments(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PBS_")}
    outside = _run("pbs_job.sh", ["CPU", "FP32", "b", "out"], env, tmp_path)
    assert outside.returncode == 2 and "PBS_O_WORKDIR is not set" in outside.stderr
    few = _run("pbs_job.sh", ["CPU"], {**env, "PBS_O_WORKDIR": str(tmp_path)}, tmp_path)
    assert few.returncode == 2 and few.stderr.startswith("usage: qsub")


def test_slurm_array_task_picks_its_matrix_line(tmp_path):
    bundle = frame_bundle(tmp_path / "tiny").path
    matrix = tmp_path / "matrix.txt"
    matrix.write_text("# DEVICE PRECISION [FEATURE]\nCPU FP32\n\nCPU FP16 avx512\n")
    env = {**os.environ, "FER_EDGE": _fer_edge(tmp_path), "FER_EDGE_ARGS": FAST, "FER_EDGE_LABEL": "n1"}
    for task, precision in ((0, "FP32"), (1, "FP16")):
        run_env = {**env, "SLURM_ARRAY_TASK_ID": str(task), "SLURM_ARRAY_JOB_ID": "7"}
        done = _run("slurm_job.sh", [str(matrix), str(bundle), str(tmp_path / "out")], run_env, tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        data = json.loads((tmp_path / "out" / f"n1-CPU-{precision}-7_{task}" / "benchmark.json").read_text())
        assert {r["precision"] for r in data["rows"]} == {precision}
    over = _run("slurm_job.sh", [str(matrix), str(bundle), "out"], {**env, "SLURM_ARRAY_TASK_ID": "2"}, tmp_path)
    assert over.returncode == 2 and "has no line 2" in over.stderr
