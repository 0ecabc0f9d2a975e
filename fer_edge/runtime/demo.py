"""The demo's defaults, in one place: what ``fer-edge demo`` and ``fer_edge.demo()`` both run.

:func:`demo_options` turns settings named as the CLI's options (``detector``, ``tracker``,
``infer_precision``, ``stream_timeout``, ``threads`` ...) into one :class:`RunOptions` and fills
the demo's defaults: BlazeFace short and full range merged (Haar where this OpenVINO cannot
convert BlazeFace), the pipelined loop unless a window is shown, a detection on every image when
every source is a still (an image or a frame folder). :func:`demo` adds the sample video as the default
source and the output naming (``runs/demo``, ``runs/demo2`` ... or ``--out``; one source writes
``demo.mp4``, ``events.jsonl``, ``timing.json`` there, several ``<stream>/`` folders of them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_edge.core.errors import FerEdgeError, unknown_choice
from fer_edge.runtime.bundle import Bundle, load_bundle
from fer_edge.runtime.engine import EngineConfig
from fer_edge.runtime.loop import RunOptions, RunReport, run
from fer_edge.runtime.pipeline import PipelineConfig
from fer_edge.runtime.stream import StreamPolicy

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_OUT", "DemoResult", "default_detector", "demo", "demo_options", "setting_names"]

DEFAULT_OUT = "runs/demo"  # then runs/demo2, runs/demo3 ... (fer_edge.core.runs)

# Setting name -> (options object, field) where the two differ; the other fields keep their names.
_RENAMED = {
    "infer_precision": ("engine", "precision"),
    "stream_timeout": ("stream", "read_timeout"),
    "reconnects": ("stream", "max_reconnects"),
}
_GROUPS = {"config": PipelineConfig, "engine": EngineConfig, "stream": StreamPolicy}
_RUN_FIELDS = {f.name for f in dataclasses.fields(RunOptions)} - set(_GROUPS) - {"outputs", "out"}


def default_detector() -> str:
    """``blazeface-both`` (short and full range merged: close-ups and small faces in a group alike;
    more faces, fewer false ones than Haar), or ``haar`` where this OpenVINO cannot convert
    BlazeFace's .tflite files and no converted copies are cached (the NCS2's 2022.3)."""
    from fer_edge.runtime import ovcompat
    from fer_edge.runtime.faces import blazeface
    from fer_edge.runtime.faces.detect import DEMO_DETECTOR

    if blazeface.available("short") and blazeface.available("full"):
        return DEMO_DETECTOR
    log.warning(
        "OpenVINO %s cannot convert BlazeFace and no converted copy is cached: using --detector haar",
        ovcompat.version_text(),
    )
    return "haar"


def setting_names() -> dict[str, tuple[str, str]]:
    """Every demo setting's name -> (``config``/``engine``/``stream``/``run``, field name)."""
    names = {f.name: (group, f.name) for group, cls in _GROUPS.items() for f in dataclasses.fields(cls)}
    names.pop("precision")  # two fields share it: the bundle variant (config) and the hint (infer_precision)
    names["precision"] = ("config", "precision")
    names.update(_RENAMED)
    names.update({name: ("run", name) for name in _RUN_FIELDS})
    return names


def demo_options(*, sources: int = 1, **settings: Any) -> RunOptions:
    """The demo's :class:`RunOptions` for ``sources`` sources; ``settings`` are named as the CLI's
    options (None leaves the default). Defaults: BlazeFace, pipelined unless ``show`` with one source.

    Example:
        >>> demo_options(tracker="kcf", threads=1, infer_precision="f32").config.tracker  # doctest: +SKIP
        'kcf'
    """
    names = setting_names()
    grouped: dict[str, dict[str, Any]] = {"config": {}, "engine": {}, "stream": {}, "run": {}}
    for key, value in settings.items():
        if key not in names:
            raise unknown_choice("demo setting", key, sorted(names))
        if value is not None:
            group, name = names[key]
            grouped[group][name] = value
    grouped["config"].setdefault("detector", None)
    if grouped["config"]["detector"] is None:
        grouped["config"]["detector"] = default_detector()
    run_settings = grouped["run"]
    if run_settings.get("threads") is None:
        run_settings["threads"] = 1 if run_settings.get("show") and sources == 1 else 2
    return RunOptions(
        config=PipelineConfig(**grouped["config"]),
        engine=EngineConfig(**grouped["engine"]),
        stream=StreamPolicy(**grouped["stream"]),
        **run_settings,
    )


@dataclass
class DemoResult:
    """A demo's reports (one per source) and the folder its files went to (None: only named files)."""

    reports: list[RunReport]
    folder: Path | None

    @property
    def interrupted(self) -> bool:
        return any(r.interrupted for r in self.reports)


def demo(
    bundle: Bundle | str | os.PathLike,
    sources: Sequence[Any] | None = None,
    options: RunOptions | None = None,
    *,
    out: str | os.PathLike | None = None,
    save: bool = True,
    force: bool = False,
    wheel_dir: str | os.PathLike | None = None,
    serve: str | None = None,
    serve_token: str | None = None,
    announce: Callable[[str], None] | None = print,
) -> DemoResult:
    """Run the demo: ``sources`` (default: the sample video) through ``bundle`` with ``options``
    (default :func:`demo_options`), saving into ``out`` or a new ``runs/demoN`` unless ``save`` is
    False or ``options`` names the files. ``serve`` (``[HOST:]PORT``) adds the live view
    (:mod:`fer_edge.runtime.live`) as a sink; ``announce`` is given its URL.

    Raises:
        FerEdgeError: an output fer-edge did not write (without ``force``), the same file twice.
    """
    from fer_edge.core.assets import sample_video
    from fer_edge.core.outputs import check_output
    from fer_edge.core.runs import run_dir
    from fer_edge.runtime.video.source import camera_index

    if sources is None:
        sources = [str(sample_video(wheel_dir=Path(wheel_dir) if wheel_dir else None))]
    indices = [camera_index(s) if isinstance(s, (str, int)) else None for s in sources]  # no `:=`: Python 3.7
    sources = [s if i is None else i for s, i in zip(sources, indices)]
    options = options or demo_options(sources=len(sources))
    if all(_is_still(s) for s in sources) and not options.config.stills:
        options = dataclasses.replace(options, config=dataclasses.replace(options.config, stills=True))
    if serve_token is not None and serve is None:
        raise FerEdgeError("--serve-token goes with --serve [HOST:]PORT")
    bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    inputs = [*(s for s in sources if isinstance(s, (str, os.PathLike))), bundle.path]
    named = [(options.output, "--output"), (options.events, "--events"), (options.timing, "--timing")]
    if len(sources) > 1 and any(p for p, _ in named):
        raise FerEdgeError(
            "with several --source, pass --out FOLDER (each stream writes FOLDER/<stream>/); "
            "--output/--events/--timing name a single stream's files"
        )
    with contextlib.ExitStack() as stack:
        folder = None
        if out or (save and not any(p for p, _ in named) and options.outputs is None):
            folder = stack.enter_context(run_dir(out, DEFAULT_OUT, inputs=inputs, force=force))
            if len(sources) > 1:
                options = dataclasses.replace(options, out=folder)
            else:
                options = dataclasses.replace(
                    options,
                    output=(options.output or str(folder / "demo.mp4")) if options.video else options.output,
                    events=options.events or str(folder / "events.jsonl"),
                    timing=options.timing or str(folder / "timing.json"),
                )
                named = [(options.output, "--output"), (options.events, "--events"), (options.timing, "--timing")]
        files = [str(Path(p).resolve()) for p, _ in named if p]
        if len(set(files)) != len(files):
            raise FerEdgeError("--output, --events and --timing must be three different files")
        for path, what in named:
            if path:
                check_output(path, inputs=inputs, force=force, what=what)
        if serve:
            from fer_edge.runtime.live import live_view

            live = stack.enter_context(live_view(serve, serve_token, sources, options.fps))
            if announce:
                announce(f"live view: {live.url}")
            options = dataclasses.replace(options, sinks=[*options.sinks, live])
        reports = run(sources, bundle, options)
    return DemoResult(reports, folder)


def _is_still(source: Any) -> bool:
    """An image file or a frame folder: every frame is a still, detected on its own."""
    from fer_edge.runtime.video import IMAGE_EXTENSIONS

    if not isinstance(source, (str, os.PathLike)) or "://" in str(source):
        return False
    return Path(source).is_dir() or Path(source).suffix.lower() in IMAGE_EXTENSIONS
