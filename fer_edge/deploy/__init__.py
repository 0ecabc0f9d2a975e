"""The real-time runtime: numpy, OpenCV and OpenVINO only (it installs on a Raspberry Pi).

Importing this package must never import TensorFlow; a test checks ``sys.modules``. Its
public names load on first use (like ``fer_edge.optimize``), so that the lower modules
(``fer_edge.kinds`` reads windows from ``deploy.buffers``) can import a submodule without
importing the whole runtime, which itself imports them.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "EngineConfig": "fer_edge.deploy.engine",
    "available_devices": "fer_edge.deploy.engine",
    "check_device": "fer_edge.deploy.engine",
    "load_model": "fer_edge.deploy.engine",
    "FaceResult": "fer_edge.deploy.pipeline",
    "Pipeline": "fer_edge.deploy.pipeline",
    "PipelineConfig": "fer_edge.deploy.pipeline",
    "RunReport": "fer_edge.deploy.run",
    "run_sources": "fer_edge.deploy.run",
    "run_video": "fer_edge.deploy.run",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fer_edge.deploy' has no attribute '{name}'")


__all__ = sorted(_LAZY)
