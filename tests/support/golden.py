"""Outputs of fer-edge saved before a refactor, and the code that measures them again.

``tests/runtime/test_golden.py`` recomputes these outputs and compares them with
``tests/data/golden/*.json``; a change in behaviour (events of the demo on the sample video,
the runtime's buffering of each bundle kind, the offline scores of a clip, the calibration
items and metrics of ``fer-edge optimize``) fails it. After an intended change, write them again
(and say why in the commit)::

    PYTHONPATH=$PWD python -m tests.support.golden

Everything here is numpy + OpenCV + OpenVINO (+ NNCF for the optimize part): no TensorFlow.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
DEMO_FRAMES = 90
LABELS = ("happy", "sad", "surprise")


def _r(x, nd: int = 5):
    """Rounded floats (nested lists) for a small, readable JSON file."""
    return np.round(np.asarray(x, np.float64), nd).tolist()


def _events(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        e = json.loads(line)
        if "track" in e:
            out.append({k: e.get(k) for k in ("frame", "track", "box", "label", "scores", "window")})
    return out


def demo_events(tmp: Path) -> list[dict]:
    """``fer-edge demo`` (default bundle and sample video, f32 inference): the face events."""
    from fer_edge.cli import main

    rc = main(
        [
            "demo",
            "--infer-precision",
            "f32",
            "--max-frames",
            str(DEMO_FRAMES),
            "--out",
            str(tmp / "demo"),
            "--no-show",
            "-q",
        ]
    )
    assert rc == 0
    return _events(tmp / "demo" / "events.jsonl")


def clip_model(timesteps: int = 8, size: int = 32, classes: int = 3, seed: int = 3):
    """(N, T, size, size, 3) -> softmax of a mean-colour-per-step projection: a tiny clip model."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(seed)
    x = ops.parameter([-1, timesteps, size, size, 3], np.float32, name="clip")
    pooled = ops.reduce_mean(x, ops.constant(np.array([2, 3], np.int64)), keep_dims=False)  # N, T, 3
    steps = ops.constant(rng.normal(size=(timesteps, 3)).astype(np.float32))
    weighted = ops.reduce_sum(ops.multiply(pooled, steps), ops.constant(np.array([1], np.int64)), keep_dims=False)
    logits = ops.matmul(weighted, ops.constant(rng.normal(size=(3, classes)).astype(np.float32) * 4), False, False)
    return ov.Model([ops.softmax(logits, -1)], [x], "tiny_clip")


def masked_temporal_model(timesteps: int = 8, features: int = 8, classes: int = 3, seed: int = 2):
    """(features (N, T, F), mask (N, T)) -> softmax of the masked sum over time."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(seed)
    x = ops.parameter([-1, timesteps, features], np.float32, name="features")
    m = ops.parameter([-1, timesteps], np.float32, name="mask")
    kept = ops.multiply(x, ops.unsqueeze(m, ops.constant(np.array([2], np.int64))))
    pooled = ops.reduce_sum(kept, ops.constant(np.array([1], np.int64)), keep_dims=False)
    logits = ops.matmul(pooled, ops.constant(rng.normal(size=(features, classes)).astype(np.float32)), False, False)
    return ov.Model([ops.softmax(logits, -1)], [x, m], "tiny_masked_temporal")


def bundles(root: Path) -> dict:
    """Tiny OpenVINO frame, cascade and clip bundles (mean 0.5, std 0.25 normalisation)."""
    from fer_edge.runtime.bundle import Bundle, FrameSpec, ModelEntry, WindowSpec, provenance, write_manifest
    from tests.support.ovmodels import cascade_bundle, frame_bundle, save

    out = {"frame": frame_bundle(root / "frame"), "cascade": cascade_bundle(root / "cascade")}
    save(masked_temporal_model(), root / "cascade" / "temporal.xml")  # the offline paths feed a mask
    path = root / "clip"
    path.mkdir(parents=True)
    save(clip_model(), path / "clip.xml")
    clip = Bundle(
        path,
        "tiny-clip",
        "clip",
        LABELS,
        FrameSpec((32, 32), "RGB", (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
        WindowSpec(8, 2, 3),
        {"clip": ModelEntry("clip.xml", "FP32", output=3, input=[8, 32, 32, 3])},
        provenance("tests"),
    )
    write_manifest(clip)
    out["clip"] = clip
    return out


def runtime_events(tmp: Path, bundle) -> list[dict]:
    """The runtime (sequential loop, Haar, f32) on a synthetic face video with a gap."""
    from fer_edge.data.synth import make_clip
    from fer_edge.runtime import EngineConfig, run_video
    from fer_edge.runtime.bundle import load_bundle
    from fer_edge.runtime.video import open_writer

    video = tmp / "clip.avi"
    if not video.exists():
        clip = make_clip("happy", subject="F001", frames=40, size=(320, 240), seed=3, gaps=[(15, 24)])
        with open_writer(video, 25.0, (320, 240)) as writer:
            for f in clip.frames:
                writer.write(f)
    events = tmp / f"{bundle.kind}.jsonl"
    run_video(
        str(video),
        load_bundle(bundle.path),
        engine=EngineConfig(precision="f32"),
        events=events,
        progress=False,
        threads=1,
    )
    return _events(events)


class ClipData:
    """A labelled clip set with the interface of :class:`ClipSet` (RGB uint8 clips of varying length)."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.labels = LABELS
        self.root = Path("golden-clips")
        self.records = []
        self._clips = {}
        for i, t in enumerate((3, 5, 8, 11, 14, 6)):
            name = f"c{i}"
            self.records.append({"name": name, "emotion": LABELS[i % 3]})
            self._clips[name] = rng.integers(0, 256, (t, 32, 32, 3), dtype=np.uint8)

    def part(self, part: str) -> list[dict]:
        return list(self.records)

    def load(self, record: dict, *, size: int | None = None, trimmed: bool = True) -> np.ndarray:
        return self._clips[record["name"]]

    def label_index(self, record: dict) -> int:
        return self.labels.index(record["emotion"])


def offline_scores(bundle) -> list:
    """Per-clip scores as ``fer-edge evaluate`` computes them (the bundle's IR, f32)."""
    from fer_edge.runtime.bundle import load_bundle
    from fer_edge.train.predict import predict_bundle

    pred = predict_bundle(load_bundle(bundle.path), ClipData(), "test", batch_size=4)
    return _r(pred.scores)


def _item_summary(items) -> dict:
    arrays = [[np.asarray(a, np.float64) for a in item] for item in items]
    return {
        "count": len(arrays),
        "shapes": sorted({json.dumps([list(a.shape) for a in item]) for item in arrays}),
        "sums": _r([[float(a.sum()) for a in item] for item in arrays[:12]], 3),
        "total": round(float(sum(a.sum() for item in arrays for a in item)), 2),
    }


def optimize_outputs(tmp: Path, bundle, *, max_drop: float | None = None) -> dict:
    """``fer-edge optimize --precision int8`` on an .npz: calibration items per role and the metrics."""
    from fer_edge.optimize import quantize as q
    from fer_edge.optimize.stage import optimize_bundle
    from tests.support.ovmodels import calibration_npz

    npz = tmp / "calib.npz"
    if not npz.exists():
        calibration_npz(npz, clips=24, frames=10)
    seen = {}
    real = q.quantize_model

    def spy(model, items, *, role="model", **kw):
        seen[role] = _item_summary(items)
        return real(model, items, role=role, **kw)

    q.quantize_model = spy
    try:
        report = optimize_bundle(
            bundle.path,
            precision="int8",
            calibration=str(npz),
            subset_size=60,
            iterations=3,
            max_drop=max_drop,
            out=str(tmp / f"{bundle.kind}_int8"),
        )
    finally:
        q.quantize_model = real
    rows = [
        {"variant": r.variant, "precision": r.precision, "accuracy": r.accuracy, "drop": r.drop} for r in report.rows
    ]
    return {
        "calibration_items": seen,
        "calibration_samples": report.calibration_samples,
        "metric": report.metric,
        "validation_items": report.validation_items,
        "accuracy_control": {k: v for k, v in report.accuracy_control.items()},
        "rows": rows,
    }


def compute(tmp: Path, parts: tuple[str, ...] = ("demo", "runtime", "offline", "optimize")) -> dict:
    """Every golden output, keyed by file name."""
    out = {}
    if "demo" in parts:
        out["demo"] = demo_events(tmp)
    b = bundles(tmp / "bundles")
    if "runtime" in parts:
        out["runtime"] = {kind: runtime_events(tmp, b[kind]) for kind in ("frame", "cascade", "clip")}
    if "offline" in parts:
        out["offline"] = {kind: offline_scores(b[kind]) for kind in ("frame", "cascade", "clip")}
    if "optimize" in parts:
        out["optimize"] = {
            "frame": optimize_outputs(tmp, b["frame"]),
            "cascade": optimize_outputs(tmp, b["cascade"], max_drop=0.5),
            "clip": optimize_outputs(tmp, b["clip"]),
        }
    return out


def main() -> int:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fer-edge-golden-") as tmp:
        for name, value in compute(Path(tmp)).items():
            (GOLDEN / f"{name}.json").write_text(json.dumps(value, indent=1, sort_keys=True) + "\n")
            print(f"wrote {GOLDEN / name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
