"""The real-time runtime, in one folder: bundles, OpenVINO, faces, video, the pipeline and the run loop.

numpy, OpenCV and OpenVINO only (it installs on a Raspberry Pi); importing this package must
never import TensorFlow (a test checks ``sys.modules``). Names load on first use, so importing
one submodule (``fer_edge.runtime.ovcompat``) does not import the others.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "FaceResult": "pipeline",
    "Pipeline": "pipeline",
    "PipelineConfig": "pipeline",
    "RunOptions": "loop",
    "RunReport": "loop",
    "run": "loop",
    "run_sources": "loop",
    "run_video": "loop",
    "EngineConfig": "engine",
    "available_devices": "engine",
    "check_device": "engine",
    "load_model": "engine",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'fer_edge.runtime' has no attribute {name!r}")
    return getattr(importlib.import_module(f"fer_edge.runtime.{module}"), name)
