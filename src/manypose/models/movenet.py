"""MoveNet MultiPose: a MobileNetV2 backbone, a feature pyramid down to stride 4, and six
CenterNet-style heads.

The architecture description (data):
- `"stem"`: `{"channels", "kernel", "stride"}`, a convolution with a bias and a ReLU6;
- `"blocks"`: MobileNetV2's inverted residuals in order, each `{"expanded": channels of the 1x1
  expansion, or null for none, "channels", "kernel", "stride", "residual": bool}`: expansion
  (ReLU6), depthwise (ReLU6), linear 1x1 projection, plus the block's input when residual;
- `"last_channels"`: the 1x1 convolution (ReLU6) after the last block;
- `"fpn"`: `{"channels", "kernel", "levels": [{"block", "channels"}, ...]}`: a 1x1 convolution
  of the last features to `channels`, then per level, finest last: upsampled x2 (bilinear,
  half-pixel centres), plus a 1x1 convolution of block `block`'s output to the same channels,
  then a separable convolution (depthwise without bias, 1x1 with bias, ReLU) to the level's
  `channels`;
- `"head"`: `{"channels", "kernel"}`: each head is a separable convolution to `channels` (ReLU)
  and a 1x1 convolution to its outputs.
`"input_channels"` is the image's channel count (3) and `"keypoints"` the keypoint count used
when no head is given. SAME padding is TensorFlow's (any odd extra at the bottom / right).

Outputs, NCHW at stride 4, as heads.centers.output_layout lists them (see decoders.centers for
their meaning): centre scores (sigmoid), keypoint heatmap scores (sigmoid), keypoint regression
and keypoint offsets ((dy, dx) per keypoint, interleaved), box sizes and box offsets ((dy, dx)).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..heads.centers import output_layout
from .posenet import TfConv2d, keypoint_count


def same_conv(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = True) -> nn.Conv2d:
    """A convolution with TensorFlow's SAME padding: even, fixed padding at stride 1 (no shape
    arithmetic in the exported graph); computed from the input size when strided (strided
    layers have a bias here, as all of MoveNet's do)."""
    if stride == 1 and kernel % 2:
        return nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2, groups=groups, bias=bias)
    return TfConv2d(c_in, c_out, kernel, stride, 1, groups, "same")


class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, block: dict):
        super().__init__()
        expanded = block.get("expanded")
        self.expand = nn.Conv2d(c_in, int(expanded), 1) if expanded else None
        width = int(expanded or c_in)
        self.depthwise = same_conv(width, width, int(block["kernel"]), int(block["stride"]), groups=width)
        self.project = nn.Conv2d(width, int(block["channels"]), 1)
        self.residual = bool(block["residual"])

    def forward(self, x):
        y = F.relu6(self.expand(x)) if self.expand is not None else x
        y = self.project(F.relu6(self.depthwise(y)))
        return x + y if self.residual else y


class SeparableConv(nn.Module):
    """Depthwise (no bias) then 1x1 with a bias, then ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__()
        self.depthwise = same_conv(c_in, c_in, kernel, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x):
        return F.relu(self.pointwise(self.depthwise(x)))


class PyramidLevel(nn.Module):
    def __init__(self, c_top: int, c_lateral: int, channels: int, kernel: int):
        super().__init__()
        self.lateral = nn.Conv2d(c_lateral, c_top, 1)
        self.merge = SeparableConv(c_top, channels, kernel)

    def forward(self, top, lateral):
        upsampled = F.interpolate(top, scale_factor=2, mode="bilinear", align_corners=False)  # half-pixel centres
        return self.merge(upsampled + self.lateral(lateral))


class Head(nn.Module):
    def __init__(self, c_in: int, hidden: int, outputs: int, kernel: int, sigmoid: bool):
        super().__init__()
        self.hidden = SeparableConv(c_in, hidden, kernel)
        self.output = nn.Conv2d(hidden, outputs, 1)
        self.sigmoid = sigmoid

    def forward(self, x):
        x = self.output(self.hidden(x))
        return torch.sigmoid(x) if self.sigmoid else x


class MoveNetMultiPose(nn.Module):
    """images (B, C, H, W), H and W multiples of 32 -> the six head maps at stride 4, NCHW."""

    def __init__(self, arch: dict, heads=()):
        super().__init__()
        stem = arch["stem"]
        self.stem = same_conv(int(arch.get("input_channels", 3)), int(stem["channels"]), int(stem["kernel"]),
                              int(stem["stride"]))
        self.blocks = nn.ModuleList()
        widths = []  # each block's output channels
        c_in = int(stem["channels"])
        for block in arch["blocks"]:
            self.blocks.append(InvertedResidual(c_in, block))
            c_in = int(block["channels"])
            widths.append(c_in)
        self.last = nn.Conv2d(c_in, int(arch["last_channels"]), 1)
        fpn = arch["fpn"]
        self.top = nn.Conv2d(int(arch["last_channels"]), int(fpn["channels"]), 1)
        self.taps = [int(level["block"]) for level in fpn["levels"]]
        self.levels = nn.ModuleList()
        c_top = int(fpn["channels"])
        for level in fpn["levels"]:
            self.levels.append(PyramidLevel(c_top, widths[int(level["block"])], int(level["channels"]),
                                            int(fpn["kernel"])))
            c_top = int(level["channels"])
        keypoints = keypoint_count(arch, heads)
        hidden, kernel = int(arch["head"]["channels"]), int(arch["head"]["kernel"])
        self.heads = nn.ModuleDict({name: Head(c_top, hidden, channels, kernel, sigmoid)
                                    for name, channels, sigmoid in output_layout(keypoints)})

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = F.relu6(self.stem(images))
        tapped = {}
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.taps:
                tapped[index] = x
        x = self.top(F.relu6(self.last(x)))
        for tap, level in zip(self.taps, self.levels):
            x = level(x, tapped[tap])
        return tuple(head(x) for head in self.heads.values())
