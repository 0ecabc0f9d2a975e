"""Progress for long stages: a tqdm bar on a terminal, one log line every N seconds otherwise.

Under systemd, in CI or with stderr sent to a file, a bar's carriage returns make unreadable
logs and nothing shows until the end; a plain line now and then ("demo: 1200 frames, 29.8
frames/s, faces=1180") is what a journal wants. ``--quiet`` (log level above INFO) hides both.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

log = logging.getLogger("fer_edge.core.progress")

DEFAULT_EVERY = 30.0  # seconds between log lines when stderr is not a terminal


def _every() -> float:
    try:
        return float(os.environ.get("FER_EDGE_LOG_EVERY", DEFAULT_EVERY))
    except ValueError:
        return DEFAULT_EVERY


class LogProgress:
    """tqdm's small API (``update``, ``set_postfix``, ``close``, iteration) as periodic log lines.

    Example:
        >>> bar = LogProgress(total=3, desc="demo", unit="frame", every=0)
        >>> bar.update(1)  # logs "demo: 1/3 frame, ..." at INFO
        >>> bar.close()
    """

    def __init__(
        self,
        iterable: Iterable | None = None,
        *,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
        every: float | None = None,
    ) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.desc, self.unit = total, desc, unit
        self.every = _every() if every is None else float(every)
        self.n = 0
        self.postfix = ""
        self.start = self._last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        """The progress line as it is logged."""
        elapsed = (now or time.monotonic()) - self.start
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        rate = self.n / elapsed if elapsed > 0 else 0.0
        extra = f", {self.postfix}" if self.postfix else ""
        return f"{self.desc}: {done} {self.unit}s, {rate:.1f} {self.unit}s/s{extra} ({elapsed:.0f} s)"

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:  # noqa: ARG002 - tqdm API
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def set_postfix_str(self, text: str, refresh: bool = False) -> None:  # noqa: ARG002 - tqdm API
        self.postfix = text

    def close(self) -> None:
        pass

    def __iter__(self) -> Iterator:
        for item in self.iterable or ():
            yield item
            self.update(1)

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    leave: bool = False,
    every: float | None = None,
    stream: Any = None,
    disable: bool = False,
) -> Any:
    """A tqdm bar when ``stream`` (default stderr) is a terminal, else a :class:`LogProgress`.

    Every progress display of fer-edge goes through here (a test checks that nothing else imports
    tqdm). ``disable`` shows nothing (the counter still counts).

    Example:
        >>> for clip in progress(["a", "b"], desc="synth", unit="clip"):  # doctest: +SKIP
        ...     pass
    """
    stream = sys.stderr if stream is None else stream
    # Quiet only when logging was set up above INFO (the CLI's -q): a library caller who never
    # configured logging still gets a bar on a terminal.
    quiet = disable or (
        bool(logging.getLogger().handlers) and not logging.getLogger("fer_edge").isEnabledFor(logging.INFO)
    )
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        from tqdm import tqdm

        return tqdm(
            iterable, total=total, desc=desc, unit=unit, leave=leave, dynamic_ncols=True, disable=quiet, file=stream
        )
    if quiet:
        every = float("inf")
    return LogProgress(iterable, total=total, desc=desc, unit=unit, every=every)
