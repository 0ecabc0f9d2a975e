"""ONNX's protobuf messages written with the standard library: no ``onnx`` package needed.

Only what a model file needs: ``ModelProto`` with one graph of nodes, initializers and typed
inputs/outputs. Field numbers follow ``onnx/onnx.proto`` (proto2: repeated scalars unpacked).
The tests read every file back with the ``onnx`` package's checker and with OpenVINO.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Graph", "Node", "attr", "ir_version", "model_bytes", "tensor", "value_info"]

# TensorProto.DataType
DTYPES = {
    np.dtype(np.float32): 1,
    np.dtype(np.uint8): 2,
    np.dtype(np.int8): 3,
    np.dtype(np.int32): 6,
    np.dtype(np.int64): 7,
    np.dtype(np.bool_): 9,
    np.dtype(np.float16): 10,
}


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 as two's complement, ten bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _int(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(int(value))


def _bytes(number: int, value: bytes | str) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return _key(number, 2) + _varint(len(data)) + data


def _float(number: int, value: float) -> bytes:
    return _key(number, 5) + struct.pack("<f", float(value))


def tensor(name: str, array: np.ndarray) -> bytes:
    """A ``TensorProto`` holding ``array`` (little-endian raw data)."""
    array = np.asarray(array)
    if array.dtype not in DTYPES:
        raise TypeError(f"no ONNX type for {array.dtype}")
    body = b"".join(_int(1, d) for d in array.shape) + _int(2, DTYPES[array.dtype]) + _bytes(8, name)
    return body + _bytes(9, np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())


def attr(name: str, value: object) -> bytes:
    """An ``AttributeProto``: int, float, str, tensor (ndarray) or a list of ints/floats."""
    body = _bytes(1, name)
    if isinstance(value, (bool, int, np.integer)):
        return body + _int(3, int(value)) + _int(20, 2)
    if isinstance(value, (float, np.floating)):
        return body + _float(2, float(value)) + _int(20, 1)
    if isinstance(value, str):
        return body + _bytes(4, value) + _int(20, 3)
    if isinstance(value, np.ndarray):
        return body + _bytes(5, tensor(name, value)) + _int(20, 4)
    values = list(value)  # type: ignore[call-overload]
    if all(isinstance(v, (int, np.integer)) for v in values):
        return body + b"".join(_int(8, v) for v in values) + _int(20, 7)
    return body + b"".join(_float(7, v) for v in values) + _int(20, 6)


def value_info(name: str, elem_type: int, shape: Sequence[int | str]) -> bytes:
    """A ``ValueInfoProto``: a tensor's name, element type and shape (a str is a symbolic dim)."""
    dims = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in shape)
    tensor_type = _int(1, elem_type) + _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


@dataclass
class Node:
    """One ``NodeProto``."""

    op_type: str
    inputs: list[str]
    outputs: list[str]
    name: str = ""
    attrs: dict[str, object] = field(default_factory=dict)

    def encode(self) -> bytes:
        body = b"".join(_bytes(1, i) for i in self.inputs) + b"".join(_bytes(2, o) for o in self.outputs)
        body += _bytes(3, self.name) + _bytes(4, self.op_type)
        return body + b"".join(_bytes(5, attr(k, v)) for k, v in self.attrs.items())


@dataclass
class Graph:
    """A ``GraphProto`` under construction: nodes, initializers, inputs and outputs."""

    name: str
    nodes: list[Node] = field(default_factory=list)
    initializers: list[bytes] = field(default_factory=list)
    inputs: list[bytes] = field(default_factory=list)
    outputs: list[bytes] = field(default_factory=list)

    def encode(self) -> bytes:
        parts: Iterable[bytes] = (
            *(_bytes(1, n.encode()) for n in self.nodes),
            _bytes(2, self.name),
            *(_bytes(5, t) for t in self.initializers),
            *(_bytes(11, i) for i in self.inputs),
            *(_bytes(12, o) for o in self.outputs),
        )
        return b"".join(parts)


def ir_version(opset: int) -> int:
    """The oldest ONNX IR version that carries ``opset``: 7 up to 13 (ONNX 1.8, which OpenVINO 2021.4
    reads), 8 above (ONNX 1.10-1.13)."""
    return 7 if opset <= 13 else 8


def model_bytes(graph: Graph, opset: int, *, producer: str = "fer-edge", version: str = "") -> bytes:
    """A serialized ``ModelProto`` of ``graph`` in the default domain at ``opset``."""
    opset_id = _bytes(1, "") + _int(2, opset)
    return (
        _int(1, ir_version(opset))
        + _bytes(2, producer)
        + _bytes(3, version)
        + _bytes(7, graph.encode())
        + _bytes(8, opset_id)
    )
