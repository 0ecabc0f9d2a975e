"""Shared fixtures: tiny synthetic media and models, built per session, never downloaded."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

# Keep TensorFlow quiet and deterministic wherever a test imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


# --- tests never rewrite tracked files --------------------------------------------------------
# The data files git tracks (results, recipes, kits; not code or prose, which people edit while a
# run goes on) are hashed when the session starts and compared when it ends.
_ROOT = Path(__file__).resolve().parents[1]
_TRACKED: dict[str, str] = {}


def _tracked_data() -> dict[str, str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=_ROOT, capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return {}  # not a git checkout: nothing to compare with
    names = [n for n in out.stdout.decode().split("\0") if n and not n.endswith((".py", ".md"))]
    return {n: hashlib.sha256((_ROOT / n).read_bytes()).hexdigest() for n in names if (_ROOT / n).is_file()}


def pytest_sessionstart(session: pytest.Session) -> None:
    _TRACKED.update(_tracked_data())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    changed = sorted(n for n, digest in _tracked_data().items() if _TRACKED.get(n, digest) != digest)
    if changed:
        session.config.get_terminal_writer().line(f"tests rewrote tracked files: {', '.join(changed)}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
