"""``fer-edge import keras|onnx``: turn a Keras or ONNX model into a bundle the runtime can run."""

from __future__ import annotations

import argparse

from fer_edge.cli import options

NAME = "import"
HELP = (
    "import a per-frame Keras (.keras/.h5) or ONNX classifier as a frame bundle (OpenVINO IR FP32 + FP16); "
    "no TensorFlow needed for ONNX or standard Keras layers"
)
EXAMPLES = [
    "fer-edge import keras emotion_model.hdf5 --labels fer2013 --size 64x64 --gray --mean 0.5 --std 0.5 --out runs/fer",
    "fer-edge import keras my_model.keras --labels thesis --out runs/mine",
    "fer-edge import onnx enet_b0_8_best_afew.onnx --labels hsemotion8 --color RGB --size 224 "
    "--mean 0.485 0.456 0.406 --std 0.229 0.224 0.225 --out runs/hse   # see docs/own-model.md",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("format", choices=["keras", "onnx"], help="source format")
    p.add_argument("path", help="model file")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument(
        "--labels",
        help="label set in the model's output order (fer2013 (keras default), thesis, affectnet7, affectnet8, "
        "rafdb, hsemotion7, hsemotion8) or a comma list",
    )
    p.add_argument(
        "--size", type=options.size, dest="frame", help="input size WIDTHxHEIGHT or PX (default: the model's)"
    )
    options.deprecate(p, "--frame", "--size", convert=lambda hw: (hw[1], hw[0]))  # was HxW
    color = p.add_mutually_exclusive_group()
    color.add_argument("--gray", action="store_const", const="GRAY", dest="color", help="grayscale input")
    color.add_argument("--bgr", action="store_const", const="BGR", dest="color", help="BGR input (default RGB)")
    color.add_argument("--color", type=str.upper, choices=["RGB", "BGR", "GRAY"], help="input colour order")
    p.add_argument(
        "--softmax",
        choices=["auto", "add", "no"],
        default="auto",
        help="onnx: append a softmax when the model ends without one (auto), always (add) or never (no)",
    )
    p.add_argument(
        "--mean", type=options.number_list, nargs="+", help="normalisation mean(s) of x/255, one or one per channel"
    )
    p.add_argument("--std", type=options.number_list, nargs="+", help="normalisation std(s) of x/255, see --mean")
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
    window = WindowSpec(length=args.window, stride=1, min_frames=1)
    if args.format == "onnx":
        from fer_edge.convert.plainmodel import import_onnx

        if not args.labels:
            raise FerEdgeError("import onnx needs --labels in the model's output order (e.g. hsemotion8, affectnet8)")
        if args.converter != "auto":
            raise FerEdgeError("--converter is for import keras; ONNX is read by OpenVINO")
        bundle = import_onnx(
            args.path,
            args.out,
            labels=args.labels,
            size=(args.frame[1], args.frame[0]) if args.frame else None,  # --size is WxH, the model HxW
            color=args.color,
            mean=options.flat_numbers(args.mean, "--mean", NAME),
            std=options.flat_numbers(args.std, "--std", NAME),
            softmax={"auto": None, "add": True, "no": False}[args.softmax],
            name=args.name,
            fp16=not args.no_fp16,
            window=window,
            force=args.force,
        )
        return _done(bundle)
    bundle = import_keras(
        args.path,
        args.out,
        labels=args.labels or "fer2013",
        frame_size=(args.frame[1], args.frame[0]) if args.frame else None,  # --size is WxH, the model HxW
        color=args.color,
        mean=options.flat_numbers(args.mean, "--mean", NAME),
        std=options.flat_numbers(args.std, "--std", NAME),
        name=args.name,
        fp16=not args.no_fp16,
        window=window,
        converter=args.converter,
        force=args.force,
    )
    return _done(bundle)


def _done(bundle) -> int:
    entry = bundle.models["frame"]
    print(
        f"bundle written: {bundle.path} ({bundle.kind}, {len(bundle.labels)} labels, "
        f"{entry.precision} + {', '.join(entry.variants) or 'no variants'})"
    )
    print(f"next: fer-edge demo --bundle {bundle.path} --source VIDEO --no-show")
    return 0
