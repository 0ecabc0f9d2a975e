"""The tests' tiny bundles.

``frame_bundle`` / ``cascade_bundle``: OpenVINO models built in code (no TensorFlow), for the
runtime tests. ``keras_frame_bundle`` / ``keras_cascade_bundle``: registered test models saved as
``.keras`` + IR FP32 (TensorFlow), for the optimize tests, with ``calibration_npz`` data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from fer_edge.runtime.bundle import Bundle, FrameSpec, ModelEntry, WindowSpec, provenance, write_manifest


def _const(a) -> ov.Node:
    return ops.constant(np.asarray(a, dtype=np.float32))


def frame_model(size: int = 32, channels: int = 3, classes: int = 3, seed: int = 0) -> ov.Model:
    """(N, size, size, C) -> softmax over ``classes`` from the mean colour: tiny but input-dependent."""
    rng = np.random.default_rng(seed)
    x = ops.parameter([-1, size, size, channels], np.float32, name="faces")
    pooled = ops.reduce_mean(x, ops.constant(np.array([1, 2], np.int64)), keep_dims=False)
    logits = ops.add(
        ops.matmul(pooled, _const(rng.normal(size=(channels, classes)) * 4), False, False),
        _const(rng.normal(size=classes)),
    )
    return ov.Model([ops.softmax(logits, -1)], [x], "tiny_frame")


def spatial_model(size: int = 32, features: int = 8, seed: int = 1) -> ov.Model:
    rng = np.random.default_rng(seed)
    x = ops.parameter([-1, size, size, 3], np.float32, name="faces")
    pooled = ops.reduce_mean(x, ops.constant(np.array([1, 2], np.int64)), keep_dims=False)
    feats = ops.relu(ops.matmul(pooled, _const(rng.normal(size=(3, features))), False, False))
    return ov.Model([feats], [x], "tiny_spatial")


def temporal_model(timesteps: int = 8, features: int = 8, classes: int = 3, seed: int = 2) -> ov.Model:
    rng = np.random.default_rng(seed)
    x = ops.parameter([-1, timesteps, features], np.float32, name="features")
    pooled = ops.reduce_sum(x, ops.constant(np.array([1], np.int64)), keep_dims=False)
    logits = ops.matmul(pooled, _const(rng.normal(size=(features, classes))), False, False)
    return ov.Model([ops.softmax(logits, -1)], [x], "tiny_temporal")


def save(model: ov.Model, path: Path) -> str:
    ov.save_model(model, str(path), compress_to_fp16=False)
    return path.name


def frame_bundle(root: Path, labels=("happy", "sad", "surprise"), size: int = 32, window: int = 3) -> Bundle:
    root.mkdir(parents=True, exist_ok=True)
    save(frame_model(size, classes=len(labels)), root / "frame.xml")
    ov.save_model(frame_model(size, classes=len(labels)), str(root / "frame-fp16.xml"), compress_to_fp16=True)
    bundle = Bundle(
        root,
        "tiny-frame",
        "frame",
        tuple(labels),
        FrameSpec((size, size), "RGB", (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
        WindowSpec(window, 1, 1),
        {
            "frame": ModelEntry(
                "frame.xml", "FP32", output=len(labels), input=[size, size, 3], variants={"FP16": "frame-fp16.xml"}
            )
        },
        provenance("tests"),
    )
    write_manifest(bundle)
    return bundle


def cascade_bundle(
    root: Path,
    labels=("happy", "sad", "surprise"),
    size: int = 32,
    timesteps: int = 8,
    stride: int = 2,
    min_frames: int = 3,
) -> Bundle:
    root.mkdir(parents=True, exist_ok=True)
    save(spatial_model(size), root / "spatial.xml")
    save(temporal_model(timesteps, classes=len(labels)), root / "temporal.xml")
    bundle = Bundle(
        root,
        "tiny-cascade",
        "cascade",
        tuple(labels),
        FrameSpec((size, size), "RGB", (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
        WindowSpec(timesteps, stride, min_frames),
        {
            "spatial": ModelEntry("spatial.xml", "FP32", output=8, input=[size, size, 3]),
            "temporal": ModelEntry("temporal.xml", "FP32", output=len(labels), input=[timesteps, 8]),
        },
        provenance("tests"),
    )
    write_manifest(bundle)
    return bundle


# --- Keras-backed bundles (import TensorFlow when called) ---

LABELS = ("happy", "sad", "surprise")
RAW = FrameSpec((32, 32), "RGB", (0.0, 0.0, 0.0), (1 / 255,) * 3, 10)


def _save_keras(model, folder: Path, role: str) -> ModelEntry:
    from fer_edge.convert.keras import to_openvino
    from fer_edge.runtime.ovcompat import save_ir

    model.save(folder / f"{role}.keras")
    save_ir(to_openvino(model), folder / f"{role}.xml")
    return ModelEntry(
        f"{role}.xml",
        "FP32",
        output=int(model.outputs[0].shape[-1]),
        input=[int(d) for d in model.inputs[0].shape[1:]],
        keras=f"{role}.keras",
    )


def keras_frame_bundle(path: Path, seed: int = 0) -> Bundle:
    """test_frame (32x32 RGB 0..255 -> 3 classes) as a frame bundle with its ``.keras`` model (needs TensorFlow)."""
    from fer_edge.models import create_model

    path.mkdir(parents=True)
    model = create_model("test_frame", num_classes=len(LABELS), seed=seed)
    entry = _save_keras(model, path, "frame")
    bundle = Bundle(
        path, "tiny-frame", "frame", LABELS, RAW, WindowSpec(3, 1, 1), {"frame": entry}, provenance("tests")
    )
    write_manifest(bundle)
    return bundle


def keras_cascade_bundle(path: Path) -> Bundle:
    """test_spatial's ``flatten`` (256 features) + test_temporal (T=8) as a cascade bundle with ``.keras`` models."""
    from fer_edge.models import create_model, feature_extractor

    path.mkdir(parents=True)
    spatial = feature_extractor(create_model("test_spatial", num_classes=len(LABELS)), "flatten")
    temporal = create_model("test_temporal", timesteps=8, features=256, num_classes=len(LABELS))
    models = {"spatial": _save_keras(spatial, path, "spatial"), "temporal": _save_keras(temporal, path, "temporal")}
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
