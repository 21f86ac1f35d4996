"""The TensorFlow.js graph-model reader on small model.json + .bin files written by hand."""
import json

import numpy as np
import pytest

from manypose.convert.tfjs import TfjsError, input_node_name, is_tfjs_model, read_tfjs_graph

KNOWN_QUANTIZATIONS = "known: float16, uint8, uint16 of float32 or int32 weights"


def write_model(folder, nodes, manifest=None, shards=None):
    """model.json with these nodes and weights manifest (left out when None), and its shards."""
    folder.mkdir(parents=True, exist_ok=True)
    model = {"format": "graph-model", "modelTopology": {"node": nodes}}
    if manifest is not None:
        model["weightsManifest"] = manifest
    for name, data in (shards or {}).items():
        (folder / name).write_bytes(data)
    path = folder / "model.json"
    path.write_text(json.dumps(model))
    return path


def const(name):
    return {"name": name, "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}}


def one_weight(tmp_path, entry, data):
    """A graph of one Const whose weight is `entry`, stored in w.bin."""
    path = write_model(tmp_path, [const(entry["name"])], [{"paths": ["w.bin"], "weights": [entry]}], {"w.bin": data})
    return read_tfjs_graph(path)[entry["name"]].value


def error_of(path):
    with pytest.raises(TfjsError) as caught:
        read_tfjs_graph(path)
    return str(caught.value)


# --- weights -------------------------------------------------------------------------------

def test_float32_and_int32_weights_are_native_arrays(tmp_path):
    path = write_model(tmp_path, [const("f"), const("i"), const("b")], [{"paths": ["w.bin"], "weights": [
        {"name": "f", "shape": [2], "dtype": "float32"},
        {"name": "i", "shape": [1, 2], "dtype": "int32"},
        {"name": "b", "shape": [2], "dtype": "bool"}]}],
        # 1.5 = 0x3FC00000, -2.0 = 0xC0000000; int32 -1 and 7; bools 1, 0 (all little-endian)
        {"w.bin": b"\x00\x00\xc0\x3f" b"\x00\x00\x00\xc0" b"\xff\xff\xff\xff" b"\x07\x00\x00\x00" b"\x01\x00"})
    nodes = read_tfjs_graph(path)
    assert nodes["f"].value.dtype == np.float32 and nodes["f"].value.tolist() == [1.5, -2.0]
    assert nodes["i"].value.dtype == np.int32 and nodes["i"].value.tolist() == [[-1, 7]]
    assert nodes["b"].value.dtype == np.bool_ and nodes["b"].value.tolist() == [True, False]


def test_float16_quantized_weights_become_float32(tmp_path):
    # float16 bits 0x3C00 = 1.0, 0xC000 = -2.0, 0x3800 = 0.5
    value = one_weight(tmp_path, {"name": "w", "shape": [3], "dtype": "float32", "quantization": {"dtype": "float16"}},
                       b"\x00\x3c\x00\xc0\x00\x38")
    assert value.dtype == np.float32 and value.tolist() == [1.0, -2.0, 0.5]


def test_uint8_quantized_float32_is_min_plus_q_times_scale(tmp_path):
    value = one_weight(tmp_path, {"name": "w", "shape": [3], "dtype": "float32",
                                  "quantization": {"dtype": "uint8", "scale": 0.25, "min": -1.0}}, bytes([0, 4, 255]))
    assert value.dtype == np.float32 and value.tolist() == [-1.0, 0.0, 62.75]


def test_uint8_quantized_int32_is_rounded_like_math_round(tmp_path):
    # -1 + q * 0.5 for q = 0, 3, 5: -1.0, 0.5, 1.5, which tfjs rounds (Math.round) to -1, 1, 2
    value = one_weight(tmp_path, {"name": "w", "shape": [3], "dtype": "int32",
                                  "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1}}, bytes([0, 3, 5]))
    assert value.dtype == np.int32 and value.tolist() == [-1, 1, 2]


def test_weight_spanning_two_shards(tmp_path):
    # the float32 1.5, -2.0 cut in the middle of the second value
    path = write_model(tmp_path, [const("w")],
                       [{"paths": ["a.bin", "b.bin"], "weights": [{"name": "w", "shape": [2], "dtype": "float32"}]}],
                       {"a.bin": b"\x00\x00\xc0\x3f\x00\x00", "b.bin": b"\x00\xc0"})
    assert read_tfjs_graph(path)["w"].value.tolist() == [1.5, -2.0]


def test_empty_weight_takes_no_bytes(tmp_path):
    path = write_model(tmp_path, [const("e"), const("w")], [{"paths": ["w.bin"], "weights": [
        {"name": "e", "shape": [0, 3], "dtype": "float32"}, {"name": "w", "shape": [1], "dtype": "float32"}]}],
        {"w.bin": b"\x00\x00\xc0\x3f"})
    nodes = read_tfjs_graph(path)
    assert nodes["e"].value.shape == (0, 3) and nodes["w"].value.tolist() == [1.5]


def test_model_without_manifest_and_constants(tmp_path):
    path = write_model(tmp_path, [{"name": "x", "op": "Placeholder"}])
    assert list(read_tfjs_graph(path)) == ["x"]


# --- attributes ----------------------------------------------------------------------------

def attrs_of(tmp_path, attr):
    return read_tfjs_graph(write_model(tmp_path, [{"name": "x", "op": "Placeholder", "attr": attr}]))["x"].attrs


def test_attribute_values_are_decoded(tmp_path):
    attrs = attrs_of(tmp_path, {
        "padding": {"s": "U0FNRQ=="}, "bad_text": {"s": "/w=="},  # 'SAME'; the lone byte 0xff
        "dtype": {"type": "DT_HALF"}, "other": {"type": "DT_STRING"},
        "shape": {"shape": {"dim": [{"size": "-1"}, {}, {"size": "3"}]}},  # size 0 is left out in JSON
        "scalar": {"shape": {}}, "shapes": {"list": {"shape": [{"dim": [{"size": "2"}]}, {}]}},
        "empty": {"list": {}}, "strides": {"list": {"i": ["1", "2"]}}, "i": {"i": "3"}})
    assert attrs["padding"] == "SAME" and attrs["bad_text"] == "\ufffd"
    assert attrs["dtype"] is np.float16 and attrs["other"] == "DT_STRING"  # unknown types keep their name
    assert attrs["shape"] == [-1, 0, 3] and attrs["scalar"] == [] and attrs["shapes"] == [[2], []]
    assert attrs["empty"] == [] and attrs["strides"] == [1, 2] and attrs["i"] == 3


def test_string_attribute_must_be_strict_base64(tmp_path):
    path = write_model(tmp_path, [{"name": "x", "op": "Placeholder", "attr": {"padding": {"s": "QU!JD"}}}])
    assert "malformed node" in error_of(path)


# --- malformed files: the exact messages ---------------------------------------------------

def test_is_tfjs_model(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    assert is_tfjs_model(write_model(tmp_path, []))
    assert not is_tfjs_model(tmp_path / "missing.json") and not is_tfjs_model(tmp_path / "bad.json")


def test_missing_model_file(tmp_path):
    assert error_of(tmp_path / "nope.json") == f"{tmp_path / 'nope.json'}: no such file"


def test_node_without_op(tmp_path):
    path = write_model(tmp_path, [{"name": "n" * 200}])
    # the node is shown cut to 120 characters: "{'name': '" and 110 n
    assert error_of(path) == f"{path}: malformed node {{'name': '{'n' * 110} (KeyError('op'))"


def test_node_with_empty_name(tmp_path):
    path = write_model(tmp_path, [{"name": "", "op": "X" * 200}])
    # "{'name': '', 'op': '" and 100 X
    assert error_of(path) == (f"{path}: malformed node {{'name': '', 'op': '{'X' * 100} "
                              "(needs a name, an op and named inputs)")


def test_two_nodes_with_one_name(tmp_path):
    path = write_model(tmp_path, [{"name": "a", "op": "Placeholder"}, {"name": "a", "op": "Identity"}])
    assert error_of(path) == f"{path}: two nodes named a"


def test_constant_without_weight(tmp_path):
    path = write_model(tmp_path, [const("c")], [])
    assert error_of(path) == f"{path}: constant c has no weight in the manifest"


def test_manifest_not_a_list(tmp_path):
    path = write_model(tmp_path, [], {})
    assert error_of(path) == f"{path}: weightsManifest is not a list of groups"


def test_group_without_weights(tmp_path):
    path = write_model(tmp_path, [], [{"paths": ["w.bin"]}])
    assert error_of(path) == f"{path}: weight group 0 has no 'weights' and 'paths' lists"


def test_weight_entry_without_string_name(tmp_path):
    path = write_model(tmp_path, [], [{"paths": [], "weights": [{"name": 7, "pad": "p" * 200}]}])
    # "{'name': 7, 'pad': '" and 100 p
    assert error_of(path) == f"{path}: malformed weight entry {{'name': 7, 'pad': '{'p' * 100}"


def test_unknown_weight_dtype(tmp_path):
    path = write_model(tmp_path, [], [{"paths": [], "weights": [{"name": "w", "shape": [1], "dtype": "string"}]}])
    assert error_of(path) == f"{path}: weight w has dtype 'string'; known: float32, int32, bool"


def test_quantization_not_an_object(tmp_path):
    path = write_model(tmp_path, [], [{"paths": [], "weights": [
        {"name": "w", "shape": [1], "dtype": "float32", "quantization": "float16"}]}])
    assert error_of(path) == f"{path}: weight w (float32) has unknown quantization 'float16'; {KNOWN_QUANTIZATIONS}"


def test_quantized_bool_weight(tmp_path):
    path = write_model(tmp_path, [], [{"paths": [], "weights": [
        {"name": "m", "shape": [1], "dtype": "bool", "quantization": {"dtype": "uint8", "scale": 1, "min": 0}}]}])
    assert error_of(path) == (f"{path}: weight m (bool) has unknown quantization "
                              f"{{'dtype': 'uint8', 'scale': 1, 'min': 0}}; {KNOWN_QUANTIZATIONS}")


def test_missing_shard_names_its_group(tmp_path):
    path = write_model(tmp_path, [], [{"paths": [], "weights": []}, {"paths": ["b.bin"], "weights": []}])
    assert error_of(path) == f"{path}: weight shard b.bin (group 1) is missing"


def test_short_shards_are_listed(tmp_path):
    path = write_model(tmp_path, [], [{"paths": ["a.bin", "b.bin"], "weights": [
        {"name": "w", "shape": [2], "dtype": "float32"}]}], {"a.bin": b"12", "b.bin": b"3"})
    assert error_of(path) == (f"{path}: the weights of group 0 take 8 bytes but its shards hold 3 "
                              "(a.bin 2 bytes, b.bin 1 bytes): a shard is truncated or belongs to another model")


def test_group_without_shards(tmp_path):
    path = write_model(tmp_path, [], [{"paths": [], "weights": [{"name": "w", "shape": [1], "dtype": "float32"}]}])
    assert error_of(path) == (f"{path}: the weights of group 0 take 4 bytes but its shards hold 0 "
                              "(no shards): a shard is truncated or belongs to another model")


def test_absolute_shard_path_is_refused(tmp_path):
    # the file exists and has the right size: only its place makes it wrong
    elsewhere = tmp_path / "elsewhere.bin"
    elsewhere.write_bytes(b"\x00\x00\xc0\x3f")
    path = write_model(tmp_path / "model", [const("w")], [{"paths": [str(elsewhere)], "weights": [
        {"name": "w", "shape": [1], "dtype": "float32"}]}])
    assert error_of(path) == f"{path}: weight shard {str(elsewhere)!r} lies outside the model's folder"


# --- the model file's kind, and input names ------------------------------------------------

def test_model_without_format_is_read_as_a_graph_model(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"modelTopology": {"node": [{"name": "x", "op": "Placeholder"}]}}))
    assert list(read_tfjs_graph(tmp_path / "model.json")) == ["x"]


def test_layers_model_is_refused_with_its_format(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"format": "layers-model", "modelTopology": {"node": []}}))
    assert error_of(path) == f"{path}: not a TensorFlow.js graph model (format 'layers-model')"


@pytest.mark.parametrize("text", ["[1, 2]", '"text"', "null", "{}", '{"modelTopology": {"node": {}}}'])
def test_json_without_a_node_list_is_refused(tmp_path, text):
    path = tmp_path / "model.json"
    path.write_text(text)
    assert error_of(path) == f"{path}: not a TensorFlow.js graph model (no modelTopology.node list)"


def test_control_and_indexed_inputs_name_their_nodes(tmp_path):
    path = write_model(tmp_path, [{"name": "Xray", "op": "Placeholder"},
                                  {"name": "y", "op": "Identity", "input": ["Xray:0", "^Xray"]}])
    assert read_tfjs_graph(path)["y"].inputs == ["Xray:0", "^Xray"]
    assert input_node_name("^Xray") == "Xray" and input_node_name("Xray:1") == "Xray"
    assert input_node_name(" a") == " a"  # only the control-input caret is stripped
