"""`make bench`: measure the project's performance goals and say which hold.

Goals and reference figures with tolerances live in ``benchmarks/reference.json`` (in the
spirit of NNCF's ``example_scope.json``). Each goal has a condition (``">= 30"``) that decides
whether it holds, and a reference value measured on the machine named there, with a relative
tolerance: a result outside it is flagged as faster/slower than the reference, which on a
different machine is information, not failure.

Measured here:
  runtime      end-to-end FPS of the runtime on the sample video (default bundle, detect every 10)
  models       `fer-edge benchmark` of the default bundle (+ an INT8 bundle when one exists):
               OpenVINO vs TensorFlow batch-1 latency, INT8 vs FP32, FP16 vs FP32
  preprocess   `benchmarks/preprocess_speed.py` on a small synthetic set (clips/min)
  extract      `benchmarks/extract_speed.py` (spatial features, frames/s, OpenVINO vs Keras)

    .venv/bin/python benchmarks/run.py [--only runtime,models] [--int8 BUNDLE] [--out benchmarks/results]

Exit status 1 when a measured goal does not hold; goals that could not be measured (no INT8
bundle yet, a missing script) are listed as skipped with the command that enables them.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# TensorFlow's start-up chatter would bury the goal table.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
PARTS = ("runtime", "models", "preprocess", "extract")


class Skip(Exception):
    """A goal that cannot be measured here; the message says how to enable it."""


def _median(report, **match) -> float | None:
    for r in report.rows:
        if all(getattr(r, k) == v for k, v in match.items()):
            return r.latency_ms["median"]
    return None


def measure_runtime(args) -> dict[str, float]:
    from fer_edge.benchmark.videorows import video_rows
    from fer_edge.convert import defaults
    from fer_edge.runtime.bundle import load_bundle

    bundle = load_bundle(defaults.default_bundle())
    rows = video_rows(
        str(defaults.sample_video()),
        bundle,
        precision=bundle.models["frame"].precision,
        device="CPU",
        hint="default",
        frames=args.frames,
        engine="",
    )
    total = next(r for r in rows if r.stage == "video")
    return {"runtime_fps": total.fps, "runtime_frame_ms_p90": total.latency_ms["p90"]}


def _find_int8(args) -> Path | None:
    from fer_edge.convert import defaults

    if args.int8:
        return Path(args.int8)
    base = defaults.default_bundle_path()
    for candidate in (base.with_name(base.name + "_int8"), ROOT / "runs" / f"{base.name}_int8"):
        if (candidate / "manifest.json").is_file():
            return candidate
    return None


def measure_models(args) -> dict[str, float]:
    from fer_edge.benchmark.runner import benchmark
    from fer_edge.convert import defaults
    from fer_edge.runtime.bundle import load_bundle

    bundles = [defaults.default_bundle()]
    int8 = _find_int8(args)
    if int8 is not None:
        bundles.append(int8)
    report = benchmark(
        bundles,
        hints=["default", "f32"],
        baseline="tf",
        source=None,
        iterations=args.iterations,
        throughput=True,
        out=Path(args.out) / "benchmark",
    )
    name = load_bundle(bundles[0]).name
    out: dict[str, float] = {}
    fp32 = _median(report, model=name, stage="frame", format="IR", precision="FP32", mode="latency", hint="default")
    fp32_f32 = _median(report, model=name, stage="frame", format="IR", precision="FP32", mode="latency", hint="f32")
    tf = _median(report, model=name, stage="frame", format="Keras")
    fp16 = _median(report, model=name, stage="frame", format="IR", precision="FP16", mode="latency", hint="default")
    if fp32 and tf:
        out["openvino_vs_tf_speedup"] = round(tf / fp32, 2)
    if fp32_f32 and tf:
        out["openvino_f32_vs_tf_speedup"] = round(tf / fp32_f32, 2)
    if fp32 and fp16:
        out["fp16_vs_fp32_latency_ratio"] = round(fp16 / fp32, 3)
    int8_rows = [
        r
        for r in report.rows
        if r.precision == "INT8" and r.stage == "frame" and r.mode == "latency" and r.hint == "default"
    ]
    if int8_rows and fp32:
        out["int8_vs_fp32_speedup"] = round(fp32 / int8_rows[0].latency_ms["median"], 2)
        fp32_size = next(r.size_mb for r in report.rows if r.model == name and r.precision == "FP32")
        out["int8_size_ratio"] = round(int8_rows[0].size_mb / fp32_size, 3)
    print(f"benchmark report: {Path(args.out) / 'benchmark' / 'benchmark.md'}")
    return out


def _script(name: str, argv: list[str]) -> dict:
    script = ROOT / "benchmarks" / name
    if not script.is_file():
        raise Skip(f"benchmarks/{name} is not there yet")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "out.json"
        proc = subprocess.run(
            [sys.executable, str(script), *argv, "--json", str(target)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if proc.returncode != 0 or not target.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"{name} failed: {' | '.join(tail)}")
        return json.loads(target.read_text())


def measure_preprocess(args) -> dict[str, float]:
    data = _script("preprocess_speed.py", ["--subjects", "2", "--frames", "60", "--workers", "2"])
    one = next(r for r in data["runs"] if r["workers"] == 1)
    best = max(r["clips_per_min"] for r in data["runs"])
    return {
        "preprocess_clips_per_min": one["clips_per_min"],
        "preprocess_clips_per_min_best": best,
        "intensity_pearson_mean": data["intensity_pearson"]["mean"],
    }


def measure_extract(args) -> dict[str, float]:
    data = _script("extract_speed.py", ["--frames", "128", "--batch", "32", "--repeats", "2"])
    fps = {r["backend"]: r["fps"] for r in data["rows"] if r["batch"] == 32}
    out = {"extract_openvino_fps": fps["openvino"]}
    if fps.get("keras"):
        out["extract_openvino_vs_keras"] = round(fps["openvino"] / fps["keras"], 2)
    return out


MEASURES = {
    "runtime": measure_runtime,
    "models": measure_models,
    "preprocess": measure_preprocess,
    "extract": measure_extract,
}


def judge(goal: dict, value: float | None) -> tuple[str, str]:
    """(status, detail) of one goal: ``holds`` / ``FAILS`` / ``skipped``, and vs the reference.

    Example:
        >>> judge({"goal": ">= 30", "reference": 50, "tolerance": 0.2}, 45.0)
        ('holds', 'within 20% of reference 50')
    """
    if value is None:
        return "skipped", ""
    op, target = goal["goal"].split()
    status = "holds" if OPS[op](value, float(target)) else "FAILS"
    ref, tol = goal.get("reference"), goal.get("tolerance", 0.1)
    if ref is None:
        return status, "no reference"
    ratio = value / ref if ref else float("inf")
    if abs(ratio - 1) <= tol:
        detail = f"within {tol:.0%} of reference {ref}"
    else:
        better = (ratio > 1) == op.startswith(">")
        detail = f"{'better' if better else 'worse'} than reference {ref} by {abs(ratio - 1):.0%} (tolerance {tol:.0%})"
    return status, detail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help=f"parts to run: {', '.join(PARTS)}")
    parser.add_argument("--int8", help="INT8 bundle of the default model (default: <default>_int8 when present)")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--frames", type=int, default=300, help="video frames for the runtime goal")
    parser.add_argument("--reference", default=str(ROOT / "benchmarks" / "reference.json"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in parts if p not in MEASURES]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; known: {', '.join(PARTS)}")
    reference = json.loads(Path(args.reference).read_text())
    goals = reference["goals"]
    values: dict[str, float] = {}
    notes: dict[str, str] = {}
    for part in parts:
        print(f"== {part}", flush=True)
        try:
            got = MEASURES[part](args)
            values.update(got)
            print("  " + ", ".join(f"{k} = {v}" for k, v in got.items()))
        except Skip as why:
            notes[part] = str(why)
            print(f"  skipped: {why}")
        except Exception as exc:  # noqa: BLE001 - one broken part must not hide the others
            notes[part] = f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            print(f"  {notes[part]}")
    from fer_edge.benchmark.machine import machine_record

    machine = machine_record(devices=False)
    print(f"\nmachine: {machine.summary()}")
    print(f"reference: {reference.get('machine', '?')}\n")
    print("| goal | part | condition | measured | status | vs reference |")
    print("| --- | --- | --- | ---: | --- | --- |")
    failed = 0
    results = []
    for name, goal in goals.items():
        if goal["part"] not in parts:
            continue
        value = values.get(name)
        status, detail = judge(goal, value)
        if status == "skipped":
            detail = goal.get("enable", notes.get(goal["part"], "not measured"))
        failed += status == "FAILS"
        results.append({"goal": name, "value": value, "status": status, "detail": detail, **goal})
        shown = "-" if value is None else f"{value} {goal.get('unit', '')}".strip()
        print(f"| {name} | {goal['part']} | {goal['goal']} {goal.get('unit', '')} | {shown} | {status} | {detail} |")
    held = sum(r["status"] == "holds" for r in results)
    skipped = sum(r["status"] == "skipped" for r in results)
    print(f"\n{held} goal(s) hold, {failed} fail, {skipped} skipped.")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".goals.json.tmp-{os.getpid()}"
    tmp.write_text(
        json.dumps({"machine": machine.as_dict(), "values": values, "notes": notes, "goals": results}, indent=2) + "\n"
    )
    os.replace(tmp, out / "goals.json")
    print(f"written: {out / 'goals.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
