"""A real single-node Slurm on localhost (deploy/checks/slurm_check.sh): the matrix as array jobs, merged."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_slurm_array_job_and_merge_on_localhost(tmp_path):
    missing = [t for t in ("munged", "slurmctld", "slurmd", "sbatch") if not shutil.which(t, path="/usr/sbin:/usr/bin")]
    assert not missing, f"{missing} missing: make test-tools (apt-get install slurm-wlm munge)"
    assert os.geteuid() == 0, "slurmd needs root: run make test as root (CI does)"
    before = set(Path("/tmp").glob("fer-edge-slurm.*"))
    done = subprocess.run(
        [str(ROOT / "deploy" / "checks" / "slurm_check.sh"), "--python", sys.executable, "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PATH": os.environ.get("PATH", "") + ":/usr/sbin"},
    )
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    assert "slurm-check: ok: " in done.stdout and "FP16" in done.stdout and "FP32" in done.stdout
    logs = sorted(p.name for p in (tmp_path / "out" / "logs").iterdir())
    assert "merge.out" in logs and len(logs) == 3  # two array tasks, one merge job
    assert (tmp_path / "out" / "fleet" / "fleet.html").is_file()
    assert set(Path("/tmp").glob("fer-edge-slurm.*")) == before, "the check left its folder"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [line for line in ps.splitlines() if str(tmp_path) in line], "a daemon outlived the check"
