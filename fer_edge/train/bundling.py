"""Trained Keras models -> bundles the runtime and the optimizer accept at once.

Every model is written twice: the ``.keras`` file (``ModelEntry.keras``, for further
training and optimization) and OpenVINO IR FP32 (``ModelEntry.file``, what the runtime runs),
with the IR's parity against Keras on real inputs recorded in the provenance.

All fer-edge image and clip models take RGB pixels in ``[0, 255]`` and normalise inside. The
runtime feeds ``(x / 255 - mean) / std`` (see :mod:`fer_edge.runtime.bundle`), so the manifest says
``mean 0, std 1/255``: the model receives the raw 0..255 values it was trained on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.runtime.bundle import Bundle, FrameSpec, ModelEntry, WindowSpec, provenance, staging, write_manifest
from fer_edge.runtime.kinds import KINDS

log = logging.getLogger(__name__)

RAW_PIXELS_STD = 1.0 / 255.0


def raw_pixels_frame(size: int, pad_y: int = 10) -> FrameSpec:
    """The frame spec of a model taking RGB 0..255 crops of ``size x size``.

    Example:
        >>> raw_pixels_frame(48).std[0] * 255
        1.0
    """
    return FrameSpec((size, size), "RGB", (0.0, 0.0, 0.0), (RAW_PIXELS_STD,) * 3, pad_y)


def export_model(model: Any, folder: Path, role: str, inputs: Sequence[np.ndarray]) -> tuple[ModelEntry, dict]:
    """Save ``<role>.keras`` and ``<role>.xml/.bin`` (FP32) in ``folder``; returns entry + parity.

    Example:
        >>> entry, parity = export_model(model, tmp, "temporal", [x, mask])  # doctest: +SKIP
    """
    from fer_edge.convert.keras import to_openvino
    from fer_edge.convert.parity import check_parity
    from fer_edge.runtime.ovcompat import save_ir

    model.save(folder / f"{role}.keras")
    xml = save_ir(to_openvino(model), folder / f"{role}.xml")
    parity = check_parity(model, xml, list(inputs)).as_dict()
    if not parity["max_abs_diff"] <= 1e-3:  # NaN fails too
        log.warning("%s: OpenVINO differs from Keras by %.2g", role, parity["max_abs_diff"])
    shape = [int(d) for d in model.inputs[0].shape[1:]]
    output = int(model.outputs[0].shape[-1])
    entry = ModelEntry(f"{role}.xml", "FP32", output=output, input=shape, keras=f"{role}.keras")
    return entry, parity


def _write(bundle: Bundle) -> Bundle:
    write_manifest(bundle)
    return bundle


def save_cascade_bundle(
    out: str | os.PathLike,
    *,
    spatial: Any,
    temporal: Any,
    labels: Sequence[str],
    name: str,
    window: WindowSpec,
    sample_frames: np.ndarray,
    sample_features: tuple[np.ndarray, np.ndarray],
    pad_y: int = 10,
    metrics: dict | None = None,
    source: str = "fer-edge train temporal",
    **extra: Any,
) -> Bundle:
    """Write a cascade bundle: ``spatial`` (the feature extractor) + ``temporal`` (the head).

    Args:
        out: bundle directory (replaced atomically).
        spatial: Keras model frames ``(N, H, W, 3)`` RGB 0..255 -> features ``(N, F)``.
        temporal: Keras model ``(features (B, T, F), mask (B, T))`` -> scores.
        labels: class names in output order.
        name: bundle name.
        window: runtime window (``length`` = the training T).
        sample_frames: a few real frames for the spatial parity check.
        sample_features: ``(features, mask)`` of a few real clips for the temporal parity check.
        pad_y: vertical crop extension the frames were made with.
        metrics: test accuracy, fold accuracies, epochs ... (into the provenance).
        source: what made it.
        **extra: more provenance fields (``data``, ``recipe`` ...).

    Example:
        >>> save_cascade_bundle("runs/b", spatial=ext, temporal=head, labels=THESIS, name="x",
        ...                     window=WindowSpec(100, 5, 16), sample_frames=f,
        ...                     sample_features=(x, m))  # doctest: +SKIP
    """
    size = int(spatial.inputs[0].shape[1])
    with staging(out) as tmp:
        s_entry, s_par = export_model(spatial, tmp, "spatial", [sample_frames.astype(np.float32)])
        feats, mask = sample_features
        t_entry, t_par = export_model(temporal, tmp, "temporal", [feats.astype(np.float32), mask.astype(np.float32)])
        prov = provenance(source, metrics=metrics or {}, parity={"spatial": s_par, "temporal": t_par}, **extra)
        _write(
            Bundle(
                tmp,
                name,
                "cascade",
                tuple(labels),
                raw_pixels_frame(size, pad_y),
                window,
                {"spatial": s_entry, "temporal": t_entry},
                prov,
            )
        )
    from fer_edge.runtime.bundle import load_bundle

    return load_bundle(out)


def save_single_bundle(
    out: str | os.PathLike,
    *,
    kind: str,
    model: Any,
    labels: Sequence[str],
    name: str,
    window: WindowSpec,
    samples: np.ndarray,
    pad_y: int = 10,
    metrics: dict | None = None,
    source: str = "fer-edge train",
    **extra: Any,
) -> Bundle:
    """Write a ``frame`` (per-frame classifier) or ``clip`` (C3D/ConvLSTM) bundle.

    Example:
        >>> save_single_bundle("runs/c3d", kind="clip", model=m, labels=THESIS, name="c3d",
        ...                    window=WindowSpec(100, 10, 16), samples=clips)  # doctest: +SKIP
    """
    single = [k for k, spec in KINDS.items() if len(spec.roles) == 1]
    if kind not in single:
        raise ValueError(f"kind must be one of {', '.join(single)} (one model), got {kind}")
    (role,) = KINDS[kind].roles
    size = int(model.inputs[0].shape[-2])
    with staging(out) as tmp:
        entry, par = export_model(model, tmp, role, [samples.astype(np.float32)])
        prov = provenance(source, metrics=metrics or {}, parity={role: par}, **extra)
        _write(Bundle(tmp, name, kind, tuple(labels), raw_pixels_frame(size, pad_y), window, {role: entry}, prov))
    from fer_edge.runtime.bundle import load_bundle

    return load_bundle(Path(out))
