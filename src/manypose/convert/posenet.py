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
from .tfjs import TfjsError, read_tfjs_graph
from .tfjs_layers import ConvGraph

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


def posenet_model_file(model_json, name: str | None = None,
                       nodes: dict[str, Node] | None = None) -> modelfile.ModelFile:
    """A PoseNet TensorFlow.js graph model as an in-memory manypose model (weights checked to fit);
    `nodes`: its graph, when already read."""
    arch, weights = posenet_from_tfjs(model_json, nodes)
    head = DisplacementsHead(COCO17, stride=16)
    provenance = {"source_file": Path(model_json).name, "source_sha256": modelfile.file_sha256(model_json),
                  "source_format": "tfjs-graph-model"}
    return imported_model(model_json, name or Path(model_json).stem, arch, (head,), INPUT, weights, provenance,
                          LICENSE, "Weights by Google (PoseNet, tfjs-models), Apache-2.0; converted to the manypose "
                          "format.", TfjsError)


def posenet_from_tfjs(model_json, nodes: dict[str, Node] | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """(architecture description, state dict) of a PoseNet MobileNetV1 TensorFlow.js graph model."""
    nodes = read_tfjs_graph(model_json) if nodes is None else nodes
    return _PoseNetGraph(nodes, model_json).architecture_and_weights()


class _PoseNetGraph(ConvGraph):
    expected = "a PoseNet MobileNetV1 graph"

    def architecture_and_weights(self) -> tuple[dict, dict[str, np.ndarray]]:
        current = self.single_placeholder()
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
