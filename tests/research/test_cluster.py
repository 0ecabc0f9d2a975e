"""Scale-out on Ray: a real 2-node cluster on loopback runs preprocess -> extract -> 5-fold CV.

The cluster (:mod:`raycluster`) lives in a private network namespace, so no byte leaves
127.0.0.1. Its results must equal the ``--executor local`` run of the same recipe; a fold
whose worker is SIGKILLed is retried to the same numbers; a node that cannot see the run
folder is named in a one-line error; Ctrl-C cancels the tasks and the rerun reuses the
finished folds; the classifier search's trials run as Ray tasks and find what the local
search finds; the cluster's processes die with a SIGKILLed test process.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fer_edge.cluster import parse_spec
from fer_edge.core.errors import FerEdgeError
from tests.support.raycluster import (
    REPO,
    LoopbackCluster,
    children,
    marked_processes,
    namespaces_available,
)

LABELS = ["happy", "sad", "surprise"]
SUBJECTS = ["F001", "F002", "F003", "F004", "M001", "M002", "M003"]
FOLDS = 5

# A guard against hangs, not a duration: the first test also builds the cluster and both runs,
# which take ~2 min on an idle 2-core machine and may take 20 on a busy one.
heavy = [pytest.mark.slow, pytest.mark.tf, pytest.mark.timeout(2400)]


def _heavy(fn):
    for mark in heavy:
        fn = mark(fn)
    return fn


def test_executor_spec_parsing():
    assert parse_spec("local").backend == "local"
    assert parse_spec("ray").address is None
    assert parse_spec("ray=auto").address == "auto"
    spec = parse_spec("ray=127.0.0.1:6379,cpus=2,retries=1")
    assert (spec.address, spec.cpus, spec.retries) == ("127.0.0.1:6379", 2, 1)
    assert str(spec) == "ray=127.0.0.1:6379,cpus=2,retries=1"
    with pytest.raises(FerEdgeError, match="did you mean 'ray'"):
        parse_spec("rey")
    with pytest.raises(FerEdgeError, match="HOST:PORT"):
        parse_spec("ray=somewhere")
    with pytest.raises(FerEdgeError, match="unknown option"):
        parse_spec("ray,gpus=2")


def test_local_executor_is_the_plain_loop_and_sizes_are_bounded():
    from fer_edge.cluster import executor_for
    from fer_edge.cluster.chunks import chunk_size
    from fer_edge.train.shards import shard_size

    seen = []
    assert executor_for("local").map(lambda x: seen.append(x) or -x, [3, 1, 2]) == [-3, -1, -2]
    assert seen == [3, 1, 2]  # in order, in this process
    assert [chunk_size(n, 2) for n in (1, 8, 40, 10_000)] == [1, 1, 5, 16]
    assert [shard_size(n, 4) for n in (1, 8, 40, 10_000)] == [1, 1, 5, 64]


def _recipe(path: Path, out: Path, raw: Path, **extra) -> Path:
    import yaml

    recipe = {
        "name": "tiny-cluster",
        "out": str(out),
        "seed": 0,
        "labels": LABELS,
        "data": {
            "preprocessed": str(out / "pre"),
            "raw": str(raw),
            "preprocess": {"size": 48},
            "split": {"method": "kfold", "k": FOLDS, "test": 0.2, "seed": 0},
            "length": 8,
            "trimmed": False,
        },
        # A seeded, untrained extractor: spatial fine-tuning is not a cluster task, so skip it.
        "spatial": {"model": "test_spatial", "weights": str(raw.parent / "spatial.keras")},
        "extract": {"layer": "flatten", "augment": ["flip"], "batch_size": 32, "backend": "keras"},
        "temporal": {"model": "test_temporal", "epochs": 2, "batch_size": 8, "learning_rate": 1e-3},
        "finalize": {"patience": 2},
        "window": {"stride": 2, "min_frames": 3},
    }
    for key, value in extra.items():
        recipe[key] = value
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    from fer_edge.data.synth_dataset import write_dataset

    root = tmp_path_factory.mktemp("cluster")
    write_dataset(root / "raw", subjects=SUBJECTS, labels=LABELS, frames=10, size=(192, 144), seed=0)
    from fer_edge.models import create_model
    from fer_edge.train.kerasutil import save_atomic

    save_atomic(create_model("test_spatial", input_shape=(32, 32, 3), num_classes=len(LABELS)), root / "spatial.keras")
    return root


@pytest.fixture(scope="module")
def cluster(work):
    why = namespaces_available()
    if why:
        pytest.skip(f"no private network namespace for the test cluster: {why}")
    c = LoopbackCluster(masked=work / "isolated")
    try:
        c.start()
        yield c
    finally:
        c.stop()
        assert not c.processes()


@pytest.fixture(scope="module")
def local_run(work):
    from fer_edge.cli import main

    out = work / "local"
    recipe = _recipe(work / "local.yaml", out, work / "raw")
    assert main(["train", "temporal", "--recipe", str(recipe), "--executor", "local", "--quiet"]) == 0
    return out


def _fer_edge(cluster: LoopbackCluster, *args: str, timeout: float = 600, check: bool = True):
    return cluster.run([sys.executable, "-m", "fer_edge", *args], timeout=timeout, check=check)


def _preprocess_args(work: Path, out: Path, executor: str) -> list[str]:
    """``preprocess`` of the test's raw dataset into ``out`` at 48 px through ``executor``."""
    return [
        "preprocess",
        "--root",
        str(work / "raw"),
        "--out",
        str(out),
        "--size",
        "48",
        "--no-plot",
        "--executor",
        executor,
    ]


@pytest.fixture(scope="module")
def ray_run(work, cluster):
    out = work / "ray"
    recipe = _recipe(work / "ray.yaml", out, work / "raw")
    # Not --quiet, into a log: each stage's lines (and, without a terminal, the tasks' progress)
    # show where a run that times out stood; the error then also holds the Ray session logs.
    argv = ["train", "temporal", "--recipe", str(recipe), "--executor", f"ray={cluster.address}"]
    text = cluster.run_logged([sys.executable, "-m", "fer_edge", *argv], work / "ray-run.log", idle=420, timeout=1500)
    assert "bundle:" in text, text[-2000:]
    return out


def _folds(out: Path) -> list[dict]:
    return [json.loads((out / "cv" / f"fold-{i}" / "result.json").read_text()) for i in range(FOLDS)]


def _same_folds(a: list[dict], b: list[dict]) -> None:
    for x, y in zip(a, b):
        assert (x["fold"], x["epochs"], x["best_epoch"], x["stop_epoch"]) == (
            y["fold"],
            y["epochs"],
            y["best_epoch"],
            y["stop_epoch"],
        )
        for key in ("accuracy", "val_accuracy", "loss", "val_loss"):
            # Tasks pin TF to one thread: sums may reorder, never change a result beyond float noise.
            np.testing.assert_allclose(x["history"][key], y["history"][key], atol=2e-3, err_msg=key)


@_heavy
def test_cluster_run_equals_local_run(work, cluster, local_run, ray_run):
    from fer_edge.data.store import read_store

    listening = [line.split()[3] for line in cluster.listening().splitlines()[1:] if line.strip()]
    assert listening and all(a.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")) for a in listening), listening
    assert (ray_run / "split.json").read_text() == (local_run / "split.json").read_text()
    local_index = [json.loads(line) for line in (local_run / "pre" / "index.jsonl").read_text().splitlines()]
    ray_index = [json.loads(line) for line in (ray_run / "pre" / "index.jsonl").read_text().splitlines()]
    strip = ("source",)
    assert [{k: v for k, v in r.items() if k not in strip} for r in ray_index] == [
        {k: v for k, v in r.items() if k not in strip} for r in local_index
    ]
    stores = sorted(p.name for p in (local_run / "features").glob("*.h5"))
    assert stores == sorted(p.name for p in (ray_run / "features").glob("*.h5")) and len(stores) == 2 * FOLDS + 1
    assert not (ray_run / "features" / ".shards").exists()
    for name in stores:
        a, b = read_store(local_run / "features" / name), read_store(ray_run / "features" / name)
        assert a.names == b.names and a.attrs["extractor"] == b.attrs["extractor"]
        xa, ma, ya = a.batch(range(len(a)))
        xb, mb, yb = b.batch(range(len(b)))
        np.testing.assert_array_equal(ma, mb)
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_allclose(xa, xb, atol=1e-2, rtol=1e-2)
    _same_folds(_folds(ray_run), _folds(local_run))
    ma = json.loads((local_run / "bundle" / "manifest.json").read_text())["provenance"]["metrics"]
    mb = json.loads((ray_run / "bundle" / "manifest.json").read_text())["provenance"]["metrics"]
    assert (ma["final_epochs"], ma["stop_epochs"]) == (mb["final_epochs"], mb["stop_epochs"])
    np.testing.assert_allclose(ma["val_accuracies"], mb["val_accuracies"], atol=1e-6)
    assert abs(ma["test_accuracy"] - mb["test_accuracy"]) <= 1e-6


_CV_DRIVER = f"""
import sys
from fer_edge.train.config import load_recipe
from fer_edge.train.crossval import cross_validate
from fer_edge.train.tasks import TemporalTask
recipe = load_recipe(sys.argv[1])
task = TemporalTask(recipe, sys.argv[2], features=256, folds={FOLDS})
report = cross_validate(task, sys.argv[3], epochs=recipe.temporal.epochs, patience=recipe.finalize.patience,
                        progress=False, executor=sys.argv[4])
print("folds", len(report.folds))
"""


@_heavy
def test_killed_worker_fold_is_retried_to_the_same_result(work, cluster, ray_run):
    cv = work / "fault-cv"
    proc = cluster.popen(
        [
            sys.executable,
            "-c",
            _CV_DRIVER,
            str(work / "ray.yaml"),
            str(ray_run / "features"),
            str(cv),
            f"ray={cluster.address}",
        ]
    )
    killed = None
    try:
        deadline = time.monotonic() + 300
        while killed is None and proc.poll() is None and time.monotonic() < deadline:
            started = [p for p in cv.glob("fold-*") if not (p / "result.json").exists()]
            busy = [pid for pid, cmd in cluster.processes().items() if cmd.startswith("ray::fer-edge:cv")]
            if started and busy:  # a fold is training in that worker right now
                os.kill(busy[0], signal.SIGKILL)
                killed = busy[0]
            time.sleep(0.1)
        stdout, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed is not None, "no fold task was seen running"
    assert proc.returncode == 0 and f"folds {FOLDS}" in stdout, stdout[-3000:]
    results = [json.loads((cv / f"fold-{i}" / "result.json").read_text()) for i in range(FOLDS)]
    _same_folds(results, _folds(ray_run))


@_heavy
def test_node_without_the_run_folder_is_named(work, cluster):
    out = work / "isolated" / "pre"
    done = _fer_edge(cluster, *_preprocess_args(work, out, f"ray={cluster.address}"), timeout=300, check=False)
    assert done.returncode != 0
    error = done.stderr.strip().splitlines()[-1]
    assert "node worker-1" in error and "cannot see the run folder" in error and str(out) in error, done.stderr[-2000:]
    assert not list(out.glob("clips/*")), "no clip work may start before the check passes"


@_heavy
def test_tasks_no_node_can_run_stop_the_run_with_one_line(work, cluster):
    """cpus=2 on 1-CPU nodes: the tasks could only pend forever; the run says so and stops."""
    out = work / "too-big" / "pre"
    done = cluster.run(
        [sys.executable, "-m", "fer_edge", *_preprocess_args(work, out, f"ray={cluster.address},cpus=2")],
        timeout=300,
        check=False,
        env={**cluster.env, "FER_EDGE_RAY_WAIT_S": "10"},
    )
    assert done.returncode != 0
    error = done.stderr.strip().splitlines()[-1]
    assert "no alive node of the Ray cluster has the 2 CPUs" in error and "cpus=N" in error, done.stderr[-2000:]
    assert "2 nodes alive, the largest with 1 CPUs" in error, error


@_heavy
def test_embedded_ray_preprocess_equals_local(work, cluster, local_run):
    """``--executor ray`` with no cluster: an embedded Ray (inside the test's private namespace)."""
    out = work / "embedded-pre"
    _fer_edge(cluster, *_preprocess_args(work, out, "ray"), timeout=600)
    local = (local_run / "pre" / "index.jsonl").read_text().splitlines()
    ours = (out / "index.jsonl").read_text().splitlines()
    assert [{k: v for k, v in json.loads(x).items() if k != "source"} for x in ours] == [
        {k: v for k, v in json.loads(x).items() if k != "source"} for x in local
    ]


def _inner(proc, timeout: float = 30) -> int:
    """The pid of the command a ``cluster.popen`` runs (nsenter forks it into the PID namespace)."""
    deadline = time.monotonic() + timeout
    while not children(proc.pid):
        assert time.monotonic() < deadline and proc.poll() is None, "the command did not start"
        time.sleep(0.05)
    return children(proc.pid)[0]


def _run_tasks(cluster: LoopbackCluster) -> dict[int, str]:
    """The run's processes still alive: fer-edge drivers and the Ray workers of their tasks."""
    return {
        pid: cmd for pid, cmd in cluster.processes().items() if cmd.startswith("ray::fer-edge") or "fer_edge" in cmd
    }


@_heavy
def test_ctrl_c_cancels_the_tasks_and_the_rerun_reuses_finished_folds(work, cluster, ray_run):
    import shutil

    from fer_edge.core.outputs import MARKER

    out = work / "sigint"
    keep = {"features", "split.json", MARKER}  # the ray run's stores: this run only trains folds
    shutil.copytree(
        ray_run,
        out,
        ignore=lambda folder, names: [] if Path(folder) != ray_run else [n for n in names if n not in keep],
    )
    argv = [
        sys.executable,
        "-c",
        # A shell's background job (CI started with `&`, nohup) inherits SIGINT ignored, and Python
        # then keeps it ignored: give the driver the handler an interactive `fer-edge` has.
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from fer_edge.cli import main; sys.exit(main(sys.argv[1:]))",
        "train",
        "temporal",
        "--recipe",
        str(work / "ray.yaml"),
        "--out",
        str(out),
        "--executor",
        f"ray={cluster.address}",
        "--quiet",
        "--fold",
        "0",
        "--fold",
        "1",
        "--fold",
        "2",
    ]
    proc = cluster.popen(argv)
    try:
        driver = _inner(proc)
        deadline = time.monotonic() + 400
        while proc.poll() is None and time.monotonic() < deadline:
            if list(out.glob("cv/fold-*/result.json")):
                break
            time.sleep(0.2)
        finished = {p: p.stat().st_mtime_ns for p in out.glob("cv/fold-*/result.json")}
        assert finished and proc.poll() is None, "no fold finished while the run was going"
        os.kill(driver, signal.SIGINT)
        stdout, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "fer-edge train: interrupted" in stdout, stdout[-3000:]
    assert len(list(out.glob("cv/fold-*/result.json"))) < 3, "the interrupt came too late to test anything"
    deadline = time.monotonic() + 60
    while _run_tasks(cluster) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _run_tasks(cluster), _run_tasks(cluster)
    done = cluster.run(argv, timeout=600)
    assert "remaining folds" in done.stdout, done.stdout[-2000:]
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # reused, not trained again
    results = [json.loads((out / "cv" / f"fold-{i}" / "result.json").read_text()) for i in range(3)]
    _same_folds(results, _folds(ray_run)[:3])


def _tune_data() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    y = np.arange(36) % 3
    x = (rng.integers(0, 60, (36, 32, 32, 3)) + y[:, None, None, None] * 80).astype(np.uint8)
    return x[:24], y[:24], x[24:], y[24:]


def _tune(folder: Path, executor: str, seed: int = 0) -> dict:
    """A 4-trial search in rounds of 2 over a tiny classifier (called here and by the Ray driver)."""
    from fer_edge.train.config import TuneConfig
    from fer_edge.train.tuning import search

    # Round 1: random trials; round 2: the Gaussian process, with round 2's first trial pending
    # ("hallucinated") while the second is proposed.
    cfg = TuneConfig(trials=4, dense_layers=(1, 2), units=(8, 16), dropout=(0.2, 0.5), epochs=1, parallel=2, initial=2)
    x, y, vx, vy = _tune_data()
    return search(
        cfg,
        model="test_spatial",
        options={"input_shape": [32, 32, 3], "num_classes": 3},
        train=(x, y),
        val=(vx, vy),
        folder=folder,
        seed=seed,
        batch_size=8,
        augment=True,
        executor=executor,
        progress=False,
    )


def _trials(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("trial-*.json"))]


@pytest.fixture(scope="module")
def tune_local(work):
    folder = work / "tune-local"
    return _tune(folder, "local"), folder


@_heavy
def test_tuner_search_resumes_from_finished_trials(tmp_path, tune_local):
    import shutil

    best, folder = tune_local
    trials = _trials(folder)
    assert [t["trial"] for t in trials] == ["0", "1", "2", "3"]
    assert best in [
        {
            "dense_units": tuple(t["values"][f"units_{i}"] for i in range(t["values"]["dense_layers"])),
            "dropout": round(t["values"]["dropout"], 2),
        }
        for t in trials
    ]
    again = tmp_path / "tune"
    shutil.copytree(folder, again)
    for name in ("trial-1.json", "trial-3.json", "best.json"):  # as if Ctrl-C came in each round
        (again / name).unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in again.glob("trial-*.json")}
    assert _tune(again, "local") == best
    assert {name: (again / name).stat().st_mtime_ns for name in kept} == kept  # replayed, not rerun
    for a, b in zip(_trials(again), trials):  # the missing trials were proposed and scored again
        assert a["values"] == b["values"] and a["val_accuracy"] == b["val_accuracy"]
    with pytest.raises(FerEdgeError, match="another search's trial"):
        _tune(again, "local", seed=1)


_TUNE_DRIVER = """
import sys
from pathlib import Path
from tests.research.test_cluster import _tune
print("best", _tune(Path(sys.argv[1]), sys.argv[2]))
"""


@_heavy
def test_tuner_trials_run_as_ray_tasks_and_find_the_local_result(work, cluster, tune_local):
    best, local = tune_local
    folder = work / "tune-ray"
    proc = cluster.popen([sys.executable, "-c", _TUNE_DRIVER, str(folder), f"ray={cluster.address}"])
    seen = set()
    try:
        deadline = time.monotonic() + 400
        while proc.poll() is None and time.monotonic() < deadline:
            seen |= {cmd for cmd in cluster.processes().values() if cmd.startswith("ray::fer-edge:tuner trials")}
            time.sleep(0.1)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and f"best {best}" in stdout, stdout[-3000:]
    assert seen, "no trial was seen running as a Ray task"
    ours, theirs = _trials(folder), _trials(local)
    assert [t["values"] for t in ours] == [t["values"] for t in theirs]
    for a, b in zip(ours, theirs):
        # One TF thread per task vs the default here: float noise only, never a different trial.
        np.testing.assert_allclose(a["history"]["val_loss"], b["history"]["val_loss"], atol=2e-3)
        assert a["val_accuracy"] == pytest.approx(b["val_accuracy"], abs=1e-6)


_HOLDER = """
import sys, time
from tests.support.raycluster import LoopbackCluster
cluster = LoopbackCluster(workers=0).start()
print(cluster.marker, flush=True)
time.sleep(3600)
"""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_cluster_processes_die_with_a_killed_test_process():
    """A SIGKILLed pytest runs no finalizer: its cluster must still not outlive it."""
    import subprocess

    why = namespaces_available()
    if why:
        pytest.skip(f"no private network namespace for the test cluster: {why}")
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        marker = proc.stdout.readline().strip()
        assert marker, "the cluster did not start"
        started = marked_processes(marker)
        assert any("gcs_server" in cmd for cmd in started.values()), started
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 60
        while marked_processes(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not marked_processes(marker), marked_processes(marker)
    finally:
        if proc.poll() is None:
            proc.kill()
