"""PoseNet (MobileNetV1): heatmaps, short-range offsets and mid-range displacements.

The architecture description (data) lists the backbone's layers in order, each
`{"kind": "conv" | "depthwise", "channels", "kernel", "stride", "dilation", "padding": "same" | "valid"}`
(a depthwise layer's channels = its input channels times the channel multiplier); every layer
has a bias and a ReLU6. `"input_channels"` is the image's channel count (3) and `"keypoints"`
the keypoint count used when no head is given. SAME padding is TensorFlow's: on odd sizes the
extra row / column goes at the bottom / right, so the published weights give the same outputs.

Four 1x1 convolutions read the last layer:
- heatmap logits, K channels (no sigmoid: the decoder applies it);
- offsets, 2K: channel k = dy of keypoint k, K + k = dx;
- displacements forward and backward, 2E each: channel e = dy along edge e, E + e = dx, where
  the E = K - 1 edges form a tree over the keypoints (forward: parent -> child).
K is the length of the first head's skeleton when a head is given, else `arch["keypoints"]`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .openpose import TfSamePad


class TfConv2d(nn.Conv2d):
    """A convolution padded like TensorFlow's SAME (asymmetric on odd sizes) or VALID (none)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, dilation: int, groups: int, padding: str):
        super().__init__(c_in, c_out, kernel, stride, 0, dilation, groups)
        if padding not in ("same", "valid"):
            raise ValueError(f"unknown padding {padding!r}; known: same, valid")
        dilated_kernel = dilation * (kernel - 1) + 1
        self.pad = TfSamePad(dilated_kernel, stride) if padding == "same" else nn.Identity()

    def forward(self, x):
        return super().forward(self.pad(x))


def backbone_layer(c_in: int, layer: dict) -> TfConv2d:
    kind, channels = layer["kind"], int(layer["channels"])
    if kind not in ("conv", "depthwise"):
        raise ValueError(f"unknown PoseNet layer kind {kind!r}; known: conv, depthwise")
    return TfConv2d(c_in, channels, int(layer["kernel"]), int(layer.get("stride", 1)), int(layer.get("dilation", 1)),
                    c_in if kind == "depthwise" else 1, layer.get("padding", "same"))


def keypoint_count(arch: dict, heads) -> int:
    """K from the first head's skeleton when there is one, else from the architecture."""
    skeleton = getattr(heads[0], "skeleton", None) if heads else None
    return len(skeleton) if skeleton is not None else int(arch.get("keypoints", 17))


class PoseNetMobileNetV1(nn.Module):
    """images (B, C, H, W) -> (heatmap logits, offsets, displacements fwd, displacements bwd), NCHW."""

    def __init__(self, arch: dict, heads=()):
        super().__init__()
        c_in = int(arch.get("input_channels", 3))
        self.backbone = nn.ModuleList()
        for layer in arch["layers"]:
            self.backbone.append(backbone_layer(c_in, layer))
            c_in = int(layer["channels"])
        keypoints = keypoint_count(arch, heads)
        edges = keypoints - 1  # the displacements follow a tree over the keypoints
        self.heatmap = nn.Conv2d(c_in, keypoints, 1)
        self.offsets = nn.Conv2d(c_in, 2 * keypoints, 1)
        self.displacement_fwd = nn.Conv2d(c_in, 2 * edges, 1)
        self.displacement_bwd = nn.Conv2d(c_in, 2 * edges, 1)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        x = images
        for layer in self.backbone:
            x = F.relu6(layer(x))
        return self.heatmap(x), self.offsets(x), self.displacement_fwd(x), self.displacement_bwd(x)
