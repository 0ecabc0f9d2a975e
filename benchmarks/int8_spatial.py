"""INT8 vs FP32 on the thesis' spatial extractor: VGGFace-VGG16 at 160x160, cut at `flatten`.

The default frame model (58k parameters, ~0.25 ms) is too small for INT8 to pay off on a CPU:
its latency is call overhead. This benchmark measures the model the thesis actually runs per
frame: NNCF INT8 calibrated on 180 synthetic face crops (untrained weights: no VGGFace weights
ship offline, which changes accuracy, not speed), OpenVINO CPU, batch 1, median of 60 calls.

    .venv/bin/python benchmarks/int8_spatial.py
"""

import os
import tempfile
import time

import nncf
import numpy as np
import openvino as ov

from fer_edge.convert.keras import to_openvino
from fer_edge.data.synth import make_clip
from fer_edge.models import create_model, feature_extractor
from fer_edge.runtime.faces.crop import crop_faces


def crops() -> list[np.ndarray]:
    frames = []
    for i, lab in enumerate(["happy", "sad", "surprise", "fear", "angry", "disgust"] * 10):
        c = make_clip(lab, subject=f"F{(i % 9) + 1:03d}", frames=10, size=(320, 240), seed=i)
        for t in (0, 5, 9):
            crop = crop_faces(c.frames[t], [tuple(int(v) for v in c.boxes[t, 0])], size=160)[0]
            frames.append(crop[..., ::-1].astype(np.float32)[None])
    return frames


def latency(core: ov.Core, model, hint: str, x: np.ndarray):
    config = {"PERFORMANCE_HINT": "LATENCY", **({"INFERENCE_PRECISION_HINT": "f32"} if hint == "f32" else {})}
    compiled = core.compile_model(model, "CPU", config)
    request = compiled.create_infer_request()
    for _ in range(10):
        request.infer([x])
    times = []
    for _ in range(60):
        t = time.perf_counter()
        request.infer([x])
        times.append((time.perf_counter() - t) * 1000)
    return np.median(times), compiled


def main() -> None:
    m = create_model("vggface_vgg16", input_shape=(160, 160, 3), num_classes=6)
    ovm = to_openvino(feature_extractor(m, layer="flatten"))
    frames = crops()
    q = nncf.quantize(ovm, nncf.Dataset(frames), subset_size=len(frames))
    core = ov.Core()
    for hint in ("f32", "default"):
        a, c1 = latency(core, ovm, hint, frames[0])
        b, c2 = latency(core, q, hint, frames[0])
        print(f"vggface_vgg16 160x160 flatten, hint={hint}: FP32 {a:.2f} ms, INT8 {b:.2f} ms, speed-up {a / b:.2f}x")
    agree = np.mean([np.corrcoef(c1(f)[0].ravel(), c2(f)[0].ravel())[0, 1] for f in frames[:20]])
    d = tempfile.mkdtemp()
    ov.save_model(ovm, d + "/a.xml", compress_to_fp16=False)
    ov.save_model(q, d + "/b.xml")
    size = (os.path.getsize(d + "/b.bin") + os.path.getsize(d + "/b.xml")) / (
        os.path.getsize(d + "/a.bin") + os.path.getsize(d + "/a.xml")
    )
    print(
        "feature correlation INT8 vs FP32:",
        round(float(agree), 4),
        "size ratio:",
        round(size, 3),
        "samples",
        len(frames),
    )


if __name__ == "__main__":
    main()
