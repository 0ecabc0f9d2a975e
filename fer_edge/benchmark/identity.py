"""What a fleet report needs to tell runs apart: host label, bundle fingerprints, the detector used."""

from __future__ import annotations

import hashlib
import logging
import socket
from typing import Any

from fer_edge.runtime.bundle import Bundle

log = logging.getLogger(__name__)

#: The demo's detector (``fer-edge demo`` without ``--detector``): what a deployment runs.
DEMO_DETECTOR = "blazeface"
#: Used when this OpenVINO cannot convert BlazeFace and no converted copy is cached (2022.3).
FALLBACK_DETECTOR = "haar"
#: OpenVINO properties worth recording per device, when the plugin reports them.
DEVICE_PROPERTIES = (
    "FULL_DEVICE_NAME",
    "DEVICE_ARCHITECTURE",
    "DEVICE_TYPE",
    "GPU_DEVICE_ID",
    "DRIVER_VERSION",
    "DEVICE_FIRMWARE_VERSION",
    "OPTIMIZATION_CAPABILITIES",
)


def host_label(label: str | None = None) -> str:
    """The column name of this machine in a fleet report: ``label`` or the host name.

    Example:
        >>> host_label("pi-kitchen")
        'pi-kitchen'
    """
    return label.strip() if label and label.strip() else socket.gethostname() or "unknown host"


def bundle_fingerprint(bundle: Bundle) -> dict[str, Any]:
    """Name, sha256 over its manifest and model files, and the precisions each model carries.

    The hash is over ``<relative path>\\0<sha256 of file>`` lines in sorted order, so two copies of
    one bundle on two machines hash the same wherever they live.

    Example:
        >>> bundle_fingerprint(load_bundle("runs/fer"))["precisions"]  # doctest: +SKIP
        {'frame': ['FP32', 'FP16']}
    """
    from fer_edge.core.assets import sha256

    files = {"manifest.json"}
    for entry in bundle.models.values():
        files.update(entry.files())
    digest = hashlib.sha256()
    for rel in sorted(files):
        path = bundle.path / rel
        if path.is_file():
            digest.update(f"{rel}\0{sha256(path)}\n".encode())
            if path.suffix == ".xml" and path.with_suffix(".bin").is_file():
                digest.update(f"{rel[:-4]}.bin\0{sha256(path.with_suffix('.bin'))}\n".encode())
    return {
        "name": bundle.name,
        "path": str(bundle.path),
        "sha256": digest.hexdigest(),
        "precisions": {
            role: [e.precision, *[p for p in e.variants if p != e.precision]] for role, e in bundle.models.items()
        },
        "source": str(bundle.provenance.get("source", "")) or None,
    }


def resolve_detector(detector: str | None) -> tuple[str, str | None]:
    """The detector for video rows and a note when the demo's default could not be used.

    ``None`` means what ``fer-edge demo`` uses: BlazeFace, or Haar where this OpenVINO cannot
    convert BlazeFace (the NCS2's 2022.3) and no converted copy is cached.
    """
    if detector is not None:
        return detector, None
    from fer_edge.runtime import ovcompat
    from fer_edge.runtime.faces import blazeface

    if blazeface.available():
        return DEMO_DETECTOR, None
    return FALLBACK_DETECTOR, (
        f"video rows use the haar detector: OpenVINO {ovcompat.version_text()} cannot convert BlazeFace "
        "and no converted copy is cached (the demo falls back the same way)"
    )


def device_details(core: Any, device: str) -> dict[str, str]:
    """The :data:`DEVICE_PROPERTIES` a plugin reports for ``device`` (driver, firmware ...)."""
    try:
        supported = {str(p) for p in core.get_property(device, "SUPPORTED_PROPERTIES")}
    except Exception:  # noqa: BLE001 - an old plugin: ask for each and keep what answers
        supported = set(DEVICE_PROPERTIES)
    out: dict[str, str] = {}
    for prop in DEVICE_PROPERTIES:
        if prop not in supported:
            continue
        try:
            value = core.get_property(device, prop)
        except Exception:  # noqa: BLE001 - not reported by this plugin
            continue
        text = " ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
        if text:
            out[prop.lower()] = text
    return out
