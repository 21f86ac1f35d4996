"""KAPAO's networks: YOLOv5-style anchor-based detectors whose objects are people (pose objects,
class 0, with K keypoints as offsets) and single keypoints (keypoint objects, classes 1..K).

The architecture description is KAPAO's model yaml (layers `[source, repeats, block, args]`,
depth and width multiples); the head's metadata (heads.KapaoHead) holds the anchors and strides.
`forward` returns, as KAPAO's Detect does at inference, per anchor of every level
(B, anchors, 5 + 1 + K + 2K): box centre and size in input pixels, objectness, class scores and
K keypoints in input pixels.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..heads import single_head
from .yolo_blocks import (Concat, ConvBnAct, CSPThreeConv, Focus, SpatialPyramidPool, SpatialPyramidPoolFast,
                          LayeredNetwork, build_layers)

YOLOV5_BOTTLENECK = (1, 3)  # YOLOv5's bottleneck: a 1x1 then a 3x3 convolution


def scaled_channels(channels: int, width: float) -> int:
    """YOLOv5's width scaling: rounded up to a multiple of 8."""
    return int(math.ceil(channels * width / 8) * 8)


class KapaoDetect(nn.Module):
    """Per level a 1x1 convolution to anchors x outputs, decoded as KAPAO's Detect (inplace mode)."""

    def __init__(self, meta, in_channels):
        super().__init__()
        self.num_anchors, self.outputs = meta.num_anchors, meta.outputs_per_anchor
        self.num_keypoints = len(meta.skeleton)
        self.strides = tuple(float(s) for s in meta.strides)
        anchors = torch.tensor(meta.anchors, dtype=torch.float32).reshape(len(meta.strides), 1, -1, 1, 1, 2)
        self.register_buffer("anchor_sizes", anchors, persistent=False)
        self.m = nn.ModuleList(nn.Conv2d(c, self.num_anchors * self.outputs, 1) for c in in_channels)

    def raw(self, features):
        """Undecoded predictions per level: (B, anchors, H, W, outputs)."""
        levels = []
        for conv, feature in zip(self.m, features):
            b, _, h, w = feature.shape
            levels.append(conv(feature).view(b, self.num_anchors, self.outputs, h, w).permute(0, 1, 3, 4, 2))
        return levels

    def decode(self, raw_levels):
        decoded = []
        for level, (raw, stride) in enumerate(zip(raw_levels, self.strides)):
            b, _, h, w, _ = raw.shape
            ys, xs = torch.meshgrid(torch.arange(h, device=raw.device, dtype=torch.float32),
                                    torch.arange(w, device=raw.device, dtype=torch.float32), indexing="ij")
            grid = torch.stack((xs, ys), 2).view(1, 1, h, w, 2)
            anchor = self.anchor_sizes[level]
            y = raw.sigmoid()
            xy = (y[..., 0:2] * 2.0 - 0.5 + grid) * stride
            wh = (y[..., 2:4] * 2.0) ** 2 * anchor
            keypoints = y[..., -2 * self.num_keypoints:].reshape(b, self.num_anchors, h, w, self.num_keypoints, 2)
            keypoints = (keypoints * 4.0 - 2.0) * anchor.unsqueeze(4) + (grid * stride).unsqueeze(4)
            scores = y[..., 4:self.outputs - 2 * self.num_keypoints]
            parts = (xy, wh, scores, keypoints.flatten(4))
            decoded.append(torch.cat(parts, 4).reshape(b, -1, self.outputs))
        return torch.cat(decoded, 1)

    def forward(self, features):
        return self.decode(self.raw(features))


class KapaoNet(LayeredNetwork):
    """Backbone + neck from KAPAO's architecture description, and the KAPAO detection head.
    `forward` gives (B, anchors, 5 + 1 + K + 2K) decoded, `raw_outputs` per level (B, anchors,
    H, W, outputs)."""

    def __init__(self, arch: dict, heads):
        super().__init__()
        self.arch = arch
        self.head_meta = single_head(heads, "kapao")
        layers, sources = build_layers(arch, self._make_layer)
        if not isinstance(layers[-1], KapaoDetect):
            raise ValueError("the architecture description must end with its Detect block")
        self.model = nn.ModuleList(layers)
        self.sources = sources

    def _make_layer(self, block, args, repeats, c_in, source, out_channels):
        depth, width = self.arch["depth"], self.arch["width"]
        n = max(round(repeats * depth), 1) if repeats > 1 else repeats
        if block in ("Focus", "Conv", "C3", "SPP", "SPPF"):
            c_out = scaled_channels(args[0], width)
            if block == "Focus":
                return Focus(c_in, c_out, *args[1:]), c_out
            if block == "Conv":
                return ConvBnAct(c_in, c_out, *args[1:]), c_out
            if block == "C3":
                shortcut = bool(args[1]) if len(args) > 1 else True
                return CSPThreeConv(c_in, c_out, n, shortcut, bottleneck_kernels=YOLOV5_BOTTLENECK), c_out
            if block == "SPP":
                return SpatialPyramidPool(c_in, c_out, tuple(args[1]) if len(args) > 1 else (5, 9, 13)), c_out
            return SpatialPyramidPoolFast(c_in, c_out, *args[1:]), c_out
        if block == "nn.Upsample":
            return nn.Upsample(scale_factor=args[1], mode=args[2]), c_in
        if block == "Concat":
            return Concat(), sum(out_channels[s] for s in source)
        if block == "Detect":
            if len(source) != len(self.head_meta.strides):
                raise ValueError(f"the Detect block takes {len(source)} levels but the head has "
                                 f"{len(self.head_meta.strides)} strides")
            return KapaoDetect(self.head_meta, [out_channels[s] for s in source]), 0
        raise ValueError(f"unknown block {block!r} in the KAPAO architecture description")
