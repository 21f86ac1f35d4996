"""The frozen-GraphDef reader on small graphs encoded by hand in the protobuf wire format.

Field numbers follow TensorFlow's graph.proto, node_def.proto, attr_value.proto, tensor.proto
and tensor_shape.proto; TensorFlow writes int32/int64 as plain varints (negatives as 10-byte
two's complement, no zigzag), floats as fixed32, doubles as fixed64, and repeated scalars packed
by default, though unpacked fields are valid protobuf too and must read the same.
"""
import struct

import numpy as np
import pytest

from manypose.convert import GraphDefError
from manypose.convert import graphdef
from manypose.convert.graphdef import read_graphdef

# TensorFlow DataType enum
DT_FLOAT, DT_DOUBLE, DT_INT32, DT_STRING, DT_INT64, DT_BOOL, DT_HALF = 1, 2, 3, 7, 9, 10, 19


# --- a tiny protobuf encoder ------------------------------------------------------------------

def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negatives: 64-bit two's complement, as protobuf writes int32/int64
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def int_field(number: int, value: int) -> bytes:
    return key(number, 0) + varint(value)


def bytes_field(number: int, payload: bytes) -> bytes:
    return key(number, 2) + varint(len(payload)) + payload


def float_field(number: int, value: float) -> bytes:
    return key(number, 5) + struct.pack("<f", value)


def double_field(number: int, value: float) -> bytes:
    return key(number, 1) + struct.pack("<d", value)


def packed_varints(number: int, values) -> bytes:
    return bytes_field(number, b"".join(varint(v) for v in values))


def packed_fixed(number: int, fmt: str, values) -> bytes:
    return bytes_field(number, struct.pack(f"<{len(values)}{fmt}", *values))


# TensorProto / TensorShapeProto / AttrValue / NodeDef / GraphDef

def shape_proto(dims) -> bytes:
    return b"".join(bytes_field(2, int_field(1, d)) for d in dims)


def tensor_proto(dtype, shape, *value_fields) -> bytes:
    return int_field(1, dtype) + bytes_field(2, shape_proto(shape)) + b"".join(value_fields)


def node_proto(name: str, op: str, attrs: dict) -> bytes:
    body = bytes_field(1, name.encode()) + bytes_field(2, op.encode())
    for attr_name, attr_value in attrs.items():
        body += bytes_field(5, bytes_field(1, attr_name.encode()) + bytes_field(2, attr_value))
    return body


def write_graph(path, *nodes: bytes):
    path.write_bytes(b"".join(bytes_field(1, node) for node in nodes))
    return path


def read_const(tmp_path, tensor: bytes) -> np.ndarray:
    path = write_graph(tmp_path / "const.pb", node_proto("c", "Const", {"value": bytes_field(8, tensor)}))
    return read_graphdef(path)["c"].value


def assert_array(array, expected, dtype):
    assert array.dtype == dtype
    np.testing.assert_array_equal(array, np.array(expected, dtype=dtype))


# --- integers ---------------------------------------------------------------------------------

def test_negative_int64_keeps_its_sign_down_to_the_extremes(tmp_path):
    values = [-5, -1, 0, 7, 2**63 - 1, -2**63]
    array = read_const(tmp_path, tensor_proto(DT_INT64, [6], packed_varints(10, values)))
    assert_array(array, values, np.int64)


def test_negative_int32_written_as_ten_byte_varints_reads_back_negative(tmp_path):
    array = read_const(tmp_path, tensor_proto(DT_INT32, [2, 1], int_field(7, -5), int_field(7, 3)))
    assert_array(array, [[-5], [3]], np.int32)


def test_int_val_packed_and_unpacked_fields_all_read_in_order(tmp_path):
    tensor = tensor_proto(DT_INT32, [5], packed_varints(7, [1, -2]), int_field(7, 3),
                          int_field(7, 4), packed_varints(7, [5]))
    assert_array(read_const(tmp_path, tensor), [1, -2, 3, 4, 5], np.int32)


@pytest.mark.parametrize("packed", [True, False])
def test_bool_val(tmp_path, packed):
    bits = [1, 0, 1]
    fields = packed_varints(11, bits) if packed else b"".join(int_field(11, b) for b in bits)
    assert_array(read_const(tmp_path, tensor_proto(DT_BOOL, [3], fields)), [True, False, True], np.bool_)


@pytest.mark.parametrize("packed", [True, False])
def test_half_val_holds_float16_bits(tmp_path, packed):
    halves = np.array([1.5, -2.0, 0.0], np.float16)
    bits = [int(b) for b in halves.view(np.uint16)]  # 0x3E00, 0xC000, 0
    fields = packed_varints(13, bits) if packed else b"".join(int_field(13, b) for b in bits)
    assert_array(read_const(tmp_path, tensor_proto(DT_HALF, [3], fields)), halves, np.float16)


# --- floats and doubles -----------------------------------------------------------------------

FLOATS = [1.5, -2.0, 0.25]


@pytest.mark.parametrize("encoding", ["packed", "unpacked", "mixed"])
def test_float_val_packed_unpacked_or_both(tmp_path, encoding):
    fields = {"packed": packed_fixed(5, "f", FLOATS),
              "unpacked": b"".join(float_field(5, v) for v in FLOATS),
              "mixed": packed_fixed(5, "f", FLOATS[:2]) + float_field(5, FLOATS[2])}[encoding]
    assert_array(read_const(tmp_path, tensor_proto(DT_FLOAT, [3], fields)), FLOATS, np.float32)


@pytest.mark.parametrize("encoding", ["packed", "unpacked", "mixed"])
def test_double_val_packed_unpacked_or_both(tmp_path, encoding):
    doubles = [1.5, -2.25, 1e300]
    fields = {"packed": packed_fixed(6, "d", doubles),
              "unpacked": b"".join(double_field(6, v) for v in doubles),
              "mixed": double_field(6, doubles[0]) + packed_fixed(6, "d", doubles[1:])}[encoding]
    assert_array(read_const(tmp_path, tensor_proto(DT_DOUBLE, [3], fields)), doubles, np.float64)


def test_tensor_content_is_little_endian_raw_bytes(tmp_path):
    tensor = tensor_proto(DT_INT32, [3], bytes_field(4, struct.pack("<3i", 1, -2, 70000)))
    assert_array(read_const(tmp_path, tensor), [1, -2, 70000], np.int32)


# --- one value filling the shape, as TensorFlow does ------------------------------------------

@pytest.mark.parametrize("shape", [[2], [2, 3], [], [1]])
def test_a_single_float_val_fills_the_shape(tmp_path, shape):
    array = read_const(tmp_path, tensor_proto(DT_FLOAT, shape, float_field(5, -0.5)))
    assert array.shape == tuple(shape)
    assert_array(array, np.full(shape, -0.5), np.float32)


def test_a_single_int_val_fills_the_shape_in_its_dtype(tmp_path):
    assert_array(read_const(tmp_path, tensor_proto(DT_INT64, [2, 2], int_field(10, -3))), [[-3, -3], [-3, -3]], np.int64)


def test_filling_from_one_value_is_bounded_inclusively(tmp_path, monkeypatch):
    monkeypatch.setattr(graphdef, "MAX_FILLED_ELEMENTS", 4)
    assert_array(read_const(tmp_path, tensor_proto(DT_FLOAT, [4], float_field(5, 2.0))), [2.0] * 4, np.float32)
    with pytest.raises(GraphDefError, match=r"shape \[5\] filled from one value is too large"):
        read_const(tmp_path, tensor_proto(DT_FLOAT, [5], float_field(5, 2.0)))


def test_filling_beyond_the_real_bound_is_refused_without_allocating(tmp_path):
    with pytest.raises(GraphDefError, match="filled from one value is too large"):
        read_const(tmp_path, tensor_proto(DT_FLOAT, [graphdef.MAX_FILLED_ELEMENTS + 1], float_field(5, 2.0)))


# --- malformed tensors: refused, saying why ---------------------------------------------------

@pytest.mark.parametrize("tensor, message", [
    (tensor_proto(DT_STRING, [1], bytes_field(8, b"x")), "unsupported tensor type 7"),
    (bytes_field(2, shape_proto([1])) + float_field(5, 1.0), r"\(tensor without a type\)"),
    (tensor_proto(DT_FLOAT, [2, -1], float_field(5, 1.0)), r"unknown or negative dimension, shape \[2, -1\]"),
    (tensor_proto(DT_FLOAT, [2], bytes_field(4, b"\0" * 6)), "6 bytes is not a whole number of float32"),
    (tensor_proto(DT_FLOAT, [2, 2], packed_fixed(5, "f", FLOATS)), r"tensor holds 3 values for shape \[2, 2\]"),
], ids=["string", "no-dtype", "negative-dim", "partial-content", "wrong-count"])
def test_malformed_tensor_is_refused_with_its_reason(tmp_path, tensor, message):
    with pytest.raises(GraphDefError, match=message):
        read_const(tmp_path, tensor)


# --- attributes -------------------------------------------------------------------------------

def test_attribute_kinds(tmp_path):
    attrs = {
        "s": bytes_field(2, b"SAME"),
        "s_binary": bytes_field(2, b"a\xffb"),  # not UTF-8: read with a replacement, not refused
        "i": int_field(3, -5),
        "i_min": int_field(3, -2**63),
        "f": float_field(4, 0.75),
        "b": int_field(5, 1),
        "type": int_field(6, DT_FLOAT),
        "type_half": int_field(6, DT_HALF),
        "type_unknown": int_field(6, DT_STRING),  # no numpy dtype: the enum value is kept
        "shape": bytes_field(7, shape_proto([1, 368, 432, 3])),
        "list_i": bytes_field(1, packed_varints(3, [1, -2]) + int_field(3, 3)),
    }
    path = write_graph(tmp_path / "attrs.pb", node_proto("n", "Conv2D", attrs))
    got = read_graphdef(path)["n"].attrs
    assert got["s"] == "SAME" and got["s_binary"] == "a\ufffdb"
    assert got["i"] == -5 and got["i_min"] == -2**63
    assert got["f"] == 0.75 and got["b"] is True
    assert got["type"] is np.float32 and got["type_half"] is np.float16
    assert got["type_unknown"] == DT_STRING
    assert got["shape"] == [1, 368, 432, 3]
    assert got["list_i"] == [1, -2, 3]


def test_list_attribute_kinds_packed_unpacked_and_repeated(tmp_path):
    # ListValue: s = 2, i = 3, f = 4, b = 5, shape = 7; every repeated field appends, in order
    attrs = {
        "list_s": bytes_field(1, bytes_field(2, b"NHWC") + bytes_field(2, b"a\xffb")),  # bad UTF-8 replaced
        "list_f": bytes_field(1, packed_fixed(4, "f", [1.5, -2.0]) + float_field(4, 0.25) + float_field(4, 4.0)),
        "list_b": bytes_field(1, packed_varints(5, [1, 0, 1]) + int_field(5, 0) + int_field(5, 1)),
        "list_shape": bytes_field(1, bytes_field(7, shape_proto([1, 3])) + bytes_field(7, shape_proto([-1]))),
    }
    path = write_graph(tmp_path / "lists.pb", node_proto("n", "Conv2D", attrs))
    got = read_graphdef(path)["n"].attrs
    assert got["list_s"] == ["NHWC", "a\ufffdb"]
    assert got["list_f"] == [1.5, -2.0, 0.25, 4.0]
    assert got["list_b"] == [True, False, True, False, True]
    assert all(type(b) is bool for b in got["list_b"])
    assert got["list_shape"] == [[1, 3], [-1]]


def test_a_map_entry_without_a_value_is_skipped(tmp_path):
    # NodeDef.attr is a map: each entry a message with key = 1 and value = 2; one without a
    # value carries nothing to read and must not break the node
    node = node_proto("n", "Identity", {"T": int_field(6, DT_FLOAT)}) + bytes_field(5, bytes_field(1, b"empty"))
    attrs = read_graphdef(write_graph(tmp_path / "entry.pb", node))["n"].attrs
    assert attrs["T"] is np.float32 and attrs.get("empty") is None


@pytest.mark.parametrize("node", [
    bytes_field(2, b"Const"),                # no name
    bytes_field(1, b"c"),                    # no op
    bytes_field(1, b"") + bytes_field(2, b"Const"),
], ids=["no-name", "no-op", "empty-name"])
def test_a_node_without_a_name_or_an_op_is_refused(tmp_path, node):
    with pytest.raises(GraphDefError, match=r"node\.pb: not a readable TensorFlow GraphDef \(node without a name or an op\)"):
        read_graphdef(write_graph(tmp_path / "node.pb", node))


# --- malformed protobuf: refused, saying why --------------------------------------------------

GOOD_NODE = bytes_field(1, node_proto("c", "Const", {}))


@pytest.mark.parametrize("data, reason", [
    (GOOD_NODE + b"\x0a", "truncated varint"),                       # a key, then nothing
    (GOOD_NODE + b"\x0a\x85", "truncated varint"),                   # a length cut inside its varint
    (GOOD_NODE + b"\x08" + b"\xff" * 10 + b"\x01", "malformed varint"),  # 11 bytes: over 64 bits
    (GOOD_NODE + b"\x0b", "unsupported wire type 3"),                # a (deprecated) group
    (GOOD_NODE + bytes_field(1, node_proto("d", "Const", {}))[:-2], "truncated or malformed message"),
    (GOOD_NODE + b"\x11" + b"\0" * 7, "truncated or malformed message"),  # a fixed64 short of a byte
    (GOOD_NODE + b"\x00\x00", "truncated or malformed message"),     # field number 0
], ids=["key-only", "cut-length", "long-varint", "group", "cut-message", "cut-fixed64", "field-zero"])
def test_malformed_protobuf_is_refused_with_its_reason(tmp_path, data, reason):
    path = tmp_path / "bad.pb"
    path.write_bytes(data)
    with pytest.raises(GraphDefError, match=rf"bad\.pb: not a readable TensorFlow GraphDef \({reason}\)"):
        read_graphdef(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(GraphDefError, match=r"missing\.pb: no such file"):
        read_graphdef(tmp_path / "missing.pb")


@pytest.mark.parametrize("data", [
    bytes_field(1, int_field(1, 5) + bytes_field(2, b"Const")),     # a node's name as a number
    bytes_field(1, node_proto("c", "Const", {"f": int_field(4, 1)})),  # a float attribute as a varint
    bytes_field(1, node_proto("c", "Const", {"i": bytes_field(3, b"x")})),  # an int attribute as bytes
], ids=["name-number", "float-varint", "int-bytes"])
def test_a_field_of_another_wire_type_is_refused(tmp_path, data):
    """Found by fuzzing (fuzz/targets.py: graphdef): these escaped as AttributeError and TypeError."""
    path = tmp_path / "bad.pb"
    path.write_bytes(data)
    with pytest.raises(GraphDefError, match=r"bad\.pb: not a readable TensorFlow GraphDef \("):
        read_graphdef(path)
