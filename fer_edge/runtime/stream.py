"""Fault-tolerant live sources: read timeouts and bounded reconnects for cameras and streams.

A network stream (RTSP, HTTP, ...) or a USB camera can stall (``cap.read()`` blocks for
minutes), drop (``read`` fails) or vanish. :class:`ResilientSource` wraps
:func:`fer_edge.runtime.video.open_source` so the runtime keeps going:

* every read (and every re-open) runs in a worker thread with a deadline, so a stalled read
  never hangs the demo;
* a stall, a failed read or an error closes the source and re-opens it, up to
  ``max_reconnects`` times in a row, waiting ``backoff`` seconds (doubled each try, capped at
  ``max_backoff``) between tries; a frame read successfully resets the count;
* each event is kept as a one-line note (``"stream stalled for 5.0 s; reconnecting (2/5)"``)
  that the runtime writes into the events file with
  :func:`fer_edge.runtime.events.note_event`.

A read that is stuck inside OpenCV cannot be cancelled from Python: its worker thread is
abandoned (it is a daemon thread) and releases its capture whenever the read returns.

numpy + OpenCV only (through :mod:`fer_edge.runtime.video`).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_edge.core.config import coerce_fields
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.video import STREAM_PREFIXES, VideoInfo, open_source
from fer_edge.runtime.video.source import camera_index

log = logging.getLogger(__name__)

__all__ = ["ResilientSource", "StreamPolicy", "is_live", "open_stream"]


@dataclass(frozen=True)
class StreamPolicy:
    """How long to wait for a live source and how often to try again.

    Attributes:
        read_timeout: seconds one frame may take before the stream counts as stalled.
        open_timeout: seconds opening (or re-opening) the source may take.
        max_reconnects: re-open attempts in a row before giving up (the run then ends).
        backoff: seconds to wait before the first re-open; doubled after each failure.
        max_backoff: longest wait between two attempts.

    Example:
        >>> StreamPolicy(read_timeout=2.0, max_reconnects=3).max_reconnects
        3
    """

    read_timeout: float = 5.0
    open_timeout: float = 15.0
    max_reconnects: int = 5
    backoff: float = 0.5
    max_backoff: float = 8.0

    def __post_init__(self) -> None:
        coerce_fields(self)
        for name in ("read_timeout", "open_timeout"):
            # A day at most: queue.get(timeout=inf) overflows (and aborts in C++ code after it).
            if not 0 < getattr(self, name) <= 86_400:
                raise FerEdgeError(
                    f"stream {name.replace('_', '-')} must be in (0, 86400] seconds, got {getattr(self, name)}"
                )
        if self.max_reconnects < 0:
            raise FerEdgeError(f"stream max-reconnects must be >= 0, got {self.max_reconnects}")
        if not 0 <= self.backoff <= self.max_backoff <= 3600:
            raise FerEdgeError(
                f"stream backoff must satisfy 0 <= backoff <= max_backoff, got {self.backoff} and {self.max_backoff}"
            )

    def wait(self, attempt: int) -> float:
        """Seconds to wait before re-open attempt ``attempt`` (1-based)."""
        return min(self.backoff * 2 ** (attempt - 1), self.max_backoff)


def is_live(source: Any) -> bool:
    """True for a camera index or a stream URL (sources that can stall or drop).

    Example:
        >>> is_live(0), is_live("rtsp://cam/1"), is_live("clip.mp4")
        (True, True, False)
    """
    if isinstance(source, bool):
        return False
    if camera_index(source) is not None:
        return True
    text = os.fspath(source) if isinstance(source, (str, os.PathLike)) else str(source)
    text = text if isinstance(text, str) else os.fsdecode(text)
    return text.lower().startswith(STREAM_PREFIXES)


class _SourceThread:
    """One daemon thread that owns one opened source and runs calls on it with a deadline."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._results: queue.Queue = queue.Queue()
        self.source = None
        self.abandoned = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                break
            try:
                result = (True, job())
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
                result = (False, exc)
            if self.abandoned:
                break  # nobody waits for this result any more
            self._results.put(result)
        self._release()

    def call(self, job: Callable[[], Any], timeout: float) -> tuple[str, Any]:
        """``("ok", value)``, ``("error", exception)`` or ``("timeout", None)``."""
        self._jobs.put(job)
        try:
            ok, value = self._results.get(timeout=timeout)
        except queue.Empty:
            self.abandon()
            return "timeout", None
        return ("ok", value) if ok else ("error", value)

    def abandon(self) -> None:
        """Stop using this worker; the source is released when the thread gets to it."""
        self.abandoned = True
        self._jobs.put(None)

    def _release(self) -> None:
        src, self.source = self.source, None
        if src is not None:
            try:
                src.close()
            except Exception:  # noqa: BLE001 - best effort on a source we gave up
                log.debug("closing an abandoned source failed", exc_info=True)


class ResilientSource:
    """A live source that survives stalls and drops; same ``read``/``close``/``info`` as VideoSource.

    Use :func:`open_stream` to create one. :meth:`read` returns ``None`` only when the source
    is closed or could not be re-opened within the policy; :meth:`drain_notes` returns what
    happened since the last call.

    Example:
        >>> src = open_stream("rtsp://camera/stream", policy=StreamPolicy(read_timeout=3))  # doctest: +SKIP
        >>> frame = src.read()  # doctest: +SKIP
        >>> src.drain_notes()   # doctest: +SKIP
        ['stream stalled for 3.0 s; reconnecting (1/5)', 'stream reconnected']
    """

    def __init__(
        self,
        source: str | int,
        policy: StreamPolicy,
        *,
        opener: Callable[[str | int], Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.policy = policy
        self._opener = opener or open_source
        self._sleep = sleep
        self._notes: list[str] = []
        self._closed = False
        self._count = 0
        self.reconnects = 0  # successful re-opens so far
        self.stalls = 0  # reads that hit the deadline
        self.drops = 0  # reads that failed or ended
        self._worker = self._open()
        if self._worker is None:
            shown = source if isinstance(source, int) else f"'{source}'"
            raise FerEdgeError(
                f"cannot open {shown} within {policy.open_timeout:g} s; check the camera "
                "or URL and the network (or allow a longer StreamPolicy.open_timeout)"
            )
        self.info: VideoInfo = self._worker.source.info

    def _open(self) -> _SourceThread | None:
        """Open the source in a fresh worker; None on timeout. FerEdgeError passes through."""
        self._count += 1
        worker = _SourceThread(f"fer-edge-stream-{self._count}")

        def job():
            worker.source = self._opener(self.source)
            return worker.source

        status, value = worker.call(job, self.policy.open_timeout)
        if status == "ok":
            return worker
        worker.abandon()
        if status == "error":
            raise value
        return None

    def note(self, text: str) -> None:
        """Record a note for the events file (also logged as a warning)."""
        log.warning("%s: %s", self.source, text)
        self._notes.append(text)

    def drain_notes(self) -> list[str]:
        """Notes since the last call, oldest first."""
        notes, self._notes = self._notes, []
        return notes

    def read(self) -> np.ndarray | None:
        """The next frame; reconnects as the policy allows, ``None`` when it cannot."""
        while not self._closed and self._worker is not None:
            status, value = self._worker.call(self._worker.source.read, self.policy.read_timeout)
            if status == "ok" and value is not None:
                return value
            why = self._why(status, value)
            if status != "timeout":  # (a timed-out worker is already abandoned)
                self._worker.abandon()  # its thread exits and closes the source
            self._worker = None
            if not self._reconnect(why):
                self._closed = True  # gave up: the source has ended for good
                return None
        return None

    def _why(self, status: str, value: Any) -> str:
        if status == "timeout":
            self.stalls += 1
            return f"stream stalled for {self.policy.read_timeout:g} s"
        self.drops += 1
        if status == "error":
            first = str(value).strip().splitlines()[0][:120] if str(value).strip() else type(value).__name__
            return f"stream read failed ({first})"
        return "stream dropped (no frame)"

    def _reconnect(self, why: str) -> bool:
        limit = self.policy.max_reconnects
        for attempt in range(1, limit + 1):
            self.note(f"{why}; reconnecting ({attempt}/{limit})")
            self._sleep(self.policy.wait(attempt))
            if self._closed:
                return False
            try:
                worker = self._open()
            except FerEdgeError as exc:
                worker, why = None, f"reopen failed ({str(exc)[:120]})"
            else:
                if worker is None:
                    why = f"reopen timed out after {self.policy.open_timeout:g} s"
            if worker is not None:
                self._worker = worker
                self.reconnects += 1
                self.note(f"stream reconnected after {attempt} attempt{'s' if attempt > 1 else ''}")
                return True
        self.note(f"{why}; giving up after {limit} reconnect attempts" if limit else f"{why}; not reconnecting")
        return False

    def close(self) -> None:
        """Stop reading and release the source (in its worker thread)."""
        self._closed = True
        if self._worker is not None:
            self._worker.abandon()
            self._worker = None

    def __enter__(self) -> ResilientSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_stream(
    source: str | int, *, policy: StreamPolicy | None = None, opener: Callable[[str | int], Any] | None = None
) -> ResilientSource:
    """Open a camera or stream URL with read timeouts and bounded reconnects.

    Args:
        source: camera index or URL (anything :func:`fer_edge.runtime.video.open_source` opens).
        policy: timeouts and reconnect limits; default :class:`StreamPolicy`.
        opener: what opens the source (default ``open_source``); tests pass fakes.

    Raises:
        FerEdgeError: the first open fails or takes longer than ``policy.open_timeout``.

    Example:
        >>> with open_stream(0, policy=StreamPolicy(read_timeout=2)) as cam:  # doctest: +SKIP
        ...     frame = cam.read()
    """
    return ResilientSource(source, policy or StreamPolicy(), opener=opener)


def open_input(source: str | int, *, policy: StreamPolicy | None = None, fps: float | None = None) -> Any:
    """The runtime's one opener: cameras and stream URLs through :func:`open_stream` (timeouts,
    reconnects), files and frame folders through :func:`fer_edge.runtime.video.open_source`.

    ``fps`` overrides the source's frame rate (raw H.264 such as ``rpicam-vid``'s carries none)
    and is requested from cameras.
    """
    import functools

    from fer_edge.runtime.video import open_source

    if is_live(source):
        opener = functools.partial(open_source, fps=fps) if fps else None  # None: the stream's default
        return open_stream(source, policy=policy, opener=opener)
    return open_source(source, fps=fps)
