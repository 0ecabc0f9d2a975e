"""Feature extraction into the HDF5 store: every frame passes the CNN once per augmentation.

Files in ``<out>`` (thesis naming, one per fold and extractor)::

    fold-<i>-features-<F>.h5        original clips of fold i
    fold-<i>-aug-features-<F>.h5    the offline copies (flip, blur, ...) of fold i's clips
    test-features-<F>.h5            original test clips (never augmented)

Frames of consecutive clips are packed into full batches (short clips don't waste a batch),
run through the extractor (OpenVINO FP32 by default: several times faster than Keras on a
CPU, parity ~1e-6) and written clip by clip. A killed run resumes: the store writer keeps
what was written and clips already there are skipped; a complete store with the same
extractor, layer, label set and clips is not touched again.

Each store records ``extractor`` (model name + a digest of its weights) and ``layer``, so a
training run refuses features from another extractor or label set (:func:`check_store`).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.errors import FerEdgeError

log = logging.getLogger(__name__)


@dataclass
class ExtractReport:
    """What an extraction did: files per part, counts, speed."""

    stores: dict[str, str] = field(default_factory=dict)
    feature_size: int = 0
    clips: int = 0
    frames: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        """Frames through the CNN per second (augmented copies included)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        return (
            f"extract: {self.clips} clips ({self.frames} frames) in {self.seconds:.1f} s, "
            f"{self.fps:.0f} frames/s, {self.skipped} already done; F = {self.feature_size}"
        )


def extractor_id(model: Any) -> str:
    """``<model name>-<digest of the weights>``: identifies an extractor across re-saves.

    Example:
        >>> extractor_id(create_model("test_spatial"))  # doctest: +SKIP
        'test_spatial_flatten-3f2a9c1d0b7e'
    """
    digest = hashlib.sha1()
    for w in model.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return f"{model.name}-{digest.hexdigest()[:12]}"


def store_name(part: str, features: int, *, augmented: bool = False) -> str:
    """File name of a part's store (``fold-2`` -> ``fold-2-features-256.h5``).

    Example:
        >>> store_name("fold-1", 256, augmented=True)
        'fold-1-aug-features-256.h5'
    """
    return f"{part}{'-aug' if augmented else ''}-features-{features}.h5"


def make_runner(
    extractor: Any, backend: str = "openvino", *, threads: int | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """A function ``frames (N, H, W, 3) float32 -> features (N, F)`` on the chosen backend.

    ``threads`` caps OpenVINO's inference threads (a cluster task's CPUs); None: all cores.
    """
    if backend == "keras":

        def run_keras(x: np.ndarray) -> np.ndarray:
            return np.asarray(extractor(x, training=False))

        return run_keras
    from fer_edge.convert.keras import to_openvino
    from fer_edge.runtime.engine import compile_f32

    compiled = compile_f32(to_openvino(extractor), threads=threads)
    request = compiled.create_infer_request()

    def run_ov(x: np.ndarray) -> np.ndarray:
        return np.array(request.infer([np.ascontiguousarray(x, np.float32)])[0])

    return run_ov


# Bumped when an offline transform changes what it makes (2: salt and pepper per frame and
# channel, seeded per clip; black rotation corners), so older stores are extracted again.
AUGMENT_FORMAT = 2


def _variants(clip: np.ndarray, augment: Sequence[str], seed: int, name: str) -> Iterator[tuple[str, np.ndarray]]:
    from fer_edge.data.augment import apply_offline, augment_seed

    for transform in augment:
        yield transform, apply_offline(clip, transform, seed=augment_seed(seed, name))


def store_attrs(base: dict, part: str, augment: Sequence[str]) -> dict:
    """A store's (and its shards') attributes: ``base`` (extractor, layer, trimmed) + the part and copies."""
    attrs = {**base, "augmentation": ",".join(augment) or "none", "part": part}
    if augment:
        attrs["augment_format"] = AUGMENT_FORMAT
    return attrs


def _clip_items(data, records, augment: Sequence[str], done, *, size: int, o: ExtractOptions):
    """``(name, label, frames)`` of the records' clips (or their copies) not yet in ``done``."""
    for r in records:
        wanted = [f"{r['name']}@{a}" for a in augment] if augment else [r["name"]]
        if all(n in done for n in wanted):
            continue
        clip = data.load(r, size=size, trimmed=o.trimmed)[: o.length]
        label = data.label_index(r)
        if not augment:
            yield r["name"], label, clip
        for a, copy in _variants(clip, augment, o.seed, r["name"]):  # seeded per clip
            if f"{r['name']}@{a}" not in done:
                yield f"{r['name']}@{a}", label, copy


def _batched(items: Iterator[tuple[str, int, np.ndarray]], run, batch_size: int):
    """Pack frames of consecutive clips into full batches; yield ``(name, label, features)``."""
    pending: list[tuple[str, int, np.ndarray]] = []
    frames = 0

    def flush():
        x = np.concatenate([c for _, _, c in pending]).astype(np.float32)
        feats = np.concatenate([run(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
        at = 0
        for name, label, clip in pending:
            yield name, label, feats[at : at + len(clip)]
            at += len(clip)

    for item in items:
        pending.append(item)
        frames += len(item[2])
        if frames >= batch_size:
            yield from flush()
            pending, frames = [], 0
    if pending:
        yield from flush()


def _store_complete(path: Path, attrs: dict, names: list[str]) -> bool:
    from fer_edge.data.store import read_store

    if not path.is_file():
        return False
    try:
        store = read_store(path)
        same = all(str(store.attrs.get(k)) == str(v) for k, v in attrs.items())
        done = same and sorted(store.names) == sorted(names)
        store.close()
        return done
    except FerEdgeError:
        return False


@dataclass(frozen=True)
class ExtractOptions:
    """How features are extracted; the keyword options of :func:`extract_features` and
    :func:`fer_edge.train.shards.extract_sharded`.

    Attributes:
        parts: ``test`` and ``fold-<i>`` names; default all folds and the test set.
        augment: offline transforms applied to fold clips (not to the test set).
        layer: recorded in the store (what the extractor was cut at).
        batch_size: frames per forward pass.
        backend: ``openvino`` or ``keras``.
        dtype: store precision.
        length: T, frames per clip (longer clips are truncated before extraction).
        trimmed: use Algorithm 1's span of each clip.
        seed: run seed of the random transforms (salt and pepper: one seed per clip from it).
        progress: a bar over clips (log lines off a terminal).
    """

    parts: Sequence[str] | None = None
    augment: Sequence[str] = ()
    layer: str = "flatten"
    batch_size: int = 64
    backend: str = "openvino"
    dtype: str = "float16"
    length: int = 100
    trimmed: bool = True
    seed: int = 0
    progress: bool = False

    def part_names(self, data) -> list[str]:
        """The parts to extract: the given ones, or every fold and the test set."""
        return list(self.parts) if self.parts is not None else [f"fold-{i}" for i in range(data.num_folds)] + ["test"]


def extract_features(data, extractor: Any, out: str | Path, **options: Any) -> ExtractReport:
    """Extract features of every part's clips (and the training folds' offline copies).

    Args:
        data: a :class:`fer_edge.data.clipset.ClipSet`.
        extractor: Keras model frames ``(N, H, W, 3)`` RGB 0..255 -> ``(N, F)``.
        out: folder of the stores.
        **options: the fields of :class:`ExtractOptions` (parts, augment, layer, batch_size, ...).

    Example:
        >>> report = extract_features(data, feature_extractor(model, "flatten"), "runs/x/features",
        ...                           augment=["flip"])  # doctest: +SKIP
        >>> report.stores["test"]  # doctest: +SKIP
        'runs/x/features/test-features-256.h5'
    """
    from fer_edge.data.store import StoreWriter

    o = ExtractOptions(**options)
    out = Path(out)
    size = int(extractor.inputs[0].shape[1])
    feat = int(extractor.outputs[0].shape[-1])
    base = {"extractor": extractor_id(extractor), "layer": o.layer, "trimmed": int(o.trimmed)}
    report = ExtractReport(feature_size=feat)
    run = make_runner(extractor, o.backend)
    jobs = []
    for part in o.part_names(data):
        records = data.part(part)
        if not records:
            continue
        jobs.append((part, records, ()))
        if o.augment and part != "test":
            jobs.append((part, records, tuple(o.augment)))
    total = sum(len(r) * max(1, len(a)) for _, r, a in jobs)
    bar = None
    if o.progress:
        from fer_edge.core.progress import progress

        bar = progress(total=total, desc="extract", unit="clip")
    start = time.perf_counter()
    try:
        for part, records, aug in jobs:
            path = out / store_name(part, feat, augmented=bool(aug))
            report.stores[part + ("-aug" if aug else "")] = str(path)
            attrs = store_attrs(base, part, aug)
            names = [f"{r['name']}@{a}" for r in records for a in aug] if aug else [r["name"] for r in records]
            if _store_complete(path, attrs, names):
                report.skipped += len(names)
                if bar:
                    bar.update(len(names))
                continue
            with StoreWriter(
                path, features=feat, classes=data.labels, length=o.length, dtype=o.dtype, attrs=attrs
            ) as writer:
                done = writer.done
                report.skipped += len(done)
                if bar:
                    bar.update(len(done))
                items = _clip_items(data, records, aug, done, size=size, o=o)
                for name, label, features in _batched(items, run, o.batch_size):
                    writer.append(name, features, label)
                    report.clips += 1
                    report.frames += len(features)
                    if bar:
                        bar.update(1)
    finally:
        if bar:
            bar.close()
    report.seconds = time.perf_counter() - start
    return report


def check_store(store: Any, *, extractor: str | None, layer: str | None, labels: Sequence[str]) -> None:
    """Refuse a store made by another extractor, layer or label set (one line, with the fix)."""
    if list(store.classes) != list(labels):
        raise FerEdgeError(
            f"{store.path} has labels {store.classes}, the recipe {list(labels)}; "
            "extract again with this recipe's label set"
        )
    got = store.attrs.get("extractor")
    if extractor is not None and got != extractor:
        raise FerEdgeError(
            f"{store.path} was extracted with '{got}', not the recipe's extractor '{extractor}'; "
            "run fer-edge extract again (or point features at the right folder)"
        )
    if layer is not None and store.attrs.get("layer") != layer:
        raise FerEdgeError(
            f"{store.path} holds layer '{store.attrs.get('layer')}' features, the recipe wants "
            f"'{layer}'; run fer-edge extract again"
        )
