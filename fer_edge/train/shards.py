"""Feature extraction as Ray tasks: one task per (part, augmentation copy, shard of clips).

Same stores, same names and attributes as :func:`fer_edge.train.features.extract_features`
(which stays the ``local`` path). Here:

* the extractor is saved once into ``<out>/.extractor/<id>.keras`` (every node loads it from
  the shared run folder; each worker process loads and compiles it once);
* each task writes ``<out>/.shards/<store>/shard-<k>-of-<n>.h5`` with the store writer
  (``.partial`` while written, renamed when complete; a retried task resumes it);
* once every task returned, each store is merged from its shards into ``<store>.partial`` and
  renamed; a shard whose clips are not all there is never merged (the run stops with an error
  and a rerun redoes that shard). The shards are removed after the merge.
"""

from __future__ import annotations

import functools
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_edge.cluster.executor import executor_for, threads
from fer_edge.core.errors import FerEdgeError
from fer_edge.train.features import ExtractOptions, ExtractReport

MAX_SHARD = 64
_RUNNERS: dict[tuple, Any] = {}  # per worker process: (extractor id, backend, threads) -> runner


@dataclass(frozen=True)
class Shard:
    """One task: some clips of a part, originals or their offline copies."""

    store: str  # the final store's file name
    path: str  # this shard's file
    part: str
    records: tuple[dict, ...]
    augment: tuple[str, ...]

    def names(self) -> list[str]:
        if self.augment:
            return [f"{r['name']}@{a}" for r in self.records for a in self.augment]
        return [r["name"] for r in self.records]


def _runner(model_path: str, backend: str):
    key = (Path(model_path).name, backend, threads())  # the name is the weights' digest
    if key not in _RUNNERS:
        from fer_edge.models import load_keras_model
        from fer_edge.train.features import make_runner

        _RUNNERS.clear()  # one extractor per worker at a time: bounded memory
        model = load_keras_model(model_path)
        _RUNNERS[key] = (make_runner(model, backend, threads=threads()), int(model.inputs[0].shape[1]))
    return _RUNNERS[key]


def _extract_shard(shard: Shard, *, data, model_path: str, feat: int, attrs: dict, o: ExtractOptions) -> dict:
    """Write one shard (or reuse it); returns its counts."""
    from fer_edge.data.store import StoreWriter
    from fer_edge.train.features import _batched, _clip_items, _store_complete, store_attrs

    path = Path(shard.path)
    names = shard.names()
    shard_attrs = store_attrs(attrs, shard.part, shard.augment)
    if _store_complete(path, shard_attrs, names):
        return {"clips": 0, "frames": 0, "skipped": len(names)}
    run, size = _runner(model_path, o.backend)
    clips = frames = 0
    with StoreWriter(
        path, features=feat, classes=data.labels, length=o.length, dtype=o.dtype, attrs=shard_attrs
    ) as writer:
        done = writer.done
        skipped = len(done)
        items = _clip_items(data, shard.records, shard.augment, done, size=size, o=o)
        for name, label, features in _batched(items, run, o.batch_size):
            writer.append(name, features, label)
            clips += 1
            frames += len(features)
    return {"clips": clips, "frames": frames, "skipped": skipped}


def _merge(final: Path, shards: list[Shard], *, feat: int, classes, attrs: dict, length: int, dtype: str) -> None:
    """Shards -> the part's store, atomically; refuses a shard that lacks clips."""
    from fer_edge.data.store import StoreWriter, read_store
    from fer_edge.train.features import _store_complete

    for shard in shards:
        if not _store_complete(Path(shard.path), attrs, shard.names()):  # a shard has its store's part and copies
            raise FerEdgeError(f"shard {shard.path} is incomplete; rerun the same command to redo it")
    with StoreWriter(final, features=feat, classes=classes, length=length, dtype=dtype, attrs=attrs) as writer:
        done = writer.done
        for shard in shards:
            store = read_store(shard.path)
            for i, name in enumerate(store.names):
                if name in done:
                    continue
                x, m, y = store[i]
                writer.append(name, x[: int(m.sum())], y)
            store.close()


def shard_size(clips: int, cpus: float) -> int:
    """Clips per shard: ~2 shards per CPU of the cluster, at most 64.

    Example:
        >>> shard_size(120, 2), shard_size(3, 8)
        (30, 1)
    """
    return max(1, min(MAX_SHARD, math.ceil(clips / max(1.0, 2 * cpus))))


def extract_sharded(
    data, extractor: Any, out: str | Path, *, executor: str, shard_clips: int | None = None, **options: Any
) -> ExtractReport:
    """:func:`fer_edge.train.features.extract_features` with shards as the executor's tasks.

    ``options`` are the fields of :class:`~fer_edge.train.features.ExtractOptions`;
    ``shard_clips`` fixes the clips per shard (default :func:`shard_size`).

    Example:
        >>> extract_sharded(data, extractor, "runs/x/features", executor="ray")  # doctest: +SKIP
    """
    from fer_edge.train.features import _store_complete, extractor_id, store_attrs, store_name
    from fer_edge.train.kerasutil import save_atomic

    o = ExtractOptions(**options)
    out = Path(out).resolve()
    ex = executor_for(executor)
    feat = int(extractor.outputs[0].shape[-1])
    ident = extractor_id(extractor)
    report = ExtractReport(feature_size=feat)
    cpus = ex.ray.cluster_resources().get("CPU", 1.0) / ex.spec.cpus if ex.distributed else 1.0
    stores: dict[Path, tuple[dict, list[Shard]]] = {}
    base = {"extractor": ident, "layer": o.layer, "trimmed": int(o.trimmed)}
    for part in o.part_names(data):
        records = data.part(part)
        if not records:
            continue
        for aug in ((), tuple(o.augment)) if o.augment and part != "test" else ((),):
            path = out / store_name(part, feat, augmented=bool(aug))
            report.stores[part + ("-aug" if aug else "")] = str(path)
            attrs = store_attrs(base, part, aug)
            names = Shard(path.name, "", part, tuple(records), aug).names()
            if _store_complete(path, attrs, names):
                report.skipped += len(names)
                continue
            size = shard_clips or shard_size(len(records), cpus)
            n = math.ceil(len(records) / size)
            folder = out / ".shards" / path.stem
            stores[path] = (
                attrs,
                [
                    Shard(
                        path.name,
                        str(folder / f"shard-{k:04d}-of-{n:04d}.h5"),
                        part,
                        tuple(records[k * size : (k + 1) * size]),
                        aug,
                    )
                    for k in range(n)
                ],
            )
    if not stores:
        return report
    model_path = out / ".extractor" / f"{ident}.keras"
    if not model_path.is_file():
        save_atomic(extractor, model_path)
    start = time.perf_counter()
    job = functools.partial(_extract_shard, data=data, model_path=str(model_path), feat=feat, attrs=base, o=o)
    shards = [s for _, group in stores.values() for s in group]
    for counts in ex.map(job, shards, desc="extract", workdir=out, uses_tf=o.backend == "keras"):
        report.clips += counts["clips"]
        report.frames += counts["frames"]
        report.skipped += counts["skipped"]
    for path, (attrs, group) in stores.items():
        _merge(path, group, feat=feat, classes=data.labels, attrs=attrs, length=o.length, dtype=o.dtype)
        shutil.rmtree(out / ".shards" / path.stem, ignore_errors=True)
    shutil.rmtree(out / ".extractor", ignore_errors=True)  # ours; a rerun saves it again if needed
    try:
        (out / ".shards").rmdir()
    except OSError:  # other stores' shards (a --part run) are still there
        pass
    report.seconds = time.perf_counter() - start
    return report
