"""Follow several faces through a video: detect now and then, track in between, keep ids.

Detection (Haar) is slow and flickers; trackers are fast and smooth but drift or lose the
face. :class:`TrackManager` runs the trackers on every frame and the detector on frame 0,
every ``detect_every`` frames after the last detection, and at once whenever a tracker has
lost its face. On a detection frame detections are matched to tracks by IoU; a matched
track's tracker is restarted on the detected box (which stops drift), an unmatched detection
starts a new track, and an unmatched track counts a miss. ``max_missed`` consecutive misses
retire a track; its id is reported once in :attr:`TrackManager.retired` and never reused.

numpy + OpenCV only: this module is imported by the edge runtime.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import cv2
import numpy as np

from fer_edge.runtime.faces.detect import Box, Detector
from fer_edge.runtime.faces.track import Tracker, clip_box, create_tracker

__all__ = ["Track", "TrackManager", "iou"]


@dataclass
class Track:
    """One face followed over time (a copy; the manager keeps its own).

    Attributes:
        id: stable id, increasing from 1, never reused.
        box: ``(x, y, w, h)`` in this frame.
        hits: frames in which the face was located (detected or tracked).
        missed: consecutive misses: detection rounds that did not confirm the face plus
            frames in which its tracker lost it.
        first_frame: frame index where the track started.
        last_frame: last frame index where the face was located.
        source: ``"detect"`` if the box comes from the detector this frame, else ``"track"``.
    """

    id: int
    box: Box
    hits: int
    missed: int
    first_frame: int
    last_frame: int
    source: str


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes.

    Example:
        >>> iou((0, 0, 10, 10), (5, 0, 10, 10))
        0.3333333333333333
    """
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


def _greedy_match(tracks: list[Box], detections: list[Box], threshold: float) -> list[tuple[int, int]]:
    """Pairs ``(track_index, detection_index)``, best IoU first, each used once.

    Greedy is optimal in practice here: faces rarely overlap, so each detection has at most
    one track above the threshold.
    """
    if not tracks or not detections:
        return []
    scores = np.array([[iou(t, d) for d in detections] for t in tracks])
    pairs: list[tuple[int, int]] = []
    used_t: set[int] = set()
    used_d: set[int] = set()
    for flat in np.argsort(-scores, axis=None, kind="stable"):
        ti, di = divmod(int(flat), len(detections))
        if scores[ti, di] < threshold:
            break
        if ti in used_t or di in used_d:
            continue
        pairs.append((ti, di))
        used_t.add(ti)
        used_d.add(di)
    return pairs


@dataclass
class _State:
    track: Track
    tracker: Tracker | None  # None once the tracker lost the face (until re-detected)


class TrackManager:
    """Detect, track and number the faces of a video, one frame at a time.

    Args:
        detector: any :class:`~fer_edge.runtime.faces.detect.Detector`.
        tracker: tracker name (see :data:`~fer_edge.runtime.faces.track.TRACKERS`).
        detect_every: frames between scheduled detections (>= 1; 1 = detect every frame).
        max_missed: consecutive misses that retire a track (>= 1).
        iou_threshold: minimum IoU for a detection to confirm a track.
        max_faces: most tracks kept at once; the largest new faces are started first.
        tracker_max_box: trackers run on frames downscaled so a face is at most this many
            pixels (speed; see :func:`~fer_edge.runtime.faces.track.create_tracker`); ``None``: full
            size; ``"auto"``: 48 for KCF only.
        full_every: while every track is being followed, only every ``full_every``-th scheduled
            detection scans the whole frame (for new faces); the others re-detect inside a
            margin around each track, at a scale where the face is ``roi_face`` pixels. The
            full-frame Haar scan is the runtime's most expensive stage (25-50 ms at 640x360),
            a region scan costs ~1 ms. ``1`` scans the whole frame every time. A tracker
            failure or no live track always triggers a full scan.
        roi_face: face size in pixels that region scans resample to.

    Example:
        >>> from fer_edge.runtime.faces import HaarDetector
        >>> manager = TrackManager(HaarDetector(), tracker="kcf", detect_every=10)
        >>> manager.update(np.zeros((240, 320, 3), np.uint8))
        []
        >>> sorted(manager.timings)
        ['detect', 'track']
    """

    def __init__(
        self,
        detector: Detector,
        *,
        tracker: str = "kcf",
        detect_every: int = 10,
        max_missed: int = 5,
        iou_threshold: float = 0.3,
        max_faces: int = 8,
        tracker_max_box: int | str | None = "auto",
        full_every: int = 3,
        roi_face: int = 80,
    ) -> None:
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {detect_every}")
        if max_missed < 1:
            raise ValueError(f"max_missed must be >= 1, got {max_missed}")
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if max_faces < 1:
            raise ValueError(f"max_faces must be >= 1, got {max_faces}")
        if full_every < 1:
            raise ValueError(f"full_every must be >= 1, got {full_every}")
        self.detector = detector
        # Built once here so a wrong name or max_box fails now, not on the first face.
        self.tracker_name = create_tracker(tracker, max_box=tracker_max_box).name
        self.tracker_max_box = tracker_max_box
        self.detect_every = int(detect_every)
        self.max_missed = int(max_missed)
        self.iou_threshold = float(iou_threshold)
        self.max_faces = int(max_faces)
        self.full_every = int(full_every)
        self.roi_face = int(roi_face)
        self.reset()

    def reset(self) -> None:
        """Forget all tracks and restart frame numbering (ids restart at 1)."""
        self._states: list[_State] = []
        self._next_id = 1
        self._last_detect: int | None = None
        self._rounds = 0  # scheduled detections since the last full-frame scan
        self.frame_index = 0
        self.retired: list[int] = []
        self.timings: dict[str, float] = {"detect": 0.0, "track": 0.0}

    @property
    def tracks(self) -> list[Track]:
        """Copies of all live tracks, including those not visible in the last frame."""
        return [dataclasses.replace(s.track) for s in self._states]

    def update(self, frame: np.ndarray) -> list[Track]:
        """Process the next frame; returns copies of the tracks visible in it, by id.

        Also sets :attr:`retired` (ids retired by this call), :attr:`timings` (ms spent in
        ``"detect"`` and ``"track"``) and advances :attr:`frame_index`.
        """
        index = self.frame_index
        self.retired = []
        track_ms = 0.0
        detect_ms = 0.0
        visible: dict[int, bool] = {}
        missed_now: set[int] = set()  # ids whose miss this frame is already counted

        start = time.perf_counter()
        lost = False
        for state in self._states:
            if state.tracker is None:
                visible[state.track.id] = False
                lost = True
                continue
            ok, box = state.tracker.update(frame)
            if ok:
                state.track.box = box
                state.track.source = "track"
                visible[state.track.id] = True
            else:
                # A lost face is a miss at once and forces a detection in this same frame.
                state.tracker = None
                state.track.missed += 1
                missed_now.add(state.track.id)
                visible[state.track.id] = False
                lost = True
        track_ms += (time.perf_counter() - start) * 1000.0

        due = self._last_detect is None or index - self._last_detect >= self.detect_every
        if due or lost:
            start = time.perf_counter()
            full = lost or not self._states or self._rounds % self.full_every == 0
            self._rounds = 1 if full else self._rounds + 1
            detections = self._detect(frame) if full else self._detect_regions(frame)
            detect_ms += (time.perf_counter() - start) * 1000.0
            self._last_detect = index
            start = time.perf_counter()
            self._associate(frame, detections, visible, missed_now, index)
            track_ms += (time.perf_counter() - start) * 1000.0

        for state in self._states:
            if visible[state.track.id]:
                state.track.hits += 1
                state.track.last_frame = index
        self._retire()
        self.timings = {"detect": detect_ms, "track": track_ms}
        self.frame_index = index + 1
        return [dataclasses.replace(s.track) for s in self._states if visible[s.track.id]]

    def _detect(self, frame: np.ndarray) -> list[Box]:
        boxes = []
        for box in self.detector.detect(frame):
            clipped = clip_box(box, frame.shape)
            if clipped is not None:
                boxes.append(clipped)
        return boxes

    def _detect_regions(self, frame: np.ndarray) -> list[Box]:
        """Detect only around the live tracks, each region resampled so its face is ~roi_face px."""
        height, width = frame.shape[:2]
        found: list[Box] = []
        for state in self._states:
            x, y, w, h = state.track.box
            side = max(w, h)
            margin = side // 2
            x0, y0 = max(0, x - margin), max(0, y - margin)
            x1, y1 = min(width, x + w + margin), min(height, y + h + margin)
            region = frame[y0:y1, x0:x1]
            factor = min(1.0, self.roi_face / max(side, 1))
            if factor < 1.0:
                region = cv2.resize(region, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
            for bx, by, bw, bh in self.detector.detect(region):
                box = (x0 + bx / factor, y0 + by / factor, bw / factor, bh / factor)
                clipped = clip_box(box, frame.shape)
                if clipped is not None and all(iou(clipped, other) < 0.5 for other in found):
                    found.append(clipped)
        return sorted(found, key=lambda b: b[2] * b[3], reverse=True)

    def _associate(
        self,
        frame: np.ndarray,
        detections: list[Box],
        visible: dict[int, bool],
        missed_now: set[int],
        index: int,
    ) -> None:
        pairs = _greedy_match([s.track.box for s in self._states], detections, self.iou_threshold)
        matched_tracks = {ti for ti, _ in pairs}
        matched_dets = {di for _, di in pairs}
        for ti, di in pairs:
            state = self._states[ti]
            if self._start_tracker(state, frame, detections[di]):
                state.track.box = detections[di]
                state.track.source = "detect"
                state.track.missed = 0
                visible[state.track.id] = True
        for ti, state in enumerate(self._states):
            # A track whose tracker failed in this frame already counted its miss.
            if ti not in matched_tracks and state.track.id not in missed_now:
                state.track.missed += 1
        for di, box in enumerate(detections):  # largest first, so big faces win the slots
            if di in matched_dets or len(self._states) >= self.max_faces:
                continue
            track = Track(self._next_id, box, hits=0, missed=0, first_frame=index, last_frame=index, source="detect")
            state = _State(track, None)
            if self._start_tracker(state, frame, box):
                self._next_id += 1
                self._states.append(state)
                visible[track.id] = True

    def _start_tracker(self, state: _State, frame: np.ndarray, box: Box) -> bool:
        tracker = create_tracker(self.tracker_name, max_box=self.tracker_max_box)
        try:
            tracker.init(frame, box)
        except ValueError:
            state.tracker = None
            return False
        state.tracker = tracker
        return True

    def _retire(self) -> None:
        keep: list[_State] = []
        for state in self._states:
            if state.track.missed >= self.max_missed:
                self.retired.append(state.track.id)
            else:
                keep.append(state)
        self._states = keep

    def __repr__(self) -> str:
        return (
            f"TrackManager(tracker={self.tracker_name!r}, detect_every={self.detect_every}, "
            f"max_missed={self.max_missed}, tracks={[s.track.id for s in self._states]})"
        )
