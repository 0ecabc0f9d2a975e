"""``fer-edge benchmark``: latency, throughput and runtime FPS per precision and device; ``compare``."""

from __future__ import annotations

import argparse

NAME = "benchmark"
HELP = "time bundles per model, precision and device (+ TensorFlow baseline, runtime on a video); compare reports"
EXAMPLES = [
    "fer-edge benchmark                                # default bundle, sample video, TF baseline -> runs/benchmark/",
    "fer-edge benchmark runs/fer runs/fer_int8 --infer-precision default,f32 --source none --baseline none",
    "fer-edge benchmark runs/fer/frame.xml --labels fer2013 --source none   # a plain OpenVINO IR or ONNX model",
    "fer-edge benchmark runs/fer_int8 --precision fp32,int8 --device cpu --source none --baseline none",
    "fer-edge benchmark -t 10 --source none      # each configuration for ~10 s, as benchmark_app -t",
    "fer-edge benchmark runs/fer_int8 --per-layer --top-layers 5 --source none --baseline none  # as -pc",
    "fer-edge benchmark compare laptop/benchmark.json pi/benchmark.json --out runs/compare",
    "fer-edge benchmark merge nuc/benchmark.json pi/benchmark.json --reference nuc --out runs/fleet",
    "fer-edge benchmark --executor ray=127.0.0.1:6379 --nodes all --source none --out runs/fleet",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    from fer_edge.runtime.faces.detect import DETECTORS

    p.add_argument(
        "bundles",
        nargs="*",
        metavar="BUNDLE",
        help="bundle directories (default: the FER2013 mini-Xception); or: compare A.json B.json; "
        "or: merge REPORT... (many machines' reports -> one fleet matrix)",
    )
    p.add_argument("--device", default="CPU", help="OpenVINO devices, comma-separated: CPU,GPU,NPU,AUTO (default CPU)")
    p.add_argument(
        "--precision",
        default="all",
        help="model precisions, comma-separated (fp32,fp16,int8,...) or 'all' the bundles carry",
    )
    p.add_argument(
        "--infer-precision",
        default="default",
        help="inference precision hints, comma-separated: default (the plugin's, bf16 on AVX512_BF16 "
        "CPUs), f32, bf16, f16 (default: default)",
    )
    p.add_argument(
        "--baseline",
        default="tf",
        choices=["tf", "none"],
        help="TensorFlow/Keras rows from the bundle's .keras files, or the Keras model rebuilt from the "
        "bundle's recorded source (the default model: the fer asset); one line says why when there is none",
    )
    p.add_argument(
        "--baseline-device",
        default="auto",
        type=str.lower,
        choices=["auto", "cpu", "gpu"],
        help="where the TensorFlow baseline runs: auto (GPU when TensorFlow sees one), CPU or GPU (default auto)",
    )
    p.add_argument(
        "--source",
        help="video, camera index or frame folder for the end-to-end rows; 'none' to skip (default: the sample video)",
    )
    p.add_argument(
        "--detector",
        default=None,
        choices=list(DETECTORS),
        help="face detector for the end-to-end rows (default: the demo's, blazeface; haar where "
        "this OpenVINO cannot run it); recorded in the report",
    )
    p.add_argument("--label", help="this machine's name in fleet reports (default: the host name)")
    from fer_edge.cli.options import add_executor

    add_executor(p)
    p.add_argument(
        "--nodes",
        nargs="+",
        metavar="all|LABEL",
        help="with --executor ray=HEAD: benchmark on every node (all) or the named ones (ray start --node-name), "
        "one task pinned per node, and merge the reports (docs/fleet.md)",
    )
    p.add_argument(
        "--reference",
        help="merge: the column speed-ups are against (machine label or 'LABEL DEVICE'; default the first)",
    )
    p.add_argument("--frames", type=int, default=300, help="most video frames for the end-to-end rows (default 300)")
    p.add_argument("--iterations", type=int, default=200, help="timed inferences per configuration (default 200)")
    p.add_argument(
        "-t",
        "--time",
        type=float,
        metavar="SECONDS",
        help="time-based, as benchmark_app: run each configuration about SECONDS instead of --iterations",
    )
    p.add_argument("--warmup", type=int, default=20, help="untimed inferences first (default 20)")
    p.add_argument(
        "--per-layer",
        action="store_true",
        help="per model and precision, the slowest layers with the kernel that ran (benchmark_app -pc) "
        "into benchmark.json and benchmark.md",
    )
    p.add_argument(
        "--top-layers", type=int, default=10, metavar="N", help="layers per model that --per-layer lists (default 10)"
    )
    p.add_argument("--no-throughput", action="store_true", help="skip the async throughput rows")
    p.add_argument("--requests", type=int, help="parallel requests in throughput mode (default: the plugin's optimum)")
    p.add_argument(
        "--out",
        help="folder for benchmark.json/.md/.html, or compare.md/.json "
        "(default: runs/benchmark or runs/compare, then ...2, ...3: a new one per run)",
    )
    p.add_argument("--labels", help="plain .xml/.onnx models only: label set or comma list, one per output")
    p.add_argument("--wheel-dir", help="folder with the pinned asset wheels (offline first run)")
    p.add_argument("--force", action="store_true", help="write into --out even if fer-edge did not create it")


def _split(text: str, what: str = "--device") -> list[str]:
    from fer_edge.core.errors import FerEdgeError

    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise FerEdgeError(f"{what} names nothing ({text!r}); give a comma list such as CPU,GPU")
    return items


def _compare(paths: list[str], out: str | None, force: bool) -> int:
    from fer_edge.benchmark.merge import compare_html
    from fer_edge.benchmark.report import format_comparison, load_report, save_comparison
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.core.runs import run_dir

    if len(paths) != 2:
        raise FerEdgeError(f"compare takes two reports, got {len(paths)}: fer-edge benchmark compare A.json B.json")
    a, b = load_report(paths[0]), load_report(paths[1])
    print(format_comparison(a, b, names=("A", "B")))
    print(f"A = {paths[0]}, B = {paths[1]}; ratios are B/A (latency > 1: B is slower; FPS > 1: B is faster)")
    with run_dir(out, "runs/compare", inputs=paths, force=force) as folder:
        files = save_comparison(a, b, folder, sources=(paths[0], paths[1]))
        files["html"] = compare_html(paths, folder)
    for kind, path in files.items():
        print(f"{kind}: {path}")
    return 0


def _merge(paths: list[str], out: str | None, reference: str | None, force: bool) -> int:

    from fer_edge.benchmark.merge import merge_reports
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.core.runs import run_dir

    if not paths:
        raise FerEdgeError("merge takes benchmark reports: fer-edge benchmark merge A.json B.json ... --out DIR")
    fleet = merge_reports(paths, reference=reference)  # logs a line per report it leaves out
    with run_dir(out, "runs/fleet", inputs=paths, force=force) as folder:
        files = fleet.save(folder)
    print(
        f"{len(fleet.columns)} column(s) x {len(fleet.keys)} configuration(s) from {len(paths) - len(fleet.skipped)} "
        f"of {len(paths)} report(s); speed-ups against {fleet.columns[fleet.reference].name}"
    )
    for kind, path in files.items():
        print(f"{kind}: {path}")
    return 0


def _fleet(args: argparse.Namespace, devices: list[str], hints: list[str], source, wheel_dir) -> int:
    from fer_edge.benchmark.fleet import run_fleet
    from fer_edge.cluster.executor import parse_spec
    from fer_edge.convert import defaults
    from fer_edge.convert.plainmodel import is_plain_model
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.core.runs import run_dir

    spec = parse_spec(args.executor)
    if spec.backend != "ray" or spec.address is None:
        given = "--nodes" if args.nodes else f"--executor {args.executor}"
        raise FerEdgeError(
            f"{given}: benchmark runs one task per node of a cluster: --executor ray=HOST:PORT or ray=auto "
            "with --nodes all|LABEL (see docs/fleet.md)"
        )
    from fer_edge.cluster.executor import executor_for
    from fer_edge.cluster.nodes import alive_nodes, select_nodes

    # Join the cluster and choose the nodes (or fail in one line) before fetching, packing or
    # creating --out: a refused run leaves nothing behind.
    select_nodes(alive_nodes(executor_for(spec).ray), args.nodes or ["all"], devices)
    if any(is_plain_model(b) for b in args.bundles):
        raise FerEdgeError("a fleet run takes bundles; make one from a plain model with fer-edge import first")
    if isinstance(source, int):
        raise FerEdgeError("a fleet run cannot use a camera index as --source; give a video file or none")
    bundles = args.bundles or [defaults.default_bundle(wheel_dir=wheel_dir)]
    with run_dir(args.out, "runs/fleet", inputs=[*args.bundles, source], force=args.force) as out:
        fleet = run_fleet(
            bundles,
            executor=args.executor,
            nodes=args.nodes or ["all"],
            devices=devices,
            out=out,
            reference=args.reference,
            source=source,
            precisions=args.precision,
            hints=hints,
            baseline=args.baseline,
            iterations=args.iterations,
            warmup=args.warmup,
            throughput=not args.no_throughput,
            requests=args.requests,
            frames=args.frames,
            detector=args.detector,
            baseline_device=args.baseline_device,
            seconds=args.time,
            per_layer=args.top_layers if args.per_layer else 0,
        )
    print(f"{len(fleet.columns)} column(s): {', '.join(c.name for c in fleet.columns)}")
    for path, reason in fleet.skipped:
        print(f"left out {path}: {reason}")
    print(f"results saved to {out}/ (fleet.html, fleet.md, fleet.json; nodes/<label>/benchmark.*)")
    return 0


def run(args: argparse.Namespace) -> int:
    import contextlib
    from pathlib import Path

    from fer_edge.benchmark.runner import benchmark
    from fer_edge.benchmark.text import machine_lines
    from fer_edge.convert.plainmodel import is_plain_model, temporary_bundle
    from fer_edge.core.runs import run_dir

    if args.bundles and args.bundles[0] == "compare" and not Path("compare", "manifest.json").is_file():
        return _compare(args.bundles[1:], args.out, args.force)
    if args.bundles and args.bundles[0] == "merge" and not Path("merge", "manifest.json").is_file():
        return _merge(args.bundles[1:], args.out, args.reference, args.force)
    from fer_edge.convert import defaults

    wheel_dir = Path(args.wheel_dir) if args.wheel_dir else None
    source = args.source
    if source is None:
        source = str(defaults.sample_video(wheel_dir=wheel_dir))
    elif source.lower() == "none":
        source = None
    else:
        from fer_edge.runtime.video.source import camera_index

        index = camera_index(source)
        source = index if index is not None else source
    devices, hints = _split(args.device), _split(args.infer_precision, "--infer-precision")
    from fer_edge.benchmark.runner import check_per_layer, check_seconds

    check_seconds(args.time)  # before --out exists: a refused run leaves nothing behind
    per_layer = args.top_layers if args.per_layer else 0
    check_per_layer(per_layer, args.per_layer)
    if args.nodes or args.executor:
        return _fleet(args, devices, hints, source, wheel_dir)
    with contextlib.ExitStack() as stack:
        bundles = [
            stack.enter_context(temporary_bundle(b, args.labels)) if is_plain_model(b) else b for b in args.bundles
        ] or [defaults.default_bundle(wheel_dir=wheel_dir)]
        if args.labels and not any(is_plain_model(b) for b in args.bundles):
            from fer_edge.core.errors import FerEdgeError

            raise FerEdgeError("--labels is for plain .xml/.onnx models; a bundle's manifest has its labels")
        out = stack.enter_context(run_dir(args.out, "runs/benchmark", inputs=[*args.bundles, source], force=args.force))
        report = benchmark(
            bundles,
            devices=devices,
            precisions=args.precision,
            hints=hints,
            baseline=args.baseline,
            source=source,
            iterations=args.iterations,
            warmup=args.warmup,
            throughput=not args.no_throughput,
            requests=args.requests,
            frames=args.frames,
            detector=args.detector,
            label=args.label,
            baseline_device=args.baseline_device,
            seconds=args.time,
            per_layer=per_layer,
            out=out,
            progress=True,
        )
    print("\n".join(machine_lines(report.machine)))
    for note in report.settings.get("notes") or []:
        print(f"note: {note}")
    print()
    print("\n".join(line for line in report.to_markdown().splitlines() if line.startswith(("|", "### "))))
    for kind, path in report.outputs.items():
        print(f"{kind}: {path}")
    print(f"results saved to {out}/")
    print(f"next: fer-edge benchmark compare {out / 'benchmark.json'} OTHER_MACHINE/benchmark.json --out runs/compare")
    return 0
