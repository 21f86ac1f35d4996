"""People as centre-heatmap peaks, their keypoints regressed from the centre and snapped to
keypoint-heatmap peaks (CenterNet; MoveNet MultiPose): per grid cell a centre score, a box
size and offset, and per keypoint a regression from the centre, a heatmap score and an
offset."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..decoders.centers import CenterDecoder
from .base import Codec, HeadMeta, register

# MoveNet's sparse centre and keypoint heatmaps vanish under 8-bit activations (dev AP 0.000 with
# the heads alone in float, 0.089 with the pyramid too); in INT8 only the stem and the first
# three inverted-residual blocks: 0.235 against float's 0.256
SENSITIVE_LAYERS = re.compile(r"^/blocks\.3/")
MOVENET = CenterDecoder()  # its defaults are MoveNet MultiPose's constants


def output_layout(keypoints: int) -> tuple[tuple[str, int, bool], ...]:
    """The network's outputs in order: (name, channels, whether they are scores from a sigmoid)."""
    return (("centers", 1, True), ("keypoint_heatmaps", keypoints, True),
            ("keypoint_regression", 2 * keypoints, False), ("keypoint_offsets", 2 * keypoints, False),
            ("box_sizes", 2, False), ("box_offsets", 2, False))


@dataclass(frozen=True)
class CentersHead(HeadMeta):
    """Cell (i, j) of the output grid sits at input pixel (stride j, stride i). The decoding's
    constants (see decoders.centers) default to MoveNet MultiPose's, the float16 values its
    graph holds; the importer reads them from the graph."""

    stride: int = MOVENET.stride
    max_people: int = MOVENET.max_people
    peak_window: int = MOVENET.peak_window
    peak_tolerance: float = MOVENET.peak_tolerance
    regression_spread: float = MOVENET.regression_spread
    keypoint_score_threshold: float = MOVENET.keypoint_score_threshold
    kind = "centers"

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in output_layout(len(self.skeleton)))


class CentersCodec(Codec):
    """The graph's own decoding in numpy (see decoders.centers); people scored below the score
    threshold are dropped (0.25 by default, as pose-detection's minPoseScore)."""

    kinds = ("centers",)
    honoured_options = ("score_threshold", "max_detections")
    needs_float32 = True  # bfloat16 heatmaps turn near-ties between peaks: keypoints snap to the other peak

    @property
    def head(self) -> CentersHead:
        return self.heads[0]

    def _decoder(self, options):
        head = self.head
        return CenterDecoder(head.stride, head.max_people, head.peak_window, head.peak_tolerance,
                             head.regression_spread, head.keypoint_score_threshold, options.score_threshold,
                             options.max_detections)

    def float_layers(self):
        return SENSITIVE_LAYERS


register(CentersHead, CentersCodec)
