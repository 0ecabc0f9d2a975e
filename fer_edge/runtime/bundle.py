"""Bundles: a directory that describes itself (``manifest.json`` + model files).

The manifest is the contract between training, optimization and the runtime (see
docs/architecture.md). The runtime reads labels, frame geometry, normalisation and window from it
and never re-derives them from a file name.

Example manifest (``kind`` = ``frame`` | ``cascade`` | ``clip``)::

    {"format": 1, "name": "fer-mini-xception", "kind": "frame",
     "labels": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
     "frame": {"size": [64, 64], "color": "GRAY", "mean": [0.5], "std": [0.5], "pad_y": 10},
     "window": {"length": 5, "stride": 1, "min_frames": 1},
     "models": {"frame": {"file": "frame.xml", "precision": "FP32", "output": 7,
                          "variants": {"FP16": "frame-fp16.xml"}, "keras": "frame.keras"}},
     "provenance": {"fer_edge": "0.1.0", "created": "...", "source": "...", "metrics": {}}}

``frame.size`` is ``[height, width]``; pixels are fed as ``(x / 255 - mean) / std`` in the
declared colour order. ``pad_y`` is the vertical box extension used when cropping (thesis 3.2.1).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge import __version__
from fer_edge.core.atomic import staging_dir, write_json
from fer_edge.core.errors import FerEdgeError
from fer_edge.core.fileio import read_json
from fer_edge.core.outputs import check_output
from fer_edge.runtime.kinds import KINDS

FORMAT = 1
COLORS = {"RGB": 3, "BGR": 3, "GRAY": 1}
PRECISIONS = ("FP32", "FP16", "BF16", "INT8", "INT8-WEIGHTS")
MODEL_SUFFIXES = (".xml", ".keras", ".onnx")


@dataclass
class FrameSpec:
    """How a face crop becomes a model input."""

    size: tuple[int, int] = (160, 160)  # (height, width)
    color: str = "RGB"
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    pad_y: int = 10

    @property
    def channels(self) -> int:
        return COLORS[self.color]

    def normalise(self, pixels: np.ndarray) -> np.ndarray:
        """0..255 pixels in the declared colour order -> the model's float32 ``(x / 255 - mean) / std``.

        The one place of this rule: the runtime, evaluation and calibration all call it.

        Example:
            >>> FrameSpec((2, 2), "GRAY", (0.5,), (0.5,)).normalise(np.array([0, 255])).tolist()
            [-1.0, 1.0]
        """
        x = np.asarray(pixels).astype(np.float32) * np.float32(1.0 / 255.0)
        return (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)


@dataclass
class WindowSpec:
    """Temporal window: how many frames a prediction sees and how often it runs."""

    length: int = 100
    stride: int = 5
    min_frames: int = 16


@dataclass
class ModelEntry:
    """One model of a bundle; ``variants`` maps other precisions to their files."""

    file: str
    precision: str = "FP32"
    output: int | None = None
    input: list[int] | None = None
    variants: dict[str, str] = field(default_factory=dict)
    keras: str | None = None

    def files(self) -> list[str]:
        out = [self.file, *self.variants.values()]
        if self.keras:
            out.append(self.keras)
        return out


@dataclass
class Bundle:
    """A loaded, validated bundle. ``path`` is its directory."""

    path: Path
    name: str
    kind: str
    labels: tuple[str, ...]
    frame: FrameSpec
    window: WindowSpec
    models: dict[str, ModelEntry]
    provenance: dict[str, Any] = field(default_factory=dict)

    def model_path(self, role: str, precision: str | None = None) -> Path:
        """Path of a model file, optionally of a given precision variant.

        Example:
            >>> bundle.model_path("frame", "FP16")  # doctest: +SKIP
            PosixPath('.../frame-fp16.xml')
        """
        entry = self.models[role]
        if precision is None or precision.upper() == entry.precision:
            return self.path / entry.file
        key = precision.upper()
        if key not in entry.variants:
            have = ", ".join([entry.precision, *entry.variants]) or "none"
            raise FerEdgeError(
                f"bundle {self.path} has no {key} {role} model (has: {have}); " + variant_hint(self.path, key)
            )
        return self.path / entry.variants[key]

    def manifest(self) -> dict[str, Any]:
        """The JSON-ready manifest of this bundle."""
        models = {}
        for role, entry in self.models.items():
            item = {k: v for k, v in asdict(entry).items() if v not in (None, {}, [])}
            models[role] = item
        return {
            "format": FORMAT,
            "name": self.name,
            "kind": self.kind,
            "labels": list(self.labels),
            "frame": {
                "size": list(self.frame.size),
                "color": self.frame.color,
                "mean": list(self.frame.mean),
                "std": list(self.frame.std),
                "pad_y": self.frame.pad_y,
            },
            "window": asdict(self.window),
            "models": models,
            "provenance": self.provenance,
        }


def variant_dir(path: str | os.PathLike, precision: str) -> Path:
    """Where ``fer-edge optimize BUNDLE --precision P`` writes by default: ``BUNDLE_p`` beside it.

    Example:
        >>> variant_dir("runs/fer", "INT8")
        PosixPath('runs/fer_int8')
    """
    path = Path(path)
    return path.with_name(f"{path.name}_{precision.lower().replace('-', '_')}")


def variant_hint(path: str | os.PathLike, precision: str, *, use: str = "--bundle {}") -> str:
    """How to get a precision a bundle lacks: its optimized sibling, or the command that makes it.

    Args:
        use: how the sibling is passed to the command at hand (``{}`` = its path).

    Example:
        >>> variant_hint("runs/fer", "INT8")  # doctest: +SKIP
        'create it with: fer-edge optimize runs/fer --precision int8 (writes runs/fer_int8), then pass ...'
    """
    sibling = variant_dir(path, precision)
    if (sibling / "manifest.json").is_file():
        return f"{sibling} has it: pass {use.format(sibling)}"
    return (
        f"create it with: fer-edge optimize {path} --precision {precision.lower()} (writes {sibling}), "
        f"then pass {use.format(sibling)}"
    )


def provenance(source: str, **extra: Any) -> dict[str, Any]:
    """A provenance record stamped with the fer-edge version and the time."""
    return {
        "fer_edge": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": source,
        **extra,
    }


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read and validate ``<path>/manifest.json``.

    Raises:
        FerEdgeError: one line naming the bundle and what is wrong.

    Example:
        >>> b = load_bundle("runs/fer-mini-xception")  # doctest: +SKIP
        >>> b.kind, b.labels[:2]  # doctest: +SKIP
        ('frame', ('angry', 'disgust'))
    """
    root = Path(path)
    if root.is_file() and root.name == "manifest.json":
        root = root.parent
    manifest = root / "manifest.json"
    if not root.exists():
        raise FerEdgeError(f"bundle not found: {root}; check the path or create one with fer-edge import")
    if not manifest.is_file():
        raise FerEdgeError(f"{root} is not a bundle: it has no manifest.json")
    data = read_json(manifest, "bundle manifest", max_bytes=16_000_000)
    return parse_manifest(data, root)


def _fail(root: Path, msg: str) -> FerEdgeError:
    return FerEdgeError(f"{root / 'manifest.json'}: {msg}")


def _get(data: dict, key: str, typ: type | tuple, root: Path, where: str = "") -> Any:
    if key not in data:
        raise _fail(root, f"missing key '{where}{key}'")
    value = data[key]
    if not isinstance(value, typ) or isinstance(value, bool) and typ is not bool:
        name = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise _fail(root, f"'{where}{key}' must be {name}, got {type(value).__name__}")
    return value


def _int(value: Any, root: Path, what: str, lo: int = 1, hi: int = 100_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _fail(root, f"'{what}' must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def _inside(root: Path, rel: Any, what: str) -> str:
    """A model file name that stays inside the bundle directory."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise _fail(root, f"'{what}' must be a file name, got {rel!r}")
    if os.path.isabs(rel) or ".." in Path(rel).parts:
        raise _fail(root, f"'{what}' = {rel!r} points outside the bundle; use a path relative to it")
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        raise _fail(root, f"'{what}' = {rel!r} resolves outside the bundle (symlink?)")
    if Path(rel).suffix not in MODEL_SUFFIXES:
        raise _fail(root, f"'{what}' = {rel!r}: expected one of {', '.join(MODEL_SUFFIXES)}")
    if not target.is_file():
        raise _fail(root, f"model file {rel} is missing; copy it into the bundle or re-export it")
    if Path(rel).suffix == ".xml":
        # OpenVINO reads the weights next to the .xml: that file must stay inside too.
        weights = (root / rel).with_suffix(".bin")
        if not weights.resolve().is_relative_to(root.resolve()):
            raise _fail(
                root,
                f"{Path(rel).with_suffix('.bin')} resolves outside the bundle (symlink?); "
                "copy the weights into the bundle",
            )
        if not weights.is_file():
            raise _fail(root, f"{rel} has no weights file {Path(rel).with_suffix('.bin')}; re-export the model")
    return rel


def parse_manifest(data: Any, root: str | os.PathLike) -> Bundle:
    """Validate a manifest dictionary against the files under ``root``."""
    root = Path(root)
    if not isinstance(data, dict):
        raise _fail(root, f"must be a JSON object, got {type(data).__name__}")
    fmt = _get(data, "format", int, root)
    if fmt != FORMAT:
        raise _fail(
            root,
            f"format {fmt} is not supported by fer-edge {__version__} (reads format {FORMAT}); "
            "upgrade fer-edge or re-export the bundle",
        )
    name = _get(data, "name", str, root)
    kind = _get(data, "kind", str, root)
    if kind not in KINDS:
        raise _fail(root, f"unknown kind '{kind}'; known: {', '.join(KINDS)}")
    labels = _get(data, "labels", list, root)
    if not labels or not all(isinstance(x, str) and x for x in labels) or len(set(labels)) != len(labels):
        raise _fail(root, f"'labels' must be distinct non-empty names, got {labels!r}")

    fr = _get(data, "frame", dict, root)
    size = _get(fr, "size", list, root, "frame.")
    if len(size) != 2:
        raise _fail(root, f"'frame.size' must be [height, width], got {size!r}")
    size = tuple(_int(s, root, "frame.size", 8, 4096) for s in size)
    color = _get(fr, "color", str, root, "frame.").upper()
    if color not in COLORS:
        raise _fail(root, f"'frame.color' must be one of {', '.join(COLORS)}, got {color!r}")
    mean = fr.get("mean", [0.0] * COLORS[color])
    std = fr.get("std", [1.0] * COLORS[color])
    for key, vals in (("mean", mean), ("std", std)):
        if (
            not isinstance(vals, list)
            or len(vals) != COLORS[color]
            or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) <= 1e6
                for v in vals
            )
        ):
            raise _fail(
                root, f"'frame.{key}' must be {COLORS[color]} numbers for {color} (finite, at most 1e6), got {vals!r}"
            )
    if any(not s > 0 for s in std):
        raise _fail(root, f"'frame.std' must be positive, got {std!r}")
    pad_y = _int(fr.get("pad_y", 10), root, "frame.pad_y", 0, 1000)
    frame = FrameSpec(size, color, tuple(float(m) for m in mean), tuple(float(s) for s in std), pad_y)

    win = data.get("window", {})
    if not isinstance(win, dict):
        raise _fail(root, "'window' must be an object")
    length, stride = KINDS[kind].default_window
    window = WindowSpec(
        length=_int(win.get("length", length), root, "window.length"),
        stride=_int(win.get("stride", stride), root, "window.stride"),
        min_frames=_int(win.get("min_frames", 1), root, "window.min_frames"),
    )
    if window.min_frames > window.length:
        raise _fail(root, f"'window.min_frames' ({window.min_frames}) exceeds 'window.length' ({window.length})")

    models_raw = _get(data, "models", dict, root)
    roles = KINDS[kind].roles
    missing = [r for r in roles if r not in models_raw]
    if missing:
        raise _fail(root, f"a {kind} bundle needs models {', '.join(roles)}; missing {', '.join(missing)}")
    models: dict[str, ModelEntry] = {}
    for role, raw in models_raw.items():
        where = f"models.{role}."
        if not isinstance(raw, dict):
            raise _fail(root, f"'models.{role}' must be an object")
        precision = str(raw.get("precision", "FP32")).upper()
        if precision not in PRECISIONS:
            raise _fail(root, f"'{where}precision' must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        variants = raw.get("variants", {})
        if not isinstance(variants, dict):
            raise _fail(root, f"'{where}variants' must be an object")
        for p in variants:
            if p.upper() not in PRECISIONS:
                raise _fail(root, f"'{where}variants' has unknown precision {p!r}")
        output = raw.get("output")
        if output is not None:
            output = _int(output, root, f"{where}output", 1, 10_000_000)
        shape = raw.get("input")
        if shape is not None and (
            not isinstance(shape, list)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
        ):
            raise _fail(root, f"'{where}input' must be a list of positive integers, got {shape!r}")
        models[role] = ModelEntry(
            file=_inside(root, raw.get("file"), f"{where}file"),
            precision=precision,
            output=output,
            input=shape,
            variants={p.upper(): _inside(root, f, f"{where}variants.{p}") for p, f in variants.items()},
            keras=_inside(root, raw["keras"], f"{where}keras") if raw.get("keras") else None,
        )
    head = models[KINDS[kind].score_role]
    if head.output is not None and head.output != len(labels):
        raise _fail(
            root,
            f"the model has {head.output} outputs but {len(labels)} labels are declared; "
            "fix 'labels' or re-export with the right label set",
        )
    problem = KINDS[kind].check_models(models)
    if problem:
        raise _fail(root, problem)
    prov = data.get("provenance", {})
    if not isinstance(prov, dict):
        raise _fail(root, "'provenance' must be an object")
    return Bundle(root, name, kind, tuple(labels), frame, window, models, prov)


def write_manifest(bundle: Bundle) -> Path:
    """Validate ``bundle`` against its files and write its manifest atomically."""
    data = bundle.manifest()
    parse_manifest(json.loads(json.dumps(data)), bundle.path)
    return write_json(bundle.path / "manifest.json", data)


@contextlib.contextmanager
def staging(
    out: str | os.PathLike, *, inputs: Iterable[str | os.PathLike | None] = (), force: bool = False, what: str = "--out"
) -> Iterator[Path]:
    """Yield a temporary sibling directory that replaces the bundle ``out`` only on success.

    ``out`` passes the output policy first (:func:`fer_edge.core.outputs.check_output`): an existing
    folder is replaced only if it is a bundle (or empty) or ``force``; never an input.
    A killed or failed export never leaves a half bundle at ``out``.

    Example:
        >>> with staging("runs/my_bundle", inputs=["model.keras"]) as tmp:  # doctest: +SKIP
        ...     (tmp / "frame.xml").write_text(...)
    """
    out = check_output(out, inputs=inputs, force=force, folder=True, what=what)
    with staging_dir(out) as tmp:
        yield tmp
