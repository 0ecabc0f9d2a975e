"""``fer-edge import keras``: turn a Keras model into a bundle the runtime can run."""

from __future__ import annotations

import argparse

NAME = "import"
HELP = (
    "import a per-frame Keras classifier (.keras/.h5) as a frame bundle (OpenVINO IR FP32 + FP16); "
    "standard layers need no TensorFlow"
)
EXAMPLES = [
    "fer-edge import keras emotion_model.hdf5 --labels fer2013 --frame 64x64 --gray "
    "--mean 0.5 --std 0.5 --out runs/fer",
    "fer-edge import keras my_model.keras --labels thesis --out runs/mine",
]


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW like 64x64, got {text!r}") from None
    return h, w


def _floats(text: str) -> list[float]:
    import math

    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("format", choices=["keras"], help="source format")
    p.add_argument("path", help="model file")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument("--labels", default="fer2013", help="label set (thesis, fer2013) or a comma list")
    p.add_argument("--frame", type=_size, help="input size HxW (default: the model's)")
    color = p.add_mutually_exclusive_group()
    color.add_argument("--gray", action="store_const", const="GRAY", dest="color", help="grayscale input")
    color.add_argument("--bgr", action="store_const", const="BGR", dest="color", help="BGR input (default RGB)")
    p.add_argument("--mean", type=_floats, help="normalisation mean(s) of x/255, e.g. 0.5")
    p.add_argument("--std", type=_floats, help="normalisation std(s) of x/255, e.g. 0.5")
    p.add_argument("--window", type=int, default=5, help="frames averaged per prediction (default 5)")
    p.add_argument("--name", help="bundle name (default: the --out folder's name)")
    p.add_argument("--no-fp16", action="store_true", help="skip the FP16 variant")
    p.add_argument(
        "--converter",
        choices=["auto", "builtin", "tensorflow"],
        default="auto",
        help="auto: the built-in reader (no TensorFlow), TensorFlow for layers it lacks when installed; "
        "builtin: never TensorFlow; tensorflow: Keras + openvino.convert_model",
    )
    p.add_argument("--force", action="store_true", help="replace --out even if it is not a fer-edge bundle")


def run(args: argparse.Namespace) -> int:
    from fer_edge.convert.importer import import_keras
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.runtime.bundle import WindowSpec

    if not 1 <= args.window <= 100_000:
        raise FerEdgeError(f"--window must be in [1, 100000] frames, got {args.window}")

    bundle = import_keras(
        args.path,
        args.out,
        labels=args.labels,
        frame_size=args.frame,
        color=args.color,
        mean=args.mean,
        std=args.std,
        name=args.name,
        fp16=not args.no_fp16,
        window=WindowSpec(length=args.window, stride=1, min_frames=1),
        converter=args.converter,
        force=args.force,
    )
    entry = bundle.models["frame"]
    print(
        f"bundle written: {bundle.path} ({bundle.kind}, {len(bundle.labels)} labels, "
        f"{entry.precision} + {', '.join(entry.variants) or 'no variants'})"
    )
    print(f"next: fer-edge demo --bundle {bundle.path} --source VIDEO --no-show")
    return 0
