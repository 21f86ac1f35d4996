"""KAPAO's head: per anchor of each level a box, objectness, a person class and one class per
keypoint, and K keypoints; people are pose objects, keypoints found alone keypoint objects,
fused into the people (decoders.kapao)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..decoders.kapao import KapaoDecoder, unviewed_candidates
from ..decoders.kapao_fusion import FUSION_OPTIONS, NamedOutput, fusion_options
from .base import Codec, HeadMeta, register

# the anchors (width, height pixels, 3 per level) of KAPAO's *6 models (its models/yolov5*6.yaml)
P6_ANCHORS = ((19, 27, 44, 40, 38, 94), (96, 68, 86, 152, 180, 137), (140, 301, 303, 264, 238, 542),
              (436, 615, 739, 380, 925, 792))


@dataclass(frozen=True)
class KapaoHead(HeadMeta):
    """Per anchor: box (4), objectness, 1 + K class scores, K keypoints (x, y); `anchors` in input
    pixels, one row of (width, height) pairs per level of `strides`."""

    anchors: tuple[tuple[float, ...], ...] = P6_ANCHORS
    strides: tuple[int, ...] = (8, 16, 32, 64)
    kind = "kapao"

    def __post_init__(self):
        if len(self.anchors) != len(self.strides) or len({len(row) for row in self.anchors}) != 1 \
                or len(self.anchors[0]) % 2:
            raise ValueError(f"kapao head: one row of (width, height) anchor pairs per stride, not {self.anchors}")

    @property
    def num_anchors(self) -> int:
        return len(self.anchors[0]) // 2

    @property
    def num_classes(self) -> int:
        return 1 + len(self.skeleton)

    @property
    def outputs_per_anchor(self) -> int:
        return 5 + self.num_classes + 2 * len(self.skeleton)


class KapaoCodec(Codec):
    """Decodes the network's candidates into fused poses with KAPAO's post-processing."""

    kinds = ("kapao",)
    merges_view_candidates = True
    needs_float32 = True  # it decodes pixel coordinates in the graph: bfloat16 would put them on steps
    honoured_options = ("score_threshold", "iou_threshold", "max_detections") + FUSION_OPTIONS

    @property
    def head(self) -> KapaoHead:
        return self.heads[0]

    def _decoder(self, options):
        return NamedOutput(self.head.output_names[0], KapaoDecoder(
            self.head.skeleton, options.score_threshold, options.iou_threshold, options.max_detections,
            fusion_options(options), options.keypoint_objects))


    def merged_view_outputs(self, views, width: int) -> dict:
        """KAPAO's test-time augmentation: the candidates of every view ((outputs, scale,
        mirrored), batch of one) brought back to the plain input of `width` pixels and put
        together, to be decoded (NMS, fusion) as one image's."""
        name = self.head.output_names[0]
        flip = self.head.skeleton.flip
        merged = [unviewed_candidates(outputs[name][0], scale, mirrored, width, flip)
                  for outputs, scale, mirrored in views]
        return {name: np.concatenate(merged)[None]}


register(KapaoHead, KapaoCodec)
