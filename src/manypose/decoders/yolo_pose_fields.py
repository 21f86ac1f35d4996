"""Numpy decoding of the YOLO-pose head's raw per-level outputs (same maths as the network's
own decoding), for runtimes that compute the network in reduced precision."""
from __future__ import annotations

import numpy as np

REG_MAX = 16


def decode_levels(levels, strides, num_classes: int, keypoint_shape) -> np.ndarray:
    """Raw levels (B, 4*REG_MAX + classes + K*D, H, W), finest first -> (B, 4 + classes + K*D, anchors)."""
    batch = levels[0].shape[0]
    num_keypoints, dims = keypoint_shape
    flat = np.concatenate([level.reshape(batch, level.shape[1], -1) for level in levels], axis=2).astype(np.float32)
    anchors, anchor_strides = anchor_grid([level.shape[2:] for level in levels], strides)
    box_logits = flat[:, :4 * REG_MAX].reshape(batch, 4, REG_MAX, -1)
    box_logits = np.exp(box_logits - box_logits.max(axis=2, keepdims=True))
    distances = (box_logits * np.arange(REG_MAX, dtype=np.float32)[:, None]).sum(2) / box_logits.sum(2)
    top_left, bottom_right = anchors - distances[:, :2], anchors + distances[:, 2:]
    boxes = np.concatenate(((top_left + bottom_right) / 2, bottom_right - top_left), axis=1) * anchor_strides
    scores = sigmoid(flat[:, 4 * REG_MAX:4 * REG_MAX + num_classes])
    keypoints = flat[:, 4 * REG_MAX + num_classes:].reshape(batch, num_keypoints, dims, -1).copy()
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


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
