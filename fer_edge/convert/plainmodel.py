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
        hint = (
            " (channels-first NCHW: make it a bundle with `fer-edge import onnx`, which transposes inside the IR)"
            if len(dims) == 4 and dims[1] in (1, 3)
            else ""
        )
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


def _layout(dims: list[int | None], path: Path) -> str:
    """``NHWC`` or ``NCHW`` from a 4-D image input's shape (channels are 1 or 3)."""
    if len(dims) == 4 and dims[3] in (1, 3) and dims[1] not in (1, 3):
        return "NHWC"
    if len(dims) == 4 and dims[1] in (1, 3):
        return "NCHW"
    raise FerEdgeError(f"{path}: expected one image input (N, C, H, W) or (N, H, W, C), 1 or 3 channels; got {dims}")


def _read(path: Path):
    from fer_edge.runtime.engine import core

    try:
        return core().read_model(str(path))
    except Exception as exc:  # noqa: BLE001 - a corrupt file is the user's to fix
        first = str(exc).strip().splitlines()
        raise FerEdgeError(f"cannot read model {path}: {first[0][:200] if first else exc}") from None


def _image_input(model, path: Path, size: tuple[int, int] | None) -> tuple[str, int, int, int]:
    """``(layout, H, W, C)`` of the model's one image input; a dynamic size is fixed to ``size`` (in place)."""
    if len(model.inputs) != 1:
        raise FerEdgeError(f"{path} has {len(model.inputs)} inputs; a frame classifier has one image input")
    dims = [d.get_length() if d.is_static else None for d in model.inputs[0].get_partial_shape()]
    layout = _layout(dims, path)
    c = dims[1] if layout == "NCHW" else dims[3]
    hw = dims[2:4] if layout == "NCHW" else dims[1:3]
    if None in hw and size is None:
        raise FerEdgeError(f"{path} has a dynamic input size {dims}: pass --size (e.g. 224)")
    if None not in hw and size is not None and tuple(size) != tuple(hw):
        raise FerEdgeError(f"{path} takes {hw[0]}x{hw[1]} faces, not {size[0]}x{size[1]}; fix --size")
    dynamic = None in hw
    hw = list(size) if dynamic else hw
    # A dynamic batch lets the runtime run every face of a frame in one call.
    shape = [-1, c, *hw] if layout == "NCHW" else [-1, *hw, c]
    try:
        model.reshape({model.inputs[0].get_any_name(): shape})
    except Exception:  # noqa: BLE001 - a graph with a hard-coded batch: keep it (the runtime copes)
        if dynamic:
            raise FerEdgeError(f"{path} cannot take {hw[0]}x{hw[1]} input; check --size") from None
    return layout, int(hw[0]), int(hw[1]), int(c)


def _nhwc(model):
    """The model with an NHWC input: OpenVINO pre-processing transposes inside the IR."""
    from openvino.preprocess import PrePostProcessor

    try:
        from openvino import Layout
    except ImportError:  # 2022.x
        from openvino.runtime import Layout

    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_layout(Layout("NHWC"))
    ppp.input().model().set_layout(Layout("NCHW"))
    return ppp.build()


def _ends_in_softmax(model) -> bool:
    node = model.get_results()[0].input_value(0).get_node()
    return node.get_type_name() in ("Softmax", "Sigmoid")


def _with_softmax(model):
    from fer_edge.runtime.ovcompat import opset

    try:
        from openvino import Model
    except ImportError:  # 2022.x
        from openvino.runtime import Model

    logits = model.get_results()[0].input_value(0)  # the node feeding the output, not the old Result
    return Model([opset().softmax(logits, -1)], model.get_parameters(), model.get_friendly_name())


def _normalisation(mean, std, c: int, path: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    from fer_edge.core.fileio import check_finite

    mean = tuple(check_finite(m, "--mean", lo=-1e6, hi=1e6) for m in (mean if mean else [0.0] * c))
    std = tuple(check_finite(s, "--std", lo=0, hi=1e6, lo_open=True) for s in (std if std else [1.0] * c))
    if len(mean) != c or len(std) != c:
        raise FerEdgeError(f"--mean/--std need {c} value(s) for {path}'s {c}-channel input")
    return mean, std


def _parity(xml: Path, path: Path, layout: str, probe, softmax: bool, size: tuple[int, int]) -> float:
    """Max |difference| between the bundle's IR and the ONNX file (run by OpenVINO) on ``probe``."""
    import numpy as np

    from fer_edge.runtime.engine import compile_f32

    reference = _read(path)
    _image_input(reference, path, size)
    got = np.asarray(next(iter(compile_f32(xml)(probe).values())))
    ref_in = probe.transpose(0, 3, 1, 2) if layout == "NCHW" else probe
    ref = np.asarray(next(iter(compile_f32(reference)(ref_in).values())))
    if softmax:
        e = np.exp(ref - ref.max(axis=-1, keepdims=True))
        ref = e / e.sum(axis=-1, keepdims=True)
    return float(np.abs(got - ref).max()) if got.shape == ref.shape else float("inf")


def import_onnx(
    path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    labels: str | Sequence[str],
    size: tuple[int, int] | None = None,
    color: str | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    softmax: bool | None = None,
    name: str | None = None,
    fp16: bool = True,
    window=None,
    force: bool = False,
):
    """A per-frame ONNX classifier (NCHW or NHWC) -> a ``frame`` bundle with OpenVINO IR FP32 (+ FP16).

    The runtime feeds NHWC: an NCHW model gets OpenVINO pre-processing that transposes, inside
    the IR. A dynamic input size is fixed to ``size``. A model whose last operation is not a
    softmax (most export logits) gets one appended, so scores are probabilities (``softmax``:
    True/False forces it either way). The IR is checked against the ONNX file on random faces.

    Args:
        labels: label set (``affectnet8``, ``hsemotion8``, ``rafdb``, ``fer2013`` ...) or a list,
            one per output, in the model's order.
        size: ``(H, W)`` the model takes (needed when its input size is dynamic).
        color: ``RGB`` (default for 3 channels), ``BGR`` or ``GRAY``.
        mean, std: the model is fed ``(x / 255 - mean) / std`` (ImageNet's for HSEmotion).

    Example:
        >>> import_onnx("enet_b0_8_best_afew.onnx", "runs/hse", labels="hsemotion8", size=(224, 224),
        ...             mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])  # doctest: +SKIP
    """
    import numpy as np

    from fer_edge.core.labels import get_labels
    from fer_edge.runtime.bundle import Bundle, FrameSpec, ModelEntry, WindowSpec, provenance, staging, write_manifest
    from fer_edge.runtime.ovcompat import save_ir

    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise FerEdgeError(f"{path}: not an .onnx file; export your model to ONNX first (or use import keras)")
    if not path.is_file():
        raise FerEdgeError(f"{path} not found; pass the downloaded .onnx file (see docs/own-model.md)")
    names = get_labels(labels)
    model = _read(path)
    layout, h, w, c = _image_input(model, path, size)
    color = (color or ("GRAY" if c == 1 else "RGB")).upper()
    if color not in ("RGB", "BGR", "GRAY") or (color == "GRAY") != (c == 1):
        raise FerEdgeError(f"{path} takes {c}-channel input, which does not fit colour {color}; use RGB, BGR or GRAY")
    mean, std = _normalisation(mean, std, c, path)
    outputs = model.outputs[0].get_partial_shape()[-1]
    if outputs.is_static and outputs.get_length() != len(names):
        raise FerEdgeError(
            f"{path} gives {outputs.get_length()} scores but {len(names)} labels were given "
            f"({', '.join(names)}); pass the matching --labels"
        )
    if layout == "NCHW":
        model = _nhwc(model)
    add = not _ends_in_softmax(model) if softmax is None else softmax
    if add:
        model = _with_softmax(model)
    pixels = np.random.default_rng(0).integers(0, 256, size=(4, h, w, c)).astype(np.float32)
    probe = ((pixels / 255.0 - np.array(mean, np.float32)) / np.array(std, np.float32)).astype(np.float32)
    with staging(out, inputs=[path], force=force) as tmp:
        save_ir(model, tmp / "frame.xml")
        diff = _parity(tmp / "frame.xml", path, layout, probe, add, (h, w))
        if not diff <= 1e-4:
            raise FerEdgeError(f"the imported model's scores differ from {path.name} by {diff:.2e}; report this model")
        variants = {}
        if fp16:
            save_ir(model, tmp / "frame-fp16.xml", fp16=True)
            variants["FP16"] = "frame-fp16.xml"
        bundle = Bundle(
            path=tmp,
            name=name or Path(out).name,
            kind="frame",
            labels=names,
            frame=FrameSpec((h, w), color, mean, std),
            window=window or WindowSpec(length=5, stride=1, min_frames=1),
            models={"frame": ModelEntry("frame.xml", "FP32", output=len(names), input=[h, w, c], variants=variants)},
            provenance=provenance(
                str(path),
                converter="openvino (onnx)",
                layout=layout,
                softmax_added=bool(add),
                parity={"max_abs_diff": diff, "samples": len(probe)},
            ),
        )
        write_manifest(bundle)
    bundle.path = Path(out)
    return bundle
