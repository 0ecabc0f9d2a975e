"""Feature-extraction speed: frames per second through a spatial extractor, Keras vs OpenVINO.

Each frame passes the CNN once per augmentation, in batches (fer_edge.train.features); this
times that forward pass alone on random 0..255 frames, after a warm-up, per backend and batch
size, and prints a Markdown table (+ JSON with --json). No dataset or download needed.

    .venv/bin/python benchmarks/extract_speed.py                       # student @160, flatten (512)
    .venv/bin/python benchmarks/extract_speed.py --model vgg16 --layer flatten --frames 256
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402


def _time(run, x: np.ndarray, batch: int, repeats: int) -> dict:
    for i in range(0, min(len(x), 2 * batch), batch):  # warm-up (compilation, caches)
        run(x[i : i + batch])
    per_pass = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(0, len(x), batch):
            run(x[i : i + batch])
        per_pass.append(time.perf_counter() - start)
    seconds = float(np.median(per_pass))
    return {
        "frames": len(x),
        "seconds": round(seconds, 4),
        "fps": round(len(x) / seconds, 1),
        "ms_per_batch": round(1000 * seconds / int(np.ceil(len(x) / batch)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="student", help="registry spatial model (default: student)")
    parser.add_argument("--size", type=int, default=160, help="input side (default: 160)")
    parser.add_argument("--layer", default="flatten", help="feature layer (default: flatten)")
    parser.add_argument("--frames", type=int, default=512, help="frames per timed pass (default: 512)")
    parser.add_argument("--batch", type=int, action="append", default=None, help="batch sizes (default: 32, 64)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes, median reported (default: 3)")
    parser.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = parser.parse_args()

    import openvino as ov

    from fer_edge.models import create_model, feature_extractor
    from fer_edge.train.features import make_runner
    from fer_edge.train.kerasutil import seed_everything

    keras = seed_everything(0)
    model = create_model(args.model, input_shape=(args.size, args.size, 3), num_classes=6)
    extractor = feature_extractor(model, args.layer)
    x = np.random.default_rng(0).integers(0, 256, (args.frames, args.size, args.size, 3)).astype(np.float32)
    rows = []
    for backend in ("keras", "openvino"):
        run = make_runner(extractor, backend)
        for batch in args.batch or [32, 64]:
            row = {
                "model": args.model,
                "layer": args.layer,
                "features": int(extractor.outputs[0].shape[-1]),
                "size": args.size,
                "backend": backend,
                "batch": batch,
                **_time(run, x, batch, args.repeats),
            }
            rows.append(row)
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "openvino": ov.get_version(),
        "keras": keras.__version__,
        "precision": "f32",
    }
    print(f"machine: {machine}")
    print("| model | layer | F | backend | batch | frames/s | ms/batch |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']}@{r['size']} | {r['layer']} | {r['features']} | {r['backend']} | {r['batch']} | "
            f"{r['fps']} | {r['ms_per_batch']} |"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"machine": machine, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
