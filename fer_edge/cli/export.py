"""``fer-edge export``: a bundle's Keras models -> OpenVINO IR (FP32 + FP16), or any bundle -> ONNX."""

from __future__ import annotations

import argparse

NAME = "export"
HELP = "export a bundle to ONNX (any bundle, no TensorFlow) or its Keras models to IR FP32 + FP16, with a parity check"
EXAMPLES = [
    "fer-edge export --format onnx --batch 1 --out runs/fer_onnx  # the default model for the Neural Compute Stick 2",
    "fer-edge export runs/fer --format onnx --opset 13            # -> runs/fer_onnx/ (dynamic batch)",
    "fer-edge export runs/synthetic/bundle                        # Keras -> IR: runs/synthetic/bundle_openvino/",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", nargs="?", help="bundle directory (default: the FER2013 mini-Xception)")
    p.add_argument("--format", default="openvino", help="openvino | onnx (default openvino)")
    p.add_argument("--opset", type=int, default=13, help="ONNX opset, 11-17 (default 13: OpenVINO 2021.4 and the NCS2)")
    p.add_argument("--batch", type=int, metavar="N", help="ONNX: a static batch size (1 for the NCS2; default dynamic)")
    p.add_argument("--no-fp16", action="store_true", help="IR: do not also write the FP16 variant")
    p.add_argument("--calibration", metavar="DATA", help="real inputs for the parity check (default: bundle data)")
    p.add_argument("--out", help="output bundle (default: <bundle>_<format>)")
    p.add_argument("--force", action="store_true", help="replace --out even if it is not a fer-edge bundle")


def run(args: argparse.Namespace) -> int:
    from fer_edge.optimize.export import export_bundle

    bundle = args.bundle
    if bundle is None:
        from fer_edge.convert.defaults import default_bundle

        bundle = default_bundle()
    result = export_bundle(
        bundle,
        args.out,
        format=args.format,
        fp16=not args.no_fp16,
        calibration=args.calibration,
        force=args.force,
        opset=args.opset,
        batch=args.batch,
    )
    print(result.describe())
    print(f"next:   fer-edge demo --bundle {result.bundle} --no-show")
    return 0
