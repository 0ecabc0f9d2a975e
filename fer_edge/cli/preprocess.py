"""``fer-edge preprocess``: detect, track, crop and store every clip of a dataset, then trim.

Thin layer: arguments become keyword calls into :func:`fer_edge.data.preprocess.preprocess`.
"""

from __future__ import annotations

import argparse

NAME = "preprocess"
HELP = "detect + track + crop faces of a video dataset, store clips losslessly, trim neutral frames"
EXAMPLES = [
    "fer-edge preprocess --dataset bu4dfe --root data/BU4DFE --out runs/pre",
    "fer-edge preprocess --dataset bu4dfe --root data/BU4DFE --out runs/pre --exclude F016 --workers 2",
    "fer-edge preprocess --dataset bu4dfe --root data/BU4DFE --out runs/pre --au-dir data/openface",
    "fer-edge preprocess --dataset bu4dfe --root /shared/BU4DFE --out /shared/pre --executor ray=auto",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the verb's options (defaults live in :class:`PreprocessConfig`)."""
    parser.add_argument("--dataset", default="bu4dfe", choices=["bu4dfe"],
                        help="dataset layout of --root (default: bu4dfe)")
    parser.add_argument("--root", required=True,
                        help="dataset folder: <subject>_<emotion>[_tex].avi files or "
                             "<subject>/<Emotion>/000.png frame folders")
    parser.add_argument("--out", required=True, help="output folder (created; rerun resumes)")
    parser.add_argument("--tracker", default="medianflow",
                        choices=["csrt", "kcf", "medianflow", "mosse", "mil"],
                        help="OpenCV tracker (default: medianflow, the thesis' choice)")
    parser.add_argument("--detector", default="haar", choices=["haar", "blazeface", "blazeface-full"],
                        help="face detector (default: haar, the thesis' choice)")
    parser.add_argument("--size", type=int, default=160, help="face crop side in px (default: 160)")
    parser.add_argument("--pad-y", type=int, default=10,
                        help="px added to the detected box vertically (default: 10)")
    parser.add_argument("--detect-frames", type=int, default=10,
                        help="look for a face in this many first frames (default: 10)")
    parser.add_argument("--exclude", action="append", default=[], metavar="SUBJECT",
                        help="subject id to leave out, repeatable or comma list (e.g. F016)")
    parser.add_argument("--au-dir", default=None,
                        help="folder of OpenFace 2.x FeatureExtraction CSVs (<clip>.csv): the thesis' "
                             "trimming signal (mean AUxx_r without AU45); a clip without its CSV is an error")
    parser.add_argument("--intensity", default=None, choices=["openface", "flow", "diff"],
                        help="trimming signal (default: openface with --au-dir, else flow); flow/diff with "
                             "--au-dir estimate only the clips that have no CSV")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (default: 1)")
    parser.add_argument("--executor", default=None, metavar="local|ray[=ADDRESS]",
                        help="where the heavy loops run: local (default: this process), ray (embedded "
                             "Ray on this machine), ray=auto or ray=HOST:PORT (join a cluster; docs/cluster.md)")
    parser.add_argument("--no-plot", action="store_true", help="skip clip_lengths.png")
    parser.add_argument("--force", action="store_true",
                        help="write into --out even if fer-edge did not create it")


def run(args: argparse.Namespace) -> int:
    """Run the stage and print where its outputs are; non-zero only when nothing was usable."""
    from fer_edge.atomic import run_folder
    from fer_edge.cluster import parse_spec
    from fer_edge.data.preprocess import PreprocessConfig, preprocess

    run_folder(args.out, inputs=[args.root, args.au_dir], force=args.force)

    exclude = tuple(s.strip() for e in args.exclude for s in e.split(",") if s.strip())
    config = PreprocessConfig(
        dataset=args.dataset,
        tracker=args.tracker,
        detector=args.detector,
        size=args.size,
        pad_y=args.pad_y,
        detect_frames=args.detect_frames,
        exclude=exclude,
        au_dir=args.au_dir,
        intensity=args.intensity,
        workers=args.workers,
        executor=str(parse_spec(args.executor)),
        plot=not args.no_plot,
    )
    report = preprocess(args.root, args.out, config=config, progress=True)
    print(report.describe())
    if report.usable == 0:
        return 1
    # The training verbs read this folder; from Python: fer_edge.data.preprocess.read_index/load_clip.
    review = f" and {report.files['review']}" if "review" in report.files else ""
    print(f"next: inspect {args.out}/clip_lengths.png{review} (anomalies, left out of training), "
          f"then train on {args.out}")
    return 0
