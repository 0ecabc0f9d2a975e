"""The option rules of CONTRIBUTING.md over every verb's parser: one spelling per idea, common
flags after any verb, ``--config`` files, ``--log-file``, shell completion."""

from __future__ import annotations

import argparse
import subprocess
from collections import defaultdict

import pytest

from fer_edge.cli import build_parser, main
from fer_edge.cli.completion import script
from fer_edge.cli.options import RENAMED
from tests.cli.clirun import cli, error_lines


def _verbs() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _visible(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions if a.help != argparse.SUPPRESS for s in a.option_strings}


# The minimum each verb needs to parse (its required arguments).
REQUIRED = {
    "assets": ["list"],
    "import": ["keras", "m.h5", "--out", "b"],
    "synth": ["--out", "s"],
    "preprocess": ["--root", "r", "--out", "p"],
    "extract": ["--recipe", "r.yaml"],
    "train": ["temporal", "--recipe", "r.yaml"],
    "evaluate": ["b"],
    "bundle": ["pack", "b"],
    "completion": ["bash"],
}


@pytest.mark.parametrize("verb", sorted(_verbs()))
def test_quiet_verbose_and_log_file_after_every_verb(verb):
    p = build_parser()
    base = [verb, *REQUIRED.get(verb, [])]
    assert p.parse_args([*base, "-q"]).quiet and p.parse_args(["-q", *base]).quiet
    assert p.parse_args([*base, "--verbose"]).verbose and not p.parse_args(base).verbose
    assert p.parse_args([*base, "--log-file", "x.log"]).log_file == "x.log"
    assert p.parse_args(["--log-file", "y.log", *base]).log_file == "y.log"


def test_one_spelling_per_idea_across_verbs():
    seen: dict[str, dict[str, argparse.Action]] = defaultdict(dict)
    for verb, parser in _verbs().items():
        options = _visible(parser)
        if "--out" in options:
            assert options.get("-o") is options["--out"], f"{verb}: -o is not --out"
        for name, action in options.items():
            seen[name][verb] = action
        for old in RENAMED.get(verb, {}):
            assert old not in options, f"{verb} still shows the renamed {old}"
    # An option several verbs share takes its values the same way everywhere (--mean 0.5 0.5 in
    # demo and import; --size WxH in synth, preprocess and import).
    for name, by_verb in seen.items():
        shapes = {v: (a.nargs == 0, a.nargs) for v, a in by_verb.items()}  # a switch or values, and how many
        assert len(set(shapes.values())) == 1, f"{name} differs across verbs: {shapes}"
    sizes = seen["--size"]
    assert set(sizes) >= {"synth", "preprocess", "import"}, sizes
    for verb, action in sizes.items():  # WIDTHxHEIGHT or PX everywhere
        assert action.type("64x64") and action.type("64"), verb
    assert "--alpha" not in seen and "--frame" not in seen


def test_old_spellings_still_work_with_a_one_line_note(capsys):
    p = build_parser()
    assert p.parse_args(["demo", "--alpha", "0.3"]).alpha == 0.3
    assert "--alpha is deprecated" in capsys.readouterr().err
    assert p.parse_args(["demo", "--smoothing", "0.3"]).alpha == 0.3 and capsys.readouterr().err == ""
    assert p.parse_args(["optimize", "--alpha", "0.6"]).alpha == 0.6
    assert "use --distill-weight" in capsys.readouterr().err
    old = p.parse_args(["import", "keras", "m.h5", "--out", "b", "--frame", "48x64"])  # was HEIGHTxWIDTH
    new = p.parse_args(["import", "keras", "m.h5", "--out", "b", "--size", "64x48"])
    assert old.frame == new.frame == (64, 48)
    assert p.parse_args(["preprocess", "--root", "r", "--out", "p", "--size", "96x96"]).size == 96
    two = p.parse_args(["import", "keras", "m.h5", "--out", "b", "--mean", "0.5", "0.4"])
    assert two.mean == [[0.5], [0.4]]


def test_preprocess_size_must_be_square(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["preprocess", "--root", str(tmp_path), "--out", str(tmp_path / "p"), "--size", "96x64"])
    assert "the crops are square" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_config_file_gives_options_and_the_command_line_wins(tmp_path, capsys):
    cfg = tmp_path / "demo.yaml"
    cfg.write_text("detect-every: 7\nno_show: true\nsource: [a.mp4, b.mp4]\ntracker: KCF\nsmoothing: 0.25\n")
    p = build_parser()
    from fer_edge.cli import _verb_parser
    from fer_edge.cli.options import apply_config

    apply_config(_verb_parser(p, "demo"), str(cfg))
    args = p.parse_args(["demo", "--detect-every", "3"])
    assert (args.detect_every, args.no_show, args.source, args.tracker, args.alpha) == (
        3,
        True,
        ["a.mp4", "b.mp4"],
        "kcf",
        0.25,
    )
    synth = tmp_path / "synth.yaml"
    synth.write_text("out: from-file\nsize: 64x48\n")  # a required option may come from the file
    p = build_parser()
    apply_config(_verb_parser(p, "synth"), str(synth))
    assert p.parse_args(["synth"]).out == "from-file" and p.parse_args(["synth"]).size == (64, 48)


@pytest.mark.parametrize(
    "text, message",
    [
        ("detect-evry: 3\n", "unknown key 'detect-evry'; did you mean 'detect-every'?"),
        ("no-show: 1\n", "key 'no-show' is a switch"),
        ("tracker: kfc\n", "unknown value 'kfc'; did you mean 'kcf'?"),
        ("detect-every: [1, 2]\n", "takes one value"),
        ("detect-every: many\n", "invalid int value 'many'"),
        ("- a\n- b\n", "must be a mapping"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_config_file_mistakes_are_one_line(tmp_path, capsys, text, message):
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(text)
    rc = main(["demo", "--config", str(cfg), "--no-show", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


def test_log_file_gets_the_log_and_the_error(tmp_path):
    proc = cli(["bundle", "unpack", "missing.tar.gz", "--log-file", "logs/fer.log"], tmp_path)
    assert proc.returncode == 2 and len(error_lines(proc.stderr)) == 1
    proc = cli(["--log-file", "logs/fer.log", "assets", "fetch", "nosuch"], tmp_path)
    log = (tmp_path / "logs" / "fer.log").read_text()
    assert "archive not found: missing.tar.gz" in log and "unknown asset 'nosuch'" in log  # appended
    assert log.count("ERROR") == 2
    proc = cli(["assets", "list", "--log-file", "logs"], tmp_path)
    assert proc.returncode == 2 and "--log-file logs is a folder" in proc.stderr


def _complete(text: str, words: list[str]) -> list[str]:
    program = (
        text + 'COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()\n'
        '_fer_edge_complete; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    out = subprocess.run(["bash", "-c", program, "bash", *words], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_completion_from_the_parser():
    parser = build_parser()
    for shell in ("bash", "zsh"):
        text = script(parser, shell)
        if shell == "zsh":
            assert text.splitlines()[1] == "autoload -U +X bashcompinit && bashcompinit"
            text = "\n".join(line for line in text.splitlines() if "bashcompinit" not in line) + "\n"
        assert _complete(text, ["fer-edge", "de"]) == ["demo"]
        assert _complete(text, ["fer-edge", "demo", "--trac"]) == ["--tracker"]
        assert _complete(text, ["fer-edge", "demo", "--tracker", "k"]) == ["kcf"]
        assert _complete(text, ["fer-edge", "-q", "bundle", "un"]) == ["unpack"]
        assert _complete(text, ["fer-edge", "demo", "--source", ""]) == []  # files, by bash's default
        assert set(_complete(text, ["fer-edge", "synth", "--"])) >= {"--subjects", "--config", "--log-file", "--quiet"}


def test_demo_runs_from_a_config_file(tmp_path, capsys):
    from fer_edge.data.synth import make_clip
    from tests.support.ovmodels import frame_bundle
    from tests.support.videos import write_video

    video = write_video(tmp_path / "clip.avi", make_clip("happy", frames=6, size=(160, 120), seed=1).frames)
    bundle = frame_bundle(tmp_path / "b").path
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(
        f"source: [{video}]\nbundle: {bundle}\nno-show: true\nout: {tmp_path / 'run'}\n"
        "detector: haar\nmax-frames: 4\nthreads: 1\n"
    )
    assert main(["demo", "--config", str(cfg), "--max-frames", "3"]) == 0  # the command line wins
    assert capsys.readouterr().out.startswith("3 frames in")
    assert (tmp_path / "run" / "events.jsonl").is_file() and (tmp_path / "run" / "demo.mp4").is_file()
