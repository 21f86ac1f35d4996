"""Poses as objects: decoded network output -> person boxes, scores and keypoints."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..skeleton import Skeleton
from .nms import nms

MAX_CANDIDATES = 30000  # boxes considered by NMS, highest scores first


@dataclass(frozen=True)
class PoseObjectsDecoder:
    """Threshold on the person score, NMS on boxes, keep at most `max_detections`."""

    skeleton: Skeleton
    num_classes: int = 1
    score_threshold: float = 0.25
    iou_threshold: float = 0.7
    max_detections: int = 300

    def __call__(self, output: np.ndarray):
        """(4 + classes + 3K, anchors) for one image -> boxes xyxy (N,4), scores (N,), keypoints (N,K,3)."""
        scores = output[4:4 + self.num_classes].max(axis=0)
        candidates = np.flatnonzero(scores > self.score_threshold)
        if candidates.size > MAX_CANDIDATES:
            candidates = candidates[np.argsort(-scores[candidates])[:MAX_CANDIDATES]]
        chosen = output[:, candidates].T
        centres, sizes = chosen[:, 0:2], chosen[:, 2:4]
        boxes = np.concatenate((centres - sizes / 2, centres + sizes / 2), axis=1)
        kept = nms(boxes, scores[candidates], self.iou_threshold, self.max_detections)
        num_keypoints = len(self.skeleton)
        keypoint_dims = (output.shape[0] - 4 - self.num_classes) // num_keypoints
        keypoints = chosen[kept, 4 + self.num_classes:].reshape(len(kept), num_keypoints, keypoint_dims)
        if keypoints.shape[2] == 2:  # models without visibility: every keypoint counts as seen
            keypoints = np.concatenate((keypoints, np.ones_like(keypoints[..., :1])), axis=2)
        return boxes[kept], scores[candidates][kept], keypoints
