"""Stress: hundreds of multi-stream demos under CPU load, each in a fresh process with a watchdog.

Each run is ``fer-edge demo`` with 2 or 4 ``--source`` (alternating, or ``--streams``), pipelined,
in a new Python process (a race in a process' first inferences only shows in fresh processes),
while ``--load`` busy processes keep every core contended. A run that does not end within
``--timeout`` seconds is a hang: the child's :mod:`faulthandler` watchdog dumps every thread's
stack to stderr and exits, the dump is printed, and the stress fails. Any other failure fails it
too. Detector: the demo's default (BlazeFace) unless ``--detector``.

Usage (``make stress``: 300 runs)::

    python benchmarks/stress.py                          # 300 runs, sample video, default model
    python benchmarks/stress.py --runs 50 --streams 4 --load 4
    python benchmarks/stress.py --source a.mp4 --source b.mp4 --bundle runs/fer

Before the fix (OpenVINO's numpy type tables built lazily by two stream workers at once) 2 of 11
four-stream runs hung on a 2-core box at load ~3; after it 300 of 300 ended.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The child: a watchdog (a C thread: it fires even when no Python thread can run), then the CLI.
CHILD = (
    "import faulthandler, sys\n"
    "faulthandler.dump_traceback_later(float(sys.argv[1]), exit=True)\n"
    "from fer_edge.cli import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def _burn(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def one_run(sources: list[str], out: Path, args: argparse.Namespace) -> tuple[int, str, float]:
    """One watched demo; (exit code, stderr, seconds). Exit code None: the watchdog fired."""
    cmd = [sys.executable, "-c", CHILD, str(args.timeout), "-q", "demo", "--no-show", "--out", str(out)]
    for source in sources:
        cmd += ["--source", source]
    cmd += ["--max-frames", str(args.max_frames)]
    if args.bundle:
        cmd += ["--bundle", args.bundle]
    if args.detector:
        cmd += ["--detector", args.detector]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout + 60)
    except subprocess.TimeoutExpired as exc:  # the watchdog itself did not fire: still a hang
        return None, f"no exit {args.timeout + 60:.0f} s after start\n{exc.stderr or ''}", time.perf_counter() - start
    hung = "Timeout (" in proc.stderr and "most recent call first" in proc.stderr
    return (None if hung else proc.returncode), proc.stderr, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=300)
    p.add_argument("--streams", type=int, nargs="+", default=[2, 4], help="streams per run, cycled (default 2 4)")
    p.add_argument("--source", action="append", help="video(s) the streams cycle through (default: the sample)")
    p.add_argument("--bundle", help="bundle (default: the demo's default model)")
    p.add_argument("--detector", help="face detector (default: the demo's)")
    p.add_argument("--max-frames", type=int, default=15)
    p.add_argument("--load", type=int, default=os.cpu_count() or 1, help="busy processes (default: one per core)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds before a run counts as hung")
    args = p.parse_args(argv)
    sources = args.source
    if not sources:
        from fer_edge.core.assets import sample_video

        sources = [str(sample_video())]
    stop = multiprocessing.Event()
    burners = [multiprocessing.Process(target=_burn, args=(stop,), daemon=True) for _ in range(args.load)]
    for b in burners:
        b.start()
    failures = hangs = 0
    took: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="fer-edge-stress-") as tmp:
            for i in range(args.runs):
                n = args.streams[i % len(args.streams)]
                chosen = [sources[k % len(sources)] for k in range(n)]
                rc, err, seconds = one_run(chosen, Path(tmp) / f"run{i}", args)
                took.append(seconds)
                if rc is None:
                    hangs += 1
                    print(f"run {i + 1}: {n} streams HUNG (watchdog after {args.timeout:g} s):\n{err}", flush=True)
                    break
                if rc != 0:
                    failures += 1
                    print(f"run {i + 1}: {n} streams failed (exit {rc}):\n{err[-2000:]}", flush=True)
                elif (i + 1) % 25 == 0:
                    print(f"{i + 1}/{args.runs} runs ended ({sum(took) / len(took):.1f} s each)", flush=True)
    finally:
        stop.set()
        for b in burners:
            b.join(5)
            if b.is_alive():
                b.terminate()
    done = len(took)
    print(
        f"stress: {done} runs ({'/'.join(map(str, args.streams))} streams, load {args.load}): "
        f"{hangs} hung, {failures} failed, {done - hangs - failures} ended well"
    )
    return 1 if hangs or failures or done < args.runs else 0


if __name__ == "__main__":
    sys.exit(main())
