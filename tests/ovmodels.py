"""Tiny OpenVINO models and bundles built in code (no TensorFlow), for runtime tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from fer_edge.bundle import Bundle, FrameSpec, ModelEntry, WindowSpec, provenance, write_manifest


def _const(a) -> ov.Node:
    return ops.constant(np.asarray(a, dtype=np.float32))


def frame_model(size: int = 32, channels: int = 3, classes: int = 3, seed: int = 0) -> ov.Model:
    """(N, size, size, C) -> softmax over ``classes`` from the mean colour: tiny but input-dependent."""
    rng = np.random.default_rng(seed)
    x = ops.parameter([-1, size, size, channels], np.float32, name="faces")
    pooled = ops.reduce_mean(x, ops.constant(np.array([1, 2], np.int64)), keep_dims=False)
    logits = ops.add(ops.matmul(pooled, _const(rng.normal(size=(channels, classes)) * 4), False, False),
                     _const(rng.normal(size=classes)))
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
    bundle = Bundle(root, "tiny-frame", "frame", tuple(labels),
                    FrameSpec((size, size), "RGB", (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
                    WindowSpec(window, 1, 1),
                    {"frame": ModelEntry("frame.xml", "FP32", output=len(labels), input=[size, size, 3],
                                         variants={"FP16": "frame-fp16.xml"})},
                    provenance("tests"))
    write_manifest(bundle)
    return bundle


def cascade_bundle(root: Path, labels=("happy", "sad", "surprise"), size: int = 32, timesteps: int = 8,
                   stride: int = 2, min_frames: int = 3) -> Bundle:
    root.mkdir(parents=True, exist_ok=True)
    save(spatial_model(size), root / "spatial.xml")
    save(temporal_model(timesteps, classes=len(labels)), root / "temporal.xml")
    bundle = Bundle(root, "tiny-cascade", "cascade", tuple(labels),
                    FrameSpec((size, size), "RGB", (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
                    WindowSpec(timesteps, stride, min_frames),
                    {"spatial": ModelEntry("spatial.xml", "FP32", output=8, input=[size, size, 3]),
                     "temporal": ModelEntry("temporal.xml", "FP32", output=len(labels), input=[timesteps, 8])},
                    provenance("tests"))
    write_manifest(bundle)
    return bundle
