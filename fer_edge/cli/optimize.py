"""``fer-edge optimize``: FP16 / INT8 (NNCF, accuracy control) / pruning / distillation of a bundle."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "optimize"
HELP = "make a bundle smaller and faster: FP16, NNCF INT8 (+accuracy control), channel pruning, distillation"
EXAMPLES = [
    "fer-edge optimize --precision int8                       # default model -> runs/<model>_int8/",
    "fer-edge optimize runs/synthetic/bundle --precision int8 --max-drop 0.01",
    "fer-edge optimize runs/synthetic/bundle --precision fp16 --out runs/synthetic/bundle_fp16",
    "fer-edge optimize runs/fer --precision int8 --calibration faces.mp4 --subset-size 300",
    "fer-edge optimize runs/synthetic/bundle --prune 0.5 --precision int8",
    "fer-edge optimize runs/synthetic/bundle --distill student --precision int8",
    "fer-edge optimize runs/synthetic/bundle --recipe optimize/int8-accuracy.yaml",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", nargs="?", help="bundle directory (default: the FER2013 mini-Xception)")
    p.add_argument("--recipe", help="optimize/*.yaml with any of the options below (the command line wins)")
    p.add_argument("--precision", help="int8 | int8-weights | fp16 | fp32 (default int8)")
    p.add_argument(
        "--calibration",
        metavar="DATA",
        help="video(s), preprocessed folder, face-image folder or .npz (default: the bundle's data)",
    )
    p.add_argument("--subset-size", type=int, help="calibration samples per model (default 300)")
    p.add_argument("--max-drop", type=float, help="INT8 accuracy-control budget, absolute (0.01 = 1 point)")
    p.add_argument("--prune", type=float, metavar="RATIO", help="remove this fraction of conv channels, (0, 0.9]")
    p.add_argument("--prune-epochs", type=int, help="fine-tuning epochs after pruning (default 3)")
    p.add_argument("--distill", metavar="STUDENT", help="registry model to distill into (e.g. student)")
    p.add_argument("--distill-epochs", type=int, help="student training epochs (default 10)")
    p.add_argument("--temperature", type=float, help="distillation temperature (default 4)")
    p.add_argument("--alpha", type=float, help="weight of the soft targets (default 0.7)")
    p.add_argument("--device", help="device for the latency columns (default CPU)")
    p.add_argument("--iterations", type=int, help="timed inferences per latency (default 200)")
    p.add_argument("--seed", type=int, help="seed (default 0)")
    p.add_argument(
        "--out",
        help="output bundle (default: <bundle>_<precision> beside it; runs/<model>_<precision> for a bundle in "
        "fer-edge's cache, such as the default model)",
    )
    p.add_argument(
        "--force", action="store_true", default=None, help="replace --out even if it is not a fer-edge bundle"
    )


def run(args: argparse.Namespace) -> int:
    from fer_edge.optimize.stage import OptimizeConfig, optimize_bundle

    keys = (
        "precision",
        "calibration",
        "subset_size",
        "max_drop",
        "prune",
        "prune_epochs",
        "distill",
        "distill_epochs",
        "temperature",
        "alpha",
        "device",
        "iterations",
        "seed",
        "out",
        "force",
    )
    given = {k: getattr(args, k) for k in keys}
    if args.recipe:
        config = OptimizeConfig.from_yaml(args.recipe, **given)
    else:
        config = OptimizeConfig(**{k: v for k, v in given.items() if v is not None})
    _require_extras(config)  # before the default model is imported or any data read
    bundle = args.bundle
    if bundle is None:
        from fer_edge.convert.defaults import default_bundle

        bundle = default_bundle()
    if config.out is None:
        config.out = _visible_out(Path(bundle), config.precision)
    report = optimize_bundle(bundle, config)
    print(report_text(report))
    out = Path(report.bundle)
    print(f"\nbundle: {out}  (report: {out / 'report.md'})")
    print(f"next:   fer-edge demo --bundle {out} --no-show")
    return 0


def _require_extras(config) -> None:  # noqa: ANN001 - an OptimizeConfig
    """One line naming the missing extra before any work (the INT8 calibration takes minutes)."""
    from fer_edge.core.errors import require

    if config.precision.startswith("int8"):
        require("nncf", "optimize", purpose=f"--precision {config.precision}")
    if config.prune is not None or config.distill is not None:
        require("keras", "train", purpose="--prune/--distill (fine-tuning in Keras)")


def _visible_out(bundle: Path, precision: str) -> str | None:
    """``runs/<model>_<precision>`` for a bundle inside fer-edge's cache (out of the user's sight), else None."""
    from fer_edge.core.assets import home

    try:
        cached = bundle.resolve().is_relative_to(home().resolve())
    except OSError:
        cached = False
    return str(Path("runs") / f"{bundle.name}_{precision}") if cached else None


def report_text(report) -> str:
    """The Markdown table without its title, for the terminal."""
    return "\n".join(report.markdown().splitlines()[2:])
