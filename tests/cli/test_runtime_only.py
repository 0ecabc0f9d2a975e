"""Every verb in a runtime-only install: ``--help`` works, a mistake is one line and a non-zero exit.

A verb that needs an extra says which one (``pip install 'fer-edge[train]'``) before any work and
leaves no folder behind. See :mod:`tests.cli.clirun` for how the install is emulated (or real,
with ``make runtime-check``).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fer_edge.cli import build_parser
from tests.cli.clirun import ROOT, cli, error_lines
from tests.support.ovmodels import frame_bundle

RECIPE = str(ROOT / "train" / "synthetic.yaml")

# verb -> (arguments with a user's mistake or a missing extra, what the one line must say)
BAD: dict[str, tuple[list[str], str]] = {
    "assets": (["assets", "fetch", "fre"], "did you mean 'fer'"),
    "import": (["import", "keras", "missing.h5", "--out", "out/b"], "model not found"),
    "synth": (["synth", "--out", "out/synth", "--subjects", "2"], "fer-edge[synth]"),
    "preprocess": (["preprocess", "--root", "missing", "--out", "out/pre"], "missing does not exist"),
    "extract": (["extract", "--recipe", RECIPE, "--out", "out/ex"], "fer-edge[train]"),
    "train": (["train", "temporal", "--recipe", RECIPE, "--out", "out/tr", "-q"], "fer-edge[train]"),
    "evaluate": (["evaluate", "BUNDLE", "--out", "out/ev"], "fer-edge[train]"),
    "fuse": (["fuse", "missing.csv", "BUNDLE", "--out", "out/fz"], "fer-edge[train]"),
    "benchmark": (["benchmark", "missing", "--source", "none", "--out", "out/bm"], "bundle not found"),
    "export": (["export", "BUNDLE", "--out", "out/exp"], "no Keras file"),
    "optimize": (["optimize", "BUNDLE", "--precision", "int8", "--out", "out/int8"], "fer-edge[optimize]"),
    "bundle": (["bundle", "unpack", "missing.tar.gz", "-o", "out/unpacked"], "archive not found"),
    "demo": (["demo", "--bundle", "BUNDLE", "--source", "missing.mp4", "--no-show", "-o", "out/demo"], "not found"),
    "completion": (["completion", "fish"], "invalid choice: 'fish'"),
}


def _verbs() -> list[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_every_verb_has_a_case():
    assert sorted(BAD) == sorted(_verbs())


def _run_all(jobs: list[tuple[str, list[str]]], cwd: Path) -> dict[str, object]:
    # Each case is its own process (imports do not leak between verbs); a few at a time.
    with ThreadPoolExecutor(4) as pool:
        procs = pool.map(lambda job: cli(job[1], cwd, runtime_only=True), jobs)
        return dict(zip([name for name, _ in jobs], procs))


@pytest.mark.slow
def test_help_of_every_verb_in_a_runtime_only_install(tmp_path):
    procs = _run_all([(v, [v, "--help"]) for v in _verbs()] + [("", ["--help"])], tmp_path)
    for verb, proc in procs.items():
        assert proc.returncode == 0, f"{verb}: {proc.stderr}"
        assert "examples:" in proc.stdout and proc.stderr == "", f"{verb}: {proc.stderr}"


@pytest.mark.slow
def test_a_mistake_in_every_verb_is_one_line_in_a_runtime_only_install(tmp_path):
    bundle = str(frame_bundle(tmp_path / "tiny").path)
    jobs = [(verb, [bundle if a == "BUNDLE" else a for a in args]) for verb, (args, _) in BAD.items()]
    procs = _run_all(jobs, tmp_path)
    for verb, proc in procs.items():
        lines = error_lines(proc.stderr)
        assert proc.returncode != 0, f"{verb}: exit 0\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, f"{verb}:\n{proc.stderr}"
        assert len(lines) == 1 or (lines[0].startswith("usage:") and len(lines) == 2), f"{verb}:\n{proc.stderr}"
        assert BAD[verb][1] in lines[-1], f"{verb}: {lines[-1]}"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir()), list((tmp_path / "out").rglob("*"))
    assert not (tmp_path / "runs").exists()
