"""The ``fer-edge`` command: one verb per stage, each a thin layer of keyword calls.

Each verb lives in ``fer_edge/cli/<verb>.py`` and exposes ``NAME``, ``HELP``, ``EXAMPLES``,
``add_arguments(parser)`` and ``run(args) -> int``. Verb modules import nothing heavy at
module level so ``fer-edge --help`` stays instant (TensorFlow takes ~35 s to import).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys

from fer_edge import __version__
from fer_edge.core.errors import FerEdgeError, closest, require

# Order is the order of the stages in the data flow.
_VERBS: list[str] = [
    "assets",
    "import_model",
    "synth",
    "preprocess",
    "extract",
    "train",
    "evaluate",
    "fuse",
    "benchmark",
    "export",
    "optimize",
    "bundle",
    "demo",
    "completion",
]

# Verbs that cannot start without an extra: checked before any work (a recipe's synth and
# preprocess run minutes before extract would need Keras). Option-dependent needs (optimize
# --precision int8 needs NNCF) are checked by the verb, also before any work.
_NEEDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "extract": (("keras", "train", "feature extraction"),),
    "train": (("keras", "train", "training"),),
    "evaluate": (("matplotlib", "train", "the confusion plots"),),
    "fuse": (("matplotlib", "train", "the confusion plots"),),
}


class _Parser(argparse.ArgumentParser):
    """argparse with "did you mean" for unknown choices and one-line errors."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            wrong = match.group(1)
            choices = re.findall(r"'([^']*)'", match.group(2))
            close = closest(wrong, choices)
            if close:
                message += f"; did you mean '{close}'?"
        match = re.search(r"unrecognized arguments: (.*)", message)
        if match:
            message += _option_hint(self, match.group(1).split())
        self.exit(2, f"{self.prog}: error: {message}\n")


def _option_hint(parser: argparse.ArgumentParser, unknown: list[str]) -> str:
    """ "; did you mean '--tracker'?" for a misspelt long option (searched in the verb's parser)."""
    argv = getattr(parser, "argv", None) or sys.argv[1:]
    verb = next((a for a in argv if not a.startswith("-")), None)
    for action in parser._actions:  # the verb's own options, when the error is the top-level parser's
        if isinstance(action, argparse._SubParsersAction) and verb in action.choices:
            parser = action.choices[verb]
    known = [s for a in parser._actions for s in a.option_strings if s.startswith("--")]
    hints = {}
    for arg in unknown:
        if arg.startswith("--"):
            close = closest(arg.split("=")[0], known)
            if close:
                hints[arg] = close
    if len(hints) == 1:
        return f"; did you mean '{next(iter(hints.values()))}'?"
    return "; did you mean " + ", ".join(f"'{v}' for '{k}'" for k, v in hints.items()) + "?" if hints else ""


def _add_common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """-v/--verbose, -q/--quiet and --log-file, before or after the verb (the verb's copy keeps an earlier value).

    The one place these are defined (a test checks them after every verb).
    """
    default = False if top else argparse.SUPPRESS
    for flags, help_text in (
        (("-v", "--verbose"), "debug logging, TensorFlow's own logs too"),
        (("-q", "--quiet"), "warnings and errors only, no progress"),
    ):
        own = next((parser._option_string_actions[f] for f in flags if f in parser._option_string_actions), None)
        if own is not None:  # a verb's own --quiet (train): same dest, same meaning; give it both spellings
            own.default = default  # and keep the value given before the verb
            for flag in flags:
                if flag not in parser._option_string_actions:
                    own.option_strings.append(flag)
                    parser._option_string_actions[flag] = own
            continue
        parser.add_argument(*flags, action="store_true", default=default, help=help_text)
    parser.add_argument(
        "--log-file",
        metavar="PATH",
        default=None if top else argparse.SUPPRESS,
        help="also append the log (progress lines every 30 s, warnings, the error) to PATH, with timestamps",
    )


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
            "  fer-edge demo --no-show               # sample video -> runs/demo/ (next run: runs/demo2/)\n"
            "  fer-edge demo --source 0              # camera 0\n"
            "  fer-edge <verb> --help                # details and examples per verb"
        ),
    )
    parser.add_argument("--version", action="version", version=f"fer-edge {__version__}")
    _add_common(parser, top=True)
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
        _add_common(p, top=False)
        _harmonise(mod.NAME, p)
        p.set_defaults(_run=mod.run)
    return parser


def _harmonise(verb: str, parser: argparse.ArgumentParser) -> None:
    """The option rules of CONTRIBUTING.md applied to one verb: ``-o`` for ``--out``, renamed options, ``--config``."""
    from fer_edge.cli import options

    options.add_short_out(parser)
    for old, new in options.RENAMED.get(verb, {}).items():
        options.deprecate(parser, old, new)
    if "--recipe" not in parser._option_string_actions and verb != "completion":
        options.add_config(parser)  # recipe verbs take their settings from the recipe


def _verb_parser(parser: argparse.ArgumentParser, verb: str | None) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(verb)
    return None


def _setup_logging(args: argparse.Namespace) -> logging.Handler | None:
    """Log to stderr (INFO; DEBUG with -v; WARNING with -q) and, with --log-file, append to that file."""
    level = logging.DEBUG if args.verbose else logging.WARNING if getattr(args, "quiet", False) else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not args.log_file:
        return None
    from pathlib import Path

    from fer_edge.core.atomic import is_special

    path = Path(args.log_file).expanduser()
    if path.is_dir() or is_special(path):
        raise FerEdgeError(f"--log-file {path} is a folder, device or FIFO; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    except OSError as exc:
        raise FerEdgeError(f"cannot open --log-file {path} ({exc.strerror}); choose a writable path") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    logging.getLogger().addHandler(handler)
    return handler


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fer-edge`` console script."""
    from fer_edge.core.outputs import cleanup_on_failure

    parser = build_parser()
    parser.argv = list(sys.argv[1:] if argv is None else argv)  # for the did-you-mean of options
    args = parser.parse_args(argv)
    handler = None
    try:
        if getattr(args, "config", None):
            # The file's values become the verb's defaults; parsing again lets the command line win.
            from fer_edge.cli.options import apply_config

            apply_config(_verb_parser(parser, args.verb), args.config)
            args = parser.parse_args(argv)
        handler = _setup_logging(args)
        from fer_edge.core import tfenv

        tfenv.install(verbose=args.verbose)
        if not getattr(args, "_run", None):
            parser.print_help()
            return 2
        for module, extra, purpose in _NEEDS.get(args.verb, ()):
            require(module, extra, purpose=purpose)
        with cleanup_on_failure():  # a failed run leaves no empty folder it created
            return int(args._run(args) or 0)
    except FerEdgeError as exc:
        return _fail(args.verb, f"error: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        code = _fail(args.verb, "interrupted", 130)
        _exit_now_if_ray(code)
        return code
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()


def _exit_now_if_ray(code: int) -> None:
    """After Ctrl-C with Ray tasks cancelled, leave at once: Ray's core can abort the driver while it
    shuts down (a forced cancel racing a task's own finish: "Tried to complete task that was not
    pending"), which turns exit 130 into 1. The cluster cancels a dead driver's tasks itself."""
    ray = sys.modules.get("ray")
    if ray is None or not getattr(ray, "is_initialized", lambda: False)():
        return
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _fail(verb: str | None, text: str, code: int) -> int:
    """Print the one line (and log it, for --log-file); return the exit code."""
    print(f"fer-edge {verb}: {text}", file=sys.stderr)
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.FileHandler):
            h.handle(logging.LogRecord("fer_edge.cli", logging.ERROR, __file__, 0, f"{verb}: {text}", None, None))
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
