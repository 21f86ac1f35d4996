"""OpenPifPaf's networks: a backbone (ShuffleNetV2K or ResNet) and one composite-field head per
CIF / CAF head, each a single 1x1 convolution followed by a pixel shuffle.

The architecture description is data: `{"family": "pifpaf", "variant", "batch_norm_eps",
"backbone": {"kind": "shufflenetv2k" | "resnet", ...}}` (see models.shufflenet and
models.resnet for the backbone's entries, `ARCHITECTURES` for the published ones). The heads'
metadata (heads.CifHead, heads.CafHead) size the head convolutions: fields x components x
upsample^2 channels. `forward` returns OpenPifPaf's evaluation-mode fields, the layout that
heads.composite_fields documents; `raw_outputs` the maps the training loss reads.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .conv_bn import BATCH_NORM_EPS, fold_batch_norms
from .resnet import ResNet
from .shufflenet import ShuffleNetV2K

BACKBONES = {"shufflenetv2k": ShuffleNetV2K, "resnet": ResNet}

_SHUFFLENET = {"kind": "shufflenetv2k", "input_conv2_channels": 0, "kernel": 5}
ARCHITECTURES = {
    "shufflenetv2k16": {**_SHUFFLENET, "stem_channels": 24, "stage_repeats": [4, 8, 4],
                        "stage_channels": [348, 696, 1392], "final_channels": 1392},
    "shufflenetv2k30": {**_SHUFFLENET, "stem_channels": 32, "stage_repeats": [8, 16, 6],
                        "stage_channels": [512, 1024, 2048], "final_channels": 2048},
    "resnet50": {"kind": "resnet", "stem_channels": 64, "stem_kernel": 7, "stem_pool": False, "input_conv2": False,
                 "stage_repeats": [3, 4, 6, 3], "stage_widths": [64, 128, 256, 512], "expansion": 4,
                 "last_stage_dilation": 1},
}


def architecture(variant: str) -> dict:
    """The architecture description of a published backbone, e.g. "shufflenetv2k16"."""
    if variant not in ARCHITECTURES:
        raise ValueError(f"unknown OpenPifPaf backbone {variant!r}; known: {', '.join(ARCHITECTURES)}")
    return {"family": "pifpaf", "variant": variant, "batch_norm_eps": BATCH_NORM_EPS,
            "backbone": copy.deepcopy(ARCHITECTURES[variant])}


class CompositeFieldHead(nn.Module):
    """features -> (B, fields, components, H, W): a 1x1 convolution, a pixel shuffle by the
    head's upsample factor, and OpenPifPaf's crop of the borders the shuffle adds (its output
    cell i sits on input pixel stride * i, so an upsampled grid has one cell too many).

    The features' height and width are passed in, worked out from the image's: ONNX export
    would fix the sizes it reads from the features at those of the traced input (it cannot
    follow them through the backbone's channel shuffles)."""

    def __init__(self, meta, in_channels: int):
        super().__init__()
        self.fields, self.components, self.upsample = meta.fields, meta.components, meta.upsample
        self.vectors = (self.components - 2) // 3  # b and confidence, then per vector (x, y) and a scale
        self.conv = nn.Conv2d(in_channels, self.fields * self.components * self.upsample ** 2, 1)

    def raw(self, features: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The undecoded maps: b, confidence logit, regressions relative to their cell, scales before softplus."""
        u = self.upsample
        x = self.conv(features)
        # torch's pixel shuffle written out, splitting off the fields on the way
        x = x.reshape(-1, self.fields, self.components, u, u, height, width).permute(0, 1, 2, 5, 3, 6, 4)
        x = x.reshape(-1, self.fields, self.components, height * u, width * u)
        if u > 1:
            low, high = (u - 1) // 2, u // 2  # OpenPifPaf's floor and ceiling of (u - 1) / 2
            x = x[..., low:-high, low:-high]
        return x

    def decode(self, raw: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """OpenPifPaf's evaluation transforms: sigmoid confidence, regressions made absolute in
        grid cells, softplus scales. `height` and `width`: of the features."""
        cells = [torch.arange(size * self.upsample - self.upsample + 1, dtype=raw.dtype, device=raw.device)
                 for size in (width, height)]
        xs, ys = cells[0], cells[1].unsqueeze(1)
        positions = []
        for first in range(2, 2 + 2 * self.vectors, 2):  # x then y of each vector
            positions += [raw[:, :, first:first + 1] + xs, raw[:, :, first + 1:first + 2] + ys]
        scales = F.softplus(raw[:, :, 2 + 2 * self.vectors:])
        return torch.cat((raw[:, :, :1], raw[:, :, 1:2].sigmoid(), *positions, scales), 2)

    def forward(self, features: torch.Tensor, height: int, width: int) -> torch.Tensor:
        return self.decode(self.raw(features, height, width), height, width)


class PifPafNet(nn.Module):
    """images (B, 3, H, W), normalized as the model's input spec says -> one field tensor per head."""

    def __init__(self, arch: dict, heads):
        super().__init__()
        description = arch["backbone"]
        if description.get("kind") not in BACKBONES:
            raise ValueError(f"unknown OpenPifPaf backbone kind {description.get('kind')!r}; known: "
                             f"{', '.join(BACKBONES)}")
        self.backbone = BACKBONES[description["kind"]](description, float(arch.get("batch_norm_eps", BATCH_NORM_EPS)))
        for head in heads:
            if head.kind not in ("cif", "caf"):
                raise ValueError(f"an OpenPifPaf network has cif and caf heads, not {head.kind}")
            if head.stride * head.upsample != self.backbone.stride:
                raise ValueError(f"the {head.kind} head's stride {head.stride} times its upsample {head.upsample} "
                                 f"is not the backbone's stride {self.backbone.stride}")
        self.heads = nn.ModuleList(CompositeFieldHead(head, self.backbone.out_channels) for head in heads)
        self.to(memory_format=torch.channels_last)  # see raw_outputs

    def feature_size(self, images: torch.Tensor) -> tuple[int, int]:
        """(height, width) of the backbone's features: each stride-2 layer halves a side, rounding up."""
        stride = self.backbone.stride  # a positive ceiling: ONNX's integer division truncates
        return (images.shape[2] + stride - 1) // stride, (images.shape[3] + stride - 1) // stride

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features, size = self.backbone(images), self.feature_size(images)
        return tuple(head(features, *size) for head in self.heads)

    def raw_outputs(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The undecoded maps per head (B, fields, components, H, W), which the training loss reads.
        Channels last: the 5x5 depthwise convolutions train several times faster so on CPUs."""
        images = images.contiguous(memory_format=torch.channels_last)
        features, size = self.backbone(images), self.feature_size(images)
        return tuple(head.raw(features, *size) for head in self.heads)

    def fold_batch_norms(self) -> "PifPafNet":
        return fold_batch_norms(self)
