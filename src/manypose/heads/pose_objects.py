"""Poses as objects (YOLO-pose): per anchor cell a box, person scores and K keypoints."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..decoders.kapao_fusion import FUSION_OPTIONS, NamedOutput, fusion_options
from ..decoders.yolo_pose import KeypointObjectsPoseDecoder, PoseObjectsDecoder, decode_levels
from .base import Codec, HeadMeta, register
from .training import LossTerm, TrainingContract

# INT8 keeps in float the last convolution of every branch (box distances, scores, keypoint
# offsets: 8-bit steps there move keypoints by pixels) and the keypoint branch's second
# convolution on the coarser levels (node names of our YOLO network's ONNX export)
SENSITIVE_LAYERS = re.compile(r"/cv[234]\.\d+\.2/Conv$|/cv4\.([1-9]\d*)/cv4\.\1\.1/")


@dataclass(frozen=True)
class PoseObjectsHead(HeadMeta):
    """Per anchor cell of each level: 4 box distances as distributions over `box_bins` bins,
    `num_classes` scores and K keypoints of `keypoint_dims` values (x, y[, visibility])."""

    num_classes: int = 1
    keypoint_dims: int = 3
    strides: tuple[int, ...] = (8, 16, 32)
    box_bins: int = 16
    # KAPAO's keypoint objects: classes 1..K are single keypoints, boxes of this fraction of the
    # input's long side around them in training (its kp_bbox), fused into the people when decoded
    keypoint_objects: bool = False
    keypoint_object_size: float = 0.05
    kind = "pose_objects"

    def __post_init__(self):
        if self.keypoint_dims not in (2, 3):
            raise ValueError(f"pose_objects head: keypoint_dims must be 2 or 3, not {self.keypoint_dims}")
        if self.keypoint_objects and self.num_classes != 1 + len(self.skeleton):
            raise ValueError(f"pose_objects head with keypoint objects: {1 + len(self.skeleton)} classes (the person, "
                             f"then one per keypoint), not {self.num_classes}")

    @property
    def keypoint_shape(self) -> tuple[int, int]:
        return len(self.skeleton), self.keypoint_dims

    @property
    def level_channels(self) -> int:
        """Channels of one level's raw output: box bins, scores, keypoints."""
        return 4 * self.box_bins + self.num_classes + len(self.skeleton) * self.keypoint_dims


class PoseObjectsCodec(Codec):
    """Decodes the network's decoded candidates (4 + classes + K*D, anchors) by score and NMS."""

    kinds = ("pose_objects",)

    @property
    def honoured_options(self) -> tuple[str, ...]:
        fusion = FUSION_OPTIONS if self.head.keypoint_objects else ()
        return ("score_threshold", "iou_threshold", "max_detections") + fusion

    @property
    def head(self) -> PoseObjectsHead:
        return self.heads[0]

    def _decoder(self, options):
        name = self.head.output_names[0]
        if self.head.keypoint_objects:
            return NamedOutput(name, KeypointObjectsPoseDecoder(
                self.head.skeleton, options.score_threshold, options.iou_threshold, options.max_detections,
                fusion_options(options), options.keypoint_objects))
        decode = PoseObjectsDecoder(self.head.skeleton, self.head.num_classes, options.score_threshold,
                                    options.iou_threshold, options.max_detections)
        return lambda outputs: decode(outputs[name])

    def training(self):
        from ..losses.pose_objects import PoseObjectsLoss  # torch: only for training

        loss = PoseObjectsLoss.for_head(self.head)
        # without validation the keypoint term alone ranks checkpoints: it is what the model is for
        terms = tuple(LossTerm(name, getattr(loss.gains, name), ranks=name == "pose") for name in loss.names)
        levels = tuple(f"{self.head.kind}_stride{stride}" for stride in self.head.strides)
        return TrainingContract(loss.targets, loss, terms, raw_outputs=levels)

    def float_layers(self):
        return SENSITIVE_LAYERS

    def reduced_precision_cut(self, graph_outputs):
        """The per-level concatenations of raw box, score and keypoint maps."""
        channels = self.head.level_channels
        levels = [index for index, (op_type, shape) in enumerate(graph_outputs)
                  if op_type == "Concat" and shape is not None and len(shape) == 4 and shape[1] == channels]
        if len(levels) != len(self.head.strides):
            raise ValueError(f"cannot find the {len(self.head.strides)} head outputs in the ONNX model "
                             f"(found {len(levels)} with {channels} channels)")
        return levels

    def outputs_from_cut(self, values):
        head = self.head
        decoded = decode_levels(values, head.strides, head.num_classes, head.keypoint_shape, head.box_bins)
        return {head.output_names[0]: decoded}


register(PoseObjectsHead, PoseObjectsCodec)
