"""A synthetic dataset on disk: one clip per subject and label, laid out as the real datasets are,
plus ``ground_truth.json``. The clips come from :func:`fer_edge.data.synth.make_clip`.

Example:
    >>> write_dataset("data/synth", subjects=["F001"], labels="happy,sad")  # doctest: +SKIP
    [PosixPath('data/synth/F001_happy.avi'), PosixPath('data/synth/F001_sad.avi')]
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from fer_edge.core.atomic import write_text
from fer_edge.core.errors import FerEdgeError, unknown_choice
from fer_edge.core.labels import THESIS
from fer_edge.data.synth import check_size, clip_seed, make_clip, resolve_label

__all__ = ["LAYOUTS", "write_dataset"]

LAYOUTS = ("avi", "frames")


def write_dataset(
    root: str | os.PathLike[str],
    *,
    subjects: Sequence[str] = ("F001", "F002", "M001", "M002"),
    labels: str | Sequence[str] = THESIS,
    layout: str = "avi",
    frames: int = 60,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
    fps: float = 25.0,
    background: str = "plain",
    progress: bool = False,
) -> list[Path]:
    """Write one clip per subject and label, plus ``ground_truth.json``.

    Layouts (as the real datasets are laid out, so the same readers work on both):

    * ``"avi"`` (BU-4DFE videos): ``<root>/<subject>_<label>.avi``, MJPG.
    * ``"frames"`` (BU-4DFE frame folders): ``<root>/<subject>/<Label>/000.png ...``,
      lossless PNG, zero-padded 3-digit index.

    ``<root>/ground_truth.json`` is a list with one record per clip: ``file`` (relative to
    ``root``), ``subject``, ``label``, ``fps``, ``frames``, ``size``, ``seed``, ``intensity``
    (per frame), ``boxes`` (per frame and face, ``[x, y, w, h]`` or ``-1``s), ``labels``,
    ``subjects``. Each clip's seed is :func:`clip_seed` ``(seed, subject, label)``, so
    ``make_clip(label, subject=..., seed=record["seed"], ...)`` regenerates it exactly.
    Every file is written under a temporary name and renamed when complete.

    Args:
        root: output folder (created).
        subjects: subject ids; each id is one face.
        labels: label-set name (``"thesis"``, ``"fer2013"``) or a list of labels.
        layout: ``"avi"`` or ``"frames"``.
        frames: frames per clip.
        size: ``(width, height)``.
        seed: dataset seed.
        fps: frame rate.
        background: ``"plain"`` or ``"textured"``.
        progress: show a progress bar.

    Returns:
        The clip paths (files or folders), in subject-major order.

    Example:
        >>> paths = write_dataset("data/synth", subjects=["F001", "M001"], labels="happy,sad")  # doctest: +SKIP
        >>> [p.name for p in paths]  # doctest: +SKIP
        ['F001_happy.avi', 'F001_sad.avi', 'M001_happy.avi', 'M001_sad.avi']
    """
    from fer_edge.core.labels import LABEL_SETS, get_labels
    from fer_edge.runtime.video import open_writer, write_frames

    if layout not in LAYOUTS:
        raise unknown_choice("layout", layout, LAYOUTS)
    if isinstance(labels, str) and labels not in LABEL_SETS and "," not in labels:
        names = [resolve_label(labels)]  # one label, e.g. --labels happy
    else:
        names = [resolve_label(name) for name in get_labels(labels)]
    subjects = [str(s).strip() for s in subjects]
    bad = [s for s in subjects if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", s)]
    if not subjects or bad:
        raise FerEdgeError(f"invalid subject ids {bad or subjects}; use letters, digits and '-' (e.g. F001,M001)")
    if len(set(subjects)) != len(subjects):
        raise FerEdgeError(f"duplicate subject ids in {subjects}; give each subject once")
    check_size(size, frames)
    root = Path(root).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FerEdgeError(f"cannot create {root} ({exc}); choose a writable --out folder") from None

    jobs = [(s, name) for s in subjects for name in names]
    if progress:
        from fer_edge.core.progress import progress as progress_bar

        jobs = progress_bar(jobs, desc="synth", unit="clip", leave=True)  # log lines, not \r bars, off a TTY
    paths: list[Path] = []
    records: list[dict[str, object]] = []
    for subject, name in jobs:
        clip = make_clip(
            name,
            subject=subject,
            frames=frames,
            size=size,
            fps=fps,
            seed=clip_seed(seed, subject, name),
            background=background,
        )
        if layout == "avi":
            path = root / f"{subject}_{name}.avi"
            with open_writer(path, fps, (clip.frames.shape[2], clip.frames.shape[1])) as writer:
                for frame in clip.frames:
                    writer.write(frame)
        else:
            path = write_frames(root / subject / name.capitalize(), clip.frames, ext=".png")
        paths.append(path)
        records.append(clip.record(path.relative_to(root).as_posix()))
    target = root / "ground_truth.json"
    # One clip per line: readable, diffable, and a few KB instead of pretty-printed MBs.
    write_text(target, "[\n" + ",\n".join(json.dumps(r, separators=(",", ":")) for r in records) + "\n]\n")
    return paths
