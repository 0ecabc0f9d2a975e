"""Run a command on a disk that is full, for real: a tiny tmpfs mounted over one folder in a
private mount namespace (``unshare -rm``, no root needed), so every write past its size fails
with ENOSPC at the system call. Where user namespaces are off, the file-size limit
(RLIMIT_FSIZE, SIGXFSZ ignored) makes the same writes fail with EFBIG instead.

The mount vanishes with the namespace, so the helper lists what the command left there
before leaving it. ``FULLDISK_FSIZE=1`` in the environment takes the file-size path even where
namespaces work, to check that the suites pass on machines without them.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The one-line messages either way of filling the disk gives.
FULL = r"no space left on the disk|file too large|the write failed \(.*is the disk full\?\)"

_SCRIPT = """
mount -t tmpfs -o size="$1"k fer-edge-full "$2" || exit 97
shift 2
"$@"
rc=$?
find "$DISK" -mindepth 1 -printf '%P\\n' > "$LISTING"
exit $rc
"""


@dataclass
class FullRun:
    rc: int
    err: str
    left: list[str]  # paths left on the full disk, relative to it
    how: str  # "tmpfs" (ENOSPC) or "fsize" (EFBIG)

    def one_line(self) -> str:
        """The command's one error line; fails the test on a traceback or several lines."""
        assert "Traceback" not in self.err, self.err
        lines = [ln for ln in self.err.splitlines() if ln.startswith("fer-edge")]
        assert len(lines) == 1, self.err
        return lines[0]


def _namespaces() -> bool:
    if os.environ.get("FULLDISK_FSIZE") or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


def run_full(
    argv: list[str],
    disk: Path,
    *,
    size_kb: int,
    cwd: Path,
    how: str = "tmpfs",
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> FullRun:
    """Run ``fer-edge argv`` in ``cwd`` with ``disk`` (a folder) holding only ``size_kb`` KiB.

    ``how="fsize"`` uses the file-size limit even where namespaces work: every file, anywhere,
    stops at ``size_kb`` while the disk reports free space (what a quota or a FAT32 stick does).
    """
    disk.mkdir(parents=True, exist_ok=True)
    listing = disk.parent / f".{disk.name}.listing"
    cmd = [sys.executable, "-m", "fer_edge", *argv]
    env = {**os.environ, **(env or {}), "DISK": str(disk), "LISTING": str(listing)}
    if how == "tmpfs" and _namespaces():
        proc = subprocess.run(
            ["unshare", "-rm", "--", "sh", "-c", _SCRIPT, "sh", str(size_kb), str(disk), *cmd],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode != 97, f"cannot mount a tmpfs: {proc.stderr}"
        left = listing.read_text().split("\n")[:-1] if listing.exists() else []
        return FullRun(proc.returncode, proc.stderr, left, "tmpfs")

    def limit() -> None:  # in the child: writes past the limit fail with EFBIG, not a signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size_kb * 1024, size_kb * 1024))

    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, preexec_fn=limit)
    left = sorted(str(p.relative_to(disk)) for p in disk.rglob("*"))
    return FullRun(proc.returncode, proc.stderr, left, "fsize")
