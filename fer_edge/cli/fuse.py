"""``fer-edge fuse``: late fusion of bundles or predictions (equations 3.1-3.3), then evaluation.

Thin layer over :mod:`fer_edge.train.fusion`. Weights for ``weighted`` are each bundle's
mean cross-validation accuracy (or ``--weights``). A recipe naming a table 3.7 row
(``fusion.subset``) prints the thesis' row next to the measured one; ``--thesis-tables RUNS``
prints tables 3.6 and 3.7 from the run folders under RUNS, the thesis beside each figure.
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
    "fer-edge fuse --recipe train/fusion_1dcnn_c3d.yaml   # table 3.7's row '1D-CNN + C3D'",
    "fer-edge fuse a/predictions.csv b/predictions.csv --method average --weights 0.7,0.5",
    "fer-edge fuse --thesis-tables runs   # tables 3.6 and 3.7: the thesis beside the runs",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the verb's options."""
    parser.add_argument("members", nargs="*", help="bundle folders or predictions.csv files (two or more)")
    parser.add_argument("--recipe", default=None, help="take members, methods and out from a recipe's 'fusion' section")
    parser.add_argument(
        "--method",
        action="append",
        choices=["average", "weighted", "max"],
        default=None,
        help="fusion method (repeatable; default: all three)",
    )
    parser.add_argument("--weights", default=None, help="comma list, one per member (default: CV accuracies)")
    parser.add_argument("--split", default="test", help="data part bundles are scored on (default: test)")
    parser.add_argument("--out", default=None, help="output folder, one subfolder per method (default: runs/fusion)")
    parser.add_argument("--reference", type=float, default=0.678, help="accuracy to compare with")
    parser.add_argument(
        "--thesis-tables",
        default=None,
        metavar="RUNS",
        help="print tables 3.6 and 3.7 from the run folders under RUNS (the thesis beside each); fuses nothing",
    )
    parser.add_argument("--force", action="store_true", help="write into --out even if fer-edge did not create it")


def run(args: argparse.Namespace) -> int:
    """Fuse, evaluate each method, print a comparison table (a refused member leaves no --out: the CLI's
    ``cleanup_on_failure`` removes the folder this run created)."""
    from fer_edge.core.errors import FerEdgeError

    if args.thesis_tables:
        from fer_edge.train.thesis_tables import thesis_tables

        print(thesis_tables(args.thesis_tables), end="")
        return 0
    from fer_edge.core.atomic import write_json
    from fer_edge.train.fusion import fuse, load_member
    from fer_edge.train.metrics import evaluate_predictions, metrics
    from fer_edge.train.protocol import fusion_card
    from fer_edge.train.thesis_tables import TABLE_3_7

    methods, subset, name, out = args.method, None, "fusion", args.out
    if args.recipe:
        from fer_edge.train.config import load_recipe

        recipe = load_recipe(args.recipe)
        cfg = recipe.fusion
        args.members = list(args.members) or list(cfg.members)
        methods = methods or list(cfg.methods)
        subset, name, out = cfg.subset, recipe.name, out or recipe.out
    out = out or "runs/fusion"
    if len(args.members) < 2:
        raise FerEdgeError("fusion needs two or more members")
    if not 0 < args.reference <= 1:  # NaN fails too
        raise FerEdgeError(f"--reference is an accuracy in (0, 1], got {args.reference}")
    from fer_edge.core.outputs import run_folder

    run_folder(out, inputs=args.members, force=args.force)
    members = [load_member(m, part=args.split, progress=True) for m in args.members]
    if args.weights:
        from fer_edge.core.fileio import check_finite

        weights = [check_finite(w, "--weights", lo=0, hi=1e6) for w in args.weights.split(",")]
        if len(weights) != len(members):
            raise FerEdgeError(f"--weights has {len(weights)} values for {len(members)} members")
        for m, w in zip(members, weights):
            m.weight = w
    methods = methods or ["average", "weighted", "max"]
    card = fusion_card(
        name,
        members=[(m.name, m.weight) for m in members],
        methods=methods,
        split=args.split,
        subset=subset,
        weights_given=bool(args.weights),
    )
    card.write(out)
    print(card.describe())
    result = fuse(members, methods)
    thesis = TABLE_3_7.get(subset or "", {})
    print("| model | accuracy |" + (" thesis |" if thesis else "") + "\n|---|---|" + ("---|" if thesis else ""))
    for m in result.members:
        print(f"| {m.name} | {100 * metrics(m.predictions).accuracy:.2f} % |" + (" |" if thesis else ""))
    measured = {}
    for method, pred in result.fused.items():
        report = evaluate_predictions(pred, Path(out) / method, reference=args.reference, title=f"fusion {method}")
        measured[method] = report.accuracy
        row = f"| fusion {method} | {100 * report.accuracy:.2f} % |"
        print(row + (f" {100 * thesis[method]:.2f} % |" if thesis else ""))
    write_json(Path(out) / "fusion.json", {"subset": subset, "members": args.members, "accuracy": measured}, indent=1)
    if subset:
        print(f"table 3.7, row '{subset}': the thesis column is its test accuracy on the 120 test videos")
    print(f"outputs: {out}/<method>/ (report.md, confusion PNGs, errors, predictions.csv), {out}/fusion.json")
    print(f"next: fer-edge evaluate {out}/{next(iter(result.fused))}/predictions.csv")
    return 0
