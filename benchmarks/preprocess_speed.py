"""Preprocessing throughput (clips/minute) and built-in intensity accuracy on a synthetic set.

Writes a synthetic BU-4DFE-layout dataset (``--subjects`` x 6 emotions), then runs the
``preprocess`` stage with 1 worker and with ``--workers`` workers into fresh folders, and a
rerun (which should do nothing). Reports clips/minute for each run and the Pearson correlation
between the built-in intensity estimate and the generator's ground truth (per clip: mean, min).
Writes JSON to ``--json`` when given.

    .venv/bin/python benchmarks/preprocess_speed.py --subjects 6 --frames 100 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_edge.data.intensity import pearson  # noqa: E402
from fer_edge.data.preprocess import PreprocessConfig, preprocess, read_index  # noqa: E402
from fer_edge.data.synth_dataset import write_dataset  # noqa: E402

SUBJECT_POOL = ("F001", "F002", "F003", "M001", "M002", "M003", "F004", "M004", "F005", "M005")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=6)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--size", default="320x240", help="frame size WxH of the synthetic videos")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tracker", default="medianflow")
    parser.add_argument("--work", default=None, help="scratch folder (default: a temp dir, removed)")
    parser.add_argument("--json", default=None, help="write results here")
    args = parser.parse_args(argv)

    w, h = (int(v) for v in args.size.lower().split("x"))
    work = Path(args.work or tempfile.mkdtemp(prefix="fer-edge-bench-"))
    try:
        root = work / "data"
        if not (root / "ground_truth.json").exists():
            write_dataset(root, subjects=SUBJECT_POOL[: args.subjects], frames=args.frames, size=(w, h), seed=0)
        truth = {Path(g["file"]).stem: g["intensity"] for g in json.loads((root / "ground_truth.json").read_text())}
        runs = []
        for workers in (1, args.workers):
            out = work / f"out-{workers}"
            shutil.rmtree(out, ignore_errors=True)
            config = PreprocessConfig(tracker=args.tracker, workers=workers, plot=False)
            t0 = time.perf_counter()
            report = preprocess(root, out, config=config)
            wall = time.perf_counter() - t0
            runs.append(
                {
                    "workers": workers,
                    "clips": report.processed,
                    "seconds": round(wall, 2),
                    "clips_per_min": round(60 * report.processed / wall, 1),
                    "usable": report.usable,
                    "anomalies": len(report.anomalies),
                }
            )
            print(
                f"workers={workers}: {report.processed} clips in {wall:.1f} s = "
                f"{runs[-1]['clips_per_min']} clips/min ({report.usable} usable, "
                f"{len(report.anomalies)} anomalies)"
            )
        t0 = time.perf_counter()
        again = preprocess(root, work / "out-1", config=PreprocessConfig(tracker=args.tracker, plot=False))
        rerun = {"processed": again.processed, "seconds": round(time.perf_counter() - t0, 2)}
        print(f"rerun: {again.processed} clips processed in {rerun['seconds']} s")
        rs = [pearson(r["intensity"], truth[r["name"]]) for r in read_index(work / "out-1") if r["status"] == "ok"]
        corr = {"clips": len(rs), "mean": round(float(np.mean(rs)), 4), "min": round(float(np.min(rs)), 4)}
        print(
            f"built-in intensity vs ground truth: Pearson r mean {corr['mean']}, min {corr['min']} "
            f"over {corr['clips']} clips"
        )
        result = {
            "machine": {
                "cpu": platform.processor() or platform.machine(),
                "cores": os.cpu_count(),
                "python": platform.python_version(),
            },
            "dataset": {
                "subjects": args.subjects,
                "emotions": 6,
                "frames": args.frames,
                "size": [w, h],
                "tracker": args.tracker,
            },
            "runs": runs,
            "rerun": rerun,
            "intensity_pearson": corr,
        }
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
