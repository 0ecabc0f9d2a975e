"""``fer-edge fuse``: late fusion of bundles or predictions (equations 3.1-3.3), then evaluation.

Thin layer over :mod:`fer_edge.train.fusion`. Weights for ``weighted`` are each bundle's
mean cross-validation accuracy (or ``--weights``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "fuse"
HELP = "fuse the class scores of several bundles/predictions (average, weighted, max) and evaluate"
EXAMPLES = [
    "fer-edge fuse runs/vggface_lstm/bundle runs/vggface_bilstm/bundle --out runs/fusion",
    "fer-edge fuse runs/vggface_1dcnn/bundle runs/c3d/bundle --method weighted --out runs/fusion-cnn-c3d",
    "fer-edge fuse --recipe train/fusion.yaml --out runs/fusion",
    "fer-edge fuse a/predictions.csv b/predictions.csv --method average --weights 0.7,0.5",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the verb's options."""
    parser.add_argument("members", nargs="*", help="bundle folders or predictions.csv files (two or more)")
    parser.add_argument("--recipe", default=None, help="take members and methods from a recipe's 'fusion' section")
    parser.add_argument(
        "--method",
        action="append",
        choices=["average", "weighted", "max"],
        default=None,
        help="fusion method (repeatable; default: all three)",
    )
    parser.add_argument("--weights", default=None, help="comma list, one per member (default: CV accuracies)")
    parser.add_argument("--split", default="test", help="data part bundles are scored on (default: test)")
    parser.add_argument("--out", default="runs/fusion", help="output folder (one subfolder per method)")
    parser.add_argument("--reference", type=float, default=0.678, help="accuracy to compare with")
    parser.add_argument("--force", action="store_true", help="write into --out even if fer-edge did not create it")


def run(args: argparse.Namespace) -> int:
    """Fuse, evaluate each method, print a comparison table; a failure leaves no --out it created."""
    from fer_edge.core.atomic import removed_on_failure

    with removed_on_failure(args.out):  # a refused member, weight or metrics.json: no folder left behind
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.train.evaluate import evaluate_predictions, metrics
    from fer_edge.train.fusion import fuse, load_member

    methods = args.method
    if args.recipe:
        from fer_edge.train.config import load_recipe

        cfg = load_recipe(args.recipe).fusion
        args.members = list(args.members) or list(cfg.members)
        methods = methods or list(cfg.methods)
    if len(args.members) < 2:
        raise FerEdgeError("fusion needs two or more members")
    if not 0 < args.reference <= 1:  # NaN fails too
        raise FerEdgeError(f"--reference is an accuracy in (0, 1], got {args.reference}")
    from fer_edge.core.outputs import run_folder

    run_folder(args.out, inputs=args.members, force=args.force)
    members = [load_member(m, part=args.split, progress=True) for m in args.members]
    if args.weights:
        from fer_edge.core.fileio import check_finite

        weights = [check_finite(w, "--weights", lo=0, hi=1e6) for w in args.weights.split(",")]
        if len(weights) != len(members):
            raise FerEdgeError(f"--weights has {len(weights)} values for {len(members)} members")
        for m, w in zip(members, weights):
            m.weight = w
    result = fuse(members, methods or ["average", "weighted", "max"])
    print("| model | accuracy |\n|---|---|")
    for m in result.members:
        print(f"| {m.name} | {100 * metrics(m.predictions).accuracy:.2f} % |")
    for method, pred in result.fused.items():
        report = evaluate_predictions(pred, Path(args.out) / method, reference=args.reference, title=f"fusion {method}")
        print(f"| fusion {method} | {100 * report.accuracy:.2f} % |")
    print(f"outputs: {args.out}/<method>/ (report.md, confusion PNGs, errors, predictions.csv)")
    print(f"next: fer-edge evaluate {args.out}/{next(iter(result.fused))}/predictions.csv")
    return 0
