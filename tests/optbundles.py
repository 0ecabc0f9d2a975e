"""Tiny Keras-backed bundles (``.keras`` + IR FP32) and calibration files for the optimize tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_edge.bundle import Bundle, FrameSpec, ModelEntry, WindowSpec, provenance, write_manifest

LABELS = ("happy", "sad", "surprise")
RAW = FrameSpec((32, 32), "RGB", (0.0, 0.0, 0.0), (1 / 255,) * 3, 10)


def _save(model, folder: Path, role: str) -> ModelEntry:
    from fer_edge.deploy.ovcompat import save_ir
    from fer_edge.models.convert import to_openvino

    model.save(folder / f"{role}.keras")
    save_ir(to_openvino(model), folder / f"{role}.xml")
    return ModelEntry(f"{role}.xml", "FP32", output=int(model.outputs[0].shape[-1]),
                      input=[int(d) for d in model.inputs[0].shape[1:]], keras=f"{role}.keras")


def frame_bundle(path: Path, seed: int = 0) -> Bundle:
    """test_frame (32x32 RGB 0..255 -> 3 classes) as a frame bundle."""
    from fer_edge.models import create_model

    path.mkdir(parents=True)
    model = create_model("test_frame", num_classes=len(LABELS), seed=seed)
    entry = _save(model, path, "frame")
    bundle = Bundle(path, "tiny-frame", "frame", LABELS, RAW, WindowSpec(3, 1, 1), {"frame": entry},
                    provenance("tests"))
    write_manifest(bundle)
    return bundle


def cascade_bundle(path: Path) -> Bundle:
    """test_spatial's ``flatten`` (256 features) + test_temporal (T=8) as a cascade bundle."""
    from fer_edge.models import create_model, feature_extractor

    path.mkdir(parents=True)
    spatial = feature_extractor(create_model("test_spatial", num_classes=len(LABELS)), "flatten")
    temporal = create_model("test_temporal", timesteps=8, features=256, num_classes=len(LABELS))
    models = {"spatial": _save(spatial, path, "spatial"), "temporal": _save(temporal, path, "temporal")}
    bundle = Bundle(path, "tiny-cascade", "cascade", LABELS, RAW, WindowSpec(8, 2, 4), models, provenance("tests"))
    write_manifest(bundle)
    return bundle


def calibration_npz(path: Path, *, clips: int = 20, frames: int = 8, labels: bool = True, seed: int = 0) -> Path:
    """Smooth random 'faces': a colour blob per class so labels mean something."""
    rng = np.random.default_rng(seed)
    y = np.arange(clips) % len(LABELS)
    yy, xx = np.mgrid[0:32, 0:32]
    out = np.zeros((clips, frames, 32, 32, 3), np.uint8)
    for i in range(clips):
        for t in range(frames):
            cx, cy = rng.uniform(8, 24, 2)
            blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 60.0)
            img = 60 + 150 * blob[..., None] * np.eye(3)[y[i]] + rng.normal(0, 8, (32, 32, 3))
            out[i, t] = np.clip(img, 0, 255)
    data = {"clips": out}
    if labels:
        data["labels"] = y
    np.savez(path, **data)
    return path
