"""Calibration and validation data for optimizing a bundle, prepared exactly as the runtime does.

Where the data comes from, in order:

1. ``--calibration DATA``: a video file or a folder of videos (faces found by the runtime's
   detector/tracker), a preprocessed folder (``index.jsonl``; clips with labels), a folder of
   face images, or an ``.npz`` with ``frames`` (N, H, W, C) or ``clips`` (N, T, H, W, C) raw
   0..255 pixels in the bundle's colour order and optional integer ``labels`` (N,).
2. The data the bundle was trained on (``provenance.data``): calibration from the training
   part, validation from the held-out test part (fold 0 when there is no test part).
3. For the default frame bundle only: face crops the tracker produces from the sample videos.

Each item is a *clip* of preprocessed frames (a video track, a preprocessed clip; a face image
is a one-frame clip), normalised with the manifest's ``(x / 255 - mean) / std``. Labels are
optional; without them accuracy becomes agreement with the FP32 model.

Example:
    >>> data = load_calibration(load_bundle("runs/fer"), subset_size=300)  # doctest: +SKIP
    >>> data.frames().shape  # doctest: +SKIP
    (300, 64, 64, 1)
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_edge.core.errors import FerEdgeError
from fer_edge.core.fileio import load_npz
from fer_edge.runtime.bundle import Bundle

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
HOW_TO = (
    "pass --calibration DATA (a video or folder of videos with faces, a preprocessed folder, "
    "a folder of face images, or an .npz with frames/clips)"
)


@dataclass
class CalibrationData:
    """Preprocessed clips of a bundle's frames plus optional labels.

    Attributes:
        clips: per clip, the model-ready frames ``(t, H, W, C)`` float32.
        labels: per clip label index, or None when the data is unlabelled.
        source: where the clips came from (for the report and the manifest).
        validation: held-out clips used for accuracy (control); None = the calibration clips.
        validation_labels: their labels.
    """

    clips: list[np.ndarray]
    labels: list[int] | None
    source: str
    validation: list[np.ndarray] | None = None
    validation_labels: list[int] | None = None

    def __len__(self) -> int:
        return len(self.clips)

    def frames(self, limit: int | None = None, *, seed: int = 0) -> np.ndarray:
        """All frames of the calibration clips, ``(N, H, W, C)``; an even subset of ``limit``."""
        frames = np.concatenate(self.clips) if self.clips else np.zeros((0,), np.float32)
        if limit is not None and len(frames) > limit:
            # A seeded choice over all clips keeps every subject/expression represented.
            idx = np.sort(np.random.default_rng(seed).choice(len(frames), limit, replace=False))
            frames = frames[idx]
        return frames

    def val(self) -> tuple[list[np.ndarray], list[int] | None]:
        """The clips and labels that accuracy is measured on."""
        if self.validation is not None:
            return self.validation, self.validation_labels
        return self.clips, self.labels


def _fit_frames(bundle: Bundle, pixels: np.ndarray, what: str) -> np.ndarray:
    """Resize/convert raw ``(N, h, w, c)`` pixels to the bundle's frame, then normalise."""
    import cv2

    h, w = bundle.frame.size
    c = bundle.frame.channels
    if pixels.ndim == 3:
        pixels = pixels[..., None]
    if pixels.ndim != 4 or pixels.shape[-1] not in (1, 3) or 0 in pixels.shape:
        raise FerEdgeError(f"{what}: expected frames (N, H, W, 1|3), got shape {pixels.shape}")
    if np.issubdtype(pixels.dtype, np.floating) and not np.isfinite(pixels).all():
        raise FerEdgeError(f"{what}: frames hold NaN or infinite pixels; give 0..255 values")
    if pixels.shape[1] > 8192 or pixels.shape[2] > 8192:
        raise FerEdgeError(f"{what}: frames of {pixels.shape[2]}x{pixels.shape[1]} exceed 8192 px a side")
    if pixels.shape[-1] != c:
        if c == 1:
            pixels = np.stack([cv2.cvtColor(np.ascontiguousarray(f, np.uint8), cv2.COLOR_RGB2GRAY) for f in pixels])[
                ..., None
            ]
        else:
            raise FerEdgeError(
                f"{what}: frames have {pixels.shape[-1]} channel(s) but the bundle takes "
                f"{bundle.frame.color}; give {c}-channel frames"
            )
    if pixels.shape[1:3] != (h, w):
        pixels = np.stack(
            [cv2.resize(np.ascontiguousarray(f), (w, h), interpolation=cv2.INTER_AREA) for f in pixels]
        ).reshape(len(pixels), h, w, c)
    return bundle.frame.normalise(pixels)


def video_clips(bundle: Bundle, videos: list[Path], *, max_frames: int = 2000) -> list[np.ndarray]:
    """One clip per face track of each video, cropped and normalised by the runtime's own code.

    Uses :class:`fer_edge.runtime.pipeline.Pipeline`'s detector/tracker and ``preprocess``
    so that calibration sees exactly the crops the runtime feeds the model.
    """
    from fer_edge.runtime.pipeline import Pipeline
    from fer_edge.runtime.video import open_source

    pipe = Pipeline(bundle)
    clips: list[np.ndarray] = []
    total = 0
    for video in videos:
        pipe.reset()
        tracks: dict[int, list[np.ndarray]] = {}
        with open_source(video) as source:
            for _, frame in source:
                faces = pipe.manager.update(frame)
                if faces:
                    batch = pipe.preprocess(frame, [f.box for f in faces])
                    for face, x in zip(faces, batch):
                        tracks.setdefault(face.id, []).append(x)
                        total += 1
                if total >= max_frames:
                    break
        clips += [np.stack(v) for v in tracks.values() if v]
        log.info("calibration: %s -> %d face track(s)", video.name, len(tracks))
        if total >= max_frames:
            break
    return clips


def _from_npz(bundle: Bundle, path: Path) -> tuple[list[np.ndarray], list[int] | None]:
    data = load_npz(path, "calibration file")
    if "labels" in data and data["labels"].dtype.kind not in "iu":
        raise FerEdgeError(f"{path}: 'labels' must be integers, got {data['labels'].dtype}")
    labels = [int(v) for v in data["labels"].reshape(-1)] if "labels" in data else None
    if "clips" in data:
        raw = data["clips"]
        if raw.ndim != 5:
            raise FerEdgeError(f"{path}: 'clips' must be (N, T, H, W, C), got {raw.shape}")
        clips = [_fit_frames(bundle, c, str(path)) for c in raw]
    elif "frames" in data:
        frames = _fit_frames(bundle, data["frames"], str(path))
        clips = [f[None] for f in frames]
    else:
        raise FerEdgeError(
            f"{path} has neither 'frames' nor 'clips' (has: {', '.join(data) or 'nothing'}); "
            "save frames (N, H, W, C) or clips (N, T, H, W, C) of 0..255 pixels"
        )
    if labels is not None:
        if len(labels) != len(clips):
            raise FerEdgeError(f"{path}: {len(labels)} labels for {len(clips)} items; give one label per item")
        bad = [v for v in labels if not 0 <= v < len(bundle.labels)]
        if bad:
            raise FerEdgeError(
                f"{path}: label {bad[0]} is outside 0..{len(bundle.labels) - 1} ({', '.join(bundle.labels)})"
            )
    return clips, labels


def _from_images(bundle: Bundle, folder: Path, files: list[Path]) -> list[np.ndarray]:
    import cv2

    out = []
    for f in files:
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img is None:
            raise FerEdgeError(f"cannot read image {f}; remove it from {folder}")
        img = img if bundle.frame.color == "BGR" else img[..., ::-1]
        # One image at a time: a folder may mix sizes (each is squared, then fitted to the bundle).
        out.append(_fit_frames(bundle, _square(img)[None], str(f)))
    return out


def _square(img: np.ndarray) -> np.ndarray:
    import cv2

    side = max(img.shape[:2])
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)


def _from_clipset(bundle: Bundle, data, *, max_clips: int, trimmed: bool, seed: int) -> CalibrationData:
    size = bundle.frame.size[0]

    def load(records):
        clips = []
        for r in records:
            # ClipSet.load gives RGB; reorder for bundles declaring another colour order.
            rgb = data.load(r, size=size, trimmed=trimmed)
            pixels = rgb[..., ::-1] if bundle.frame.color == "BGR" else rgb
            clips.append(_fit_frames(bundle, pixels, str(data.root)))
        return clips, [data.label_index(r) for r in records]

    rng = np.random.default_rng(seed)
    train = list(data.part("train"))
    rng.shuffle(train)
    test = data.part("test") or data.part("fold-0")
    calib, calib_y = load(train[:max_clips])
    val, val_y = load(test[:max_clips])
    part = "test" if data.part("test") else "fold-0"
    return CalibrationData(calib, calib_y, f"{data.root} (train; validation: {part})", val, val_y)


def load_calibration(
    bundle: Bundle,
    source: str | os.PathLike | None = None,
    *,
    max_clips: int = 200,
    max_frames: int = 2000,
    seed: int = 0,
) -> CalibrationData:
    """Calibration/validation clips for ``bundle`` (see the module docstring for the sources).

    Args:
        bundle: the bundle to optimize.
        source: ``--calibration`` DATA; None = the bundle's own data or the sample videos.
        max_clips: most clips read from a preprocessed folder (per part).
        max_frames: most face crops taken from videos.
        seed: seed of the subsets.

    Raises:
        FerEdgeError: no data recorded and none given, or data that does not fit the bundle.

    Example:
        >>> data = load_calibration(bundle, "runs/synthetic/pre")  # doctest: +SKIP
    """
    if source is not None:
        return _from_path(bundle, Path(source), max_clips=max_clips, max_frames=max_frames, seed=seed)
    info = bundle.provenance.get("data")
    if isinstance(info, dict) and info.get("preprocessed"):
        if not Path(info["preprocessed"]).is_dir():
            raise FerEdgeError(f"bundle {bundle.path} was trained on {info['preprocessed']}, which is gone; {HOW_TO}")
        from fer_edge.data.clipset import data_from_bundle

        data = data_from_bundle(bundle)
        return _from_clipset(bundle, data, max_clips=max_clips, trimmed=bool(info.get("trimmed", True)), seed=seed)
    from fer_edge.core.assets import DEFAULT_BUNDLE, sample_video
    from fer_edge.runtime.kinds import FrameKind, kind_of

    if bundle.name == DEFAULT_BUNDLE and isinstance(kind_of(bundle), FrameKind):
        folder = sample_video().parent
        videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        clips = video_clips(bundle, videos, max_frames=max_frames)
        return _check(CalibrationData(clips, None, f"sample videos ({folder})"), bundle)
    raise FerEdgeError(f"bundle {bundle.path} records no calibration data; {HOW_TO}")


def _from_path(bundle: Bundle, path: Path, *, max_clips: int, max_frames: int, seed: int) -> CalibrationData:
    if not path.exists():
        raise FerEdgeError(f"calibration data not found: {path}; {HOW_TO}")
    if path.is_file() and path.suffix.lower() == ".npz":
        clips, labels = _from_npz(bundle, path)
        return _check(CalibrationData(clips, labels, str(path)), bundle)
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        return _check(CalibrationData(video_clips(bundle, [path], max_frames=max_frames), None, str(path)), bundle)
    if path.is_dir() and (path / "index.jsonl").is_file():
        from fer_edge.data.clipset import ClipSet
        from fer_edge.data.preprocess import read_index

        records = [r for r in read_index(path) if r.get("status") == "ok" and r.get("emotion") in bundle.labels]
        if not records:
            raise FerEdgeError(f"{path} has no usable clips labelled {', '.join(bundle.labels)}")
        subjects = sorted({r["subject"] for r in records})
        # Without a split, every subject is both calibration and validation data.
        data = ClipSet(path, records, tuple(bundle.labels), {"test": [], "folds": [subjects]})
        return _check(_from_clipset(bundle, data, max_clips=max_clips, trimmed=True, seed=seed), bundle)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())  # a FIFO named *.avi would block
        videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
        if videos:
            return _check(CalibrationData(video_clips(bundle, videos, max_frames=max_frames), None, str(path)), bundle)
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        if images:
            return _check(CalibrationData(_from_images(bundle, path, images), None, str(path)), bundle)
    raise FerEdgeError(f"cannot use {path} as calibration data; {HOW_TO}")


def _check(data: CalibrationData, bundle: Bundle) -> CalibrationData:
    if not data.clips or not sum(len(c) for c in data.clips):
        raise FerEdgeError(f"no faces found in the calibration data {data.source}; {HOW_TO}")
    return data
