"""Synthetic face videos on disk, shared by the runtime tests (sequential and pipelined)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_edge.data.synth import SynthClip, make_clip
from fer_edge.runtime.video import open_writer


def write_video(path: Path, frames: np.ndarray, fps: float = 25.0) -> Path:
    """``frames`` (N, H, W, 3) as a video at ``path``."""
    h, w = frames.shape[1:3]
    with open_writer(path, fps, (w, h)) as writer:
        for f in frames:
            writer.write(f)
    return path


def face_leaves_video(path: Path) -> tuple[Path, SynthClip]:
    """40 frames of one happy face that leaves at frame 15 and comes back at 24."""
    clip = make_clip("happy", subject="F001", frames=40, size=(320, 240), seed=3, gaps=[(15, 24)])
    return write_video(path, clip.frames), clip


def two_faces_video(path: Path, frames: int) -> tuple[Path, SynthClip]:
    """Two surprised faces side by side."""
    clip = make_clip("surprise", subject="M001", frames=frames, size=(480, 240), seed=5, second_face=True)
    return write_video(path, clip.frames), clip
