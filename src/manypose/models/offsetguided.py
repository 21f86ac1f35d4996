"""SimplePose V2 (OffsetGuided) network: features at stride 4, then a 3x3 trunk and three 1x1
output convolutions: keypoint heatmaps (sigmoid), refinement offsets and guiding offsets
(heads.guiding_offsets has the layout). Two backbones:
- resnet: a ResNet brought back to stride 4 by a top-down path (each step upsampled x2 and
  added to the backbone's features of that stride, as a feature pyramid does);
- hourglass: the seed's choice, one hourglass (Newell et al.) of `depth` halvings after a
  stride-4 stem, residual blocks throughout; inputs are multiples of 4 * 2^depth.

Architecture description: `{"family": "offsetguided", "variant", "batch_norm_eps",
"neck_channels", "backbone": {"kind": "resnet", models.resnet's entries, stem_pool true} or
{"kind": "hourglass", "depth", "channels"}}`.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..heads import single_head
from .conv_bn import BATCH_NORM_EPS, ConvBn, fold_batch_norms
from .resnet import ResNet

_RESNET = {"kind": "resnet", "stem_channels": 64, "stem_kernel": 7, "stem_pool": True, "input_conv2": False,
           "stage_widths": [64, 128, 256, 512], "expansion": 4, "last_stage_dilation": 1}
VARIANTS = {  # backbone, neck channels
    "offsetguided-resnet50": ({**_RESNET, "stage_repeats": [3, 4, 6, 3]}, 256),
    "offsetguided-resnet26": ({**_RESNET, "stage_repeats": [2, 2, 2, 2]}, 128),
    "offsetguided-hourglass": ({"kind": "hourglass", "depth": 4, "channels": 256}, 256),
}
HEATMAP_PRIOR = 0.01  # the heatmaps start near the background's value, as a focal loss's classifier


def architecture(variant: str) -> dict:
    if variant not in VARIANTS:
        raise ValueError(f"unknown OffsetGuided variant {variant!r}; known: {', '.join(VARIANTS)}")
    backbone, neck = VARIANTS[variant]
    return {"family": "offsetguided", "variant": variant, "batch_norm_eps": BATCH_NORM_EPS, "neck_channels": neck,
            "backbone": copy.deepcopy(backbone)}


def input_stride(backbone: dict) -> int:
    """The multiple of which the network's inputs must be."""
    return 4 * 2 ** int(backbone["depth"]) if backbone["kind"] == "hourglass" else 32


class ResNetTopDown(nn.Module):
    """Images -> features at stride 4: ResNet stages (strides 4, 8, 16, 32), then top-down."""

    def __init__(self, description: dict, channels: int, eps: float):
        super().__init__()
        self.resnet = ResNet(description, eps)
        if self.resnet.stride != 32:
            raise ValueError(f"OffsetGuided: the ResNet must reach stride 32 (stem pool, four stages), not "
                             f"{self.resnet.stride}")
        widths = [int(width) * int(description["expansion"]) for width in description["stage_widths"]]
        self.lateral = nn.ModuleList(ConvBn(width, channels, eps=eps) for width in widths)
        self.smooth = nn.ModuleList(ConvBn(channels, channels, 3, eps=eps) for _ in widths[:-1])

    def forward(self, images):
        x = self.resnet.pool(self.resnet.stem(images))
        features = []
        for stage in self.resnet.stages:
            x = stage(x)
            features.append(x)
        x = self.lateral[-1](features[-1])
        for level in range(len(features) - 2, -1, -1):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest") + self.lateral[level](features[level])
            x = self.smooth[level](x)
        return x


class Residual(nn.Module):
    """Two 3x3 convolutions added to the input (projected where the width changes)."""

    def __init__(self, c_in: int, c_out: int, eps: float):
        super().__init__()
        self.first = ConvBn(c_in, c_out, 3, eps=eps)
        self.second = ConvBn(c_out, c_out, 3, relu=False, eps=eps)
        self.shortcut = ConvBn(c_in, c_out, relu=False, eps=eps) if c_in != c_out else None

    def forward(self, x):
        shortcut = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(self.second(self.first(x)) + shortcut)


class Hourglass(nn.Module):
    """x -> the same size: a skip branch plus a branch halved, recursed `depth` times, doubled back."""

    def __init__(self, depth: int, channels: int, eps: float):
        super().__init__()
        self.skip = Residual(channels, channels, eps)
        self.down = Residual(channels, channels, eps)
        self.inner = Hourglass(depth - 1, channels, eps) if depth > 1 else Residual(channels, channels, eps)
        self.up = Residual(channels, channels, eps)

    def forward(self, x):
        inner = self.up(self.inner(self.down(F.max_pool2d(x, 2))))
        return self.skip(x) + F.interpolate(inner, scale_factor=2.0, mode="nearest")


class HourglassBackbone(nn.Module):
    """Images -> features at stride 4: a 7x7 stride-2 stem, a residual block, a max pool, the hourglass."""

    def __init__(self, description: dict, channels: int, eps: float):
        super().__init__()
        width = int(description["channels"])
        self.stem = nn.Sequential(ConvBn(3, width // 2, 7, 2, eps=eps), Residual(width // 2, width, eps),
                                  nn.MaxPool2d(2))
        self.hourglass = Hourglass(int(description["depth"]), width, eps)
        self.out = ConvBn(width, channels, eps=eps)

    def forward(self, images):
        return self.out(self.hourglass(self.stem(images)))


BACKBONES = {"resnet": ResNetTopDown, "hourglass": HourglassBackbone}


class OutputHead(nn.Module):
    def __init__(self, channels: int, keypoints: int, limbs: int, eps: float):
        super().__init__()
        self.trunk = ConvBn(channels, channels, 3, eps=eps)
        self.heatmaps = nn.Conv2d(channels, keypoints, 1)
        self.refinement = nn.Conv2d(channels, 2 * keypoints, 1)
        self.guiding = nn.Conv2d(channels, 2 * limbs, 1)
        nn.init.constant_(self.heatmaps.bias, -math.log((1 - HEATMAP_PRIOR) / HEATMAP_PRIOR))

    def forward(self, x):
        x = self.trunk(x)
        return torch.cat((torch.sigmoid(self.heatmaps(x)), self.refinement(x), self.guiding(x)), 1)


class OffsetGuidedNet(nn.Module):
    def __init__(self, arch: dict, heads):
        super().__init__()
        meta = single_head(heads, "guiding_offsets")
        if meta.stride != 4:
            raise ValueError(f"OffsetGuided: the head sits at stride 4, not {meta.stride}")
        eps, channels = float(arch.get("batch_norm_eps", BATCH_NORM_EPS)), int(arch["neck_channels"])
        kind = arch["backbone"].get("kind")
        if kind not in BACKBONES:
            raise ValueError(f"OffsetGuided: unknown backbone {kind!r}; known: {', '.join(BACKBONES)}")
        self.backbone = BACKBONES[kind](arch["backbone"], channels, eps)
        self.head = OutputHead(channels, len(meta.skeleton), len(meta.limbs), eps)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Normalized RGB images (B, 3, H, W), H and W multiples of the input stride -> fields (B, C, H/4, W/4)."""
        return self.head(self.backbone(images))

    def raw_outputs(self, images: torch.Tensor) -> tuple[torch.Tensor]:
        """The fields the loss reads: the inference output itself."""
        return (self(images),)

    def fold_batch_norms(self) -> "OffsetGuidedNet":
        return fold_batch_norms(self)
