"""``fer-edge synth``: write a deterministic synthetic face-video dataset with ground truth.

Thin layer: arguments become keyword calls into :func:`fer_edge.data.synth_dataset.write_dataset`.
"""

from __future__ import annotations

import argparse
import re
import time

NAME = "synth"
HELP = "write synthetic face videos (real faces, EMFACS expressions) with per-frame ground truth"
EXAMPLES = [
    "fer-edge synth --out data/synth",
    "fer-edge synth --out data/synth-frames --layout frames --subjects F001,M001 --frames 40",
    "fer-edge synth --out data/synth-small --labels happy,sad,surprise --size 160x120 --seed 1",
]


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"invalid size '{text}'; use WIDTHxHEIGHT, e.g. 320x240")
    return int(match.group(1)), int(match.group(2))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the verb's options (defaults are those of :func:`write_dataset`)."""
    from fer_edge.data.synth import BACKGROUNDS
    from fer_edge.data.synth_dataset import LAYOUTS

    parser.add_argument("--out", required=True, help="output folder (created; clips are replaced)")
    parser.add_argument(
        "--subjects",
        default="F001,F002,M001,M002",
        help="comma list of subject ids, one face each (default: F001,F002,M001,M002)",
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
    parser.add_argument("--size", type=_size, default=(320, 240), help="WIDTHxHEIGHT (default: 320x240)")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate (default: 25)")
    parser.add_argument(
        "--background", default="plain", choices=list(BACKGROUNDS), help="background behind the faces (default: plain)"
    )
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default: 0)")
    parser.add_argument("--force", action="store_true", help="write into --out even if fer-edge did not create it")


def run(args: argparse.Namespace) -> int:
    """Write the dataset and print where it is and what to run next."""
    from fer_edge.core.outputs import run_folder
    from fer_edge.data.synth import check_size
    from fer_edge.data.synth_dataset import write_dataset

    check_size(args.size, args.frames)  # before the folder is made
    run_folder(args.out, force=args.force)

    subjects = [s.strip() for s in args.subjects.split(",") if s.strip()]
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
