"""Lightweight OpenPose (Osokin, 2018): MobileNetV1 to conv5_5 at stride 8, a CPM, an initial
stage and N refinement stages, each predicting keypoint heatmaps and part affinity fields.

Architecture description keys: channels (CPM width, 128), refinement_stages, width (of the
backbone's layers, 1.0; narrower for tiny test runs).
Output: (B, heatmaps + pafs, H/8, W/8) of the last stage, heatmaps first; the counts come from
the head's metadata (heads.PafHead). Training reads every stage's maps (`raw_outputs`).
"""
from __future__ import annotations

import torch
from torch import nn

from ..heads import single_head

# MobileNetV1 depthwise-separable blocks after the stem: (in, out, stride, dilation)
BACKBONE_BLOCKS = ((32, 64, 1, 1), (64, 128, 2, 1), (128, 128, 1, 1), (128, 256, 2, 1), (256, 256, 1, 1),
                   (256, 512, 1, 1), (512, 512, 1, 2), (512, 512, 1, 1), (512, 512, 1, 1), (512, 512, 1, 1),
                   (512, 512, 1, 1))


def backbone_blocks(width: float) -> tuple:
    """BACKBONE_BLOCKS with their channels times `width` (at least 8)."""
    def scaled(channels):
        return max(8, int(channels * width))

    return tuple((scaled(c_in), scaled(c_out), stride, dilation) for c_in, c_out, stride, dilation in BACKBONE_BLOCKS)


class StemBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, 2, 1, bias=False)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, x):
        return torch.relu(self.norm(self.conv(x)))


class SeparableBlock(nn.Module):
    """Depthwise 3x3 and pointwise 1x1 convolutions, each with batch norm and ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int, dilation: int):
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, 3, stride, dilation, dilation=dilation, groups=c_in, bias=False)
        self.depthwise_norm = nn.BatchNorm2d(c_in)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.pointwise_norm = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = torch.relu(self.depthwise_norm(self.depthwise(x)))
        return torch.relu(self.pointwise_norm(self.pointwise(x)))


class SeparableEluBlock(nn.Module):
    """Depthwise then pointwise convolution, no bias or norm, ELU after each (the CPM's)."""

    def __init__(self, channels: int):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels, bias=False)
        self.pointwise = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x):
        return nn.functional.elu(self.pointwise(nn.functional.elu(self.depthwise(x))))


class Cpm(nn.Module):
    """Convolutional pose machine adapter: 512 -> channels, a residual ELU trunk, a 3x3 conv."""

    def __init__(self, c_in: int, channels: int):
        super().__init__()
        self.align = nn.Conv2d(c_in, channels, 1)
        self.trunk = nn.Sequential(*(SeparableEluBlock(channels) for _ in range(3)))
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x):
        x = torch.relu(self.align(x))
        return torch.relu(self.conv(x + self.trunk(x)))


class OutputHead(nn.Module):
    def __init__(self, c_in: int, hidden: int, c_out: int):
        super().__init__()
        self.hidden = nn.Conv2d(c_in, hidden, 1)
        self.output = nn.Conv2d(hidden, c_out, 1)

    def forward(self, x):
        return self.output(torch.relu(self.hidden(x)))


class InitialStage(nn.Module):
    def __init__(self, channels: int, heatmaps: int, pafs: int):
        super().__init__()
        self.trunk = nn.ModuleList(nn.Conv2d(channels, channels, 3, 1, 1) for _ in range(3))
        self.heatmaps = OutputHead(channels, 512, heatmaps)
        self.pafs = OutputHead(channels, 512, pafs)

    def forward(self, x):
        for conv in self.trunk:
            x = torch.relu(conv(x))
        return self.heatmaps(x), self.pafs(x)


class RefinementBlock(nn.Module):
    """1x1 entry, then 3x3 and dilated 3x3 convolutions (bias and batch norm), added back."""

    def __init__(self, c_in: int, channels: int):
        super().__init__()
        self.entry = nn.Conv2d(c_in, channels, 1)
        self.conv_a = nn.Conv2d(channels, channels, 3, 1, 1)
        self.norm_a = nn.BatchNorm2d(channels)
        self.conv_b = nn.Conv2d(channels, channels, 3, 1, 2, dilation=2)
        self.norm_b = nn.BatchNorm2d(channels)

    def forward(self, x):
        x = torch.relu(self.entry(x))
        y = torch.relu(self.norm_a(self.conv_a(x)))
        return x + torch.relu(self.norm_b(self.conv_b(y)))


class RefinementStage(nn.Module):
    def __init__(self, c_in: int, channels: int, heatmaps: int, pafs: int):
        super().__init__()
        self.blocks = nn.Sequential(RefinementBlock(c_in, channels),
                                    *(RefinementBlock(channels, channels) for _ in range(4)))
        self.heatmaps = OutputHead(channels, channels, heatmaps)
        self.pafs = OutputHead(channels, channels, pafs)

    def forward(self, x):
        x = self.blocks(x)
        return self.heatmaps(x), self.pafs(x)


class LightweightOpenPose(nn.Module):
    def __init__(self, arch: dict, heads):
        super().__init__()
        self.arch = arch
        head = single_head(heads, "paf")
        channels, heatmaps, pafs = arch.get("channels", 128), head.heatmap_channels, head.paf_channels
        blocks = backbone_blocks(arch.get("width", 1.0))
        self.backbone = nn.Sequential(StemBlock(blocks[0][0]), *(SeparableBlock(*block) for block in blocks))
        self.cpm = Cpm(blocks[-1][1], channels)
        self.initial_stage = InitialStage(channels, heatmaps, pafs)
        self.refinement_stages = nn.ModuleList(
            RefinementStage(channels + heatmaps + pafs, channels, heatmaps, pafs)
            for _ in range(arch["refinement_stages"]))

    def stages(self, image):
        """Every stage's (heatmaps, pafs), first to last."""
        features = self.cpm(self.backbone(image))
        outputs = [self.initial_stage(features)]
        for stage in self.refinement_stages:
            outputs.append(stage(torch.cat((features, *outputs[-1]), 1)))
        return outputs

    def raw_outputs(self, image):
        """Every stage's heatmaps (B, stages, heatmaps, h, w) and fields (B, stages, pafs, h, w),
        which the loss reads."""
        heatmaps, pafs = zip(*self.stages(image))
        return torch.stack(heatmaps, 1), torch.stack(pafs, 1)

    def forward(self, image):
        """BGR images (B, 3, H, W) normalized as (pixel - 128) / 256 -> last stage's fields."""
        return torch.cat(self.stages(image)[-1], 1)
