"""fer-edge: video facial expression recognition from research to the edge.

The Python API (TensorFlow-free; names load on first use, so ``import fer_edge`` stays light)::

    import fer_edge
    bundle = fer_edge.open_bundle()                  # the default model (or a bundle folder)
    result = fer_edge.demo(bundle, ["clip.mp4"], out="runs/clip")   # what `fer-edge demo` runs
    events = fer_edge.read_events(result.reports[0].outputs["events"])
    faces = fer_edge.Pipeline(bundle).step(frame, 0)  # one BGR frame
"""

from __future__ import annotations

import importlib
from typing import Any

from fer_edge.core import telemetry as _telemetry

__version__ = "0.1.0"

# Only a meta-path hook (no import): OpenVINO's telemetry is declined when openvino first loads.
_telemetry.install()

_LAZY = {
    "Bundle": "fer_edge.runtime.bundle",
    "load_bundle": "fer_edge.runtime.bundle",
    "Pipeline": "fer_edge.runtime.pipeline",
    "PipelineConfig": "fer_edge.runtime.pipeline",
    "FaceResult": "fer_edge.runtime.pipeline",
    "EngineConfig": "fer_edge.runtime.engine",
    "RunOptions": "fer_edge.runtime.loop",
    "RunReport": "fer_edge.runtime.loop",
    "run": "fer_edge.runtime.loop",
    "run_video": "fer_edge.runtime.loop",
    "demo": "fer_edge.runtime.demo",
    "demo_options": "fer_edge.runtime.demo",
    "read_events": "fer_edge.runtime.events",
    "open_bundle": "fer_edge.api",
    "sample_video": "fer_edge.core.assets",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fer_edge' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
