"""``fer-edge preprocess``: detect, track, crop and store every clip of a dataset, then trim.

Thin layer: arguments become keyword calls into :func:`fer_edge.data.preprocess.preprocess`.
"""

from __future__ import annotations

import argparse

from fer_edge.cli import options

NAME = "preprocess"
HELP = "detect + track + crop faces of a video dataset, store clips losslessly, trim neutral frames"
EXAMPLES = [
    "fer-edge preprocess --dataset bu4dfe --root data/BU4DFE --out runs/pre",
    "fer-edge preprocess --dataset bu4dfe --root data/BU4DFE --out runs/pre --exclude F016 --workers 2",
    "fer-edge preprocess --dataset bu4dfe --root data/BU4DFE --out runs/pre --au-dir data/openface",
    "fer-edge preprocess --dataset bu4dfe --root /shared/BU4DFE --out /shared/pre --executor ray=auto",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the verb's options (defaults live in :class:`PreprocessConfig`; argparse's None leaves them)."""
    from fer_edge.data.intensity import METHODS
    from fer_edge.data.preprocess import DATASETS, PreprocessConfig
    from fer_edge.runtime.faces.detect import DETECTORS
    from fer_edge.runtime.faces.track import TRACKERS

    cfg = PreprocessConfig

    parser.add_argument("--dataset", choices=list(DATASETS), help=f"dataset layout of --root (default: {cfg.dataset})")
    parser.add_argument(
        "--root",
        required=True,
        help="dataset folder: <subject>_<emotion>[_tex].avi files or <subject>/<Emotion>/000.png frame folders",
    )
    parser.add_argument("--out", required=True, help="output folder (created; rerun resumes)")
    parser.add_argument(
        "--tracker", choices=list(TRACKERS), help=f"OpenCV tracker (default: {cfg.tracker}, the thesis' choice)"
    )
    parser.add_argument(
        "--detector", choices=list(DETECTORS), help=f"face detector (default: {cfg.detector}, the thesis' choice)"
    )
    parser.add_argument(
        "--size",
        type=options.square_size,
        help=f"face crop side: PX or PXxPX, the crops are square (default: {cfg.size})",
    )
    parser.add_argument("--pad-y", type=int, help=f"px added to the detected box vertically (default: {cfg.pad_y})")
    parser.add_argument(
        "--detect-frames", type=int, help=f"look for a face in this many first frames (default: {cfg.detect_frames})"
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="SUBJECT",
        help="subject id to leave out, repeatable or comma list (e.g. F016)",
    )
    parser.add_argument(
        "--au-dir",
        default=None,
        help="folder of OpenFace 2.x FeatureExtraction CSVs (<clip>.csv): the thesis' "
        "trimming signal (mean AUxx_r without AU45); a clip without its CSV is an error",
    )
    parser.add_argument(
        "--intensity",
        default=None,
        choices=["openface", *METHODS],
        help="trimming signal (default: openface with --au-dir, else flow); flow/diff with "
        "--au-dir estimate only the clips that have no CSV",
    )
    parser.add_argument("--workers", type=int, help=f"parallel processes (default: {cfg.workers})")
    options.add_executor(parser)
    parser.add_argument("--no-plot", action="store_true", help="skip clip_lengths.png")
    options.add_force(parser)


def run(args: argparse.Namespace) -> int:
    """Run the stage and print where its outputs are; non-zero only when nothing was usable."""
    from fer_edge.cluster import parse_spec
    from fer_edge.core.config import given
    from fer_edge.core.outputs import run_folder
    from fer_edge.data.preprocess import PreprocessConfig, preprocess

    run_folder(args.out, inputs=[args.root, args.au_dir], force=args.force)

    exclude = tuple(s.strip() for e in args.exclude for s in e.split(",") if s.strip())
    config = PreprocessConfig(
        **{
            **given(PreprocessConfig, args),
            "exclude": exclude,
            "executor": str(parse_spec(args.executor)),
            "plot": not args.no_plot,
        }
    )
    report = preprocess(args.root, args.out, config=config, progress=True)
    print(report.describe())
    if report.usable == 0:
        return 1
    # The training verbs read this folder; from Python: fer_edge.data.preprocess.read_index/load_clip.
    review = f" and {report.files['review']}" if "review" in report.files else ""
    print(
        f"next: inspect {args.out}/clip_lengths.png{review} (anomalies, left out of training), then train on {args.out}"
    )
    return 0
