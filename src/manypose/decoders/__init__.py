"""Network outputs to poses, one decoder per head kind."""
from __future__ import annotations

from ..heads import PoseObjectsHead
from .yolo_pose import PoseObjectsDecoder


def decoder_for(head, **options):
    """The decoder for a head's metadata; options (thresholds) pass through."""
    if isinstance(head, PoseObjectsHead):
        return PoseObjectsDecoder(num_keypoints=len(head.skeleton), num_classes=head.num_classes, **options)
    raise ValueError(f"no decoder for head kind {getattr(head, 'kind', head)!r}")
