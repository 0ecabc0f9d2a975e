"""An ``openvino.Model`` (a bundle's FP32 IR) written as an ONNX graph, op by op.

Every bundle has IR, whatever made it (the TensorFlow-free Keras importer, training, a plain
model), so ONNX comes from the IR: no TensorFlow, no ``onnx`` package. The operations covered
are those fer-edge's frame, spatial and 1D-CNN temporal models compile to; anything else raises
:class:`UnsupportedOp` naming the operation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from fer_edge.convert.toonnx.proto import DTYPES, Graph, value_info
from fer_edge.convert.toonnx.writer import MAX_OPSET, MIN_OPSET, OV_TYPES, UnsupportedOp, Writer, dims, elem

__all__ = ["MAX_OPSET", "MIN_OPSET", "UnsupportedOp", "graph_from_model"]


Handler = Callable[[Writer, Any], None]

_BINARY = {
    "Add": "Add",
    "Subtract": "Sub",
    "Multiply": "Mul",
    "Divide": "Div",
    "Maximum": "Max",
    "Minimum": "Min",
    "Power": "Pow",
    "Greater": "Greater",
    "Less": "Less",
    "Equal": "Equal",
    "GreaterEqual": "GreaterOrEqual",
    "LessEqual": "LessOrEqual",
    "LogicalAnd": "And",
    "LogicalOr": "Or",
}
_UNARY = {
    "Relu": "Relu",
    "Sigmoid": "Sigmoid",
    "Tanh": "Tanh",
    "Exp": "Exp",
    "Log": "Log",
    "Sqrt": "Sqrt",
    "Abs": "Abs",
    "Negative": "Neg",
    "Floor": "Floor",
    "Ceiling": "Ceil",
    "Erf": "Erf",
    "SoftPlus": "Softplus",
    "LogicalNot": "Not",
}


def _conv(w: Writer, node: Any) -> None:
    a = node.get_attributes()
    weights = node.input_value(1)
    kernel = [int(d) for d in weights.get_partial_shape().to_shape()]
    inputs, group = [w.input(node, 0)], 1
    if node.get_type_name() == "GroupConvolution":  # (G, O/G, I/G, kh, kw) -> (O, I/G, kh, kw)
        group = kernel[0]
        shape = [kernel[0] * kernel[1], *kernel[2:]]
        value = w.const(weights)
        inputs.append(
            w.initializer(value.reshape(shape), "weights")
            if value is not None
            else w.add("Reshape", [w.input(node, 1), w.ints(shape)])
        )
        kernel = shape
    else:
        inputs.append(w.input(node, 1))
    w.emit(
        node,
        "Conv",
        inputs,
        kernel_shape=kernel[2:],
        strides=a["strides"],
        dilations=a["dilations"],
        pads=[*a["pads_begin"], *a["pads_end"]],
        group=group,
    )


def _pool(w: Writer, node: Any) -> None:
    a = node.get_attributes()
    if node.get_output_size() > 1 and node.output(1).get_target_inputs():
        raise UnsupportedOp(f"ONNX export: MaxPool '{node.get_friendly_name()}' whose indices are used")
    common = {"kernel_shape": a["kernel"], "strides": a["strides"], "pads": [*a["pads_begin"], *a["pads_end"]]}
    common["ceil_mode"] = int(a.get("rounding_type", "floor") == "ceil")
    if node.get_type_name() == "MaxPool":
        if any(d != 1 for d in a.get("dilations", [1])):
            common["dilations"] = a["dilations"]
        w.emit(node, "MaxPool", [w.input(node, 0)], **common)
    else:
        w.emit(node, "AveragePool", [w.input(node, 0)], count_include_pad=int(not a["exclude-pad"]), **common)


def _reduce(w: Writer, node: Any) -> None:
    kind = node.get_type_name()  # ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd
    keep = int(bool(node.get_attributes().get("keep_dims", False)))
    axes = w.need_const(node, 1, "axes")
    w.axes(kind, node, w.input(node, 0), axes, 13 if kind == "ReduceSum" else 18, keepdims=keep)


def _softmax(w: Writer, node: Any) -> None:
    axis = int(node.get_attributes()["axis"])
    rank = node.get_output_partial_shape(0).rank.get_length()
    if w.opset < 13 and axis % rank != rank - 1:
        raise UnsupportedOp(f"ONNX export: {node.get_type_name()} over axis {axis} of {rank} needs --opset 13 or later")
    w.emit(node, "LogSoftmax" if node.get_type_name() == "LogSoftmax" else "Softmax", [w.input(node, 0)], axis=axis)


def _matmul(w: Writer, node: Any) -> None:
    a = node.get_attributes()
    names = []
    for i, flag in ((0, a.get("transpose_a", False)), (1, a.get("transpose_b", False))):
        rank = node.input_value(i).get_partial_shape().rank.get_length()
        value = w.const(node.input_value(i))
        if not flag:
            names.append(w.input(node, i))
        elif value is not None:
            names.append(w.initializer(np.swapaxes(value, -1, -2), "weights"))
        else:
            perm = [*range(rank - 2), rank - 1, rank - 2]
            names.append(w.add("Transpose", [w.input(node, i)], perm=perm))
    w.emit(node, "MatMul", names)


def _transpose(w: Writer, node: Any) -> None:
    perm = [int(p) for p in w.need_const(node, 1, "order").reshape(-1)]
    rank = node.get_output_partial_shape(0).rank.get_length()
    w.emit(node, "Transpose", [w.input(node, 0)], perm=perm or list(range(rank - 1, -1, -1)))


def _reshape(w: Writer, node: Any) -> None:
    shape = w.need_const(node, 1, "shape").reshape(-1)
    if not node.get_attributes().get("special_zero", False) and (shape == 0).any():
        raise UnsupportedOp(f"ONNX export: Reshape '{node.get_friendly_name()}' to a zero-sized dimension")
    w.emit(node, "Reshape", [w.input(node, 0), w.ints(shape)])


def _squeeze(w: Writer, node: Any) -> None:
    kind = node.get_type_name()
    if node.get_input_size() < 2:  # Squeeze without axes: every 1
        w.emit(node, kind, [w.input(node, 0)])
        return
    w.axes(kind, node, w.input(node, 0), w.need_const(node, 1, "axes"), 13)


def _gather(w: Writer, node: Any) -> None:
    if int(node.get_attributes().get("batch_dims", 0)) != 0:
        raise UnsupportedOp(f"ONNX export: Gather '{node.get_friendly_name()}' with batch_dims")
    axis = int(w.need_const(node, 2, "axis").reshape(-1)[0])
    indices = w.const(node.input_value(1))
    index = w.ints(indices, "indices") if indices is not None else w.input(node, 1)
    if indices is not None and indices.ndim == 0:
        index = w.initializer(np.asarray(indices, np.int64), "index")
    w.emit(node, "Gather", [w.input(node, 0), index], axis=axis)


def _pad(w: Writer, node: Any) -> None:
    mode = node.get_attributes().get("pad_mode", "constant")
    if mode not in ("constant", "reflect", "edge"):
        raise UnsupportedOp(f"ONNX export: Pad '{node.get_friendly_name()}' mode {mode}")
    pads = [*w.need_const(node, 1, "padding").reshape(-1), *w.need_const(node, 2, "padding").reshape(-1)]
    inputs = [w.input(node, 0), w.ints(pads, "pads")]
    if mode == "constant" and node.get_input_size() > 3:
        inputs.append(w.input(node, 3))
    w.emit(node, "Pad", inputs, mode=mode)


def _clamp(w: Writer, node: Any) -> None:
    a = node.get_attributes()
    lo, hi = w.scalar(a["min"], "min"), w.scalar(a["max"], "max")
    w.emit(node, "Clip", [w.input(node, 0), lo, hi])


def _prelu(w: Writer, node: Any) -> None:
    slope = w.need_const(node, 1, "slope").astype(np.float32)
    rank = node.get_output_partial_shape(0).rank.get_length()
    if slope.size > 1 and rank > 2:  # OpenVINO: along the channel axis (1); ONNX broadcasts from the last
        slope = slope.reshape(-1, *[1] * (rank - 2))
    w.emit(node, "PRelu", [w.input(node, 0), w.initializer(slope, "slope")])


def _gated(w: Writer, node: Any) -> None:
    """Swish, HSwish, Mish, HSigmoid and Gelu from ONNX 11 operations."""
    kind, x = node.get_type_name(), w.input(node, 0)
    if kind == "Swish":
        beta = w.input(node, 1) if node.get_input_size() > 1 else None
        gate = w.add("Sigmoid", [w.add("Mul", [x, beta]) if beta else x])
    elif kind in ("HSwish", "HSigmoid"):
        gate = w.add("HardSigmoid", [x], alpha=1 / 6, beta=0.5)
        if kind == "HSigmoid":
            w.emit(node, "Identity", [gate])
            return
    elif kind == "Mish":
        gate = w.add("Tanh", [w.add("Softplus", [x])])
    else:  # Gelu
        if node.get_attributes().get("approximation_mode", "erf").lower() != "erf":
            raise UnsupportedOp(f"ONNX export: Gelu '{node.get_friendly_name()}' with the tanh approximation")
        erf = w.add("Erf", [w.add("Mul", [x, w.scalar(1 / math.sqrt(2))])])
        gate = w.add("Mul", [w.add("Add", [erf, w.scalar(1.0)]), w.scalar(0.5)])
    w.emit(node, "Mul", [x, gate])


def _shape_of(w: Writer, node: Any) -> None:
    target = node.get_attributes().get("output_type", "i64")
    shape = w.add("Shape", [w.input(node, 0)])
    if target == "i64":
        w.emit(node, "Identity", [shape])
    else:
        w.emit(node, "Cast", [shape], to=DTYPES[np.dtype(OV_TYPES[target])])


def _broadcast(w: Writer, node: Any) -> None:
    mode = node.get_attributes().get("mode", "numpy")
    if mode not in ("numpy", "bidirectional"):
        raise UnsupportedOp(f"ONNX export: Broadcast '{node.get_friendly_name()}' in {mode} mode")
    shape = w.const(node.input_value(1))
    target = w.ints(shape) if shape is not None else w.add("Cast", [w.input(node, 1)], to=DTYPES[np.dtype(np.int64)])
    w.emit(node, "Expand", [w.input(node, 0), target])  # numpy broadcasting to the shape, as ONNX's Expand


def _reverse_sequence(w: Writer, node: Any) -> None:
    a = node.get_attributes()
    lengths = w.const(node.input_value(1))
    lens = w.ints(lengths) if lengths is not None else w.add("Cast", [w.input(node, 1)], to=DTYPES[np.dtype(np.int64)])
    w.emit(
        node, "ReverseSequence", [w.input(node, 0), lens], batch_axis=int(a["batch_axis"]), time_axis=int(a["seq_axis"])
    )


def _convert(w: Writer, node: Any) -> None:
    target = node.get_attributes()["destination_type"]
    if target not in OV_TYPES:
        raise UnsupportedOp(f"ONNX export: Convert '{node.get_friendly_name()}' to {target}")
    value = w.const(node.input_value(0))
    if value is not None:  # FP16-compressed weights: fold into the constant
        w.consts[(node.get_name(), 0)] = value.astype(OV_TYPES[target])
        return
    w.emit(node, "Cast", [w.input(node, 0)], to=DTYPES[np.dtype(OV_TYPES[target])])


HANDLERS: dict[str, Handler] = {
    **{k: (lambda op: lambda w, n: w.emit(n, op, [w.input(n, 0), w.input(n, 1)]))(v) for k, v in _BINARY.items()},
    **{k: (lambda op: lambda w, n: w.emit(n, op, [w.input(n, 0)]))(v) for k, v in _UNARY.items()},
    "Convolution": _conv,
    "GroupConvolution": _conv,
    "MaxPool": _pool,
    "AvgPool": _pool,
    **dict.fromkeys(("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"), _reduce),
    "Softmax": _softmax,
    "LogSoftmax": _softmax,
    "MatMul": _matmul,
    "Transpose": _transpose,
    "Reshape": _reshape,
    "Squeeze": _squeeze,
    "Unsqueeze": _squeeze,
    "Concat": lambda w, n: w.emit(
        n, "Concat", [w.input(n, i) for i in range(n.get_input_size())], axis=int(n.get_attributes()["axis"])
    ),
    "Gather": _gather,
    "Pad": _pad,
    "Clamp": _clamp,
    "PRelu": _prelu,
    "Elu": lambda w, n: w.emit(n, "Elu", [w.input(n, 0)], alpha=float(n.get_attributes()["alpha"])),
    "Selu": lambda w, n: w.emit(
        n,
        "Selu",
        [w.input(n, 0)],
        alpha=float(w.need_const(n, 1, "alpha").reshape(-1)[0]),
        gamma=float(w.need_const(n, 2, "lambda").reshape(-1)[0]),
    ),
    "Select": lambda w, n: w.emit(n, "Where", [w.input(n, 0), w.input(n, 1), w.input(n, 2)]),
    **dict.fromkeys(("Swish", "HSwish", "HSigmoid", "Mish", "Gelu"), _gated),
    "Convert": _convert,
    "ShapeOf": _shape_of,
    "Broadcast": _broadcast,
    "ReverseSequence": _reverse_sequence,
}


def graph_from_model(model: Any, opset: int) -> Graph:
    """The ONNX graph of ``model`` (inputs, outputs and tensor names kept) at ``opset``.

    Raises:
        UnsupportedOp: an operation (or an option of one) with no ONNX form here.
    """
    w = Writer(model, opset)
    for port in [*model.inputs, *model.outputs]:  # the model's own names, reserved before any other
        if port.get_names():
            w.used.add(port.get_any_name())
    for param in model.get_parameters():
        port = param.output(0)
        name = port.get_any_name() if port.get_names() else w.unique(param.get_friendly_name())
        w.names[w.key(port)] = name
        w.graph.inputs.append(value_info(name, elem(port), dims(port, name)))
    outputs: dict[str, bytes] = {}
    for node in model.get_ordered_ops():
        kind = node.get_type_name()
        if kind == "Constant":
            w.consts[(node.get_name(), 0)] = np.asarray(node.get_data()).copy()
        elif kind == "Parameter":
            pass  # declared above, in the model's input order (the runtime feeds inputs by position)
        elif kind == "Result":
            port = node.input_value(0)
            name = port.get_any_name() if port.get_names() else w.unique(node.get_friendly_name())
            source = w.input(node, 0)
            if source != name:
                w.add("Identity", [source], [name])
            outputs[node.get_name()] = value_info(name, elem(port), dims(port, name))
        elif kind in HANDLERS:
            HANDLERS[kind](w, node)
        else:
            raise UnsupportedOp(
                f"ONNX export: OpenVINO operation {kind} ('{node.get_friendly_name()}') has no ONNX form in "
                "fer-edge's writer (it covers frame models and 1D-CNN temporal heads, not recurrent layers)"
            )
    w.graph.outputs = [outputs[r.get_name()] for r in model.get_results()]
    return w.graph
