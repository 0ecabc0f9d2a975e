"""Synthetic expressive faces: real face pixels warped by EMFACS action units.

The faces are real photographs bundled with scikit-image (offline): ``astronaut()`` (colour,
high resolution) and the 100 face crops of ``lfw_subset()`` (25x25 grayscale). An expression
is a smooth displacement field made of Gaussian bumps placed at landmark positions relative
to the face box (brows, eyelids, cheeks, nose, lips, chin), one set of bumps per action unit
(AU), combined per emotion after the EMFACS table of the thesis (table 2.4). A few AUs also
change texture (brow furrow, nose wrinkles, the dark mouth cavity of a jaw drop), so that the
classes are learnable from appearance change and visibly different at the apex.

This module renders one face *patch* (a square BGR + alpha image around the face box) at a
given intensity; :mod:`fer_edge.data.synth` places patches in frames and animates them.
numpy + OpenCV (+ scikit-image for the source pixels) only.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

import cv2
import numpy as np

from fer_edge.core.errors import require

# Landmarks in face-box units (x right, y down; the box is the one Haar's frontal cascade
# reports). Paired landmarks are given for the image-left side and mirrored.
LANDMARKS: dict[str, tuple[float, float]] = {
    "brow_inner": (0.38, 0.25),
    "brow_outer": (0.22, 0.25),
    "lid_upper": (0.30, 0.35),
    "lid_lower": (0.30, 0.43),
    "cheek": (0.27, 0.58),
    "nose_wing": (0.42, 0.62),
    "mouth_corner": (0.34, 0.81),
    "lip_upper": (0.50, 0.76),
    "lip_lower": (0.50, 0.87),
    "chin": (0.50, 1.02),
}
_PAIRED = {"brow_inner", "brow_outer", "lid_upper", "lid_lower", "cheek", "nose_wing", "mouth_corner"}

# Per AU: (landmark, medial dx, dy, sigma) in face-box units at full intensity. ``medial``
# means positive moves towards the midline (so "lip corners out" is negative); dy < 0 is up.
# |d| / sigma stays below ~0.9 so the warp never folds over.
AU_BUMPS: dict[int, tuple[tuple[str, float, float, float], ...]] = {
    1: (("brow_inner", 0.0, -0.055, 0.07),),  # inner brow raiser
    2: (("brow_outer", 0.0, -0.055, 0.07),),  # outer brow raiser
    4: (("brow_inner", 0.04, 0.05, 0.075), ("brow_outer", 0.01, 0.025, 0.08)),  # brow lowerer
    5: (("lid_upper", 0.0, -0.03, 0.045),),  # upper lid raiser
    6: (("cheek", 0.0, -0.055, 0.09), ("lid_lower", 0.0, -0.025, 0.045)),  # cheek raiser
    7: (("lid_lower", 0.0, -0.03, 0.04), ("lid_upper", 0.0, 0.015, 0.04)),  # lid tightener
    9: (("nose_wing", 0.0, -0.035, 0.06), ("lip_upper", 0.0, -0.02, 0.06)),  # nose wrinkler
    12: (("mouth_corner", -0.045, -0.06, 0.075),),  # lip corner puller
    15: (("mouth_corner", 0.0, 0.05, 0.065),),  # lip corner depressor
    16: (("lip_lower", 0.0, 0.035, 0.06),),  # lower lip depressor
    20: (("mouth_corner", -0.05, 0.01, 0.065),),  # lip stretcher
    23: (("lip_upper", 0.0, 0.02, 0.05), ("lip_lower", 0.0, -0.02, 0.05), ("mouth_corner", 0.02, 0.0, 0.05)),
    26: (("lip_lower", 0.0, 0.05, 0.08), ("chin", 0.0, 0.06, 0.16)),  # jaw drop
}

# EMFACS (thesis table 2.4) with weights; "5B" (slight) is AU5 at half strength. Surprise
# adds AU26 as in the full EMFACS table (the thesis lists 1, 2, 5B).
EXPRESSIONS: dict[str, dict[int, float]] = {
    "angry": {4: 1.0, 5: 0.6, 7: 1.0, 23: 1.0},
    "disgust": {9: 1.0, 15: 0.7, 16: 1.0},
    "fear": {1: 1.0, 2: 0.8, 4: 0.6, 5: 1.0, 7: 0.5, 20: 1.0, 26: 0.6},
    "happy": {6: 1.0, 12: 1.0},
    "sad": {1: 1.0, 4: 0.6, 15: 1.0},
    "surprise": {1: 1.0, 2: 1.0, 5: 0.5, 26: 1.0},
    "neutral": {},
}

# Faces of lfw_subset() (indices < 100 are faces) that Haar's frontal cascade
# (scaleFactor 1.1, minNeighbors 5) finds with IoU >= 0.5 against the ground-truth box in
# >= 95 % of the frames of every expression, with a mean IoU >= 0.62 (measured on
# 240x180 textured clips, OpenCV 4.14). Left out: glasses in deep shadow (4), a hand over
# the face (13), strong head turns or tilts (16, 22, 30, 96).
_LFW_LEFT_OUT = frozenset({4, 13, 16, 22, 30, 96})
LFW_FACES: tuple[int, ...] = tuple(i for i in range(100) if i not in _LFW_LEFT_OUT)

_ASTRONAUT_BOX = (177, 66, 95, 95)  # Haar's box on skimage.data.astronaut(), 512x512


@dataclass(frozen=True)
class Subject:
    """What stays the same across a subject's clips.

    Attributes:
        name: subject id, e.g. ``"F001"``.
        source: index into :func:`source_count`'s pool (0 = astronaut, then LFW faces).
        size: face-size factor (about 0.92..1.08).
        gain: per-AU amplitude factors (about 0.8..1.2).
        shift: landmark jitter in face-box units, per landmark ``(dx, dy)``.
        tint: BGR multipliers for grayscale sources (skin tone).
    """

    name: str
    source: int
    size: float
    gain: tuple[tuple[int, float], ...]
    shift: tuple[tuple[str, float, float], ...]
    tint: tuple[float, float, float]

    def au_gain(self, au: int) -> float:
        """Amplitude factor of action unit ``au`` for this subject."""
        return dict(self.gain)[au]

    def landmark(self, name: str, right: bool = False) -> tuple[float, float]:
        """Landmark ``name`` in face-box units, mirrored for the image-right side."""
        x, y = LANDMARKS[name]
        dx, dy = next((sx, sy) for key, sx, sy in self.shift if key == name)
        return (1.0 - x - dx if right else x + dx), y + dy


def stable_int(*parts: object) -> int:
    """A 63-bit integer from ``parts`` that is the same in every process (unlike ``hash()``).

    Example:
        >>> stable_int(0, "F001", "happy") == stable_int(0, "F001", "happy")
        True
    """
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def source_count() -> int:
    """Number of distinct source faces (astronaut + the usable LFW faces).

    Example:
        >>> source_count() > 50
        True
    """
    return 1 + len(LFW_FACES)


def subject_source(name: str) -> int:
    """Source face of a subject id: BU-4DFE style ids map in order, others by a stable hash.

    ``F001`` is the astronaut, ``M001`` the first LFW face, ``F002`` the second, and so on,
    so the default subjects are always distinct faces.

    Example:
        >>> [subject_source(s) for s in ("F001", "M001", "F002", "M002")]
        [0, 1, 2, 3]
    """
    match = re.fullmatch(r"([FfMm])(\d+)", name)
    if match and int(match.group(2)) > 0:
        key = 2 * (int(match.group(2)) - 1) + (match.group(1).upper() == "M")
    else:
        key = stable_int("subject", name)
    return key % source_count()


def make_subject(name: str) -> Subject:
    """Build the fixed traits of a subject from its id alone (same id -> same person).

    Example:
        >>> make_subject("F001").source
        0
    """
    rng = np.random.default_rng(stable_int("traits", name))
    gain = tuple((au, float(rng.uniform(0.8, 1.2))) for au in sorted(AU_BUMPS))
    shift = tuple((k, float(rng.uniform(-0.012, 0.012)), float(rng.uniform(-0.012, 0.012))) for k in LANDMARKS)
    tone = rng.uniform(-1.0, 1.0)
    tint = (0.90 - 0.05 * tone, 0.97, 1.06 + 0.04 * tone)
    return Subject(name, subject_source(name), float(rng.uniform(0.92, 1.08)), gain, shift, tint)


@functools.lru_cache(maxsize=1)
def _skimage_faces() -> tuple[np.ndarray, np.ndarray]:
    data = require("skimage.data", "synth", purpose="synthetic faces")
    astronaut = np.ascontiguousarray(data.astronaut()[:, :, ::-1])  # RGB -> BGR
    lfw = (data.lfw_subset()[:100] * 255.0 + 0.5).astype(np.uint8)
    return astronaut, lfw


@functools.lru_cache(maxsize=32)
def _neutral_patch(source: int, box: int, tint: tuple[float, float, float]) -> np.ndarray:
    """BGRA float32 patch of side ``2 * box`` with the face box at ``(box/2, box/2)``."""
    astronaut, lfw = _skimage_faces()
    side = 2 * box
    half = box // 2
    if source == 0:
        x, y, w, h = _ASTRONAUT_BOX
        # Real context (hair, neck) around the box: crop 2x the box and resize.
        crop = astronaut[y - h // 2 : y - h // 2 + 2 * h, x - w // 2 : x - w // 2 + 2 * w]
        bgr = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA if box < w else cv2.INTER_CUBIC)
        bgr = bgr.astype(np.float32)
        axes = (0.62, 0.80)
    else:
        face = lfw[LFW_FACES[source - 1]]
        face = cv2.resize(face, (box, box), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        # The LFW crop is the face box itself: extend it with its blurred border so the
        # feathered edge fades through plausible hair/neck tones instead of a hard square.
        big = cv2.copyMakeBorder(face, half, side - box - half, half, side - box - half, cv2.BORDER_REPLICATE)
        blur = cv2.GaussianBlur(big, (0, 0), box * 0.08)
        inside = np.zeros_like(big)
        inside[half : half + box, half : half + box] = 1.0
        inside = cv2.GaussianBlur(inside, (0, 0), box * 0.03)
        gray = inside * big + (1.0 - inside) * blur
        bgr = gray[:, :, None] * np.asarray(tint, np.float32)[None, None, :]
        axes = (0.62, 0.72)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    c = side / 2.0
    r = np.sqrt(((xx - c) / (axes[0] * box)) ** 2 + ((yy - c) / (axes[1] * box)) ** 2)
    alpha = np.clip((1.25 - r) / 0.35, 0.0, 1.0)
    return np.dstack([np.clip(bgr, 0, 255), alpha]).astype(np.float32)


@dataclass(frozen=True)
class FaceModel:
    """One subject's face at one size, ready to be rendered at any intensity.

    Attributes:
        patch: BGRA float32 neutral patch, side ``2 * box``; the face box is at ``(box//2, box//2)``.
        box: face-box side in pixels.
        field: (side, side, 2) float32 displacement at full intensity (pixels).
        shade: (side, side) float32 darkening at full intensity (wrinkles, furrows).
        mouth: (cx, cy0, dcy, half_width, opening) of the mouth cavity in pixels at full
            intensity: centre moves ``dcy`` down and opens ``opening`` px (0 = never opens).
    """

    patch: np.ndarray
    box: int
    field: np.ndarray
    shade: np.ndarray
    mouth: tuple[float, float, float, float, float]

    def render(self, intensity: float) -> np.ndarray:
        """BGRA float32 patch of the expression at ``intensity`` in [0, 1].

        Example:
            >>> face = face_model(make_subject("F001"), "happy", 100)
            >>> face.render(1.0).shape
            (200, 200, 4)
        """
        side = self.patch.shape[0]
        if intensity <= 0.0:
            return self.patch.copy()
        grid = _grid(side)
        # Backward map: the output at x shows the source at x - d(x) (d is smooth and small).
        maps = grid - np.float32(intensity) * self.field
        out = cv2.remap(self.patch, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if self.shade.any():
            out[..., :3] -= (np.float32(intensity) * self.shade)[..., None]
        cx, cy0, dcy, half_w, opening = self.mouth
        if opening > 0:
            _mouth_cavity(out, cx, cy0 + intensity * dcy, half_w, 0.5 * intensity * opening)
        np.clip(out[..., :3], 0.0, 255.0, out=out[..., :3])
        return out


@functools.lru_cache(maxsize=8)
def _grid(side: int) -> np.ndarray:
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    return np.dstack([xx, yy])


def _mouth_cavity(out: np.ndarray, cx: float, cy: float, half_w: float, half_h: float) -> None:
    """Darken a soft ellipse (the open mouth) in place; cheap: only its bounding box."""
    if half_h < 0.3:
        return
    x0, x1 = int(max(cx - half_w - 2, 0)), int(min(cx + half_w + 3, out.shape[1]))
    y0, y1 = int(max(cy - half_h - 2, 0)), int(min(cy + half_h + 3, out.shape[0]))
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    r = np.sqrt(((xx - cx) / half_w) ** 2 + ((yy - cy) / half_h) ** 2)
    a = np.clip((1.0 - r) / 0.35, 0.0, 1.0) * 0.85
    roi = out[y0:y1, x0:x1, :3]
    roi += a[..., None] * (np.float32(25.0) - roi)


def _gauss(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    return np.exp(-0.5 * (((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2)).astype(np.float32)


@functools.lru_cache(maxsize=16)
def face_model(subject: Subject, label: str, box: int) -> FaceModel:
    """Precompute the warp and shading of ``label`` for ``subject`` with a face box of ``box`` px.

    Args:
        subject: from :func:`make_subject`.
        label: a key of :data:`EXPRESSIONS`.
        box: face-box side in pixels (>= 16).

    The field, shading and mouth opening are linear in intensity, so a clip's overall
    strength is applied by scaling the intensity passed to :meth:`FaceModel.render`.

    Example:
        >>> face = face_model(make_subject("M001"), "surprise", 96)
        >>> face.patch.shape
        (192, 192, 4)
    """
    patch = _neutral_patch(subject.source, box, subject.tint)
    side = patch.shape[0]
    off = box // 2  # face box origin inside the patch
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    field = np.zeros((side, side, 2), np.float32)
    aus = EXPRESSIONS[label]
    moves: dict[str, float] = {"lip_upper": 0.0, "lip_lower": 0.0, "mouth_corner": 0.0}
    for au, weight in aus.items():
        g = weight * subject.au_gain(au)
        for name, medial, dy, sigma in AU_BUMPS[au]:
            if name in moves:
                moves[name] += (medial if name == "mouth_corner" else dy) * g
            sides = (False, True) if name in _PAIRED else (False,)
            for right in sides:
                lx, ly = subject.landmark(name, right)
                dx = medial if lx < 0.5 else -medial
                bump = _gauss(xx, yy, off + lx * box, off + ly * box, sigma * box, sigma * box)
                field[..., 0] += bump * (dx * g * box)
                field[..., 1] += bump * (dy * g * box)
    shade = np.zeros((side, side), np.float32)
    if 4 in aus:  # vertical furrows between the brows
        g = aus[4] * subject.au_gain(4)
        for fx in (0.46, 0.54):
            shade += 28.0 * g * _gauss(xx, yy, off + fx * box, off + 0.31 * box, 0.012 * box, 0.05 * box)
    if 9 in aus:  # horizontal wrinkles across the nose bridge
        g = aus[9] * subject.au_gain(9)
        for fy in (0.45, 0.50):
            shade += 30.0 * g * _gauss(xx, yy, off + 0.5 * box, off + fy * box, 0.06 * box, 0.01 * box)
    # The lips part when the lower lip drops further than the upper lip moves.
    opening = max(moves["lip_lower"] - moves["lip_upper"], 0.0) * box
    lip_mid = (LANDMARKS["lip_upper"][1] + LANDMARKS["lip_lower"][1]) / 2
    half_w = (0.5 - LANDMARKS["mouth_corner"][0] - moves["mouth_corner"] - 0.03) * box
    mouth = (off + 0.5 * box, off + lip_mid * box, 0.5 * opening, max(half_w, 2.0), opening)
    return FaceModel(patch, box, field, shade, mouth)


@dataclass
class FaceTrack:
    """One face of a clip: what to render where, frame by frame (sizes in pixels)."""

    label: str
    subject: str
    box: int  # face-box side at scale 1
    centre: tuple[float, float]
    curve: np.ndarray  # (T,) ground-truth intensity
    strength: float  # clip-level amplitude factor
    dx: np.ndarray
    dy: np.ndarray
    scale: np.ndarray
    present: np.ndarray  # (T,) bool


def place_face(frame: np.ndarray, face: FaceTrack, t: int) -> np.ndarray:
    """Render ``face`` at frame ``t`` into ``frame`` (float32 BGR, in place); returns its box.

    The patch centre (the face-box centre) goes to the track's centre plus its drift at
    ``t``, scaled by its scale at ``t``; the box is ``x, y, w, h`` int32.

    Example:
        >>> box = place_face(frame, track, 0)  # doctest: +SKIP
    """
    model = face_model(make_subject(face.subject), face.label, face.box)
    patch = model.render(float(face.curve[t]) * face.strength)
    s = float(face.scale[t])
    cx = face.centre[0] + float(face.dx[t])
    cy = face.centre[1] + float(face.dy[t])
    side = patch.shape[0]
    # Map the face-box centre inside the patch (exact for odd sizes too) to (cx, cy), scale s.
    pc = model.box // 2 + model.box / 2.0
    height, width = frame.shape[:2]
    x0, y0 = max(int(np.floor(cx - s * pc)), 0), max(int(np.floor(cy - s * pc)), 0)
    x1 = min(int(np.ceil(cx + s * (side - pc))) + 1, width)
    y1 = min(int(np.ceil(cy + s * (side - pc))) + 1, height)
    m = np.array([[s, 0.0, cx - s * pc - x0], [0.0, s, cy - s * pc - y0]], np.float64)
    warped = cv2.warpAffine(
        patch, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0)
    )
    alpha = warped[..., 3:4]
    roi = frame[y0:y1, x0:x1]
    roi += alpha * (warped[..., :3] - roi)
    w = model.box * s
    return np.array([round(cx - w / 2.0), round(cy - w / 2.0), round(w), round(w)], np.int32)
