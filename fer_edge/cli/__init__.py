"""The ``fer-edge`` command: one verb per stage, each a thin layer of keyword calls.

Each verb lives in ``fer_edge/cli/<verb>.py`` and exposes ``NAME``, ``HELP``, ``EXAMPLES``,
``add_arguments(parser)`` and ``run(args) -> int``. Verb modules import nothing heavy at
module level so ``fer-edge --help`` stays instant (TensorFlow takes ~35 s to import).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import re
import sys

from fer_edge import __version__
from fer_edge.errors import FerEdgeError

# Order is the order of the stages in the data flow.
_VERBS: list[str] = ["assets", "import_model", "synth", "preprocess", "extract", "train", "evaluate", "fuse", "benchmark", "export", "optimize", "bundle", "demo"]


class _Parser(argparse.ArgumentParser):
    """argparse with "did you mean" for unknown choices and one-line errors."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            wrong = match.group(1)
            choices = re.findall(r"'([^']*)'", match.group(2))
            close = difflib.get_close_matches(wrong, choices, n=1)
            if close:
                message += f"; did you mean '{close[0]}'?"
        self.exit(2, f"{self.prog}: error: {message}\n")


def _load(verb: str):
    return importlib.import_module(f"fer_edge.cli.{verb}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fer-edge",
        description="Video facial expression recognition, from training to the edge.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  fer-edge assets fetch                 # default model + sample videos\n"
            "  fer-edge demo --no-show               # sample video -> runs/demo/\n"
            "  fer-edge demo --source 0              # camera 0\n"
            "  fer-edge <verb> --help                # details and examples per verb"
        ),
    )
    parser.add_argument("--version", action="version", version=f"fer-edge {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    for verb in _VERBS:
        mod = _load(verb)
        p = sub.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=mod.HELP,
            epilog="examples:\n" + "\n".join(f"  {e}" for e in mod.EXAMPLES),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fer-edge`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except FerEdgeError as exc:
        print(f"fer-edge {args.verb}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"fer-edge {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
