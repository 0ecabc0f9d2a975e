"""``fer-edge synth``: a number of subjects is a count, a second run replaces the first, a full
disk leaves nothing partial under a final name."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys

import cv2
import pytest

from fer_edge.data.synth_dataset import parse_subjects, subject_ids
from tests.cli.clirun import ROOT, cli, error_lines

SMALL = ["--frames", "3", "--size", "64x48", "--labels", "happy,sad"]


def test_a_number_of_subjects_is_a_count_and_the_recipe_uses_the_same_ids():
    assert parse_subjects("10") == subject_ids(10) and len(set(subject_ids(10))) == 10
    assert subject_ids(4) == ["F001", "M001", "F002", "M002"]
    assert parse_subjects(" F001 , M003 ") == ["F001", "M003"]


@pytest.mark.slow
def test_synth_count_then_fewer_replaces_the_previous_clips(tmp_path):
    proc = cli(["synth", "--out", "raw", "--subjects", "3", *SMALL], tmp_path)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (tmp_path / "raw").glob("*.avi"))
    assert names == [f"{s}_{e}.avi" for s in ("F001", "F002", "M001") for e in ("happy", "sad")]
    (tmp_path / "raw" / "notes.txt").write_text("mine")  # not synth's: kept
    proc = cli(
        ["synth", "--out", "raw", "--subjects", "M001", "--labels", "sad", "--frames", "3", "--size", "64"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    left = sorted(p.name for p in (tmp_path / "raw").iterdir())
    assert left == [".fer-edge-run", "M001_sad.avi", "ground_truth.json", "notes.txt"]
    truth = json.loads((tmp_path / "raw" / "ground_truth.json").read_text())
    assert [r["file"] for r in truth] == ["M001_sad.avi"]


def test_synth_frames_layout_replaced_by_fewer_subjects(tmp_path):
    assert cli(["synth", "--out", "raw", "--subjects", "2", "--layout", "frames", *SMALL], tmp_path).returncode == 0
    assert cli(["synth", "--out", "raw", "--subjects", "1", "--layout", "frames", *SMALL], tmp_path).returncode == 0
    assert sorted(p.name for p in (tmp_path / "raw").iterdir() if p.is_dir()) == ["F001"]


def _limited(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_synth_on_a_full_disk_is_one_line_and_leaves_no_cut_clip(tmp_path):
    # A file-size limit stands in for a full disk: OpenCV's writer drops what does not fit, silently.
    assert cli(["synth", "--out", "raw", "--subjects", "1", *SMALL], tmp_path).returncode == 0  # a previous dataset
    env = {"PYTHONPATH": str(ROOT)}
    args = ["synth", "--out", "raw", "--subjects", "2", "--frames", "40", "--size", "160x120", "--labels", "happy,sad"]
    proc = subprocess.run(
        [sys.executable, "-m", "fer_edge", *args],
        cwd=tmp_path,
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: _limited(40_000),
    )
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2 and len(lines) == 1 and "is the disk full?" in lines[0], proc.stderr
    for clip in (tmp_path / "raw").glob("*.avi"):  # every clip under a final name reads back whole
        cap = cv2.VideoCapture(str(clip))
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        assert frames in (3, 40), (clip, frames)
    assert not [p for p in (tmp_path / "raw").iterdir() if ".tmp" in p.name]


def test_subject_ids_preprocess_cannot_read_are_refused(tmp_path):
    proc = cli(["synth", "--out", "raw", "--subjects", "alice,F002", *SMALL], tmp_path)
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2 and len(lines) == 1 and "'alice' is not BU-4DFE style" in lines[0], proc.stderr
    assert not (tmp_path / "raw").exists()
