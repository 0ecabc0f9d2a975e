"""``fer-edge extract``: spatial features of every fold (and offline copies) into the HDF5 store.

Thin layer over :func:`fer_edge.train.experiment.run_extract`; resumable (rerun continues).
"""

from __future__ import annotations

import argparse
import os

from fer_edge.cli import options

NAME = "extract"
HELP = "extract per-frame CNN features of every fold and the test set into HDF5 feature stores"
EXAMPLES = [
    "fer-edge extract --recipe train/synthetic.yaml",
    "fer-edge extract --recipe train/vggface_lstm.yaml --set extract.layer=dense --set spatial.weights=vggface.keras",
    "fer-edge extract --recipe train/vggface_lstm.yaml --part fold-0 --part test",
    "fer-edge extract --recipe train/vggface_lstm.yaml --executor ray   # shards as tasks of an embedded Ray",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the verb's options."""
    options.add_recipe(parser, "YAML recipe (sections data, spatial, extract)", "extract.batch_size=128")
    options.add_executor(parser)
    parser.add_argument(
        "--part", action="append", default=None, help="only this part: test or fold-<i> (repeatable; default: all)"
    )
    options.add_force(parser)


def run(args: argparse.Namespace) -> int:
    """Extract and print the stores and the speed."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from fer_edge.train.config import load_recipe
    from fer_edge.train.experiment import run_extract
    from fer_edge.train.usage import preflight

    overrides = list(args.overrides) + ([f"out={args.out}"] if args.out else [])
    overrides += [f"executor={args.executor}"] if args.executor else []
    recipe = load_recipe(args.recipe, overrides=overrides)
    preflight(recipe, "extract")  # weights file, OpenFace folder: one line before any work
    from fer_edge.cluster import parse_spec
    from fer_edge.core.outputs import run_folder

    parse_spec(recipe.executor)

    run_folder(recipe.out, inputs=[args.recipe, recipe.data.preprocessed], force=args.force)
    _, _, report = run_extract(recipe, parts=args.part, progress=True)
    print(report.describe())
    for part, path in report.stores.items():
        print(f"  {part}: {path}")
    print(f"next: fer-edge train temporal --recipe {args.recipe}")
    return 0
