"""Options several verbs share, worded once."""

from __future__ import annotations

import argparse


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
