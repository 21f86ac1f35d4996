"""SimplePose V2 (OffsetGuided, Li et al.): keypoint heatmaps and, per limb of the skeleton, a
guiding offset from each cell near the limb's first keypoint to its second; people are grouped
greedily by following the offsets (decoders.guiding_offsets).

One output, `offset_fields` (B, channels, H, W) at `stride`, in this channel order:
- K heatmaps, confidence in 0..1 (after the sigmoid);
- K refinement offsets (x, y): from a cell's centre to the keypoint near it, in cells;
- L guiding offsets (x, y), one per limb (a, b): from a cell's centre near keypoint a to
  keypoint b of the same person, in cells.
Cell (i, j) is centred on input pixel ((j + 0.5) stride, (i + 0.5) stride).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .base import Codec, HeadMeta, edges_for_fields, register
from .training import LossTerm, TrainingContract

# INT8 keeps the output convolutions in float: the offsets are positions in cells, where 8-bit
# steps would move keypoints by pixels (node names of models.offsetguided's ONNX export)
SENSITIVE_LAYERS = re.compile(r"^/head/(heatmaps|refinement|guiding)/Conv$")


@dataclass(frozen=True)
class GuidingOffsetsHead(HeadMeta):
    """`limbs`: 0-based (from, to) keypoint pairs, a guiding offset field each (default: the
    skeleton's edges)."""

    stride: int = 4
    limbs: tuple[tuple[int, int], ...] = ()
    kind = "guiding_offsets"

    def __post_init__(self):
        if self.stride < 1:
            raise ValueError(f"guiding_offsets head: stride {self.stride} must be 1 or more")
        if not self.limbs:
            object.__setattr__(self, "limbs", tuple(edges_for_fields(self.skeleton, self.kind)))
        count = len(self.skeleton)
        for a, b in self.limbs:
            if not (0 <= a < count and 0 <= b < count) or a == b:
                raise ValueError(f"guiding_offsets head: limb ({a}, {b}) is not a pair of keypoints in 0..{count - 1}")

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("offset_fields",)

    @property
    def channels(self) -> int:
        return 3 * len(self.skeleton) + 2 * len(self.limbs)


class GuidingOffsetsCodec(Codec):
    kinds = ("guiding_offsets",)
    honoured_options = ("score_threshold", "max_detections")
    keypoint_threshold = 0.1  # every keypoint found is a heatmap peak above the decoder's threshold

    @property
    def head(self) -> GuidingOffsetsHead:
        return self.heads[0]

    def _decoder(self, options):
        from ..decoders.guiding_offsets import GuidingOffsetDecoder

        decode = GuidingOffsetDecoder(self.head.limbs, len(self.head.skeleton), self.head.stride,
                                      min_person_score=options.score_threshold, max_people=options.max_detections)
        name = self.head.output_names[0]
        return lambda outputs: decode(outputs[name])

    def encoder(self):
        from ..encoders.guiding_offsets import GuidingOffsetEncoder

        return GuidingOffsetEncoder(self.head)

    def training(self):
        from ..losses.guiding_offsets import GuidingOffsetsLoss  # torch: only for training

        loss = GuidingOffsetsLoss(self.encoder())
        # without validation the heatmaps and guiding offsets rank checkpoints: they make the people
        terms = tuple(LossTerm(name, weight, ranks=name != "refinement")
                      for name, weight in loss.weights.items())
        return TrainingContract(loss.targets, loss, terms, raw_outputs=self.head.output_names)

    def _retargeted(self, head, skeleton):
        return replace(head, skeleton=skeleton, limbs=edges_for_fields(skeleton, head.kind))

    def float_layers(self):
        return SENSITIVE_LAYERS


register(GuidingOffsetsHead, GuidingOffsetsCodec)
