"""Deterministic synthetic face videos with known labels, intensity curves and face boxes.

No licensed dataset (BU-4DFE, FER2013) ships with fer-edge, yet every stage needs face
videos whose labels are learnable and whose per-frame ground truth is known. A clip here
is a real face (see :mod:`fer_edge.data.synth_face`) that goes neutral -> apex -> neutral
with a seeded onset-apex-offset intensity curve, moves its head slightly (so trackers have
work to do), under mild brightness jitter and sensor noise. Options add a second face, gaps
where the first face is absent, and a textured background.

Same arguments and seed -> bit-identical frames. numpy + OpenCV (+ scikit-image) only.

Example:
    >>> clip = make_clip("happy", subject="F001", frames=60, size=(160, 120))
    >>> clip.frames.shape, clip.boxes.shape, float(clip.intensity.max())
    ((60, 120, 160, 3), (60, 1, 4), 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from fer_edge.core.errors import FerEdgeError, unknown_choice
from fer_edge.core.labels import THESIS, canonical
from fer_edge.data.synth_face import EXPRESSIONS, FaceTrack, make_subject, place_face, stable_int

__all__ = [
    "BACKGROUNDS",
    "SynthClip",
    "clip_seed",
    "intensity_curve",
    "make_clip",
    "resolve_label",
    "check_size",
]

BACKGROUNDS = ("plain", "textured")
_NOISE_SIGMA = 2.0  # sensor noise, grey levels
_MIN_FACE = 24  # Haar's frontal cascade cannot see faces smaller than its 24 px window


@dataclass
class SynthClip:
    """A rendered clip and its ground truth.

    Attributes:
        frames: (T, H, W, 3) uint8 BGR.
        boxes: (T, F, 4) int32 ``x, y, w, h`` of each face (the box Haar's frontal cascade
            reports); -1 where the face is absent.
        intensity: (T,) float32 in [0, 1], expression intensity of the first face.
        label: label of the first face.
        subject: subject id of the first face.
        fps: frames per second.
        labels: label of each face.
        subjects: subject id of each face.
        intensities: (T, F) float32 intensity of each face.
        seed: the seed the clip was made with.
    """

    frames: np.ndarray
    boxes: np.ndarray
    intensity: np.ndarray
    label: str
    subject: str
    fps: float
    labels: list[str]
    subjects: list[str] = field(default_factory=list)
    intensities: np.ndarray | None = None
    seed: int = 0

    @property
    def present(self) -> np.ndarray:
        """(T, F) bool: where each face is in the frame."""
        return self.boxes[..., 2] > 0

    def record(self, file: str) -> dict[str, object]:
        """The ground-truth record of this clip as written to ``ground_truth.json``.

        Example:
            >>> make_clip("sad", frames=8, size=(64, 48)).record("F001_sad.avi")["frames"]  # doctest: +SKIP
            8
        """
        return {
            "file": file,
            "subject": self.subject,
            "label": self.label,
            "fps": self.fps,
            "frames": int(self.frames.shape[0]),
            "size": [int(self.frames.shape[2]), int(self.frames.shape[1])],
            "seed": self.seed,
            "intensity": [round(float(v), 4) for v in self.intensity],
            "boxes": self.boxes.tolist(),
            "labels": list(self.labels),
            "subjects": list(self.subjects),
        }


def resolve_label(name: str) -> str:
    """Canonical expression label, or a FerEdgeError with a "did you mean".

    Example:
        >>> resolve_label("Happiness")
        'happy'
    """
    label = canonical(str(name))
    if label in EXPRESSIONS:
        return label
    raise unknown_choice("expression", name, EXPRESSIONS, match=str(name).lower())


def clip_seed(seed: int, subject: str, label: str) -> int:
    """The seed of one clip of a dataset, stable across processes and Python versions.

    Example:
        >>> clip_seed(0, "F001", "happy") == clip_seed(0, "F001", "happy")
        True
    """
    return stable_int("clip", int(seed), subject, label) % 2**31  # short enough to type


def intensity_curve(frames: int, rng: np.random.Generator) -> np.ndarray:
    """Onset-apex-offset curve: neutral, smooth rise, apex plateau at 1, fall, neutral.

    Phase lengths are drawn from ``rng`` (as fractions of the clip: neutral start 6-14 %,
    rise 15-25 %, apex 20-35 %, fall 15-25 %, the rest neutral end). Rise and fall follow a
    smoothstep so the motion starts and stops gently, as in BU-4DFE.

    Example:
        >>> c = intensity_curve(60, np.random.default_rng(0))
        >>> float(c[0]), float(c.max()), float(c[-1])
        (0.0, 1.0, 0.0)
    """
    fractions = rng.uniform([0.06, 0.15, 0.20, 0.15], [0.14, 0.25, 0.35, 0.25])
    lengths = np.maximum(np.round(fractions * frames), [1, 1, 1, 1]).astype(int)
    start, rise, apex, fall = (int(v) for v in lengths)
    t = np.arange(frames, dtype=np.float64)
    up = np.clip((t - start + 1) / (rise + 1), 0.0, 1.0)
    down = np.clip((t - (start + rise + apex) + 1) / (fall + 1), 0.0, 1.0)
    value = up - down
    value = value * value * (3.0 - 2.0 * value)
    value[start + rise : start + rise + apex] = 1.0
    if frames > 2:  # the first and last frames are neutral however short the clip
        value[0] = value[-1] = 0.0
    return np.clip(value, 0.0, 1.0).astype(np.float32)


def _smooth_path(frames: int, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """A slow random wobble: two sinusoids with random periods (2-6 s at 25 fps) and phases."""
    t = np.arange(frames, dtype=np.float64)
    periods = rng.uniform(50.0, 150.0, 2)
    phases = rng.uniform(0.0, 2 * np.pi, 2)
    weights = rng.uniform(0.4, 1.0, 2)
    path = sum(w * np.sin(2 * np.pi * t / p + ph) for w, p, ph in zip(weights, periods, phases))
    return amplitude * path / weights.sum()


def _background(width: int, height: int, style: str, rng: np.random.Generator) -> np.ndarray:
    base = rng.uniform(70.0, 190.0, 3).astype(np.float32)
    if style == "plain":
        return np.broadcast_to(base, (height, width, 3)).astype(np.float32)
    # Low-frequency texture (walls, shelves, light falloff): no face-like high contrast, so
    # the Haar cascade does not fire on it.
    coarse = rng.uniform(-35.0, 35.0, (4, 5, 3)).astype(np.float32)
    texture = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = cv2.resize(
        rng.uniform(-6.0, 6.0, (height // 4 + 1, width // 4 + 1, 3)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_LINEAR,
    )
    ramp = np.linspace(-12.0, 12.0, height, dtype=np.float32)[:, None, None]
    return np.clip(base + texture + grain + ramp, 0.0, 255.0)


def _plan_face(
    label: str,
    subject: str,
    box: float,
    centre: tuple[float, float],
    frames: int,
    rng: np.random.Generator,
    wobble: float,
    motion: float,
) -> FaceTrack:
    traits = make_subject(subject)
    side = max(int(round(box * traits.size)), _MIN_FACE)
    curve = intensity_curve(frames, rng) if EXPRESSIONS[label] else np.zeros(frames, np.float32)
    strength = float(rng.uniform(0.9, 1.1))
    dx = _smooth_path(frames, rng, wobble)
    dy = _smooth_path(frames, rng, wobble * 0.6)
    scale = 1.0 + _smooth_path(frames, rng, 0.03 * motion)
    return FaceTrack(label, subject, side, centre, curve, strength, dx, dy, scale, np.ones(frames, bool))


def make_clip(
    label: str,
    *,
    subject: str = "F001",
    frames: int = 60,
    size: tuple[int, int] = (320, 240),
    fps: float = 25.0,
    seed: int = 0,
    second_face: bool = False,
    gaps: Sequence[tuple[int, int]] = (),
    face_scale: float = 0.5,
    background: str = "plain",
    motion: float = 1.0,
    second_subject: str | None = None,
    second_label: str | None = None,
) -> SynthClip:
    """Render one synthetic expression clip with its per-frame ground truth.

    Args:
        label: expression of the first face (``angry``, ``disgust``, ``fear``, ``happy``,
            ``sad``, ``surprise`` or ``neutral``; spellings like ``Happiness`` are accepted).
        subject: subject id; the same id is always the same face and traits.
        frames: number of frames T (>= 1).
        size: ``(width, height)`` in pixels (each >= 32).
        fps: frame rate stored with the clip.
        seed: seed of everything that varies between clips (curve, motion, noise, background).
        second_face: add another subject's face on the right with its own label and curve.
        gaps: ``[(start, stop), ...]`` frame ranges (stop exclusive) where the first face is
            absent; its intensity curve runs on underneath.
        face_scale: face-box side as a fraction of the frame height (before the subject's
            own +-8 % size).
        background: ``"plain"`` or ``"textured"``.
        motion: head-motion factor: 1 = a few pixels of drift and +-3 % scale, 0 = still.
        second_subject: subject of the second face (default: a fixed other subject).
        second_label: label of the second face (default: drawn from the seed).

    Returns:
        A :class:`SynthClip`.

    Raises:
        FerEdgeError: unknown label or background, bad sizes, gaps outside the clip, or
            faces that do not fit in the frame.

    Example:
        >>> clip = make_clip("surprise", subject="M001", frames=30, size=(160, 120), seed=3)
        >>> clip.boxes[clip.intensity.argmax(), 0]
        array([42, 27, 61, 61], dtype=int32)
    """
    label = resolve_label(label)
    width, height, frames = check_size(size, frames)
    if not np.isfinite(fps) or fps <= 0:
        raise FerEdgeError(f"fps must be > 0, got {fps}")
    if background not in BACKGROUNDS:
        raise unknown_choice("background", background, BACKGROUNDS)
    if not 0.05 <= face_scale <= 0.8:
        raise FerEdgeError(f"face_scale must be in [0.05, 0.8] (fraction of the frame height), got {face_scale}")
    box = face_scale * height
    if box < _MIN_FACE:
        raise FerEdgeError(
            f"faces of {box:.0f} px are too small to detect; use face_scale >= "
            f"{_MIN_FACE / height:.2f} or a taller frame"
        )
    for gap in gaps:
        start, stop = (int(v) for v in gap)
        if not 0 <= start < stop <= frames:
            raise FerEdgeError(
                f"gap {tuple(gap)} is outside the clip of {frames} frames; "
                "give (start, stop) with 0 <= start < stop <= frames"
            )

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(5)]
    r_face, r_second, r_scene, r_noise, r_light = streams
    if not 0.0 <= motion <= 3.0:
        raise FerEdgeError(f"motion must be in [0, 3] (1 = default head motion, 0 = still), got {motion}")
    wobble = float(motion) * (0.015 * min(width, height) + 1.0)  # a few pixels of head motion
    # Half the largest face box (subject size up to +8 %, scale wobble) plus the drift.
    margin = 0.5 * box * 1.08 * (1.0 + 0.03 * motion) + wobble + 2
    if second_face:
        centres = [(0.30 * width, 0.50 * height), (0.73 * width, 0.52 * height)]
        second_margin = 0.85 * (margin - wobble - 2) + wobble + 2  # the second face is smaller
        if centres[1][0] - centres[0][0] < margin + second_margin or 0.27 * width < second_margin:
            raise FerEdgeError(
                f"two faces of face_scale={face_scale} do not fit side by side in "
                f"{width}x{height}; use a wider frame or a smaller face_scale"
            )
    else:
        centres = [(0.5 * width, 0.5 * height)]
    if margin > 0.5 * height:
        raise FerEdgeError(f"face_scale={face_scale} is too large for {width}x{height}; use <= 0.75")
    jitter = r_scene.uniform(-0.04, 0.04, 2) * (width, height)
    right = centres[1][0] - second_margin if second_face else width - margin
    first_centre = (
        float(np.clip(centres[0][0] + jitter[0], margin, max(right - margin, margin))),
        float(np.clip(centres[0][1] + jitter[1], margin, height - margin)),
    )
    faces = [_plan_face(label, subject, box, first_centre, frames, r_face, wobble, motion)]
    for start, stop in gaps:
        faces[0].present[int(start) : int(stop)] = False
    if second_face:
        other = second_subject or _other_subject(subject)
        other_label = resolve_label(second_label) if second_label else str(r_second.choice(THESIS))
        faces.append(_plan_face(other_label, other, box * 0.85, centres[1], frames, r_second, wobble, motion))

    bg = _background(width, height, background, r_scene)
    gain = 1.0 + _smooth_path(frames, r_light, 0.04)
    video = np.empty((frames, height, width, 3), np.uint8)
    boxes = np.full((frames, len(faces), 4), -1, np.int32)
    for t in range(frames):
        frame = bg.copy()
        for f, face in enumerate(faces):
            if face.present[t]:
                boxes[t, f] = place_face(frame, face, t)
        frame *= np.float32(gain[t])
        frame += r_noise.standard_normal(frame.shape, dtype=np.float32) * np.float32(_NOISE_SIGMA)
        np.clip(frame, 0.0, 255.0, out=frame)
        video[t] = (frame + 0.5).astype(np.uint8)
    intensities = np.stack([face.curve for face in faces], axis=1)
    return SynthClip(
        video,
        boxes,
        faces[0].curve.copy(),
        label,
        subject,
        float(fps),
        [face.label for face in faces],
        [face.subject for face in faces],
        intensities,
        int(seed),
    )


def _other_subject(subject: str) -> str:
    """A fixed different subject for the second face (different source face)."""
    from fer_edge.data.synth_face import subject_source

    for k in range(1, 1000):
        candidate = f"X{stable_int('second', subject, k) % 10_000:04d}"
        if subject_source(candidate) != subject_source(subject):
            return candidate
    return "M001" if subject != "M001" else "F001"  # pragma: no cover - pool of one face


MAX_SIDE = 4096
MAX_CLIP_BYTES = 2 * 1024**3


def check_size(size: tuple[int, int], frames: int) -> tuple[int, int, int]:
    """``(width, height, frames)`` if a clip of them fits the limits (a clip is held in memory).

    Example:
        >>> check_size((320, 240), 60)
        (320, 240, 60)
    """
    width, height = (int(v) for v in size)
    frames = int(frames)
    if frames < 1:
        raise FerEdgeError(f"frames must be >= 1, got {frames}")
    if not (32 <= width <= MAX_SIDE and 32 <= height <= MAX_SIDE):
        raise FerEdgeError(f"frame size must be between 32x32 and {MAX_SIDE}x{MAX_SIDE}, got {width}x{height}")
    need = frames * width * height * 3
    if need > MAX_CLIP_BYTES:
        raise FerEdgeError(
            f"a clip of {frames} frames of {width}x{height} needs {need / 1024**3:.1f} GiB of "
            f"memory (limit {MAX_CLIP_BYTES / 1024**3:.0f} GiB); use fewer --frames or a smaller --size"
        )
    return width, height, frames
