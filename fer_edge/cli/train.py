"""``fer-edge train spatial|temporal|clip``: run a training recipe (YAML) end to end.

Thin layer: the recipe (+ ``--set`` overrides, which win over the file) becomes keyword
calls into :mod:`fer_edge.train.experiment`.

Scale: folds are independent jobs. Run ``--fold i`` for each fold on separate machines or
GPUs (``CUDA_VISIBLE_DEVICES=i``) sharing the run folder; a last plain run (no ``--fold``)
reuses every finished fold, then finalizes, evaluates and writes the bundle. Or let Ray
dispatch them: ``--executor ray=HOST:PORT`` (one task per fold; docs/cluster.md). The classifier
search's trials (``spatial.tune.trials``, ``spatial.tune.parallel`` per round) go the same way.
"""

from __future__ import annotations

import argparse
import os

from fer_edge.cli import options

NAME = "train"
HELP = "train a spatial extractor, a cascade (temporal head) or a clip model from a recipe"
EXAMPLES = [
    "fer-edge train temporal --recipe train/synthetic.yaml",
    "fer-edge train temporal --recipe train/vggface_1dcnn.yaml --set data.preprocessed=runs/pre",
    "fer-edge train temporal --recipe train/vggface_lstm.yaml --fold 2   # one fold as its own job",
    "fer-edge train temporal --recipe train/vggface_lstm.yaml --executor ray=10.0.0.5:6379   # folds on a Ray cluster",
    "fer-edge train spatial --recipe train/vggface_finetune.yaml --set spatial.tune.trials=20",
    "fer-edge train spatial --recipe train/vgg16_finetune.yaml --set spatial.fer2013=data/fer2013   # table 3.4 row",
    "fer-edge train clip --recipe train/c3d.yaml --device gpu",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the verb's options (defaults live in :mod:`fer_edge.train.config`)."""
    parser.add_argument(
        "action",
        choices=["spatial", "temporal", "clip"],
        help="spatial: fine-tune the per-frame CNN; temporal: features + CV of a head "
        "(cascade bundle); clip: C3D/ConvLSTM on raw clips (clip bundle)",
    )
    options.add_recipe(parser, "YAML recipe, e.g. train/synthetic.yaml", "temporal.epochs=10")
    parser.add_argument(
        "--fold",
        action="append",
        type=int,
        default=None,
        metavar="I",
        help="run only this cross-validation fold (repeatable): folds as independent jobs",
    )
    parser.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "gpu"],
        type=str.lower,
        help="gpu: fail unless TensorFlow sees a GPU; cpu: hide GPUs (default: auto)",
    )
    options.add_executor(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bars / Keras epoch lines")
    options.add_force(parser)


def run(args: argparse.Namespace) -> int:
    """Run the action and print where its outputs are and what to run next."""
    # Before TensorFlow loads: deterministic kernels, no oneDNN reordering.
    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from fer_edge.train.config import load_recipe, save_recipe

    overrides = list(args.overrides)
    if args.out:
        overrides.append(f"out={args.out}")
    if args.executor:
        overrides.append(f"executor={args.executor}")
    recipe = load_recipe(args.recipe, overrides=overrides)
    from fer_edge.cluster import parse_spec
    from fer_edge.core.outputs import run_folder

    parse_spec(recipe.executor)  # a typo fails here, before any work

    # The output policy before TensorFlow loads: a refused --out costs a second, not a minute.
    out = run_folder(recipe.out, inputs=[args.recipe, recipe.data.preprocessed], force=args.force)
    from fer_edge.train import experiment
    from fer_edge.train.kerasutil import check_gpu

    check_gpu(args.device)
    save_recipe(recipe, out / "recipe.yaml", verb=args.action)
    progress = not args.quiet
    # The protocol card (split, sizes, weights + sha256, trimming, copies, schedule, assumptions)
    # is printed and stored before any training.
    if args.action == "spatial":
        from fer_edge.train.spatial_run import run_spatial

        report = run_spatial(recipe, progress=progress, announce=print)
    elif args.action == "temporal":
        report = experiment.run_temporal(recipe, folds=args.fold, progress=progress, announce=print)
    else:
        report = experiment.run_clip(recipe, folds=args.fold, progress=progress, announce=print)
    print(report.describe())
    if report.pending_folds:
        print(
            f"next: run the remaining folds (--fold {report.pending_folds[0]} ...), then "
            f"fer-edge train {args.action} --recipe {args.recipe} to finalize"
        )
    elif args.action == "spatial" and recipe.spatial.source == "fer2013":
        # Stage 1 on its own: the extractor feeds the cascades; the frame bundle has no clip split.
        if report.bundle:
            print(f"bundle: {report.bundle}")
            print(f"next: fer-edge evaluate {report.bundle} --images YOUR_LABELLED_FACES/")
        print(
            f"next: fer-edge train temporal --recipe train/vggface_1dcnn.yaml "
            f"--set spatial.weights={report.files['model']}"
        )
    elif report.bundle:
        print(f"bundle: {report.bundle}")
        print(
            f"next: fer-edge evaluate {report.bundle} --split test   |   "
            f"fer-edge demo --bundle {report.bundle} --source VIDEO"
        )
    return 0
