"""Poses as objects: the YOLOv8-pose and YOLO11-pose networks, built from an architecture description.

The description is data (see `ARCHITECTURES`): a list of layers `[source, repeats, block, args]`
in the published layout, plus the depth / width / max-channel scales of one size (n, s, m, l, x).
The head, sized from its metadata (heads.PoseObjectsHead), predicts per anchor point a box
(distribution over distances), person scores and K keypoints (offset from the anchor cell,
visibility logit); `forward` returns them decoded in input pixels as (B, 4 + classes + 3K,
anchors), which the decoder turns into poses.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ..heads import single_head
from .yolo_blocks import (Concat, ConvBnAct, CSPAttention, CSPTwoConv, CSPTwoConvK2,
                          LayeredNetwork, SpatialPyramidPoolFast, build_layers, depthwise)

_V8_LAYERS = {
    "backbone": [
        [-1, 1, "Conv", [64, 3, 2]], [-1, 1, "Conv", [128, 3, 2]], [-1, 3, "C2f", [128, True]],
        [-1, 1, "Conv", [256, 3, 2]], [-1, 6, "C2f", [256, True]], [-1, 1, "Conv", [512, 3, 2]],
        [-1, 6, "C2f", [512, True]], [-1, 1, "Conv", [1024, 3, 2]], [-1, 3, "C2f", [1024, True]],
        [-1, 1, "SPPF", [1024, 5]],
    ],
    "head": [
        [-1, 1, "nn.Upsample", [None, 2, "nearest"]], [[-1, 6], 1, "Concat", [1]],
        [-1, 3, "C2f", [512]], [-1, 1, "nn.Upsample", [None, 2, "nearest"]],
        [[-1, 4], 1, "Concat", [1]], [-1, 3, "C2f", [256]], [-1, 1, "Conv", [256, 3, 2]],
        [[-1, 12], 1, "Concat", [1]], [-1, 3, "C2f", [512]], [-1, 1, "Conv", [512, 3, 2]],
        [[-1, 9], 1, "Concat", [1]], [-1, 3, "C2f", [1024]],
        [[15, 18, 21], 1, "Pose", ["nc", "kpt_shape"]],
    ],
    "scales": {"n": [0.33, 0.25, 1024], "s": [0.33, 0.50, 1024], "m": [0.67, 0.75, 768],
               "l": [1.00, 1.00, 512], "x": [1.00, 1.25, 512]},
}

_V11_LAYERS = {
    "backbone": [
        [-1, 1, "Conv", [64, 3, 2]], [-1, 1, "Conv", [128, 3, 2]],
        [-1, 2, "C3k2", [256, False, 0.25]], [-1, 1, "Conv", [256, 3, 2]],
        [-1, 2, "C3k2", [512, False, 0.25]], [-1, 1, "Conv", [512, 3, 2]],
        [-1, 2, "C3k2", [512, True]], [-1, 1, "Conv", [1024, 3, 2]], [-1, 2, "C3k2", [1024, True]],
        [-1, 1, "SPPF", [1024, 5]], [-1, 2, "C2PSA", [1024]],
    ],
    "head": [
        [-1, 1, "nn.Upsample", [None, 2, "nearest"]], [[-1, 6], 1, "Concat", [1]],
        [-1, 2, "C3k2", [512, False]], [-1, 1, "nn.Upsample", [None, 2, "nearest"]],
        [[-1, 4], 1, "Concat", [1]], [-1, 2, "C3k2", [256, False]], [-1, 1, "Conv", [256, 3, 2]],
        [[-1, 13], 1, "Concat", [1]], [-1, 2, "C3k2", [512, False]], [-1, 1, "Conv", [512, 3, 2]],
        [[-1, 10], 1, "Concat", [1]], [-1, 2, "C3k2", [1024, True]],
        [[16, 19, 22], 1, "Pose", ["nc", "kpt_shape"]],
    ],
    "scales": {"n": [0.50, 0.25, 1024], "s": [0.50, 0.50, 1024], "m": [0.50, 1.00, 512],
               "l": [1.00, 1.00, 512], "x": [1.00, 1.50, 512]},
}

FAMILIES = {"yolov8-pose": _V8_LAYERS, "yolo11-pose": _V11_LAYERS}


def architecture(family: str, size: str) -> dict:
    """The architecture description of one published size, e.g. ("yolo11-pose", "n")."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    layers = FAMILIES[family]
    if size not in layers["scales"]:
        raise ValueError(f"unknown size {size!r} for {family}; known: {', '.join(layers['scales'])}")
    depth, width, max_channels = layers["scales"][size]
    return {
        "family": "yolo_pose",
        "variant": family,
        "size": size,
        "depth": depth,
        "width": width,
        "max_channels": max_channels,
        "backbone": copy.deepcopy(layers["backbone"]),
        "head": copy.deepcopy(layers["head"]),
    }


def round_channels(channels: float) -> int:
    return int(math.ceil(channels / 8) * 8)


class PoseHead(nn.Module):
    """Per level: box branch (cv2), score branch (cv3) and keypoint branch (cv4), sized from the
    head's metadata (a heads.PoseObjectsHead)."""

    def __init__(self, meta, in_channels, light_score_branch: bool):
        super().__init__()
        num_classes = self.num_classes = meta.num_classes
        self.num_keypoints, self.keypoint_dims = meta.keypoint_shape
        self.box_bins = meta.box_bins
        self.strides = tuple(float(s) for s in meta.strides)
        self.register_buffer("bins", torch.arange(self.box_bins, dtype=torch.float32), persistent=False)
        box_width = max(16, in_channels[0] // 4, 4 * self.box_bins)
        score_width = max(in_channels[0], min(num_classes, 100))
        keypoint_width = max(in_channels[0] // 4, self.num_keypoints * self.keypoint_dims)
        self.cv2 = nn.ModuleList(self._branch(c, box_width, 4 * self.box_bins) for c in in_channels)
        self.cv3 = nn.ModuleList(
            self._light_branch(c, score_width, num_classes) if light_score_branch
            else self._branch(c, score_width, num_classes) for c in in_channels)
        self.cv4 = nn.ModuleList(
            self._branch(c, keypoint_width, self.num_keypoints * self.keypoint_dims) for c in in_channels)

    @staticmethod
    def _branch(c_in: int, width: int, c_out: int) -> nn.Sequential:
        return nn.Sequential(ConvBnAct(c_in, width, 3), ConvBnAct(width, width, 3), nn.Conv2d(width, c_out, 1))

    @staticmethod
    def _light_branch(c_in: int, width: int, c_out: int) -> nn.Sequential:
        """YOLO11's score branch: depthwise 3x3 + pointwise 1x1, twice."""
        return nn.Sequential(
            nn.Sequential(depthwise(c_in, c_in, 3), ConvBnAct(c_in, width, 1)),
            nn.Sequential(depthwise(width, width, 3), ConvBnAct(width, width, 1)),
            nn.Conv2d(width, c_out, 1),
        )

    def raw(self, features):
        """Undecoded predictions per level: list of (B, 4*box_bins + classes + 3K, H, W)."""
        return [torch.cat((self.cv2[i](f), self.cv3[i](f), self.cv4[i](f)), 1) for i, f in enumerate(features)]

    def anchor_points(self, raw_levels):
        """Cell centres (2, N) in grid units and the stride of each (N,)."""
        points, strides = [], []
        for level, stride in zip(raw_levels, self.strides):
            h, w = level.shape[2:]
            ys = torch.arange(h, dtype=torch.float32, device=level.device) + 0.5
            xs = torch.arange(w, dtype=torch.float32, device=level.device) + 0.5
            grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
            points.append(torch.stack((grid_x.reshape(-1), grid_y.reshape(-1))))
            strides.append(torch.full((h * w,), stride, device=level.device))
        return torch.cat(points, 1), torch.cat(strides)

    def decode(self, raw_levels):
        b = raw_levels[0].shape[0]
        flat = torch.cat([level.reshape(b, level.shape[1], -1) for level in raw_levels], 2)
        box_logits, score_logits, keypoints = flat.split(
            (4 * self.box_bins, self.num_classes, self.num_keypoints * self.keypoint_dims), 1)
        anchors, strides = self.anchor_points(raw_levels)
        distances = box_logits.reshape(b, 4, self.box_bins, -1).softmax(2)
        distances = (distances * self.bins.reshape(1, 1, -1, 1)).sum(2)
        top_left = anchors - distances[:, :2]
        bottom_right = anchors + distances[:, 2:]
        boxes = torch.cat(((top_left + bottom_right) / 2, bottom_right - top_left), 1) * strides
        return torch.cat((boxes, score_logits.sigmoid(), self.decode_keypoints(keypoints, anchors, strides)), 1)

    def decode_keypoints(self, keypoints, anchors, strides):
        b = keypoints.shape[0]
        k = keypoints.reshape(b, self.num_keypoints, self.keypoint_dims, -1)
        xy = (k[:, :, :2] * 2.0 + (anchors - 0.5).unsqueeze(0).unsqueeze(0)) * strides
        parts = [xy]
        if self.keypoint_dims == 3:
            parts.append(k[:, :, 2:3].sigmoid())
        return torch.cat(parts, 2).reshape(b, self.num_keypoints * self.keypoint_dims, -1)

    def forward(self, features):
        return self.decode(self.raw(features))


class YoloPoseNet(LayeredNetwork):
    """Backbone + neck + pose head from an architecture description (see `architecture`) and
    the head's metadata. `forward` gives (B, 4 + classes + 3K, anchors) decoded, `raw_outputs`
    per level (B, 4 * bins + classes + K * dims, H, W)."""

    def __init__(self, arch: dict, heads):
        super().__init__()
        self.arch = arch
        self.head_meta = single_head(heads, "pose_objects")
        layers, sources = build_layers(arch, self._make_layer)
        if not isinstance(layers[-1], PoseHead):
            raise ValueError("the architecture description must end with its Pose block")
        self.model = nn.ModuleList(layers)
        self.sources = sources

    def _scaled_repeats(self, repeats: int) -> int:
        return max(round(repeats * self.arch["depth"]), 1) if repeats > 1 else repeats

    def _scaled_channels(self, channels: int) -> int:
        return round_channels(min(channels, self.arch["max_channels"]) * self.arch["width"])

    def _make_layer(self, block, args, repeats, c_in, source, out_channels):
        arch = self.arch
        n = self._scaled_repeats(repeats)
        if block == "Conv":
            c_out = self._scaled_channels(args[0])
            return ConvBnAct(c_in, c_out, *args[1:]), c_out
        if block == "C2f":
            c_out = self._scaled_channels(args[0])
            return CSPTwoConv(c_in, c_out, n, *args[1:]), c_out
        if block == "C3k2":
            c_out = self._scaled_channels(args[0])
            use_c3k = bool(args[1]) if len(args) > 1 else False
            expansion = args[2] if len(args) > 2 else 0.5
            # the larger published sizes use C3k inner blocks everywhere
            use_c3k = use_c3k or arch.get("size") in ("m", "l", "x")
            return CSPTwoConvK2(c_in, c_out, n, use_c3k, expansion), c_out
        if block == "SPPF":
            c_out = self._scaled_channels(args[0])
            return SpatialPyramidPoolFast(c_in, c_out, *args[1:]), c_out
        if block == "C2PSA":
            c_out = self._scaled_channels(args[0])
            return CSPAttention(c_in, c_out, n), c_out
        if block == "nn.Upsample":
            return nn.Upsample(scale_factor=args[1], mode=args[2]), c_in
        if block == "Concat":
            return Concat(), sum(out_channels[s] for s in source)
        if block == "Pose":
            if len(source) != len(self.head_meta.strides):
                raise ValueError(f"the Pose block takes {len(source)} levels but the head has "
                                 f"{len(self.head_meta.strides)} strides")
            light = any(layer[2] == "C3k2" for layer in arch["backbone"])
            return PoseHead(self.head_meta, [out_channels[s] for s in source], light), 0
        raise ValueError(f"unknown block {block!r} in the architecture description")

