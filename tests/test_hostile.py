"""Hostile inputs against the verbs: each case states the exit code and the message it must give,
and the file system is compared before/after (nothing outside the case's own outputs changes,
no temporary file is left). The rules live in ``fer_edge.atomic`` (outputs),
``fer_edge.fileio`` (reading), ``fer_edge.video.source`` (sources) and ``fer_edge.bundle``
(files a manifest names).
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

from fer_edge.atomic import MARKER, check_output, clean_stale, run_folder, temp_path
from fer_edge.bundle import load_bundle
from fer_edge.cli import main
from fer_edge.errors import FerEdgeError
from tests import fuzzing
from tests.ovmodels import frame_bundle

ROOT = Path(__file__).resolve().parents[1]
TEMP = re.compile(r"\.(tmp|old)-\d+")


@pytest.fixture(scope="module", autouse=True)
def _counts():
    yield
    fuzzing.flush()


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its type, size and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def run_cli(world: Path, argv: list[str], capsys, *, rc: int, message: str | None = None,
            changes: tuple[str, ...] = ()) -> str:
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


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A tiny bundle and a 6-frame video, shared read-only by the cases."""
    root = tmp_path_factory.mktemp("hostile_assets")
    bundle = frame_bundle(root / "bundle")
    video = root / "clip.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(6):
        w.write(np.full((48, 64, 3), 40 * i, np.uint8))
    w.release()
    return bundle.path, video


@pytest.fixture()
def world(tmp_path):
    """A case folder holding a user's folder and file that no case may touch."""
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.docx").write_text("precious")
    (tmp_path / "notes.txt").write_text("precious too")
    return tmp_path


def _demo(assets, *extra: str, bundle: Path | None = None, source: str | Path | None = None) -> list[str]:
    return ["demo", "--bundle", str(bundle or assets[0]), "--source", str(source or assets[1]), "--no-show",
            "--max-frames", "3", *extra]


# --- class 1: outputs that destroy or escape ------------------------------------------------

def test_import_out_is_a_users_folder(world, capsys):
    model = world / "model.keras"
    model.write_bytes(b"not read: the output is refused first")
    run_cli(world, ["import", "keras", str(model), "--out", str(world / "mine")], capsys, rc=2,
            message=r"--out .*mine exists and was not created by fer-edge; pass --force")


def test_import_out_contains_the_input(world, capsys):
    model = world / "mine" / "model.keras"
    model.write_bytes(b"x")
    run_cli(world, ["import", "keras", str(model), "--out", str(world / "mine")], capsys, rc=2,
            message=r"--out .*mine contains the input .*model\.keras")


def test_optimize_out_is_the_parent_of_the_input(world, assets, capsys):
    import shutil

    bundle = world / "bundles" / "b"
    shutil.copytree(assets[0], bundle)
    run_cli(world, ["optimize", str(bundle), "--precision", "fp16", "--out", str(world / "bundles")], capsys,
            rc=2, message=r"--out .*bundles contains the input")
    run_cli(world, ["optimize", str(bundle), "--precision", "fp16", "--force", "--out", str(bundle)], capsys,
            rc=2, message=r"--out .*b is also an input")


def test_demo_outputs_refused_up_front(world, assets, capsys):
    run_cli(world, _demo(assets, "--events", "/dev/null"), capsys, rc=2,
            message=r"--events /dev/null is a device, FIFO or socket")
    os.mkfifo(world / "fifo.jsonl")
    run_cli(world, _demo(assets, "--events", str(world / "fifo.jsonl"), "--force"), capsys, rc=2,
            message=r"--events .*fifo\.jsonl is a device, FIFO or socket")
    run_cli(world, _demo(assets, "--output", str(world / "mine")), capsys, rc=2,
            message=r"--output .*mine is a folder; give a file name")
    run_cli(world, _demo(assets, "--timing", str(world / "notes.txt")), capsys, rc=2,
            message=r"--timing .*notes\.txt exists and was not written by fer-edge; pass --force")
    run_cli(world, _demo(assets, "--out", str(world / "mine")), capsys, rc=2,
            message=r"--out .*mine exists and was not created by fer-edge; pass --force")
    run_cli(world, _demo(assets, "--events", str(world / "a.jsonl"), "--timing", str(world / "a.jsonl")), capsys,
            rc=2, message=r"--output, --events and --timing must be three different files")
    # --force replaces the named file, and only it.
    run_cli(world, _demo(assets, "--timing", str(world / "notes.txt"), "--force"), capsys, rc=0,
            changes=("notes.txt",))
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
        run_cli(world, _demo(assets, "--out", str(target / "run")), capsys, rc=2,
                message=r"cannot create folder .*run \(.*\); choose a writable folder")
        run_cli(world, _demo(assets, "--events", str(target / "e.jsonl"), "--force"), capsys, rc=2,
                message=r"cannot write .*e\.jsonl \(.*\); choose a writable path")
    finally:
        locked.chmod(0o755)


def test_synth_refuses_users_folder_and_huge_sizes(world, capsys):
    run_cli(world, ["synth", "--out", str(world / "mine"), "--frames", "2"], capsys, rc=2,
            message=r"--out .*mine exists and was not created by fer-edge; pass --force")
    run_cli(world, ["synth", "--out", str(world / "s"), "--size", "100000x100000"], capsys, rc=2,
            message=r"frame size must be between 32x32 and 4096x4096")
    run_cli(world, ["synth", "--out", str(world / "s"), "--size", "4096x4096", "--frames", "100000"], capsys,
            rc=2, message=r"needs \d+\.\d GiB of memory")


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
    assert temp_path(tmp_path / "a.mp4", keep_suffix=True).name == f".a.tmp-{os.getpid()}.mp4"
    live = tmp_path / f".a.mp4.tmp-{os.getpid()}"
    live.write_text("mine, still running")
    assert clean_stale(tmp_path / "a.mp4") == [] and live.exists()


# --- class 2: hangs -------------------------------------------------------------------------

def _cli_subprocess(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "fer_edge", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


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
    run_cli(world, ["train", "temporal", "--recipe", str(bomb)], capsys, rc=2,
            message=r"bomb\.yaml: not valid YAML \(YAML aliases \(\*name\) are not allowed at line 2\)")
    run_cli(world, ["optimize", "--recipe", str(bomb), str(world)], capsys, rc=2,
            message=r"bomb\.yaml: not valid YAML \(YAML aliases")


@pytest.mark.slow
def test_plots_cap_what_they_draw(tmp_path):
    from fer_edge.train.evaluate import Predictions, evaluate_predictions

    n = 150  # the case had 600; above the cap every size takes the same path
    labels = tuple(f"c{i}" for i in range(n))
    rng = np.random.default_rng(0)
    pred = Predictions([f"s{i}" for i in range(n)], labels, np.arange(n), rng.random((n, n)))
    report = evaluate_predictions(pred, tmp_path / "ev", title="150 labels")
    png = cv2.imread(str(report.files["confusion"]))
    # Uncapped: a (1.1 * 150 + 2.5)-inch figure at 100 dpi, 16k pixels wide, 22k cell texts.
    assert png is not None and png.shape[1] <= 2000


# --- class 3: invalid accepted ----------------------------------------------------------------

@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_manifest_mean_std_must_be_finite(tmp_path, assets, value):
    import shutil

    b = tmp_path / "b"
    shutil.copytree(assets[0], b)
    data = json.loads((b / "manifest.json").read_text())
    data["frame"]["std"][1] = "@"
    (b / "manifest.json").write_text(json.dumps(data).replace('"@"', value))
    err = fuzzing.run_case("hostile_manifest", lambda: load_bundle(b), names="manifest.json")
    assert isinstance(err, FerEdgeError) and "'frame.std' must be 3 numbers for RGB (finite" in str(err)


def test_invalid_numbers_on_the_command_line(world, assets, capsys):
    run_cli(world, _demo(assets, "--max-frames", "-5"), capsys, rc=2, message=r"--max-frames must be >= 1")
    run_cli(world, _demo(assets, "--stream-timeout", "inf"), capsys, rc=2,
            message=r"stream read-timeout must be in \(0, 86400\] seconds, got inf")
    run_cli(world, ["benchmark", str(assets[0]), "--device", ",,", "--source", "none", "--out", str(world / "b")],
            capsys, rc=2,
            message=r"--device names nothing")
    with pytest.raises(SystemExit) as info:
        main(["import", "keras", "m.keras", "--out", str(world / "o"), "--mean", "nan"])
    assert info.value.code == 2 and "expected finite numbers" in capsys.readouterr().err


def test_fusion_weights_must_be_finite(world, capsys):
    from fer_edge.train.evaluate import Predictions

    labels = ("happy", "sad")
    for name in ("a", "b"):
        Predictions(["x", "y"], labels, np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]])).save_csv(
            world / name / "predictions.csv")
    members = [str(world / "a" / "predictions.csv"), str(world / "b" / "predictions.csv")]
    run_cli(world, ["fuse", *members, "--weights", "nan,1", "--out", str(world / "f")], capsys, rc=2,
            message=r"--weights must be a finite number, got 'nan'", changes=("f",))
    (world / "a" / "metrics.json").write_text("{not json")
    run_cli(world, ["fuse", *members, "--out", str(world / "f")], capsys, rc=2,
            message=r"metrics file .*metrics\.json: not valid JSON", changes=("f",))


# --- class 4: tracebacks at boundaries ------------------------------------------------------

def test_odd_sources_and_devices(world, assets, capsys):
    run_cli(world, _demo(assets, source="²"), capsys, rc=2, message=r"video not found: ²")
    run_cli(world, _demo(assets, source="20000000000000000000"), capsys, rc=2,
            message=r"camera index 20000000000000000000 is out of range 0\.\.255")
    cache = world / "cache-file"
    cache.write_text("")
    run_cli(world, _demo(assets, "--cache-dir", str(cache)), capsys, rc=2,
            message=r"--cache-dir .*cache-file: cannot use it as a folder")
    run_cli(world, _demo(assets, "--device", "HETERO:NOPE,CPU"), capsys, rc=2,
            message=r"cannot compile .*frame\.xml for device HETERO:NOPE,CPU")


def test_thin_image_as_source(world, assets, capsys):
    img = world / "thin.png"
    cv2.imwrite(str(img), np.full((5, 4000, 3), 128, np.uint8))
    run_cli(world, _demo(assets, "--events", str(world / "e.jsonl"), source=img), capsys, rc=0,
            changes=("e.jsonl",))
    assert "no face" in (world / "e.jsonl").read_text()


def test_deep_json_everywhere(world, assets, capsys):
    import shutil

    deep = "[" * 200_000 + "]" * 200_000
    b = world / "b"
    shutil.copytree(assets[0], b)
    (b / "manifest.json").write_text(deep)
    run_cli(world, _demo(assets, bundle=b), capsys, rc=2,
            message=r"bundle manifest .*manifest\.json: not valid JSON \(maximum recursion depth")
    (world / "r.json").write_text(deep)
    run_cli(world, ["benchmark", "compare", str(world / "r.json"), str(world / "r.json")], capsys, rc=2,
            message=r"benchmark report .*r\.json: not valid JSON")
    (world / "schema.json").write_text('{"schema": "x", "machine": {}, "rows": []}')
    run_cli(world, ["benchmark", "compare", str(world / "schema.json"), str(world / "schema.json")], capsys,
            rc=2, message=r"'schema' must be an integer")


def test_non_utf8_and_broken_files(tmp_path):
    from fer_edge.data.preprocess import read_index
    from fer_edge.fileio import read_csv, read_yaml
    from fer_edge.train.config import load_recipe

    bad = tmp_path / "recipe.yaml"
    bad.write_bytes(b"out: caf\xe9\n")
    for call, name in ((lambda: load_recipe(bad), bad), (lambda: read_yaml(bad), bad)):
        err = fuzzing.run_case("hostile_files", call, names=name)
        assert isinstance(err, FerEdgeError) and "is not UTF-8 text" in str(err)
    csv = tmp_path / "p.csv"
    csv.write_bytes(b"name,true\n\xff\xfe,1\n")
    err = fuzzing.run_case("hostile_files", lambda: read_csv(csv), names=csv)
    assert isinstance(err, FerEdgeError) and "not UTF-8" in str(err)
    pre = tmp_path / "pre"
    pre.mkdir()
    (pre / "index.jsonl").write_text('{"name": "a", "status": "ok", "emotion": "happy"}\n')
    err = fuzzing.run_case("hostile_files", lambda: read_index(pre), names="index.jsonl")
    assert isinstance(err, FerEdgeError) and "record 1 lacks subject, folder, span, frames" in str(err)
    (pre / "index.jsonl").write_text('{"status": "ok"}\n')
    err = fuzzing.run_case("hostile_files", lambda: read_index(pre), names="index.jsonl")
    assert isinstance(err, FerEdgeError) and ":1 lacks key(s) name" in str(err)


def test_calibration_npz_and_images(tmp_path, assets):
    from fer_edge.optimize.calibration import load_calibration

    bundle = load_bundle(assets[0])
    obj = tmp_path / "obj.npz"
    np.savez(obj, frames=np.array([np.zeros((2, 2)), "x"], dtype=object))
    err = fuzzing.run_case("hostile_files", lambda: load_calibration(bundle, obj), names=obj)
    assert isinstance(err, FerEdgeError) and "not a readable numeric .npz" in str(err)
    nan = tmp_path / "nan.npz"
    np.savez(nan, frames=np.full((2, 8, 8, 3), np.nan, np.float32))
    err = fuzzing.run_case("hostile_files", lambda: load_calibration(bundle, nan), names=nan)
    assert isinstance(err, FerEdgeError) and "NaN or infinite" in str(err)
    folder = tmp_path / "faces"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((40, 30, 3), 100, np.uint8))
    cv2.imwrite(str(folder / "b.png"), np.full((17, 90, 3), 200, np.uint8))
    os.mkfifo(folder / "c.png")  # never opened
    data = load_calibration(bundle, folder)
    assert [c.shape for c in data.clips] == [(1, 32, 32, 3)] * 2


def test_models_the_runtime_cannot_feed(tmp_path):
    import openvino as ov
    import openvino.opset13 as ops

    from fer_edge.deploy.engine import load_model

    cases = {
        "rank2": ov.Model([ops.relu(x := ops.parameter([-1, 3], np.float32))], [x]),
        "dynrank": ov.Model([ops.relu(y := ops.parameter(ov.PartialShape.dynamic(), np.float32))], [y]),
    }
    for name, model in cases.items():
        path = tmp_path / f"{name}.xml"
        ov.save_model(model, str(path))
        err = fuzzing.run_case("hostile_models", lambda p=path: load_model(p), names=path)
        assert isinstance(err, FerEdgeError) and "needs (N, ...) inputs of rank 3 or more" in str(err)


def test_two_input_frame_model_is_refused(tmp_path, assets):
    import shutil

    import openvino as ov
    import openvino.opset13 as ops

    from fer_edge.deploy.pipeline import Pipeline

    b = tmp_path / "b"
    shutil.copytree(assets[0], b)
    x1, x2 = ops.parameter([-1, 32, 32, 3], np.float32), ops.parameter([-1, 32, 32, 3], np.float32)
    pooled = ops.reduce_mean(ops.add(x1, x2), ops.constant(np.array([1, 2], np.int64)), keep_dims=False)
    ov.save_model(ov.Model([ops.softmax(pooled, -1)], [x1, x2]), str(b / "frame.xml"))
    err = fuzzing.run_case("hostile_models", lambda: Pipeline(load_bundle(b)), names="frame.xml")
    assert isinstance(err, FerEdgeError) and "takes 2 inputs, the runtime feeds 1" in str(err)


# --- class 5: files that point outside ------------------------------------------------------

def test_bin_symlink_out_of_bundle(tmp_path, assets):
    import shutil

    b = tmp_path / "b"
    shutil.copytree(assets[0], b)
    outside = tmp_path / "outside.bin"
    shutil.move(b / "frame.bin", outside)
    os.symlink(outside, b / "frame.bin")
    err = fuzzing.run_case("hostile_manifest", lambda: load_bundle(b), names="manifest.json")
    assert isinstance(err, FerEdgeError) and "frame.bin resolves outside the bundle" in str(err)


# --- class 6: side effects ------------------------------------------------------------------

@pytest.mark.slow
def test_no_telemetry_writes_in_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("CI", None)
    done = subprocess.run([sys.executable, "-c", "import fer_edge, openvino, nncf"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert list(home.iterdir()) == [], list(home.iterdir())


def test_new_run_folder_numbers_and_marks(tmp_path):
    from fer_edge.atomic import is_ours, new_run_folder

    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "mine.txt").write_text("x")
    first = new_run_folder(tmp_path / "demo")
    second = new_run_folder(tmp_path / "demo")
    assert (first.name, second.name) == ("demo2", "demo3")
    assert is_ours(first) and not is_ours(tmp_path / "demo")
    assert (tmp_path / "demo" / "mine.txt").read_text() == "x"
