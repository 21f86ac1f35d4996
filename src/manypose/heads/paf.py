"""Bottom-up OpenPose fields: keypoint heatmaps (plus background) and part affinity fields."""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..decoders.paf import PafDecoder
from ..encoders.paf import PafEncoder
from ..skeleton import COCO17, OPENPOSE18, openpose18_to_coco17
from .base import Codec, HeadMeta, edges_for_fields, register
from .training import LossTerm, TrainingContract

# OpenPose COCO model: (part a, part b, field channel x, field channel y) per limb, in the
# order of the published network's field channels
OPENPOSE18_LIMBS = (
    (1, 2, 12, 13), (1, 5, 20, 21), (2, 3, 14, 15), (3, 4, 16, 17), (5, 6, 22, 23), (6, 7, 24, 25),
    (1, 8, 0, 1), (8, 9, 2, 3), (9, 10, 4, 5), (1, 11, 6, 7), (11, 12, 8, 9), (12, 13, 10, 11),
    (1, 0, 28, 29), (0, 14, 30, 31), (14, 16, 34, 35), (0, 15, 32, 33), (15, 17, 36, 37),
    (2, 16, 18, 19), (5, 17, 26, 27),
)

# the published limbs plus shoulder-shoulder, hip-hip, shoulder-hip, nose-shoulder and ear-ear:
# people stay connected when the neck (needs both shoulders) or a joint is missing. For
# models trained by manypose; field channels 38.. follow the published ones.
DENSE_EXTRA_LIMBS = ((2, 5), (8, 11), (2, 8), (5, 11), (0, 2), (0, 5), (16, 17))
OPENPOSE18_DENSE_LIMBS = OPENPOSE18_LIMBS + tuple(
    (a, b, 38 + 2 * i, 39 + 2 * i) for i, (a, b) in enumerate(DENSE_EXTRA_LIMBS))


@dataclass(frozen=True)
class PafHead(HeadMeta):
    """One output at `stride`: a heatmap per keypoint and a background heatmap, then an (x, y)
    pair of field channels per limb. `limbs`: (part a, part b, field channel x, field channel y)."""

    stride: int = 8
    limbs: tuple[tuple[int, int, int, int], ...] = OPENPOSE18_LIMBS
    kind = "paf"

    def __post_init__(self):
        channels = sorted(channel for limb in self.limbs for channel in limb[2:])
        if channels != list(range(self.paf_channels)):
            raise ValueError("paf head: the limbs' field channels must be 0..2*limbs-1, each once")
        parts = len(self.skeleton)
        if any(not (0 <= part < parts) for limb in self.limbs for part in limb[:2]):
            raise ValueError(f"paf head: a limb names a part outside 0..{parts - 1}")

    @property
    def heatmap_channels(self) -> int:
        return len(self.skeleton) + 1

    @property
    def paf_channels(self) -> int:
        return 2 * len(self.limbs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("fields",)


class PafCodec(Codec):
    """Groups parts into people along the fields; OpenPose-18 models report COCO-17 poses (the
    neck, the shoulders' midpoint, is dropped) so that they evaluate and draw as COCO."""

    kinds = ("paf",)
    honoured_options = ("score_threshold", "max_detections")
    keypoint_threshold = 0.01  # every part found is a heatmap peak (0.05 and up, often under 0.5)

    @property
    def head(self) -> PafHead:
        return self.heads[0]

    @property
    def skeleton(self):
        return COCO17 if self.head.skeleton == OPENPOSE18 else self.head.skeleton

    def _decoder(self, options):
        decode = PafDecoder(self.head.limbs, len(self.head.skeleton), self.head.stride,
                            min_person_score=options.score_threshold, max_people=options.max_detections)
        name, to_coco = self.head.output_names[0], self.skeleton is not self.head.skeleton

        def decoder(outputs):
            boxes, scores, keypoints = decode(outputs[name])
            return boxes, scores, openpose18_to_coco17(keypoints) if to_coco else keypoints
        return decoder

    def encoder(self) -> PafEncoder:
        return PafEncoder(self.head.limbs, len(self.head.skeleton), self.head.stride)

    def training(self):
        from ..losses.paf import PafLoss  # torch: only for training

        loss = PafLoss(self.encoder())
        # both weigh 1, as in the original; without validation their sum ranks checkpoints
        return TrainingContract(loss.targets, loss, tuple(LossTerm(name) for name in loss.names),
                                raw_outputs=("stage_heatmaps", "stage_fields"))

    def _retargeted(self, head, skeleton):
        edges = edges_for_fields(skeleton, head.kind)  # a limb each, its field channels in edge order
        limbs = tuple((a, b, 2 * i, 2 * i + 1) for i, (a, b) in enumerate(edges))
        return replace(head, skeleton=skeleton, limbs=limbs)


register(PafHead, PafCodec)
