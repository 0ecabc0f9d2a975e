"""Helpers of the hostile-input suites (``tests/robustness/test_hostile_*.py``): run a verb, check its exit
code, its one-line message and the file system before/after; a tiny bundle and video.

The rules under test live in ``fer_edge.core.atomic`` (outputs), ``fer_edge.core.fileio`` (reading),
``fer_edge.runtime.video.source`` (sources) and ``fer_edge.runtime.bundle`` (files a manifest names).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_edge.cli import main
from tests.support import fuzzing
from tests.support.ovmodels import frame_bundle

TEMP = re.compile(r"\.(tmp|old)-\d+")


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its type, size and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def run_cli(
    world: Path, argv: list[str], capsys, *, rc: int, message: str | None = None, changes: tuple[str, ...] = ()
) -> str:
    """Run ``fer-edge argv``; check the exit code, the one-line message and the file system.

    Args:
        world: the case folder; everything under it is compared before and after.
        rc: the exit code the case must give.
        message: a regex the stderr line must match (when ``rc != 0``).
        changes: paths (relative to ``world``, prefixes allowed) the case may create or change.
    """
    before = snapshot(world)
    got = main(argv)
    err = capsys.readouterr().err.strip()
    after = snapshot(world)
    assert got == rc, f"{argv}: exit {got}, expected {rc}; stderr: {err}"
    if rc != 0:
        lines = [ln for ln in err.splitlines() if ln.startswith("fer-edge")]
        assert len(lines) == 1 and "Traceback" not in err, err
        assert re.search(message, lines[0]), f"{lines[0]!r} does not match {message!r}"
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    unexpected = [k for k in changed if not any(k == c or k.startswith(c + os.sep) for c in changes)]
    assert not unexpected, f"{argv} changed {sorted(unexpected)}"
    left = [k for k in after if TEMP.search(k)]
    assert not left, f"temporary files left: {left}"
    fuzzing.COUNTS["hostile_cli"]["exact"] += 1
    return err


def make_assets(root: Path) -> tuple[Path, Path]:
    """A tiny bundle and a 6-frame video, shared read-only by the cases."""
    bundle = frame_bundle(root / "bundle")
    video = root / "clip.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(6):
        w.write(np.full((48, 64, 3), 40 * i, np.uint8))
    w.release()
    return bundle.path, video


def make_world(root: Path) -> Path:
    """A case folder holding a user's folder and file that no case may touch."""
    user = root / "mine"
    user.mkdir()
    (user / "thesis.docx").write_text("precious")
    (root / "notes.txt").write_text("precious too")
    return root


def demo_argv(assets, *extra: str, bundle: Path | None = None, source: str | Path | None = None) -> list[str]:
    return [
        "demo",
        "--bundle",
        str(bundle or assets[0]),
        "--source",
        str(source or assets[1]),
        "--no-show",
        "--max-frames",
        "3",
        *extra,
    ]


# Fixtures shared by tests/robustness/test_hostile_*.py (imported there by name).
@pytest.fixture(scope="module", autouse=True)
def _counts():
    yield
    fuzzing.flush()


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return make_assets(tmp_path_factory.mktemp("hostile_assets"))


@pytest.fixture()
def world(tmp_path):
    return make_world(tmp_path)
