"""SIGKILL harness: kill a CLI stage at random points, rerun it, compare with an uninterrupted run.

For each stage, on synthetic data:

1. run it once uninterrupted into ``ref/`` (timed);
2. into ``run/``: start it, SIGKILL it after a random delay (>= ``--kills`` times), and after
   every kill check that nothing half-written looks complete (every final-named JSON/JSONL
   parses, every PNG decodes, every HDF5/IR file opens; temporary names are allowed);
3. rerun it to completion and compare ``run/`` with ``ref/``: the same files, byte-identical,
   except JSON keys that hold wall-clock facts (listed per stage), which are compared without
   them.

Stages: ``preprocess`` (now); ``extract``, ``train`` and ``optimize`` are added to ``STAGES``
when their CLIs take synthetic inputs end to end (see the report). Results go to
``benchmarks/results/interrupt.json``.

Usage::

    python benchmarks/interrupt.py                       # all stages, 5 kills each
    python benchmarks/interrupt.py --stage preprocess --kills 8 --seed 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "interrupt.json"
TEMP_MARKERS = (".tmp-", ".partial", ".part-", ".old-")


@dataclass
class Stage:
    """How to prepare inputs for a stage, run it into a folder, and which JSON keys vary."""

    name: str
    prepare: Callable[[Path], None]
    command: Callable[[Path, Path], list[str]]  # (work, out) -> argv
    volatile: tuple[str, ...] = ()  # JSON keys holding times/durations (ignored when comparing)
    env: dict[str, str] = field(default_factory=dict)


def _synth(work: Path, frames: int = 40) -> None:
    from fer_edge.data.synth import write_dataset

    write_dataset(work / "data", subjects=["F001", "F002", "M001"], labels="happy,sad,surprise",
                  frames=frames, size=(160, 120), seed=0)


STAGES: dict[str, Stage] = {
    "preprocess": Stage(
        "preprocess", _synth,
        lambda work, out: ["preprocess", "--root", str(work / "data"), "--out", str(out), "--size", "48",
                           "--no-plot"],
        volatile=("seconds", "created", "time", "clips_per_min"),
    ),
}


def _cli(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "fer_edge", *argv]


def _env(stage: Stage) -> dict[str, str]:
    env = dict(os.environ, PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0",
               CUDA_VISIBLE_DEVICES="-1", PYTHONPATH=str(ROOT))
    env.update(stage.env)
    return env


def _is_temp(path: Path) -> bool:
    return any(m in part for part in path.parts for m in TEMP_MARKERS)


def check_complete_files(out: Path) -> list[str]:
    """Problems with files under final names: each must be whole (parse/open/decode)."""
    import cv2
    import numpy as np

    problems = []
    for path in sorted(p for p in out.rglob("*") if p.is_file() and not _is_temp(p.relative_to(out))):
        try:
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".jsonl":
                for line in path.read_text(encoding="utf-8").splitlines():
                    json.loads(line)
            elif path.suffix in (".png", ".jpg"):
                if cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_UNCHANGED) is None:
                    raise ValueError("does not decode")
            elif path.suffix == ".h5":
                import h5py

                with h5py.File(path, "r") as f:
                    list(f.keys())
            elif path.suffix == ".xml" and path.with_suffix(".bin").exists():
                import openvino as ov

                ov.Core().read_model(str(path))
        except Exception as exc:  # noqa: BLE001 - any failure is a half-written file
            problems.append(f"{path.relative_to(out)}: {type(exc).__name__}: {str(exc)[:100]}")
    return problems


def _strip(data, volatile: tuple[str, ...]):
    if isinstance(data, dict):
        return {k: _strip(v, volatile) for k, v in data.items() if k not in volatile}
    if isinstance(data, list):
        return [_strip(v, volatile) for v in data]
    return data


def _digest(path: Path, volatile: tuple[str, ...]) -> str:
    if path.suffix in (".json", ".jsonl") and volatile:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            items = [json.loads(text)]
        else:
            items = [json.loads(line) for line in text.splitlines()]
        text = json.dumps([_strip(i, volatile) for i in items], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compare(ref: Path, run: Path, volatile: tuple[str, ...]) -> dict[str, list[str]]:
    """Files only in one tree, and files whose content differs."""
    def listing(root):
        return {p.relative_to(root).as_posix(): p for p in root.rglob("*")
                if p.is_file() and not _is_temp(p.relative_to(root))}
    a, b = listing(ref), listing(run)
    differ = [k for k in sorted(set(a) & set(b)) if _digest(a[k], volatile) != _digest(b[k], volatile)]
    return {"only_reference": sorted(set(a) - set(b)), "only_interrupted": sorted(set(b) - set(a)), "differ": differ}


def run_stage(stage: Stage, work: Path, *, kills: int, rng: random.Random, timeout: float = 600) -> dict:
    """The whole protocol for one stage; returns its result record."""
    stage.prepare(work)
    env = _env(stage)
    ref, out = work / "ref", work / "run"
    start = time.perf_counter()
    done = subprocess.run(_cli(stage.command(work, ref)), cwd=work, env=env, capture_output=True, text=True,
                          timeout=timeout)
    full = time.perf_counter() - start
    if done.returncode != 0:
        return {"stage": stage.name, "error": f"reference run failed: {done.stderr.strip()[-300:]}"}
    record = {"stage": stage.name, "reference_seconds": round(full, 2), "kills": [], "half_written": [],
              "resumed_runs": []}
    killed = attempts = 0
    while killed < kills and attempts < 6 * kills:
        attempts += 1
        delay = rng.uniform(0.1, 1.0) * full
        proc = subprocess.Popen(_cli(stage.command(work, out)), cwd=work, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            rc = proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed += 1
            problems = check_complete_files(out) if out.exists() else []
            record["kills"].append({"after_s": round(delay, 2), "half_written": len(problems)})
            record["half_written"] += problems
            continue
        # It finished before the kill: a resumed run; its outputs must already equal the
        # reference. Start again from nothing so the next kill interrupts real work.
        diff = compare(ref, out, stage.volatile) if out.exists() else {"missing": ["run/"]}
        record["resumed_runs"].append({"rc": rc, "after_kills": killed, "equal": not any(diff.values()),
                                       "diff": diff})
        shutil.rmtree(out, ignore_errors=True)
    final = subprocess.run(_cli(stage.command(work, out)), cwd=work, env=env, capture_output=True, text=True,
                           timeout=timeout)
    record["final_rc"] = final.returncode
    record["diff"] = compare(ref, out, stage.volatile)
    record["files"] = sum(1 for p in ref.rglob("*") if p.is_file())
    record["killed"] = killed
    record["ok"] = (final.returncode == 0 and not record["half_written"] and killed >= kills
                    and not any(record["diff"].values())
                    and all(r["equal"] and r["rc"] == 0 for r in record["resumed_runs"]))
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", action="append", choices=list(STAGES), help="stage(s) to test (default: all)")
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs per stage (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    results = []
    for name in args.stage or list(STAGES):
        work = Path(tempfile.mkdtemp(prefix=f"fer-edge-interrupt-{name}-"))
        try:
            record = run_stage(STAGES[name], work, kills=args.kills, rng=rng)
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        results.append(record)
        state = "OK" if record.get("ok") else "FAIL"
        print(f"{name}: {state}; {record.get('killed', 0)}/{args.kills} runs killed, "
              f"{len(record.get('half_written', []))} half-written files seen, diff {record.get('diff')}"
              + (f"; {record['error']}" if "error" in record else ""))
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"seed": args.seed, "kills_per_stage": args.kills, "stages": results}, indent=2) + "\n")
    os.replace(tmp, path)
    print(f"results: {path}")
    return 0 if all(r.get("ok") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
