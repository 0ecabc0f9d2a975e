"""Hostile outputs and hangs: each case states the exit code and the message it must give, and
the file system is compared before/after (nothing outside the case's own outputs changes, no
temporary file is left). Rules: ``fer_edge.core.atomic`` (outputs), ``fer_edge.runtime.video.source`` and
``fer_edge.data.bu4dfe`` (FIFOs), ``fer_edge.core.fileio`` (YAML aliases), ``fer_edge.train.metrics``
(plot caps).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_edge.core.atomic import clean_stale, temp_path
from fer_edge.core.errors import FerEdgeError
from fer_edge.core.outputs import MARKER, check_output, run_folder
from tests.support.hostile import _counts, assets, run_cli, snapshot, world  # noqa: F401 - shared fixtures, used by name
from tests.support.hostile import demo_argv as _demo

ROOT = Path(__file__).resolve().parents[2]


# --- class 1: outputs that destroy or escape ------------------------------------------------


def test_import_out_is_a_users_folder(world, capsys):
    model = world / "model.keras"
    model.write_bytes(b"not read: the output is refused first")
    run_cli(
        world,
        ["import", "keras", str(model), "--out", str(world / "mine")],
        capsys,
        rc=2,
        message=r"--out .*mine exists and was not created by fer-edge; pass --force",
    )


def test_import_out_contains_the_input(world, capsys):
    model = world / "mine" / "model.keras"
    model.write_bytes(b"x")
    run_cli(
        world,
        ["import", "keras", str(model), "--out", str(world / "mine")],
        capsys,
        rc=2,
        message=r"--out .*mine contains the input .*model\.keras",
    )


def test_optimize_out_is_the_parent_of_the_input(world, assets, capsys):
    import shutil

    bundle = world / "bundles" / "b"
    shutil.copytree(assets[0], bundle)
    run_cli(
        world,
        ["optimize", str(bundle), "--precision", "fp16", "--out", str(world / "bundles")],
        capsys,
        rc=2,
        message=r"--out .*bundles contains the input",
    )
    run_cli(
        world,
        ["optimize", str(bundle), "--precision", "fp16", "--force", "--out", str(bundle)],
        capsys,
        rc=2,
        message=r"--out .*b is also an input",
    )


def test_demo_outputs_refused_up_front(world, assets, capsys):
    run_cli(
        world,
        _demo(assets, "--events", "/dev/null"),
        capsys,
        rc=2,
        message=r"--events /dev/null is a device, FIFO or socket",
    )
    os.mkfifo(world / "fifo.jsonl")
    run_cli(
        world,
        _demo(assets, "--events", str(world / "fifo.jsonl"), "--force"),
        capsys,
        rc=2,
        message=r"--events .*fifo\.jsonl is a device, FIFO or socket",
    )
    run_cli(
        world,
        _demo(assets, "--output", str(world / "mine")),
        capsys,
        rc=2,
        message=r"--output .*mine is a folder; give a file name",
    )
    run_cli(
        world,
        _demo(assets, "--timing", str(world / "notes.txt")),
        capsys,
        rc=2,
        message=r"--timing .*notes\.txt exists and was not written by fer-edge; pass --force",
    )
    run_cli(
        world,
        _demo(assets, "--out", str(world / "mine")),
        capsys,
        rc=2,
        message=r"--out .*mine exists and was not created by fer-edge; pass --force",
    )
    run_cli(
        world,
        _demo(assets, "--events", str(world / "a.jsonl"), "--timing", str(world / "a.jsonl")),
        capsys,
        rc=2,
        message=r"--output, --events and --timing must be three different files",
    )
    # --force replaces the named file, and only it.
    run_cli(world, _demo(assets, "--timing", str(world / "notes.txt"), "--force"), capsys, rc=0, changes=("notes.txt",))
    assert json.loads((world / "notes.txt").read_text())["frames"] == 3


def test_demo_run_folder_is_ours_and_stale_temps_go(world, assets, capsys):
    out = world / "run"
    run_cli(world, _demo(assets, "--out", str(out)), capsys, rc=0, changes=("run",))
    assert (out / MARKER).is_file() and (out / "events.jsonl").is_file()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = out / f".events.jsonl.tmp-{dead.pid}"
    stale.write_text("half")
    run_cli(world, _demo(assets, "--out", str(out)), capsys, rc=0, changes=("run",))  # ours: replaced
    assert not stale.exists()


def test_recipe_out_empty_writes_nothing_at_the_root(world, capsys):
    recipe = world / "r.yaml"
    recipe.write_text('out: ""\n')
    run_cli(world, ["train", "temporal", "--recipe", str(recipe)], capsys, rc=2, message=r"--out is empty")
    assert not Path("/recipe.yaml").exists()


def test_read_only_directory(world, assets, capsys):
    locked = world / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        # root ignores permission bits: sysfs' root refuses new entries for everyone.
        target = locked if not os.access(locked, os.W_OK) else Path("/sys")
        run_cli(
            world,
            _demo(assets, "--out", str(target / "run")),
            capsys,
            rc=2,
            message=r"cannot create folder .*run \(.*\); choose a writable folder",
        )
        run_cli(
            world,
            _demo(assets, "--events", str(target / "e.jsonl"), "--force"),
            capsys,
            rc=2,
            message=r"cannot write .*e\.jsonl \(.*\); choose a writable path",
        )
    finally:
        locked.chmod(0o755)


def test_synth_refuses_users_folder_and_huge_sizes(world, capsys):
    run_cli(
        world,
        ["synth", "--out", str(world / "mine"), "--frames", "2"],
        capsys,
        rc=2,
        message=r"--out .*mine exists and was not created by fer-edge; pass --force",
    )
    run_cli(
        world,
        ["synth", "--out", str(world / "s"), "--size", "100000x100000"],
        capsys,
        rc=2,
        message=r"frame size must be between 32x32 and 4096x4096",
    )
    run_cli(
        world,
        ["synth", "--out", str(world / "s"), "--size", "4096x4096", "--frames", "100000"],
        capsys,
        rc=2,
        message=r"needs \d+\.\d GiB of memory",
    )


def test_policy_unit_rules(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x").write_text("x")
    with pytest.raises(FerEdgeError, match="contains the input"):
        check_output(tmp_path, inputs=[tmp_path / "in" / "x"], folder=True, force=True)
    with pytest.raises(FerEdgeError, match="is inside the input"):
        check_output(tmp_path / "in" / "sub", inputs=[tmp_path / "in"], folder=True, force=True)
    with pytest.raises(FerEdgeError, match="contains the working directory"):
        check_output(Path.cwd().parent, folder=True, force=True)
    # A run folder may hold its own inputs (runs/x/pre) and becomes ours.
    assert run_folder(tmp_path / "run", inputs=[tmp_path / "run" / "pre"]) == tmp_path / "run"
    assert (tmp_path / "run" / MARKER).is_file()
    (tmp_path / "run" / "sub").mkdir()
    (tmp_path / "run" / "sub" / "events.jsonl").write_text("{}")
    assert check_output(tmp_path / "run" / "sub" / "events.jsonl") == tmp_path / "run" / "sub" / "events.jsonl"
    with pytest.raises(FerEdgeError, match="run exists and is not a fer-edge bundle; pass --force"):
        check_output(tmp_path / "run", folder=True)  # a bundle never replaces a run's other outputs
    assert temp_path(tmp_path / "a.mp4", keep_suffix=True).name == f".a.tmp-{os.getpid()}.mp4"
    live = tmp_path / f".a.mp4.tmp-{os.getpid()}"
    live.write_text("mine, still running")
    assert clean_stale(tmp_path / "a.mp4") == [] and live.exists()


# --- class 2: hangs -------------------------------------------------------------------------


def _cli_subprocess(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "fer_edge", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_fifo_source_and_fifo_in_dataset(world, assets):
    fifo = world / "pipe.avi"
    os.mkfifo(fifo)
    before = snapshot(world)
    done = _cli_subprocess(["demo", "--bundle", str(assets[0]), "--source", str(fifo), "--no-show"], world)
    assert done.returncode == 2, done.stderr
    assert re.search(r"pipe\.avi is a FIFO, device or socket, not a video file", done.stderr.strip().splitlines()[-1])
    data = world / "data"
    data.mkdir()
    os.mkfifo(data / "F001_Happy.avi")
    done = _cli_subprocess(["preprocess", "--root", str(data), "--out", str(world / "pre")], world)
    assert done.returncode == 2, done.stderr
    assert "no usable clip found" in done.stderr and "not a regular file" in done.stderr
    after = snapshot(world)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed <= {"data", "data/F001_Happy.avi", "pre", f"pre/{MARKER}", "pre/clips", "pre/records"}, changed


def test_alias_bomb_yaml_is_refused(world, capsys):
    bomb = world / "bomb.yaml"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [{','.join(['*' + chr(96 + i)] * 9)}]")
    bomb.write_text("\n".join(lines) + "\n")
    assert bomb.stat().st_size < 700
    run_cli(
        world,
        ["train", "temporal", "--recipe", str(bomb)],
        capsys,
        rc=2,
        message=r"bomb\.yaml: not valid YAML \(YAML aliases \(\*name\) are not allowed at line 2\)",
    )
    run_cli(
        world,
        ["optimize", "--recipe", str(bomb), str(world)],
        capsys,
        rc=2,
        message=r"bomb\.yaml: not valid YAML \(YAML aliases",
    )


@pytest.mark.slow
def test_plots_cap_what_they_draw(tmp_path):
    from fer_edge.train.metrics import Predictions, evaluate_predictions

    n = 150  # the case had 600; above the cap every size takes the same path
    labels = tuple(f"c{i}" for i in range(n))
    rng = np.random.default_rng(0)
    pred = Predictions([f"s{i}" for i in range(n)], labels, np.arange(n), rng.random((n, n)))
    report = evaluate_predictions(pred, tmp_path / "ev", title="150 labels")
    png = cv2.imread(str(report.files["confusion"]))
    # Uncapped: a (1.1 * 150 + 2.5)-inch figure at 100 dpi, 16k pixels wide, 22k cell texts.
    assert png is not None and png.shape[1] <= 2000


def test_new_run_folder_numbers_and_marks(tmp_path):
    from fer_edge.core.outputs import is_ours, new_run_folder

    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "mine.txt").write_text("x")
    first = new_run_folder(tmp_path / "demo")
    second = new_run_folder(tmp_path / "demo")
    assert (first.name, second.name) == ("demo2", "demo3")
    assert is_ours(first) and not is_ours(tmp_path / "demo")
    assert (tmp_path / "demo" / "mine.txt").read_text() == "x"
