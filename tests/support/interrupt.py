"""SIGKILL harness: kill a CLI stage at random points, rerun it, compare with an uninterrupted run.

For each stage, on synthetic data:

1. run it once uninterrupted into ``out/`` (timed; also when ``out/`` first appears, so kills
   land while work is being done rather than while Python imports), then move it to ``ref/``
   (every run writes to the same path, so paths recorded inside outputs agree);
2. into ``out/`` again: start it, SIGKILL it after a random delay (>= ``--kills`` times), and
   after every kill check that nothing half-written looks complete: every final-named file
   must parse/open/decode (JSON/JSONL, PNG, CSV, HDF5, ``.keras`` zip, IR) *and* already equal
   its version in ``ref/`` (a stale or partial file under a final name is caught even when it
   parses); temporary names (``.tmp-``, ``.partial`` ...) are allowed;
3. rerun it to completion and compare ``out/`` with ``ref/``: the same files with the same
   content. Content means bytes, except: JSON keys that name a timing (``latency_*_ms``,
   ``speedup_*``, ``seconds``: a rule) or another wall-clock fact (listed per stage) are
   dropped, every Markdown table or CSV column whose header names a timing is masked (the same
   rule: ``seconds``, ``ms, f32 hint``, ``speed-up, ...``), text files may have per-stage
   volatile patterns masked, HDF5 files compare attributes + datasets (a resumed store is not
   byte-identical), ``.keras`` zips compare members (``metadata.json`` without ``date_saved``, weights as
   HDF5 content), and TensorBoard event files (named after time, host and pid, holding wall
   times) compare by count per folder.

Stages (all on synthetic data, CPU): ``preprocess``; ``extract`` (a tiny recipe, a fixed
spatial model); ``train`` (``train temporal`` end to end: spatial fine-tuning, extraction,
2-fold CV, finalize, test evaluation, cascade bundle); ``optimize`` (a tiny cascade bundle to
NNCF INT8). Results go to ``benchmarks/results/interrupt.json``.

Usage::

    python -m tests.support.interrupt                   # all stages, 5 kills each
    python -m tests.support.interrupt --stage preprocess --kills 8 --seed 3
    python -m tests.support.interrupt --stage train --stage optimize --keep
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fer_edge.core.atomic import write_json
from tests.support.interrupt_files import Stage, check_complete_files, compare, listing, stale_files
from tests.support.recipes import LABELS, SUBJECTS, tiny_spatial

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "interrupt.json"


def _synth(work: Path, frames: int = 40) -> None:
    from fer_edge.data.synth_dataset import write_dataset

    write_dataset(
        work / "data",
        subjects=["F001", "F002", "M001"],
        labels="happy,sad,surprise",
        frames=frames,
        size=(160, 120),
        seed=0,
    )


def _preprocessed(root: Path, frames: int) -> None:
    from fer_edge.data.synth_prep import write_preprocessed

    write_preprocessed(root, subjects=SUBJECTS, labels=LABELS, frames=frames)


def _recipe(work: Path, *, frames: int, weights: str | None = None) -> dict:
    """A tiny recipe (6 subjects x 3 labels, 32 px, 2 folds, a few epochs) as a dict."""
    spatial = tiny_spatial()
    if weights:
        spatial["weights"] = weights
    return {
        "name": "tiny",
        "seed": 0,
        "labels": LABELS,
        "data": {"preprocessed": str(work / "pre"), "split": {"k": 2, "test": 0.34}, "length": frames},
        "spatial": spatial,
        "extract": {"layer": "flatten", "augment": ["flip", "blur"], "batch_size": 16},
        "temporal": {"model": "test_temporal", "epochs": 4, "batch_size": 8, "learning_rate": 1e-3},
        "finalize": {"patience": 2},
        "window": {"stride": 2, "min_frames": 3},
    }


def _write_yaml(path: Path, data: dict) -> None:
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _extract_setup(work: Path) -> None:
    """Preprocessed clips, a fixed (seeded, untrained) spatial model and a recipe that uses it."""
    from fer_edge.models import create_model

    _preprocessed(work / "pre", frames=24)
    model = create_model("test_spatial", input_shape=(32, 32, 3), num_classes=len(LABELS))
    model.save(work / "spatial.keras")
    _write_yaml(work / "recipe.yaml", _recipe(work, frames=24, weights=str(work / "spatial.keras")))


def _train_setup(work: Path) -> None:
    _preprocessed(work / "pre", frames=10)
    recipe = _recipe(work, frames=8)
    recipe["extract"]["augment"] = ["flip"]
    _write_yaml(work / "recipe.yaml", recipe)


def _optimize_setup(work: Path) -> None:
    """A tiny cascade bundle (.keras + FP32 IR) and labelled calibration clips."""
    from tests.support.ovmodels import calibration_npz, keras_cascade_bundle

    keras_cascade_bundle(work / "bundle")
    calibration_npz(work / "calib.npz", clips=24, frames=8)


STAGES: dict[str, Stage] = {
    "preprocess": Stage(
        "preprocess",
        _synth,
        lambda work, out: ["preprocess", "--root", str(work / "data"), "--out", str(out), "--size", "48", "--no-plot"],
        volatile=("created", "time", "clips_per_min"),
    ),
    "extract": Stage(
        "extract",
        _extract_setup,
        lambda work, out: ["extract", "--recipe", str(work / "recipe.yaml"), "--out", str(out)],
        volatile=("created",),
    ),
    "train": Stage(
        "train",
        _train_setup,
        lambda work, out: [
            "train",
            "temporal",
            "--recipe",
            str(work / "recipe.yaml"),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--quiet",
        ],
        volatile=("created",),
        # IR tensor names that Keras numbers per process ("keras_tensor_28": the spatial model is
        # trained in this process or loaded)
        masks=((".xml", r"keras_tensor_\d+"),),
    ),
    "optimize": Stage(
        "optimize",
        _optimize_setup,
        lambda work, out: [
            "optimize",
            str(work / "bundle"),
            "--precision",
            "int8",
            "--calibration",
            str(work / "calib.npz"),
            "--subset-size",
            "24",
            "--iterations",
            "20",
            "--out",
            str(out),
        ],
        # the plugin's default inference precision is a fact of the machine, shown beside latencies
        volatile=("created", "default_precision"),
    ),
}


def _cli(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "fer_edge", *argv]


def _env(stage: Stage) -> dict[str, str]:
    env = dict(
        os.environ,
        PYTHONHASHSEED="0",
        TF_CPP_MIN_LOG_LEVEL="2",
        TF_ENABLE_ONEDNN_OPTS="0",
        TF_DETERMINISTIC_OPS="1",
        CUDA_VISIBLE_DEVICES="-1",
        PYTHONPATH=str(ROOT),
    )
    env.update(stage.env)
    return env


def _timed_run(argv: list[str], cwd: Path, env: dict, out: Path, timeout: float) -> tuple[int, float, float, str]:
    """Run to completion; returns (rc, seconds, seconds until ``out`` (or its staging folder)
    appeared, stderr tail)."""
    start = time.perf_counter()
    appeared = None
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
        while proc.poll() is None:
            if appeared is None and (out.exists() or any(out.parent.glob(f".{out.name}.*"))):
                appeared = time.perf_counter() - start
            if time.perf_counter() - start > timeout:
                proc.kill()
                proc.wait()
                break
            time.sleep(0.02)
        full = time.perf_counter() - start
        err.seek(0)
        tail = err.read()[-400:]
    return proc.returncode, full, appeared if appeared is not None else 0.1 * full, tail


def run_stage(stage: Stage, work: Path, *, kills: int, rng: random.Random, timeout: float = 900) -> dict:
    """The whole protocol for one stage; returns its result record."""
    stage.prepare(work)
    env = _env(stage)
    ref, out = work / "ref", work / "out"
    argv = _cli(stage.command(work, out))
    rc, full, first, tail = _timed_run(argv, work, env, out, timeout)
    if rc != 0:
        return {"stage": stage.name, "error": f"reference run failed (rc {rc}): {tail.strip()}"}
    os.replace(out, ref)
    record = {
        "stage": stage.name,
        "reference_seconds": round(full, 2),
        "first_output_after_s": round(first, 2),
        "kills": [],
        "half_written": [],
        "resumed_runs": [],
    }
    killed = attempts = 0
    while killed < kills and attempts < 6 * kills:
        attempts += 1
        # Every other kill lands while the stage writes (after its output, or the staging folder
        # of an atomic output, first appears); the others anywhere past the first tenth.
        delay = rng.uniform(first if attempts % 2 else min(first, 0.1 * full), full)
        fresh = not out.exists()
        began = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            rc = proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed += 1
            problems = []
            if out.exists():
                problems = check_complete_files(out) + stale_files(ref, out, stage)
            files = len(listing(out)) if out.exists() else 0
            record["kills"].append(
                {"after_s": round(delay, 2), "final_named_files": files, "half_written": len(problems)}
            )
            record["half_written"] += [f"kill {killed}: {p}" for p in problems]
            continue
        # It finished before the kill: a resumed run; its outputs must already equal the
        # reference. Start again from nothing so the next kill interrupts real work. A run from
        # nothing that beat the delay shows the reference was slowed (a busy machine): shrink
        # the kill window to this run's length.
        if fresh:
            took = time.perf_counter() - began
            first, full = first * min(1.0, took / full), min(full, took)
        diff = compare(ref, out, stage) if out.exists() else {"missing": ["out/"]}
        record["resumed_runs"].append({"rc": rc, "after_kills": killed, "equal": not any(diff.values()), "diff": diff})
        shutil.rmtree(out, ignore_errors=True)
    rc, seconds, _, tail = _timed_run(argv, work, env, out, timeout)
    record["final_rc"] = rc
    record["final_seconds"] = round(seconds, 2)
    if rc != 0:
        record["final_error"] = tail.strip()
    record["diff"] = compare(ref, out, stage) if out.exists() else {"missing": ["out/"]}
    record["files"] = len(listing(ref))
    record["killed"] = killed
    record["ok"] = (
        rc == 0
        and not record["half_written"]
        and killed >= kills
        and not any(record["diff"].values())
        and all(r["equal"] and r["rc"] == 0 for r in record["resumed_runs"])
    )
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", action="append", choices=list(STAGES), help="stage(s) to test (default: all)")
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs per stage (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    os.environ.update(TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0", CUDA_VISIBLE_DEVICES="-1")
    rng = random.Random(args.seed)
    results = []
    for name in args.stage or list(STAGES):
        work = Path(tempfile.mkdtemp(prefix=f"fer-edge-interrupt-{name}-"))
        try:
            record = run_stage(STAGES[name], work, kills=args.kills, rng=rng)
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
            else:
                print(f"{name}: work folder kept: {work}")
        results.append(record)
        state = "OK" if record.get("ok") else "FAIL"
        print(
            f"{name}: {state}; {record.get('killed', 0)}/{args.kills} runs killed, "
            f"{len(record.get('resumed_runs', []))} resumed runs finished, "
            f"{len(record.get('half_written', []))} half-written files seen, diff {record.get('diff')}"
            + (f"; {record['error']}" if "error" in record else ""),
            flush=True,
        )
    path = write_json(args.out, {"seed": args.seed, "kills_per_stage": args.kills, "stages": results})
    print(f"results: {path}")
    return 0 if all(r.get("ok") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
