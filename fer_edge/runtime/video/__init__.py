"""Video in and out: one opener for files, cameras, frame folders and streams; atomic writers.

Every source yields ``(index, frame)`` with ``frame`` a BGR ``uint8`` array ``H x W x 3``.
numpy + OpenCV only: this package is imported by the edge runtime.
"""

from fer_edge.runtime.video.source import IMAGE_EXTENSIONS, STREAM_PREFIXES, VideoInfo, VideoSource, open_source
from fer_edge.runtime.video.writer import WRITER_FOURCC, VideoWriter, open_writer, write_frames

__all__ = [
    "IMAGE_EXTENSIONS",
    "STREAM_PREFIXES",
    "WRITER_FOURCC",
    "VideoInfo",
    "VideoSource",
    "VideoWriter",
    "open_source",
    "open_writer",
    "write_frames",
]
