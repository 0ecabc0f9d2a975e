"""``benchmark --executor ray=HEAD --nodes ...``: one benchmark per Ray node, merged into one report.

Each chosen node gets one task pinned to it (node affinity, not soft). The bundles travel
packed (``bundle pack``'s checksummed archive) in Ray's object store and are unpacked on the
node, where :func:`~fer_edge.runtime.archive.unpack_bundle` checks every file against its
``SHA256SUMS`` before anything runs; a video given as ``--source`` travels the same way. A
device other than the CPU runs only on nodes announcing its custom resource
(:mod:`fer_edge.cluster.nodes`), and the task holds that resource while it runs. Each node's
report is written under ``out/nodes/<label>/`` and all of them are merged into ``out/fleet.*``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fer_edge.benchmark.merge import FleetReport, merge_reports
from fer_edge.benchmark.report import BenchmarkReport, row_from_dict
from fer_edge.benchmark.writer import save_report
from fer_edge.core.errors import FerEdgeError

log = logging.getLogger(__name__)

__all__ = ["NodeJob", "run_fleet"]

#: Largest video shipped to the nodes with the task (the bundles have their own archive limit).
MAX_SOURCE_BYTES = 256 * 1024 * 1024


@dataclass
class NodeJob:
    """What one node runs: packed bundles (name -> archive bytes), its devices and label."""

    archives: dict[str, bytes]
    devices: list[str]
    label: str
    options: dict[str, Any] = field(default_factory=dict)
    source: tuple[str, bytes] | None = None  # (file name, bytes) of the video, when one is shipped


def _node_benchmark(job: NodeJob) -> dict[str, Any]:
    """Inside the Ray task: unpack and check the bundles, benchmark, return the report's JSON form."""
    from fer_edge.benchmark.runner import benchmark
    from fer_edge.runtime.archive import unpack_bundle

    work = Path(tempfile.mkdtemp(prefix="fer-edge-fleet-"))
    try:
        bundles = []
        for i, (name, data) in enumerate(job.archives.items()):
            archive = work / f"{i}.tar.gz"
            archive.write_bytes(data)
            bundles.append(unpack_bundle(archive, work / f"b{i}" / name))
        source = None
        if job.source is not None:
            source = work / Path(job.source[0]).name
            source.write_bytes(job.source[1])
        report = benchmark(bundles, devices=job.devices, label=job.label, source=source, **job.options)
        data = report.as_dict()
        # The node's temporary paths mean nothing to the reader; the bundle names and hashes do.
        settings = data["settings"]
        settings["bundles"] = list(job.archives)
        settings["precisions"] = dict(zip(job.archives, settings["precisions"].values()))
        settings["source"] = None if job.source is None else Path(job.source[0]).name
        for info in settings.get("bundle_info") or []:
            info["path"] = None
        return data
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "node"


def run_fleet(
    bundles: Sequence[str | os.PathLike],
    *,
    executor: str,
    nodes: Sequence[str] = ("all",),
    devices: Sequence[str] = ("CPU",),
    out: str | os.PathLike,
    reference: str | None = None,
    source: str | int | None = None,
    **options: Any,
) -> FleetReport:
    """Benchmark ``bundles`` on each chosen Ray node and merge the reports into ``out``.

    Args:
        bundles: bundle directories (packed and checked on every node).
        executor: ``ray=HOST:PORT`` or ``ray=auto`` (the cluster to use).
        nodes: ``["all"]`` or node labels (``ray start --node-name``).
        devices: OpenVINO devices; a node runs those it announces (see :mod:`fer_edge.cluster.nodes`).
        out: folder for ``nodes/<label>/benchmark.*`` and ``fleet.json/.md/.html``.
        reference: the column speed-ups are against (default: the first node's first device).
        source: a video file shipped to the nodes, or None for no video rows.
        options: the rest of :func:`fer_edge.benchmark.runner.benchmark`'s keywords.

    Example:
        >>> run_fleet(["runs/fer"], executor="ray=10.0.0.5:6379", out="runs/fleet")  # doctest: +SKIP
    """
    from fer_edge.cluster.executor import executor_for, parse_spec
    from fer_edge.cluster.nodes import alive_nodes, device_resource, select_nodes
    from fer_edge.runtime.archive import pack_bundle

    spec = parse_spec(executor)
    if spec.backend != "ray":
        raise FerEdgeError("--nodes runs on a Ray cluster: add --executor ray=HOST:PORT (see docs/fleet.md)")
    shipped = None
    if source is not None:
        path = Path(str(source))
        if not path.is_file():
            raise FerEdgeError(f"--source {source} with --nodes must be a video file (it is copied to each node)")
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise FerEdgeError(f"--source {source} is over {MAX_SOURCE_BYTES >> 20} MiB; use a shorter clip")
        shipped = (path.name, path.read_bytes())
    ex = executor_for(spec)  # fails fast in one line when no head answers
    archives: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="fer-edge-pack-") as tmp:
        for i, b in enumerate(bundles):
            packed = pack_bundle(b, Path(tmp) / f"{i}.tar.gz")
            name = Path(b).resolve().name
            if name in archives:
                name = f"{name}-{i}"
            archives[name] = packed.archive.read_bytes()
    plan, notes = select_nodes(alive_nodes(ex.ray), list(nodes), list(devices))
    for note in notes:
        log.warning("%s", note)
    placements = []
    for node, here in plan:
        resources = {r: 1.0 for r in {device_resource(d) for d in here} if r}
        job = NodeJob(archives, here, node.label, dict(options), shipped)
        placements.append((node.id, resources, job))
    results = ex.run_on(_node_benchmark, placements, desc="benchmark")
    out = Path(out)
    paths = []
    for (node, _), data in zip(plan, results):
        rows = [row_from_dict(r, f"node {node.label} row {i}") for i, r in enumerate(data["rows"])]
        report = BenchmarkReport(data["machine"], rows, data["settings"], data["created"])
        folder = out / "nodes" / _safe(node.label)
        save_report(report, folder)
        paths.append(str(folder / "benchmark.json"))
    fleet = merge_reports(paths, reference=reference)
    fleet.skipped += [("node " + n.split(" ", 2)[1], n) for n in notes]
    fleet.save(out)
    return fleet
