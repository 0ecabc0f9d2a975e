"""fer_edge.runtime.faces: Haar detection, trackers, thesis crops and the multi-face TrackManager.

Faces are real: the astronaut from scikit-image (bundled, no download) pasted onto the coffee
picture at known positions, so Haar finds them and the trackers have texture to follow.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.faces import (
    TRACKERS,
    Detector,
    HaarDetector,
    TrackManager,
    clip_box,
    create_detector,
    create_tracker,
    crop_face,
    crop_faces,
    extend_box,
    iou,
    square_box,
)

W, H = 320, 240


@cache
def _face(flip: bool = False) -> np.ndarray:
    import skimage.data  # dev extra; imported here so collecting other tests stays fast

    rgb = skimage.data.astronaut()[0:250, 130:320]
    face = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    return cv2.flip(face, 1) if flip else face  # 125 x 95


@cache
def _background() -> np.ndarray:
    import skimage.data

    return cv2.resize(cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR), (W, H), interpolation=cv2.INTER_AREA)


def _scene(*positions: tuple[int, int], flip_second: bool = True) -> np.ndarray:
    """The background with a face whose top-left corner is at each ``(x, y)``."""
    frame = _background().copy()
    for k, (x, y) in enumerate(positions):
        face = _face(flip=flip_second and k == 1)
        frame[y : y + face.shape[0], x : x + face.shape[1]] = face
    return frame


def _inside(box: tuple[int, int, int, int], x: int, y: int) -> bool:
    """Whether the box centre lies on the face pasted at ``(x, y)``."""
    fh, fw = _face().shape[:2]
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return x <= cx <= x + fw and y <= cy <= y + fh


class CountingDetector:
    """Wraps a detector and records on which manager frames it ran."""

    def __init__(self, inner: Detector) -> None:
        self.inner = inner
        self.calls = 0

    def detect(self, frame_bgr: np.ndarray) -> list[tuple[int, int, int, int]]:
        self.calls += 1
        return self.inner.detect(frame_bgr)


@pytest.fixture(scope="module")
def haar() -> HaarDetector:
    return HaarDetector()


# --- detection ---------------------------------------------------------------------------


def test_detector_finds_the_face(haar: HaarDetector) -> None:
    for x, y in [(20, 20), (150, 90), (210, 110)]:
        boxes = haar.detect(_scene((x, y)))
        assert len(boxes) == 1
        assert _inside(boxes[0], x, y)
        assert 40 <= boxes[0][2] <= 100 and all(isinstance(v, int) for v in boxes[0])


def test_detector_no_face(haar: HaarDetector) -> None:
    assert haar.detect(np.zeros((H, W, 3), np.uint8)) == []
    assert haar.detect(np.full((H, W, 3), 200, np.uint8)) == []
    assert haar.detect(_background()) == []


def test_detector_two_faces_largest_first(haar: HaarDetector) -> None:
    frame = _scene((10, 10), (180, 100))
    big = cv2.resize(_face(), None, fx=1.3, fy=1.3)
    frame[70 : 70 + big.shape[0], 180 : 180 + big.shape[1]] = big  # replaces the second face
    boxes = haar.detect(frame)
    assert len(boxes) == 2
    assert boxes[0][2] * boxes[0][3] > boxes[1][2] * boxes[1][3]
    assert _inside(boxes[1], 10, 10)


def test_detector_downscale_maps_boxes_back() -> None:
    frame = cv2.resize(_scene((150, 90)), (2 * W, 2 * H))  # 640x480: the face at (300, 180)
    full = HaarDetector(max_side=0, min_size=(80, 80)).detect(frame)
    small = HaarDetector(max_side=320, min_size=(80, 80)).detect(frame)  # detects at half size
    assert len(full) == 1 and len(small) == 1
    assert iou(full[0], small[0]) > 0.7
    cx, cy = small[0][0] + small[0][2] / 2, small[0][1] + small[0][3] / 2
    assert 300 <= cx <= 300 + 190 and 180 <= cy <= 180 + 250


def test_detector_accepts_gray_and_bgra(haar: HaarDetector) -> None:
    frame = _scene((60, 40))
    boxes = haar.detect(frame)
    assert haar.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)) == boxes
    assert haar.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)) == boxes


def test_create_detector_registry() -> None:
    assert isinstance(create_detector("haar", min_neighbors=3), HaarDetector)
    assert isinstance(create_detector("haar"), Detector)
    assert create_detector("haar-alt2").cascade_path.name == "haarcascade_frontalface_alt2.xml"  # type: ignore[attr-defined]
    with pytest.raises(FerEdgeError, match=r"unknown face detector 'hars'; did you mean 'haar'\?"):
        create_detector("hars")


def test_missing_cascade_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FerEdgeError, match=r"OpenCV 5.*opencv-contrib-python-headless>=4\.12,<5"):
        HaarDetector(cascade="haarcascade_nothing.xml")
    monkeypatch.delattr(cv2, "data")  # what an OpenCV 5 install looks like
    with pytest.raises(FerEdgeError, match="not found in this OpenCV"):
        HaarDetector()


def test_bad_cascade_file(tmp_path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<opencv_storage></opencv_storage>")
    with pytest.raises(FerEdgeError, match="cannot load Haar cascade"):
        HaarDetector(cascade=bad)


# --- tracking ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", TRACKERS)
def test_every_tracker_follows_a_moving_face(name: str, haar: HaarDetector) -> None:
    # 2 px per frame right and 1 px down: slow enough for MOSSE (which fails above ~3 px/frame).
    frames = [_scene((40 + 2 * t, 30 + t)) for t in range(25)]
    box = haar.detect(frames[0])[0]
    tracker = create_tracker(name)
    tracker.init(frames[0], box)
    results = [tracker.update(f) for f in frames[1:]]
    assert all(ok for ok, _ in results), name
    last = results[-1][1]
    assert all(isinstance(v, int) for v in last)
    # The face moved by (48, 24): the tracked box must have moved with it.
    moved_x = last[0] + last[2] / 2 - (box[0] + box[2] / 2)
    moved_y = last[1] + last[3] / 2 - (box[1] + box[3] / 2)
    assert abs(moved_x - 48) <= 8 and abs(moved_y - 24) <= 8, (name, box, last)


@pytest.mark.parametrize("name", ["kcf", "medianflow", "csrt"])
def test_downscaled_tracking_reports_full_size_boxes(name: str) -> None:
    import skimage.data

    big = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)[0:250, 130:320]  # ~100 px face
    background = cv2.resize(_background(), (640, 360))
    frames = []
    for t in range(16):
        frame = background.copy()
        frame[40 + t : 290 + t, 100 + 3 * t : 290 + 3 * t] = big
        frames.append(frame)
    box = HaarDetector().detect(frames[0])[0]
    assert box[2] > 80  # large enough that max_box=48 halves the frames the tracker sees
    ends = {}
    for max_box in (None, 48):
        tracker = create_tracker(name, max_box=max_box)
        tracker.init(frames[0], box)
        results = [tracker.update(f) for f in frames[1:]]
        assert all(ok for ok, _ in results)
        ends[max_box] = results[-1][1]
    for end in ends.values():  # moved by (45, 15) in full-frame pixels, size kept
        assert abs(end[0] - box[0] - 45) <= 6 and abs(end[1] - box[1] - 15) <= 6, (name, box, ends)
        assert abs(end[2] - box[2]) <= 8
    with pytest.raises(ValueError, match="max_box"):
        create_tracker(name, max_box=4)
    with pytest.raises(ValueError, match="max_box"):
        create_tracker(name, max_box="fast")
    # "auto" downscales KCF only: the other trackers gain nothing (CSRT even slows down).
    assert create_tracker(name).max_box == (48 if name == "kcf" else None)


def test_tracker_can_be_reinitialised(haar: HaarDetector) -> None:
    tracker = create_tracker("medianflow")  # legacy API: OpenCV refuses a second init itself
    a, b = _scene((40, 30)), _scene((180, 90))
    tracker.init(a, haar.detect(a)[0])
    tracker.init(b, haar.detect(b)[0])
    ok, box = tracker.update(b)
    assert ok and _inside(box, 180, 90)


def test_unknown_tracker_did_you_mean() -> None:
    with pytest.raises(FerEdgeError, match=r"unknown tracker 'kfc'; did you mean 'kcf'\? known: csrt, kcf"):
        create_tracker("kfc")
    assert create_tracker("Median-Flow").name == "medianflow"


def test_tracker_missing_from_opencv_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(cv2.legacy, "TrackerMOSSE_create")
    monkeypatch.delattr(cv2, "TrackerMOSSE_create", raising=False)
    with pytest.raises(
        FerEdgeError, match=r"tracker 'mosse' is not in this OpenCV.*opencv-contrib-python-headless>=4\.12,<5"
    ):
        create_tracker("mosse")


def test_tracker_misuse() -> None:
    frame = _scene((40, 30))
    tracker = create_tracker("kcf")
    with pytest.raises(ValueError, match="call init"):
        tracker.update(frame)
    with pytest.raises(ValueError, match="outside"):
        tracker.init(frame, (W + 10, 0, 50, 50))
    tracker.init(frame, (-30, -30, 100, 100))  # partly outside: clipped, not rejected
    assert tracker.box == (0, 0, 70, 70)


def test_clip_box() -> None:
    assert clip_box((10.6, 20.2, 30.0, 40.0), (100, 100)) == (11, 20, 30, 40)
    assert clip_box((90, 90, 50, 50), (100, 120, 3)) == (90, 90, 30, 10)
    assert clip_box((200, 0, 10, 10), (100, 100)) is None


# --- cropping ----------------------------------------------------------------------------


def test_extend_box_adds_pad_at_the_bottom() -> None:
    assert extend_box((10, 20, 159, 159)) == (10, 20, 159, 169)  # the thesis' figure 3.2
    assert extend_box((10, 20, 50, 60), pad_y=0) == (10, 20, 50, 60)
    with pytest.raises(ValueError):
        extend_box((0, 0, 5, 5), pad_y=-1)


def test_square_box_cases() -> None:
    assert square_box((100, 50, 40, 60), (240, 320)) == (90, 50, 60, 60)  # centred
    assert square_box((-20, -20, 60, 60), (240, 320)) == (0, 0, 60, 60)  # shifted in
    assert square_box((300, 220, 40, 40), (240, 320)) == (280, 200, 40, 40)  # shifted in
    assert square_box((0, 0, 100, 300), (240, 320)) == (0, 0, 240, 240)  # clipped to the frame
    with pytest.raises(ValueError, match="does not overlap"):
        square_box((400, 0, 10, 10), (240, 320))
    with pytest.raises(ValueError, match="empty"):
        square_box((0, 0, 0, 10), (240, 320))


@settings(max_examples=200, deadline=None)
@given(
    fw=st.integers(1, 400),
    fh=st.integers(1, 400),
    x=st.integers(-300, 399),
    y=st.integers(-300, 399),
    w=st.integers(1, 500),
    h=st.integers(1, 500),
)
def test_square_box_always_square_and_inside(fw: int, fh: int, x: int, y: int, w: int, h: int) -> None:
    if x >= fw or y >= fh or x + w <= 0 or y + h <= 0:
        return  # no overlap: rejected, covered above
    sx, sy, side, side2 = square_box((x, y, w, h), (fh, fw))
    assert side == side2 == min(max(w, h), fw, fh)
    assert 0 <= sx and sx + side <= fw and 0 <= sy and sy + side <= fh
    # Never further from the box centre than needed to stay inside the frame.
    if side <= fw and x >= 0 and x + w <= fw and w <= side:
        assert sx <= x and x + w <= sx + side


def test_crop_face_exact_pixels_with_pad() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    # (50, 50, 80, 80) -> +10 px at the bottom -> (50, 50, 80, 90) -> square (45, 50, 90, 90).
    crop = crop_face(frame, (50, 50, 80, 80), size=90, pad_y=10)
    assert np.array_equal(crop, frame[50:140, 45:135])
    no_pad = crop_face(frame, (50, 50, 80, 80), size=80, pad_y=0)
    assert np.array_equal(no_pad, frame[50:130, 50:130])


def test_crop_face_shapes_dtypes_and_borders() -> None:
    frame = _scene((40, 30))
    for box in [(40, 30, 95, 95), (-40, -40, 100, 100), (W - 30, H - 30, 100, 100), (0, 0, W, H)]:
        crop = crop_face(frame, box)
        assert crop.shape == (160, 160, 3) and crop.dtype == np.uint8
    as_float = crop_face(frame.astype(np.float32) / 255.0, (40, 30, 95, 95), size=64)
    assert as_float.shape == (64, 64, 3) and as_float.dtype == np.float32
    gray = crop_face(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (40, 30, 95, 95), size=32)
    assert gray.shape == (32, 32, 3)
    # Shrinking uses area averaging: a fine checkerboard becomes flat grey, not aliased stripes.
    checker = (np.indices((H, W)).sum(axis=0) % 2 * 255).astype(np.uint8)
    flat = crop_face(np.dstack([checker] * 3), (0, 0, 200, 200), size=50, pad_y=0)
    assert abs(float(flat.mean()) - 127.5) < 2 and float(flat.std()) < 3


def test_crop_faces_batch() -> None:
    frame = _scene((10, 10), (180, 100))
    boxes = [(10, 10, 95, 95), (180, 100, 95, 95)]
    batch = crop_faces(frame, boxes, size=96)
    assert batch.shape == (2, 96, 96, 3) and batch.dtype == np.uint8
    assert np.array_equal(batch[1], crop_face(frame, boxes[1], size=96))
    assert crop_faces(frame, [], size=96).shape == (0, 96, 96, 3)


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(1 / 3)


# --- the track manager -------------------------------------------------------------------


def test_one_face_one_stable_id(haar: HaarDetector) -> None:
    counting = CountingDetector(haar)
    manager = TrackManager(counting, tracker="kcf", detect_every=10)
    for t in range(30):
        x, y = 30 + 2 * t, 40 + (t % 10)  # moving right, bobbing down
        tracks = manager.update(_scene((x, y)))
        assert [tr.id for tr in tracks] == [1], t
        assert _inside(tracks[0].box, x, y), (t, tracks[0].box)
        assert tracks[0].source == ("detect" if t % 10 == 0 else "track")
        assert tracks[0].hits == t + 1 and tracks[0].first_frame == 0 and tracks[0].last_frame == t
        assert manager.retired == []
    assert counting.calls == 3  # frames 0, 10, 20 only: trackers carry the rest
    assert manager.frame_index == 30


def test_two_faces_two_ids(haar: HaarDetector) -> None:
    manager = TrackManager(haar, tracker="medianflow", detect_every=5)
    seen = []
    for t in range(20):
        a, b = (10 + t, 10), (180 - t, 100)
        tracks = manager.update(_scene(a, b))
        seen.append({tr.id: tr.box for tr in tracks})
    assert all(sorted(frame) == [1, 2] for frame in seen)
    first_pos = {i: seen[0][i] for i in (1, 2)}
    left = min(first_pos, key=lambda i: first_pos[i][0])
    assert _inside(seen[-1][left], 29, 10) and _inside(seen[-1][3 - left], 161, 100)


def test_max_faces_keeps_the_largest(haar: HaarDetector) -> None:
    frame = _scene((10, 10))
    big = cv2.resize(_face(True), None, fx=1.3, fy=1.3)
    frame[70 : 70 + big.shape[0], 180 : 180 + big.shape[1]] = big
    tracks = TrackManager(haar, max_faces=1).update(frame)
    assert len(tracks) == 1 and tracks[0].box[0] > 150


def test_face_leaves_and_comes_back_gets_new_id(haar: HaarDetector) -> None:
    counting = CountingDetector(haar)
    manager = TrackManager(counting, tracker="kcf", detect_every=10, max_missed=3)
    history = []
    for t in range(45):
        present = t < 12 or t >= 30
        frame = _scene((60, 40)) if present else _background()
        tracks = manager.update(frame)
        history.append(([tr.id for tr in tracks], list(manager.retired)))
    assert all(ids == [1] for ids, _ in history[:12])
    retired_at = [t for t, (_, retired) in enumerate(history) if retired]
    assert len(retired_at) == 1 and history[retired_at[0]][1] == [1]
    assert 12 <= retired_at[0] < 30
    # While the face is gone nothing is visible (a lost tracker's box is never reported).
    assert all(ids == [] for ids, _ in history[retired_at[0] : 30])
    # Back: picked up at the next scheduled detection with a new id, which then stays.
    back = [ids for ids, _ in history[30:]]
    assert back[-1] == [2] and all(ids in ([], [2]) for ids in back)
    assert sum(ids == [2] for ids in back) >= 10


def test_lost_tracker_triggers_detection_every_frame(haar: HaarDetector) -> None:
    counting = CountingDetector(haar)
    manager = TrackManager(counting, tracker="medianflow", detect_every=100, max_missed=4)
    manager.update(_scene((60, 40)))
    assert counting.calls == 1
    for _ in range(3):
        manager.update(_scene((60, 40)))
    assert counting.calls == 1  # tracking only
    calls = []
    for _ in range(6):
        manager.update(np.zeros((H, W, 3), np.uint8))  # the face is gone: tracker fails
        calls.append(counting.calls)
        if manager.retired:
            break
    # A black frame breaks the tracker at once; then the manager re-detects on every frame
    # until the track has missed max_missed times.
    assert manager.retired == [1] and calls == [2, 3, 4, 5]
    assert manager.tracks == []


def test_no_face_and_timings(haar: HaarDetector) -> None:
    counting = CountingDetector(haar)
    manager = TrackManager(counting, detect_every=4)
    for t in range(9):
        assert manager.update(_background()) == []
        assert set(manager.timings) == {"detect", "track"}
        assert all(v >= 0.0 for v in manager.timings.values())
        assert (manager.timings["detect"] > 0) == (t % 4 == 0)
    assert counting.calls == 3  # frames 0, 4, 8


def test_tracks_are_copies_and_reset(haar: HaarDetector) -> None:
    manager = TrackManager(haar)
    tracks = manager.update(_scene((60, 40)))
    tracks[0].box = (0, 0, 1, 1)
    tracks[0].id = 99
    again = manager.update(_scene((60, 40)))
    assert again[0].id == 1 and again[0].box != (0, 0, 1, 1)
    manager.reset()
    assert manager.frame_index == 0 and manager.tracks == [] and manager.retired == []
    assert [tr.id for tr in manager.update(_scene((60, 40)))] == [1]  # ids restart after reset


def test_manager_validates_arguments(haar: HaarDetector) -> None:
    with pytest.raises(FerEdgeError, match="did you mean 'csrt'"):
        TrackManager(haar, tracker="csr")
    for kwargs in ({"detect_every": 0}, {"max_missed": 0}, {"iou_threshold": 0.0}, {"max_faces": 0}):
        with pytest.raises(ValueError):
            TrackManager(haar, **kwargs)  # type: ignore[arg-type]


class ShapeRecorder(CountingDetector):
    """Records the shape of every image the manager asks to scan."""

    def __init__(self, inner: Detector) -> None:
        super().__init__(inner)
        self.shapes: list[tuple[int, int]] = []

    def detect(self, frame_bgr: np.ndarray) -> list[tuple[int, int, int, int]]:
        self.shapes.append(frame_bgr.shape[:2])
        return super().detect(frame_bgr)


def test_region_redetection_between_full_scans(haar: HaarDetector) -> None:
    recorder = ShapeRecorder(haar)
    manager = TrackManager(recorder, tracker="medianflow", detect_every=2, full_every=3, roi_face=60)
    new_face_seen_at = None
    for t in range(14):
        positions = [(30 + t, 40)] + ([(190, 100)] if t >= 7 else [])
        tracks = manager.update(_scene(*positions))
        assert any(_inside(tr.box, 30 + t, 40) for tr in tracks), t  # the first face never drops
        if new_face_seen_at is None and any(_inside(tr.box, 190, 100) for tr in tracks):
            new_face_seen_at = t
    full = [i for i, s in enumerate(recorder.shapes) if s == (H, W)]
    regions = [s for s in recorder.shapes if s != (H, W)]
    # rounds at frames 0 (full), 2, 4 (regions), 6 (full), 8, 10 (regions), 12 (full)
    assert full == [0, 3, 6]
    assert regions and all(h <= 2 * 60 + 2 and w <= 2 * 60 + 2 for h, w in regions)
    # a face entering at frame 7 is found by the next full scan (frame 12), not by region scans
    assert new_face_seen_at == 12
    assert [tr.id for tr in manager.tracks] == [1, 2]
