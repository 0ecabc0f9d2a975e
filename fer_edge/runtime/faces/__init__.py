"""Faces: detect (Haar by default), track (OpenCV trackers), crop (thesis 3.2.1), manage ids.

numpy + OpenCV only: the edge runtime imports this package; it must never import TensorFlow.

Example:
    >>> import numpy as np
    >>> from fer_edge.runtime.faces import HaarDetector, TrackManager, crop_faces
    >>> manager = TrackManager(HaarDetector(), tracker="kcf")
    >>> frame = np.zeros((240, 320, 3), np.uint8)
    >>> tracks = manager.update(frame)
    >>> crop_faces(frame, [t.box for t in tracks], size=160).shape
    (0, 160, 160, 3)
"""

from __future__ import annotations

from fer_edge.runtime.faces.crop import crop_face, crop_face_aligned, crop_faces, extend_box, eye_angle, square_box
from fer_edge.runtime.faces.detect import DETECTORS, Box, Detector, HaarDetector, create_detector, register_detector
from fer_edge.runtime.faces.manager import Track, TrackManager, iou
from fer_edge.runtime.faces.track import TRACKERS, Tracker, clip_box, create_tracker

__all__ = [
    "DETECTORS",
    "TRACKERS",
    "Box",
    "Detector",
    "HaarDetector",
    "Track",
    "TrackManager",
    "Tracker",
    "clip_box",
    "create_detector",
    "create_tracker",
    "crop_face",
    "crop_face_aligned",
    "crop_faces",
    "extend_box",
    "eye_angle",
    "iou",
    "register_detector",
    "square_box",
]
