"""The real-time pipeline: detect/track -> crop -> frame model -> per-track buffer -> head.

Per frame::

    faces = manager.update(frame)                  # Haar every N frames, trackers between
    crops = crop_faces(frame, boxes)               # +pad_y vertically, square, resize
    out   = frame_model(batch of crops)            # one call for all faces (batched)
    per track: ring buffer <- out
      frame bundle:   scores = mean of the last `window.length` frame scores
      cascade bundle: temporal model on the buffered features every `stride` frames
      clip bundle:    clip model on the buffered crops every `stride` frames
    EMA(alpha) -> label

Each frame's spatial features are computed once and reused by every overlapping window.
What each bundle kind runs and buffers is :mod:`fer_edge.runtime.kinds`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from fer_edge.core.config import coerce_fields
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.bundle import Bundle
from fer_edge.runtime.engine import CompiledModel, EngineConfig, load_model
from fer_edge.runtime.kinds import kind_of, softmax_if_needed
from fer_edge.runtime.smoothing import EMA
from fer_edge.runtime.timers import StageTimer
from fer_edge.runtime.windows import RingBuffer


@dataclass
class PipelineConfig:
    """Runtime settings (the bundle supplies labels, frame geometry and window).

    Attributes:
        detector: face detector name (``haar``).
        tracker: ``medianflow`` (fastest, the thesis' choice), ``kcf``, ``csrt``, ``mosse`` or ``mil``.
        detect_every: run the detector every N frames (and whenever a tracker fails).
        max_faces: most faces tracked at once.
        max_missed: detection rounds a face may be missing before its track retires.
        alpha: EMA smoothing of the scores, in (0, 1]; 1 = no smoothing.
        stride: run the temporal/clip head every N frames; None = the bundle's window stride.
        min_face: smallest face side in pixels for the detector.
        detect_side: the detector works on a copy whose longer side is at most this many pixels.
        detect_scale: Haar pyramid step; 1.2 is ~2x faster than 1.1 but misses more faces.
        precision: bundle model variant to run (``FP32``, ``FP16``, ``INT8``); None = default.
        align: rotate each face crop so its eyes are level (for bundles trained on aligned
            crops); the eyes come from BlazeFace, run on each track's region every
            ``detect_every`` frames.
        relock: cascade/clip bundles crop each track at the face size it had when its window
            started (training clips are tracked at a steady size, and a re-detected box that is
            20 % smaller would read as an expression change to a temporal head); when the box
            size drifts beyond this factor the crop size is re-locked and the window restarts.
        stills: the frames are still images (a frame folder, one image): every one gets a
            full-frame detection and a face not detected in it is gone (``detect_every`` and
            ``max_missed`` are then 1); the demo sets it for image sources.
    """

    detector: str = "haar"
    tracker: str = "medianflow"
    detect_every: int = 10
    max_faces: int = 8
    max_missed: int = 5
    alpha: float = 0.5
    stride: int | None = None
    min_face: int = 40
    detect_side: int = 320
    detect_scale: float = 1.1
    precision: str | None = None
    relock: float = 1.5
    align: bool = False
    stills: bool = False

    def __post_init__(self) -> None:
        coerce_fields(self)
        for name in ("detect_every", "max_faces", "max_missed", "min_face", "detect_side"):
            if int(getattr(self, name)) < 1:
                raise FerEdgeError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.stride is not None and self.stride < 1:
            raise FerEdgeError(f"--stride must be >= 1, got {self.stride}")
        if not 1.0 < self.detect_scale <= 2.0:
            raise FerEdgeError(f"--detect-scale must be in (1, 2], got {self.detect_scale}")
        if not self.relock > 1.0:
            raise FerEdgeError(f"relock must be > 1, got {self.relock}")
        EMA(self.alpha)  # validates alpha


@dataclass
class FaceResult:
    """One face in one frame."""

    track: int
    box: tuple[int, int, int, int]
    label: str | None
    scores: dict[str, float] | None
    window: tuple[int, int] | None


@dataclass
class Prepared:
    """A frame between :meth:`Pipeline.prepare` and :meth:`Pipeline.finish`."""

    index: int
    tracks: list
    batch: np.ndarray | None  # the crops, normalised; None without faces


@dataclass
class _TrackState:
    buffer: RingBuffer
    ema: EMA
    scores: np.ndarray | None = None
    window: tuple[int, int] | None = None
    since_head: int = 0


def _load(bundle: Bundle, role: str, precision: str | None, engine: EngineConfig) -> CompiledModel:
    """Compile a bundle's model; an INT8 one falls back to the bundle's FP32 (else FP16) variant
    when it cannot run on this CPU."""
    entry = bundle.models[role]
    fallback = None
    if (precision or entry.precision).upper() == "INT8":
        have = {entry.precision, *entry.variants}
        fallback = next((bundle.model_path(role, p) for p in ("FP32", "FP16") if p in have), None)
    return load_model(bundle.model_path(role, precision), engine, fallback=fallback)


class Pipeline:
    """Stateful per-frame processing of one video stream.

    Example:
        >>> pipe = Pipeline(load_bundle("runs/fer"), PipelineConfig(), EngineConfig())  # doctest: +SKIP
        >>> faces = pipe.step(frame, index=0)  # doctest: +SKIP
    """

    def __init__(
        self,
        bundle: Bundle,
        config: PipelineConfig | None = None,
        engine: EngineConfig | None = None,
        *,
        detector=None,
        share: Pipeline | None = None,
    ) -> None:
        from fer_edge.runtime.faces.detect import create_detector
        from fer_edge.runtime.faces.manager import TrackManager

        self.bundle = bundle
        self.kind = kind = kind_of(bundle)
        self.config = config = config or PipelineConfig()
        self.engine = engine = engine or EngineConfig()
        self.timer = StageTimer()
        self.labels = list(bundle.labels)
        spec = bundle.frame
        self._size = spec.size
        self._crop_side = max(spec.size)
        self.stride = config.stride or bundle.window.stride
        detector = detector or create_detector(
            config.detector,
            min_size=(config.min_face, config.min_face),
            max_side=config.detect_side,
            scale_factor=config.detect_scale,
        )
        self.manager = TrackManager(
            detector,
            tracker=config.tracker,
            detect_every=1 if config.stills else config.detect_every,
            max_missed=1 if config.stills else config.max_missed,
            max_faces=config.max_faces,
            full_every=1 if config.stills else 3,
        )
        self.frame_model: CompiledModel | None = None
        self.head: CompiledModel | None = None
        if share is not None:  # another stream's compiled models (called from one thread only)
            self.frame_model, self.head = share.frame_model, share.head
        else:
            if kind.frame_role:
                self.frame_model = _load(bundle, kind.frame_role, config.precision, engine)
            if kind.head_role:
                self.head = _load(bundle, kind.head_role, config.precision, engine)
        self._check_shapes()
        self.tracks: dict[int, _TrackState] = {}
        self._sides: dict[int, float] = {}  # locked crop side per track (cascade/clip)
        self._angles: dict[int, tuple[int, float]] = {}  # track -> (frame measured, eye-line roll)
        self._eyes = None
        if config.align:
            from fer_edge.runtime.faces.blazeface import BlazeFaceDetector

            self._eyes = (
                detector
                if isinstance(detector, BlazeFaceDetector)
                else BlazeFaceDetector("short", device=engine.device)
            )

    def _check_shapes(self) -> None:
        h, w = self._size
        c = self.bundle.frame.channels
        for m, most in ((self.frame_model, 1), (self.head, self.kind.head_inputs)):
            if m is not None and m.num_inputs > most:
                raise FerEdgeError(
                    f"{m.path}: the model takes {m.num_inputs} inputs, the runtime feeds {most}; "
                    "re-export it with one image input"
                )
        model = self.frame_model or self.head
        shape = model.input_shape
        want = (h, w, c)
        got = tuple(shape[-3:])
        if all(g in (-1, x) for g, x in zip(got, want)):
            pass
        else:
            raise FerEdgeError(
                f"{model.path}: model input {shape} does not fit the manifest's frame "
                f"{h}x{w}x{c}; fix 'frame' in {self.bundle.path / 'manifest.json'}"
            )
        out = (self.head or self.frame_model).output_shape[-1]
        if out not in (-1, len(self.labels)):
            raise FerEdgeError(f"{self.bundle.path}: the model gives {out} scores for {len(self.labels)} labels")

    @property
    def inference_precision(self) -> str:
        return (self.frame_model or self.head).inference_precision

    def _item_shape(self, out: np.ndarray) -> tuple[int, ...]:
        return out.shape[1:]

    def _new_state(self, item_shape: tuple[int, ...]) -> _TrackState:
        return _TrackState(RingBuffer(self.bundle.window.length, item_shape), EMA(self.config.alpha))

    def preprocess(
        self, frame: np.ndarray, boxes: list[tuple[int, int, int, int]], angles: list[float] | None = None
    ) -> np.ndarray:
        """Crops of ``boxes`` (rotated by ``angles`` degrees if given) as the model's NHWC float32 batch."""
        from fer_edge.runtime.faces.crop import crop_face_aligned, crop_faces

        pad_y = self.bundle.frame.pad_y
        if angles is None:
            crops = crop_faces(frame, boxes, size=self._crop_side, pad_y=pad_y)
        else:
            crops = np.stack([crop_face_aligned(frame, b, a, self._crop_side, pad_y) for b, a in zip(boxes, angles)])
        h, w = self._size
        if (h, w) != (self._crop_side, self._crop_side):
            crops = np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_AREA) for c in crops])
        color = self.bundle.frame.color
        if color == "GRAY":
            crops = np.stack([cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) for c in crops])[..., None]
        elif color == "RGB":
            crops = crops[..., ::-1]
        return self.bundle.frame.normalise(crops)

    def step(self, frame: np.ndarray, index: int) -> list[FaceResult]:
        """Process one BGR frame; returns one result per visible face."""
        work = self.prepare(frame, index)
        if work.batch is None:
            return []
        start = time.perf_counter()
        per_frame = self.frame_model(work.batch) if self.frame_model is not None else work.batch
        return self.finish(work, per_frame, infer_ms=(time.perf_counter() - start) * 1000.0)

    def prepare(self, frame: np.ndarray, index: int) -> Prepared:
        """Detect/track and crop: the part of :meth:`step` before the frame model.

        A multi-stream runtime prepares several streams' frames, runs the frame model once on
        their crops together and hands each stream its rows with :meth:`finish`.
        """
        tracks = self.manager.update(frame)
        for stage, ms in self.manager.timings.items():
            if stage == "detect" and ms == 0.0:
                continue  # no detection in this frame: a skipped frame, not a 0 ms call
            self.timer.add(stage, ms)
        for gone in self.manager.retired:
            self.tracks.pop(gone, None)
            self._sides.pop(gone, None)
            self._angles.pop(gone, None)
        if not tracks:
            return Prepared(index, [], None)
        boxes = [self._locked_box(t) if self.kind.steady_crop else t.box for t in tracks]
        with self.timer("preprocess"):
            angles = self._eye_angles(frame, tracks, index) if self._eyes is not None else None
            batch = self.preprocess(frame, boxes, angles)
        return Prepared(index, tracks, batch)

    def _eye_angles(self, frame: np.ndarray, tracks, index: int) -> list[float]:
        """Eye-line roll per track, re-measured every ``detect_every`` frames on the track's region."""
        from fer_edge.runtime.faces.crop import eye_angle

        out = []
        for t in tracks:
            seen = self._angles.get(t.id)
            if seen is None or index - seen[0] >= self.config.detect_every:
                x, y, w, h = t.box
                m = max(w, h) // 2  # margin: the detector wants some context around the face
                x0, y0 = max(0, x - m), max(0, y - m)
                found = self._eyes.detect_full(frame[y0 : y + h + m, x0 : x + w + m])
                angle = eye_angle(*found[0].eyes) if found else (seen[1] if seen else 0.0)
                seen = self._angles[t.id] = (index, angle)
            out.append(seen[1])
        return out

    def finish(self, work: Prepared, per_frame: np.ndarray, *, infer_ms: float = 0.0) -> list[FaceResult]:
        """Buffers, temporal head and smoothing for a prepared frame given its frame-model rows.

        ``infer_ms`` is this frame's share of the frame model's time: the ``infer`` stage gets
        one sample per frame with faces (frame model + head).
        """
        if not work.tracks:
            return []
        start = time.perf_counter()
        due = self._push(work.tracks, self.kind.buffer_items(per_frame), work.index)
        if due and self.head is not None:
            self._run_head(due)
        self.timer.add("infer", infer_ms + (time.perf_counter() - start) * 1000.0)
        with self.timer("postprocess"):
            return [self._result(t) for t in work.tracks]

    def _locked_box(self, track) -> tuple[int, int, int, int]:
        """The track's box re-centred at its locked side; re-locks (new window) on a big jump."""
        x, y, w, h = track.box
        side = float(max(w, h))
        locked = self._sides.get(track.id)
        if locked is None or not 1.0 / self.config.relock <= side / locked <= self.config.relock:
            if locked is not None:
                self.tracks.pop(track.id, None)  # crop geometry changed: start a fresh window
            self._sides[track.id] = locked = side
        s = int(round(locked))
        return (int(round(x + w / 2 - s / 2)), int(round(y + h / 2 - s / 2)), s, s)

    def _push(self, tracks, per_frame: np.ndarray, index: int) -> list[int]:
        """Append each face's vector to its buffer; returns track ids whose head is due."""
        due = []
        min_frames = self.bundle.window.min_frames
        for track, item in zip(tracks, per_frame):
            state = self.tracks.get(track.id)
            if state is None:
                state = self.tracks[track.id] = self._new_state(item.shape)
            state.buffer.push(item, index)
            state.since_head += 1
            scores = self.kind.window_scores(state.buffer)
            if scores is not None:  # no head: the buffer gives the scores
                state.scores = state.ema.update(scores)
                state.window = state.buffer.frames
            elif len(state.buffer) >= min_frames and (state.scores is None or state.since_head >= self.stride):
                due.append(track.id)
        return due

    def _run_head(self, due: list[int]) -> None:
        windows, masks = zip(*(self.tracks[i].buffer.window() for i in due))
        x, m = np.stack(windows), np.stack(masks)
        if self.head.input_shape and self.head.input_shape[0] == 1 and len(due) > 1:
            scores = np.concatenate([self._call_head(x[i : i + 1], m[i : i + 1]) for i in range(len(due))])
        else:
            scores = self._call_head(x, m)
        scores = softmax_if_needed(scores)
        for tid, s in zip(due, scores):
            state = self.tracks[tid]
            state.scores = state.ema.update(s)
            state.window = state.buffer.frames
            state.since_head = 0

    def _call_head(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.head.num_inputs == 2:
            return self.head(x, mask.astype(np.float32))
        return self.head(x)

    def _result(self, track) -> FaceResult:
        state = self.tracks[track.id]
        if state.scores is None:
            return FaceResult(track.id, tuple(track.box), None, None, None)
        scores = {name: float(v) for name, v in zip(self.labels, state.scores)}
        label = self.labels[int(np.argmax(state.scores))]
        return FaceResult(track.id, tuple(track.box), label, scores, state.window)

    def reset(self) -> None:
        self.manager.reset()
        self.tracks.clear()
        self._sides.clear()
        self._angles.clear()
