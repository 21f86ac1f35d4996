"""Poses as objects (YOLO-pose) in numpy: decoded network output -> person boxes, scores and
keypoints, and the decoding of raw per-level outputs.

The network decodes its levels itself (`models.yolo_pose.PoseHead.decode`), inside the graph
where ONNX Runtime fuses it; `decode_levels` is the same maths in float32 numpy for runtimes
that compute the network in reduced precision (bfloat16 would put decoded coordinates on 2-4
pixel steps). A test keeps the two in step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..skeleton import Skeleton
from .finite import sigmoid
from .kapao_fusion import FusingDecoder, KeypointObjects, keypoint_objects
from .nms import corner_boxes, nms

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
        """(4 + classes + K*D, anchors) for one image -> boxes xyxy (N,4), scores (N,), keypoints (N,K,3)."""
        scores = output[4:4 + self.num_classes].max(axis=0)
        candidates = np.flatnonzero(scores > self.score_threshold)
        if candidates.size > MAX_CANDIDATES:
            candidates = candidates[np.argsort(-scores[candidates])[:MAX_CANDIDATES]]
        chosen = output[:, candidates].T
        boxes = corner_boxes(chosen[:, 0:2], chosen[:, 2:4])
        kept = nms(boxes, scores[candidates], self.iou_threshold, self.max_detections)
        num_keypoints = len(self.skeleton)
        keypoint_dims = (output.shape[0] - 4 - self.num_classes) // num_keypoints
        keypoints = chosen[kept, 4 + self.num_classes:].reshape(len(kept), num_keypoints, keypoint_dims)
        if keypoints.shape[2] == 2:  # models without visibility: every keypoint counts as seen
            keypoints = np.concatenate((keypoints, np.ones_like(keypoints[..., :1])), axis=2)
        return boxes[kept], scores[candidates][kept], keypoints


class KeypointObjectsPoseDecoder(FusingDecoder):
    """For a head whose classes are the person then one per keypoint (KAPAO's keypoint objects on
    a YOLO-pose head): people are the candidates whose best class is the person, decoded as
    PoseObjectsDecoder does; the others are keypoint objects, NMS'd per class and fused into the
    people (decoders.kapao_fusion), where they are more confident than the person's own keypoint."""

    def __post_init__(self):
        super().__post_init__()
        self.people = PoseObjectsDecoder(self.skeleton, 1, self.score_threshold, self.iou_threshold,
                                         self.max_detections)

    def objects(self, output: np.ndarray):
        num_keypoints = len(self.skeleton)
        class_scores = output[4:5 + num_keypoints]
        best = class_scores.argmax(axis=0)
        person_rows = np.concatenate((output[:5], output[5 + num_keypoints:]))
        boxes, scores, keypoints = self.people(np.where(best == 0, person_rows, 0))
        objects = KeypointObjects.empty()
        if self.use_keypoint_objects:
            parts = np.flatnonzero(best > 0)
            part_boxes = corner_boxes(output[0:2, parts].T, output[2:4, parts].T)
            objects = keypoint_objects(part_boxes, class_scores[best[parts], parts], best[parts] - 1, self.fusion)
        return boxes, scores, keypoints, objects


def decode_levels(levels, strides, num_classes: int, keypoint_shape, box_bins: int) -> np.ndarray:
    """Raw levels (B, 4*box_bins + classes + K*D, H, W), finest first -> (B, 4 + classes + K*D, anchors)."""
    batch = levels[0].shape[0]
    num_keypoints, dims = keypoint_shape
    flat = np.concatenate([level.reshape(batch, level.shape[1], -1) for level in levels], axis=2).astype(np.float32)
    anchors, anchor_strides = anchor_grid([level.shape[2:] for level in levels], strides)
    box_logits = flat[:, :4 * box_bins].reshape(batch, 4, box_bins, -1)
    box_logits = np.exp(box_logits - box_logits.max(axis=2, keepdims=True))
    distances = (box_logits * np.arange(box_bins, dtype=np.float32)[:, None]).sum(2) / box_logits.sum(2)
    top_left, bottom_right = anchors - distances[:, :2], anchors + distances[:, 2:]
    boxes = np.concatenate(((top_left + bottom_right) / 2, bottom_right - top_left), axis=1) * anchor_strides
    scores = sigmoid(flat[:, 4 * box_bins:4 * box_bins + num_classes])
    keypoints = flat[:, 4 * box_bins + num_classes:].reshape(batch, num_keypoints, dims, -1).copy()
    keypoints[:, :, :2] = (keypoints[:, :, :2] * 2.0 + (anchors - 0.5)) * anchor_strides
    if dims == 3:
        keypoints[:, :, 2] = sigmoid(keypoints[:, :, 2])
    return np.concatenate((boxes, scores, keypoints.reshape(batch, num_keypoints * dims, -1)), axis=1)


def anchor_grid(shapes, strides):
    """Cell centres (2, N) in grid units and each one's stride (N,)."""
    points, anchor_strides = [], []
    for (height, width), stride in zip(shapes, strides):
        ys, xs = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
        points.append(np.stack((xs.reshape(-1), ys.reshape(-1))))
        anchor_strides.append(np.full(height * width, stride))
    return np.concatenate(points, 1).astype(np.float32), np.concatenate(anchor_strides).astype(np.float32)
