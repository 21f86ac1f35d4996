"""How alike two people's poses are: COCO's object keypoint similarity (OKS), and OKS blended
with box overlap where keypoints are missing; used to follow people across frames (track) and
to merge the views of test-time augmentation (tta)."""
from __future__ import annotations

import numpy as np

from .decoders.nms import box_iou


def pose_similarity(track_keypoints, track_boxes, keypoints, boxes, sigmas, keypoint_threshold: float):
    """(T, D) similarity in 0..1 of T tracks and D people: the mean of OKS and box IoU, or IoU
    alone where a pair shares no keypoint seen by both."""
    iou = box_iou(track_boxes[:, None], boxes[None])
    oks, shared = object_keypoint_similarity(track_keypoints, track_boxes, keypoints, sigmas, keypoint_threshold)
    return np.where(shared, 0.5 * (oks + iou), iou)


def object_keypoint_similarity(track_keypoints, track_boxes, keypoints, sigmas, keypoint_threshold: float):
    """COCO's OKS of each track against each person over the keypoints both see, scaled by the
    track's box area; and whether the pair shares any keypoint."""
    seen = (track_keypoints[:, None, :, 2] >= keypoint_threshold) & (keypoints[None, :, :, 2] >= keypoint_threshold)
    distances = ((track_keypoints[:, None, :, :2] - keypoints[None, :, :, :2]) ** 2).sum(-1)
    widths = track_boxes[:, 2:] - track_boxes[:, :2]
    areas = np.maximum(widths.prod(-1), 1.0)[:, None, None]
    per_keypoint = np.exp(-distances / (2 * areas * (2 * np.asarray(sigmas)) ** 2))
    count = seen.sum(-1)
    return (per_keypoint * seen).sum(-1) / np.maximum(count, 1), count > 0

