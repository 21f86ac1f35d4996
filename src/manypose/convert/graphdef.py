"""A minimal reader of TensorFlow frozen graphs (GraphDef protobuf), without TensorFlow.

It decodes the protobuf wire format directly, keeping what a frozen inference graph needs:
node names, ops, inputs and attributes, with constant tensors as numpy arrays.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .torch_pickle import CheckpointError

# TensorFlow DataType enum values -> numpy
TF_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8,
             9: np.int64, 10: np.bool_, 19: np.float16}


class GraphDefError(CheckpointError):
    """The file is not a readable TensorFlow GraphDef."""


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)

    @property
    def value(self) -> np.ndarray:
        """The tensor of a Const node."""
        return self.attrs["value"]

MAX_FILLED_ELEMENTS = 1 << 26  # a constant stored as one value, broadcast: at most 256 MB as float32


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(data):
            raise GraphDefError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise GraphDefError("malformed varint")


def fields(data: bytes):
    """Yield (field number, wire type, value) of a protobuf message; value is int or bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise GraphDefError(f"unsupported wire type {wire}")
        if pos > len(data) or number == 0:
            raise GraphDefError("truncated or malformed message")
        yield number, wire, value


def _packed(value, wire: int, fmt: str) -> list:
    """Repeated scalars: packed (one length-delimited blob) or one per field."""
    if wire == 2:
        if fmt == "varint":
            out, pos = [], 0
            while pos < len(value):
                item, pos = _varint(value, pos)
                out.append(item)
            return out
        return list(struct.unpack(f"<{len(value) // struct.calcsize(fmt)}{fmt}", value))
    if fmt == "varint":
        return [value]
    return list(struct.unpack(f"<{fmt}", value))


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _shape(data: bytes) -> list[int]:
    dims = []
    for number, _, value in fields(data):
        if number == 2:
            size = next((_signed(v) for n, _, v in fields(value) if n == 1), 0)
            dims.append(size)
    return dims


def _tensor(data: bytes) -> np.ndarray:
    dtype, shape, content = None, [], None
    values: list = []
    for number, wire, value in fields(data):
        if number == 1:
            dtype = TF_DTYPES.get(value)
            if dtype is None:
                raise GraphDefError(f"unsupported tensor type {value}")
        elif number == 2:
            shape = _shape(value)
        elif number == 4:
            content = value
        elif number == 5:
            values += _packed(value, wire, "f")
        elif number == 6:
            values += _packed(value, wire, "d")
        elif number in (7, 10, 11, 13):  # int, int64, bool, half (as raw bits)
            values += [_signed(v) for v in _packed(value, wire, "varint")]
    if dtype is None:
        raise GraphDefError("tensor without a type")
    if any(dim < 0 for dim in shape):
        raise GraphDefError(f"tensor with an unknown or negative dimension, shape {shape}")
    count = math.prod(shape)
    if content is not None:
        if len(content) % np.dtype(dtype).itemsize:
            raise GraphDefError(f"tensor content of {len(content)} bytes is not a whole number of {np.dtype(dtype)}")
        array = np.frombuffer(content, dtype=np.dtype(dtype).newbyteorder("<"))
    elif dtype == np.float16:
        array = np.array(values, np.uint16).view(np.float16)
    else:
        array = np.array(values, dtype=dtype)
    if array.size == 1 and count > 1:  # a single value fills the whole tensor
        if count > MAX_FILLED_ELEMENTS:
            raise GraphDefError(f"a constant of shape {shape} filled from one value is too large to be weights")
        array = np.full(count, array[0], dtype=dtype)
    if array.size != count:
        raise GraphDefError(f"tensor holds {array.size} values for shape {shape}")
    return array.reshape(shape).copy()


def _attr_value(data: bytes):
    for number, wire, value in fields(data):
        if number == 1:
            return _list_value(value)
        if number == 2:
            return value.decode("utf-8", "replace")
        if number == 3:
            return _signed(value)
        if number == 4:
            return struct.unpack("<f", value)[0]
        if number == 5:
            return bool(value)
        if number == 6:
            return TF_DTYPES.get(value, value)
        if number == 7:
            return _shape(value)
        if number == 8:
            return _tensor(value)
    return None


def _list_value(data: bytes) -> list:
    items: list = []
    for number, wire, value in fields(data):
        if number == 2:
            items.append(value.decode("utf-8", "replace"))
        elif number == 3:
            items += [_signed(v) for v in _packed(value, wire, "varint")]
        elif number == 4:
            items += _packed(value, wire, "f")
        elif number == 5:
            items += [bool(v) for v in _packed(value, wire, "varint")]
        elif number == 7:
            items.append(_shape(value))
    return items


def _node(data: bytes) -> Node:
    node = Node(name="", op="")
    for number, _, value in fields(data):
        if number == 1:
            node.name = value.decode()
        elif number == 2:
            node.op = value.decode()
        elif number == 3:
            node.inputs.append(value.decode())
        elif number == 5:
            key, attr = None, None
            for n, _, v in fields(value):
                if n == 1:
                    key = v.decode()
                elif n == 2:
                    attr = v
            if key is not None and attr is not None:
                node.attrs[key] = _attr_value(attr)
    if not node.name or not node.op:
        raise GraphDefError("node without a name or an op")
    return node


def read_graphdef(path) -> dict[str, Node]:
    """The nodes of a frozen GraphDef file, by name, in file order."""
    path = Path(path)
    if not path.is_file():
        raise GraphDefError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        nodes = [_node(value) for number, wire, value in fields(data) if number == 1 and wire == 2]
    # TypeError, AttributeError: a field of another wire type than its number's (a number where bytes belong)
    except (GraphDefError, UnicodeDecodeError, struct.error, ValueError, TypeError, AttributeError) as error:
        raise GraphDefError(f"{path}: not a readable TensorFlow GraphDef ({error})") from None
    if not nodes:
        raise GraphDefError(f"{path}: not a TensorFlow GraphDef (no nodes)")
    return {node.name: node for node in nodes}
