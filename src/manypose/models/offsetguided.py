"""SimplePose V2 (OffsetGuided) network: a ResNet backbone brought back to stride 4 by a
top-down path (each step upsampled x2 and added to the backbone's features of that stride, as
a feature pyramid does), then a 3x3 trunk and three 1x1 output convolutions: keypoint heatmaps
(sigmoid), refinement offsets and guiding offsets (heads.guiding_offsets has the layout). The
seed's hourglass backbone is not offered.

Architecture description: `{"family": "offsetguided", "variant", "batch_norm_eps",
"neck_channels", "backbone": {models.resnet's entries, stem_pool true: stride 4 after the stem}}`.
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
}
HEATMAP_PRIOR = 0.01  # the heatmaps start near the background's value, as a focal loss's classifier


def architecture(variant: str) -> dict:
    if variant not in VARIANTS:
        raise ValueError(f"unknown OffsetGuided variant {variant!r}; known: {', '.join(VARIANTS)}")
    backbone, neck = VARIANTS[variant]
    return {"family": "offsetguided", "variant": variant, "batch_norm_eps": BATCH_NORM_EPS, "neck_channels": neck,
            "backbone": copy.deepcopy(backbone)}


class TopDown(nn.Module):
    """Backbone stages (strides 4, 8, 16, 32) -> features at stride 4."""

    def __init__(self, widths, channels: int, eps: float):
        super().__init__()
        self.lateral = nn.ModuleList(ConvBn(width, channels, eps=eps) for width in widths)
        self.smooth = nn.ModuleList(ConvBn(channels, channels, 3, eps=eps) for _ in widths[:-1])

    def forward(self, features):
        x = self.lateral[-1](features[-1])
        for level in range(len(features) - 2, -1, -1):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest") + self.lateral[level](features[level])
            x = self.smooth[level](x)
        return x


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
        eps = float(arch.get("batch_norm_eps", BATCH_NORM_EPS))
        self.backbone = ResNet(arch["backbone"], eps)
        if self.backbone.stride != 32 or meta.stride != 4:
            raise ValueError("OffsetGuided: the backbone must reach stride 32 (stem pool, four stages) and the "
                             f"head sit at stride 4, not {self.backbone.stride} and {meta.stride}")
        expansion = int(arch["backbone"]["expansion"])
        widths = [int(width) * expansion for width in arch["backbone"]["stage_widths"]]
        self.neck = TopDown(widths, int(arch["neck_channels"]), eps)
        self.head = OutputHead(int(arch["neck_channels"]), len(meta.skeleton), len(meta.limbs), eps)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Normalized RGB images (B, 3, H, W), H and W multiples of 32 -> fields (B, C, H/4, W/4)."""
        backbone = self.backbone
        x = backbone.pool(backbone.stem(images))
        features = []
        for stage in backbone.stages:
            x = stage(x)
            features.append(x)
        return self.head(self.neck(features))

    def raw_outputs(self, images: torch.Tensor) -> tuple[torch.Tensor]:
        """The fields the loss reads: the inference output itself."""
        return (self(images),)

    def fold_batch_norms(self) -> "OffsetGuidedNet":
        return fold_batch_norms(self)
