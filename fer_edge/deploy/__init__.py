"""The real-time runtime: numpy, OpenCV and OpenVINO only (it installs on a Raspberry Pi).

Importing this package must never import TensorFlow; a test checks ``sys.modules``.
"""

from fer_edge.deploy.pipeline import FaceResult, Pipeline, PipelineConfig
from fer_edge.deploy.run import RunReport, run_sources, run_video
from fer_edge.engine import EngineConfig, available_devices, check_device, load_model

__all__ = [
    "EngineConfig",
    "FaceResult",
    "Pipeline",
    "PipelineConfig",
    "RunReport",
    "available_devices",
    "check_device",
    "load_model",
    "run_sources",
    "run_video",
]
