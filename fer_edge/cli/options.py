"""Options several verbs share, worded once; one spelling per idea (renames, -o); `--config` files of options."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys


def add_executor(parser: argparse.ArgumentParser) -> None:
    """``--executor local|ray[=ADDRESS]`` (:mod:`fer_edge.cluster`); None = the recipe's or local."""
    parser.add_argument(
        "--executor",
        default=None,
        metavar="local|ray[=ADDRESS]",
        help="where the heavy loops run: local (default: this process), ray (embedded "
        "Ray on this machine), ray=auto or ray=HOST:PORT (join a cluster; docs/cluster.md)",
    )


def add_force(parser: argparse.ArgumentParser) -> None:
    """``--force``: write into ``--out`` although fer-edge did not create it."""
    parser.add_argument("--force", action="store_true", help="write into --out even if fer-edge did not create it")


def add_recipe(parser: argparse.ArgumentParser, recipe_help: str, example: str) -> None:
    """``--recipe``, ``--out`` and ``--set KEY=VALUE`` (``args.overrides``) of the recipe verbs."""
    parser.add_argument("--recipe", required=True, help=recipe_help)
    parser.add_argument("--out", default=None, help="run folder (default: the recipe's 'out')")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help=f"override a recipe value, e.g. {example} (repeatable; wins over the file)",
    )


# --- one spelling per idea (CONTRIBUTING.md, "Option names") -------------------------------------


def size(text: str) -> tuple[int, int]:
    """``--size``: ``WIDTHxHEIGHT`` (``320x240``) or ``PX`` for a square; returns ``(width, height)``.

    Example:
        >>> size("320x240"), size("96")
        ((320, 240), (96, 96))
    """
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"invalid size '{text}'; use WIDTHxHEIGHT (e.g. 320x240) or PX for a square")
    width = int(match.group(1))
    return width, int(match.group(2) or width)


def square_size(text: str) -> int:
    """``--size`` of a square (a face crop): ``PX`` or ``PXxPX``; returns the side.

    Example:
        >>> square_size("96"), square_size("96x96")
        (96, 96)
    """
    width, height = size(text)
    if width != height:
        raise argparse.ArgumentTypeError(f"invalid size '{text}': the crops are square; give one side, e.g. {width}")
    return width


def number_list(text: str) -> list[float]:
    """One or more finite numbers in one word: ``0.5`` (or the comma list ``0.5,0.5``, old spelling)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def flat_numbers(values: list[list[float]] | None, what: str, verb: str) -> list[float] | None:
    """The values of a ``nargs="+"`` :func:`number_list` option, flat; a comma inside a word gets a note."""
    if values is None:
        return None
    if any(len(v) > 1 for v in values):
        print(
            f"fer-edge {verb}: note: {what} a,b is deprecated and goes in the next release; write {what} a b",
            file=sys.stderr,
        )
    return [x for v in values for x in v]


class _Deprecated(argparse.Action):
    """An old spelling kept for one release: stores like the new option, after a one-line note."""

    def __init__(self, option_strings: list[str], dest: str, new: argparse.Action, convert=None, **kw) -> None:
        super().__init__(option_strings, dest, nargs=new.nargs, help=argparse.SUPPRESS, **kw)
        self.new, self.convert = new, convert

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001 - argparse API
        new = self.new.option_strings[0]
        print(
            f"{parser.prog}: note: {option_string} is deprecated and goes in the next release; use {new}",
            file=sys.stderr,
        )
        if isinstance(values, str):
            values = self.new.type(values) if self.new.type else values
        elif values is not None and self.new.type:
            values = [self.new.type(v) for v in values]
        if self.convert is not None:
            values = self.convert(values)
        self.new(parser, namespace, values, new)


def deprecate(parser: argparse.ArgumentParser, old: str, new: str, convert=None) -> None:
    """Accept ``old`` as a hidden, noted alias of the option ``new`` (for one release).

    When ``old`` is itself a visible option of ``parser`` it is renamed to ``new`` first, so a verb
    module keeps its definition while its help shows the new name. ``convert`` maps the value given
    with the old spelling to the new one's (``import --frame HxW`` -> ``--size WxH``).

    Example:
        >>> p = argparse.ArgumentParser(prog="demo")
        >>> _ = p.add_argument("--alpha", type=float)
        >>> deprecate(p, "--alpha", "--smoothing")
        >>> p.parse_args(["--smoothing", "0.5"]).alpha
        0.5
    """
    action = parser._option_string_actions.pop(old, None)
    if action is not None and new not in parser._option_string_actions:
        action.option_strings = [new if s == old else s for s in action.option_strings]
        parser._option_string_actions[new] = action
    target = parser._option_string_actions.get(new)
    if target is None:
        raise ValueError(f"{parser.prog} has neither {old} nor {new}")  # a stale RENAMED entry: a bug
    parser.add_argument(
        old, action=_Deprecated, dest=target.dest, new=target, convert=convert, default=argparse.SUPPRESS
    )


RENAMED: dict[str, dict[str, str]] = {
    "demo": {"--alpha": "--smoothing"},
    "optimize": {"--alpha": "--distill-weight"},
}
"""Options renamed in 0.x (verb -> old -> new): the old spelling is accepted, with a note, for one release."""


def add_short_out(parser: argparse.ArgumentParser) -> None:
    """``-o`` is ``--out`` on every verb that has ``--out``."""
    action = parser._option_string_actions.get("--out")
    if action is not None and "-o" not in parser._option_string_actions:
        action.option_strings = ["-o", *action.option_strings]
        parser._option_string_actions["-o"] = action


# --- --config FILE: the options of a verb from YAML ---------------------------------------------


def add_config(parser: argparse.ArgumentParser) -> None:
    """``--config FILE``: YAML whose keys are the verb's long options (``detect-every: 5``)."""
    parser.add_argument(
        "--config",
        metavar="FILE.yaml",
        default=argparse.SUPPRESS,
        help="take options from a YAML file: keys are the long option names (detect-every: 5, "
        "no-show: true, source: [a.mp4, b.mp4]); the command line wins over the file",
    )


def _config_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    skip = {"help", "config", "verbose", "quiet", "log_file"}
    return {
        s[2:].replace("-", "_"): a
        for a in parser._actions
        for s in a.option_strings
        if s.startswith("--") and a.dest not in skip and a.help != argparse.SUPPRESS
    }


def _config_value(action: argparse.Action, key: str, value, source: str):  # noqa: ANN001, ANN202
    from fer_edge.core.errors import FerEdgeError

    where = f"{source}: key '{key}'"
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise FerEdgeError(f"{where} is a switch; write true or false, got {value!r}")
        return value if isinstance(action, argparse._StoreTrueAction) else not value
    if isinstance(action, argparse._StoreConstAction):
        if not isinstance(value, bool):
            raise FerEdgeError(f"{where} is a switch; write true or false, got {value!r}")
        return action.const if value else action.default
    many = action.nargs in ("+", "*") or isinstance(action, argparse._AppendAction)
    items = value if isinstance(value, list) else [value]
    if not many and isinstance(value, list):
        raise FerEdgeError(f"{where} takes one value, got a list")
    if not items or any(isinstance(v, (dict, list)) or v is None for v in items):
        raise FerEdgeError(f"{where}: expected {'values' if many else 'a value'}, got {value!r}")
    out = []
    for item in items:
        text = str(item).lower() if isinstance(item, bool) else str(item)
        try:
            item = action.type(text) if action.type else text
        except argparse.ArgumentTypeError as exc:
            raise FerEdgeError(f"{where}: {exc}") from None
        except ValueError:
            kind = getattr(action.type, "__name__", "value")
            raise FerEdgeError(f"{where}: invalid {kind} value {text!r}") from None
        if action.choices is not None and item not in action.choices:
            from fer_edge.core.errors import unknown_choice

            raise unknown_choice("value", item, action.choices, prefix=f"{where}: ")
        out.append(item)
    return out if many else out[0]


def apply_config(parser: argparse.ArgumentParser, path: str) -> None:
    """Set ``parser``'s defaults from YAML file ``path`` (parse again after: the command line wins).

    Raises:
        FerEdgeError: the file is not a mapping, a key is not one of the verb's options (with a
            "did you mean"), or a value has the wrong type, one line naming the file and key.
    """
    from fer_edge.core.errors import FerEdgeError, unknown_choice
    from fer_edge.core.fileio import read_yaml

    if not os.path.isfile(path):
        raise FerEdgeError(f"--config {path} does not exist; give a YAML file of options")
    data = read_yaml(path, "--config") or {}
    if not isinstance(data, dict):
        raise FerEdgeError(f"{path}: --config must be a mapping of option names to values, got {type(data).__name__}")
    actions = _config_actions(parser)
    defaults = {}
    for key, value in data.items():
        name = str(key).lstrip("-").replace("-", "_")
        if name not in actions:
            known = sorted({k.replace("_", "-") for k in actions})
            raise unknown_choice("key", key, known, match=name.replace("_", "-"), prefix=f"{path}: ")
        action = actions[name]
        defaults[action.dest] = _config_value(action, str(key), value, path)
        action.required = False  # given by the file
    parser.set_defaults(**defaults)
