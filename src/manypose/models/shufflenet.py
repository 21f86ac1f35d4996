"""ShuffleNetV2K, OpenPifPaf's backbone: ShuffleNet V2 (Ma et al. 2018) with wider stages, 5x5
depthwise kernels and no max pool, at stride 16.

The description is data, `backbone` in the architecture:
`{"kind": "shufflenetv2k", "stem_channels", "input_conv2_channels", "stage_repeats": [3 ints],
"stage_channels": [3 ints], "final_channels", "kernel"}`. The stem is a 3x3 convolution at
stride 2; `input_conv2_channels` > 0 adds a second one (stride 32 then); each stage starts with a
block at stride 2 and the last is followed by a 1x1 convolution to `final_channels`.
"""
from __future__ import annotations

import torch
from torch import nn

from .conv_bn import ConvBn


def channel_shuffle(x: torch.Tensor, groups: int = 2) -> torch.Tensor:
    """Interleave the channels of `groups` parts (0, C / 2, 1, C / 2 + 1, ... for two), so that
    the next block's split mixes both branches. A reshape, not a gather by channel: OpenVINO
    2026.4 computes a gather by channel followed by a 1x1 convolution wrongly."""
    return x.unflatten(1, (groups, -1)).transpose(1, 2).flatten(1, 2)


class ShuffleBlock(nn.Module):
    """A stage's first block (`downsample`: both branches at stride 2, from all input channels)
    or a later one (the main branch on one half of the channels, the other half passed on)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, downsample: bool, eps: float):
        super().__init__()
        half = c_out // 2
        stride = 2 if downsample else 1
        self.shortcut = nn.Sequential(
            ConvBn(c_in, c_in, kernel, stride, groups=c_in, relu=False, eps=eps),
            ConvBn(c_in, half, eps=eps),
        ) if downsample else None
        main_in = c_in if downsample else half
        self.main = nn.Sequential(
            ConvBn(main_in, half, eps=eps),
            ConvBn(half, half, kernel, stride, groups=half, relu=False, eps=eps),
            ConvBn(half, half, eps=eps),
        )

    def forward(self, x):
        if self.shortcut is None:
            kept, x = x.chunk(2, dim=1)
            return channel_shuffle(torch.cat((kept, self.main(x)), 1))
        return channel_shuffle(torch.cat((self.shortcut(x), self.main(x)), 1))


class ShuffleNetV2K(nn.Module):
    """images (B, 3, H, W) -> features (B, final_channels, H / stride, W / stride)."""

    def __init__(self, description: dict, eps: float):
        super().__init__()
        stem, conv2 = int(description["stem_channels"]), int(description.get("input_conv2_channels", 0))
        kernel = int(description["kernel"])
        self.stem = ConvBn(3, stem, 3, 2, eps=eps)
        self.input_conv2 = ConvBn(stem, conv2, 3, 2, eps=eps) if conv2 else None
        c_in = conv2 or stem
        if len(description["stage_repeats"]) != len(description["stage_channels"]):
            raise ValueError("ShuffleNetV2K: one repeat count and one channel count per stage")
        stages = []
        for repeats, channels in zip(description["stage_repeats"], description["stage_channels"]):
            if channels % 2:
                raise ValueError(f"ShuffleNetV2K: stage channels must be even, not {channels}")
            blocks = [ShuffleBlock(c_in, channels, kernel, True, eps)]
            blocks += [ShuffleBlock(channels, channels, kernel, False, eps) for _ in range(int(repeats) - 1)]
            stages.append(nn.Sequential(*blocks))
            c_in = channels
        self.stages = nn.Sequential(*stages)
        self.out_channels = int(description["final_channels"])
        self.final = ConvBn(c_in, self.out_channels, eps=eps)
        self.stride = 2 ** (1 + bool(conv2) + len(stages))

    def forward(self, x):
        x = self.stem(x)
        if self.input_conv2 is not None:
            x = self.input_conv2(x)
        return self.final(self.stages(x))
