"""Heatmaps + part affinity fields: tf-pose-estimation's MobileNetV2 OpenPose network.

The architecture description (data, see `MobileNetOpenPose`) lists the backbone's inverted
residual blocks, which two block outputs form the features, and the layers of the refinement
stages, so every width setting of the published graphs (mobilenet_v2 small, large) builds
from it. Three behaviours of the published TensorFlow graphs are kept so outputs match:
- the backbone's batch norms normalize with the statistics of the image itself (the graphs
  were frozen in training mode), i.e. instance normalization;
- stride-2 convolutions pad like TensorFlow's SAME (the extra row and column at the end);
- the coarse features are upsampled with TensorFlow 1's bilinear resize (no half-pixel offset).
Output: (B, heatmaps + pafs, H/8, W/8), heatmaps first (the last one is the background); the
counts come from the head's metadata (heads.PafHead).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..heads import single_head


class TfSamePad(nn.Module):
    """TensorFlow SAME padding for strided convolutions: any odd extra goes bottom / right."""

    def __init__(self, kernel_size: int, stride: int):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x):
        pads = []
        for size in (x.shape[3], x.shape[2]):  # F.pad wants the last dimension first
            # the ceiling from positive numbers only: exported to ONNX, division truncates
            outputs = (size + self.stride - 1) // self.stride
            total = max((outputs - 1) * self.stride + self.kernel_size - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads)


def conv_norm_act(c_in: int, c_out: int, kernel_size: int = 1, stride: int = 1, groups: int = 1,
                  activation: bool = True) -> nn.Sequential:
    """Conv (TF SAME padding), per-image normalization, optional ReLU6."""
    layers = []
    if stride > 1:
        layers += [TfSamePad(kernel_size, stride), nn.Conv2d(c_in, c_out, kernel_size, stride, 0, groups=groups, bias=False)]
    else:
        layers += [nn.Conv2d(c_in, c_out, kernel_size, 1, kernel_size // 2, groups=groups, bias=False)]
    layers.append(nn.InstanceNorm2d(c_out, eps=1e-3, affine=True))
    if activation:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: optional 1x1 expansion, 3x3 depthwise, 1x1 projection, residual."""

    def __init__(self, c_in: int, expanded: int, c_out: int, stride: int):
        super().__init__()
        self.expand = conv_norm_act(c_in, expanded) if expanded != c_in else nn.Identity()
        self.depthwise = conv_norm_act(expanded, expanded, 3, stride, groups=expanded)
        self.project = conv_norm_act(expanded, c_out, activation=False)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


def resize_bilinear_tf1(x, height: int, width: int):
    """TensorFlow 1's bilinear resize without corner alignment: source = target * in / out."""
    def positions(out_size, in_size):
        source = torch.arange(out_size, dtype=torch.float32, device=x.device) * (in_size / out_size)
        low = source.floor().clamp(max=in_size - 1)
        return low.long(), (low + 1).clamp(max=in_size - 1).long(), source - low

    y0, y1, fy = positions(height, x.shape[2])
    x0, x1, fx = positions(width, x.shape[3])
    rows = x[:, :, y0] * (1 - fy)[:, None] + x[:, :, y1] * fy[:, None]
    return rows[..., x0] * (1 - fx) + rows[..., x1] * fx


class SeparableStage(nn.Module):
    """One branch of a refinement stage: depthwise then pointwise (bias from the folded batch
    norm) per layer, ReLU between layers."""

    def __init__(self, c_in: int, layers):
        super().__init__()
        modules = []
        for index, (kernel_size, c_out) in enumerate(layers):
            modules += [nn.Conv2d(c_in, c_in, kernel_size, 1, kernel_size // 2, groups=c_in, bias=False),
                        nn.Conv2d(c_in, c_out, 1)]
            if index + 1 < len(layers):
                modules.append(nn.ReLU())
            c_in = c_out
        self.layers = nn.Sequential(*modules)

    def forward(self, x):
        return self.layers(x)


class MobileNetOpenPose(nn.Module):
    """Architecture description keys: stem (channels), blocks ([expanded, out, stride] each),
    fine_block / coarse_block (indices of the blocks whose outputs make the features),
    stage_layers (per stage, [kernel, channels] of each layer of the PAF branch; the heatmap
    branch is the same but for its last layer's channels, which the head sets)."""

    def __init__(self, arch: dict, heads):
        super().__init__()
        self.arch = arch
        head = single_head(heads, "paf")
        self.stem = conv_norm_act(3, arch["stem"], 3, 2)
        blocks, c_in = [], arch["stem"]
        for expanded, c_out, stride in arch["blocks"]:
            blocks.append(InvertedResidual(c_in, expanded, c_out, stride))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.fine_block, self.coarse_block = arch["fine_block"], arch["coarse_block"]
        features = arch["blocks"][self.fine_block][1] + arch["blocks"][self.coarse_block][1]
        pafs, heatmaps = head.paf_channels, head.heatmap_channels
        stages = [[tuple(layer) for layer in stage] for stage in arch["stage_layers"]]
        stage_inputs = [features] + [features + pafs + heatmaps] * (len(stages) - 1)
        self.paf_stages = nn.ModuleList(
            SeparableStage(c, layers[:-1] + [(layers[-1][0], pafs)]) for c, layers in zip(stage_inputs, stages))
        self.heatmap_stages = nn.ModuleList(
            SeparableStage(c, layers[:-1] + [(layers[-1][0], heatmaps)]) for c, layers in zip(stage_inputs, stages))

    def features(self, image):
        x = self.stem(image)
        fine = None
        for index, block in enumerate(self.blocks[:self.coarse_block + 1]):
            x = block(x)
            if index == self.fine_block:
                fine = x
        coarse = resize_bilinear_tf1(x, fine.shape[2], fine.shape[3])
        return torch.cat((fine, coarse), 1)

    def forward(self, image):
        """BGR images (B, 3, H, W) in 0..255 -> (B, heatmaps + pafs, H/8, W/8)."""
        features = self.features(image)
        x = features
        for paf_stage, heatmap_stage in zip(self.paf_stages, self.heatmap_stages):
            pafs, heatmaps = paf_stage(x), heatmap_stage(x)
            x = torch.cat((pafs, heatmaps, features), 1)
        return torch.cat((heatmaps, pafs), 1)
