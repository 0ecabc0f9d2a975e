"""A plain OpenVINO IR or ONNX frame classifier, run as if it were a bundle.

``fer-edge demo --bundle model.xml --labels fer2013`` and ``fer-edge benchmark model.onnx
--labels ...`` take a model file that has no manifest: it is copied into a temporary ``frame``
bundle whose manifest is written from the model's input shape and the command line's labels and
normalisation. The temporary folder is removed when the command ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from fer_edge.core.errors import FerEdgeError, listing, reason

SUFFIXES = (".xml", ".onnx")


def is_plain_model(path: str | os.PathLike) -> bool:
    """True for an ``.xml`` / ``.onnx`` file (not a bundle directory)."""
    p = Path(path)
    return p.suffix.lower() in SUFFIXES and p.is_file()


def _inspect(path: Path) -> tuple[tuple[int, int, int], int | None, str]:
    """``((H, W, C), number of outputs or None, precision)`` of a one-input NHWC image model."""
    from fer_edge.runtime.engine import core

    try:
        model = core().read_model(str(path))
    except Exception as exc:  # noqa: BLE001 - a corrupt file is the user's to fix
        raise FerEdgeError(f"cannot read model {path}: {reason(exc)}") from None
    if len(model.inputs) != 1:
        raise FerEdgeError(
            f"{path} has {len(model.inputs)} inputs; a plain model must be a per-frame classifier "
            "with one (N, H, W, C) image input (wrap cascades with fer-edge export/optimize)"
        )
    shape = model.inputs[0].get_partial_shape()
    dims = [d.get_length() if d.is_static else None for d in shape]
    if len(dims) != 4 or None in dims[1:] or dims[3] not in (1, 3):
        hint = " (channels-first NCHW? the runtime feeds NHWC)" if len(dims) == 4 and dims[1] in (1, 3) else ""
        raise FerEdgeError(
            f"{path}: expected one image input (N, H, W, C) with fixed H, W and 1 or 3 channels, got {shape}{hint}"
        )
    last = model.outputs[0].get_partial_shape()[-1]
    # The variant label benchmark rows show: quantized IRs carry FakeQuantize, FP16 IRs f16 weights.
    kinds = {op.get_type_name() for op in model.get_ops()}
    f16 = any(
        op.get_type_name() == "Constant" and op.get_output_element_type(0).get_type_name() == "f16"
        for op in model.get_ops()
    )
    precision = "INT8" if "FakeQuantize" in kinds else "FP16" if f16 else "FP32"
    return (int(dims[1]), int(dims[2]), int(dims[3])), (last.get_length() if last.is_static else None), precision


@contextlib.contextmanager
def temporary_bundle(
    path: str | os.PathLike,
    labels: str | Sequence[str] | None,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    color: str | None = None,
) -> Iterator[Path]:
    """A temporary ``frame`` bundle around a plain IR/ONNX model; yields its folder.

    Args:
        path: ``model.xml`` (with its ``.bin``) or ``model.onnx``.
        labels: label-set name (``fer2013``) or list, one per model output.
        mean, std: what the runtime feeds is ``(x/255 - mean) / std`` (default 0 and 1).
        color: ``GRAY``/``RGB``/``BGR`` (default GRAY for 1 channel, else RGB).

    Raises:
        FerEdgeError: no labels, labels that do not match the outputs, an input that is not an image.

    Example:
        >>> with temporary_bundle("frame.xml", "fer2013", mean=[0.5], std=[0.5]) as b:  # doctest: +SKIP
        ...     load_bundle(b).kind
        'frame'
    """
    from fer_edge.core.labels import get_labels
    from fer_edge.runtime.bundle import Bundle, FrameSpec, ModelEntry, WindowSpec, provenance, write_manifest

    path = Path(path)
    if not labels:
        raise FerEdgeError(
            f"{path} is a plain model without a manifest: pass its class names with "
            "--labels (a set such as fer2013, or happy,sad,...)"
        )
    names = get_labels(labels)
    files = [path] + ([path.with_suffix(".bin")] if path.suffix.lower() == ".xml" else [])
    for f in files:
        if not f.is_file():
            raise FerEdgeError(f"{f} not found: an OpenVINO IR needs its .xml and .bin side by side")
    (h, w, c), outputs, precision = _inspect(path)
    if outputs not in (None, len(names)):
        raise FerEdgeError(
            f"{path} gives {outputs} scores but {len(names)} labels were given "
            f"({listing(names)}); pass the matching --labels"
        )
    color = (color or ("GRAY" if c == 1 else "RGB")).upper()
    mean = tuple(float(m) for m in (mean if mean else [0.0] * c))
    std = tuple(float(s) for s in (std if std else [1.0] * c))
    if len(mean) == 1 and c == 3:
        mean, std = mean * 3, std * (3 if len(std) == 1 else 1)
    if len(mean) != c or len(std) != c:
        raise FerEdgeError(f"--mean/--std need 1 or {c} value(s) for {path}'s {c}-channel input")
    try:
        tmp = Path(tempfile.mkdtemp(prefix="fer-edge-model-"))
    except OSError as exc:
        raise FerEdgeError(
            f"cannot make a temporary folder in {tempfile.gettempdir()} ({exc.strerror}); "
            "point TMPDIR at a writable one"
        ) from None
    try:
        for f in files:
            try:
                shutil.copy2(f, tmp / f.name)
            except OSError as exc:  # a full temporary folder: one line naming it, not a traceback
                raise FerEdgeError(
                    f"cannot copy {f} into the temporary folder {tmp.parent} ({exc.strerror}); "
                    "free some space there or point TMPDIR at a larger disk"
                ) from None
        entry = ModelEntry(path.name, precision, output=len(names), input=[h, w, c])
        write_manifest(
            Bundle(
                tmp,
                path.stem,
                "frame",
                tuple(names),
                FrameSpec((h, w), color, mean, std),
                WindowSpec(length=5, stride=1, min_frames=1),
                {"frame": entry},
                provenance(str(path), wrapped="plain model, temporary bundle"),
            )
        )
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
