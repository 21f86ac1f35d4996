"""KAPAO's decoding in numpy: the network's decoded candidates -> pose objects (class 0) and
keypoint objects (classes 1..K), each after KAPAO's NMS, then fused (decoders.kapao_fusion).

A candidate's class is its best class score times its objectness; pose objects are the
candidates whose best class is the person, above the score threshold, NMS'd; keypoint objects
those whose best class is a keypoint, above the fusion options' keypoint threshold, NMS'd per
class (KAPAO's val.py `run_nms`). Pose objects carry no keypoint confidence: KAPAO enters their
keypoints at 0 into the fusion; a keypoint no keypoint object replaced comes out here with the
person's score.

Fusion runs in network-input pixels here (`tolerance` is in those pixels; KAPAO measures on the
original image, the same where the image is not resized; `tolerance_fraction` needs neither).
"""
from __future__ import annotations

import numpy as np

from ..skeleton import Skeleton
from .kapao_fusion import FusingDecoder, KeypointObjects, keypoint_objects
from .nms import corner_boxes, nms

MAX_CANDIDATES = 30000  # boxes considered by NMS, highest scores first (KAPAO's max_nms)


class KapaoDecoder(FusingDecoder):
    """(anchors, 5 + 1 + K + 2K) candidates of one image -> boxes, scores, fused keypoints."""

    def objects(self, output: np.ndarray):
        """Pose objects (boxes xyxy, scores, keypoints (N, K, 3) at confidence 0) and keypoint
        objects, in network-input pixels."""
        num_keypoints = len(self.skeleton)
        boxes, scores, classes, rows = best_class_candidates(output, num_keypoints, self.score_threshold)
        people = classes == 0
        kept = nms(boxes[people], scores[people], self.iou_threshold, self.max_detections)
        keypoints = rows[people][kept, -2 * num_keypoints:].reshape(-1, num_keypoints, 2)
        keypoints = np.concatenate((keypoints, np.zeros_like(keypoints[..., :1])), axis=2)
        objects = KeypointObjects.empty()
        if self.use_keypoint_objects:
            boxes_kp, scores_kp, classes_kp, _ = best_class_candidates(output, num_keypoints,
                                                                       self.fusion.keypoint_threshold)
            parts = classes_kp > 0
            objects = keypoint_objects(boxes_kp[parts], scores_kp[parts], classes_kp[parts] - 1, self.fusion)
        return boxes[people][kept], scores[people][kept], keypoints, objects

    def finished(self, fused: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Keypoints no keypoint object replaced get the person's score (pose objects have none)."""
        fused[..., 2] = np.where(fused[..., 2] == 0, scores[:, None], fused[..., 2])
        return fused


def best_class_candidates(output: np.ndarray, num_keypoints: int, threshold: float):
    """Candidates whose objectness and best class score (times objectness) pass `threshold`:
    boxes xyxy, scores, best class (0: person), their rows; at most MAX_CANDIDATES, best first."""
    output = output[output[:, 4] > threshold]
    class_scores = output[:, 5:output.shape[1] - 2 * num_keypoints] * output[:, 4:5]
    classes = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(output)), classes]
    chosen = np.flatnonzero(scores > threshold)
    if chosen.size > MAX_CANDIDATES:
        chosen = chosen[np.argsort(-scores[chosen], kind="stable")[:MAX_CANDIDATES]]
    rows = output[chosen]
    boxes = corner_boxes(rows[:, :2], rows[:, 2:4])
    return boxes, scores[chosen], classes[chosen], rows


def unviewed_candidates(candidates: np.ndarray, scale: float, mirrored: bool, width: int, flip: tuple) -> np.ndarray:
    """One test-time view's candidates (N, 5 + 1 + K + 2K) in the plain input's pixels: scaled
    back and, for a mirrored view, mirrored back with left and right swapped in the keypoint
    classes and the keypoints, as KAPAO's `_descale_pred`."""
    num_keypoints = len(flip)
    coordinates = slice(-2 * num_keypoints, None)
    out = candidates.copy()
    out[:, :4] /= scale
    out[:, coordinates] /= scale
    if mirrored:
        flip = list(flip)
        out[:, 0] = width - out[:, 0]
        out[:, 6:6 + num_keypoints] = out[:, 6:6 + num_keypoints][:, flip]
        xs, ys = width - out[:, coordinates][:, 0::2], out[:, coordinates][:, 1::2]
        out[:, coordinates] = np.stack((xs[:, flip], ys[:, flip]), axis=2).reshape(len(out), -1)
    return out
