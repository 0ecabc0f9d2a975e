"""Built-in per-frame expression intensity, no model download: motion against the neutral start.

A posed clip starts neutral (the thesis' onset phase). Expression deforms the face away from
that start, so the amount of *non-rigid* motion between a neutral reference and each frame
tracks the expression's intensity:

1. each face crop becomes a small grayscale image (``side`` px), contrast-normalised per
   frame so lighting drift does not count as expression;
2. the reference is the per-pixel median of the first ``ref_frames`` crops;
3. dense optical flow (Farnebäck) from the reference to each frame; the best-fitting affine
   flow field is subtracted, because a whole-face shift, zoom or turn is tracker drift or
   head motion, not expression (subtracting only the median shift leaves the tracker's slow
   scale drift in, which dropped the correlation with ground truth from 0.99 to 0.73 on some
   90-frame synthetic clips);
4. the frame's intensity is the mean residual flow magnitude over the inner part of the crop
   (borders carry background), lightly smoothed over time.

``method="diff"`` uses the mean absolute grey-level difference instead of flow (about 5x
faster, a little noisier). Values are in pixels of motion at ``side`` resolution: only their
shape matters to :func:`fer_edge.data.neutral.trim`, which works relative to the clip's maximum.
When OpenFace 2.0 CSVs are available, :mod:`fer_edge.data.openface` gives the thesis' AU
intensity instead.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from fer_edge.core.errors import FerEdgeError, unknown_choice

METHODS = ("flow", "diff")


def _prepare(crop: np.ndarray, side: int) -> np.ndarray:
    gray = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(gray, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
    small = cv2.GaussianBlur(small, (3, 3), 0)
    # Per-frame standardisation: brightness and contrast drift are lighting, not expression.
    std = float(small.std())
    small = (small - float(small.mean())) / (std if std > 1e-3 else 1.0)
    # Back to 8-bit range for Farnebäck, at a fixed scale so frames stay comparable.
    return np.clip(small * 40.0 + 128.0, 0, 255).astype(np.uint8)


def estimate_intensity(
    crops: Iterable[np.ndarray] | np.ndarray,
    *,
    method: str = "flow",
    side: int = 64,
    ref_frames: int = 5,
    inner: float = 0.8,
    smooth: int = 3,
    rigid: str = "affine",
) -> np.ndarray:
    """Per-frame expression intensity of a clip of face crops.

    Args:
        crops: ``(T, H, W[, 3])`` uint8 face crops (BGR or gray), one per frame.
        method: ``"flow"`` (residual optical flow, default) or ``"diff"`` (grey-level change).
        side: working resolution in pixels.
        ref_frames: frames at the start whose median is the neutral reference.
        inner: central fraction of the crop that is measured.
        smooth: odd moving-average window over time (1 = none).
        rigid: global motion removed from the flow: ``"affine"`` (default) or ``"median"`` shift.

    Returns:
        ``(T,)`` float32, >= 0; 0 at the reference.

    Raises:
        FerEdgeError: empty clip or unknown method.

    Example:
        >>> crops = np.zeros((20, 64, 64, 3), np.uint8)
        >>> crops[10:, 20:40, 20:44] = 255      # something appears in the face
        >>> est = estimate_intensity(crops, method="diff")
        >>> bool(est[:8].max() < est[12:].min())
        True
    """
    if method not in METHODS:
        raise unknown_choice("intensity method", method, METHODS)
    frames = [_prepare(np.asarray(c), side) for c in crops]
    if not frames:
        raise FerEdgeError("cannot estimate intensity of an empty clip (0 frames)")
    ref = np.median(np.stack(frames[: max(1, ref_frames)]), axis=0).astype(np.uint8)
    margin = int(round(side * (1 - inner) / 2))
    sl = np.s_[margin : side - margin, margin : side - margin]
    ref_f = ref.astype(np.float32)
    ys, xs = np.mgrid[sl]
    design = np.stack([np.ones(xs.size), xs.ravel() / side, ys.ravel() / side], axis=1)
    values = np.empty(len(frames), np.float32)
    for t, frame in enumerate(frames):
        if method == "diff":
            values[t] = float(np.abs(frame.astype(np.float32) - ref_f)[sl].mean())
            continue
        flow = cv2.calcOpticalFlowFarneback(
            ref, frame, None, pyr_scale=0.5, levels=2, winsize=9, iterations=3, poly_n=5, poly_sigma=1.1, flags=0
        )
        region = flow[sl].reshape(-1, 2)
        if rigid == "affine":
            # Least-squares affine flow = the tracker's shift, scale and rotation drift.
            coef, *_ = np.linalg.lstsq(design, region, rcond=None)
            residual = region - design @ coef
        else:
            residual = region - np.median(region, axis=0)
        values[t] = float(np.linalg.norm(residual, axis=1).mean())
    if smooth > 1 and len(values) >= smooth:
        k = smooth | 1
        padded = np.pad(values, k // 2, mode="edge")
        values = np.convolve(padded, np.ones(k, np.float32) / k, mode="valid").astype(np.float32)
    return np.maximum(values - float(values[: max(1, ref_frames)].min()), 0.0).astype(np.float32)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two curves (0 when either is constant).

    Example:
        >>> round(pearson(np.arange(5.0), np.arange(5.0) * 2 + 1), 6)
        1.0
    """
    a = np.asarray(a, np.float64) - np.mean(a)
    b = np.asarray(b, np.float64) - np.mean(b)
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0
