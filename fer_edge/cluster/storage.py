"""The run folder must be one folder for every node: checked before the first task runs.

Ray moves small results; large outputs (clips, feature shards, fold logs, checkpoints) are
written into the run folder by whichever node ran the task, and read back by others. A node
that mounts a different (or no) folder at that path would silently write where nobody reads.
So at start the driver writes a token into ``<run>/.cluster-check/``, one task pinned to every
alive node reads it and writes its own token, and the driver reads those back. Any mismatch is
one line naming the node.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from pathlib import Path

from fer_edge.core.atomic import write_text
from fer_edge.core.errors import FerEdgeError

CHECK_DIR = ".cluster-check"
TIMEOUT_S = 120.0


def _probe(folder: str, token: str, node_id: str) -> dict:
    """On one node: can it read the driver's token and write its own into ``folder``?"""
    check = Path(folder) / CHECK_DIR
    seen = False
    try:
        seen = (check / "driver").read_text(encoding="utf-8") == token
        if seen:
            write_text(check / node_id, token)
    except (OSError, FerEdgeError):
        seen = False
    return {"node": node_id, "host": socket.gethostname(), "seen": seen}


def _node_label(node: dict) -> str:
    name = node.get("NodeName") or node.get("NodeManagerAddress", "?")
    return f"{name} (id {node['NodeID'][:8]}, {node.get('NodeManagerAddress', '?')})"


def check_storage(ray, folder: str | os.PathLike) -> None:
    """Raise a one-line :class:`FerEdgeError` naming the first node that cannot see ``folder``.

    Example:
        >>> check_storage(ray, "runs/x")  # doctest: +SKIP
    """
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    folder = Path(folder).resolve()
    check = folder / CHECK_DIR
    check.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    (check / "driver").write_text(token, encoding="utf-8")
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        probe = ray.remote(_probe)
        refs = {
            probe.options(
                num_cpus=0, max_retries=1, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
            ).remote(str(folder), token, n["NodeID"]): n
            for n in nodes
        }
        try:
            answers = list(zip(refs.values(), ray.get(list(refs), timeout=TIMEOUT_S)))
        except ray.exceptions.GetTimeoutError:
            raise FerEdgeError(
                f"the shared-storage check of {folder} got no answer from every node in "
                f"{TIMEOUT_S:.0f} s; check that the cluster's nodes are up (ray status)"
            ) from None
        for node, answer in answers:
            back = check / node["NodeID"]
            ok = answer["seen"] and back.is_file() and back.read_text(encoding="utf-8") == token
            if not ok:
                raise FerEdgeError(
                    f"node {_node_label(node)} on host {answer['host']} cannot see the run folder "
                    f"{folder}; put the run folder on storage every node mounts at the same path "
                    "(NFS, a shared volume; see docs/cluster.md)"
                )
    finally:
        shutil.rmtree(check, ignore_errors=True)
