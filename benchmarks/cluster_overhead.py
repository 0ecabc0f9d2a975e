"""Ray overhead: a tiny recipe's 5-fold CV through embedded Ray vs ``--executor local``, and
extraction frames/s with 2 Ray workers vs 1.

Everything runs inside a private network namespace (``unshare -rn``; only loopback exists
there), so the embedded Ray's servers never listen on a network address; it has its own PID
namespace too, so no Ray process outlives the benchmark, even a killed one. Each measurement is
its own process (one Ray per process), on the same features and seeds:

* ``cv-local``: :func:`fer_edge.train.crossval.cross_validate` with ``executor="local"``;
* ``cv-ray``: the same through ``ray.init(num_cpus=2)``; the time to start Ray is reported
  apart from the CV's wall time (a cluster user pays it once per run, not per stage);
* ``extract-ray-1`` / ``extract-ray-2``: :func:`fer_edge.train.shards.extract_sharded`
  into a fresh folder with 1 or 2 Ray workers (OpenVINO backend, one thread per task), timed
  after a warm-up extraction of the test part (each worker imports TF and compiles the model
  once per process; that start-up is reported as ``warm_up``).

    nice -n 5 .venv/bin/python benchmarks/cluster_overhead.py --json benchmarks/results/cluster.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "token")  # Ray's default for ray.init(); the token stays in memory:
os.environ.setdefault("RAY_AUTH_TOKEN", os.urandom(32).hex())  # nothing written to ~/.ray

INSIDE = "FER_EDGE_BENCH_NAMESPACE"
LABELS = ["happy", "sad", "surprise", "anger", "disgust", "fear"]


def _recipe(work: Path, args):
    from fer_edge.train.config import load_recipe

    return load_recipe(
        None,
        overrides={
            "name": "bench-cluster",
            "out": str(work / "run"),
            "seed": 0,
            "labels": LABELS,
            "data": {
                "preprocessed": str(work / "pre"),
                "split": {"k": 5, "test": 0.2, "seed": 0},
                "length": args.frames,
                "trimmed": False,
            },
            "spatial": {"model": "test_spatial", "weights": str(work / "spatial.keras")},
            "extract": {"layer": "flatten", "augment": ["flip"], "batch_size": 64, "backend": "openvino"},
            "temporal": {"model": "test_temporal", "epochs": args.epochs, "batch_size": 8, "learning_rate": 1e-3},
            "finalize": {"patience": 3},
        },
    )


def _prepare(work: Path, args) -> None:
    from fer_edge.data.synth_prep import write_preprocessed
    from fer_edge.models import create_model
    from fer_edge.train.experiment import run_extract
    from fer_edge.train.kerasutil import save_atomic

    subjects = [f"{'F' if i % 2 else 'M'}{i // 2 + 1:03d}" for i in range(args.subjects)]
    write_preprocessed(work / "pre", subjects=subjects, labels=LABELS, frames=args.frames, crop=args.crop)
    save_atomic(
        create_model("test_spatial", input_shape=(args.crop, args.crop, 3), num_classes=len(LABELS)),
        work / "spatial.keras",
    )
    start = time.perf_counter()
    _, _, report = run_extract(_recipe(work, args), progress=False)
    print(
        json.dumps(
            {
                "step": "extract-local",
                "seconds": time.perf_counter() - start,
                "fps": report.fps,
                "frames": report.frames,
            }
        )
    )


def _result(step: str, seconds: float, ray_start: float, **measured) -> None:
    """One child's result: a JSON line on stdout, which the parent reads back."""
    print(json.dumps({"step": step, "seconds": seconds, "ray_start": ray_start, **measured}))


def _child(step: str, work: Path, args) -> None:
    recipe = _recipe(work, args)
    ray_start = 0.0
    if step != "cv-local":
        import ray

        start = time.perf_counter()
        ray.init(
            num_cpus=int(step[-1]) if step.startswith("extract") else 2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="WARNING",
        )
        ray_start = time.perf_counter() - start
    executor = "local" if step == "cv-local" else "ray"
    if step.startswith("cv"):
        from fer_edge.train.crossval import cross_validate
        from fer_edge.train.tasks import TemporalTask

        task = TemporalTask(recipe, work / "run" / "features", features=int(args.crop / 8) ** 2 * 16, folds=5)
        start = time.perf_counter()
        report = cross_validate(task, work / step, epochs=args.epochs, patience=3, progress=False, executor=executor)
        seconds = time.perf_counter() - start
        _result(
            step,
            seconds,
            ray_start,
            val_accuracies=report.val_accuracies,
            fold_seconds=[f.seconds for f in report.folds],
        )
        return
    from fer_edge.models import feature_extractor, load_keras_model
    from fer_edge.train.data import prepare_data
    from fer_edge.train.shards import extract_sharded

    data = prepare_data(recipe, progress=False)
    extractor = feature_extractor(load_keras_model(work / "spatial.keras"), "flatten")
    kw = dict(executor=executor, augment=["flip"], batch_size=64, length=args.frames, trimmed=False, backend="openvino")
    start = time.perf_counter()
    extract_sharded(data, extractor, work / f"{step}-warm", parts=["test"], **kw)  # workers load the model
    warm = time.perf_counter() - start
    start = time.perf_counter()
    report = extract_sharded(data, extractor, work / step, **kw)
    seconds = time.perf_counter() - start
    _result(step, seconds, ray_start, warm_up=warm, frames=report.frames, fps=report.frames / seconds)


def _run(step: str, work: Path, argv: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", step, "--work", str(work), *argv],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        raise SystemExit(f"{step} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=12, help="synthetic subjects x 6 emotions (default: 12)")
    parser.add_argument("--frames", type=int, default=16, help="frames per clip (default: 16)")
    parser.add_argument("--crop", type=int, default=64, help="face crop side, px (default: 64)")
    parser.add_argument("--epochs", type=int, default=8, help="epochs per fold (default: 8)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    raw = sys.argv[1:] if argv is None else list(argv)
    if args.child:
        _child(args.child, Path(args.work), args) if args.child != "prepare" else _prepare(Path(args.work), args)
        return 0
    if os.environ.get(INSIDE) != "1":  # re-run inside a loopback-only network namespace
        from fer_edge.cluster.loopback import loopback_only

        cmd = loopback_only(sys.executable, __file__, *raw)
        return subprocess.run(cmd, env={**os.environ, INSIDE: "1"}).returncode
    keep = [f"--{k}={getattr(args, k)}" for k in ("subjects", "frames", "crop", "epochs")]
    work = Path(tempfile.mkdtemp(prefix="fer-edge-cluster-bench-"))
    load_before = os.getloadavg()[0]
    try:
        rows = {
            r["step"]: r
            for r in (
                _run(step, work, keep) for step in ("prepare", "cv-local", "cv-ray", "extract-ray-1", "extract-ray-2")
            )
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    local, ray = rows["cv-local"]["seconds"], rows["cv-ray"]["seconds"]
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_before_after": [load_before, os.getloadavg()[0]],
        },
        "settings": {k: v for k, v in vars(args).items() if k in ("subjects", "frames", "crop", "epochs")},
        "cv_local_s": round(local, 1),
        "cv_ray_s": round(ray, 1),
        "ray_start_s": round(rows["cv-ray"]["ray_start"], 1),
        "cv_overhead": round(ray / local - 1, 3),
        "cv_overhead_with_start": round((ray + rows["cv-ray"]["ray_start"]) / local - 1, 3),
        "same_val_accuracies": rows["cv-local"]["val_accuracies"] == rows["cv-ray"]["val_accuracies"],
        "fold_seconds_local": [round(s, 1) for s in rows["cv-local"]["fold_seconds"]],
        "extract_fps_local": round(rows["extract-local"]["fps"], 1),
        "extract_fps_ray_1": round(rows["extract-ray-1"]["fps"], 1),
        "extract_fps_ray_2": round(rows["extract-ray-2"]["fps"], 1),
        "extract_warm_up_s": [round(rows[f"extract-ray-{w}"]["warm_up"], 1) for w in (1, 2)],
    }
    print("| measure | value |\n|---|---|")
    for key, value in result.items():
        if key not in ("machine", "settings"):
            print(f"| {key} | {value} |")
    print(f"machine: {result['machine']}; settings: {result['settings']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
