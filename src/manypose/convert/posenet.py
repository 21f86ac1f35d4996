"""Import PoseNet MobileNetV1 from a TensorFlow.js graph model, no TensorFlow.

The graph is walked from its input: a chain of convolutions and depthwise convolutions (each
with its bias and ReLU6 fused in), then four 1x1 convolutions with biases, told apart by their
scope names (heatmap, offset, displacement_fwd, displacement_bwd). The walk gives the
architecture description of models.posenet.PoseNetMobileNetV1, and the kernels its state dict.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import modelfile
from ..data.transforms import InputSpec
from ..heads import DisplacementsHead
from ..skeleton import COCO17
from .graphdef import Node
from .imported import imported_model
from .tfjs import TfjsError, input_node_name, read_tfjs_graph

FAMILY = "posenet_mobilenet_v1"
LAYER_OPS = {"_FusedConv2D": "conv", "FusedDepthwiseConv2dNative": "depthwise"}
# each output's scope name in the graph -> its module in the network
HEAD_SCOPES = {"heatmap": "heatmap", "offset": "offsets", "displacement_fwd": "displacement_fwd",
               "displacement_bwd": "displacement_bwd"}


LICENSE = "Apache-2.0"
# PoseNet's input: centred on a padded canvas (zeros, -1 after normalization), x / 127.5 - 1,
# its grid cells on pixels 16 i; the original pads to a square and resizes to 385, the
# letterbox pads only up to the next 16 k + 1
INPUT = InputSpec(size=385, stride=16, scale=1 / 127.5, pixel_mean=(127.5, 127.5, 127.5), pad_value=0,
                  corner_aligned=True)


def posenet_model_file(model_json, name: str | None = None) -> modelfile.ModelFile:
    """A PoseNet TensorFlow.js graph model as an in-memory manypose model (weights checked to fit)."""
    arch, weights = posenet_from_tfjs(model_json)
    head = DisplacementsHead(COCO17, stride=16)
    provenance = {"source_file": Path(model_json).name, "source_sha256": modelfile.file_sha256(model_json),
                  "source_format": "tfjs-graph-model"}
    return imported_model(model_json, name or Path(model_json).stem, arch, (head,), INPUT, weights, provenance,
                          LICENSE, "Weights by Google (PoseNet, tfjs-models), Apache-2.0; converted to the manypose "
                          "format.", TfjsError)


def posenet_from_tfjs(model_json) -> tuple[dict, dict[str, np.ndarray]]:
    """(architecture description, state dict) of a PoseNet MobileNetV1 TensorFlow.js graph model."""
    return _PoseNetGraph(read_tfjs_graph(model_json), model_json).architecture_and_weights()


class _PoseNetGraph:
    def __init__(self, nodes: dict[str, Node], path):
        self.nodes, self.path = nodes, path
        self.consumers: dict[str, list[Node]] = {}
        for node in nodes.values():
            if node.inputs:  # the data input; weights and biases are the others
                self.consumers.setdefault(input_node_name(node.inputs[0]), []).append(node)
        self.weights: dict[str, np.ndarray] = {}

    def fail(self, reason: str) -> TfjsError:
        return TfjsError(f"{self.path}: not a PoseNet MobileNetV1 graph ({reason})")

    def architecture_and_weights(self) -> tuple[dict, dict[str, np.ndarray]]:
        current = self.input_node()
        layers = []
        while len(self.consumers.get(current.name, [])) == 1:
            current = self.consumers[current.name][0]
            layers.append(self.layer(current, f"backbone.{len(layers)}"))
        if not layers or layers[0]["kind"] != "conv":  # the first layer's kernel gives the image's channels
            raise self.fail("the input does not feed a single (full) convolution")
        self.read_heads(current)
        keypoints = self.weights["heatmap.bias"].shape[0]
        arch = {"family": FAMILY, "input_channels": int(self.weights["backbone.0.weight"].shape[1]),
                "keypoints": int(keypoints), "layers": layers}
        return arch, self.weights

    def input_node(self) -> Node:
        placeholders = [node for node in self.nodes.values() if node.op == "Placeholder"]
        if len(placeholders) != 1:
            raise self.fail(f"{len(placeholders)} inputs, not one image")
        return placeholders[0]

    def layer(self, node: Node, key: str) -> dict:
        """One backbone layer's description; its kernel and bias go into the state dict."""
        if node.op not in LAYER_OPS:
            raise self.fail(f"{node.name} is a {node.op}, not a convolution with its bias and activation fused in")
        self.check_fused(node, ["BiasAdd", "Relu6"])
        kernel = self.kernel(node, key)
        if kernel.shape[2] != kernel.shape[3]:
            raise self.fail(f"{node.name} has a {kernel.shape[2]}x{kernel.shape[3]} kernel, not a square one")
        return {"kind": LAYER_OPS[node.op], "channels": int(kernel.shape[0]), "kernel": int(kernel.shape[2]),
                "stride": self.square(node, "strides"), "dilation": self.square(node, "dilations"),
                "padding": self.padding(node)}

    def read_heads(self, features: Node) -> None:
        outputs = self.consumers.get(features.name, [])
        found = {}
        for node in outputs:
            scope = node.name.split("/")[-2] if "/" in node.name else node.name
            role = HEAD_SCOPES.get(scope.rstrip("_0123456789"))  # 'heatmap_2' -> 'heatmap'
            if role is None or role in found:
                raise self.fail(f"{features.name} feeds {node.name}, which is not one of the four outputs "
                                f"({', '.join(HEAD_SCOPES)})")
            found[role] = node
        missing = [name for name in HEAD_SCOPES.values() if name not in found]
        if missing:
            raise self.fail(f"the last layer {features.name} does not feed the output(s) {', '.join(missing)}")
        for role, node in found.items():
            if node.op != "_FusedConv2D" or self.square(node, "strides") != 1:
                raise self.fail(f"the output {node.name} is not a stride-1 convolution")
            self.check_fused(node, ["BiasAdd"])
            if self.kernel(node, role).shape[2:] != (1, 1):
                raise self.fail(f"the output {node.name} is not a 1x1 convolution")
        self.check_output_channels()

    def check_output_channels(self) -> None:
        keypoints = self.weights["heatmap.bias"].shape[0]
        expected = {"offsets": 2 * keypoints, "displacement_fwd": 2 * (keypoints - 1),
                    "displacement_bwd": 2 * (keypoints - 1)}
        for role, channels in expected.items():
            if self.weights[f"{role}.bias"].shape[0] != channels:
                raise self.fail(f"{self.weights[f'{role}.bias'].shape[0]} {role} channels for {keypoints} "
                                f"keypoints, not {channels}")

    def kernel(self, node: Node, key: str) -> np.ndarray:
        """A layer's kernel in torch layout, stored with its bias under `key`."""
        if len(node.inputs) != 3:
            raise self.fail(f"{node.name} has {len(node.inputs)} inputs, not an input, a kernel and a bias")
        kernel, bias = (self.const(name, node) for name in node.inputs[1:])
        if kernel.ndim != 4:
            raise self.fail(f"{node.name}'s kernel has shape {kernel.shape}, not (h, w, in, out)")
        if node.op == "_FusedConv2D":
            torch_kernel = kernel.transpose(3, 2, 0, 1)  # (h, w, in, out) -> (out, in, h, w)
        else:  # (h, w, in, multiplier) -> (in * multiplier, 1, h, w), output channel = in * multiplier + m
            h, w, channels, multiplier = kernel.shape
            torch_kernel = kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, h, w)
        if bias.shape != torch_kernel.shape[:1]:
            raise self.fail(f"{node.name}'s bias {bias.shape} does not fit its {torch_kernel.shape[0]} outputs")
        self.weights[f"{key}.weight"] = np.ascontiguousarray(torch_kernel, dtype=np.float32)
        self.weights[f"{key}.bias"] = bias.astype(np.float32)
        return self.weights[f"{key}.weight"]

    def const(self, tensor_name: str, user: Node) -> np.ndarray:
        node = self.nodes[input_node_name(tensor_name)]
        if node.op != "Const":
            raise self.fail(f"{user.name} takes {node.name} ({node.op}) where a weight constant belongs")
        return node.value

    def check_fused(self, node: Node, expected: list[str]) -> None:
        fused = node.attrs.get("fused_ops", [])
        if fused != expected:
            raise self.fail(f"{node.name} fuses {fused}, not {expected}")
        if node.attrs.get("data_format", "NHWC") != "NHWC":
            raise self.fail(f"{node.name} has data format {node.attrs['data_format']}, not NHWC")

    def square(self, node: Node, attr: str) -> int:
        """A stride or dilation, the same along height and width: [1, s, s, 1] -> s."""
        values = node.attrs.get(attr, [1, 1, 1, 1])
        if not isinstance(values, list) or len(values) != 4 or values[0] != 1 or values[3] != 1 or values[1] != values[2]:
            raise self.fail(f"{node.name} has {attr} {values}, not [1, s, s, 1]")
        return int(values[1])

    def padding(self, node: Node) -> str:
        padding = node.attrs.get("padding")
        if padding not in ("SAME", "VALID"):
            raise self.fail(f"{node.name} has padding {padding!r}, not SAME or VALID")
        return padding.lower()
