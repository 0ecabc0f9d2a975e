"""One config path (fer_edge.core.config) for every stage, and one "did you mean" (fer_edge.core.errors)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass

import pytest

from fer_edge.cli import main
from fer_edge.core.config import _evaluate, from_dict, given
from fer_edge.core.errors import FerEdgeError, unknown_choice
from fer_edge.data.preprocess import PreprocessConfig
from fer_edge.runtime.pipeline import PipelineConfig
from fer_edge.runtime.stream import StreamPolicy


def test_optimize_recipe_values_are_coerced_or_refused_naming_file_and_key(tmp_path, capsys):
    from fer_edge.optimize.stage import OptimizeConfig

    recipe = tmp_path / "int8.yaml"
    recipe.write_text('precision: int8\nsubset_size: "300"\nmax_drop: 1e-2\n')
    cfg = OptimizeConfig.from_yaml(recipe)
    assert (cfg.subset_size, cfg.max_drop) == (300, 0.01)
    assert OptimizeConfig.from_yaml(recipe, subset_size=64).subset_size == 64  # the command line wins
    recipe.write_text('subset_size: "three hundred"\n')
    with pytest.raises(FerEdgeError, match=rf"^{recipe}: 'subset_size' must be a number, got 'three hundred'$"):
        OptimizeConfig.from_yaml(recipe)
    assert main(["optimize", str(tmp_path), "--recipe", str(recipe)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(recipe) in err[0] and "'subset_size'" in err[0], err
    recipe.write_text("subset_size: 0\n")
    with pytest.raises(FerEdgeError, match=rf"^{recipe}: --subset-size must be >= 1"):
        OptimizeConfig.from_yaml(recipe)
    recipe.write_text("iteratons: 5\n")
    with pytest.raises(FerEdgeError, match=rf"^{recipe}: unknown key 'iteratons'; did you mean 'iterations'\?"):
        OptimizeConfig.from_yaml(recipe)
    with pytest.raises(FerEdgeError, match=r"--prune must be in \(0, 0.9\].*got nan"):
        OptimizeConfig(prune=float("nan"))
    with pytest.raises(FerEdgeError, match="temperature must be a finite number > 0, got inf"):
        OptimizeConfig(temperature="inf")
    recipe.write_text("alpha: .nan\n")
    with pytest.raises(FerEdgeError, match=rf"^{recipe}: 'alpha' must be a finite number"):
        OptimizeConfig.from_yaml(recipe)


def test_runtime_and_preprocess_configs_are_coerced_and_checked():
    assert PipelineConfig(max_faces="3", alpha="0.25").max_faces == 3
    assert StreamPolicy(read_timeout="2").read_timeout == 2.0
    pre = PreprocessConfig(size="96", exclude=["F016"])
    assert (pre.size, pre.exclude) == (96, ("F016",))
    with pytest.raises(FerEdgeError, match="'detect_every' must be an integer, got 2.5"):
        PipelineConfig(detect_every=2.5)
    with pytest.raises(FerEdgeError, match="'align' must be true or false"):
        PipelineConfig(align="yes")
    with pytest.raises(FerEdgeError, match=r"^r.yaml: unknown key 'data.preprocess.trackr'; did you mean 'tracker'\?"):
        from_dict(PreprocessConfig, {"trackr": "kcf"}, where="data.preprocess.", source="r.yaml")
    with pytest.raises(FerEdgeError, match=r"^r.yaml: 'read_timeout' must be a number"):
        from_dict(StreamPolicy, {"read_timeout": [1]}, source="r.yaml")


def test_cli_defaults_are_the_dataclasses():
    from fer_edge.cli import build_parser

    args = build_parser().parse_args(["demo", "--max-faces", "3"])
    # --detector is left unset: the demo picks blazeface at run time, or haar where OpenVINO cannot convert it.
    assert given(PipelineConfig, args) == {"align": False, "max_faces": 3}
    args = build_parser().parse_args(["demo", "--detector", "blazeface"])
    assert given(PipelineConfig, args) == {"detector": "blazeface", "align": False}
    assert given(StreamPolicy, args, read_timeout="stream_timeout") == {}
    args = build_parser().parse_args(["preprocess", "--root", "r", "--out", "o", "--size", "96"])
    assert PreprocessConfig(**given(PreprocessConfig, args)) == PreprocessConfig(size=96)


def test_python39_annotations_are_evaluated_without_pep604():
    namespace = {"tuple": tuple, "list": list, "str": str, "int": int}
    import typing

    assert _evaluate("tuple[int, int] | None", namespace) == typing.Optional[tuple[int, int]]
    assert _evaluate("str | list[str]", namespace) == typing.Union[str, list[str]]
    assert _evaluate("int", namespace) is int


def test_unknown_choice_is_one_line():
    assert (
        str(unknown_choice("tracker", "kfc", ["csrt", "kcf"]))
        == "unknown tracker 'kfc'; did you mean 'kcf'? known: csrt, kcf"
    )
    assert str(unknown_choice("asset", "zzz", ["fer"], prefix="x.yaml: ")) == "x.yaml: unknown asset 'zzz'; known: fer"


@pytest.mark.parametrize(
    "argv, hint",
    [
        (["demo", "--trackr", "kcf"], "did you mean '--tracker'?"),
        (["preprocess", "--root", "r", "--out", "o", "--detect-fames=3"], "did you mean '--detect-frames'?"),
        (["optimize", "--subset-sise", "3"], "did you mean '--subset-size'?"),
    ],
)
def test_misspelt_long_option_is_one_line_with_the_suggestion(argv, hint, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "fer_edge", *argv], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and hint in lines[0], proc.stderr


def test_no_hand_built_did_you_mean_left():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2] / "fer_edge"
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if "difflib" in p.read_text())
    assert users == ["core/errors.py"]


@dataclass
class _Demo:
    epochs: int = 1


def test_given_reads_mappings_too():
    assert given(_Demo, {"epochs": None}) == {} and given(_Demo, argparse.Namespace(epochs=2)) == {"epochs": 2}


def test_config_module_is_runtime_safe():
    """The runtime imports fer_edge.core.config: it must pull in no training, optimizing or TensorFlow code."""
    code = (
        "import sys, fer_edge.core.config, fer_edge.runtime.pipeline, fer_edge.runtime.stream; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'nncf') "
        "or m.startswith(('fer_edge.train', 'fer_edge.optimize', 'fer_edge.benchmark'))]; "
        "print(bad); sys.exit(bool(bad))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_union_check_never_matches_a_plain_types_origin():
    """On Python 3.9 ``types.UnionType`` is missing and ``get_origin(str)`` is None: a None among
    the union origins made every plain field a union and refused it (found by make ncs2-check)."""
    import typing

    from fer_edge.core import config

    assert None not in config._UNIONS
    assert config.coerce("bu4dfe", str, "dataset", "PreprocessConfig") == "bu4dfe"
    assert config.coerce(None, typing.Optional[int], "x", "y") is None
