"""What the TensorFlow.js importers share to walk a graph's convolutions: who consumes a tensor,
the checks of a layer's attributes, and its kernel and bias in torch layout for the state dict.
Each importer subclasses `ConvGraph` with its walk; every refusal is a TfjsError naming the node.
"""
from __future__ import annotations

import numpy as np

from .graphdef import Node
from .tfjs import TfjsError, input_node_name

# convolutions, with or without a fused bias and activation
FULL_CONVOLUTIONS = ("_FusedConv2D", "Conv2D")
DEPTHWISE_CONVOLUTIONS = ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative")


class ConvGraph:
    """A graph's nodes, and the state dict its walk fills (`weights`). `expected` names the
    graph the subclass reads, for its error messages."""

    expected = "a supported graph"

    def __init__(self, nodes: dict[str, Node], path):
        self.nodes, self.path = nodes, path
        self.consumers: dict[str, list[Node]] = {}
        for node in nodes.values():
            for source in node.inputs:
                producer = nodes[input_node_name(source)]
                if not source.startswith("^") and producer.op != "Const":  # data, not weights or control
                    self.consumers.setdefault(producer.name, []).append(node)
        self.weights: dict[str, np.ndarray] = {}

    def fail(self, reason: str) -> TfjsError:
        return TfjsError(f"{self.path}: not {self.expected} ({reason})")

    def single_placeholder(self) -> Node:
        placeholders = [node for node in self.nodes.values() if node.op == "Placeholder"]
        if len(placeholders) != 1:
            raise self.fail(f"{len(placeholders)} inputs, not one image")
        return placeholders[0]

    def only_consumer(self, node: Node, ops, role: str) -> Node:
        """The one node that reads `node`, which must be one of `ops`."""
        consumers = self.consumers.get(node.name, [])
        if len(consumers) != 1 or consumers[0].op not in ops:
            found = ", ".join(f"{c.name} ({c.op})" for c in consumers) or "nothing"
            raise self.fail(f"{node.name} should feed only {role} ({' or '.join(ops)}), but feeds {found}")
        return consumers[0]

    def kernel(self, node: Node, key: str, bias: bool = True) -> np.ndarray:
        """A layer's kernel in torch layout, stored (with its bias) under `key`."""
        expected = 3 if bias else 2
        if len(node.inputs) != expected:
            parts = "an input, a kernel and a bias" if bias else "an input and a kernel"
            raise self.fail(f"{node.name} has {len(node.inputs)} inputs, not {parts}")
        kernel = self.const(node.inputs[1], node)
        if kernel.ndim != 4:
            raise self.fail(f"{node.name}'s kernel has shape {kernel.shape}, not (h, w, in, out)")
        if node.op in FULL_CONVOLUTIONS:
            torch_kernel = kernel.transpose(3, 2, 0, 1)  # (h, w, in, out) -> (out, in, h, w)
        else:  # (h, w, in, multiplier) -> (in * multiplier, 1, h, w), output channel = in * multiplier + m
            h, w, channels, multiplier = kernel.shape
            torch_kernel = kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, h, w)
        self.weights[f"{key}.weight"] = np.ascontiguousarray(torch_kernel, dtype=np.float32)
        if bias:
            values = self.const(node.inputs[2], node)
            if values.shape != torch_kernel.shape[:1]:
                raise self.fail(f"{node.name}'s bias {values.shape} does not fit its {torch_kernel.shape[0]} outputs")
            self.weights[f"{key}.bias"] = values.astype(np.float32)
        return self.weights[f"{key}.weight"]

    def const(self, tensor_name: str, user: Node) -> np.ndarray:
        node = self.nodes[input_node_name(tensor_name)]
        if node.op != "Const":
            raise self.fail(f"{user.name} takes {node.name} ({node.op}) where a constant belongs")
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
        if not isinstance(values, list) or len(values) != 4 or values[0] != 1 or values[3] != 1 \
                or values[1] != values[2]:
            raise self.fail(f"{node.name} has {attr} {values}, not [1, s, s, 1]")
        return int(values[1])

    def padding(self, node: Node) -> str:
        padding = node.attrs.get("padding")
        if padding not in ("SAME", "VALID"):
            raise self.fail(f"{node.name} has padding {padding!r}, not SAME or VALID")
        return padding.lower()
