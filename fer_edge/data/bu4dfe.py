"""Index a BU-4DFE-style dataset: one clip per (subject, emotion).

Two layouts are recognised, anywhere below the root:

* videos named ``<subject>_<emotion>[_tex].<ext>``, e.g. ``M042_happy_tex.avi``,
  ``F001_Angry.avi`` (also ``<subject>/<emotion>.avi``);
* frame folders ``<subject>/<Emotion>/000.jpg|png|bmp`` (BU-4DFE's own distribution).

Subject ids are ``F``/``M`` + number (sex from the letter), normalised to three digits
(``f1`` -> ``F001``). Emotion spellings go through :func:`fer_edge.core.labels.canonical`.
Nothing is skipped silently: malformed names, unknown or out-of-set emotions, duplicates and
``exclude`` entries that match nothing are listed in :attr:`DatasetIndex.problems`; files that
are not media at all (``ground_truth.json``, notes) are listed in :attr:`DatasetIndex.ignored`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fer_edge.core.errors import FerEdgeError, closest
from fer_edge.core.labels import ALIASES, THESIS, canonical

VIDEO_EXTS = (".avi", ".mp4", ".mov", ".mkv", ".wmv", ".m4v", ".mpg", ".mpeg")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")

_SUBJECT = re.compile(r"^([FfMm])0*(\d{1,4})$")
_CLIP = re.compile(r"^([FfMm]\d{1,4})[_\-\s]+([A-Za-z]+)(?:[_\-\s]+tex)?$", re.IGNORECASE)


@dataclass(frozen=True)
class ClipEntry:
    """One clip of the dataset.

    Attributes:
        name: ``<subject>_<emotion>`` (``F001_angry``), unique in the index; safe as a folder name.
        subject: ``F001``.
        sex: ``F`` or ``M``.
        emotion: canonical label (``angry``).
        path: the video file or frame folder.
        media: ``"video"`` or ``"frames"`` (saved as ``kind`` in the preprocessed index).
    """

    name: str
    subject: str
    sex: str
    emotion: str
    path: str
    media: str


@dataclass(frozen=True)
class Problem:
    """Something in the dataset that could not be used, with the reason."""

    path: str
    reason: str


@dataclass
class DatasetIndex:
    """What :func:`index_bu4dfe` found.

    Attributes:
        root: the indexed folder.
        clips: usable clips, sorted by name.
        problems: files or folders that look like data but cannot be used, with reasons.
        excluded: clips left out on purpose (``exclude``).
        ignored: files that are not media (not a problem, listed for completeness).
    """

    root: str
    clips: list[ClipEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    excluded: list[ClipEntry] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def subjects(self) -> list[str]:
        """Sorted subject ids with at least one usable clip."""
        return sorted({c.subject for c in self.clips})

    def to_dict(self) -> dict:
        """JSON-ready form, for summaries."""
        return asdict(self) | {"subjects": self.subjects}


def parse_subject(text: str) -> tuple[str, str] | None:
    """``(subject, sex)`` for ``F001``/``m42``..., or None.

    Example:
        >>> parse_subject("m42")
        ('M042', 'M')
    """
    match = _SUBJECT.match(text.strip())
    if not match:
        return None
    sex = match.group(1).upper()
    return f"{sex}{int(match.group(2)):03d}", sex


def _emotion_problem(word: str, labels: Sequence[str]) -> str | None:
    label = canonical(word)
    if label is None:
        close = closest(word.lower(), ALIASES)
        hint = f" (did you mean '{ALIASES[close]}'?)" if close else ""
        return f"unknown emotion '{word}'{hint}; known: {', '.join(labels)}"
    if label not in labels:
        return f"emotion '{label}' is not in the label set ({', '.join(labels)})"
    return None


def _natural_key(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name))


def list_frames(folder: str | os.PathLike) -> list[Path]:
    """Image files of a frame folder in natural order (``2.png`` before ``10.png``).

    Example:
        >>> list_frames("/nonexistent")
        []
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS]
    return sorted(files, key=lambda p: _natural_key(p.name))


def _parse(path: Path, stem: str, parent: str) -> tuple[str, str, str] | str:
    """(subject, sex, emotion word) from a name, or the reason it is malformed."""
    match = _CLIP.match(stem)
    if match:
        subject, sex = parse_subject(match.group(1))  # type: ignore[misc]
        return subject, sex, match.group(2)
    parsed = parse_subject(parent)
    if parsed and re.fullmatch(r"[A-Za-z]+", stem):
        return parsed[0], parsed[1], stem
    return (
        f"cannot read subject and emotion from '{path.name}'; expected names like "
        "F001_Angry.avi, M042_happy_tex.avi or F001/Angry/000.png"
    )


def index_bu4dfe(
    root: str | os.PathLike,
    *,
    labels: Sequence[str] = THESIS,
    exclude: Iterable[str] = (),
) -> DatasetIndex:
    """Find every clip under ``root``.

    Args:
        root: dataset folder.
        labels: label set; emotions outside it are reported, not indexed.
        exclude: subject ids to leave out (``F016``); one that matches no subject is a problem.

    Raises:
        FerEdgeError: ``root`` is missing or not a folder.

    Example:
        >>> index = index_bu4dfe("data/BU4DFE", exclude=["F016"])  # doctest: +SKIP
        >>> index.clips[0].name, len(index.problems)                 # doctest: +SKIP
        ('F001_angry', 0)
    """
    base = Path(root)
    if not base.is_dir():
        what = "is not a folder" if base.exists() else "does not exist"
        raise FerEdgeError(f"dataset root {base} {what}; pass the folder holding the videos with --root")
    excluded_ids: dict[str, str] = {}
    for item in exclude:
        parsed = parse_subject(item)
        excluded_ids[parsed[0] if parsed else item.strip()] = item
    index = DatasetIndex(root=str(base))
    found: dict[str, ClipEntry] = {}
    candidates: list[tuple[Path, str, str, str]] = []  # path, media, stem, parent

    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort(key=_natural_key)
        here = Path(dirpath)
        images = [f for f in filenames if Path(f).suffix.lower() in IMAGE_EXTS]
        if images and here != base:
            candidates.append((here, "frames", here.name, here.parent.name))
        for f in sorted(filenames, key=_natural_key):
            ext = Path(f).suffix.lower()
            if not (here / f).is_file():  # FIFOs, sockets, devices: opening one would block
                index.problems.append(Problem(str(here / f), "not a regular file; skipped"))
            elif ext in VIDEO_EXTS:
                candidates.append((here / f, "video", Path(f).stem, here.name))
            elif ext not in IMAGE_EXTS:
                index.ignored.append(str(here / f))
        if images and here == base:
            index.problems.append(
                Problem(
                    str(base),
                    f"{len(images)} images directly in the root; frames belong in <subject>/<Emotion>/ folders",
                )
            )

    for path, media, stem, parent in candidates:
        parsed = _parse(path, stem, parent)
        if isinstance(parsed, str):
            index.problems.append(Problem(str(path), parsed))
            continue
        subject, sex, word = parsed
        why = _emotion_problem(word, labels)
        if why:
            index.problems.append(Problem(str(path), why))
            continue
        emotion = canonical(word)
        entry = ClipEntry(f"{subject}_{emotion}", subject, sex, emotion, str(path), media)  # type: ignore[arg-type]
        if entry.name in found:
            index.problems.append(
                Problem(
                    str(path),
                    f"duplicate clip {entry.name} (already {found[entry.name].path}); "
                    "keep one copy per subject and emotion",
                )
            )
            continue
        found[entry.name] = entry

    for entry in sorted(found.values(), key=lambda e: _natural_key(e.name)):
        (index.excluded if entry.subject in excluded_ids else index.clips).append(entry)
    matched = {e.subject for e in index.excluded}
    for sid, given in excluded_ids.items():
        if sid not in matched:
            index.problems.append(Problem(given, f"exclude '{given}' matches no subject in {base}"))
    return index
