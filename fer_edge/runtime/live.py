"""The live view: a sink that serves each stream's annotated video (MJPEG), events and FPS over HTTP.

``LiveServer`` is an observer of the run loop: the loop calls ``publish(stream, frame, faces, fps)``
once per processed frame and ``close()`` at the end. ``publish`` never waits for a client: it
updates the stream's counters and events and, only while someone watches, keeps a copy of the
newest frame (latest wins). One encoder thread draws the overlay and encodes JPEG at most
``max_fps`` times a second per stream; each client's thread sends the newest JPEG when it is
ready for one, so a slow client skips frames and never holds up the pipeline or other clients.
Clients are bounded (``max_clients``; one log line per refused client). Binding anything but a
loopback address requires a token (see :func:`resolve_token`). The HTTP side is the standard
library's ``ThreadingHTTPServer`` (:mod:`fer_edge.runtime.livehttp`). numpy + OpenCV only.
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fer_edge.core.errors import FerEdgeError

log = logging.getLogger(__name__)

__all__ = ["LiveServer", "parse_address", "resolve_token", "is_loopback"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
_WATCH_S = 3.0  # a snapshot request keeps frames coming this long


def parse_address(text: str | None) -> tuple[str, int]:
    """``[HOST:]PORT`` -> (host, port); the host defaults to loopback, IPv6 hosts go in brackets.

    Example:
        >>> parse_address("8081"), parse_address("0.0.0.0:80"), parse_address("[::1]:8080")
        (('127.0.0.1', 8081), ('0.0.0.0', 80), ('::1', 8080))
    """
    if not text:
        return DEFAULT_HOST, DEFAULT_PORT
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = DEFAULT_HOST, text
    host = host.strip("[]") or DEFAULT_HOST
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise FerEdgeError(f"--serve expects [HOST:]PORT with a port 0-65535, e.g. 127.0.0.1:8080; got {text!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and 127.0.0.0/8 or ::1 addresses (what only this machine can reach).

    Example:
        >>> is_loopback("127.0.0.2"), is_loopback("0.0.0.0"), is_loopback("localhost")
        (True, False, True)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def resolve_token(host: str, token: str | None) -> str | None:
    """The token clients must present: the given one, a new random one for a non-loopback bind,
    or None (loopback without a token: only this machine can connect).

    Example:
        >>> resolve_token("127.0.0.1", None) is None, len(resolve_token("0.0.0.0", None)) >= 20
        (True, True)
    """
    if token is not None:
        if len(token) < 8 or not token.isascii() or not token.isprintable() or " " in token:
            raise FerEdgeError("--serve-token must be at least 8 printable ASCII characters without spaces")
        return token
    return None if is_loopback(host) else secrets.token_urlsafe(18)


@dataclass
class _Channel:
    """One stream's state shared between the loop (publish), the encoder and the clients."""

    name: str
    pace: float | None = None  # frames per second a file source plays at (None: as fast as it runs)
    frames: int = 0
    fps: float = 0.0
    faces: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[int, str | None] = field(default_factory=dict)
    events: collections.deque = field(default_factory=lambda: collections.deque(maxlen=200))
    pending: tuple[np.ndarray, list, float | None] | None = None  # newest frame not yet encoded
    jpeg: bytes | None = None
    seq: int = 0  # bumps with each new JPEG
    encoded_at: float = 0.0
    viewers: int = 0
    watch_until: float = 0.0
    started: float = 0.0  # when its first frame was published (the pace's clock)
    ready: threading.Condition | None = None  # notified on each new JPEG of this stream only
    times: collections.deque = field(default_factory=lambda: collections.deque(maxlen=60))


class LiveServer:
    """Serve the run's streams live; a sink with ``publish`` and ``close``.

    Args:
        host, port: where to listen (port 0: any free port; see ``url``).
        token: required from clients (query ``?token=``, header ``Authorization: Bearer``);
            None: generated for a non-loopback ``host`` (:func:`resolve_token`).
        max_clients: HTTP connections served at once; more are refused with 503.
        max_fps: most JPEGs encoded per stream and second.
        quality: JPEG quality 1-100.
        max_side: frames larger than this many pixels on their long side are sent scaled down
            (a 1080p frame has 4x the pixels to encode of a 960x540 one, on the device that runs
            the pipeline; 0 = full size).
        pace: stream name -> frames per second: ``publish`` holds that stream to its rate (a video
            file then plays as a camera would, not in a blink).

    Example (a run that is watched at ``live.url`` while it goes)::

        with LiveServer(port=8080) as live:
            run_video("clip.mp4", bundle, sinks=[live])
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        token: str | None = None,
        max_clients: int = 16,
        max_fps: float = 15.0,
        quality: int = 80,
        max_side: int = 960,
        pace: dict[str, float] | None = None,
        streams: Sequence[str] = (),
    ) -> None:
        from fer_edge.runtime.livehttp import make_server

        if max_clients < 1 or max_fps <= 0 or not 1 <= quality <= 100:
            raise FerEdgeError("live view: max_clients >= 1, max_fps > 0 and quality 1-100 are required")
        self.token = resolve_token(host, token)
        self.max_clients, self.max_fps, self.quality = max_clients, max_fps, quality
        self.max_side = int(max_side)
        self._pace = dict(pace or {})
        self._lock = threading.Lock()
        self.lock = self._lock  # livehttp counts its clients under it
        self._channels: dict[str, _Channel] = {}
        for name in streams:
            self._channel(name)
        self._event_id = 0
        self._closed = False
        self._wake = threading.Event()
        self.clients = 0  # connections being served (livehttp counts them)
        self.refused = 0
        try:
            self._httpd = make_server(self, host, port)
        except OSError as exc:
            raise FerEdgeError(
                f"cannot serve on {host}:{port}: {exc.strerror or exc}; pick another --serve PORT"
            ) from exc
        self.host, self.port = host, self._httpd.server_address[1]
        self._threads = [
            threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name="fer-edge-live-http"
            ),
            threading.Thread(target=self._encode_loop, daemon=True, name="fer-edge-live-encode"),
        ]
        for t in self._threads:
            t.start()

    @property
    def url(self) -> str:
        """The page's address (with its token)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _channel(self, name: str) -> _Channel:
        ch = self._channels.get(name)
        if ch is None:
            ch = self._channels[name] = _Channel(name, pace=self._pace.get(name), ready=threading.Condition(self._lock))
        return ch

    # -- the loop's side --------------------------------------------------------------------------
    def publish(self, stream: str, frame: np.ndarray, faces: Sequence[Any], fps: float | None) -> None:
        """One processed frame of ``stream`` (BGR, not yet drawn on) and its faces; returns at once
        (except when ``pace`` holds a file source to its frame rate)."""
        now = time.perf_counter()
        with self._lock:
            ch = self._channel(stream)
            index = ch.frames
            ch.frames += 1
            if index == 0:
                ch.started = now
            ch.times.append(now)
            if fps is None and len(ch.times) > 1:
                fps = (len(ch.times) - 1) / max(ch.times[-1] - ch.times[0], 1e-6)
            ch.fps = float(fps or 0.0)
            ch.faces = [_face(f) for f in faces]
            self._label_events(ch, index, faces)
            if ch.viewers > 0 or now < ch.watch_until:
                ch.pending = (frame.copy(), list(faces), fps)  # the writer draws on `frame` next
                self._wake.set()
        if ch.pace:
            delay = ch.started + (index + 1) / ch.pace - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

    def _label_events(self, ch: _Channel, index: int, faces: Sequence[Any]) -> None:
        """Events are changes: a track appears, its label changes, it leaves (not every frame)."""
        seen = {}
        for f in faces:
            seen[f.track] = f.label
            if f.track not in ch.labels or ch.labels[f.track] != f.label:
                what = "appears" if f.track not in ch.labels else "changes"
                score = (f.scores or {}).get(f.label) if f.label else None
                self._event(ch, index, f.track, what, f.label, score)
        for track in set(ch.labels) - set(seen):
            self._event(ch, index, track, "leaves", None, None)
        ch.labels = seen

    def _event(self, ch: _Channel, index: int, track: int, what: str, label, score) -> None:
        self._event_id += 1
        ch.events.append(
            {
                "id": self._event_id,
                "frame": index,
                "track": int(track),
                "event": what,
                "label": label,
                "score": None if score is None else round(float(score), 3),
            }
        )

    def close(self) -> None:
        """Stop serving (idempotent); connected clients see the end of their stream."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for ch in self._channels.values():
                ch.ready.notify_all()
        self._wake.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        for t in self._threads:
            t.join(timeout=5.0)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- the encoder ------------------------------------------------------------------------------
    def _encode_loop(self) -> None:
        import cv2

        from fer_edge.runtime.overlay import draw_frame

        params = [int(cv2.IMWRITE_JPEG_QUALITY), self.quality]
        while not self._closed:
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            soonest = None
            with self._lock:
                channels = list(self._channels.values())
            for ch in channels:
                with self._lock:
                    due = ch.encoded_at + 1.0 / self.max_fps - time.perf_counter()
                    item = ch.pending if due <= 0 else None
                    if item is not None:
                        ch.pending = None
                    elif ch.pending is not None:
                        soonest = due if soonest is None else min(soonest, due)
                if item is None:
                    continue
                frame, faces, fps = item
                draw_frame(frame, faces, fps)
                side = max(frame.shape[:2])
                if self.max_side and side > self.max_side:
                    f = self.max_side / side
                    frame = cv2.resize(frame, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
                ok, buf = cv2.imencode(".jpg", frame, params)
                if not ok:  # pragma: no cover - OpenCV encodes any BGR uint8 image
                    continue
                with self._lock:
                    ch.jpeg, ch.seq, ch.encoded_at = buf.tobytes(), ch.seq + 1, time.perf_counter()
                    ch.ready.notify_all()
            if soonest is not None:
                time.sleep(min(soonest, 0.5))
                self._wake.set()

    # -- the clients' side (livehttp) -------------------------------------------------------------
    def watch(self, name: str, delta: int) -> bool:
        """A viewer of ``name`` starts (+1) or stops (-1); False when there is no such stream."""
        with self._lock:
            ch = self._channels.get(name)
            if ch is None:
                return False
            ch.viewers += delta
            return True

    def next_jpeg(self, name: str, after: int, timeout: float) -> tuple[int, bytes | None]:
        """The stream's newest JPEG once it is newer than ``after`` (or the same after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            ch = self._channels.get(name)
            if ch is None:
                return after, None
            ch.watch_until = max(ch.watch_until, time.perf_counter() + _WATCH_S)
            while ch.seq <= after and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ch.ready.wait(left)
            return ch.seq, ch.jpeg

    def status(self, since: int = 0) -> dict[str, Any]:
        """What ``/status.json`` returns: per stream its frames, FPS, current faces and events after ``since``."""
        with self._lock:
            return {
                "clients": self.clients,
                "refused": self.refused,
                "max_clients": self.max_clients,
                "streams": {
                    ch.name: {
                        "frames": ch.frames,
                        "fps": round(ch.fps, 2),
                        "viewers": ch.viewers,
                        "faces": ch.faces,
                        "events": [e for e in ch.events if e["id"] > since],
                    }
                    for ch in self._channels.values()
                },
            }

    def stream_list(self) -> list[str]:
        with self._lock:
            return list(self._channels)


def _face(f: Any) -> dict[str, Any]:
    score = (f.scores or {}).get(f.label) if f.label else None
    return {
        "track": int(f.track),
        "box": [int(v) for v in f.box],
        "label": f.label,
        "score": None if score is None else round(float(score), 3),
    }


def live_view(address: str, token: str | None, sources: Sequence[Any], fps: float | None = None) -> LiveServer:
    """The live view's server for ``sources`` (``--serve``); a file source plays at its own frame
    rate (or ``fps``), a camera or stream as it comes.

    Example:
        >>> with live_view("127.0.0.1:8080", None, ["clip.mp4"]) as live:  # doctest: +SKIP
        ...     print(live.url)
    """
    from fer_edge.runtime.stream import is_live
    from fer_edge.runtime.streamio import stream_names
    from fer_edge.runtime.video import open_source

    names = stream_names(sources)
    pace = {}
    for name, src in zip(names, sources):
        if not is_live(src):
            with open_source(src) as opened:
                pace[name] = fps or (opened.info.fps if opened.info.fps and opened.info.fps > 0 else 30.0)
    host, port = parse_address(address)
    return LiveServer(host, port, token=token, pace=pace, streams=names)
