"""ResNet with bottleneck blocks (He et al. 2016; the stride in the 3x3 convolution, as torchvision
has it), as OpenPifPaf uses it: the max pool after the stem removed by default (stride 16).

The description is data, `backbone` in the architecture:
`{"kind": "resnet", "stem_channels", "stem_kernel", "stem_pool", "input_conv2", "stage_repeats",
"stage_widths", "expansion", "last_stage_dilation"}`. `stem_pool` keeps the 3x3 max pool at
stride 2; `input_conv2` adds a 3x3 convolution at stride 2 after the stem instead; a
`last_stage_dilation` above 1 runs the last stage at stride 1 with its 3x3 convolutions dilated.
"""
from __future__ import annotations

import torch
from torch import nn

from .conv_bn import ConvBn


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided, dilated), 1x1 expand, plus the input (projected where its shape changes)."""

    def __init__(self, c_in: int, width: int, c_out: int, stride: int, dilation: int, eps: float):
        super().__init__()
        self.reduce = ConvBn(c_in, width, eps=eps)
        self.spatial = ConvBn(width, width, 3, stride, dilation=dilation, eps=eps)
        self.expand = ConvBn(width, c_out, relu=False, eps=eps)
        projected = stride != 1 or c_in != c_out
        self.shortcut = ConvBn(c_in, c_out, 1, stride, relu=False, eps=eps) if projected else None

    def forward(self, x):
        shortcut = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(self.expand(self.spatial(self.reduce(x))) + shortcut)


class ResNet(nn.Module):
    """images (B, 3, H, W) -> features (B, last width * expansion, H / stride, W / stride)."""

    def __init__(self, description: dict, eps: float):
        super().__init__()
        stem = int(description["stem_channels"])
        if description.get("stem_pool") and description.get("input_conv2"):
            raise ValueError("ResNet: the second input convolution replaces the stem's max pool, not both")
        self.stem = ConvBn(3, stem, int(description["stem_kernel"]), 2, eps=eps)
        self.pool = nn.MaxPool2d(3, 2, 1) if description.get("stem_pool") else None
        self.input_conv2 = ConvBn(stem, stem, 3, 2, eps=eps) if description.get("input_conv2") else None
        self.stride = 2 * (2 if self.pool or self.input_conv2 else 1)
        expansion, dilation = int(description["expansion"]), int(description.get("last_stage_dilation", 1))
        repeats, widths = description["stage_repeats"], description["stage_widths"]
        if len(repeats) != len(widths):
            raise ValueError("ResNet: one repeat count and one width per stage")
        stages, c_in = [], stem
        for index, (count, width) in enumerate(zip(repeats, widths)):
            last = index == len(widths) - 1
            stage_dilation = dilation if last else 1
            stride = 1 if index == 0 or stage_dilation > 1 else 2
            self.stride *= stride
            c_out = int(width) * expansion
            blocks = [Bottleneck(c_in if i == 0 else c_out, int(width), c_out, stride if i == 0 else 1, stage_dilation,
                                 eps) for i in range(int(count))]
            stages.append(nn.Sequential(*blocks))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.out_channels = c_in

    def forward(self, x):
        x = self.stem(x)
        if self.pool is not None:
            x = self.pool(x)
        if self.input_conv2 is not None:
            x = self.input_conv2(x)
        return self.stages(x)
