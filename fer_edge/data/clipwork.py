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

from fer_edge.core.atomic import save_via, write_text
from fer_edge.core.errors import FerEdgeError
from fer_edge.data.bu4dfe import ClipEntry, list_frames

log = logging.getLogger(__name__)


def source_stamp(entry: ClipEntry) -> list:
    """Size and mtime of a clip's source (count and newest mtime for a frame folder)."""
    path = Path(entry.path)
    if entry.media == "frames":
        files = list_frames(path)
        return [len(files), max((f.stat().st_mtime_ns for f in files), default=0)]
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` unless the file already holds it; returns whether it was written."""
    if path.is_file() and path.read_bytes() == text.encode("utf-8"):
        return False
    write_text(path, text)
    return True


def safe_name(name: str) -> str:
    """``name`` if it is a plain folder name, else a FerEdgeError."""
    # Names come from parsed ids, but never trust a dataset to stay inside --out.
    if not name or name in (".", "..") or "/" in name or "\\" in name or os.path.isabs(name):
        raise FerEdgeError(f"clip name {name!r} is not a plain folder name; rename the source file")
    return name


def marker_path(out: Path, name: str) -> Path:
    """The completion marker (the clip's record) of clip ``name`` in ``out``."""
    return out / "records" / f"{safe_name(name)}.json"


def _find_face(frames: list[np.ndarray], detector, limit: int):
    for i, frame in enumerate(frames[:limit]):
        boxes = detector.detect(frame)
        if boxes:
            return i, boxes[0]  # largest first: the subject, not a background false hit
    return None, None


def _nearest(boxes: list, last) -> tuple:
    cx, cy = last[0] + last[2] / 2, last[1] + last[3] / 2
    return min(boxes, key=lambda b: (b[0] + b[2] / 2 - cx) ** 2 + (b[1] + b[3] / 2 - cy) ** 2)


def track_faces(
    frames: list[np.ndarray], *, tracker: str = "medianflow", detect_frames: int = 10, detector=None
) -> tuple[list[tuple], dict]:
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
    from fer_edge.runtime.faces.detect import HaarDetector
    from fer_edge.runtime.faces.track import create_tracker

    detector = detector or HaarDetector()
    first, box = _find_face(frames, detector, detect_frames)
    if box is None:
        raise FerEdgeError(
            f"no face found in the first {min(detect_frames, len(frames))} frames; "
            "check the video or raise --detect-frames"
        )
    follower = create_tracker(tracker)
    follower.init(frames[first], box)
    boxes = [tuple(int(v) for v in box)] * (first + 1)
    lost = redetected = 0
    for frame in frames[first + 1 :]:
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


class MissingAUError(FerEdgeError):
    """A clip has no OpenFace CSV while the trimming signal is OpenFace (section 3.2.1)."""


def _au_csv(entry: ClipEntry, config) -> Path | None:
    """The clip's OpenFace CSV, looked up before any tracking work; None when not used/found.

    Raises:
        MissingAUError: no CSV and the signal is ``openface`` (no silent fallback).
    """
    if not config.au_dir:
        return None
    from fer_edge.data.openface import find_csv

    stem = Path(entry.path).stem if entry.media == "video" else entry.name
    csv = find_csv(config.au_dir, [stem, entry.name, f"{entry.subject}_{Path(entry.path).name}"])
    if csv is None and config.signal == "openface":
        raise MissingAUError(
            f"no OpenFace CSV for {entry.name} in {config.au_dir} (looked for {stem}.csv): "
            "run FeatureExtraction -aus on it, or choose --intensity flow to estimate it"
        )
    return csv


def _intensity(csv: Path | None, crops: np.ndarray, config, warnings: list[str]) -> tuple[np.ndarray, str]:
    from fer_edge.data.intensity import estimate_intensity

    if csv is not None:
        from fer_edge.data.openface import read_openface

        try:
            return read_openface(csv, frames=len(crops)).intensity.astype(np.float32), "openface"
        except FerEdgeError as exc:
            if config.signal == "openface":
                raise
            warnings.append(f"{exc}; used the built-in estimator")
    elif config.au_dir:
        warnings.append(f"no OpenFace CSV in {config.au_dir}; used the built-in '{config.signal}' estimator")
    return estimate_intensity(crops, method=config.signal), f"builtin-{config.signal}"


def process_clip(entry: ClipEntry, config, out: Path) -> dict:
    """Detect, track, crop, store, estimate intensity, trim; write the completion marker.

    Never raises for a bad clip: the error goes into the record (``status: "error"``).
    """
    from fer_edge.data.neutral import trim
    from fer_edge.runtime.faces.crop import crop_face
    from fer_edge.runtime.video import open_source, write_frames

    params = config.clip_params()
    folder = f"clips/{entry.name}"
    record = {
        "name": entry.name,
        "subject": entry.subject,
        "sex": entry.sex,
        "emotion": entry.emotion,
        "source": entry.path,
        "kind": entry.media,
        "folder": folder,
        "status": "ok",
        "error": None,
        "warnings": [],
        "frames": 0,
        "fps": None,
        "span": None,
        "anomaly": None,
        "intensity": None,
        "intensity_source": None,
        "boxes": None,
        "tracking": None,
        "params": params,
    }
    try:
        record["stamp"] = source_stamp(entry)
        csv = _au_csv(entry, config)
        with open_source(entry.path) as video:
            record["fps"] = float(video.info.fps)
            frames = [frame for _, frame in video]
        if not frames:
            raise FerEdgeError("the video has no frames")
        record["frames"] = len(frames)
        from fer_edge.runtime.faces.detect import create_detector

        detector = create_detector(getattr(config, "detector", "haar"))
        boxes, stats = track_faces(
            frames, tracker=config.tracker, detect_frames=config.detect_frames, detector=detector
        )
        crops = np.stack([crop_face(f, b, size=config.size, pad_y=config.pad_y) for f, b in zip(frames, boxes)])
        del frames
        write_frames(out / folder, crops, ext=".png")
        intensity, source = _intensity(csv, crops, config, record["warnings"])
        span = trim(intensity)
        record.update(
            boxes=[list(b) for b in boxes],
            tracking=stats,
            span=[span.start, span.stop],
            anomaly=span.anomaly,
            intensity=[round(float(v), 4) for v in intensity],
            intensity_source=source,
        )
    except MissingAUError as exc:
        record.update(status="error", error=str(exc), missing_au=True)
    except FerEdgeError as exc:
        record.update(status="error", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one broken clip must not stop a 600-clip run
        log.debug("clip %s failed", entry.name, exc_info=True)
        record.update(status="error", error=f"{type(exc).__name__}: {exc}")
    record.setdefault("stamp", None)
    # The marker goes last: its presence means the frames above are complete.
    write_if_changed(marker_path(out, entry.name), json.dumps(record))
    return record


def _plot(path: Path, records: list[dict]) -> bool:
    from fer_edge.core.errors import require

    try:
        require("matplotlib", "train", purpose="the clip-length plot")
    except FerEdgeError as exc:
        log.warning("skipping %s: %s", path.name, exc)
        return False
    from fer_edge.core.plots import pyplot, save_figure

    plt = pyplot()
    ok = [r for r in records if r["status"] == "ok"]
    before = np.array([r["frames"] for r in ok])
    after = np.array([r["span"][1] - r["span"][0] for r in ok])
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.plot(np.sort(before), label="tracked")
    a.plot(np.sort(after), label="after trimming")
    a.set(title="Frame length sorted", xlabel="clip", ylabel="frames")
    a.legend()
    top = int(max(before.max(initial=0), after.max(initial=0)))
    step = 25 * max(1, -(-top // (25 * 200)))  # at most ~200 bars, whatever the longest clip
    bins = np.arange(0, top + step + 1, step)
    b.hist([before, after], bins=bins, label=["tracked", "after trimming"])
    b.set(title="Frame length in groups", xlabel="frames", ylabel="clips")
    b.legend()
    fig.suptitle(f"{len(ok)} clips ({sum(r['anomaly'] for r in ok)} anomalies, untrimmed)")
    save_figure(fig, path)
    return True


def contact_sheet(
    frames: list[np.ndarray], intensity: list[float], *, columns: int = 6, thumb: int = 96, name: str = ""
) -> np.ndarray:
    """A review image of one clip: evenly spaced frames plus the peak, each with its frame number
    and intensity; the peak has a red frame and the last 20 frames a yellow bar (Algorithm 1's tail).
    """
    import cv2

    n = len(frames)
    peak = int(np.argmax(intensity)) if len(intensity) else 0
    picks = sorted(set(np.linspace(0, n - 1, min(n, 2 * columns - 1)).round().astype(int).tolist()) | {peak})
    rows = -(-len(picks) // columns)
    sheet = np.full((rows * (thumb + 18) + 24, columns * thumb, 3), 255, np.uint8)
    cv2.putText(
        sheet,
        f"{name}: {n} frames, peak at {peak} (anomaly: peak within the last 20)",
        (4, 16),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.4,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    for k, t in enumerate(picks):
        r, c = divmod(k, columns)
        y, x = 24 + r * (thumb + 18), c * thumb
        sheet[y : y + thumb, x : x + thumb] = cv2.resize(frames[t], (thumb, thumb), interpolation=cv2.INTER_AREA)
        if t == peak:
            cv2.rectangle(sheet, (x, y), (x + thumb - 1, y + thumb - 1), (0, 0, 255), 2)
        if t >= n - 20:
            sheet[y + thumb : y + thumb + 3, x : x + thumb] = (0, 215, 255)
        value = f" {intensity[t]:.2f}" if t < len(intensity) else ""
        cv2.putText(
            sheet, f"{t}{value}", (x + 2, y + thumb + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA
        )
    return sheet


def write_review(out: Path, records: list[dict]) -> str | None:
    """``review/index.json`` and one contact sheet per anomaly (kept when already written)."""
    import cv2

    anomalies = [r for r in records if r["status"] == "ok" and r["anomaly"]]
    folder = out / "review"
    if not anomalies and not folder.exists():
        return None
    folder.mkdir(exist_ok=True)
    index = []
    for r in anomalies:
        sheet = folder / f"{r['name']}.png"
        if not sheet.exists():
            frames = [cv2.imread(str(f), cv2.IMREAD_COLOR) for f in list_frames(out / r["folder"])]
            image = contact_sheet([f for f in frames if f is not None], r.get("intensity") or [], name=r["name"])
            save_via(sheet, lambda tmp, image=image: cv2.imwrite(str(tmp), image), keep_suffix=True)
        curve = r.get("intensity") or [0]
        index.append(
            {
                "name": r["name"],
                "frames": r["frames"],
                "peak_frame": int(np.argmax(curve)),
                "intensity_source": r.get("intensity_source"),
                "sheet": f"review/{sheet.name}",
            }
        )
    note = (
        "Algorithm 1 anomalies (maximum intensity in the last 20 frames, thesis section 3.2.1): the thesis "
        "reworked them by hand. Training leaves them out unless the recipe says data.anomalies: untrimmed."
    )
    write_if_changed(folder / "index.json", json.dumps({"note": note, "clips": index}, indent=1) + "\n")
    return str(folder / "index.json")


def write_outputs(out: Path, report, config, summary: dict) -> dict[str, str]:
    """Write ``index.jsonl``, ``summary.json`` (``summary`` + the config) and the plot; returns their paths."""
    files = {}
    index_text = "".join(json.dumps({k: v for k, v in r.items() if k != "params"}) + "\n" for r in report.records)
    changed = write_if_changed(out / "index.jsonl", index_text)
    files["index"] = str(out / "index.jsonl")
    summary = summary | {
        "config": {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in vars(config).items()
            if k not in ("workers", "executor")
        },
        "trimming_signal": config.signal,
    }
    write_if_changed(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    files["summary"] = str(out / "summary.json")
    review = write_review(out, report.records)
    if review:
        files["review"] = review
    plot = out / "clip_lengths.png"
    if config.plot and report.usable and (changed or not plot.exists()):
        if _plot(plot, report.records):
            files["plot"] = str(plot)
    elif plot.exists():
        files["plot"] = str(plot)
    return files
