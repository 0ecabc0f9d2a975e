"""OpenVINO IR -> ONNX without TensorFlow or the ``onnx`` package: what the Neural Compute Stick reads.

OpenVINO 2021.4 (the last MYRIAD release for a Raspberry Pi) cannot read current IR (v11), and
current OpenVINO cannot write IR v10, so the stick's format is ONNX. Every bundle has IR, so
the ONNX is written from it: exact (the same weights, op for op; max |diff| ~1e-6 at f32)
for bundles made by the TensorFlow-free importer too, which keep no Keras file. Opset 13 by
default (2021.4 warns at 15 and falls back to 13); a static batch (``batch=1``) for the stick,
whose plugin needs static shapes.

Example:
    >>> path = to_onnx("bundle/frame.xml", "out/frame.onnx", opset=13, batch=1)  # doctest: +SKIP
    >>> onnx_parity("bundle/frame.xml", path).max_abs_diff < 1e-4  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.convert.toonnx.graph import MAX_OPSET, MIN_OPSET, UnsupportedOp, graph_from_model
from fer_edge.convert.toonnx.proto import model_bytes
from fer_edge.core.atomic import write_bytes
from fer_edge.core.errors import FerEdgeError

__all__ = ["DEFAULT_OPSET", "MAX_OPSET", "MIN_OPSET", "UnsupportedOp", "onnx_parity", "random_inputs", "to_onnx"]

DEFAULT_OPSET = 13  # read without a warning by OpenVINO 2021.4 (MYRIAD), 2022.3 and current releases


def check_opset(opset: int) -> int:
    if not MIN_OPSET <= int(opset) <= MAX_OPSET:
        raise FerEdgeError(
            f"--opset {opset} is not supported: choose {MIN_OPSET}-{MAX_OPSET} "
            f"({DEFAULT_OPSET} for OpenVINO 2021.4 and the Neural Compute Stick 2)"
        )
    return int(opset)


def _read(model: Any) -> Any:
    from fer_edge.runtime.engine import read_checked

    return read_checked(model) if isinstance(model, (str, os.PathLike)) else model.clone()


def _fold_constants(ov_model: Any) -> None:
    """OpenVINO's own constant folding, in place (what the plugins do when they compile)."""
    try:
        from openvino.passes import ConstantFolding, Manager
    except ImportError:  # 2022.x
        from openvino.runtime.passes import ConstantFolding, Manager
    manager = Manager()
    manager.register_pass(ConstantFolding())
    manager.run_passes(ov_model)


def to_onnx(model: Any, path: str | os.PathLike, *, opset: int = DEFAULT_OPSET, batch: int | None = None) -> Path:
    """Write an IR file (or ``openvino.Model``) as ONNX at ``path``, atomically.

    Args:
        opset: ONNX default-domain opset, :data:`MIN_OPSET`-:data:`MAX_OPSET`.
        batch: a static batch size for every input's first dimension (the stick needs one);
            None keeps it dynamic.

    Raises:
        FerEdgeError: an opset out of range, a bad batch, an unreadable model, or an operation
            with no ONNX form (:class:`UnsupportedOp`).
    """
    from fer_edge import __version__

    opset = check_opset(opset)
    ov_model = _read(model)
    if batch is not None:
        if int(batch) < 1:
            raise FerEdgeError(f"--batch {batch}: give a batch size of 1 or more (1 for the Neural Compute Stick 2)")
        try:
            ov_model.reshape({p: [int(batch), *list(p.get_partial_shape())[1:]] for p in ov_model.inputs})
        except Exception as exc:  # noqa: BLE001 - a model whose graph fixes its batch
            why = str(exc).strip().splitlines()[-1][:200]
            raise FerEdgeError(f"cannot fix the batch of {model} to {batch}: {why}") from None
    _fold_constants(ov_model)  # with a static batch, shape arithmetic (ShapeOf, Broadcast...) becomes constants
    graph = graph_from_model(ov_model, opset)
    return write_bytes(Path(path), model_bytes(graph, opset, version=__version__))


def random_inputs(model: Any, count: int, seed: int = 0) -> list[np.ndarray]:
    """Seeded inputs for ``model``'s ports: 0/1 masks for rank-2 inputs, 0..255 pixels for images, 0..1 else."""
    rng = np.random.default_rng(seed)
    arrays = []
    for port in model.inputs:
        dims = list(port.get_partial_shape())
        shape = [count if d.is_dynamic else d.get_length() for d in dims[:1]] + [d.get_length() for d in dims[1:]]
        if len(shape) == 2:
            arrays.append((rng.random(shape) > 0.2).astype(np.float32))
        else:
            arrays.append(rng.uniform(0, 255 if len(shape) == 4 else 1, shape).astype(np.float32))
    return arrays


class Agreement:
    """ONNX vs its IR at f32 on the same inputs (the fields :class:`fer_edge.convert.parity.Parity` has)."""

    def __init__(self, max_abs_diff: float, argmax_agreement: float, samples: int) -> None:
        self.max_abs_diff, self.argmax_agreement, self.samples = max_abs_diff, argmax_agreement, samples

    def as_dict(self) -> dict[str, float]:
        return {"max_abs_diff": self.max_abs_diff, "argmax_agreement": self.argmax_agreement, "samples": self.samples}


def onnx_parity(
    ir: str | os.PathLike, onnx: str | os.PathLike, inputs: Sequence[np.ndarray] | None = None
) -> Agreement:
    """The ONNX file against the IR it came from, both compiled by OpenVINO at f32 (CPU).

    ``inputs`` default to 8 :func:`random_inputs`; with a static batch, the ONNX runs them in
    slices of that batch.
    """
    from fer_edge.runtime.engine import compile_f32, read_checked

    got_model, ir_model = read_checked(onnx), read_checked(ir)
    if inputs is None:
        inputs = random_inputs(ir_model, 8)
    feed = [np.ascontiguousarray(x, dtype=np.float32) for x in inputs]
    want = np.asarray(compile_f32(ir_model)(feed)[0])
    first = got_model.inputs[0].get_partial_shape()[0]
    step = first.get_length() if first.is_static else len(feed[0])
    compiled = compile_f32(got_model)
    parts = []
    for start in range(0, len(feed[0]) - step + 1, step):
        parts.append(np.asarray(compiled([x[start : start + step] for x in feed])[0]))
    got = np.concatenate(parts)
    want = want[: len(got)]
    return Agreement(
        max_abs_diff=float(np.abs(got - want).max()),
        argmax_agreement=float((got.argmax(-1) == want.argmax(-1)).mean()),
        samples=int(len(got)),
    )
