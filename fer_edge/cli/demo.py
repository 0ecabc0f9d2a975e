"""``fer-edge demo``: a video or camera in, tracked faces with emotions out."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)

NAME = "demo"
HELP = "run the real-time runtime on a video, camera or frame folder (default: the sample video)"
EXAMPLES = [
    "fer-edge demo --no-show                                  # sample video -> runs/demo/ (then demo2, demo3...)",
    "fer-edge demo --source 0                                 # camera 0, window on screen, saved to runs/demoN/",
    "fer-edge demo --source clip.mp4 --bundle runs/fer_int8 --out runs/clip --no-show",
    "fer-edge demo --source clip.mp4 --bundle runs/fer/frame.xml --labels fer2013 --mean 0.5 --std 0.5 --no-show",
    "fer-edge demo --tracker kcf --detect-every 5 --precision FP16 --no-show",
    "fer-edge demo --source a.mp4 --source b.mp4 --source 0 --out runs/multi --no-show   # 3 streams",
    "fer-edge demo --detector haar --align --no-show",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register the options; a default not shown here is the dataclass' (PipelineConfig, EngineConfig,
    StreamPolicy): argparse's None leaves it."""
    from fer_edge.runtime import EngineConfig, PipelineConfig
    from fer_edge.runtime.engine import DEVICES, HINTS, PRECISIONS
    from fer_edge.runtime.faces.detect import DETECTORS
    from fer_edge.runtime.faces.track import TRACKERS
    from fer_edge.runtime.stream import StreamPolicy

    pipe, stream = PipelineConfig, StreamPolicy

    p.add_argument(
        "--source",
        action="append",
        help="video file, camera index, frame folder or URL (default: the sample video); repeat it "
        "for several streams at once (outputs in --out/<stream>/)",
    )
    p.add_argument(
        "--threads",
        type=int,
        help="1 = the sequential loop (debugging); 2+ = pipelined (decode-ahead and writer threads). "
        "Default: pipelined unless a window is shown",
    )
    p.add_argument(
        "--bundle",
        help="bundle directory, or a plain OpenVINO .xml / .onnx model with --labels "
        "(default: the FER2013 mini-Xception)",
    )
    p.add_argument("--labels", help="plain model only: label set (fer2013, thesis) or comma list, one per output")
    p.add_argument("--mean", type=float, nargs="+", help="plain model only: input = (x/255 - mean) / std (default 0)")
    p.add_argument("--std", type=float, nargs="+", help="plain model only: see --mean (default 1)")
    p.add_argument("--device", help=f"OpenVINO device: {', '.join(DEVICES)} (default {EngineConfig.device})")
    p.add_argument("--precision", help="bundle model variant: FP32, FP16, INT8 (default: the bundle's)")
    p.add_argument(
        "--infer-precision",
        choices=list(PRECISIONS),
        type=str.lower,
        help="OpenVINO inference precision hint (this CPU defaults to bf16)",
    )
    p.add_argument(
        "--hint", choices=list(HINTS), type=str.lower, help=f"OpenVINO performance hint (default {EngineConfig.hint})"
    )
    p.add_argument("--cache-dir", help="OpenVINO model cache directory")
    p.add_argument(
        "--out",
        help="folder for demo.mp4, events.jsonl and timing.json (default: runs/demo, runs/demo2 ... a new one per run)",
    )
    p.add_argument("--no-save", action="store_true", help="write no files (only the printed summary)")
    p.add_argument("--output", help="annotated video (.mp4 or .avi)")
    p.add_argument("--events", help="events file (JSON Lines)")
    p.add_argument("--timing", help="timing file (JSON)")
    # The demo's own default (the runtime's, PipelineConfig.detector, is the thesis' haar).
    p.add_argument(
        "--detector",
        default=None,
        choices=list(DETECTORS),
        help="face detector (default blazeface: finds more faces, fewer false ones and is faster than "
        "haar, the thesis' choice; see the README's detector table)",
    )
    p.add_argument(
        "--align",
        action="store_true",
        help="rotate face crops so the eyes are level (for bundles trained on aligned crops; uses BlazeFace)",
    )
    p.add_argument(
        "--tracker",
        choices=list(TRACKERS),
        type=str.lower,
        help=f"face tracker (default {pipe.tracker}: ~1 ms per face; kcf/csrt cost 20-200 ms on big faces)",
    )
    p.add_argument("--detect-every", type=int, help=f"detect every N frames (default {pipe.detect_every})")
    p.add_argument("--max-faces", type=int, help=f"most faces tracked at once (default {pipe.max_faces})")
    p.add_argument("--min-face", type=int, help=f"smallest face side in pixels (default {pipe.min_face})")
    p.add_argument(
        "--detect-side",
        type=int,
        help=f"detect on a copy at most this many pixels wide/high (default {pipe.detect_side})",
    )
    p.add_argument(
        "--detect-scale",
        type=float,
        help=f"Haar pyramid step (default {pipe.detect_scale}; 1.2 is ~2x faster, misses more faces)",
    )
    p.add_argument(
        "--max-missed", type=int, help=f"missed detections before a track retires (default {pipe.max_missed})"
    )
    p.add_argument("--alpha", type=float, help=f"EMA smoothing in (0, 1]; 1 = none (default {pipe.alpha})")
    p.add_argument("--stride", type=int, help="temporal head every N frames (default: the bundle's)")
    p.add_argument("--max-frames", type=int, help="stop after N frames")
    p.add_argument(
        "--fps",
        type=float,
        help="source frame rate when it carries none (raw H.264, e.g. rpicam-vid); also requested from cameras",
    )
    p.add_argument(
        "--stream-timeout",
        type=float,
        help=f"camera/stream: seconds without a frame before reconnecting (default {stream.read_timeout:g})",
    )
    p.add_argument(
        "--reconnects",
        type=int,
        help=f"camera/stream: reconnects in a row before giving up (default {stream.max_reconnects})",
    )
    p.add_argument("--no-show", action="store_true", help="do not open a window")
    p.add_argument(
        "--force", action="store_true", help="replace --output/--events/--timing files fer-edge did not write"
    )
    p.add_argument("--wheel-dir", help="folder with the pinned asset wheels (offline first run)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fer_edge.convert import defaults
    from fer_edge.convert.plainmodel import is_plain_model, temporary_bundle
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.runtime.bundle import load_bundle

    if args.max_frames is not None and args.max_frames < 1:
        raise FerEdgeError(f"--max-frames must be >= 1, got {args.max_frames}")
    wheel_dir = Path(args.wheel_dir) if args.wheel_dir else None
    if args.bundle and is_plain_model(args.bundle):
        with temporary_bundle(args.bundle, args.labels, mean=args.mean, std=args.std) as tmp:
            again = f"{args.bundle} --labels {args.labels}" + "".join(
                f" --{k} {' '.join(f'{v:g}' for v in getattr(args, k))}" for k in ("mean", "std") if getattr(args, k)
            )
            return _run(args, load_bundle(tmp), wheel_dir, label=again)
    if args.labels or args.mean or args.std:
        raise FerEdgeError("--labels/--mean/--std are for a plain .xml/.onnx model; a bundle's manifest has them")
    return _run(args, load_bundle(args.bundle or defaults.default_bundle(wheel_dir=wheel_dir)), wheel_dir, label=None)


def _run(args: argparse.Namespace, bundle, wheel_dir, label: str | None) -> int:
    import contextlib
    from pathlib import Path

    from fer_edge.convert import defaults
    from fer_edge.core.config import given
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.core.outputs import check_output
    from fer_edge.core.runs import run_dir
    from fer_edge.runtime import EngineConfig, PipelineConfig, run_video
    from fer_edge.runtime.stream import StreamPolicy
    from fer_edge.runtime.timers import format_table
    from fer_edge.runtime.video.source import camera_index

    # Before any model loads: a bad stream option or output is found in a second, not a minute.
    stream = StreamPolicy(**given(StreamPolicy, args, read_timeout="stream_timeout", max_reconnects="reconnects"))
    engine = EngineConfig(**given(EngineConfig, args, precision="infer_precision"))
    if args.detector is None:
        from fer_edge.runtime import ovcompat
        from fer_edge.runtime.faces import blazeface

        args.detector = "blazeface"
        if not blazeface.available():  # OpenVINO 2022.3 (the NCS2's) cannot convert its .tflite
            log.warning(
                "OpenVINO %s cannot convert BlazeFace and no converted copy is cached: using --detector haar",
                ovcompat.version_text(),
            )
            args.detector = "haar"
    config = PipelineConfig(**given(PipelineConfig, args))
    given_sources = args.source or [str(defaults.sample_video(wheel_dir=wheel_dir))]
    indices = [camera_index(s) for s in given_sources]  # no `:=`: the NCS2 kit runs on Python 3.7
    sources = [s if i is None else i for s, i in zip(given_sources, indices)]
    threads = args.threads if args.threads is not None else (1 if not args.no_show and len(sources) == 1 else 2)
    if threads < 1:
        raise FerEdgeError(f"--threads must be >= 1, got {threads}")
    if len(sources) > 1:
        return _run_many(sources, bundle, config, engine, stream, args)
    source = sources[0]
    output, events, timing = args.output, args.events, args.timing
    inputs = [source, bundle.path]
    with contextlib.ExitStack() as stack:
        out = None
        if args.out or not (args.no_save or output or events or timing):
            # a new runs/demoN unless --out
            out = stack.enter_context(run_dir(args.out, "runs/demo", inputs=inputs, force=args.force))
            output = output or str(out / "demo.mp4")
            events = events or str(out / "events.jsonl")
            timing = timing or str(out / "timing.json")
        given = [(output, "--output"), (events, "--events"), (timing, "--timing")]
        named = [str(Path(p).resolve()) for p, _ in given if p]
        if len(set(named)) != len(named):
            raise FerEdgeError("--output, --events and --timing must be three different files")
        for path, what in given:
            if path:
                check_output(path, inputs=inputs, force=args.force, what=what)
        report = run_video(
            source,
            bundle,
            config=config,
            engine=engine,
            output=output,
            events=events,
            timing=timing,
            show=not args.no_show,
            max_frames=args.max_frames,
            stream=stream,
            fps=args.fps,
            threads=threads,
        )
    state = " (interrupted)" if report.interrupted else ""
    print(
        f"{report.frames} frames in {report.seconds:.2f} s = {report.fps:.1f} fps{state} on "
        f"{report.device} ({report.inference_precision}); faces in {report.frames_with_face} frames, "
        f"{report.tracks} track(s)"
    )
    print(format_table(report.stages))
    for kind, path in report.outputs.items():
        print(f"{kind}: {path}")
    if out is not None:
        print(f"results saved to {out}/")
    print(f"next: fer-edge demo --source YOUR_VIDEO --bundle {label or bundle.path} --out runs/mine --no-show")
    return 130 if report.interrupted else 0


def _run_many(sources: list, bundle, config, engine, stream, args: argparse.Namespace) -> int:
    """Several ``--source``: one pipelined run, outputs per stream under ``--out`` (default runs/demoN)."""
    from fer_edge.core.errors import FerEdgeError
    from fer_edge.core.runs import run_dir
    from fer_edge.runtime.loop import run_sources

    if args.output or args.events or args.timing:
        raise FerEdgeError(
            "with several --source, pass --out FOLDER (each stream writes FOLDER/<stream>/); "
            "--output/--events/--timing name a single stream's files"
        )
    with run_dir(args.out, "runs/demo", inputs=[*sources, bundle.path], force=args.force) as out:
        reports = run_sources(
            sources,
            bundle,
            config=config,
            engine=engine,
            out=out,
            max_frames=args.max_frames,
            stream=stream,
            fps=args.fps,
        )
    for r in reports:
        state = " (interrupted)" if r.interrupted else ""
        lat = f"latency p50 {r.stages_ms.get('latency', 0):.1f} ms p90 {r.stages_p90_ms.get('latency', 0):.1f} ms"
        print(
            f"{r.source}: {r.frames} frames in {r.seconds:.2f} s = {r.fps:.1f} fps{state}; {lat}; "
            f"faces in {r.frames_with_face} frames, {r.tracks} track(s); {r.outputs.get('events', '')}"
        )
    print(f"results saved to {out}/<stream>/")
    return 130 if any(r.interrupted for r in reports) else 0
