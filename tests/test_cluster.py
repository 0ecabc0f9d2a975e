"""Scale-out on Ray: a real 2-node cluster on loopback runs preprocess -> extract -> 5-fold CV.

The cluster (:mod:`raycluster`) lives in a private network namespace, so no byte leaves
127.0.0.1. Its results must equal the ``--executor local`` run of the same recipe; a fold
whose worker is SIGKILLed is retried to the same numbers; a node that cannot see the run
folder is named in a one-line error.
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
from fer_edge.errors import FerEdgeError

from tests.raycluster import LoopbackCluster, namespaces_available

LABELS = ["happy", "sad", "surprise"]
SUBJECTS = ["F001", "F002", "F003", "F004", "M001", "M002", "M003"]
FOLDS = 5

heavy = [pytest.mark.slow, pytest.mark.tf, pytest.mark.timeout(900)]


def _heavy(fn):
    for mark in heavy:
        fn = mark(fn)
    return fn


def test_executor_spec_parsing():
    assert parse_spec("local").kind == "local"
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
    from fer_edge.cluster.extract import shard_size

    seen = []
    assert executor_for("local").map(lambda x: seen.append(x) or -x, [3, 1, 2]) == [-3, -1, -2]
    assert seen == [3, 1, 2]  # in order, in this process
    assert [chunk_size(n, 2) for n in (1, 8, 40, 10_000)] == [1, 1, 5, 16]
    assert [shard_size(n, 4) for n in (1, 8, 40, 10_000)] == [1, 1, 5, 64]


def _recipe(path: Path, out: Path, raw: Path, **extra) -> Path:
    import yaml

    recipe = {
        "name": "tiny-cluster", "out": str(out), "seed": 0, "labels": LABELS,
        "data": {"preprocessed": str(out / "pre"), "raw": str(raw), "preprocess": {"size": 48},
                 "split": {"method": "kfold", "k": FOLDS, "test": 0.2, "seed": 0}, "length": 8, "trimmed": False},
        # A seeded, untrained extractor: spatial fine-tuning is not a cluster task, so skip it.
        "spatial": {"model": "test_spatial", "weights": str(raw.parent / "spatial.keras")},
        "extract": {"layer": "flatten", "augment": ["flip"], "batch_size": 32, "backend": "keras"},
        "temporal": {"model": "test_temporal", "epochs": 2, "batch_size": 8, "learning_rate": 1e-3},
        "finalize": {"patience": 2}, "window": {"stride": 2, "min_frames": 3},
    }
    for key, value in extra.items():
        recipe[key] = value
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    from fer_edge.data.synth import write_dataset

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


@pytest.fixture(scope="module")
def ray_run(work, cluster):
    out = work / "ray"
    recipe = _recipe(work / "ray.yaml", out, work / "raw")
    done = _fer_edge(cluster, "train", "temporal", "--recipe", str(recipe), "--executor", f"ray={cluster.address}",
                     "--quiet")
    assert "bundle:" in done.stdout, done.stdout[-2000:]
    return out


def _folds(out: Path) -> list[dict]:
    return [json.loads((out / "cv" / f"fold-{i}" / "result.json").read_text()) for i in range(FOLDS)]


def _same_folds(a: list[dict], b: list[dict]) -> None:
    for x, y in zip(a, b):
        assert (x["fold"], x["epochs"], x["best_epoch"], x["stop_epoch"]) == \
               (y["fold"], y["epochs"], y["best_epoch"], y["stop_epoch"])
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
    assert [{k: v for k, v in r.items() if k not in strip} for r in ray_index] == \
           [{k: v for k, v in r.items() if k not in strip} for r in local_index]
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


_CV_DRIVER = """
import sys
from fer_edge.train.config import load_recipe
from fer_edge.train.crossval import cross_validate
from fer_edge.train.tasks import TemporalTask
recipe = load_recipe(sys.argv[1])
task = TemporalTask(recipe, sys.argv[2], features=256, folds=%d)
report = cross_validate(task, sys.argv[3], epochs=recipe.temporal.epochs, patience=recipe.finalize.patience,
                        progress=False, executor=sys.argv[4])
print("folds", len(report.folds))
""" % FOLDS


@_heavy
def test_killed_worker_fold_is_retried_to_the_same_result(work, cluster, ray_run):
    cv = work / "fault-cv"
    proc = cluster.popen([sys.executable, "-c", _CV_DRIVER, str(work / "ray.yaml"), str(ray_run / "features"),
                          str(cv), f"ray={cluster.address}"])
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
    done = _fer_edge(cluster, "preprocess", "--root", str(work / "raw"), "--out", str(out), "--size", "48",
                     "--no-plot", "--executor", f"ray={cluster.address}", timeout=300, check=False)
    assert done.returncode != 0
    error = done.stderr.strip().splitlines()[-1]
    assert "node worker-1" in error and "cannot see the run folder" in error and str(out) in error, done.stderr[-2000:]
    assert not list(out.glob("clips/*")), "no clip work may start before the check passes"


@_heavy
def test_embedded_ray_preprocess_equals_local(work, cluster, local_run):
    """``--executor ray`` with no cluster: an embedded Ray (inside the test's private namespace)."""
    out = work / "embedded-pre"
    _fer_edge(cluster, "preprocess", "--root", str(work / "raw"), "--out", str(out), "--size", "48", "--no-plot",
              "--executor", "ray", timeout=600)
    local = (local_run / "pre" / "index.jsonl").read_text().splitlines()
    ours = (out / "index.jsonl").read_text().splitlines()
    assert [{k: v for k, v in json.loads(x).items() if k != "source"} for x in ours] == \
           [{k: v for k, v in json.loads(x).items() if k != "source"} for x in local]
