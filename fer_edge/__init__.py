"""fer-edge: video facial expression recognition from research to the edge."""

from fer_edge.core import telemetry as _telemetry

__version__ = "0.1.0"

# Only a meta-path hook (no import): OpenVINO's telemetry is declined when openvino first loads.
_telemetry.install()
