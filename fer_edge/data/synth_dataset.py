"""A synthetic dataset on disk: one clip per subject and label, laid out as the real datasets are,
plus ``ground_truth.json``. The clips come from :func:`fer_edge.data.synth.make_clip`.

Example:
    >>> write_dataset("data/synth", subjects=["F001"], labels="happy,sad")  # doctest: +SKIP
    [PosixPath('data/synth/F001_happy.avi'), PosixPath('data/synth/F001_sad.avi')]
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fer_edge.core.atomic import save_via, write_text
from fer_edge.core.errors import FerEdgeError, unknown_choice
from fer_edge.core.labels import THESIS
from fer_edge.data.synth import check_size, clip_seed, make_clip, resolve_label

__all__ = ["LAYOUTS", "parse_subjects", "subject_ids", "write_dataset"]

LAYOUTS = ("avi", "frames")


def subject_ids(count: int) -> list[str]:
    """``count`` generated subject ids, alternating female and male as BU-4DFE names them.

    Example:
        >>> subject_ids(3)
        ['F001', 'M001', 'F002']
    """
    if not 1 <= count <= 10_000:
        raise FerEdgeError(f"the number of subjects must be in [1, 10000], got {count}")
    return [f"{'F' if i % 2 == 0 else 'M'}{i // 2 + 1:03d}" for i in range(count)]


def parse_subjects(text: str) -> list[str]:
    """``--subjects``: a number is a count of generated ids (:func:`subject_ids`), anything else a comma list.

    Example:
        >>> parse_subjects("2"), parse_subjects("F001, M007")
        (['F001', 'M001'], ['F001', 'M007'])
    """
    text = text.strip()
    if text.isdigit():
        return subject_ids(int(text))
    return [s.strip() for s in text.split(",") if s.strip()]


def _check_clip(path: Path, frames: int) -> None:
    """Refuse a video that does not read back whole (a full disk truncates it silently in OpenCV)."""
    import cv2

    # OpenCV's AVI reader prints its complaints about a cut file straight to fd 2: we say it better.
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        cap = cv2.VideoCapture(str(path), cv2.CAP_OPENCV_MJPEG)  # the MJPG writer's own reader
        got = 0
        while cap.isOpened() and cap.grab():
            got += 1
        cap.release()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    if got != frames:
        from fer_edge.core.atomic import write_error

        # OpenCV kept no errno (a full disk or a file-size limit): write_error says what the disk has left.
        raise write_error(path, RuntimeError(f"{got} of {frames} frames on disk"))


def _write_clip(path: Path, *, frames: Any, fps: float) -> None:
    from fer_edge.runtime.video import open_writer

    with open_writer(path, fps, (frames.shape[2], frames.shape[1])) as writer:
        for frame in frames:
            writer.write(frame)
    _check_clip(path, len(frames))


def _previous(root: Path) -> set[str]:
    """The clips a previous synth wrote into ``root`` (its ground_truth.json), relative paths."""
    from fer_edge.core.fileio import read_json

    try:
        records = read_json(root / "ground_truth.json", "ground truth", max_bytes=200_000_000)
    except FerEdgeError:
        return set()
    if not isinstance(records, list):
        return set()
    files = {r.get("file") for r in records if isinstance(r, dict)}
    return {f for f in files if isinstance(f, str) and f and ".." not in Path(f).parts and not Path(f).is_absolute()}


def _remove_stale(root: Path, stale: set[str]) -> None:
    """Remove clips the previous synth wrote that this one did not (and their emptied subject folders)."""
    for name in sorted(stale):
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.is_file() or path.is_symlink():
            path.unlink()
        for parent in path.parents:
            if parent == root or not parent.is_relative_to(root):
                break
            with contextlib.suppress(OSError):
                parent.rmdir()  # only when empty


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
    Every file is written under a temporary name and renamed when complete, a video only once it
    reads back whole. Writing again into ``root`` replaces the previous dataset: the clips its
    ``ground_truth.json`` lists and this one does not write are removed (nothing else is).

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

    Raises:
        FerEdgeError: bad arguments, or a write failed (a full disk: one line, no partial clip
            under a final name).

    Returns:
        The clip paths (files or folders), in subject-major order.

    Example:
        >>> paths = write_dataset("data/synth", subjects=["F001", "M001"], labels="happy,sad")  # doctest: +SKIP
        >>> [p.name for p in paths]  # doctest: +SKIP
        ['F001_happy.avi', 'F001_sad.avi', 'M001_happy.avi', 'M001_sad.avi']
    """
    from fer_edge.core.labels import LABEL_SETS, get_labels

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

    previous = _previous(root)
    try:
        paths = _write_clips(root, subjects, names, layout, frames, size, seed, fps, background, progress)
    except OSError as exc:
        raise FerEdgeError(
            f"cannot write the dataset into {root} ({exc.strerror or exc}); free some space or choose another --out"
        ) from None
    _remove_stale(root, previous - {p.relative_to(root).as_posix() for p in paths})
    return paths


def _write_clips(
    root: Path,
    subjects: list[str],
    names: list[str],
    layout: str,
    frames: int,
    size: tuple[int, int],
    seed: int,
    fps: float,
    background: str,
    progress: bool,
) -> list[Path]:
    from fer_edge.runtime.video import write_frames

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
            # Written and checked under a temporary name: OpenCV drops frames on a full disk without an error.
            save_via(path, functools.partial(_write_clip, frames=clip.frames, fps=fps), keep_suffix=True)
        else:
            path = write_frames(root / subject / name.capitalize(), clip.frames, ext=".png")
        paths.append(path)
        records.append(clip.record(path.relative_to(root).as_posix()))
    target = root / "ground_truth.json"
    # One clip per line: readable, diffable, and a few KB instead of pretty-printed MBs.
    write_text(target, "[\n" + ",\n".join(json.dumps(r, separators=(",", ":")) for r in records) + "\n]\n")
    return paths
