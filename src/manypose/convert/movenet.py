"""Import MoveNet MultiPose (Lightning) from a TensorFlow.js graph model, no TensorFlow.

The graph is walked from its input: the normalization ((pixel - mean) * scale - offset, into
the input spec), MobileNetV2's stem and inverted residual blocks (expansions, depthwise and
projections with their biases and activations fused in, residual additions), the last 1x1
convolution, the feature pyramid (1x1 top, then per level: bilinear upsampling by 2, a 1x1
lateral from a block's output, a separable convolution) and six heads (separable convolution,
1x1), told apart by their scope names. That gives the architecture description of
models.movenet.MoveNetMultiPose, and the kernels its state dict.

The graph's own decoding after the heads (peaks of the centre heatmap, TopK, GatherNd, ...) is
not imported as layers: the decoder (decoders.centers) does it in numpy, with the constants read
here from those ops into the head's metadata.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import modelfile
from ..data.transforms import InputSpec
from ..heads import CentersHead
from ..heads.centers import output_layout
from ..skeleton import COCO17
from .graphdef import Node
from .imported import imported_model
from .tfjs import TfjsError, input_node_name, read_tfjs_graph
from .tfjs_layers import DEPTHWISE_CONVOLUTIONS, FULL_CONVOLUTIONS, ConvGraph

FAMILY = "movenet_multipose"
LICENSE = "Apache-2.0"
INPUT_SIZE = 256  # pose-detection's default long side
# each head's scope name in the graph -> its output in the network
HEAD_SCOPES = {"center": "centers", "kpt_heatmap": "keypoint_heatmaps", "kpt_regress": "keypoint_regression",
               "kpt_offset": "keypoint_offsets", "box_scale": "box_sizes", "box_offset": "box_offsets"}
NORMALIZATION_OPS = ("Cast", "Sub", "Mul", "Sub")  # int32 pixels -> (pixel - mean) * scale - offset


def is_movenet_graph(nodes: dict[str, Node]) -> bool:
    """MoveNet picks its people inside the graph (TopK over the centre heatmap); PoseNet does not."""
    return any(node.op == "TopKV2" for node in nodes.values())


def movenet_model_file(model_json, name: str | None = None,
                       nodes: dict[str, Node] | None = None) -> modelfile.ModelFile:
    """A MoveNet MultiPose TensorFlow.js graph model as an in-memory manypose model (weights checked
    to fit); `nodes`: its graph, when already read."""
    arch, weights, input_spec, head = movenet_from_tfjs(model_json, nodes)
    provenance = {"source_file": Path(model_json).name, "source_sha256": modelfile.file_sha256(model_json),
                  "source_format": "tfjs-graph-model"}
    return imported_model(model_json, name or Path(model_json).stem, arch, (head,), input_spec, weights, provenance,
                          LICENSE, "Weights by Google (MoveNet MultiPose Lightning, TF Hub / tfjs-models), "
                          "Apache-2.0; converted to the manypose format.", TfjsError)


def movenet_from_tfjs(model_json, nodes: dict[str, Node] | None = None):
    """(architecture description, state dict, input spec, head) of a MoveNet MultiPose
    TensorFlow.js graph model."""
    graph = _MoveNetGraph(read_tfjs_graph(model_json) if nodes is None else nodes, model_json)
    arch, weights, input_spec = graph.architecture_and_weights()
    head_stride = input_spec.stride // 2 ** len(arch["fpn"]["levels"])
    return arch, weights, input_spec, CentersHead(COCO17, stride=head_stride, **graph.decoding_constants())


class _MoveNetGraph(ConvGraph):
    expected = "a MoveNet MultiPose graph"

    def architecture_and_weights(self) -> tuple[dict, dict[str, np.ndarray], InputSpec]:
        normalized, normalization = self.read_normalization(self.single_placeholder())
        stem = self.only_consumer(normalized, ("_FusedConv2D",), "the first convolution")
        stem_kernel = self.conv(stem, "stem", ["BiasAdd", "Relu6"], strided=True)
        arch = {"family": FAMILY, "input_channels": int(stem_kernel.shape[1]),
                "stem": {"channels": int(stem_kernel.shape[0]), "kernel": int(stem_kernel.shape[2]),
                         "stride": self.square(stem, "strides")},
                "blocks": []}
        block_outputs = {}  # node name -> block index
        features = stem
        while (read := self.read_block(features, len(arch["blocks"]))) is not None:
            block, features = read
            block_outputs[features.name] = len(arch["blocks"])
            arch["blocks"].append(block)
        last = self.only_consumer(features, ("_FusedConv2D",), "the last 1x1 convolution")
        arch["last_channels"] = int(self.conv(last, "last", ["BiasAdd", "Relu6"], kernel=1).shape[0])
        arch["fpn"], features = self.read_pyramid(last, block_outputs)
        arch["head"], arch["keypoints"] = self.read_heads(features)
        # the pyramid adds each level to a block's output: inputs must divide by the whole stride
        stride = arch["stem"]["stride"] * int(np.prod([block["stride"] for block in arch["blocks"]]))
        return arch, self.weights, InputSpec(size=INPUT_SIZE, stride=stride, **normalization)

    def read_normalization(self, image: Node) -> tuple[Node, dict]:
        """The ops from the int32 image to the first convolution, as the input spec's
        (pixel - pixel_mean) * scale, with the original's resize and padding."""
        if image.attrs.get("dtype") is not np.int32:
            raise self.fail(f"the input {image.name} is not int32 pixels")
        current, constants = image, []
        for op in NORMALIZATION_OPS:
            current = self.only_consumer(current, (op,), "the input's normalization")
            if op != "Cast":
                constants.append(self.const(current.inputs[1], current).astype(np.float64).reshape(-1))
        mean, scale, offset = constants
        if len(set(scale.tolist())) != 1 or offset.size != 1 or mean.size not in (1, 3):
            raise self.fail(f"{current.name}: the normalization is not (pixel - mean) * scale - offset "
                            "with one scale and offset")
        pixel_mean = np.broadcast_to(mean + offset[0] / scale[0], (3,))
        # pose-detection: TF's legacy resize of the long side to the size, zeros at the bottom and right
        return current, {"channels": "RGB", "scale": float(scale[0]), "pixel_mean": tuple(map(float, pixel_mean)),
                         "pad_value": 0, "interpolation": "tf_legacy", "anchor": "top_left"}

    def read_block(self, features: Node, index: int):
        """The inverted residual block reading `features`: (its description, its output node), or
        None when `features` feeds the last 1x1 convolution instead."""
        first = self.block_start(features)
        expanded = None
        if first.op in FULL_CONVOLUTIONS:
            following = self.consumers.get(first.name, [])
            if len(following) != 1 or following[0].op not in DEPTHWISE_CONVOLUTIONS:
                return None  # the last convolution, not an expansion
            expanded = int(self.conv(first, f"blocks.{index}.expand", ["BiasAdd", "Relu6"], kernel=1).shape[0])
            first = following[0]
        kernel = self.conv(first, f"blocks.{index}.depthwise", ["BiasAdd", "Relu6"], strided=True)
        project = self.only_consumer(first, FULL_CONVOLUTIONS, "the block's projection")
        channels = int(self.conv(project, f"blocks.{index}.project", ["BiasAdd"], kernel=1).shape[0])
        residual = next((node for node in self.consumers.get(project.name, []) if node.op == "AddV2"
                         and {input_node_name(name) for name in node.inputs} == {features.name, project.name}), None)
        block = {"expanded": expanded, "channels": channels, "kernel": int(kernel.shape[2]),
                 "stride": self.square(first, "strides"), "residual": residual is not None}
        return block, residual or project

    def block_start(self, features: Node) -> Node:
        """The layer that starts the next block (or the last convolution) from `features`; the
        residual additions and the pyramid's laterals that also read them are found elsewhere."""
        starts = [node for node in self.consumers.get(features.name, [])
                  if node.op in DEPTHWISE_CONVOLUTIONS
                  or (node.op in FULL_CONVOLUTIONS and node.attrs.get("fused_ops", [])[-1:] == ["Relu6"])]
        if len(starts) != 1:
            found = ", ".join(f"{node.name} ({node.op})" for node in starts) or "none"
            raise self.fail(f"{features.name} should start one block, found {found}")
        return starts[0]

    def read_pyramid(self, last: Node, block_outputs: dict[str, int]) -> tuple[dict, Node]:
        """The feature pyramid from the last features: its description and its finest output."""
        top = self.only_consumer(last, FULL_CONVOLUTIONS, "the pyramid's top 1x1 convolution")
        channels = int(self.conv(top, "top", ["BiasAdd"], kernel=1).shape[0])
        levels, kernels, features = [], set(), top
        while (upsampling := self.upsampling(features)) is not None:
            key = f"levels.{len(levels)}"
            merged = self.only_consumer(upsampling, ("AddV2",), "the sum with a lateral")
            lateral = self.nodes[next(input_node_name(name) for name in merged.inputs
                                      if input_node_name(name) != upsampling.name)]
            source = input_node_name(lateral.inputs[0]) if lateral.inputs else None
            if lateral.op not in FULL_CONVOLUTIONS or source not in block_outputs:
                raise self.fail(f"{merged.name} adds {lateral.name} ({lateral.op}), not a 1x1 convolution of a "
                                "block's output")
            self.conv(lateral, f"{key}.lateral", ["BiasAdd"], kernel=1)
            depthwise = self.only_consumer(merged, ("DepthwiseConv2dNative",), "a separable convolution")
            features, kernel = self.separable(depthwise, f"{key}.merge", ["BiasAdd", "Relu"])
            kernels.add(kernel)
            channels_out = int(self.weights[f"{key}.merge.pointwise.bias"].shape[0])
            levels.append({"block": block_outputs[source], "channels": channels_out})
        if not levels or len(kernels) != 1:
            raise self.fail(f"the pyramid from {top.name} has {len(levels)} levels with kernels {sorted(kernels)}")
        return {"channels": channels, "kernel": kernels.pop(), "levels": levels}, features

    def upsampling(self, features: Node) -> Node | None:
        """The bilinear upsampling by 2 (half-pixel centres) of `features`, or None at the pyramid's end."""
        resizes = [node for node in self.consumers.get(features.name, []) if node.op.startswith("Resize")]
        if not resizes:
            return None
        resize = resizes[0]
        if len(resizes) != 1 or resize.op != "ResizeBilinear":
            raise self.fail(f"{features.name} feeds {', '.join(n.op for n in resizes)}, not one ResizeBilinear")
        if resize.attrs.get("align_corners") or not resize.attrs.get("half_pixel_centers"):
            raise self.fail(f"{resize.name} resizes with align_corners={resize.attrs.get('align_corners')} and "
                            f"half_pixel_centers={resize.attrs.get('half_pixel_centers')}, not half-pixel centres")
        size = self.nodes[input_node_name(resize.inputs[1])]
        factors = [self.const(name, size) for name in size.inputs
                   if self.nodes[input_node_name(name)].op == "Const"] if size.op == "Mul" else []
        if len(factors) != 1 or factors[0].tolist() != [2, 2]:
            raise self.fail(f"{resize.name} does not resize to twice its input's size")
        return resize

    def separable(self, depthwise: Node, key: str, fused: list[str]) -> tuple[Node, int]:
        """A depthwise convolution without bias and its 1x1 convolution: (the latter, the kernel size)."""
        kernel = self.conv(depthwise, f"{key}.depthwise", None, bias=False)
        pointwise = self.only_consumer(depthwise, FULL_CONVOLUTIONS, "a 1x1 convolution")
        self.conv(pointwise, f"{key}.pointwise", fused, kernel=1)
        return pointwise, int(kernel.shape[2])

    def read_heads(self, features: Node) -> tuple[dict, int]:
        """The six heads reading the pyramid's output: (their shared description, the keypoint count)."""
        found = {}
        for depthwise in self.consumers.get(features.name, []):
            role = self.head_role(depthwise)
            if role in found or depthwise.op != "DepthwiseConv2dNative":
                raise self.fail(f"{features.name} feeds {depthwise.name} ({depthwise.op}), not one head "
                                f"({', '.join(HEAD_SCOPES)}) starting with a depthwise convolution")
            hidden, kernel = self.separable(depthwise, f"heads.{role}.hidden", ["BiasAdd", "Relu"])
            output = self.only_consumer(hidden, FULL_CONVOLUTIONS, "the head's output convolution")
            self.conv(output, f"heads.{role}.output", ["BiasAdd"], kernel=1)
            found[role] = (output, kernel, int(self.weights[f"heads.{role}.hidden.pointwise.bias"].shape[0]))
        missing = [role for role in HEAD_SCOPES.values() if role not in found]
        if missing:
            raise self.fail(f"{features.name} does not feed the head(s) {', '.join(missing)}")
        if len({(kernel, hidden) for _, kernel, hidden in found.values()}) != 1:
            raise self.fail("the heads differ in kernel size or hidden channels")
        keypoints = int(self.weights["heads.keypoint_heatmaps.output.bias"].shape[0])
        for role, channels, sigmoid in output_layout(keypoints):
            self.check_head_output(found[role][0], channels, sigmoid)
        _, kernel, hidden = found["centers"]
        return {"channels": hidden, "kernel": kernel}, keypoints

    def head_role(self, node: Node) -> str:
        for scope in node.name.split("/"):
            role = HEAD_SCOPES.get(scope.rstrip("_0123456789"))  # 'center_0' -> 'center'
            if role:
                return role
        raise self.fail(f"{node.name} belongs to none of the heads {', '.join(HEAD_SCOPES)}")

    def check_head_output(self, output: Node, channels: int, sigmoid: bool) -> None:
        bias = self.const(output.inputs[2], output)
        if bias.shape != (channels,):
            raise self.fail(f"{output.name} has {bias.shape[0]} channels, not {channels}")
        scored = any(node.op == "Sigmoid" for node in self.consumers.get(output.name, []))
        if scored != sigmoid:
            raise self.fail(f"{output.name} is {'' if scored else 'not '}followed by a sigmoid")

    def conv(self, node: Node, key: str, fused: list[str] | None, kernel: int | None = None, bias: bool = True,
             strided: bool = False) -> np.ndarray:
        """Check a convolution (its fused ops, or none; a square kernel, of size `kernel` if given;
        no dilation; stride 1 unless `strided`) and store its weights under `key`."""
        expected_op = ("_FusedConv2D", "FusedDepthwiseConv2dNative") if fused else ("Conv2D", "DepthwiseConv2dNative")
        if node.op not in expected_op:
            raise self.fail(f"{node.name} is a {node.op}, not a convolution "
                            + (f"fusing {fused}" if fused else "without fused ops"))
        self.check_fused(node, fused or [])
        weight = self.kernel(node, key, bias)
        size = weight.shape[2]
        if weight.shape[3] != size or (kernel is not None and size != kernel):
            raise self.fail(f"{node.name} has a {size}x{weight.shape[3]} kernel, not "
                            + (f"{kernel}x{kernel}" if kernel else "a square one"))
        if self.square(node, "dilations") != 1 or (not strided and self.square(node, "strides") != 1):
            raise self.fail(f"{node.name} is dilated or strided where MoveNet has neither")
        if size > 1 and self.padding(node) != "same":
            raise self.fail(f"{node.name} pads {self.padding(node)}, not SAME")
        return weight

    def decoding_constants(self) -> dict:
        """The constants of the graph's own decoding, as the head's metadata fields."""
        top_k = self.single("TopKV2")
        pool = self.single("MaxPool")
        if pool.attrs.get("strides") != [1, 1, 1, 1] or pool.attrs.get("padding") != "SAME" \
                or len(set(pool.attrs.get("ksize", [])[1:3])) != 1:
            raise self.fail(f"{pool.name} is not a square, stride-1, SAME max pool over the centres")
        peak_test = next((node for node in self.nodes.values() if node.op == "Less"
                          and self.nodes[input_node_name(node.inputs[0])].op == "Abs"), None)
        if peak_test is None:
            raise self.fail("no |centres - max pool| < tolerance test of the centre peaks")
        division = self.nodes[input_node_name(self.single("Exp").inputs[0])]  # -d^2 / (min(H, W) * spread)
        spread = self.nodes[input_node_name(division.inputs[1])] if division.op == "RealDiv" else division
        if spread.op != "Mul":
            raise self.fail(f"{division.name}: the keypoint weights are not exp(-d^2 / (min(h, w) * spread))")
        return {"max_people": int(self.scalar(top_k)), "peak_window": int(pool.attrs["ksize"][1]),
                "peak_tolerance": self.scalar(peak_test), "regression_spread": self.scalar(spread),
                "keypoint_score_threshold": self.scalar(self.single("Greater"))}

    def single(self, op: str) -> Node:
        nodes = [node for node in self.nodes.values() if node.op == op]
        if len(nodes) != 1:
            raise self.fail(f"{len(nodes)} {op} ops in the decoding, not one")
        return nodes[0]

    def scalar(self, node: Node) -> float:
        """The one constant operand of `node`, a single number."""
        values = [self.nodes[input_node_name(name)].value for name in node.inputs
                  if self.nodes[input_node_name(name)].op == "Const"]
        if len(values) != 1 or values[0].size != 1:
            raise self.fail(f"{node.name} has no single constant operand")
        return float(values[0].reshape(-1)[0])
