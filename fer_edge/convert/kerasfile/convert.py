"""Build an ``openvino.Model`` from a parsed Keras file with OpenVINO's opset API."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from fer_edge.convert.kerasfile.checks import check_weights, damaged
from fer_edge.convert.kerasfile.layers import CONVERTERS, Builder, Tensor, unsupported
from fer_edge.convert.kerasfile.reader import KerasFile, LayerSpec, Ref, read_keras_file
from fer_edge.core.errors import FerEdgeError, reason, shorten
from fer_edge.runtime.ovcompat import Model, opset


def _input(b: Builder, kf: KerasFile, ref: Ref) -> tuple[Any, Tensor]:
    spec = kf.layers[ref[0]]
    cfg = spec.config
    shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
    if not shape:
        raise FerEdgeError(f"cannot load Keras model {kf.path}: input '{spec.name}' has no shape")
    dtype = cfg.get("dtype", "float32")
    if dtype not in (None, "float32"):
        raise unsupported(spec, f"dtype {dtype}")
    param = b.op.parameter([-1 if d is None else int(d) for d in shape], np.float32, name=spec.name)
    param.output(0).get_tensor().set_names({spec.name})
    return param, Tensor(param.output(0))


def build_model(kf: KerasFile) -> Any:
    """The ``openvino.Model`` of a parsed file: one Parameter per input, one Result per output.

    Raises:
        UnsupportedLayer: for a layer class or option not in :data:`CONVERTERS`.
        FerEdgeError: weights that do not fit the config or the layer's input.
    """
    with damaged(kf.path):
        return _build(kf)


def _channels(t: Tensor) -> int | None:
    """The Keras channel (last) axis of ``t``, None when dynamic."""
    shape = t.out.get_partial_shape()
    dim = shape[1] if t.first else shape[shape.rank.get_length() - 1]
    return dim.get_length() if dim.is_static else None


def _convert(b: Builder, spec: LayerSpec, inputs: list[Tensor]) -> Tensor:
    convert = CONVERTERS.get(spec.class_name)
    if convert is None:
        raise unsupported(spec)
    if inputs:
        check_weights(spec, _channels(inputs[0]))
    try:
        return convert(b, spec, inputs)
    except RuntimeError as exc:  # OpenVINO's shape inference: it names its own nodes, not the layer
        raise FerEdgeError(
            f"layer '{shorten(spec.name, 60)}' ({spec.class_name}) does not fit its input: {reason(exc)}"
        ) from None


def _build(kf: KerasFile) -> Any:
    b = Builder(opset())
    tensors: dict[Ref, Tensor] = {}
    params = []
    for ref in kf.inputs:
        param, tensors[(ref[0], 0, 0)] = _input(b, kf, ref)
        params.append(param)
    # Keras writes layers in topological order; the passes only matter for hand-edited files.
    pending = [(spec, i) for spec in kf.layers.values() for i in range(len(spec.nodes))]
    while pending:
        left = []
        for spec, i in pending:
            refs = spec.nodes[i]
            if not all(r in tensors for r in refs):
                left.append((spec, i))
                continue
            inputs = [tensors[r] for r in refs]
            out = _convert(b, spec, inputs)
            if all(out is not x for x in inputs):  # an identity (Dropout) must not rename its input
                out.out.get_node().set_friendly_name(spec.name if i == 0 else f"{spec.name}_{i}")
            tensors[(spec.name, i, 0)] = out
        if len(left) == len(pending):
            missing = sorted({r[0] for s, i in left for r in s.nodes[i] if r not in tensors})
            raise FerEdgeError(
                f"cannot load Keras model {kf.path}: layers {', '.join(missing[:3])} are "
                "referenced but never computed (a nested model or a damaged config)"
            )
        pending = left
    results = []
    for ref in kf.outputs:
        if ref not in tensors:
            raise FerEdgeError(f"cannot load Keras model {kf.path}: output '{ref[0]}' is not computed")
        out = b.last(tensors[ref])
        out.get_tensor().set_names({ref[0]})
        results.append(b.op.result(out))
    return Model(results, params, kf.path.stem)


def convert_keras_file(path: str | os.PathLike) -> tuple[Any, KerasFile]:
    """Read a Keras model file and build its OpenVINO model, with neither TensorFlow nor Keras.

    Example:
        >>> model, kf = convert_keras_file("emotion_model.hdf5")  # doctest: +SKIP
        >>> kf.count_params()  # doctest: +SKIP
        58423
    """
    kf = read_keras_file(path)
    return build_model(kf), kf
