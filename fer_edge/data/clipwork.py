"""The per-clip work of the ``preprocess`` stage and its output files (index, summary, plot).

Split from :mod:`fer_edge.data.preprocess` (which orchestrates, resumes and parallelises) so
each file holds one idea. numpy + OpenCV only; matplotlib is imported lazily for the plot.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from fer_edge.data.bu4dfe import ClipEntry
from fer_edge.errors import FerEdgeError

log = logging.getLogger(__name__)


def _find_face(frames: list[np.ndarray], detector, limit: int):
    for i, frame in enumerate(frames[:limit]):
        boxes = detector.detect(frame)
        if boxes:
            return i, boxes[0]  # largest first: the subject, not a background false hit
    return None, None


def _nearest(boxes: list, last) -> tuple:
    cx, cy = last[0] + last[2] / 2, last[1] + last[3] / 2
    return min(boxes, key=lambda b: (b[0] + b[2] / 2 - cx) ** 2 + (b[1] + b[3] / 2 - cy) ** 2)


def track_faces(frames: list[np.ndarray], *, tracker: str = "medianflow", detect_frames: int = 10,
                detector=None) -> tuple[list[tuple], dict]:
    """One face box per frame: Haar in the first frames, then an OpenCV tracker.

    Frames before the first detection reuse the first detected box (the thesis' subjects sit
    still at the start). When the tracker loses the face, the frame is searched again with the
    detector (nearest face to the last box) and the tracker restarts there; if that finds
    nothing either, the last box is kept and the frame counted as ``lost``.

    Returns:
        ``(boxes, stats)`` with stats ``first_face``, ``lost``, ``redetected``.

    Raises:
        FerEdgeError: no face in the first ``detect_frames`` frames.

    Example:
        >>> boxes, stats = track_faces(frames, tracker="kcf")   # doctest: +SKIP
    """
    from fer_edge.faces.detect import HaarDetector
    from fer_edge.faces.track import create_tracker

    detector = detector or HaarDetector()
    first, box = _find_face(frames, detector, detect_frames)
    if box is None:
        raise FerEdgeError(f"no face found in the first {min(detect_frames, len(frames))} frames; "
                           "check the video or raise --detect-frames")
    follower = create_tracker(tracker)
    follower.init(frames[first], box)
    boxes = [tuple(int(v) for v in box)] * (first + 1)
    lost = redetected = 0
    for frame in frames[first + 1:]:
        ok, new = follower.update(frame)
        if not ok:
            found = detector.detect(frame)
            if found:
                new = _nearest(found, boxes[-1])
                follower.init(frame, new)
                redetected += 1
            else:
                new = boxes[-1]
                lost += 1
        boxes.append(tuple(int(v) for v in new))
    return boxes, {"first_face": first, "lost": lost, "redetected": redetected}


def _intensity(entry: ClipEntry, crops: np.ndarray, config, warnings: list[str]) -> tuple[np.ndarray, str]:
    from fer_edge.data.intensity import estimate_intensity

    if config.au_dir:
        from fer_edge.data.openface import find_csv, read_openface

        stem = Path(entry.path).stem if entry.kind == "video" else entry.name
        csv = find_csv(config.au_dir, [stem, entry.name, f"{entry.subject}_{Path(entry.path).name}"])
        if csv is None:
            warnings.append(f"no OpenFace CSV for {entry.name} in {config.au_dir} "
                            f"(looked for {stem}.csv); used the built-in estimator")
        else:
            try:
                return read_openface(csv, frames=len(crops)).intensity.astype(np.float32), "openface"
            except FerEdgeError as exc:
                warnings.append(f"{exc}; used the built-in estimator")
    return estimate_intensity(crops, method=config.intensity), f"builtin-{config.intensity}"


def process_clip(entry: ClipEntry, config, out: Path) -> dict:
    """Detect, track, crop, store, estimate intensity, trim; write the completion marker.

    Never raises for a bad clip: the error goes into the record (``status: "error"``).
    """
    from fer_edge.data.neutral import trim
    from fer_edge.data.preprocess import _atomic_write, _marker, _source_stamp
    from fer_edge.faces.crop import crop_face
    from fer_edge.video import open_source, write_frames

    params = config.clip_params()
    folder = f"clips/{entry.name}"
    record = {"name": entry.name, "subject": entry.subject, "sex": entry.sex,
              "emotion": entry.emotion, "source": entry.path, "kind": entry.kind,
              "folder": folder, "status": "ok", "error": None, "warnings": [],
              "frames": 0, "fps": None, "span": None, "anomaly": None, "intensity": None,
              "intensity_source": None, "boxes": None, "tracking": None, "params": params}
    try:
        record["stamp"] = _source_stamp(entry)
        with open_source(entry.path) as video:
            record["fps"] = float(video.info.fps)
            frames = [frame for _, frame in video]
        if not frames:
            raise FerEdgeError("the video has no frames")
        record["frames"] = len(frames)
        from fer_edge.faces.detect import create_detector

        detector = create_detector(getattr(config, "detector", "haar"))
        boxes, stats = track_faces(frames, tracker=config.tracker, detect_frames=config.detect_frames,
                                   detector=detector)
        crops = np.stack([crop_face(f, b, size=config.size, pad_y=config.pad_y)
                          for f, b in zip(frames, boxes)])
        del frames
        write_frames(out / folder, crops, ext=".png")
        intensity, source = _intensity(entry, crops, config, record["warnings"])
        span = trim(intensity)
        record.update(boxes=[list(b) for b in boxes], tracking=stats, span=[span.start, span.stop],
                      anomaly=span.anomaly, intensity=[round(float(v), 4) for v in intensity],
                      intensity_source=source)
    except FerEdgeError as exc:
        record.update(status="error", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one broken clip must not stop a 600-clip run
        log.debug("clip %s failed", entry.name, exc_info=True)
        record.update(status="error", error=f"{type(exc).__name__}: {exc}")
    record.setdefault("stamp", None)
    # The marker goes last: its presence means the frames above are complete.
    _atomic_write(_marker(out, entry.name), json.dumps(record))
    return record


def _plot(path: Path, records: list[dict]) -> bool:
    from fer_edge.errors import require

    try:
        matplotlib = require("matplotlib", "train", purpose="the clip-length plot")
    except FerEdgeError as exc:
        log.warning("skipping %s: %s", path.name, exc)
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in records if r["status"] == "ok"]
    before = np.array([r["frames"] for r in ok])
    after = np.array([r["span"][1] - r["span"][0] for r in ok])
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.plot(np.sort(before), label="tracked")
    a.plot(np.sort(after), label="after trimming")
    a.set(title="Frame length sorted", xlabel="clip", ylabel="frames")
    a.legend()
    top = int(max(before.max(initial=0), after.max(initial=0)))
    bins = np.arange(0, top + 26, 25)
    b.hist([before, after], bins=bins, label=["tracked", "after trimming"])
    b.set(title="Frame length in groups", xlabel="frames", ylabel="clips")
    b.legend()
    fig.suptitle(f"{len(ok)} clips ({sum(r['anomaly'] for r in ok)} anomalies, untrimmed)")
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return True


def write_outputs(out: Path, report, config) -> dict[str, str]:
    """Write ``index.jsonl``, ``summary.json`` and the plot; returns their paths."""
    from fer_edge.data.preprocess import _atomic_write, to_json

    files = {}
    index_text = "".join(json.dumps({k: v for k, v in r.items() if k != "params"}) + "\n"
                         for r in report.records)
    changed = _atomic_write(out / "index.jsonl", index_text)
    files["index"] = str(out / "index.jsonl")
    summary = to_json(report) | {"config": {k: (list(v) if isinstance(v, tuple) else v)
                                           for k, v in vars(config).items() if k != "workers"}}
    _atomic_write(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    files["summary"] = str(out / "summary.json")
    plot = out / "clip_lengths.png"
    if config.plot and report.usable and (changed or not plot.exists()):
        if _plot(plot, report.records):
            files["plot"] = str(plot)
    elif plot.exists():
        files["plot"] = str(plot)
    return files
