"""Progress off a terminal is plain log lines for every stage; a failed command leaves no folder it made."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fer_edge.core.outputs import MARKER, cleanup_on_failure, run_folder
from tests.cli.clirun import ROOT, cli, error_lines
from tests.support.ovmodels import frame_bundle


def test_only_core_progress_imports_tqdm():
    # One place decides between a bar (terminal) and a log line every 30 s (journal, CI, a file).
    users = [
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "fer_edge").rglob("*.py")
        if "tqdm" in p.read_text(encoding="utf-8") and p.name != "progress.py"
    ]
    docs_only = [u for u in users if "import tqdm" in (ROOT / u).read_text() or "from tqdm" in (ROOT / u).read_text()]
    assert docs_only == [], docs_only


@pytest.mark.slow
def test_preprocess_logs_lines_without_carriage_returns_off_a_terminal(tmp_path):
    args = ["synth", "--out", "raw", "--subjects", "1", "--frames", "6", "--size", "160x120", "--labels", "happy"]
    assert cli(args, tmp_path).returncode == 0
    proc = cli(
        ["preprocess", "--root", "raw", "--out", "pre", "--workers", "1"], tmp_path, env={"FER_EDGE_LOG_EVERY": "0"}
    )
    assert "\r" not in proc.stderr and "\x1b[" not in proc.stderr, proc.stderr
    assert "preprocess: 1/1 clips" in proc.stderr, proc.stderr
    quiet = cli(["preprocess", "--root", "raw", "--out", "pre2", "--workers", "1", "-q"], tmp_path)
    assert "preprocess:" not in quiet.stderr, quiet.stderr


def test_cleanup_removes_only_empty_folders_this_command_created(tmp_path):
    (tmp_path / "kept").mkdir()  # existed before: kept although empty
    with pytest.raises(RuntimeError), cleanup_on_failure():
        run_folder(tmp_path / "a" / "b" / "run")
        run_folder(tmp_path / "kept")
        run_folder(tmp_path / "partial")
        (tmp_path / "partial" / "done.txt").write_text("resumable work")
        raise RuntimeError("a failed command")
    assert not (tmp_path / "a").exists()
    assert (tmp_path / "kept").is_dir() and (tmp_path / "partial" / "done.txt").is_file()
    with cleanup_on_failure():  # success keeps everything
        run_folder(tmp_path / "ok")
    assert (tmp_path / "ok" / MARKER).is_file()


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the block ends: nothing listens there


@pytest.mark.slow
def test_failed_commands_leave_no_out_folder(tmp_path):
    bundle = str(frame_bundle(tmp_path / "tiny").path)
    cases = [
        ["demo", "--bundle", bundle, "--source", f"rtsp://127.0.0.1:{_dead_port()}/cam", "--no-show", "-o", "out/a"],
        ["demo", "--bundle", bundle, "--source", "a.mp4", "--source", "b.mp4", "--no-show", "-o", "out/b"],
        ["fuse", bundle, "missing.csv", "-o", "out/c/fusion"],
        ["evaluate", bundle, "--split", "test", "-o", "out/d"],
        ["preprocess", "--root", "missing", "-o", "out/e"],
    ]
    for args in cases:
        proc = cli([*args, "--stream-timeout", "1", "--reconnects", "0"] if args[0] == "demo" else args, tmp_path)
        assert proc.returncode != 0 and len(error_lines(proc.stderr)) >= 1, proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists(), sorted(str(p) for p in Path(tmp_path / "out").rglob("*"))


def test_optimize_of_a_cached_bundle_writes_a_visible_run_folder(tmp_path):
    home = tmp_path / "cache"
    (tmp_path / "work").mkdir()
    cached = frame_bundle(home / "bundles" / "tiny").path
    proc = cli(["optimize", str(cached), "--precision", "fp16"], tmp_path / "work", env={"FER_EDGE_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "work" / "runs" / "tiny_fp16" / "manifest.json").is_file()
    assert "bundle: runs/tiny_fp16" in proc.stdout and not (home / "bundles" / "tiny_fp16").exists()


@pytest.mark.slow
@pytest.mark.tf
def test_train_on_a_missing_gpu_leaves_no_out_folder(tmp_path):
    hide = {"CUDA_VISIBLE_DEVICES": "-1", "HIP_VISIBLE_DEVICES": "-1"}  # TensorFlow sees no GPU, on any machine
    args = ["train", "temporal", "--recipe", str(ROOT / "train" / "synthetic.yaml"), "--device", "GPU", "-o", "out/t"]
    proc = cli(args, tmp_path, env=hide, timeout=300)
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2 and len(lines) == 1 and "TensorFlow sees none" in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()
