"""``fer-edge synth``: write a deterministic synthetic face-video dataset with ground truth.

Thin layer: arguments become keyword calls into :func:`fer_edge.data.synth_dataset.write_dataset`.
"""

from __future__ import annotations

import argparse
import logging
import time

from fer_edge.cli import options

NAME = "synth"
HELP = "write synthetic face videos (real faces, EMFACS expressions) with per-frame ground truth"
EXAMPLES = [
    "fer-edge synth --out data/synth",
    "fer-edge synth --out data/synth-95 --subjects 95 --frames 40 --size 240x180   # 95 generated ids F001, M001, ...",
    "fer-edge synth --out data/synth-frames --layout frames --subjects F001,M001 --frames 40",
    "fer-edge synth --out data/synth-small --labels happy,sad,surprise --size 160x120 --seed 1",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the verb's options (defaults are those of :func:`write_dataset`)."""
    from fer_edge.data.synth import BACKGROUNDS
    from fer_edge.data.synth_dataset import LAYOUTS

    parser.add_argument(
        "--out", required=True, help="output folder (created; a second synth replaces the clips the first wrote)"
    )
    parser.add_argument(
        "--subjects",
        default="F001,F002,M001,M002",
        help="a number N (N generated ids F001, M001, F002, ...) or a comma list of ids, one face each "
        "(default: F001,F002,M001,M002)",
    )
    parser.add_argument(
        "--labels", default="thesis", help="label set (thesis, fer2013) or comma list (default: thesis)"
    )
    parser.add_argument(
        "--layout",
        default="avi",
        choices=list(LAYOUTS),
        help="avi: <subject>_<label>.avi; frames: <subject>/<Label>/000.png (default: avi)",
    )
    parser.add_argument("--frames", type=int, default=60, help="frames per clip (default: 60)")
    parser.add_argument("--size", type=options.size, default=(320, 240), help="WIDTHxHEIGHT or PX (default: 320x240)")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate (default: 25)")
    parser.add_argument(
        "--background", default="plain", choices=list(BACKGROUNDS), help="background behind the faces (default: plain)"
    )
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default: 0)")
    options.add_force(parser)


def run(args: argparse.Namespace) -> int:
    """Write the dataset and print where it is and what to run next."""
    from fer_edge.core.errors import require
    from fer_edge.core.outputs import run_folder
    from fer_edge.data.synth import check_size
    from fer_edge.data.synth_dataset import parse_subjects, write_dataset

    require("skimage", "synth", purpose="synthetic faces")  # before any folder is made
    check_size(args.size, args.frames)
    subjects = parse_subjects(args.subjects)
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.data.bu4dfe import parse_subject

    odd = [s for s in subjects if parse_subject(s) is None]
    if odd:  # preprocess --dataset bu4dfe reads the subject from the file name
        raise FerEdgeError(
            f"subject id '{odd[0]}' is not BU-4DFE style, so preprocess could not read its clips; "
            "give F or M and a number (F001,M042) or a count (--subjects 10)"
        )
    from fer_edge.data.synth_face import source_count

    if len(subjects) > source_count():
        logging.getLogger(__name__).warning(
            "%d subjects but %d distinct source faces: some subjects share a face (their traits differ)",
            len(subjects),
            source_count(),
        )
    run_folder(args.out, force=args.force)
    start = time.perf_counter()
    paths = write_dataset(
        args.out,
        subjects=subjects,
        labels=args.labels,
        layout=args.layout,
        frames=args.frames,
        size=args.size,
        seed=args.seed,
        fps=args.fps,
        background=args.background,
        progress=True,
    )
    seconds = time.perf_counter() - start
    print(
        f"wrote {len(paths)} clips ({len(subjects)} subjects, {args.frames} frames, "
        f"{args.size[0]}x{args.size[1]}) to {args.out} in {seconds:.1f} s; "
        f"ground truth: {args.out}/ground_truth.json"
    )
    print(f"next: fer-edge preprocess --dataset bu4dfe --root {args.out} --out runs/pre")
    return 0
