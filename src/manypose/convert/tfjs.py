"""A reader of TensorFlow.js graph models (model.json + .bin weight shards), without TensorFlow.

`modelTopology.node` holds the graph's NodeDefs in protobuf's JSON form; the constants' values
live in the binary shards that `weightsManifest` describes. The reader returns the same `Node`s
as the frozen-GraphDef reader (graphdef.py), attributes decoded to the same Python values, with
every Const node's weight (dequantized to its logical dtype) as its `value`.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import os
from pathlib import Path

import numpy as np

from .graphdef import TF_DTYPES, GraphDefError, Node

TF_DTYPE_NAMES = {"DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4, "DT_INT16": 5, "DT_INT8": 6,
                  "DT_INT64": 9, "DT_BOOL": 10, "DT_HALF": 19}
# a weight's logical dtype, as stored when not quantized (little-endian)
STORED_DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype("?")}
QUANTIZED_DTYPES = {"float16": np.dtype("<f2"), "uint8": np.dtype("u1"), "uint16": np.dtype("<u2")}


class TfjsError(GraphDefError):
    """The file is not a readable TensorFlow.js graph model."""


def read_tfjs_graph(model_json_path) -> dict[str, Node]:
    """The nodes of a TensorFlow.js graph model, by name, in file order; Const nodes carry their
    weights (float16 and affine-quantized weights dequantized to float32)."""
    path = Path(model_json_path)
    model = _model_json(path)
    nodes = _nodes(model["modelTopology"]["node"], path)
    weights = _weights(model.get("weightsManifest", []), path)
    for node in nodes.values():
        if node.op == "Const":
            if node.name not in weights:
                raise TfjsError(f"{path}: constant {node.name} has no weight in the manifest")
            node.attrs["value"] = weights[node.name]
    return nodes


def is_tfjs_model(path) -> bool:
    """A TensorFlow.js model file (rather than a manypose model.json): it has a topology."""
    try:
        return "modelTopology" in json.loads(Path(path).read_bytes())
    except (OSError, ValueError, RecursionError, TypeError):
        return False


def _model_json(path: Path) -> dict:
    if not path.is_file():
        raise TfjsError(f"{path}: no such file")
    try:
        model = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as error:
        raise TfjsError(f"{path}: not a TensorFlow.js model (not JSON: {error})") from None
    topology = model.get("modelTopology") if isinstance(model, dict) else None
    if not isinstance(topology, dict) or not isinstance(topology.get("node"), list) \
            or model.get("format", "graph-model") != "graph-model":
        kind = model.get("format") if isinstance(model, dict) else None
        raise TfjsError(f"{path}: not a TensorFlow.js graph model"
                        + (f" (format {kind!r})" if kind else " (no modelTopology.node list)"))
    return model


def _nodes(node_defs: list, path: Path) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for node_def in node_defs:
        try:
            node = Node(name=node_def["name"], op=node_def["op"], inputs=list(node_def.get("input", [])),
                        attrs={key: _attr_value(value) for key, value in node_def.get("attr", {}).items()})
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as error:
            raise TfjsError(f"{path}: malformed node {str(node_def)[:120]} ({error!r})") from None
        if not all(isinstance(text, str) and text for text in (node.name, node.op, *node.inputs)):
            raise TfjsError(f"{path}: malformed node {str(node_def)[:120]} (needs a name, an op and named inputs)")
        if node.name in nodes:
            raise TfjsError(f"{path}: two nodes named {node.name}")
        nodes[node.name] = node
    for node in nodes.values():
        for source in node.inputs:
            if input_node_name(source) not in nodes:
                raise TfjsError(f"{path}: node {node.name} takes input {source}, which is no node of the graph")
    return nodes


def input_node_name(tensor_name: str) -> str:
    """The node an input refers to: '^name' (a control input) and 'name:1' -> 'name'."""
    return tensor_name.lstrip("^").split(":")[0]


def _attr_value(attr: dict):
    """An AttrValue in protobuf's JSON form, as the GraphDef reader decodes it."""
    if "list" in attr:
        items = attr["list"]
        return next(([decode(item) for item in items[key]] for key, decode in ATTR_DECODERS if key in items), [])
    # None for the rest: a tensor (Const values come from the manifest), a function, a placeholder
    return next((decode(attr[key]) for key, decode in ATTR_DECODERS if key in attr), None)


def _string(encoded: str) -> str:
    return base64.b64decode(encoded, validate=True).decode("utf-8", "replace")


def _dtype(name: str):
    number = TF_DTYPE_NAMES.get(name)
    return TF_DTYPES[number] if number else name


def _shape(shape: dict) -> list[int]:
    return [int(dim.get("size", 0)) for dim in shape.get("dim", [])]


# the value kinds of an AttrValue (singly or in a list) and how each is decoded
ATTR_DECODERS = (("s", _string), ("i", int), ("f", float), ("b", bool), ("type", _dtype), ("shape", _shape))


def _weights(manifest: list, path: Path) -> dict[str, np.ndarray]:
    if not isinstance(manifest, list):
        raise TfjsError(f"{path}: weightsManifest is not a list of groups")
    weights: dict[str, np.ndarray] = {}
    for index, group in enumerate(manifest):
        try:
            entries, shard_names = list(group["weights"]), list(group["paths"])
        except (KeyError, TypeError):
            raise TfjsError(f"{path}: weight group {index} has no 'weights' and 'paths' lists") from None
        sizes = [_stored_bytes(entry, path) for entry in entries]
        data = _group_bytes(path, index, shard_names, sum(sizes))
        offset = 0
        for entry, size in zip(entries, sizes):
            weights[entry["name"]] = _decode(entry, data[offset:offset + size], path)
            offset += size
    return weights


def _stored_bytes(entry: dict, path: Path) -> int:
    """How many bytes a manifest entry takes in its group's shards, its shape checked."""
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise TfjsError(f"{path}: malformed weight entry {str(entry)[:120]}")
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(type(dim) is int and dim >= 0 for dim in shape):
        raise TfjsError(f"{path}: weight {entry['name']} has shape {shape!r}, not a list of sizes")
    return math.prod(shape) * _storage_dtype(entry, path).itemsize


def _storage_dtype(entry: dict, path: Path) -> np.dtype:
    dtype = str(entry.get("dtype"))
    if dtype not in STORED_DTYPES:
        raise TfjsError(f"{path}: weight {entry['name']} has dtype {dtype!r}; "
                        f"known: {', '.join(STORED_DTYPES)}")
    quantization = entry.get("quantization")
    if quantization is None:
        return STORED_DTYPES[dtype]
    stored = str(quantization.get("dtype")) if isinstance(quantization, dict) else None
    if stored not in QUANTIZED_DTYPES or dtype == "bool":
        raise TfjsError(f"{path}: weight {entry['name']} ({dtype}) has unknown quantization {quantization!r}; "
                        f"known: {', '.join(QUANTIZED_DTYPES)} of float32 or int32 weights")
    if stored != "float16" and not all(isinstance(quantization.get(key), (int, float)) for key in ("scale", "min")):
        raise TfjsError(f"{path}: weight {entry['name']} is {stored}-quantized without a numeric scale and min")
    return QUANTIZED_DTYPES[stored]


def _group_bytes(path: Path, index: int, shard_names: list, needed: int) -> bytes:
    """A group's shards, concatenated, once their sizes are known to hold its weights."""
    shards = []
    for name in shard_names:
        # a manifest names files in its folder, nothing else (checked by name: shards may be links)
        if not isinstance(name, str) or os.path.isabs(name) or ".." in Path(name).parts:
            raise TfjsError(f"{path}: weight shard {name!r} lies outside the model's folder")
        shard = path.parent / name
        if not shard.is_file():
            raise TfjsError(f"{path}: weight shard {name} (group {index}) is missing")
        shards.append(shard)
    sizes = [shard.stat().st_size for shard in shards]
    if sum(sizes) != needed:
        held = ", ".join(f"{shard.name} {size} bytes" for shard, size in zip(shards, sizes))
        raise TfjsError(f"{path}: the weights of group {index} take {needed} bytes but its shards hold "
                        f"{sum(sizes)} ({held or 'no shards'}): a shard is truncated or belongs to another model")
    return b"".join(shard.read_bytes() for shard in shards)


def _decode(entry: dict, data: bytes, path: Path) -> np.ndarray:
    array = np.frombuffer(data, dtype=_storage_dtype(entry, path)).reshape(entry["shape"])
    quantization = entry.get("quantization")
    if quantization is None:
        return array.astype(array.dtype.newbyteorder("="))  # a native, writable copy
    if quantization["dtype"] == "float16":
        values = array.astype(np.float64)
    else:  # affine: stored integer * scale + min
        values = array * float(quantization["scale"]) + float(quantization["min"])
    return np.floor(values + 0.5).astype(np.int32) if entry["dtype"] == "int32" else values.astype(np.float32)
