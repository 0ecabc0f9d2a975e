"""``fer-edge evaluate``: metrics, confusion PNGs and the error table of a bundle or predictions.

Thin layer over :mod:`fer_edge.train.predict` and :mod:`fer_edge.train.metrics`; with
``--images``, over :mod:`fer_edge.train.labelled_stills` (a bundle on labelled still faces). No
TensorFlow: bundles run through OpenVINO, as in the runtime.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "evaluate"
HELP = (
    "evaluate a bundle (or a predictions.csv) on a data split or on labelled face images: "
    "accuracy, P/R/F1, confusion, errors"
)
EXAMPLES = [
    "fer-edge evaluate runs/synthetic/bundle --split test",
    "fer-edge evaluate runs/vggface_1dcnn/bundle --split fold-0 --out runs/eval-fold0",
    "fer-edge evaluate runs/fusion/weighted/predictions.csv --reference 0.65",
    "fer-edge evaluate runs/vggface_finetune/frame-bundle --images data/fer2013/test   # class sub-folders",
    "fer-edge evaluate runs/vggface_1dcnn/bundle --images data/fer2013.csv --split test   # PrivateTest rows",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the verb's options."""
    parser.add_argument("target", help="bundle folder, or a predictions.csv (e.g. written by fer-edge fuse)")
    parser.add_argument(
        "--images",
        default=None,
        metavar="DIR",
        help="labelled face images: DIR/<class>/*.png (names such as happy, surprised, contempt) or a FER2013 "
        "CSV; a cascade/clip bundle sees each still repeated to a window",
    )
    parser.add_argument("--worst", type=int, default=24, help="errors shown with thumbnails (--images; default 24)")
    parser.add_argument("--split", default="test", help="test, train, fold-<i> (default: test)")
    parser.add_argument("--out", default=None, help="output folder (default: <bundle>-eval-<split>)")
    parser.add_argument("--data", default=None, help="preprocessed folder (default: recorded in the bundle)")
    parser.add_argument("--split-file", default=None, help="split JSON (default: recorded in the bundle)")
    parser.add_argument(
        "--reference",
        type=float,
        default=0.678,
        help="accuracy to compare with (default: 0.678, the thesis' human agreement)",
    )
    parser.add_argument("--title", default=None, help="title of the plots and report")
    parser.add_argument("--force", action="store_true", help="write into --out even if fer-edge did not create it")


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the summary and the files."""
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.train.metrics import evaluate_predictions, load_predictions

    target = Path(args.target)
    if not 0 < args.reference <= 1:  # NaN fails too
        raise FerEdgeError(f"--reference is an accuracy in (0, 1], got {args.reference}")
    if args.images is not None:
        return _images(args, target)
    if (target / "manifest.json").is_file():
        from fer_edge.data.clipset import data_from_bundle
        from fer_edge.runtime.bundle import load_bundle
        from fer_edge.train.predict import predict_bundle

        bundle = load_bundle(target)
        data = data_from_bundle(bundle, preprocessed=args.data, split_file=args.split_file)
        pred = predict_bundle(bundle, data, args.split, progress=True)
        title = args.title or f"{bundle.name} ({args.split})"
        out = Path(args.out or f"{target}-eval-{args.split}")
    elif target.suffix == ".csv" or (target / "predictions.csv").is_file():
        pred = load_predictions(target)
        title = args.title or target.stem
        out = Path(args.out or (target.parent if target.is_file() else target))
    else:
        raise FerEdgeError(f"{target} is neither a bundle (manifest.json) nor a predictions.csv")
    from fer_edge.core.outputs import run_folder

    out = run_folder(out, inputs=[target, args.data, args.split_file], force=args.force)
    report = evaluate_predictions(pred, out, reference=args.reference, title=title)
    print(report.describe())
    return 0


def _images(args: argparse.Namespace, target: Path) -> int:
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.core.outputs import run_folder
    from fer_edge.runtime.bundle import load_bundle
    from fer_edge.train.labelled_stills import evaluate_stills

    if not (target / "manifest.json").is_file():
        raise FerEdgeError(f"--images needs a bundle folder (manifest.json); {target} is not one")
    if not 1 <= args.worst <= 10_000:
        raise FerEdgeError(f"--worst is how many errors to show, 1 to 10000; got {args.worst}")
    bundle = load_bundle(target)
    out = run_folder(Path(args.out or f"{target}-eval-images"), inputs=[target, args.images], force=args.force)
    report = evaluate_stills(bundle, args.images, out, split=args.split, worst=args.worst, title=args.title or "")
    print(report.describe())
    return 0
