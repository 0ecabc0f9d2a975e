"""Soak: the runtime on a looping synthetic stream, faces entering and leaving, for 10,000 frames.

A pool of synthetic face tiles (:func:`fer_edge.data.synth.make_clip`) is rendered once; each
frame of the stream is a plain canvas with up to four tiles pasted into fixed slots, so the
soak measures the runtime, not the generator. Each slot shows a face for a random span, then
none; every ``quiet_every`` frames all slots go empty for ``quiet`` frames, and at the end of
each quiet span the live tracks and per-track buffers must be back to zero.

Checks (``make soak``), written to ``benchmarks/results/soak.json``:

* resident memory (VmRSS) grows < 2 MB from the end of warm-up to the end (the harness's own
  per-frame arrays are allocated and touched up front, so they do not count as growth);
* live tracks (``Pipeline.manager.tracks``) and buffers (``Pipeline.tracks``) are zero after
  every quiet span;
* FPS of the last 1,000 frames is within 20 % of the first 1,000 after warm-up;
* at least 50 track lifetimes and up to 4 faces at once.

Usage::

    python benchmarks/soak.py                    # 10,000 frames, tiny cascade bundle
    python benchmarks/soak.py --frames 3000 --bundle runs/fer
    python benchmarks/soak.py --frames 5000 --trace   # + tracemalloc and object-count diffs
    python benchmarks/soak.py --frames 20000 --async  # inference as the pipelined runtime runs it

``--async`` sends the models' calls through the pipelined runtime's shared batchers
(``start_async``/``wait`` on pooled requests, per-call jobs), so their memory is soaked too.

``--trace`` compares a tracemalloc snapshot and the live objects by type at the end of warm-up
with the end of the run and prints what grew (slow: use it to find a leak, not to time).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "soak.json"
SLOTS = ((40, 40), (360, 40), (40, 260), (360, 260))  # top-left corners on a 640x480 canvas
TILE = 200


def tiny_cascade(root: Path, *, size: int = 32, timesteps: int = 16, features: int = 8, seed: int = 0) -> Path:
    """A seeded, untrained cascade bundle built in code (no TensorFlow): the soak times the runtime,
    so the models only need to depend on their input (pooled colour -> features -> 3 classes)."""
    import openvino as ov
    import openvino.opset13 as ops

    from fer_edge.runtime.bundle import Bundle, FrameSpec, ModelEntry, WindowSpec, provenance, write_manifest

    rng = np.random.default_rng(seed)
    labels = ("happy", "sad", "surprise")

    def const(a):
        return ops.constant(np.asarray(a, dtype=np.float32))

    faces = ops.parameter([-1, size, size, 3], np.float32, name="faces")
    pooled = ops.reduce_mean(faces, ops.constant(np.array([1, 2], np.int64)), keep_dims=False)
    spatial = ops.relu(ops.matmul(pooled, const(rng.normal(size=(3, features))), False, False))
    feats = ops.parameter([-1, timesteps, features], np.float32, name="features")
    summed = ops.reduce_sum(feats, ops.constant(np.array([1], np.int64)), keep_dims=False)
    logits = ops.matmul(summed, const(rng.normal(size=(features, len(labels)))), False, False)
    root.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov.Model([spatial], [faces], "soak_spatial"), str(root / "spatial.xml"), compress_to_fp16=False)
    ov.save_model(
        ov.Model([ops.softmax(logits, -1)], [feats], "soak_temporal"),
        str(root / "temporal.xml"),
        compress_to_fp16=False,
    )
    write_manifest(
        Bundle(
            root,
            "soak-cascade",
            "cascade",
            labels,
            FrameSpec((size, size), "RGB", (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
            WindowSpec(timesteps, 4, 4),
            {
                "spatial": ModelEntry("spatial.xml", "FP32", output=features, input=[size, size, 3]),
                "temporal": ModelEntry("temporal.xml", "FP32", output=len(labels), input=[timesteps, features]),
            },
            provenance("benchmarks/soak.py"),
        )
    )
    return root


def rss_mb() -> float:
    """Resident memory of this process (VmRSS) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def render_pool(seed: int = 0, clips: int = 6, frames: int = 40) -> list[np.ndarray]:
    """Face tiles (T, TILE, TILE, 3) for several subjects and expressions, rendered once."""
    from fer_edge.data.synth import make_clip

    labels = ("happy", "sad", "surprise", "angry", "fear", "disgust")
    subjects = ("F001", "F002", "M001", "M002", "F003", "M003")
    return [
        make_clip(
            labels[i % 6], subject=subjects[i % 6], frames=frames, size=(TILE, TILE), seed=seed + i, face_scale=0.55
        ).frames
        for i in range(clips)
    ]


def schedule(frames: int, rng: np.random.Generator, *, quiet_every: int, quiet: int) -> np.ndarray:
    """(frames, slots) int: which pool clip a slot shows (-1 = empty)."""
    plan = np.full((frames, len(SLOTS)), -1, np.int32)
    for s in range(len(SLOTS)):
        t = int(rng.integers(0, 60))
        while t < frames:
            on = int(rng.integers(60, 160))
            plan[t : t + on, s] = int(rng.integers(0, 1 << 20))
            t += on + int(rng.integers(40, 100))
    for start in range(quiet_every - quiet, frames, quiet_every):
        plan[start : start + quiet] = -1
    return plan


def compose(canvas: np.ndarray, pool: list[np.ndarray], row: np.ndarray, index: int) -> np.ndarray:
    frame = canvas.copy()
    for (x, y), pick in zip(SLOTS, row):
        if pick >= 0:
            clip = pool[pick % len(pool)]
            frame[y : y + TILE, x : x + TILE] = clip[index % len(clip)]
    return frame


class _Tracer:
    """tracemalloc snapshot + live objects by type at the end of warm-up; :meth:`diff` at the end."""

    def start(self) -> None:
        import gc
        import tracemalloc
        from collections import Counter

        gc.collect()
        tracemalloc.start(8)
        self.snapshot = tracemalloc.take_snapshot()
        self.types = Counter(type(o).__name__ for o in gc.get_objects())

    def diff(self, top: int = 10) -> dict:
        import gc
        import tracemalloc
        from collections import Counter

        gc.collect()
        stats = tracemalloc.take_snapshot().compare_to(self.snapshot, "traceback")[:top]
        tracemalloc.stop()
        types = Counter(type(o).__name__ for o in gc.get_objects())
        types.subtract(self.types)
        grew = [
            {"kib": round(s.size_diff / 1024, 1), "blocks": s.count_diff, "where": s.traceback.format()[-2:]}
            for s in stats
            if s.size_diff > 0
        ]
        for g in grew:
            print(f"  +{g['kib']} KiB in {g['blocks']} blocks at {' | '.join(x.strip() for x in g['where'])}")
        objects = {k: v for k, v in types.most_common(top) if v > 0}
        print(f"  objects that grew: {objects}")
        return {"tracemalloc_top": grew, "objects_grown": objects}


def soak(
    frames: int = 10_000,
    *,
    bundle: str | None = None,
    warmup: int = 1000,
    window: int = 1000,
    seed: int = 0,
    quiet_every: int = 1000,
    quiet: int = 120,
    trace: bool = False,
    asynchronous: bool = False,
) -> dict:
    """Run the soak and return its figures (see the module docstring)."""
    from fer_edge.runtime import EngineConfig, Pipeline, PipelineConfig
    from fer_edge.runtime.bundle import load_bundle
    from fer_edge.runtime.events import EventWriter, face_event, note_event

    rng = np.random.default_rng(seed)
    tmp = Path(tempfile.mkdtemp(prefix="fer-edge-soak-"))
    if bundle is None:
        b = load_bundle(tiny_cascade(tmp / "bundle"))
    else:
        b = load_bundle(bundle)
    pool = render_pool(seed)
    # The stream loops with period `quiet_every`: the first and last windows show the same
    # faces, so their FPS compares the runtime with itself, not two different workloads.
    period = schedule(quiet_every, rng, quiet_every=quiet_every, quiet=quiet)
    plan = np.tile(period, (-(-frames // quiet_every), 1))[:frames]
    canvas = np.full((480, 640, 3), 128, np.uint8)
    pipe = Pipeline(b, PipelineConfig(max_faces=4), EngineConfig(precision="f32"))
    if asynchronous:
        from fer_edge.runtime.multi import share_models

        share_models([pipe])
    events = EventWriter(tmp / "events.jsonl")
    seen: set[int] = set()
    # np.full touches every page now: np.zeros pages would become resident while the run
    # writes them and read as growth (1.6 MB for 100,000 frames).
    times, cpu_times = np.full(frames, np.nan), np.full(frames, np.nan)
    rss, quiet_checks, most_faces = {}, [], 0
    tracer = _Tracer() if trace else None
    for i in range(frames):
        frame = compose(canvas, pool, plan[i], i)
        start, cpu = time.perf_counter(), time.process_time()
        faces = pipe.step(frame, i)
        for f in faces:
            events.write(face_event(i, i / 25, f.track, f.box, f.label, f.scores, f.window))
        if not faces:
            events.write(note_event(i, i / 25, "no face"))
        times[i] = time.perf_counter() - start
        cpu_times[i] = time.process_time() - cpu
        seen.update(f.track for f in faces)
        most_faces = max(most_faces, len(faces))
        if i + 1 == warmup:
            if tracer is not None:
                tracer.start()
            rss["after_warmup"] = rss_mb()
        if (i + 1) % quiet_every == 0 and (plan[i] < 0).all():
            quiet_checks.append({"frame": i, "live_tracks": len(pipe.manager.tracks), "buffers": len(pipe.tracks)})
        if (i + 1) % 1000 == 0:
            rss[f"frame_{i + 1}"] = rss_mb()
            print(
                f"frame {i + 1}: {len(seen)} tracks so far, rss {rss_mb():.1f} MB, "
                f"{window / times[max(0, i + 1 - window) : i + 1].sum():.0f} fps (last {window})",
                flush=True,
            )
    rss["end"] = rss_mb()
    events.close()
    first = window / times[warmup : warmup + window].sum()
    last = window / times[frames - window :].sum()
    growth = rss["end"] - rss["after_warmup"]
    result = {
        "frames": frames,
        "warmup": warmup,
        "inference": "async" if asynchronous else "sync",
        "bundle": str(b.path) if bundle else "tiny cascade (tiny_cascade)",
        "track_lifetimes": len(seen),
        "most_faces_at_once": most_faces,
        "slot_appearances": int(sum(((plan[1:, s] >= 0) & (plan[:-1, s] < 0)).sum() for s in range(len(SLOTS)))),
        "rss_mb": {k: round(v, 2) for k, v in rss.items()},
        "rss_growth_mb": round(growth, 2),
        "fps_first_window": round(first, 1),
        "fps_last_window": round(last, 1),
        "fps_change": round(last / first - 1, 3),
        # CPU seconds of all threads per frame: less sensitive to other processes on the box.
        "cpu_fps_first_window": round(window / cpu_times[warmup : warmup + window].sum(), 1),
        "cpu_fps_last_window": round(window / cpu_times[frames - window :].sum(), 1),
        "ms_median": round(float(np.median(times)) * 1000, 3),
        "quiet_checks": quiet_checks,
        "events": events.count,
    }
    if tracer is not None:
        result["trace"] = tracer.diff()
    result["checks"] = {
        "rss_growth_below_2mb": growth < 2,
        "tracks_and_buffers_return_to_zero": bool(quiet_checks)
        and all(q["live_tracks"] == 0 and q["buffers"] == 0 for q in quiet_checks),
        "fps_last_within_20pct_of_first": abs(last / first - 1) <= 0.2,
        "at_least_50_track_lifetimes": len(seen) >= 50,
        "up_to_4_faces": most_faces == 4,
    }
    result["checks"] = {k: bool(v) for k, v in result["checks"].items()}
    result["ok"] = all(result["checks"].values())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--bundle", help="bundle directory (default: a tiny cascade bundle built here)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--trace", action="store_true", help="print tracemalloc and object-count growth")
    parser.add_argument(
        "--async",
        dest="asynchronous",
        action="store_true",
        help="inference through the pipelined runtime's shared batchers",
    )
    args = parser.parse_args(argv)
    if args.frames < 3000:
        parser.error("--frames must be >= 3000 (1,000 warm-up + two 1,000-frame windows)")
    result = soak(args.frames, bundle=args.bundle, seed=args.seed, trace=args.trace, asynchronous=args.asynchronous)
    from fer_edge.core.atomic import write_json

    out = write_json(args.out, result)
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "track_lifetimes",
                    "most_faces_at_once",
                    "rss_growth_mb",
                    "fps_first_window",
                    "fps_last_window",
                    "checks",
                )
            },
            indent=1,
        )
    )
    print(f"soak {'OK' if result['ok'] else 'FAILED'}; figures in {out}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
