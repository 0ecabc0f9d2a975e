"""INT8 vs FP32 of the default frame model: latency, agreement on real face crops, size.

Run: FER_EDGE_HOME=... .venv/bin/python benchmarks/optimize_speed.py [--bundle B] [--iterations 2000]
Writes runs/bench/optimize_speed.json. Agreement is top-1 agreement with FP32 on the tracker's
face crops from the sample videos (the default model ships without labelled data).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", help="frame bundle (default: the FER2013 mini-Xception)")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--out", default="runs/bench/optimize_speed.json")
    args = parser.parse_args()
    import openvino as ov

    from fer_edge.convert.defaults import default_bundle
    from fer_edge.optimize.calibration import load_calibration
    from fer_edge.optimize.quantize import compile_f32, infer
    from fer_edge.optimize.report import files_size_mb, measure_file_latency
    from fer_edge.optimize.stage import optimize_bundle
    from fer_edge.runtime.bundle import load_bundle

    src = Path(args.bundle) if args.bundle else default_bundle()
    out = Path("runs/bench") / f"{src.name}_int8"
    report = optimize_bundle(src, precision="int8", out=str(out), iterations=200)
    b = load_bundle(out)
    data = load_calibration(load_bundle(src))
    frames = data.frames()
    fp32 = infer(compile_f32(ov.Core().read_model(str(b.model_path("frame", "FP32")))), frames)
    int8 = infer(compile_f32(ov.Core().read_model(str(b.model_path("frame")))), frames)
    x = [frames[:1]]
    rows = {}
    for name, path in (("fp32", b.model_path("frame", "FP32")), ("int8", b.model_path("frame"))):
        for hint in ("f32", None):
            lat, used = measure_file_latency(path, x, precision=hint, iterations=args.iterations, warmup=200)
            rows[f"{name} hint={hint or 'default'}"] = {**lat, "inference_precision": used}
    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "openvino": ov.get_version()},
        "bundle": str(src),
        "frames": int(len(frames)),
        "agreement": float((fp32.argmax(-1) == int8.argmax(-1)).mean()),
        "latency_ms": rows,
        "speedup_vs_fp32_f32": rows["fp32 hint=f32"]["median"] / rows["int8 hint=default"]["median"],
        "speedup_vs_fp32_default": rows["fp32 hint=default"]["median"] / rows["int8 hint=default"]["median"],
        "size_ratio_total": files_size_mb(b.path, ["frame.xml"]) / files_size_mb(b.path, ["frame-fp32.xml"]),
        "size_ratio_bin": (b.path / "frame.bin").stat().st_size / (b.path / "frame-fp32.bin").stat().st_size,
        "report": str(out / "report.md"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(report.markdown())


if __name__ == "__main__":
    main()
