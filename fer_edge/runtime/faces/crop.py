"""Face crops as in the thesis (section 3.2.1): extend the box vertically, square it, resize.

The thesis extends the detected box "10 pixels in the vertical direction ... to ensure that
big movement of mouth (for instance while expressing emotion 'surprise') will not be missed"
(figure 3.2: a 159x159 detection becomes 159x169). It does not say on which side; since the
stated reason is the mouth, and a Haar box ends about at the lower lip, :func:`extend_box`
adds the whole ``pad_y`` at the bottom (towards the chin). The box is then squared around its
centre (``side = max(w, h)``) and resized to ``size x size`` (160 in the thesis).

numpy + OpenCV only: this module is imported by the edge runtime.
"""

from __future__ import annotations

import cv2
import numpy as np

from fer_edge.runtime.faces.detect import Box

__all__ = ["crop_face", "crop_face_aligned", "crop_faces", "extend_box", "eye_angle", "square_box"]


def extend_box(box: Box, pad_y: int = 10) -> Box:
    """Extend a box by ``pad_y`` pixels downwards, towards the chin (thesis: +10 px).

    Args:
        box: ``(x, y, w, h)``.
        pad_y: pixels added to the height, all at the bottom edge (>= 0).

    Example:
        >>> extend_box((10, 20, 159, 159))
        (10, 20, 159, 169)
    """
    if pad_y < 0:
        raise ValueError(f"pad_y must be >= 0, got {pad_y}")
    x, y, w, h = box
    return (int(x), int(y), int(w), int(h) + int(pad_y))


def square_box(box: Box, frame_shape: tuple[int, ...]) -> Box:
    """Square a box around its centre and keep it inside the frame.

    The side is ``max(w, h)``; a square that would cross an edge is shifted inside (so the
    face may sit off-centre rather than be padded with invented pixels). When the frame is
    smaller than the side, the side is clipped to the frame's shorter dimension.

    Args:
        box: ``(x, y, w, h)``; may lie partly outside the frame.
        frame_shape: ``frame.shape`` (``H, W[, C]``).

    Raises:
        ValueError: the box is empty or does not overlap the frame at all.

    Example:
        >>> square_box((100, 50, 40, 60), (240, 320, 3))
        (90, 50, 60, 60)
        >>> square_box((-10, 200, 60, 60), (240, 320))
        (0, 180, 60, 60)
    """
    height, width = int(frame_shape[0]), int(frame_shape[1])
    x, y, w, h = (int(v) for v in box)
    if w <= 0 or h <= 0:
        raise ValueError(f"empty box {box}")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise ValueError(f"box {box} does not overlap the {width}x{height} frame")
    side = min(max(w, h), width, height)
    # Integer centre arithmetic (2x) so the result does not depend on float rounding.
    left = (2 * x + w - side) // 2
    top = (2 * y + h - side) // 2
    left = min(max(left, 0), width - side)
    top = min(max(top, 0), height - side)
    return (left, top, side, side)


def _crop_into(frame: np.ndarray, box: Box, size: int, pad_y: int, out: np.ndarray) -> None:
    x, y, side, _ = square_box(extend_box(box, pad_y), frame.shape)
    patch = frame[y : y + side, x : x + side]
    if patch.ndim == 2:
        patch = cv2.cvtColor(patch, cv2.COLOR_GRAY2BGR)
    # INTER_AREA averages when shrinking (no aliasing); LINEAR is the better choice to enlarge.
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    if side == size:
        out[...] = patch
    else:
        out[...] = cv2.resize(patch, (size, size), interpolation=interpolation)


def crop_face(frame: np.ndarray, box: Box, size: int = 160, pad_y: int = 10) -> np.ndarray:
    """Cut the face in ``box`` out of ``frame`` as a ``size x size x 3`` image (same dtype).

    The box is extended by ``pad_y`` at the bottom (:func:`extend_box`), squared and kept
    inside the frame (:func:`square_box`), then resized.

    Args:
        frame: ``H x W x 3`` image (``H x W`` grayscale is converted to 3 channels).
        box: detected or tracked ``(x, y, w, h)``; may lie partly outside the frame.
        size: output side in pixels (160 in the thesis).
        pad_y: vertical extension in pixels (10 in the thesis).

    Example:
        >>> frame = np.zeros((240, 320, 3), np.uint8)
        >>> crop_face(frame, (100, 50, 80, 80)).shape
        (160, 160, 3)
    """
    if size <= 0:
        raise ValueError(f"size must be > 0, got {size}")
    out = np.empty((size, size, 3), dtype=frame.dtype)
    _crop_into(frame, box, size, pad_y, out)
    return out


def crop_faces(frame: np.ndarray, boxes: list[Box], size: int = 160, pad_y: int = 10) -> np.ndarray:
    """Crop several faces into one ``N x size x size x 3`` batch for the model.

    Example:
        >>> frame = np.zeros((240, 320, 3), np.uint8)
        >>> crop_faces(frame, [(10, 10, 50, 50), (200, 100, 90, 70)], size=64).shape
        (2, 64, 64, 3)
        >>> crop_faces(frame, [], size=64).shape
        (0, 64, 64, 3)
    """
    if size <= 0:
        raise ValueError(f"size must be > 0, got {size}")
    batch = np.empty((len(boxes), size, size, 3), dtype=frame.dtype)
    for i, box in enumerate(boxes):
        _crop_into(frame, box, size, pad_y, batch[i])
    return batch


def eye_angle(left_eye: tuple[float, float], right_eye: tuple[float, float]) -> float:
    """Roll of the eye line in degrees (image-left eye to image-right eye; + = clockwise on screen).

    Example:
        >>> eye_angle((10, 10), (20, 20))
        45.0
    """
    return float(np.degrees(np.arctan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0])))


def crop_face_aligned(frame: np.ndarray, box: Box, angle: float, size: int = 160, pad_y: int = 10) -> np.ndarray:
    """Like :func:`crop_face`, but rotated by ``angle`` degrees about the crop's centre so the
    eye line is level (``angle`` from :func:`eye_angle`); pixels from outside the frame repeat
    the border.

    Example:
        >>> frame = np.zeros((240, 320, 3), np.uint8)
        >>> crop_face_aligned(frame, (100, 50, 80, 80), 12.0, size=64).shape
        (64, 64, 3)
    """
    if size <= 0:
        raise ValueError(f"size must be > 0, got {size}")
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    x, y, side, _ = square_box(extend_box(box, pad_y), frame.shape)
    cx, cy = x + side / 2.0, y + side / 2.0
    m = cv2.getRotationMatrix2D((cx, cy), angle, size / side)
    m[:, 2] += (size / 2.0 - cx, size / 2.0 - cy)  # the crop's centre lands in the output's centre
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
