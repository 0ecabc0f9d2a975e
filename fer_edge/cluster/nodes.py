"""The nodes of a Ray cluster by label, and the OpenVINO devices each announces as a resource.

A node's label is its ``ray start --node-name`` (else its IP address). Devices other than the
CPU are announced as Ray custom resources when the node starts, e.g. a Raspberry Pi with a
Neural Compute Stick 2::

    ray start --address=HEAD:6379 --node-name=pi-kitchen --resources='{"ncs2": 1}'

so a MYRIAD run goes only where a stick is plugged in (:data:`DEVICE_RESOURCES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fer_edge.core.errors import FerEdgeError, unknown_choice

__all__ = ["DEVICE_RESOURCES", "Node", "alive_nodes", "device_resource", "select_nodes"]

#: OpenVINO device (before any ``.N``) -> the Ray custom resource a node announces for it.
DEVICE_RESOURCES = {"MYRIAD": "ncs2", "HDDL": "hddl", "NPU": "npu", "GPU": "intel_gpu", "VPUX": "npu"}


@dataclass(frozen=True)
class Node:
    """An alive Ray node: id (for node affinity), label, address and resources."""

    id: str
    label: str
    address: str
    resources: dict[str, float] = field(default_factory=dict, compare=False, hash=False)


def device_resource(device: str) -> str | None:
    """The custom resource a node must announce to run ``device`` (None: every node has it).

    Example:
        >>> device_resource("MYRIAD"), device_resource("GPU.1"), device_resource("CPU")
        ('ncs2', 'intel_gpu', None)
    """
    return DEVICE_RESOURCES.get(device.split(".")[0].split(":")[0].upper())


def alive_nodes(ray: Any) -> list[Node]:
    """The cluster's alive nodes, sorted by label (Ray lists them in no fixed order)."""
    out = []
    for n in ray.nodes():
        if not n.get("Alive"):
            continue
        address = str(n.get("NodeManagerAddress") or "")
        out.append(Node(str(n["NodeID"]), str(n.get("NodeName") or address), address, dict(n.get("Resources") or {})))
    return sorted(out, key=lambda n: (n.label, n.address, n.id))


def select_nodes(
    nodes: Sequence[Node], wanted: Sequence[str], devices: Sequence[str]
) -> tuple[list[tuple[Node, list[str]]], list[str]]:
    """The chosen nodes, each with the ``devices`` it announces; and notes on what was left out.

    Args:
        nodes: alive nodes.
        wanted: ``["all"]`` or node labels (or addresses).
        devices: OpenVINO devices of the run.

    Raises:
        FerEdgeError: an unknown label (with a did-you-mean), or no chosen node has any device.

    Example:
        >>> a = Node("1", "nuc", "10.0.0.2", {"CPU": 4})
        >>> b = Node("2", "pi", "10.0.0.3", {"CPU": 4, "ncs2": 1})
        >>> [(n.label, d) for n, d in select_nodes([a, b], ["all"], ["MYRIAD"])[0]]
        [('pi', ['MYRIAD'])]
    """
    if not nodes:
        raise FerEdgeError("the Ray cluster has no alive node; see ray status")
    if list(wanted) in ([], ["all"]):
        chosen = list(nodes)
    else:
        by_name = {n.label: n for n in nodes} | {n.address: n for n in nodes}
        chosen = []
        for label in wanted:
            if label not in by_name:
                raise unknown_choice("node", label, sorted({n.label for n in nodes}))
            if by_name[label] not in chosen:
                chosen.append(by_name[label])
    plan, notes = [], []
    for node in chosen:
        here = [d for d in devices if device_resource(d) is None or node.resources.get(device_resource(d), 0) >= 1]
        missing = [d for d in devices if d not in here]
        if missing:
            need = ", ".join(f"{d} needs resource '{device_resource(d)}'" for d in missing)
            notes.append(f"node {node.label} announces no {', '.join(missing)} ({need}; ray start --resources)")
        if here:
            plan.append((node, here))
    if not plan:
        raise FerEdgeError(
            "no chosen Ray node announces the devices asked for: "
            + "; ".join(notes)
            + """; announce one, e.g. ray start --resources='{"ncs2": 1}'"""
        )
    return plan, notes
