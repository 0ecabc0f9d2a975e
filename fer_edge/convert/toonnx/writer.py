"""The state of one IR -> ONNX conversion: tensor names, constant values, the graph being filled."""

from __future__ import annotations

from typing import Any

import numpy as np

from fer_edge.convert.toonnx.proto import DTYPES, Graph, Node, tensor
from fer_edge.core.errors import FerEdgeError

__all__ = ["MAX_OPSET", "MIN_OPSET", "OV_TYPES", "UnsupportedOp", "Writer", "dims", "elem"]

MIN_OPSET, MAX_OPSET = 11, 17  # Pad/Clip take inputs from 11; ReduceMean keeps its axes attribute to 17

# OpenVINO element type names -> numpy
OV_TYPES = {
    "f32": np.float32,
    "f16": np.float16,
    "i64": np.int64,
    "i32": np.int32,
    "u8": np.uint8,
    "i8": np.int8,
    "boolean": np.bool_,
}


class UnsupportedOp(FerEdgeError):
    """An OpenVINO operation this writer has no ONNX form for."""


def elem(output: Any) -> int:
    name = output.get_element_type().get_type_name()
    if name not in OV_TYPES:
        raise UnsupportedOp(f"ONNX export: tensor type {name} of '{output.get_node().get_friendly_name()}'")
    return DTYPES[np.dtype(OV_TYPES[name])]


def dims(output: Any, prefix: str) -> list[int | str]:
    shape = output.get_partial_shape()
    if shape.rank.is_dynamic:
        raise UnsupportedOp(f"ONNX export: '{output.get_node().get_friendly_name()}' has a dynamic rank")
    return [d.get_length() if d.is_static else ("batch" if i == 0 else f"{prefix}_{i}") for i, d in enumerate(shape)]


class Writer:
    """State of one conversion: tensor names, constant values, the graph being filled."""

    def __init__(self, model: Any, opset: int) -> None:
        self.opset = opset
        self.graph = Graph(model.get_friendly_name() or "model")
        self.names: dict[tuple[str, int], str] = {}
        self.consts: dict[tuple[str, int], np.ndarray] = {}
        self.used: set[str] = set()

    # --- names and constants
    def unique(self, base: str) -> str:
        name, i = base or "t", 1
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        self.used.add(name)
        return name

    @staticmethod
    def key(output: Any) -> tuple[str, int]:
        return output.get_node().get_name(), output.get_index()

    def const(self, output: Any) -> np.ndarray | None:
        """The value of an input's producer when it is a constant (folded through Convert)."""
        return self.consts.get(self.key(output))

    def need_const(self, node: Any, i: int, what: str) -> np.ndarray:
        value = self.const(node.input_value(i))
        if value is None:
            kind, name = node.get_type_name(), node.get_friendly_name()
            raise UnsupportedOp(f"ONNX export: {kind} '{name}' with a computed {what}")
        return value

    def initializer(self, value: np.ndarray, base: str) -> str:
        name = self.unique(base)
        self.graph.initializers.append(tensor(name, np.asarray(value)))
        return name

    def ints(self, values: Any, base: str = "shape") -> str:
        return self.initializer(np.asarray(values, np.int64).reshape(-1), base)

    def scalar(self, value: float, base: str = "c") -> str:
        return self.initializer(np.asarray(value, np.float32), base)

    def input(self, node: Any, i: int) -> str:
        output = node.input_value(i)
        key = self.key(output)
        if key not in self.names:  # a constant used as a tensor: an initializer on first use
            self.names[key] = self.initializer(self.consts[key], output.get_node().get_friendly_name())
        return self.names[key]

    # --- nodes
    def tmp(self, base: str) -> str:
        return self.unique(base)

    def add(self, op_type: str, inputs: list[str], outputs: list[str] | None = None, **attrs: Any) -> str:
        outputs = outputs or [self.tmp(op_type.lower())]
        name = self.unique(f"{op_type}_{len(self.graph.nodes)}")
        self.graph.nodes.append(Node(op_type, inputs, outputs, name, attrs))
        return outputs[0]

    def out(self, node: Any, port: int = 0) -> str:
        """The ONNX name of ``node``'s output ``port``, registered for its consumers."""
        name = self.unique(node.get_friendly_name() if port == 0 else f"{node.get_friendly_name()}:{port}")
        self.names[(node.get_name(), port)] = name
        return name

    def emit(self, node: Any, op_type: str, inputs: list[str], **attrs: Any) -> None:
        self.add(op_type, inputs, [self.out(node)], **attrs)

    def axes(self, op_type: str, node: Any, data: str, axes: Any, input_from: int, **attrs: Any) -> None:
        """Ops whose axes moved from an attribute to an input at opset ``input_from``."""
        axes = [int(a) for a in np.asarray(axes).reshape(-1)]
        if self.opset >= input_from:
            self.emit(node, op_type, [data, self.ints(axes, "axes")], **attrs)
        else:
            self.emit(node, op_type, [data], axes=axes, **attrs)
