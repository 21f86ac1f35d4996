"""Network outputs to poses, one decoder per head kind.

Every decoder maps one image's network output to (boxes xyxy, scores, keypoints (N, K, 3)) in
network-input pixels and names the skeleton of its keypoints.
"""
from __future__ import annotations

from ..heads import PafHead, PoseObjectsHead
from .paf import OPENPOSE18_LIMBS, PafDecoder
from .yolo_pose import PoseObjectsDecoder


def decoder_for(head, score_threshold: float = 0.25, iou_threshold: float = 0.7, max_detections: int = 300):
    """The decoder for a head's metadata. Thresholds apply where the method has them."""
    if isinstance(head, PoseObjectsHead):
        return PoseObjectsDecoder(skeleton=head.skeleton, num_classes=head.num_classes,
                                  score_threshold=score_threshold, iou_threshold=iou_threshold,
                                  max_detections=max_detections)
    if isinstance(head, PafHead):
        return PafDecoder(limbs=head.limbs or OPENPOSE18_LIMBS, num_parts=len(head.skeleton), stride=head.stride)
    raise ValueError(f"no decoder for head kind {getattr(head, 'kind', head)!r}")
