"""fer-edge: video facial expression recognition from research to the edge."""

__version__ = "0.1.0"
